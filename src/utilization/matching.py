"""Matching visits to authorizations: FIFO use of authorized units (data contract §4)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from utilization.dataset import REFERENCES, Dataset, catalog_rows, has_status, positions
from utilization.hugepages import in_small_pages
from utilization.limits import KINDS, NO_LIMIT, Limits, Usage, serve, serve_explained
from utilization.threads import together

IntArray = npt.NDArray[np.int64]
CHUNK = 1_000_000  # visits per block when counting the authorizations holding each date
MASK_BLOCK = 1 << 16  # visits per block when building the candidate matrix
KEPT_MASK_BYTES = 1 << 28  # at most this for the candidate matrix of every visit, as bits
_DAY_MIN, _DAY_MAX = -(2**31) + 1, 2**31 - 1  # int32 days; a missing date (NaT) holds none

MATCH_COLUMNS = (
    "units_authorized",
    "units_over_authorization",
    "units_unauthorized",
    "authorization_id",
    "rate",
    "amount",
    "rate_mismatch",
    "units_mismatch",
    "over_limit",
    "units_fit",
    "units_over",
    "schedule_authorization_id",
)


def _days(dates: pd.Series) -> IntArray:
    """Calendar dates as whole days since 1970-01-01."""
    if isinstance(dates.dtype, np.dtype) and dates.dtype.kind == "M":  # one conversion
        return np.asarray(dates.to_numpy().astype("datetime64[D]")).view(np.int64)
    return np.asarray(
        dates.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]"), dtype=np.int64
    )


def _codes(first: pd.Series, second: pd.Series) -> tuple[IntArray, int]:
    """Integer codes of the values of `first` then `second` (NaN: -1), and how many there are."""
    codes, distinct = pd.factorize(pd.concat([first, second], ignore_index=True))
    return codes.astype(np.int64), len(distinct)


def _ids(dataset: Dataset, column: str) -> tuple[IntArray, int]:
    """Integer codes of `column` of the authorizations then the visits (missing: -1), one
    per id, and how many codes there may be: the rows of the catalog the ids name, else
    codes of the ids themselves.
    """
    auths, visits = dataset.authorizations, dataset.visits
    target, _ = REFERENCES[("visits", column)]
    found = [catalog_rows(dataset, table, column) for table in ("authorizations", "visits")]
    if all(
        np.array_equal(rows >= 0, frame[column].notna().to_numpy())
        for rows, frame in zip(found, (auths, visits), strict=True)
    ):  # every id given is a catalog row: its row is its code
        return np.concatenate(found), len(getattr(dataset, target))
    return _codes(auths[column], visits[column])


class _Candidates:
    """Authorizations per (client, procedure), ordered as they are used: end date, then id.

    Row k of group g is the k-th authorization to draw from; padding has index -1.
    """

    def __init__(self, dataset: Dataset) -> None:
        authorizations = dataset.authorizations
        # One code per (client, procedure) pair, numbered in order of first appearance
        # (authorizations, then visits), from integer codes of each column: no pair strings.
        client, _ = _ids(dataset, "client_id")
        procedure, n_procedures = _ids(dataset, "procedure_code")
        codes, _ = pd.factorize(client * max(n_procedures, 1) + procedure)  # one per pair
        n_auth = len(authorizations)
        payer_codes, _ = _ids(dataset, "payer_id")  # missing: -1
        self.auth_group = codes[:n_auth].astype(np.int64)
        self.visit_group = codes[n_auth:].astype(np.int64)
        self.auth_payer = payer_codes[:n_auth].astype(np.int64)
        self.visit_payer = payer_codes[n_auth:].astype(np.int64)

        id_order = pc.sort_indices(pa.array(authorizations["authorization_id"].array))
        id_rank = np.empty(n_auth, dtype=np.int64)  # ids in text order, as integers
        id_rank[id_order.to_numpy()] = np.arange(n_auth, dtype=np.int64)
        order = np.lexsort((id_rank, _days(authorizations["end_date"]), self.auth_group))
        groups_sorted = self.auth_group[order]
        n_groups = int(codes.max()) + 1 if len(codes) else 0
        counts = np.bincount(groups_sorted, minlength=n_groups)
        width = max(int(counts.max()) if counts.size else 0, 1)
        first_of_group = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        rank = np.arange(len(order), dtype=np.int64) - first_of_group[groups_sorted]

        self.index = np.full((n_groups, width), -1, dtype=np.int64)
        self.index[groups_sorted, rank] = order
        # A sentinel at the end answers for the padding (index -1): a span holding no day.
        start = np.append(_days(authorizations["start_date"]), 0)
        end = np.append(_days(authorizations["end_date"]), -1)
        payer = np.append(self.auth_payer, -1)
        # Start day, end day and payer of each candidate side by side (one gather per visit
        # block), as int32: half the memory (days fit until the year 5.8 million).
        self.spans = np.stack(
            [start[self.index], end[self.index], payer[self.index]], axis=-1
        ).astype(np.int32)
        self._kept: npt.NDArray[np.uint8] | None = None  # `mask` of visit rows, as bits
        self._kept_rows = np.zeros(0, dtype=bool)

    def mask(self, rows: IntArray, service_day: IntArray, keep: int = 0) -> npt.NDArray[np.bool_]:
        """Which candidate columns hold each visit's date and accept its payer.

        Computed a block of visits at a time, so that the temporary candidate matrices stay
        a few MB (and are reused) however many visits there are. With `keep` (the number of
        visits), the answer for `rows` is kept, one bit per column, when that takes at most
        `KEPT_MASK_BYTES` for every visit: a later call for rows all kept reads it back
        instead of computing it again (the same `service_day`).
        """
        width = self.index.shape[1]
        if self._kept is not None and self._kept_rows[rows].all():
            bits = np.unpackbits(self._kept[rows], axis=1, count=width)
            return bits.view(bool)
        out = self._computed(rows, service_day)
        if keep and keep * ((width + 7) // 8) <= KEPT_MASK_BYTES:
            if self._kept is None:
                self._kept = np.zeros((keep, (width + 7) // 8), dtype=np.uint8)
                self._kept_rows = np.zeros(keep, dtype=bool)
            self._kept[rows] = np.packbits(out, axis=1)
            self._kept_rows[rows] = True
        return out

    def _computed(self, rows: IntArray, service_day: IntArray) -> npt.NDArray[np.bool_]:
        out = np.empty((len(rows), self.index.shape[1]), dtype=bool)
        for lo in range(0, len(rows), MASK_BLOCK):
            block = rows[lo : lo + MASK_BLOCK]
            spans = self.spans[self.visit_group[block]]
            d = np.clip(service_day[block], _DAY_MIN, _DAY_MAX).astype(np.int32)[:, None]
            vp = self.visit_payer[block].astype(np.int32)[:, None]
            ap = spans[:, :, 2]
            out[lo : lo + len(block)] = (  # padding holds no day (sentinel span)
                (spans[:, :, 0] <= d)
                & (d <= spans[:, :, 1])
                & ((ap == -1) | (vp == -1) | (ap == vp))
            )
        return out


@dataclass
class _Allocated:
    """What a pass of matching gave: per visit row asked, units authorized and the first
    authorization it took units from (-1: none); per allocation its visit row, authorization
    row and units, in visit order then ends-first.
    """

    authorized: IntArray
    first_used: IntArray
    visit: IntArray
    auth: IntArray
    units: IntArray
    stopped_visit: IntArray  # with `explain`: requests that got less than they asked ...
    stopped_auth: IntArray  # ... of which authorization ...
    stopped_by: IntArray  # ... and what stopped them (an index into limits.KINDS)


_Stops = list[tuple[IntArray, IntArray, IntArray]]
"""Requests that got less than they asked: (visit rows, authorization rows, kinds) parts."""
_Taken = tuple[list[IntArray], list[IntArray], list[IntArray], _Stops]
"""What a branch of `_allocate` gives: its allocations' visit rows, authorizations, units."""


def _allocate(
    cands: _Candidates,
    rows: IntArray,
    units: IntArray,
    service_day: IntArray,
    order: IntArray,
    holders: IntArray,
    first_holder: IntArray,
    limits: Limits,
    usage: Usage | None = None,
    explain: bool = False,
) -> _Allocated:
    """Visit rows `rows` take units in time order from the authorizations holding their date,
    ends-first (data contract §4), within each authorization's total and period limits (§10);
    `usage` is what was taken before them (the scheduled projection starts after completed
    visits). With `explain`, every request that got less than it asked is kept with what
    stopped it (the scheduled projection's reasons, §11).
    """
    n = len(units)
    authorized = np.zeros(n, dtype=np.int64)
    first_used = np.full(n, -1, dtype=np.int64)

    def served(
        auth: IntArray, asked: IntArray, days: IntArray, rows: IntArray, stopped: _Stops
    ) -> IntArray:
        if not explain:
            return serve(auth, asked, days, limits, usage)
        take, why = serve_explained(auth, asked, days, limits, usage)
        short = why >= 0
        stopped.append((rows[short], auth[short], why[short]))
        return take

    chosen = np.zeros(n, dtype=bool)
    chosen[rows] = True
    order = order - order.min() if len(order) else order  # from 0, for sort keys
    span = int(order.max()) + 1 if len(order) else 1
    # The groups where some date is held by two authorizations, flagged in a table by group
    # (`np.isin` would sort millions of group codes).
    multi_group = np.zeros(cands.index.shape[0], dtype=bool)
    multi_group[cands.visit_group[rows[holders[rows] > 1]]] = True
    in_multi = multi_group[cands.visit_group] & chosen
    single = chosen & ~in_multi & (holders == 1)

    # Each branch below writes `authorized` and `first_used` at its own rows and gives its
    # allocations (visit rows, authorization rows, units) and stops: they run at once.

    def one_holder() -> _Taken:
        # Groups where no date is held by two authorizations: each authorization serves
        # its visits in visit order.
        stopped: _Stops = []
        srows = np.flatnonzero(single)
        if not len(srows):
            return [], [], [], stopped
        auth = first_holder[srows]
        by_auth = np.argsort(auth * span + order[srows])  # by authorization, then order
        srows, auth = srows[by_auth], auth[by_auth]
        fit = served(auth, units[srows], service_day[srows], srows, stopped)
        authorized[srows] = fit
        got = fit > 0
        first_used[srows[got]] = auth[got]
        return [srows[got]], [auth[got]], [fit[got]], stopped

    def several_holders() -> _Taken:
        # Groups with overlapping authorizations: each visit draws on the authorizations
        # holding its date, ends-first, while they have units left. Every visit of a group
        # tries them in the same order (end date, then id: the candidate columns), so what a
        # visit asks of the k-th authorization depends only on what it got from the ones
        # before: column by column, each authorization serves what is asked of it in visit
        # order within its limits.
        stopped: _Stops = []
        mrows = np.flatnonzero(in_multi)
        if not len(mrows):
            return [], [], [], stopped
        by_group = np.argsort(cands.visit_group[mrows] * span + order[mrows])
        mrows = mrows[by_group]
        masks = cands.mask(mrows, service_day)
        groups = cands.visit_group[mrows]
        need = units[mrows].copy()
        first = np.full(len(mrows), -1, dtype=np.int64)
        took_visit: list[IntArray] = []
        took_rank: list[IntArray] = []
        took_auth: list[IntArray] = []
        took_units: list[IntArray] = []
        for k in range(masks.shape[1]):
            asking = np.flatnonzero(masks[:, k] & (need > 0))
            if not len(asking):
                continue
            auth = cands.index[groups[asking], k]
            place = np.arange(len(asking), dtype=np.int64)
            by_auth = np.argsort(auth * len(asking) + place)  # each one's askers, in order
            asking, auth = asking[by_auth], auth[by_auth]
            take = served(auth, need[asking], service_day[mrows[asking]], mrows[asking], stopped)
            need[asking] -= take
            got = take > 0
            fresh = got & (first[asking] < 0)
            first[asking[fresh]] = auth[fresh]
            took_visit.append(asking[got])
            took_rank.append(np.full(int(got.sum()), k, dtype=np.int64))
            took_auth.append(auth[got])
            took_units.append(take[got])
        authorized[mrows] = units[mrows] - need
        first_used[mrows] = first
        if not took_visit:
            return [], [], [], stopped
        visit_at = np.concatenate(took_visit)
        rank = np.concatenate(took_rank)
        by_visit = np.argsort(visit_at * masks.shape[1] + rank)  # visit, then ends-first
        return (
            [mrows[visit_at[by_visit]]],
            [np.concatenate(took_auth)[by_visit]],
            [np.concatenate(took_units)[by_visit]],
            stopped,
        )

    branches: list[_Taken] = together([one_holder, several_holders], n)
    alloc_visit = [a for branch in branches for a in branch[0]]
    alloc_auth = [a for branch in branches for a in branch[1]]
    alloc_units = [a for branch in branches for a in branch[2]]
    stopped = [s for branch in branches for s in branch[3]]

    def joined(parts: list[IntArray]) -> IntArray:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    return _Allocated(
        authorized,
        first_used,
        joined(alloc_visit),
        joined(alloc_auth),
        joined(alloc_units),
        joined([v for v, _, _ in stopped]),
        joined([a for _, a, _ in stopped]),
        joined([k for _, _, k in stopped]),
    )


@in_small_pages
def match(dataset: Dataset) -> Dataset:
    """Return the dataset with visits matched to authorizations and the allocations made.

    Completed billable visits take units (data contract §4, §10); then scheduled billable
    visits are projected as if delivered as scheduled, after every completed visit (§11).
    Visits gain the columns of `MATCH_COLUMNS`; `allocations` has one row per completed visit
    and authorization it used units from (visit_id, authorization_id, units, service_date);
    `schedule_stops` has one row per scheduled visit that would not fit and authorization
    holding its date that could not give what it asked (visit_id, authorization_id,
    stopped_by: total, day, week or month, service_date), in visit order.
    """
    visits = dataset.visits
    auths = dataset.authorizations
    n = len(visits)
    units = visits["units"].to_numpy(dtype=np.int64)
    billable = visits["billable"].to_numpy(dtype=bool)
    completed = has_status(dataset, "completed")
    eligible = completed & billable
    scheduled = has_status(dataset, "scheduled") & billable
    # Scheduled and cancelled billable visits use no units; each is counted against the
    # authorization it would draw on first (the one ending first among those holding its
    # date), whose rate and payer it takes: balances count scheduled units against it and
    # revenue values cancelled units at its rate (data contract §6, §12).
    planned = (scheduled | has_status(dataset, "cancelled")) & billable
    service_day = _days(visits["service_date"])
    order = visits["order"].to_numpy()
    cands = _Candidates(dataset)
    limits = Limits.of(auths, dataset.settings.week_start)

    holders = np.zeros(n, dtype=np.int64)  # how many authorizations hold the visit's date
    first_holder = np.full(n, -1, dtype=np.int64)
    rows_all = np.flatnonzero(eligible | planned)
    for lo in range(0, len(rows_all), CHUNK):
        rows = rows_all[lo : lo + CHUNK]
        m = cands.mask(rows, service_day, keep=n)  # kept for the visits' allocation
        holders[rows] = m.sum(axis=1)
        col = m.argmax(axis=1)
        g = cands.visit_group[rows]
        first_holder[rows] = np.where(holders[rows] > 0, cands.index[g, col], -1)

    done = _allocate(
        cands, np.flatnonzero(eligible), units, service_day, order, holders, first_holder, limits
    )
    rate_auth = np.where(done.first_used >= 0, done.first_used, first_holder)
    rate_auth = np.where(eligible | planned, rate_auth, -1)
    held = eligible & (holders > 0)
    over = np.where(held, units - done.authorized, 0)
    unauthorized = np.where(eligible & (holders == 0), units, 0)

    # The projection of scheduled visits starts from what completed visits took. It and
    # what else only reads the completed visits' matching are made at once, on threads.
    usage = Usage.of(done.auth, service_day[done.visit], done.units, limits)
    work: list[Callable[[], Any]] = [
        lambda: _allocate(
            cands,
            np.flatnonzero(scheduled),
            units,
            service_day,
            order,
            holders,
            first_holder,
            limits,
            usage,
            explain=True,
        ),
        lambda: _over_limit(cands, done, over, service_day, order, limits),
        lambda: _with_amounts(dataset, done.authorized, over, unauthorized, rate_auth),
        lambda: _allocations(visits, auths, [done.visit], [done.auth], [done.units]),
    ]
    projected: _Allocated
    over_limit: npt.NDArray[np.bool_]
    added: dict[str, pd.Series | np.ndarray]
    allocations: pd.DataFrame
    projected, over_limit, added, allocations = together(work, n)
    fit = np.where(scheduled & (holders > 0), projected.authorized, 0)
    schedule_over = np.where(scheduled & (holders > 0), units - fit, 0)
    schedule_auth = np.where(projected.first_used >= 0, projected.first_used, first_holder)
    schedule_auth = np.where(scheduled, schedule_auth, -1)

    added["over_limit"] = over_limit
    added["units_fit"] = fit
    added["units_over"] = schedule_over
    added["schedule_authorization_id"] = _take_text(
        auths["authorization_id"], schedule_auth, visits.index
    )
    # The visits' own columns shared, the new ones added without copies or stacking.
    columns = {c: visits[c] for c in visits.columns if c not in added}
    columns.update({c: _column(v, visits.index) for c, v in added.items()})
    matched = pd.DataFrame(columns, index=visits.index, copy=False)
    # What stopped each scheduled visit that would not fit, at each authorization (§11).
    over_rows = schedule_over[projected.stopped_visit] > 0
    by_visit = np.argsort(order[projected.stopped_visit], kind="stable")  # then ends-first
    by_visit = by_visit[over_rows[by_visit]]
    stops = pd.DataFrame(
        {
            "visit_id": visits["visit_id"].array.take(projected.stopped_visit[by_visit]),
            "authorization_id": auths["authorization_id"].array.take(
                projected.stopped_auth[by_visit]
            ),
            "stopped_by": pd.array(
                np.asarray(KINDS, dtype=object)[projected.stopped_by[by_visit]], dtype="str"
            ),
            "service_date": visits["service_date"].to_numpy()[projected.stopped_visit[by_visit]],
        }
    )
    result = replace(
        dataset,
        visits=matched,
        allocations=allocations,
        schedule_stops=stops,
    )
    # The authorization rows behind the id columns just written, for the figures that add
    # units up per authorization (balances, limits).
    counted = np.where(rate_auth >= 0, rate_auth, -1)
    result.derived(VISIT_AUTHORIZATIONS, (result.visits, auths), lambda: counted)
    result.derived(ALLOCATION_AUTHORIZATIONS, (result.allocations, auths), lambda: done.auth)
    result.derived(
        STOP_AUTHORIZATIONS,
        (result.schedule_stops, auths),
        lambda: projected.stopped_auth[by_visit],
    )
    result.carry(dataset, {"visits": visits})  # the same visits, with more columns
    return result


VISIT_AUTHORIZATIONS = "visit_authorization_rows"
ALLOCATION_AUTHORIZATIONS = "allocation_authorization_rows"
STOP_AUTHORIZATIONS = "stop_authorization_rows"


def visit_authorization_rows(dataset: Dataset) -> IntArray:
    """The row in `authorizations` of each visit's `authorization_id` (-1: none)."""
    return _authorization_rows(dataset, VISIT_AUTHORIZATIONS, dataset.visits)


def stop_authorization_rows(dataset: Dataset) -> IntArray:
    """The row in `authorizations` of each schedule stop's `authorization_id`."""
    return _authorization_rows(dataset, STOP_AUTHORIZATIONS, dataset.schedule_stops)


def allocation_authorization_rows(dataset: Dataset) -> IntArray:
    """The row in `authorizations` of each allocation's `authorization_id`."""
    return _authorization_rows(dataset, ALLOCATION_AUTHORIZATIONS, dataset.allocations)


def _authorization_rows(dataset: Dataset, name: str, frame: pd.DataFrame | None) -> IntArray:
    """The row in `authorizations` of each `authorization_id` of `frame` (-1: none), as
    matching left it (`name`), else looked up once per dataset; none without the frame.
    """
    auths = dataset.authorizations
    if frame is None:
        return np.zeros(0, dtype=np.int64)
    return dataset.derived(
        name,
        (frame, auths),
        lambda: positions(frame["authorization_id"], auths["authorization_id"]),
    )


def _over_limit(
    cands: _Candidates,
    done: _Allocated,
    over: IntArray,
    service_day: IntArray,
    order: IntArray,
    limits: Limits,
) -> npt.NDArray[np.bool_]:
    """Visits with over-authorization units while an authorization holding their date still
    has units left in total after them: a period limit, not the total, stopped them (§10).
    """
    result = np.zeros(len(over), dtype=bool)
    if not limits.any:
        return result
    limited = np.zeros(len(limits.total) + 1, dtype=bool)  # the last one: the padding (-1)
    for limit in limits.per.values():
        limited[:-1] |= limit < NO_LIMIT
    group_limited = np.asarray(limited[cands.index].any(axis=1), dtype=bool)  # a limit may have
    rows = np.flatnonzero((over > 0) & group_limited[cands.visit_group])
    if not len(rows):
        return result
    masks = cands.mask(rows, service_day)
    which, rank = np.nonzero(masks)
    visit_rows = rows[which]
    auth = cands.index[cands.visit_group[visit_rows], rank]
    # Units each holder gave up to and including the visit, from the allocations in visit
    # order per authorization.
    size = int(order.max()) + 2 if len(order) else 2
    alloc_key = done.auth * size + order[done.visit]
    by_key = np.argsort(alloc_key)  # one allocation per visit and authorization
    keys = alloc_key[by_key]
    taken = np.r_[0, np.cumsum(done.units[by_key])]  # taken[i]: by the first i allocations
    auth_start = np.searchsorted(keys, auth * size)
    upto = np.searchsorted(keys, auth * size + order[visit_rows], side="right")
    used = taken[upto] - taken[auth_start]
    left = limits.total[auth] - used
    result[np.unique(visit_rows[left > 0])] = True
    return result


def _with_amounts(
    dataset: Dataset,
    authorized: IntArray,
    over: IntArray,
    unauthorized: IntArray,
    rate_auth: IntArray,
) -> dict[str, pd.Series | np.ndarray]:
    """The matching columns of the visits: units split, rate source, amount and the checks."""
    visits = dataset.visits
    auths = dataset.authorizations
    procedures = dataset.procedures
    position = catalog_rows(dataset, "visits", "procedure_code")
    # The rate of the visit's procedure, or of its authorization where it has one; in place.
    rate = np.append(procedures["rate"].to_numpy(dtype=np.float64), np.nan)[position]
    has_auth = rate_auth >= 0
    auth_rates = auths["rate"].to_numpy(dtype=np.float64)
    rate[has_auth] = auth_rates[rate_auth[has_auth]]
    units = visits["units"].to_numpy(dtype=np.int64)
    billed = visits["amount_billed"].to_numpy(dtype=np.float64)
    given = ~np.isnan(billed)
    amount = units * rate
    amount[given] = billed[given]

    completed = has_status(dataset, "completed")
    tolerance = dataset.settings.rate_tolerance
    # Billed rates checked where an amount is billed (few visits, usually).
    check = np.flatnonzero(has_auth & given & (units > 0))
    auth_rate = auth_rates[rate_auth[check]]
    billed_rate = billed[check] / units[check]
    rate_mismatch = np.zeros(len(visits), dtype=bool)
    rate_mismatch[check] = ~np.isnan(auth_rate) & (
        np.round(np.abs(billed_rate - auth_rate), 6) > tolerance
    )
    recorded = visits["units_recorded"].to_numpy(dtype=np.float64)
    units_mismatch = completed & ~np.isnan(recorded) & (recorded != units)

    used = np.where(has_auth, rate_auth, -1)  # -1: none (missing text)
    added: dict[str, pd.Series | np.ndarray] = {
        "units_authorized": authorized,
        "units_over_authorization": over,
        "units_unauthorized": unauthorized,
        "authorization_id": _take_text(auths["authorization_id"], used, visits.index),
        "payer_effective": _filled(visits["payer_id"], auths["payer_id"], used),
        "rate": rate,
        "amount": amount,
        "rate_mismatch": rate_mismatch,
        "units_mismatch": units_mismatch,
    }
    return added


def _column(values: pd.Series | np.ndarray, index: pd.Index) -> pd.Series:
    """A new column as a Series on `index`, without copying its array."""
    if isinstance(values, pd.Series):
        return values
    return pd.Series(values, index=index, copy=False)


def _filled(payer: pd.Series, auth_payer: pd.Series, used: IntArray) -> pd.Series:
    """The visits' payer_id, where missing that of the authorization at `used` (-1: none)."""
    gaps = payer.isna().to_numpy()
    if not gaps.any() or not len(auth_payer):
        return payer.copy(deep=False)  # every visit names its payer: nothing to fill
    where = np.flatnonzero(gaps)
    fill = auth_payer.astype("str").array.take(used[where], allow_fill=True)
    array = pa.array(payer.array)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    mask = pa.array(gaps)
    filled = pc.replace_with_mask(array, mask, pa.array(fill).cast(array.type))
    return pd.Series(pd.array(filled, dtype="str"), index=payer.index, copy=False)


def _take_text(column: pd.Series, positions: IntArray, index: pd.Index) -> pd.Series:
    """The text of `column` at each position (-1: missing) as a `str` Series on `index`."""
    if not len(column):
        return pd.Series(np.nan, index=index, dtype="str")
    taken = column.astype("str").array.take(positions, allow_fill=True)
    return pd.Series(taken, index=index, dtype="str")


def _allocations(
    visits: pd.DataFrame,
    auths: pd.DataFrame,
    alloc_visit: list[IntArray],
    alloc_auth: list[IntArray],
    alloc_units: list[IntArray],
) -> pd.DataFrame:
    """One row per visit and authorization it used units from."""
    rows = np.concatenate(alloc_visit) if alloc_visit else np.array([], dtype=np.int64)
    auth = np.concatenate(alloc_auth) if alloc_auth else np.array([], dtype=np.int64)
    used = np.concatenate(alloc_units) if alloc_units else np.array([], dtype=np.int64)
    if not len(rows):  # as read from empty object arrays
        return pd.DataFrame(
            {
                "visit_id": visits["visit_id"].to_numpy()[rows],
                "authorization_id": auths["authorization_id"].to_numpy()[auth],
                "units": used.astype(np.int64),
                "service_date": visits["service_date"].to_numpy()[rows],
            }
        )
    return pd.DataFrame(
        {
            "visit_id": visits["visit_id"].array.take(rows),
            "authorization_id": auths["authorization_id"].array.take(auth),
            "units": used.astype(np.int64),
            "service_date": visits["service_date"].to_numpy()[rows],
        },
        copy=False,  # the arrays are new: no copy, no stacking
    )
