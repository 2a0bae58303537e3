"""The validated data of one agency: canonical tables, rejects and row counts."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from utilization.settings import Settings

TABLES: tuple[str, ...] = (
    "clients",
    "procedures",
    "payers",
    "providers",
    "authorizations",
    "visits",
    "payments",
)
REJECT_COLUMNS: list[str] = ["table", "row", "column", "value", "reason"]


def empty_rejects() -> pd.DataFrame:
    """A rejects frame with no rows; grain: one row per rejected value."""
    return pd.DataFrame(
        {c: pd.Series(dtype="int64" if c == "row" else "str") for c in REJECT_COLUMNS}
    )


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
