"""Authorization limits per day, week and month (data contract §10): calendar periods, and
first-come-first-served use of an authorization that respects its total and every limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from utilization.settings import WEEKDAYS

IntArray = npt.NDArray[np.int64]

PERIODS: tuple[str, ...] = ("day", "week", "month")
LIMIT_COLUMNS: dict[str, str] = {
    "day": "units_per_day",
    "week": "units_per_week",
    "month": "units_per_month",
}
"""The authorizations column of each period's limit (whole units; empty: no limit)."""
LIMIT_WORDS: dict[str, str] = {"day": "daily", "week": "weekly", "month": "monthly"}
"""Each period's limit in words ("the monthly limit of 100 units")."""
NO_LIMIT = np.iinfo(np.int64).max // 4
"""Capacity standing for "no limit": larger than any sum of units."""
ROUNDS = 64
"""Rounds of the vectorized fixed point before the few requests left are served one by one."""


def period_index(days: IntArray, per: str, week_start: str = "sunday") -> IntArray:
    """The calendar period holding each day (days since 1970-01-01), as a period number.

    Days are their own number; weeks start on `week_start`; months are months since 1970-01.
    """
    days = np.asarray(days, dtype=np.int64)
    if per == "day":
        return days
    if per == "week":
        # 1970-01-01 was a Thursday: (day + 3) % 7 is the weekday counted from Monday.
        return (days + 3 - WEEKDAYS.index(week_start)) // 7
    if per == "month":
        months: IntArray = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        return months
    msg = f"unknown period {per!r}; one of {PERIODS}"
    raise ValueError(msg)


def period_bounds(
    index: IntArray, per: str, week_start: str = "sunday"
) -> tuple[IntArray, IntArray]:
    """First and last day (days since 1970-01-01) of each period number of `period_index`."""
    index = np.asarray(index, dtype=np.int64)
    if per == "day":
        return index, index
    if per == "week":
        first = index * 7 - 3 + WEEKDAYS.index(week_start)
        return first, first + 6
    first = index.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    after = (index + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return first, after - 1


@dataclass(frozen=True)
class Limits:
    """Each authorization's capacity: its whole units approved, and its limit per period.

    Arrays are indexed like the authorizations frame; a period without a limit holds
    `NO_LIMIT`.
    """

    total: IntArray
    per: dict[str, IntArray]
    week_start: str = "sunday"

    @classmethod
    def of(cls, authorizations: pd.DataFrame, week_start: str = "sunday") -> Limits:
        """The limits of the authorizations frame (columns of `LIMIT_COLUMNS` when present)."""
        total = np.floor(authorizations["units_approved"].to_numpy(dtype=np.float64))
        per: dict[str, IntArray] = {}
        for name, column in LIMIT_COLUMNS.items():
            if column in authorizations:
                values = authorizations[column].to_numpy(dtype=np.float64)
                if not np.isnan(values).all():
                    per[name] = np.where(np.isnan(values), NO_LIMIT, values).astype(np.int64)
        return cls(total.astype(np.int64), per, week_start)

    @property
    def any(self) -> bool:
        """Whether some authorization has a period limit."""
        return bool(self.per)


@dataclass(frozen=True)
class Usage:
    """Units already taken from each authorization, in total and per limited period: where the
    projection of scheduled visits starts from (after every completed visit, §11).
    """

    total: IntArray
    keys: dict[str, IntArray]  # per period kind: sorted (authorization, period) keys
    units: dict[str, IntArray]  # units taken in each keyed period

    @classmethod
    def of(cls, auth: IntArray, days: IntArray, units_all: IntArray, limits: Limits) -> Usage:
        """Usage from allocations: the authorization, service day and units of each."""
        n_auth = len(limits.total)
        total = np.bincount(auth, weights=units_all, minlength=n_auth).astype(np.int64)
        keys: dict[str, IntArray] = {}
        sums: dict[str, IntArray] = {}
        for per, limit in limits.per.items():
            limited = limit[auth] < NO_LIMIT  # only limited periods are ever looked up
            key = _key(auth[limited], period_index(days[limited], per, limits.week_start))
            unique, inverse = np.unique(key, return_inverse=True)
            units = units_all[limited]
            keys[per] = unique
            sums[per] = np.bincount(inverse, weights=units, minlength=len(unique)).astype(np.int64)
        return cls(total, keys, sums)

    def in_period(self, per: str, auth: IntArray, index: IntArray) -> IntArray:
        """Units already taken from each authorization in each period number."""
        keys, sums = self.keys.get(per), self.units.get(per)
        if keys is None or sums is None or not len(keys):
            return np.zeros(len(auth), dtype=np.int64)
        key = _key(auth, index)
        at = np.clip(np.searchsorted(keys, key), 0, len(keys) - 1)
        return np.where(keys[at] == key, sums[at], 0)


def _key(auth: IntArray, index: IntArray) -> IntArray:
    """One int64 per (authorization, period number); period numbers are far below 2**31."""
    return (np.asarray(auth, dtype=np.int64) << 32) + (
        np.asarray(index, dtype=np.int64) + (1 << 31)
    )


KINDS: tuple[str, ...] = ("total", *PERIODS)
"""What can stop a request: the units left in total, or in a limited day, week or month;
`serve_explained` answers with the index of one of these.
"""


def serve(
    auth: IntArray,
    asked: IntArray,
    days: IntArray,
    limits: Limits,
    usage: Usage | None = None,
) -> IntArray:
    """Units each request gets (see `serve_explained`)."""
    take, _ = serve_explained(auth, asked, days, limits, usage, explain=False)
    return take


def serve_explained(
    auth: IntArray,
    asked: IntArray,
    days: IntArray,
    limits: Limits,
    usage: Usage | None = None,
    explain: bool = True,
) -> tuple[IntArray, IntArray]:
    """Units each request gets, and what stopped it from getting what it asked: an index
    into `KINDS` (-1 where it got all it asked). Where the total and a period limit leave
    the same, the period limit is named. (Without `explain`, the second array is empty.)

    Requests of authorizations without any period limit are served in one round apart from
    the others, whose fixed point then runs on fewer requests.
    """
    auth = np.asarray(auth, dtype=np.int64)
    asked = np.asarray(asked, dtype=np.int64)
    days = np.asarray(days, dtype=np.int64)
    if limits.any:
        limited = np.zeros(len(limits.total), dtype=bool)
        for limit in limits.per.values():
            limited |= limit < NO_LIMIT
        mine = limited[auth]
        if mine.any() and not mine.all():  # the order within each authorization is kept
            take = np.empty(len(auth), dtype=np.int64)
            stopped = np.empty(len(auth) if explain else 0, dtype=np.int64)
            plain = Limits(limits.total, {}, limits.week_start)
            for part, rules in ((mine, limits), (~mine, plain)):
                got, why = serve_explained(
                    auth[part], asked[part], days[part], rules, usage, explain
                )
                take[part] = got
                if explain:
                    stopped[part] = why
            return take, stopped
    take, (starts, caps, kinds) = _serve(auth, asked, days, limits, usage)
    stopped = np.full(len(take) if explain else 0, -1, dtype=np.int64)
    short = np.flatnonzero(take < asked) if explain else np.zeros(0, dtype=np.int64)
    if len(short):
        lefts = np.stack(
            [cap - _before(take, start) for start, cap in zip(starts, caps, strict=True)]
        )
        # The smallest left names the cause; on a tie, the later (a period, not the total).
        reversed_first = np.argmin(lefts[::-1, short], axis=0)
        stopped[short] = np.asarray(kinds)[len(kinds) - 1 - reversed_first]
    return take, stopped


def _serve(
    auth: IntArray,
    asked: IntArray,
    days: IntArray,
    limits: Limits,
    usage: Usage | None = None,
) -> tuple[IntArray, tuple[list[IntArray], list[IntArray], list[int]]]:
    """Units each request gets when every authorization serves its requests first come, first
    served, never giving more than its units left in total nor, in any limited period, its
    units left in that period (data contract §4, §10).

    `auth` (authorization row), `asked` (units) and `days` (service day of the request) are
    sorted so that each authorization's requests are together in visit order (so its days
    never decrease). `usage`: units taken before these requests (the scheduled projection).

    Each request gets `min(asked, left in total, left in each limited period)` given what the
    requests before it got. That recursion is solved as a fixed point, all requests at once:
    start from every request getting what it asks, compute what each would then find left,
    repeat until nothing changes. The map is decreasing, so the rounds alternate around the
    answer and settle on it; the few requests still moving after `ROUNDS` are served one by
    one. Without period limits the first round is exact.
    """
    n = len(auth)
    if not n:
        return np.zeros(0, dtype=np.int64), ([], [], [])
    auth = np.asarray(auth, dtype=np.int64)
    asked = np.asarray(asked, dtype=np.int64)
    days = np.asarray(days, dtype=np.int64)
    same_auth = auth[1:] == auth[:-1]
    if (same_auth & (days[1:] < days[:-1])).any():
        msg = "internal error: an authorization's requests are not in visit order"
        raise AssertionError(msg)
    # Each constraint: where its runs of requests start (runs are contiguous: sorted by
    # authorization, then time) and the capacity it gives each request's run.
    starts: list[IntArray] = []
    caps: list[IntArray] = []
    kinds: list[int] = [0]
    total = limits.total[auth] - (usage.total[auth] if usage is not None else 0)
    starts.append(_run_starts(~np.r_[False, same_auth]))
    caps.append(total)
    for per, limit in limits.per.items():
        capacity = limit[auth]
        limited = capacity < NO_LIMIT
        if not limited.any():
            continue
        index = period_index(days, per, limits.week_start)
        if usage is not None:
            capacity = capacity - np.where(limited, usage.in_period(per, auth, index), 0)
        new_run = np.r_[True, ~same_auth | (index[1:] != index[:-1])]
        starts.append(_run_starts(new_run))
        caps.append(capacity)
        kinds.append(KINDS.index(per))
    constraints = (starts, caps, kinds)
    take = asked.copy()
    for _ in range(ROUNDS):
        left = _left(take, starts, caps)
        new = np.clip(left, 0, asked)
        if len(starts) == 1 or np.array_equal(new, take):
            return new, constraints
        take = new
    return _serve_one_by_one(take, asked, starts, caps), constraints


def _run_starts(new_run: npt.NDArray[np.bool_]) -> IntArray:
    """For each request, the position where its run begins."""
    positions = np.arange(len(new_run), dtype=np.int64)
    result: IntArray = np.maximum.accumulate(np.where(new_run, positions, 0))
    return result


def _left(take: IntArray, starts: list[IntArray], caps: list[IntArray]) -> IntArray:
    """What each request would find left, given what every request before it took."""
    running = np.cumsum(take)
    before_all = running - take  # taken before each request, by every request
    left = np.full(len(take), NO_LIMIT, dtype=np.int64)
    for start, cap in zip(starts, caps, strict=True):
        before = before_all - before_all[start]  # taken before it within its run
        np.minimum(left, cap - before, out=left)
    return left


def _before(take: IntArray, start: IntArray) -> IntArray:
    """Units taken before each request within its run (runs beginning at `start`)."""
    before_all = np.cumsum(take) - take
    result: IntArray = before_all - before_all[start]
    return result


def _serve_one_by_one(
    take: IntArray, asked: IntArray, starts: list[IntArray], caps: list[IntArray]
) -> IntArray:
    """The recursion read literally, from the first request whose answer may still change
    (the requests before it keep what the rounds gave them); `take` itself when it is the
    answer already (the last round settled it).
    """
    moving = np.flatnonzero(np.clip(_left(take, starts, caps), 0, asked) != take)
    if not len(moving):
        return take
    first = int(moving[0])
    out = take.copy()
    taken = []  # per constraint: units taken so far in each run (at the run's first request)
    for start in starts:
        in_run = np.zeros(len(out), dtype=np.int64)
        np.add.at(in_run, start[:first], out[:first])
        taken.append(in_run)
    for i in range(first, len(out)):
        room = min(
            int(cap[i]) - int(in_run[start[i]])
            for in_run, start, cap in zip(taken, starts, caps, strict=True)
        )
        got = max(0, min(int(asked[i]), room))
        out[i] = got
        for in_run, start in zip(taken, starts, strict=True):
            in_run[start[i]] += got
    return out
