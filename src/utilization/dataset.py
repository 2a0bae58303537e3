"""The validated data of one agency: canonical tables, rejects and row counts."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

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
