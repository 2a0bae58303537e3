"""Scheduled visits checked before they happen (data contract §11): what would be paid, and why
not, in words a scheduler can act on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from utilization.dataset import Dataset, is_among
from utilization.limits import LIMIT_COLUMNS, LIMIT_WORDS, period_bounds, period_index
from utilization.matching import stop_authorization_rows
from utilization.period import Period, days_in_words, iso_dates
from utilization.selection import Selection
from utilization.totals import join
from utilization.validation import order_keys, time_order

FITS = "fits"
OVER = "over"
UNAUTHORIZED = "unauthorized"

IntArray = npt.NDArray[np.int64]


def schedule(selection: Selection) -> pd.DataFrame:
    """Scheduled billable visits in the period passing the filters, as projected (§11).

    Grain: one row per scheduled billable visit, in time order. `units_fit` would be paid,
    `units_over` would be over-authorization; `schedule_status` is `fits`, `over` or
    `unauthorized` (no authorization holds its date: fit and over are 0); `authorization_id`
    is the first it would take units from, else the one ending first among those holding its
    date, else empty; `reason` says in words why units would not be paid ('' when it fits).
    """
    return schedule_of([schedule_rows(selection)])


START = "_start"
"""Hidden column of `schedule_rows`: the instant the visit counts as starting at (§4 order)."""


def schedule_rows(selection: Selection) -> pd.DataFrame:
    """`schedule` with the column `_start`, which puts the rows of several sets of clients
    back in time order (`schedule_of`).
    """
    dataset = selection.dataset
    columns = [
        "visit_id", "client_id", "procedure_code", "service_date", "units", "units_fit",
        "units_over", "schedule_authorization_id", "billable", "payer_id", "order", "start",
    ]  # fmt: skip
    visits = selection.visits(status="scheduled", billable_default=True, columns=columns)
    billable = visits["billable"].to_numpy(dtype=bool)
    if not billable.all():  # (the billable filter may ask for the others)
        visits = visits[billable]
    visits = visits.sort_values("order")
    auth = visits["schedule_authorization_id"]
    unauthorized, over, fits = (SCHEDULE_STATUSES.index(s) for s in (UNAUTHORIZED, OVER, FITS))
    status = np.where(  # the place of each visit's status in SCHEDULE_STATUSES
        auth.isna().to_numpy() & (visits["units"].to_numpy() > 0),  # 0 units fit (§11)
        unauthorized,
        np.where(visits["units_over"].to_numpy() > 0, over, fits),
    )
    problems = status != fits
    words = reasons(dataset, visits[problems]) if problems.any() else []
    said = np.zeros(len(visits), dtype=np.int64)  # each visit's reason: 0 none, else in `words`
    said[problems] = np.arange(1, len(words) + 1)
    start = pd.DatetimeIndex(visits["start"]).as_unit("us").asi8  # NaT: NAT
    day = visits["service_date"].to_numpy().astype("datetime64[us]").view(np.int64)
    out = pd.DataFrame(
        {  # text columns as their arrays: no Python strings in between
            "visit_id": visits["visit_id"].array,
            "client_id": visits["client_id"].array,
            "procedure_code": visits["procedure_code"].array,
            "service_date": visits["service_date"].to_numpy(),
            "units": visits["units"].to_numpy(dtype=np.int64),
            "units_fit": visits["units_fit"].to_numpy(dtype=np.int64),
            "units_over": visits["units_over"].to_numpy(dtype=np.int64),
            "schedule_status": _texts(list(SCHEDULE_STATUSES), status),
            "authorization_id": auth.array,
            "reason": _texts(["", *words], said),
            START: order_keys(start, day, dataset.settings.timezone),
        }
    )
    for column in ("visit_id", "client_id", "procedure_code", "authorization_id"):
        out[column] = out[column].astype("str")
    return out.reset_index(drop=True)


SCHEDULE_STATUSES = (UNAUTHORIZED, OVER, FITS)
"""The values of `schedule_status`."""


def _texts(values: list[str], at: IntArray) -> pd.api.extensions.ExtensionArray:
    """A `str` column of `values[i]` for each i of `at`, made by Arrow (no Python string per
    row)."""
    taken = pc.take(pa.array(values, pa.large_string()), pa.array(at))
    column: pd.api.extensions.ExtensionArray = pd.array(taken, dtype="str")
    return column


def schedule_of(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The scheduled visits of disjoint sets of clients (`schedule_rows`) in time order: the
    frame `schedule` gives for all of them.
    """
    rows = join(parts)
    if len(parts) > 1:
        rows = rows.take(time_order(rows[START].to_numpy(), rows["visit_id"]))
    return rows.drop(columns=[START]).reset_index(drop=True)


def not_paid_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of a schedule table (`schedule`) that would not be paid in full, over or
    unauthorized, with `units_not_paid`: the units over for a visit over, every unit of one
    unauthorized (both: `units - units_fit`).
    """
    chosen = rows[rows["schedule_status"] != FITS]
    lost = chosen["units"].to_numpy(dtype=np.int64) - chosen["units_fit"].to_numpy(dtype=np.int64)
    return chosen.assign(units_not_paid=lost)


def not_paid(selection: Selection) -> pd.DataFrame:
    """The scheduled visits of `schedule` that would not be paid in full (`not_paid_rows`),
    with the client's name. Grain: one row per visit, in time order.
    """
    return not_paid_named(schedule(selection), selection.dataset.clients)


def not_paid_named(rows: pd.DataFrame, clients: pd.DataFrame) -> pd.DataFrame:
    """`not_paid` of a `schedule` table (`ViewFigures.schedule` too), names from `clients`."""
    rows = not_paid_rows(rows).reset_index(drop=True)
    names = clients.set_index("client_id")["client_name"]
    rows.insert(2, "client_name", rows["client_id"].map(names).astype("str"))
    return rows


def schedule_text(rows: pd.DataFrame, period: Period) -> str:
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
        lines.append(
            f"{day}  {item.client_name} ({item.client_id})  {item.procedure_code}  "
            f"{item.units_not_paid} of {item.units} units: {item.reason}"
        )
    return "\n".join(lines)


def reasons(dataset: Dataset, visits: pd.DataFrame) -> list[str]:
    """Why units of each scheduled visit (over or unauthorized) would not be paid, in words.

    Over: each authorization holding the date that could not give what was still asked, and
    what stopped it (matching's `schedule_stops`): "would exceed the monthly limit of 100
    units for March 2026 (A0012)", "would exceed the 480 units approved of A0012
    (1 Jan 2026 – 30 Jun 2026)". Unauthorized: "no authorization holds 2027-02-03: A0031
    ended 2027-01-31" (or starts later, holds the date for another payer, or none exists).
    Computed for all the visits at once; `visits` has visit_id, client_id, procedure_code,
    service_date, payer_id and schedule_authorization_id.
    """
    texts = np.full(len(visits), "", dtype=object)
    unauthorized = visits["schedule_authorization_id"].isna().to_numpy()
    if (~unauthorized).any():
        ids = visits.loc[~unauthorized, "visit_id"]
        over = _over_reasons(dataset, ids)
        at = pd.Index(over.index).get_indexer(ids.to_numpy())  # each visit's own (-1: none)
        texts[np.flatnonzero(~unauthorized)[at >= 0]] = over.to_numpy(dtype=object)[at[at >= 0]]
    if unauthorized.any():
        texts[unauthorized] = _unauthorized_reasons(dataset, visits[unauthorized])
    result: list[str] = texts.tolist()
    return result


def _over_reasons(dataset: Dataset, visit_ids: pd.Series) -> pd.Series:
    """Reasons of over visits, by visit_id, from what stopped them at each authorization.

    The words depend only on the authorization, what stopped it and the period: each such
    combination is written once and shared by every visit it stopped.
    """
    stops = dataset.schedule_stops
    if stops is None or stops.empty:
        return pd.Series(dtype="str")
    chosen = is_among(stops["visit_id"], visit_ids)
    row = stop_authorization_rows(dataset)[chosen]
    stops = stops[chosen].reset_index(drop=True)
    days = stops["service_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    kind = stops["stopped_by"].to_numpy(dtype=object)
    week_start = dataset.settings.week_start
    period = np.zeros(len(stops), dtype=np.int64)  # the total: one text per authorization
    for per in LIMIT_COLUMNS:
        rows = kind == per
        period[rows] = period_index(days[rows], per, week_start)
    auths = dataset.authorizations
    if (row < 0).any():  # matching writes the stops from these authorizations
        msg = "internal error: a schedule stop names an authorization the dataset lacks"
        raise AssertionError(msg)
    kinds = ("total", *LIMIT_COLUMNS)
    code = np.select([kind == k for k in kinds], list(range(len(kinds))), 0)
    low = int(period.min())
    width = int(period.max()) - low + 1
    combo = (row * len(kinds) + code) * width + (period - low)
    which, found = pd.factorize(combo)  # each combination written once
    found = np.asarray(found, dtype=np.int64)
    found_row, found_kind = np.divmod(found // width, len(kinds))
    text = _stop_words(auths, found_row, found_kind, found % width + low, week_start)[which]
    visit = stops["visit_id"].to_numpy(dtype=object)
    first = np.r_[True, visit[1:] != visit[:-1]]  # stops of a visit are next to each other
    if first.all():
        return pd.Series(text, index=visit, dtype="str")
    # Each visit's texts (one per authorization, so never the same twice) joined in Arrow.
    offsets = np.r_[np.flatnonzero(first), len(visit)].astype(np.int32)
    lists = pa.ListArray.from_arrays(pa.array(offsets), pa.array(text.tolist(), pa.string()))
    joined = pc.binary_join(lists, "; ").to_numpy(zero_copy_only=False)
    return pd.Series(joined, index=visit[first], dtype="str")


def _stop_words(
    auths: pd.DataFrame, row: IntArray, kind: IntArray, period: IntArray, week_start: str
) -> npt.NDArray[np.object_]:
    """What stopped visits at an authorization, in words, for each of its row in `auths`,
    the kind (its place in total, then `LIMIT_COLUMNS`) and the period number: "would exceed
    the 480 units approved of A0012 (1 Jan 2026 – 30 Jun 2026)", "would exceed the monthly
    limit of 100 units for March 2026 (A0012)". Written for all of them at once.
    """
    ids = np.asarray(auths["authorization_id"].array.take(row), dtype=object)
    out = np.empty(len(row), dtype=object)
    total = kind == 0
    if total.any():
        at = row[total]
        approved = auths["units_approved"].to_numpy(dtype=np.float64)[at]
        values, each = np.unique(approved, return_inverse=True)
        units = np.asarray([f"{v:,.0f}" for v in values], dtype=object)[each.ravel()]
        start = days_in_words(auths["start_date"].to_numpy()[at])
        end = days_in_words(auths["end_date"].to_numpy()[at])
        out[total] = (
            "would exceed the " + units + " units approved of " + ids[total]
            + " (" + start + " – " + end + ")"
        )  # fmt: skip
    for code, (per, column) in enumerate(LIMIT_COLUMNS.items(), start=1):
        rows = kind == code
        if not rows.any():
            continue
        limit = auths[column].to_numpy(dtype=np.float64)[row[rows]].astype(np.int64)
        first, _ = period_bounds(period[rows], per, week_start)
        if per == "month":
            when = "for " + days_in_words(first, "%B %Y")
        elif per == "week":
            when = "for the week of " + days_in_words(first)
        else:
            when = "on " + days_in_words(first)
        out[rows] = (
            f"would exceed the {LIMIT_WORDS[per]} limit of " + limit.astype(str).astype(object)
            + " units " + when + " (" + ids[rows] + ")"
        )  # fmt: skip
    return out


def _unauthorized_reasons(dataset: Dataset, visits: pd.DataFrame) -> npt.NDArray[np.object_]:
    """Reasons of visits no authorization holds, in their order, naming the nearest one: the
    authorization of the visit's client and code that holds its date for another payer (the
    first to end), else the last to end before it and the first to start after it, else
    none. Among authorizations of the same date, the first id in text order decides.
    """
    auths = dataset.authorizations
    n = len(visits)
    near = np.flatnonzero(is_among(auths["client_id"], visits["client_id"]))
    # One code per (client, code) pair, over these authorizations and the visits' texts.
    pair = np.zeros(len(near) + n, dtype=np.int64)
    for column in ("client_id", "procedure_code"):
        texts = pd.concat([auths[column].iloc[near], visits[column]], ignore_index=True)
        codes, found = pd.factorize(texts)  # a missing text is -1 on both sides, as it merges
        pair = pair * (len(found) + 1) + codes + 1
    by_pair = np.argsort(pair[: len(near)], kind="stable")
    sorted_pairs, wanted = pair[: len(near)][by_pair], pair[len(near) :]
    ends = np.searchsorted(sorted_pairs, wanted, side="right")
    counts = ends - np.searchsorted(sorted_pairs, wanted)
    visit = np.repeat(np.arange(n), counts)  # each candidate: its visit, its authorization
    # The k-th candidate overall is `ends - cumsum(counts)` places on in `sorted_pairs`.
    auth = near[by_pair[np.arange(len(visit)) + np.repeat(ends - np.cumsum(counts), counts)]]
    day = visits["service_date"].to_numpy().astype("datetime64[D]")[visit]
    start = auths["start_date"].to_numpy().astype("datetime64[D]")[auth]
    end = auths["end_date"].to_numpy().astype("datetime64[D]")[auth]
    ids = auths["authorization_id"].array
    distinct, place = np.unique(auth, return_inverse=True)
    rank = np.argsort(np.argsort(np.asarray(ids.take(distinct), dtype=object), kind="stable"))
    rank = rank[place.ravel()]  # each candidate's id among theirs, in text order

    def chosen(where: npt.NDArray[np.bool_], date: npt.NDArray[Any], last: bool) -> IntArray:
        """Per visit, the authorization of the first (last) candidate where `where` holds,
        by date then id; -1 for none."""
        rows = np.flatnonzero(where)
        rows = rows[np.lexsort((rank[rows], date[rows], visit[rows]))]
        out = np.full(n, -1, dtype=np.int64)
        if len(rows):
            edge = visit[rows][1:] != visit[rows][:-1]
            pick = np.r_[edge, True] if last else np.r_[True, edge]
            out[visit[rows][pick]] = auth[rows][pick]
        return out

    other = chosen((start <= day) & (end >= day), end, last=False)  # holds it: another payer
    ended = chosen(end < day, end, last=True)
    starts = chosen(start > day, start, last=False)

    def named(rows: IntArray, what: str, dates: pd.Series) -> npt.NDArray[np.object_]:
        """`<id> <what> <date>` of the authorization at each row, "" for none (-1)."""
        out = np.full(n, "", dtype=object)
        has = rows >= 0
        if has.any():
            out[has] = (
                np.asarray(ids.take(rows[has]), dtype=object) + f" {what} "
                + np.asarray(iso_dates(dates.iloc[rows[has]]), dtype=object)
            )  # fmt: skip
        return out

    both = named(ended, "ended", auths["end_date"]) + ", "
    both += named(starts, "starts", auths["start_date"])
    around = np.asarray([text.strip(", ") for text in both], dtype=object)
    head = "no authorization holds " + np.asarray(iso_dates(visits["service_date"]), dtype=object)
    nothing = (
        visits["client_id"].to_numpy(dtype=object) + " has no authorization for "
        + visits["procedure_code"].to_numpy(dtype=object)
    )  # fmt: skip
    payer = visits["payer_id"].fillna("").to_numpy(dtype=object)
    has_other = other >= 0
    out: npt.NDArray[np.object_] = np.where(
        around != "", head + ": " + around, head + ": " + nothing
    )
    if has_other.any():
        at = other[has_other]
        auth_payer = pd.Series(auths["payer_id"].array.take(at)).fillna("")
        out[has_other] = (
            head[has_other] + " for payer " + payer[has_other] + ": "
            + np.asarray(ids.take(at), dtype=object) + " is for payer "
            + auth_payer.to_numpy(dtype=object)
        )  # fmt: skip
    return out
