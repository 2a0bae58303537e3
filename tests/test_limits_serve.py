"""Serving requests under limits (data contract §4, §10): the fixed point of `limits.serve`,
and the one-by-one fallback it ends with when requests still move after `ROUNDS`, both give
the recursion read literally.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from utilization import limits
from utilization.limits import NO_LIMIT, Limits, period_index


def _literal(auth: np.ndarray, asked: np.ndarray, days: np.ndarray, caps: Limits) -> list[int]:
    """Each request in turn gets min(asked, left in total, left in each limited period)."""
    taken_total: dict[int, int] = {}
    taken_period: dict[tuple[str, int, int], int] = {}
    out = []
    for a, want, day in zip(auth.tolist(), asked.tolist(), days.tolist(), strict=True):
        room = int(caps.total[a]) - taken_total.get(a, 0)
        keys = []
        for per, limit in caps.per.items():
            if limit[a] < NO_LIMIT:
                key = (per, a, int(period_index(np.array([day]), per, caps.week_start)[0]))
                keys.append(key)
                room = min(room, int(limit[a]) - taken_period.get(key, 0))
        got = max(0, min(want, room))
        out.append(got)
        taken_total[a] = taken_total.get(a, 0) + got
        for key in keys:
            taken_period[key] = taken_period.get(key, 0) + got
    return out


@st.composite
def requests(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, Limits]:
    """Requests of up to 3 authorizations, each in visit order, with day, week and month
    limits (or none) tight enough to bind.
    """
    n_auth = draw(st.integers(1, 3))
    limit = st.one_of(st.just(NO_LIMIT), st.integers(0, 12))
    caps = Limits(
        total=np.array(draw(st.lists(st.integers(0, 60), min_size=n_auth, max_size=n_auth))),
        per={
            per: np.array(draw(st.lists(limit, min_size=n_auth, max_size=n_auth)))
            for per in ("day", "week", "month")
        },
        week_start=draw(st.sampled_from(["sunday", "monday"])),
    )
    auth, asked, days = [], [], []
    for a in range(n_auth):
        count = draw(st.integers(0, 12))
        start = 20_000 + draw(st.integers(0, 40))
        steps = draw(st.lists(st.integers(0, 9), min_size=count, max_size=count))
        auth += [a] * count
        asked += draw(st.lists(st.integers(0, 8), min_size=count, max_size=count))
        days += list(np.cumsum([start, *steps])[:count])
    as_array = [np.array(x, dtype=np.int64) for x in (auth, asked, days)]
    return as_array[0], as_array[1], as_array[2], caps


@settings(max_examples=300, deadline=None)
@given(requests(), st.sampled_from([0, 1, 2, limits.ROUNDS]))
def test_serving_gives_the_recursion_read_literally(
    case: tuple[np.ndarray, np.ndarray, np.ndarray, Limits], rounds: int
) -> None:
    """With the usual rounds, or so few that the one-by-one fallback finishes the work."""
    auth, asked, days, caps = case
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(limits, "ROUNDS", rounds)
        served = limits.serve(auth, asked, days, caps)
    assert served.tolist() == _literal(auth, asked, days, caps)
