"""The validated data of one agency: canonical tables, rejects and row counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from utilization import schema
from utilization.settings import Settings

TABLES: tuple[str, ...] = tuple(schema.TABLES)
"""The input tables, in table order (declared in `utilization.schema`)."""
REJECT_COLUMNS: list[str] = schema.REJECTS.canonical_columns


def empty_rejects() -> pd.DataFrame:
    """A rejects frame with no rows; grain: one row per rejected value."""
    return pd.DataFrame({f.name: pd.Series(dtype=f.dtype) for f in schema.REJECTS.canonical})


@dataclass
class Dataset:
    """Canonical frames as described in docs/design.md, with what was rejected on the way."""

    clients: pd.DataFrame
    procedures: pd.DataFrame
    payers: pd.DataFrame
    providers: pd.DataFrame
    authorizations: pd.DataFrame
    visits: pd.DataFrame
    payments: pd.DataFrame
    rejects: pd.DataFrame
    row_counts: pd.DataFrame
    settings: Settings = field(default_factory=Settings)
    source: str = ""
    allocations: pd.DataFrame | None = None
    schedule_stops: pd.DataFrame | None = None
    _derived: dict[str, tuple[tuple[object, ...], Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def derived(self, name: str, sources: tuple[object, ...], make: Callable[[], T]) -> T:
        """`make()`, computed once while `sources` (frames of this dataset) are the same
        objects: arrays several figures read (which visit each payment is for, ...).

        The frames of a dataset are not changed in place; a frame replaced (`replace`, or a
        new frame assigned) has another identity, and the value is computed again.
        """
        hit = self._derived.get(name)
        if hit is not None and all(a is b for a, b in zip(hit[0], sources, strict=True)):
            value: T = hit[1]
            return value
        made = make()
        self._derived[name] = (sources, made)
        return made

    def __getstate__(self) -> dict[str, Any]:
        """The frames, without the derived values (computed again where needed)."""
        state = dict(self.__dict__)
        state["_derived"] = {}
        return state


T = TypeVar("T")
IntArray = npt.NDArray[np.int64]


def positions(values: pd.Series, keys: pd.Series) -> IntArray:
    """The position in `keys` (text, each value once) of each text value; -1 where it is
    missing or not among the keys. Computed by Arrow's hash table (pandas' `map` and `isin`
    on text go value by value).
    """
    if not len(values) or not len(keys):
        return np.full(len(values), -1, dtype=np.int64)
    array = pa.array(values.astype("str").array)
    pool = pa.array(keys.astype("str").array).cast(array.type)
    taken = pc.fill_null(pc.index_in(array, value_set=pool, skip_nulls=True), -1)
    return np.asarray(taken.to_numpy(zero_copy_only=False), dtype=np.int64)
