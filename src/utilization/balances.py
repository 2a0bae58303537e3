"""Authorization balances as of a date: remaining units, pace and status (data contract §6)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from utilization.dataset import Dataset
from utilization.period import Filters, Period

NOT_STARTED = "not started"
EXPIRED = "expired"
EXHAUSTED = "exhausted"
AT_RISK = "at risk"
EXPIRING = "expiring"
UNDER_USED = "under-used"
OK = "ok"
STATUSES = (EXPIRED, EXHAUSTED, AT_RISK, EXPIRING, UNDER_USED, OK, NOT_STARTED)


def balances(
    dataset: Dataset, as_of: date, filters: Filters, period: Period | None = None
) -> pd.DataFrame:
    """Where each authorization stands on the as-of date.

    Grain: one row per authorization passing the client, procedure and payer filters (and
    overlapping `period` when one is given). `units_used` counts completed visits up to and
    including `as_of`; `units_scheduled` counts scheduled visits after it. The pace is the
    share of units used divided by the share of days elapsed (days counted inclusively from
    `start_date` to `as_of`); the projected exhaustion date is the day the remaining units run
    out at the average daily use so far: `as_of + ceil(remaining / (used / elapsed_days))`.
    Status, first that applies: not started, expired, exhausted, at risk (projected to run
    out before `end_date`, or under the at-risk share left), expiring (ends within the
    expiring window with units left), under-used (pace below the setting once enough of the
    span has elapsed), ok.
    """
    settings = dataset.settings
    auths = dataset.authorizations[filters.authorization_mask(dataset.authorizations)]
    if period is not None:
        start_p, end_p = pd.Timestamp(period.start), pd.Timestamp(period.end)
        auths = auths[(auths["start_date"] <= end_p) & (auths["end_date"] >= start_p)]
    as_of_ts = pd.Timestamp(as_of)

    allocations = dataset.allocations
    if allocations is None:
        allocations = pd.DataFrame(columns=["authorization_id", "units", "service_date"])
    done = allocations.loc[
        (allocations["service_date"] <= as_of_ts).to_numpy(), ["authorization_id", "units"]
    ]
    used = done.groupby("authorization_id")["units"].sum()
    visits = dataset.visits
    later = visits.loc[
        (
            (visits["status"] == "scheduled")
            & visits["billable"]
            & (visits["service_date"] > as_of_ts)
            & visits["authorization_id"].notna()
        ).to_numpy(),
        ["authorization_id", "units"],
    ]
    scheduled = later.groupby("authorization_id")["units"].sum()

    out = auths[
        ["authorization_id", "client_id", "procedure_code", "payer_id", "start_date", "end_date"]
    ].copy()
    out.insert(
        2,
        "client_name",
        out["client_id"].map(dataset.clients.set_index("client_id")["client_name"]),
    )
    approved = auths["units_approved"].to_numpy(dtype=np.float64)
    out["units_approved"] = approved
    out["units_used"] = out["authorization_id"].map(used).fillna(0).astype(np.int64).to_numpy()
    out["units_scheduled"] = (
        out["authorization_id"].map(scheduled).fillna(0).astype(np.int64).to_numpy()
    )
    out["units_remaining"] = out["units_approved"] - out["units_used"]
    out["units_unscheduled"] = out["units_remaining"] - out["units_scheduled"]
    out["rate"] = auths["rate"].to_numpy(dtype=np.float64)
    out["amount_approved"] = approved * np.nan_to_num(out["rate"].to_numpy())
    out["amount_used"] = out["units_used"] * np.nan_to_num(out["rate"].to_numpy())

    days = auths["days"].to_numpy(dtype=np.int64)
    start = auths["start_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    end = auths["end_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    day = np.datetime64(as_of, "D")
    elapsed = np.clip((day - start).astype(np.int64) + 1, 0, days)
    remaining = out["units_remaining"].to_numpy(dtype=np.float64)
    used_units = out["units_used"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        used_share = np.where(approved > 0, used_units / approved, np.nan)
        elapsed_share = elapsed / days
        pace = np.where(elapsed > 0, used_share / elapsed_share, np.nan)
        daily = np.where(elapsed > 0, used_units / elapsed, 0.0)
        days_left_at_pace = np.where(daily > 0, np.ceil(remaining / daily), np.nan)
    projected = np.where(
        (daily > 0) & (remaining > 0),
        day + np.nan_to_num(days_left_at_pace).astype(np.int64).astype("timedelta64[D]"),
        np.datetime64("NaT"),
    )
    out["used_share"] = used_share
    out["elapsed_share"] = elapsed_share
    out["pace"] = pace
    out["projected_exhaustion_date"] = pd.to_datetime(projected)
    out["days_to_end"] = (end - day).astype(np.int64)
    out["units_per_week_needed"] = units_per_week_needed(remaining, start, end, day)

    runs_out_early = ~np.isnat(projected) & (projected < end)
    low = remaining < settings.at_risk_remaining_share * approved
    conditions = [
        start > day,
        end < day,
        remaining <= 0,
        runs_out_early | low,
        (out["days_to_end"].to_numpy() <= settings.expiring_days) & (remaining > 0),
        (pace < settings.under_used_pace)
        & (elapsed_share >= settings.under_used_min_elapsed_share),
    ]
    choices = [NOT_STARTED, EXPIRED, EXHAUSTED, AT_RISK, EXPIRING, UNDER_USED]
    out["status"] = np.select(conditions, choices, default=OK)
    return out.sort_values(
        ["client_name", "procedure_code", "start_date", "authorization_id"]
    ).reset_index(drop=True)


def units_per_week_needed(
    remaining: np.ndarray, start: np.ndarray, end: np.ndarray, as_of: np.datetime64
) -> np.ndarray:
    """Units a week that would use the remaining units by the end date (data contract §13).

    `remaining` ÷ (days from the later of the day after `as_of` and `start`, to `end`,
    inclusive, ÷ 7); NaN (none) when no day is left or nothing remains. Not rounded.
    """
    first = np.maximum(start, as_of + np.timedelta64(1, "D"))
    days_left = (end - first).astype(np.int64) + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = remaining / (days_left / 7)
    result: np.ndarray = np.where((days_left > 0) & (remaining > 0), needed, np.nan)
    return result
