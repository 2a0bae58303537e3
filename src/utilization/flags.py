"""Flags: visits and authorizations that put revenue or compliance at risk."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from utilization import balances as bal
from utilization.dataset import Dataset
from utilization.metrics import period_visits
from utilization.period import Filters, Period

FLAG_COLUMNS = [
    "kind",
    "visit_id",
    "authorization_id",
    "client_id",
    "procedure_code",
    "service_date",
    "units",
    "detail",
]
AUTHORIZATION_KINDS = {
    bal.EXHAUSTED: "authorization_exhausted",
    bal.AT_RISK: "authorization_at_risk",
    bal.EXPIRING: "authorization_expiring",
    bal.UNDER_USED: "authorization_under_used",
}


def _detail(kind: str, v: Any, long_hours: float) -> str:
    """The flag's reason in words, for one visit row."""
    if kind == "unauthorized_service":
        return f"no authorization for {v.procedure_code} holds this date"
    if kind == "over_authorization":
        return f"{v.units_over_authorization} of {v.units} units beyond the authorized units"
    if kind == "rate_mismatch":
        return f"billed ${v.amount_billed / v.units:,.2f}/unit, authorized ${v.rate:,.2f}/unit"
    if kind == "units_mismatch":
        return f"recorded {v.units_recorded:g} units; {v.minutes} minutes make {v.units}"
    return f"{v.minutes} minutes: longer than {long_hours:g} hours; check the times"


VISIT_KINDS: dict[str, tuple[str, str]] = {
    # kind: (column that selects the visits, column whose value is the flag's units)
    "unauthorized_service": ("units_unauthorized", "units_unauthorized"),
    "over_authorization": ("units_over_authorization", "units_over_authorization"),
    "rate_mismatch": ("rate_mismatch", "units"),
    "units_mismatch": ("units_mismatch", "units"),
    "long_visit": ("long_visit", "units"),
}


def visit_flags(dataset: Dataset, period: Period, filters: Filters) -> pd.DataFrame:
    """Flagged visits in the period.

    Grain: one row per visit and kind: `unauthorized_service` and `over_authorization` (units
    = the units at risk), `rate_mismatch`, `units_mismatch` and `long_visit` (units = the
    visit's computed units).
    """
    visits = period_visits(dataset, period, filters, billable_default=None)
    long_hours = dataset.settings.long_visit_hours
    frames = []
    for kind, (selector, units_column) in VISIT_KINDS.items():
        chosen = visits[visits[selector].astype(bool).to_numpy()]
        frames.append(
            pd.DataFrame(
                {
                    "kind": pd.Series(kind, index=chosen.index, dtype="str"),
                    "visit_id": chosen["visit_id"],
                    "authorization_id": chosen["authorization_id"],
                    "client_id": chosen["client_id"],
                    "procedure_code": chosen["procedure_code"],
                    "service_date": chosen["service_date"],
                    "units": chosen[units_column].astype(np.int64),
                    "detail": pd.Series(
                        [_detail(kind, v, long_hours) for v in chosen.itertuples(index=False)],
                        index=chosen.index,
                        dtype="str",
                    ),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def authorization_flags(balance_table: pd.DataFrame) -> pd.DataFrame:
    """Authorizations needing attention, from a balances table.

    Grain: one row per authorization whose status is exhausted, at risk, expiring or
    under-used; units = units remaining.
    """
    chosen = balance_table[balance_table["status"].isin(list(AUTHORIZATION_KINDS))]
    detail = [
        f"all {row.units_approved:g} units used (ends {row.end_date:%Y-%m-%d})"
        if row.units_remaining <= 0
        else f"{row.units_remaining:g} of {row.units_approved:g} units left until {row.end_date:%Y-%m-%d}"
        + (
            f"; at the current pace they run out {row.projected_exhaustion_date:%Y-%m-%d}"
            if not pd.isna(row.projected_exhaustion_date)
            else ""
        )
        for row in chosen.itertuples(index=False)
    ]
    return pd.DataFrame(
        {
            "kind": chosen["status"].map(AUTHORIZATION_KINDS),
            "visit_id": pd.Series(pd.NA, index=chosen.index, dtype="str"),
            "authorization_id": chosen["authorization_id"],
            "client_id": chosen["client_id"],
            "procedure_code": chosen["procedure_code"],
            "service_date": pd.Series(pd.NaT, index=chosen.index, dtype="datetime64[ns]"),
            "units": chosen["units_remaining"],
            "detail": pd.Series(detail, index=chosen.index, dtype="str"),
        }
    )


def flags(
    dataset: Dataset, period: Period, filters: Filters, balance_table: pd.DataFrame
) -> pd.DataFrame:
    """Every flag of the period: visit kinds first, then authorization kinds."""
    return pd.concat(
        [visit_flags(dataset, period, filters), authorization_flags(balance_table)],
        ignore_index=True,
    )[FLAG_COLUMNS]
