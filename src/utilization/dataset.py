"""The validated data of one agency: canonical tables, rejects and row counts."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from utilization import schema
from utilization.settings import Settings

if TYPE_CHECKING:
    from utilization.figures import ViewFigures
    from utilization.parameters import Request

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

    def carry(self, before: Dataset, same: dict[str, pd.DataFrame]) -> None:
        """Keep the `catalog_rows` and visit status codes (`has_status`) of `before` (this
        dataset before some frames were replaced) that still hold: `same` maps the name of
        each replaced frame to the frame `before` had, whose rows, their order, their ids
        and their status the new one keeps.
        """
        old = {id(frame): name for name, frame in same.items()}
        for name, (sources, value) in before._derived.items():
            if name in self._derived or not (name.startswith(ROWS) or name == STATUS_CODES):
                continue
            now = tuple(getattr(self, old[id(s)]) if id(s) in old else s for s in sources)
            if all(self._holds(s) for s in now):
                self._derived[name] = (now, value)

    def _holds(self, frame: object) -> bool:
        return any(getattr(self, name) is frame for name in (*TABLES, "allocations"))

    def __getstate__(self) -> dict[str, Any]:
        """The frames, without the derived values (computed again where needed), but for the
        visits' keys (`VISIT_KEYS`): those of a part of a larger data set are its visits' rows
        in the whole (`partitions`), which its frames alone do not say. Pickled with the frame
        they are for, they are found again for it once read back.
        """
        state = dict(self.__dict__)
        state["_derived"] = {k: v for k, v in self._derived.items() if k == VISIT_KEYS}
        return state


@dataclass(frozen=True)
class WithDerived:
    """A dataset with the values it derived (`Dataset.derived`: catalog rows, status codes,
    the authorization of each visit ...), which a dataset's own pickle leaves out: written
    once for processes that read one copy (the dashboard's kernels, a batch's local workers:
    `packing.write_mapped`),
    they share those arrays instead of each computing its own. Pickled together, the frames
    each value was derived from are the dataset's frames again once read back.
    """

    dataset: Dataset
    derived: dict[str, tuple[tuple[object, ...], Any]]

    @classmethod
    def of(cls, dataset: Dataset) -> WithDerived:
        return cls(dataset, dict(dataset._derived))

    def restored(self) -> Dataset:
        """The dataset, its derived values back (those whose frames are still its own)."""
        for name, (sources, value) in self.derived.items():
            if all(self.dataset._holds(s) for s in sources):
                self.dataset._derived.setdefault(name, (sources, value))
        return self.dataset


T = TypeVar("T")
IntArray = npt.NDArray[np.int64]


REFERENCES: dict[tuple[str, str], tuple[str, str]] = {
    ("authorizations", "client_id"): ("clients", "client_id"),
    ("authorizations", "procedure_code"): ("procedures", "procedure_code"),
    ("authorizations", "payer_id"): ("payers", "payer_id"),
    ("visits", "client_id"): ("clients", "client_id"),
    ("visits", "procedure_code"): ("procedures", "procedure_code"),
    ("visits", "payer_id"): ("payers", "payer_id"),
    ("payments", "visit_id"): ("visits", "visit_id"),
}
"""The columns that refer to a row of another frame (table, column): (frame, its key)."""


def catalog_rows(dataset: Dataset, table: str, column: str) -> IntArray:
    """The row of the frame `column` of `table` refers to (`REFERENCES`) for each row of
    `table`, -1 where the value is missing or not found; computed once per dataset
    (validation gives those it found checking the references).
    """
    target, key = REFERENCES[(table, column)]
    frame: pd.DataFrame = getattr(dataset, table)
    catalog: pd.DataFrame = getattr(dataset, target)
    return dataset.derived(
        rows_name(table, column),
        (frame, catalog),
        lambda: positions(frame[column], catalog[key]),
    )


VISIT_KEYS = "visit_keys"
"""The name of the visits' keys among a dataset's derived values (`selection.visit_keys`)."""
STATUSES: tuple[str, ...] = schema.VISITS.column("status").values
STATUS_CODES = "visit_status_codes"


def has_status(dataset: Dataset, status: str) -> npt.NDArray[np.bool_]:
    """Where the visits' status is `status`, from one code per visit computed once per
    dataset (its place in `STATUSES`), not by comparing millions of texts each time.
    """
    visits = dataset.visits
    if status not in STATUSES:
        result: npt.NDArray[np.bool_] = (visits["status"] == status).to_numpy(dtype=bool)
        return result
    codes = dataset.derived(STATUS_CODES, (visits,), lambda: _status_codes(visits["status"]))
    found: npt.NDArray[np.bool_] = codes == STATUSES.index(status)
    return found


def _status_codes(status: pd.Series) -> npt.NDArray[np.int8]:
    """The place of each status in `STATUSES`, -1 for any other value or a missing one."""
    array = pa.array(status.astype("str").array)
    pool = pa.array(list(STATUSES), type=array.type)
    found = pc.fill_null(pc.index_in(array, value_set=pool), -1)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int8)


def rows_name(table: str, column: str) -> str:
    """The name of `catalog_rows` of a column among a dataset's derived values."""
    return f"{ROWS}{table}.{column}"


ROWS = "catalog_rows:"


def positions(values: pd.Series, keys: pd.Series) -> IntArray:
    """The position in `keys` (text, each value once) of each text value; -1 where it is
    missing or not among the keys.

    Ids that are plain whole numbers on both sides (`123`, as the number is written back)
    are compared as numbers by binary search, about twice as fast as Arrow's hash table of
    the text, which takes any other ids (pandas' `map` and `isin` on text go value by value).
    """
    if not len(values) or not len(keys):
        return np.full(len(values), -1, dtype=np.int64)
    key_numbers = None if keys.hasnans else plain_numbers(keys)
    value_numbers = plain_numbers(values) if key_numbers is not None else None
    if key_numbers is not None and value_numbers is not None:
        order = None
        if not (key_numbers[1:] > key_numbers[:-1]).all():  # ids in rising order: no sort
            order = np.argsort(key_numbers, kind="stable")
            key_numbers = key_numbers[order]
        at = np.clip(np.searchsorted(key_numbers, value_numbers), 0, len(key_numbers) - 1)
        hit = (key_numbers[at] == value_numbers) & values.notna().to_numpy()
        found = at if order is None else order[at]
        result: IntArray = np.where(hit, found, -1).astype(np.int64)
        return result
    array = pa.array(values.astype("str").array)
    pool = pa.array(keys.astype("str").array).cast(array.type)
    taken = pc.fill_null(pc.index_in(array, value_set=pool, skip_nulls=True), -1)
    return np.asarray(taken.to_numpy(zero_copy_only=False), dtype=np.int64)


def is_among(
    values: pd.Series, allowed: pd.Series | pd.Index | Iterable[str]
) -> npt.NDArray[np.bool_]:
    """Where text `values` are among `allowed` (missing values never are), by Arrow's hash
    table (pandas' `isin` on text goes value by value).
    """
    array = pa.array(values.astype("str").array)
    if isinstance(allowed, pd.Series | pd.Index):
        pool = pa.array(allowed.astype("str").array).cast(array.type)
    else:
        pool = pa.array(list(allowed), type=array.type)
    found = pc.fill_null(pc.is_in(array, value_set=pool, skip_nulls=True), False)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def plain_numbers(text: pd.Series) -> IntArray | None:
    """The values of a text column as int64 (missing as 0) when every given value is a plain
    whole number: its text is the number written back (digits, perhaps a `-` in front, no
    `+`, space or zero in front, at most 18 digits); else None.
    """
    array = pa.array(text.astype("str").array)
    if len(array) == 0:
        return np.zeros(0, dtype=np.int64)
    first = pc.drop_null(array.slice(0, 1024))  # ids like "A0012" fail here, not in a cast
    if len(first) and not _PLAIN.fullmatch(str(first[0].as_py())):
        return None
    try:
        numbers = pc.cast(array, pa.int64())  # digits only; it also reads `007`, `-0`, `0x1`
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    for chunk in chunks:
        if not _written_back(chunk.cast(pa.large_string())):
            return None
    return np.asarray(pc.fill_null(numbers, 0).to_numpy(zero_copy_only=False), dtype=np.int64)


_PLAIN = re.compile(r"-?[0-9]{1,18}")


def _written_back(chunk: pa.Array) -> bool:
    """Whether every value of a chunk of integer literals is written as its number would be:
    at most 18 characters, no zero in front (but `0` itself), no `-0`.
    """
    offsets_buffer, data_buffer = chunk.buffers()[1:3]
    if offsets_buffer is None or data_buffer is None or len(chunk) == 0:
        return True
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[
        chunk.offset : chunk.offset + len(chunk) + 1
    ]
    lengths = np.diff(offsets)
    given = lengths > 0
    if chunk.null_count:
        given &= np.asarray(chunk.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if (lengths[given] > 18).any():
        return False
    data = np.append(np.frombuffer(data_buffer, dtype=np.uint8), np.uint8(0))
    first = data[offsets[:-1][given]]
    second = data[np.minimum(offsets[:-1][given] + 1, len(data) - 1)]
    long = lengths[given] > 1
    zero_in_front = (first == ord("0")) & long
    minus_zero = (first == ord("-")) & (second == ord("0"))
    return not (zero_in_front | minus_zero).any()


@dataclass(frozen=True)
class PreparedView:
    """A request's figures made without holding its data whole (from parts, `partitions`),
    with what a report reads besides them: `context`, the data set's catalogs, rejects, row
    counts and source, its large tables empty (`partitions.whole_context`). A report drawn
    from it (`report.open_report` given it as `data_slice`) is the one the whole data gives.
    """

    request: Request
    figures: ViewFigures
    context: Dataset


@dataclass(frozen=True)
class PreparedFigures:
    """A `PreparedView` written without its context, which `context_file` holds (a `Dataset`
    written once, `packing`): a batch's reports made in parts share one context instead of
    each file carrying its own copy of the catalogs. Read back as a `PreparedView`
    (`pipeline.load_cached`, `pipeline.prepared_slice`).
    """

    request: Request
    figures: ViewFigures
    context_file: str
