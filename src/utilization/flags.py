"""Flags: visits and authorizations that put revenue or compliance at risk."""

from __future__ import annotations

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


def visit_flags(dataset: Dataset, period: Period, filters: Filters) -> pd.DataFrame:
    """Flagged visits in the period.

    Grain: one row per visit and kind: `unauthorized_service`, `over_authorization` (units
    = the units at risk), `rate_mismatch`, `units_mismatch` (units = computed units),
    `long_visit`.
    """
    visits = period_visits(dataset, period, filters, billable_default=None)
    frames = []
    minutes = visits["minutes"].astype(str)
    recorded = visits["units_recorded"].map(lambda v: "" if pd.isna(v) else f"{v:g}")
    with np.errstate(divide="ignore", invalid="ignore"):
        billed_rate = visits["amount_billed"] / visits["units"]
    checks: list[tuple[str, pd.Series, pd.Series, pd.Series]] = [
        (
            "unauthorized_service",
            visits["units_unauthorized"] > 0,
            visits["units_unauthorized"],
            "no authorization for " + visits["procedure_code"].astype(str) + " on this date",
        ),
        (
            "over_authorization",
            visits["units_over_authorization"] > 0,
            visits["units_over_authorization"],
            visits["units_over_authorization"].astype(str)
            + " of "
            + visits["units"].astype(str)
            + " units beyond the authorized units",
        ),
        (
            "rate_mismatch",
            visits["rate_mismatch"],
            visits["units"],
            "billed "
            + billed_rate.map(lambda v: f"${v:,.2f}")
            + "/unit, authorized "
            + visits["rate"].map(lambda v: f"${v:,.2f}")
            + "/unit",
        ),
        (
            "units_mismatch",
            visits["units_mismatch"],
            visits["units"],
            "recorded " + recorded + " units; " + minutes + " minutes make "
            + visits["units"].astype(str),
        ),
        (
            "long_visit",
            visits["long_visit"],
            visits["units"],
            minutes + " minutes: longer than "
            + f"{dataset.settings.long_visit_hours:g} hours; check the times",
        ),
    ]
    for kind, mask, units, detail in checks:
        chosen = visits[mask.to_numpy(dtype=bool)]
        frames.append(
            pd.DataFrame(
                {
                    "kind": kind,
                    "visit_id": chosen["visit_id"],
                    "authorization_id": chosen["authorization_id"],
                    "client_id": chosen["client_id"],
                    "procedure_code": chosen["procedure_code"],
                    "service_date": chosen["service_date"],
                    "units": units[mask.to_numpy(dtype=bool)].astype(np.int64),
                    "detail": detail[mask.to_numpy(dtype=bool)],
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=FLAG_COLUMNS)


def authorization_flags(balance_table: pd.DataFrame) -> pd.DataFrame:
    """Authorizations needing attention, from a balances table.

    Grain: one row per authorization whose status is exhausted, at risk, expiring or
    under-used; units = units remaining.
    """
    chosen = balance_table[balance_table["status"].isin(list(AUTHORIZATION_KINDS))]
    end = chosen["end_date"].dt.strftime("%Y-%m-%d")
    projected = chosen["projected_exhaustion_date"].dt.strftime("%Y-%m-%d").fillna("—")
    detail = (
        chosen["units_remaining"].map(lambda v: f"{v:g}")
        + " of "
        + chosen["units_approved"].map(lambda v: f"{v:g}")
        + " units left until "
        + end
        + "; at the current pace they run out "
        + projected
    )
    return pd.DataFrame(
        {
            "kind": chosen["status"].map(AUTHORIZATION_KINDS),
            "visit_id": pd.Series(pd.NA, index=chosen.index, dtype="str"),
            "authorization_id": chosen["authorization_id"],
            "client_id": chosen["client_id"],
            "procedure_code": chosen["procedure_code"],
            "service_date": pd.Series(pd.NaT, index=chosen.index, dtype="datetime64[ns]"),
            "units": chosen["units_remaining"],
            "detail": detail,
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
