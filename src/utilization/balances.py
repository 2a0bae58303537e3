"""Authorization balances as of a date: remaining units, pace and status (data contract §6)."""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from utilization.dataset import Dataset, has_status
from utilization.limits import LIMIT_COLUMNS as LIMITS
from utilization.limits import period_bounds, period_index
from utilization.matching import allocation_authorization_rows, visit_authorization_rows
from utilization.period import Filters, Period
from utilization.totals import join

NOT_STARTED = "not started"
EXPIRED = "expired"
EXHAUSTED = "exhausted"
LIMIT_REACHED = "limit reached"
AT_RISK = "at risk"
EXPIRING = "expiring"
UNDER_USED = "under-used"
OK = "ok"
STATUSES = (EXPIRED, EXHAUSTED, LIMIT_REACHED, AT_RISK, EXPIRING, UNDER_USED, OK, NOT_STARTED)
LIMIT_COLUMNS = [
    "authorization_id", "per", "period_start", "period_end", "units_limit", "units_used",
    "units_scheduled", "units_remaining",
]  # fmt: skip


def balances(
    dataset: Dataset, as_of: date, filters: Filters, period: Period | None = None
) -> pd.DataFrame:
    """Where each authorization stands on the as-of date (see `balances_and_limits`)."""
    table, _ = balances_and_limits(dataset, as_of, filters, period)
    return table


def balances_and_limits(
    dataset: Dataset, as_of: date, filters: Filters, period: Period | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Where each authorization stands on the as-of date, and the limits of those holding it
    (`limits`, whose rows decide the status `limit reached`).

    Grain: one row per authorization passing the client, procedure and payer filters (and
    overlapping `period` when one is given). `units_used` counts completed visits up to and
    including `as_of`; `units_scheduled` counts scheduled visits after it. The pace is the
    share of units used divided by the share of days elapsed (days counted inclusively from
    `start_date` to `as_of`); the projected exhaustion date is the day the remaining units run
    out at the average daily use so far: `as_of + ceil(remaining / (used / elapsed_days))`.
    Status, first that applies: not started, expired, exhausted, limit reached (units left
    in total, none left in a limited period holding `as_of`, data contract §10), at risk
    (projected to run out before `end_date`, or under the at-risk share left), expiring
    (ends within the expiring window with units left), under-used (pace below the setting
    once enough of the span has elapsed), ok.
    """
    settings = dataset.settings
    every = dataset.authorizations
    chosen = filters.authorization_mask(every)
    if period is not None:
        start_p, end_p = pd.Timestamp(period.start), pd.Timestamp(period.end)
        chosen &= ((every["start_date"] <= end_p) & (every["end_date"] >= start_p)).to_numpy()
    at = np.flatnonzero(chosen)  # the chosen authorizations' rows
    auths = every.iloc[at]
    day = np.datetime64(as_of, "D")

    # Units per authorization (row of the authorizations frame), from the rows matching gave.
    n_auths = len(every)
    used_by_row = np.zeros(n_auths, dtype=np.int64)
    allocations = dataset.allocations
    if allocations is not None and len(allocations):
        taken = allocation_authorization_rows(dataset)
        done = (allocations["service_date"].to_numpy() <= day) & (taken >= 0)  # as they are
        units = allocations["units"].to_numpy(dtype=np.int64)
        used_by_row = np.bincount(taken[done], weights=units[done], minlength=n_auths)
    visits = dataset.visits
    counted = visit_authorization_rows(dataset)
    later = (
        has_status(dataset, "scheduled")
        & visits["billable"].to_numpy(dtype=bool)
        & (visits["service_date"].to_numpy() > day)
        & (counted >= 0)
    )
    scheduled_by_row = np.bincount(
        counted[later], weights=visits["units"].to_numpy(dtype=np.int64)[later], minlength=n_auths
    )

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
    out["units_used"] = used_by_row[at].astype(np.int64)
    out["units_scheduled"] = scheduled_by_row[at].astype(np.int64)
    out["units_remaining"] = out["units_approved"] - out["units_used"]
    out["units_unscheduled"] = out["units_remaining"] - out["units_scheduled"]
    out["rate"] = auths["rate"].to_numpy(dtype=np.float64)
    out["amount_approved"] = approved * np.nan_to_num(out["rate"].to_numpy())
    out["amount_used"] = out["units_used"] * np.nan_to_num(out["rate"].to_numpy())

    days = auths["days"].to_numpy(dtype=np.int64)
    start = auths["start_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    end = auths["end_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
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
    limit_rows = limits(dataset, as_of, at)
    reached = limit_rows.loc[limit_rows["units_remaining"] <= 0, "authorization_id"]
    conditions = [
        start > day,
        end < day,
        remaining <= 0,
        out["authorization_id"].isin(set(reached)).to_numpy(),
        runs_out_early | low,
        (out["days_to_end"].to_numpy() <= settings.expiring_days) & (remaining > 0),
        (pace < settings.under_used_pace)
        & (elapsed_share >= settings.under_used_min_elapsed_share),
    ]
    choices = [NOT_STARTED, EXPIRED, EXHAUSTED, LIMIT_REACHED, AT_RISK, EXPIRING, UNDER_USED]
    out["status"] = np.select(conditions, choices, default=OK)
    return balances_of([out]), limit_rows


def balances_of(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The balances of disjoint sets of authorizations, in the order of the balances table:
    client name, procedure code, start date, authorization id.
    """
    rows = join(parts)
    return rows.sort_values(
        ["client_name", "procedure_code", "start_date", "authorization_id"]
    ).reset_index(drop=True)


def limits_of(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The limit rows of disjoint sets of authorizations, by authorization id, then day, week
    and month.
    """
    rows = join(parts)
    order = {per: i for i, per in enumerate(LIMITS)}
    rows = rows.sort_values(
        ["authorization_id", "per"], key=lambda c: c.map(order) if c.name == "per" else c
    )
    return rows[LIMIT_COLUMNS].reset_index(drop=True)


def limits(dataset: Dataset, as_of: date, chosen: npt.NDArray[np.intp]) -> pd.DataFrame:
    """Each limit of each authorization at a row of `chosen` (rows of the authorizations
    frame) whose span holds `as_of`, for the calendar period holding `as_of` (data contract
    §10).

    Grain: one row per authorization and limited period kind (`per`: day, week, month).
    `period_start`/`period_end` are the calendar period's bounds, even where the
    authorization starts or ends inside it. `units_used`: units completed visits with a
    service date in the period, up to and including `as_of`, took from the authorization;
    `units_scheduled`: units of scheduled billable visits in the period after `as_of`
    counted against it (the authorization ending first among those holding their date, as
    in §6); `units_remaining` = limit - used.
    """
    day = np.datetime64(as_of, "D")
    auths = dataset.authorizations
    start = auths["start_date"].to_numpy(dtype="datetime64[ns]")[chosen]
    end = auths["end_date"].to_numpy(dtype="datetime64[ns]")[chosen]
    holding = chosen[(start <= day) & (end >= day)]
    as_of_number = np.array([day.astype(np.int64)])
    week_start = dataset.settings.week_start
    frames = []
    for per, column in LIMITS.items():
        if column not in auths:
            continue
        limit = auths[column].to_numpy(dtype=np.float64, na_value=np.nan)[holding]
        limited = holding[~np.isnan(limit)]
        if not len(limited):
            continue
        first, last = period_bounds(period_index(as_of_number, per, week_start), per, week_start)
        frames.append(
            pd.DataFrame(
                {
                    "authorization_id": auths["authorization_id"].array.take(limited),
                    "per": per,
                    "period_start": pd.Timestamp(first[0], unit="D"),
                    "period_end": pd.Timestamp(last[0], unit="D"),
                    "units_limit": limit[~np.isnan(limit)],
                    _ROW: limited,
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            {c: pd.Series(dtype=_LIMIT_DTYPES.get(c, "str")) for c in LIMIT_COLUMNS}
        )
    rows = pd.concat(frames, ignore_index=True)
    rows["authorization_id"] = rows["authorization_id"].astype("str")
    at = rows[_ROW].to_numpy()
    first = rows["period_start"].to_numpy(dtype="datetime64[D]")
    last = rows["period_end"].to_numpy(dtype="datetime64[D]")
    allocations = dataset.allocations
    if allocations is not None and len(allocations):
        rows["units_used"] = _units_in(
            rows["per"].to_numpy(),
            at,
            (first, np.minimum(last, day)),
            allocation_authorization_rows(dataset),
            allocations["service_date"].to_numpy(),
            allocations["units"].to_numpy(dtype=np.int64),
        )
    else:
        rows["units_used"] = np.zeros(len(rows), dtype=np.int64)
    visits = dataset.visits
    planned = np.flatnonzero(
        has_status(dataset, "scheduled") & visits["billable"].to_numpy(dtype=bool)
    )
    rows["units_scheduled"] = _units_in(
        rows["per"].to_numpy(),
        at,
        (np.maximum(first, day + 1), last),
        visit_authorization_rows(dataset)[planned],
        visits["service_date"].to_numpy()[planned],
        visits["units"].to_numpy(dtype=np.int64)[planned],
    )
    rows["units_remaining"] = rows["units_limit"] - rows["units_used"]
    return limits_of([rows])


_ROW = "_authorization_row"  # while making the limit rows: each one's authorization row
_LIMIT_DTYPES = {
    "period_start": "datetime64[ns]",
    "period_end": "datetime64[ns]",
    "units_limit": "float64",
    "units_used": "int64",
    "units_scheduled": "int64",
    "units_remaining": "float64",
}


def _units_in(
    per: np.ndarray,
    auth: np.ndarray,
    window: tuple[np.ndarray, np.ndarray],
    taken_auth: np.ndarray,
    taken_day: np.ndarray,
    taken_units: np.ndarray,
) -> np.ndarray:
    """Units taken from each limit row's authorization (`auth`: its row in the
    authorizations frame) on a day inside the row's `window` (first, last day): the rows
    given by `taken_auth` (-1: none), `taken_day` (dates at midnight, datetime64 of any
    unit: millions are compared as they are) and `taken_units`.
    """
    out = np.zeros(len(auth), dtype=np.int64)
    n_auths = int(max(auth.max(initial=-1), taken_auth.max(initial=-1))) + 1
    lo, hi = window
    if not len(auth):
        return out
    # Only what was taken inside some row's window can count: one pass over millions of
    # rows, then one per kind over those few (in the same order: the same sums).
    near = np.flatnonzero((taken_auth >= 0) & (taken_day >= lo.min()) & (taken_day <= hi.max()))
    taken_auth, taken_units = taken_auth[near], taken_units[near]
    taken_day = taken_day[near].astype("datetime64[D]")
    for kind in np.unique(per):
        rows = np.flatnonzero(per == kind)  # one row per authorization of this kind
        row_of_auth = np.full(n_auths + 1, -1, dtype=np.int64)
        row_of_auth[auth[rows]] = rows
        row = row_of_auth[taken_auth]  # -1 reads the last: none
        mine = np.flatnonzero(row >= 0)
        row = row[mine]
        day = taken_day[mine]
        inside = (day >= lo[row]) & (day <= hi[row])
        sums = np.bincount(row[inside], weights=taken_units[mine][inside], minlength=len(auth))
        out += sums.astype(np.int64)
    return out


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
