"""Period metrics: units and amounts approved, used and scheduled (DATA_MODEL §5)."""

from __future__ import annotations

from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from utilization.dataset import Dataset
from utilization.period import Filters, Period, trend_months

Basis = Literal["prorated", "full"]
BASES: tuple[str, ...] = ("prorated", "full")
FIGURES = ["units_approved", "units_used", "amount_approved", "amount_used"]


def _day(value: date) -> np.datetime64:
    return np.datetime64(value, "D")


def _day_numbers(series: pd.Series) -> np.ndarray:
    return series.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")


def period_visits(
    dataset: Dataset,
    period: Period,
    filters: Filters,
    status: str = "completed",
    billable_default: bool | None = True,
) -> pd.DataFrame:
    """Visits of one status whose service date is in the period and that pass the filters.

    Grain: one row per visit. `filters.billable` chooses billable or non-billable visits;
    when it is not set, `billable_default` does (None: both).
    """
    visits = dataset.visits
    day = _day_numbers(visits["service_date"])
    mask = (
        (visits["status"] == status).to_numpy()
        & (day >= _day(period.start))
        & (day <= _day(period.end))
    )
    wanted = filters.billable if filters.billable is not None else billable_default
    if wanted is not None:
        billable = visits["billable"].to_numpy(dtype=bool)
        mask &= billable if wanted else ~billable
    mask &= filters.visit_mask(visits, visits["payer_effective"])
    return visits[mask]


def approved_shares(
    dataset: Dataset, period: Period, filters: Filters, basis: Basis = "prorated"
) -> pd.DataFrame:
    """The part of each authorization that falls in the period.

    Grain: one row per authorization overlapping the period. `units_approved` and
    `amount_approved` are the authorization's figures times overlap_days / days (basis
    `prorated`), or its whole figures (basis `full`); not rounded.
    """
    auths = dataset.authorizations[dataset.authorizations.pipe(filters.authorization_mask)]
    start = _day_numbers(auths["start_date"])
    end = _day_numbers(auths["end_date"])
    lo = np.maximum(start, _day(period.start))
    hi = np.minimum(end, _day(period.end))
    overlap = np.maximum((hi - lo).astype(np.int64) + 1, 0)
    keep = overlap > 0
    share = overlap / auths["days"].to_numpy(dtype=np.float64)
    if basis == "full":
        share = np.where(keep, 1.0, 0.0)
    units = auths["units_approved"].to_numpy(dtype=np.float64) * share
    out = pd.DataFrame(
        {
            "authorization_id": auths["authorization_id"].to_numpy(),
            "client_id": auths["client_id"].to_numpy(),
            "procedure_code": auths["procedure_code"].to_numpy(),
            "overlap_days": overlap,
            "units_approved": units,
            "amount_approved": units * np.nan_to_num(auths["rate"].to_numpy(dtype=np.float64)),
        }
    )
    return out[keep].reset_index(drop=True)


def detail(
    dataset: Dataset, period: Period, filters: Filters, basis: Basis = "prorated"
) -> pd.DataFrame:
    """Approved, used and scheduled figures per client and procedure code.

    Grain: one row per (client_id, procedure_code) with anything approved, used or scheduled
    in the period. Columns: client_id, client_name, procedure_code, description,
    units_approved, units_used, units_scheduled, amount_approved, amount_used, units_remaining,
    amount_remaining, utilization. Not rounded.
    """
    keys = ["client_id", "procedure_code"]
    approved = (
        approved_shares(dataset, period, filters, basis)
        .groupby(keys)[["units_approved", "amount_approved"]]
        .sum()
    )
    used = (
        period_visits(dataset, period, filters)
        .groupby(keys)
        .agg(units_used=("units", "sum"), amount_used=("amount", "sum"))
    )
    scheduled = (
        period_visits(dataset, period, filters, status="scheduled")
        .groupby(keys)
        .agg(units_scheduled=("units", "sum"))
    )
    table = approved.join(used, how="outer").join(scheduled, how="outer").fillna(0.0)
    table = table.reset_index()
    for column in (
        "units_approved",
        "units_used",
        "units_scheduled",
        "amount_approved",
        "amount_used",
    ):
        if column not in table:
            table[column] = 0.0
    table["units_used"] = table["units_used"].astype(np.int64)
    table["units_scheduled"] = table["units_scheduled"].astype(np.int64)
    names = dataset.clients.set_index("client_id")["client_name"]
    descriptions = dataset.procedures.set_index("procedure_code")["description"]
    table.insert(1, "client_name", table["client_id"].map(names))
    table.insert(3, "description", table["procedure_code"].map(descriptions))
    return (
        _with_remaining(table)
        .sort_values(["client_name", "client_id", "procedure_code"])
        .reset_index(drop=True)
    )


def _with_remaining(table: pd.DataFrame) -> pd.DataFrame:
    """Add units/amount remaining and utilization (none where nothing is approved)."""
    table = table.copy()
    table["units_remaining"] = table["units_approved"] - table["units_used"]
    table["amount_remaining"] = table["amount_approved"] - table["amount_used"]
    approved = table["units_approved"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["utilization"] = np.where(approved > 0, table["units_used"] / approved, np.nan)
    return table


def by_procedure(table: pd.DataFrame) -> pd.DataFrame:
    """Figures per procedure code, from `detail`. Grain: one row per procedure_code."""
    grouped = table.groupby(["procedure_code", "description"], dropna=False)[
        ["units_approved", "units_used", "units_scheduled", "amount_approved", "amount_used"]
    ].sum()
    return (
        _with_remaining(grouped.reset_index()).sort_values("procedure_code").reset_index(drop=True)
    )


def by_client(table: pd.DataFrame) -> pd.DataFrame:
    """Figures per client, from `detail`. Grain: one row per client_id."""
    grouped = table.groupby(["client_id", "client_name"], dropna=False)[
        ["units_approved", "units_used", "units_scheduled", "amount_approved", "amount_used"]
    ].sum()
    return (
        _with_remaining(grouped.reset_index())
        .sort_values(["client_name", "client_id"])
        .reset_index(drop=True)
    )


def kpis(table: pd.DataFrame) -> dict[str, float | None]:
    """Period totals from `detail`: approved, used, scheduled, remaining, utilization."""
    total = {
        name: float(table[name].sum())
        for name in (
            "units_approved",
            "units_used",
            "units_scheduled",
            "amount_approved",
            "amount_used",
        )
    }
    total["units_remaining"] = total["units_approved"] - total["units_used"]
    total["amount_remaining"] = total["amount_approved"] - total["amount_used"]
    approved = total["units_approved"]
    result: dict[str, float | None] = dict(total)
    result["utilization"] = total["units_used"] / approved if approved > 0 else None
    return result


def monthly(dataset: Dataset, end: date, filters: Filters) -> pd.DataFrame:
    """Units approved (prorated) and used in each of the 12 months ending with `end`'s month.

    Grain: one row per calendar month (`month` as YYYY-MM), oldest first.
    """
    months = trend_months(end)
    window = Period(months[0], (pd.Timestamp(months[-1]) + pd.offsets.MonthEnd(0)).date())
    used = period_visits(dataset, window, filters)
    used_by_month = used.groupby(used["service_date"].dt.strftime("%Y-%m")).agg(
        units_used=("units", "sum"), amount_used=("amount", "sum")
    )
    rows = []
    for first in months:
        key = f"{first:%Y-%m}"
        last = (pd.Timestamp(first) + pd.offsets.MonthEnd(0)).date()
        approved = approved_shares(dataset, Period(first, last), filters)
        in_month = used_by_month.loc[key] if key in used_by_month.index else None
        rows.append(
            {
                "month": key,
                "units_approved": float(approved["units_approved"].sum()),
                "units_used": int(in_month["units_used"]) if in_month is not None else 0,
                "amount_approved": float(approved["amount_approved"].sum()),
                "amount_used": float(in_month["amount_used"]) if in_month is not None else 0.0,
            }
        )
    return pd.DataFrame(rows)
