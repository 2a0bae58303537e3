"""Matching visits to authorizations, checked against a plain reference implementation."""

from __future__ import annotations

from datetime import date, timedelta
from unittest import mock

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from canonical import dataset
from utilization import matching
from utilization.settings import Settings

BASE = date(2025, 1, 1)


WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
PERS = {"day": "units_per_day", "week": "units_per_week", "month": "units_per_month"}


def _period(day: str, per: str, week_start: str) -> tuple[int, ...]:
    """The calendar period holding `day`: the day itself, its week (first day) or its month."""
    d = date.fromisoformat(day)
    if per == "day":
        return (d.toordinal(),)
    if per == "week":
        back = (d.weekday() - WEEKDAYS.index(week_start)) % 7
        return ((d - timedelta(back)).toordinal(),)
    return (d.year, d.month)


def _reference(
    auths: list[dict], visits: list[dict], week_start: str = "sunday"
) -> dict[str, tuple[int, int, int]]:
    """data contract §4, §10 and §11 read literally: completed visits in time order take units
    from the authorizations holding their date, ends-first, each giving at most its units
    left in total and in every limited period holding the date; then scheduled visits do
    the same, starting from what completed visits left.

    Returns visit_id -> (authorized, over, unauthorized) for completed visits and
    (fit, over, 1 if unauthorized else 0) for scheduled ones.
    """
    remaining = {a["authorization_id"]: int(a["units_approved"]) for a in auths}
    used: dict[tuple[str, str, tuple[int, ...]], int] = {}
    out = {}
    ordered = sorted(visits, key=lambda v: (v["service_date"], v["visit_id"]))
    for status in ("completed", "scheduled"):
        for v in (v for v in ordered if v.get("status", "completed") == status):
            day = v["service_date"]
            holders = sorted(
                (
                    a
                    for a in auths
                    if a["client_id"] == v["client_id"]
                    and a["procedure_code"] == v["procedure_code"]
                    and a["start_date"] <= day <= a["end_date"]
                    and (
                        a.get("payer_id") is None
                        or v.get("payer_id") is None
                        or a["payer_id"] == v["payer_id"]
                    )
                ),
                key=lambda a: (a["end_date"], a["authorization_id"]),
            )
            need = v["units"]
            if not holders:
                out[v["visit_id"]] = (0, 0, need) if status == "completed" else (0, 0, 1)
                continue
            for a in holders:
                room = remaining[a["authorization_id"]]
                for per, column in PERS.items():
                    if a.get(column) is not None:
                        key = (a["authorization_id"], per, _period(day, per, week_start))
                        room = min(room, a[column] - used.get(key, 0))
                take = max(0, min(need, room))
                remaining[a["authorization_id"]] -= take
                for per in PERS:
                    key = (a["authorization_id"], per, _period(day, per, week_start))
                    used[key] = used.get(key, 0) + take
                need -= take
            out[v["visit_id"]] = (v["units"] - need, need, 0)
    return out


@st.composite
def agencies(draw: st.DrawFn) -> tuple[list[dict], list[dict]]:
    """Small random agencies: 1–2 clients, 1–2 codes, overlapping authorizations, payers."""
    n_auth = draw(st.integers(0, 5))
    auths = []
    for i in range(n_auth):
        start = draw(st.integers(0, 60))
        length = draw(st.integers(0, 60))
        auths.append(
            {
                "authorization_id": f"A{draw(st.integers(0, 9))}{i}",
                "client_id": draw(st.sampled_from(["C1", "C2"])),
                "procedure_code": draw(st.sampled_from(["T1005", "H2015"])),
                "start_date": str(BASE + timedelta(start)),
                "end_date": str(BASE + timedelta(start + length)),
                "units_approved": draw(st.integers(0, 30)),
                "payer_id": draw(st.sampled_from([None, "P1", "P2"])),
                "units_per_day": draw(st.sampled_from([None, None, 0, 3, 8])),
                "units_per_week": draw(st.sampled_from([None, None, 5, 12])),
                "units_per_month": draw(st.sampled_from([None, None, 10, 25])),
            }
        )
    n_visits = draw(st.integers(1, 25))
    visits = [
        {
            "visit_id": f"V{i:02d}",
            "client_id": draw(st.sampled_from(["C1", "C2"])),
            "procedure_code": draw(st.sampled_from(["T1005", "H2015"])),
            "service_date": str(BASE + timedelta(draw(st.integers(0, 130)))),
            "units": draw(st.integers(0, 12)),
            "payer_id": draw(st.sampled_from([None, "P1", "P2"])),
            "status": draw(st.sampled_from(["completed", "completed", "scheduled"])),
        }
        for i in range(n_visits)
    ]
    return auths, visits


PROCEDURES = [{"procedure_code": "T1005", "rate": 10.0}, {"procedure_code": "H2015", "rate": 7.5}]


@settings(max_examples=400, deadline=None)
@given(agencies(), st.sampled_from(["sunday", "monday", "wednesday"]), st.booleans())
def test_matching_agrees_with_the_reference(
    agency: tuple[list[dict], list[dict]], week_start: str, kept: bool
) -> None:
    """Vectorized and overlap paths, with limits per day, week and month, and the projection
    of scheduled visits give the same units as the rules read literally; no authorization
    gives more than its total or any period limit; units are conserved. The same whether
    the candidate matrix of the visits is kept between passes or computed again (`kept`).
    """
    auths, visits = agency
    ids = [a["authorization_id"] for a in auths]
    if len(set(ids)) != len(ids):
        return
    with mock.patch.object(matching, "KEPT_MASK_BYTES", matching.KEPT_MASK_BYTES if kept else 0):
        ds = dataset(auths, visits, procedures=PROCEDURES, settings=Settings(week_start=week_start))
    expected = _reference(auths, visits, week_start)
    got = {}
    for r in ds.visits.itertuples():
        if r.status == "completed":
            got[r.visit_id] = (r.units_authorized, r.units_over_authorization, r.units_unauthorized)
        else:
            unauthorized = int(
                r.schedule_authorization_id is None or pd.isna(r.schedule_authorization_id)
            )
            got[r.visit_id] = (r.units_fit, r.units_over, unauthorized)
            assert r.units_fit + r.units_over + (r.units if unauthorized else 0) == r.units
    assert got == expected
    assert ds.allocations is not None
    by_visit = ds.allocations.groupby("visit_id")["units"].sum()
    for visit_id, (authorized, _, _) in expected.items():
        if visit_id in set(ds.visits.loc[ds.visits["status"] == "completed", "visit_id"]):
            assert int(by_visit.get(visit_id, 0)) == authorized
    used = ds.allocations.groupby("authorization_id")["units"].sum()
    for a in auths:
        assert int(used.get(a["authorization_id"], 0)) <= a["units_approved"]
        for per, column in PERS.items():
            if a[column] is None:
                continue
            mine = ds.allocations[ds.allocations["authorization_id"] == a["authorization_id"]]
            periods = [str(_period(str(d.date()), per, week_start)) for d in mine["service_date"]]
            assert (mine.groupby(periods)["units"].sum() <= a[column]).all()


def test_a_visit_splits_across_the_authorization_ending_first_and_the_next() -> None:
    """It uses the 2 units left on A1 (ends first) and 4 from A2; the rate is A1's."""
    ds = dataset(
        [
            {
                "authorization_id": "A1",
                "client_id": "C1",
                "procedure_code": "T1005",
                "start_date": "2025-01-01",
                "end_date": "2025-01-31",
                "units_approved": 10,
            },
            {
                "authorization_id": "A2",
                "client_id": "C1",
                "procedure_code": "T1005",
                "start_date": "2025-01-15",
                "end_date": "2025-03-31",
                "units_approved": 20,
                "rate": 12.0,
            },
        ],
        [
            {
                "visit_id": "V1",
                "client_id": "C1",
                "procedure_code": "T1005",
                "service_date": "2025-01-10",
                "units": 8,
            },
            {
                "visit_id": "V2",
                "client_id": "C1",
                "procedure_code": "T1005",
                "service_date": "2025-01-20",
                "units": 6,
            },
            {
                "visit_id": "V3",
                "client_id": "C1",
                "procedure_code": "T1005",
                "service_date": "2025-02-20",
                "units": 18,
            },
        ],
    )
    v = ds.visits.set_index("visit_id")
    assert ds.allocations is not None
    rows = ds.allocations.sort_values(["visit_id", "authorization_id"])
    assert rows[["visit_id", "authorization_id", "units"]].values.tolist() == [
        ["V1", "A1", 8],
        ["V2", "A1", 2],
        ["V2", "A2", 4],
        ["V3", "A2", 16],
    ]
    assert v.loc["V2", "amount"] == 60.0  # 6 units × A1's $10
    assert v.loc["V3", "units_over_authorization"] == 2  # 18 - 16 left on A2
    assert v.loc["V3", "amount"] == 216.0  # 18 × A2's $12


def test_scheduled_visits_count_against_the_authorization_ending_first() -> None:
    """A scheduled visit uses no units but is counted as scheduled on the first holder."""
    ds = dataset(
        [
            {
                "authorization_id": "A1",
                "client_id": "C1",
                "procedure_code": "T1005",
                "start_date": "2025-01-01",
                "end_date": "2025-06-30",
                "units_approved": 40,
            }
        ],
        [
            {
                "visit_id": "S1",
                "client_id": "C1",
                "procedure_code": "T1005",
                "service_date": "2025-05-02",
                "units": 4,
                "status": "scheduled",
            }
        ],
    )
    v = ds.visits.set_index("visit_id")
    assert v.loc["S1", "units_authorized"] == 0
    assert v.loc["S1", "authorization_id"] == "A1"
    assert ds.allocations is not None and ds.allocations.empty
    assert isinstance(ds.visits, pd.DataFrame)
