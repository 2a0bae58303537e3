"""Scheduled visits checked before they happen (data contract §11): what would be paid, and why
not, in words a scheduler can act on.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from utilization.dataset import Dataset
from utilization.limits import LIMIT_COLUMNS, period_bounds, period_index
from utilization.period import Period
from utilization.selection import Selection

FITS = "fits"
OVER = "over"
UNAUTHORIZED = "unauthorized"
SCHEDULE_COLUMNS = [
    "visit_id", "client_id", "procedure_code", "service_date", "units", "units_fit",
    "units_over", "schedule_status", "authorization_id", "reason",
]  # fmt: skip
LIMIT_WORDS = {"day": "daily", "week": "weekly", "month": "monthly"}


def schedule(selection: Selection) -> pd.DataFrame:
    """Scheduled billable visits in the period passing the filters, as projected (§11).

    Grain: one row per scheduled billable visit, in time order. `units_fit` would be paid,
    `units_over` would be over-authorization; `schedule_status` is `fits`, `over` or
    `unauthorized` (no authorization holds its date: fit and over are 0); `authorization_id`
    is the first it would take units from, else the one ending first among those holding its
    date, else empty; `reason` says in words why units would not be paid ('' when it fits).
    """
    dataset = selection.dataset
    columns = [
        "visit_id", "client_id", "procedure_code", "service_date", "units", "units_fit",
        "units_over", "schedule_authorization_id", "billable", "payer_id", "order",
    ]  # fmt: skip
    visits = selection.visits(status="scheduled", billable_default=True, columns=columns)
    visits = visits[visits["billable"].to_numpy(dtype=bool)].sort_values("order")
    auth = visits["schedule_authorization_id"]
    status = np.where(
        auth.isna().to_numpy(),
        UNAUTHORIZED,
        np.where(visits["units_over"].to_numpy() > 0, OVER, FITS),
    )
    out = pd.DataFrame(
        {
            "visit_id": visits["visit_id"].to_numpy(),
            "client_id": visits["client_id"].to_numpy(),
            "procedure_code": visits["procedure_code"].to_numpy(),
            "service_date": visits["service_date"].to_numpy(),
            "units": visits["units"].to_numpy(dtype=np.int64),
            "units_fit": visits["units_fit"].to_numpy(dtype=np.int64),
            "units_over": visits["units_over"].to_numpy(dtype=np.int64),
            "schedule_status": pd.array(status, dtype="str"),
            "authorization_id": auth.to_numpy(),
            "reason": "",
        }
    )
    for column in ("visit_id", "client_id", "procedure_code", "authorization_id", "reason"):
        out[column] = out[column].astype("str")
    problems = np.flatnonzero(status != FITS)
    if len(problems):
        texts = [reason(dataset, visits.iloc[i]) for i in problems.tolist()]
        out.loc[problems, "reason"] = texts
    return out.reset_index(drop=True)


def not_paid(selection: Selection) -> pd.DataFrame:
    """The scheduled visits of `schedule` that would not be paid in full (over or
    unauthorized), with the client's name. Grain: one row per visit, in time order.
    """
    rows = schedule(selection)
    rows = rows[rows["schedule_status"] != FITS].reset_index(drop=True)
    names = selection.dataset.clients.set_index("client_id")["client_name"]
    rows.insert(2, "client_name", rows["client_id"].map(names).astype("str"))
    return rows


def schedule_text(rows: pd.DataFrame, dataset: Dataset, period: Period) -> str:
    """`not_paid` rows as a plain-text table for a terminal or an e-mail from a nightly job."""
    span = f"{period.start.isoformat()} to {period.end.isoformat()}"
    if rows.empty:
        return f"Every scheduled billable visit from {span} would be paid."
    lines = [
        f"{len(rows):,} scheduled visit(s) from {span} would not be paid in full:",
        "",
    ]
    for row in rows.itertuples(index=False):
        item: Any = row
        day = pd.Timestamp(item.service_date).date().isoformat()
        lost = item.units if item.schedule_status == UNAUTHORIZED else item.units_over
        lines.append(
            f"{day}  {item.client_name} ({item.client_id})  {item.procedure_code}  "
            f"{lost} of {item.units} units: {item.reason}"
        )
    return "\n".join(lines)


def reason(dataset: Dataset, visit: pd.Series) -> str:
    """Why units of a scheduled visit would not be paid, in words.

    Unauthorized: "no authorization holds 2027-02-03: A0031 ended 2027-01-31" (or starts
    later, holds the date for another payer, or none exists). Over: each authorization
    holding the date that could not give what was asked, and what stopped it: "would exceed
    the monthly limit of 100 units for March 2026 (A0012)", "would exceed the 480 units
    approved of A0012 (1 Jan 2026 – 30 Jun 2026)".
    """
    holders, others = _holders(dataset, visit)
    day = pd.Timestamp(visit["service_date"]).date()
    if holders.empty:
        return _no_holder(visit, day, others)
    notes = []
    need = int(visit["units"])
    for row in holders.itertuples(index=False):
        auth: Any = row  # a row of the authorizations frame
        left = _left_before(dataset, auth, visit)
        room = max(0, min(left.values()))
        if room >= need:
            break
        binding = min(left, key=lambda per: (left[per], per == "total"))
        if binding == "total":
            notes.append(
                f"would exceed the {_count(auth.units_approved)} units approved of "
                f"{auth.authorization_id} ({_day(auth.start_date)} – {_day(auth.end_date)})"
            )
        else:
            limit = int(getattr(auth, LIMIT_COLUMNS[binding]))
            notes.append(
                f"would exceed the {LIMIT_WORDS[binding]} limit of {limit} units "
                f"{_period_words(day, binding, dataset.settings.week_start)} "
                f"({auth.authorization_id})"
            )
        need -= room
    return "; ".join(dict.fromkeys(notes))


def _holders(dataset: Dataset, visit: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The authorizations holding the visit's date (ends first) and the client's other
    authorizations of the same procedure code.
    """
    auths = dataset.authorizations
    same = auths[
        (auths["client_id"] == visit["client_id"])
        & (auths["procedure_code"] == visit["procedure_code"])
    ]
    day = pd.Timestamp(visit["service_date"])
    payer = visit["payer_id"]
    compatible = same["payer_id"].isna() | pd.isna(payer) | (same["payer_id"] == payer)
    holds = (same["start_date"] <= day) & (same["end_date"] >= day)
    holders = same[holds & compatible].sort_values(["end_date", "authorization_id"])
    return holders, same[~(holds & compatible)]


def _no_holder(visit: pd.Series, day: date, others: pd.DataFrame) -> str:
    """Why no authorization holds the date, naming the nearest one."""
    head = f"no authorization holds {day.isoformat()}"
    if others.empty:
        return f"{head}: {visit['client_id']} has no authorization for {visit['procedure_code']}"
    stamp = pd.Timestamp(day)
    holding = others[(others["start_date"] <= stamp) & (others["end_date"] >= stamp)]
    if not holding.empty:
        first = holding.sort_values(["end_date", "authorization_id"]).iloc[0]
        return (
            f"{head} for payer {visit['payer_id']}: {first['authorization_id']} is for "
            f"payer {first['payer_id']}"
        )
    before = others[others["end_date"] < stamp].sort_values(["end_date", "authorization_id"])
    after = others[others["start_date"] > stamp].sort_values(["start_date", "authorization_id"])
    parts = []
    if not before.empty:
        last = before.iloc[-1]
        parts.append(f"{last['authorization_id']} ended {_iso(last['end_date'])}")
    if not after.empty:
        nxt = after.iloc[0]
        parts.append(f"{nxt['authorization_id']} starts {_iso(nxt['start_date'])}")
    return f"{head}: {', '.join(parts)}"


def _left_before(dataset: Dataset, auth: Any, visit: pd.Series) -> dict[str, int]:
    """Units the authorization had left before the visit: in total (`total`) and in each of
    its limited periods holding the visit's date, after completed visits and the scheduled
    visits before this one.
    """
    auth_id = auth.authorization_id
    taken = _taken(dataset, auth_id, int(visit["order"]))
    days = taken["service_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    units = taken["units"].to_numpy(dtype=np.int64)
    left = {"total": int(np.floor(auth.units_approved)) - int(units.sum())}
    visit_day = (
        np.array([pd.Timestamp(visit["service_date"]).to_datetime64()])
        .astype("datetime64[D]")
        .astype(np.int64)
    )
    week_start = dataset.settings.week_start
    for per, column in LIMIT_COLUMNS.items():
        limit = getattr(auth, column, np.nan)
        if pd.isna(limit):
            continue
        index = period_index(visit_day, per, week_start)[0]
        inside = period_index(days, per, week_start) == index
        left[per] = int(limit) - int(units[inside].sum())
    return left


def _taken(dataset: Dataset, auth_id: str, order: int) -> pd.DataFrame:
    """Units taken from an authorization by completed visits and by the scheduled visits
    before `order` (service_date, units).
    """
    parts = []
    if dataset.allocations is not None:
        mine = dataset.allocations[dataset.allocations["authorization_id"] == auth_id]
        parts.append(mine[["service_date", "units"]])
    if dataset.projections is not None:
        mine = dataset.projections[dataset.projections["authorization_id"] == auth_id]
        earlier = mine["order"].to_numpy() < order
        parts.append(mine.loc[earlier, ["service_date", "units"]])
    if not parts:
        return pd.DataFrame({"service_date": pd.Series(dtype="datetime64[ns]"), "units": []})
    return pd.concat(parts, ignore_index=True)


def _period_words(day: date, per: str, week_start: str) -> str:
    """`for March 2026`, `for the week of 1 Mar 2026`, `on 3 Mar 2026`."""
    if per == "month":
        return f"for {day:%B %Y}"
    number = np.array([pd.Timestamp(day).to_datetime64()]).astype("datetime64[D]").astype(np.int64)
    if per == "week":
        first, _ = period_bounds(period_index(number, "week", week_start), "week", week_start)
        return f"for the week of {_day(pd.Timestamp(int(first[0]), unit='D'))}"
    return f"on {_day(day)}"


def _day(value: object) -> str:
    return pd.Timestamp(value).strftime("%-d %b %Y")  # type: ignore[arg-type]


def _iso(value: object) -> str:
    return pd.Timestamp(value).date().isoformat()  # type: ignore[arg-type]


def _count(value: float) -> str:
    return f"{value:,.0f}"
