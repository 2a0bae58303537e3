"""Contract tests for authorization limits per period (data contract §10) and scheduled visits
checked against authorizations (§11), worked out by hand.

Units: 15-minute midpoint; 60 min = 4 u, 120 min = 8 u, 30 min = 2 u. Every data set has
one client (C1) and one procedure code (T1019, $6.00 a unit) unless said otherwise.

The rules applied (quoted from the contract):
  §10 "a visit may take from an authorization at most the smaller of its units left in total
  and its units left in each limited period holding the visit's service date";
  "a limit holds in full in every period the authorization overlaps"; weeks start on the
  setting `week_start` (default sunday); flag `over_limit` when an authorization holding
  the date still has units left in total after the visit; status `limit reached` right
  after `exhausted`.
  §11 scheduled billable visits take units in time order by the same rules after every
  completed visit; `fits`, `over`, `unauthorized`.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

from contract_data import CLIENTS, auth, export, rows_by, run, timed, write_data


def visits_units(data: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """visit_id -> (over-authorization units, unauthorized units) from the flags."""
    out: dict[str, list[int]] = {}
    for row in data["flags"]:
        if row["kind"] in ("over_authorization", "unauthorized_service"):
            pair = out.setdefault(row["visit_id"], [0, 0])
            pair[0 if row["kind"] == "over_authorization" else 1] += row["units"]
    return {k: (v[0], v[1]) for k, v in out.items()}


def kinds(data: dict[str, Any], kind: str) -> dict[str, int]:
    """visit_id (or authorization_id) -> units of the flags of one kind."""
    return {
        (row["visit_id"] or row["authorization_id"]): row["units"]
        for row in data["flags"]
        if row["kind"] == kind
    }


def test_a_monthly_limit_starts_again_on_the_first_of_the_month(tmp_path: Path) -> None:
    """A1 (500 u, 10 a month): 30 Jan 8 u fits; 31 Jan 4 u: 10 - 8 = 2 fit, 2 over and
    flagged over_limit (498 units are left in total); 1 Feb 4 u: a new month, all 4 fit.
    Used by the end of January: 8 + 2 = 10 of the 10 -> as of 31 Jan the status is
    `limit reached` and its flag carries the 500 - 10 = 490 units left in total.
    """
    folder = write_data(
        tmp_path / "data",
        authorizations=[
            auth("A1", "C1", "T1019", "2025-01-01", "2025-06-30", 500, units_per_month=10)
        ],
        visits=[
            timed("V1", "C1", "T1019", "2025-01-30", 120),
            timed("V2", "C1", "T1019", "2025-01-31", 60),
            timed("V3", "C1", "T1019", "2025-02-01", 60),
        ],
    )
    data = export(folder, "agency")
    assert visits_units(data) == {"V2": (2, 0)}
    assert kinds(data, "over_limit") == {"V2": 2}
    assert data["kpis"]["units_used"] == 16  # delivered: over-authorization units included
    (limit,) = data["limits"]  # as of 31 Mar (the period's end): March, nothing used
    assert limit == {
        "authorization_id": "A1",
        "per": "month",
        "period_start": "2025-03-01",
        "period_end": "2025-03-31",
        "units_limit": 10,
        "units_used": 0,
        "units_scheduled": 0,
        "units_remaining": 10,
    }
    january = export(folder, "agency", "--as-of", "2025-01-31")
    (limit,) = january["limits"]
    assert (limit["period_start"], limit["units_used"], limit["units_remaining"]) == (
        "2025-01-01",
        10,
        0,
    )
    (balance,) = january["authorizations"]
    assert (balance["units_used"], balance["status"]) == (10, "limit reached")
    assert kinds(january, "authorization_limit_reached") == {"A1": 490}
    february = export(folder, "agency", "--as-of", "2025-02-01")
    assert rows_by(february["limits"], "per")["month"]["units_used"] == 4
    assert february["authorizations"][0]["status"] != "limit reached"


WEEK_VISITS = [
    # Saturday 4, Sunday 5 and Monday 6 January 2025, 4 u each, under 6 a week.
    timed("SAT", "C1", "T1019", "2025-01-04", 60),
    timed("SUN", "C1", "T1019", "2025-01-05", 60),
    timed("MON", "C1", "T1019", "2025-01-06", 60),
]


def test_weeks_start_on_sunday_by_default(tmp_path: Path) -> None:
    """Weeks Sun 29 Dec - Sat 4 Jan and Sun 5 - Sat 11 Jan: SAT 4 fits alone in its week;
    SUN 4 fits; MON asks 4 with 6 - 4 = 2 left: 2 over.
    """
    folder = write_data(
        tmp_path / "data",
        authorizations=[
            auth("W1", "C1", "T1019", "2025-01-01", "2025-03-31", 100, units_per_week=6)
        ],
        visits=WEEK_VISITS,
    )
    data = export(folder, "agency", "--as-of", "2025-01-06")
    assert visits_units(data) == {"MON": (2, 0)}
    (limit,) = data["limits"]
    assert (limit["period_start"], limit["period_end"], limit["units_used"]) == (
        "2025-01-05",
        "2025-01-11",
        6,
    )


def test_weeks_start_on_monday_when_the_setting_says_so(tmp_path: Path) -> None:
    """`week_start = "monday"`: weeks Mon 30 Dec - Sun 5 Jan and Mon 6 - Sun 12 Jan: SAT 4
    fits; SUN finds 6 - 4 = 2 left: 2 over; MON starts a new week: 4 fit.
    """
    folder = write_data(
        tmp_path / "data",
        authorizations=[
            auth("W1", "C1", "T1019", "2025-01-01", "2025-03-31", 100, units_per_week=6)
        ],
        visits=WEEK_VISITS,
        settings='week_start = "monday"\n',
    )
    data = export(folder, "agency", "--as-of", "2025-01-06")
    assert visits_units(data) == {"SUN": (2, 0)}
    (limit,) = data["limits"]
    assert (limit["period_start"], limit["period_end"], limit["units_used"]) == (
        "2025-01-06",
        "2025-01-12",
        4,
    )


def test_a_limit_of_zero_lets_nothing_through(tmp_path: Path) -> None:
    """Z has 40 u but 0 a day: the 4 u visit is all over-authorization, and over_limit too
    (40 units left in total after it), never unauthorized (Z holds the date).
    """
    folder = write_data(
        tmp_path / "data",
        authorizations=[auth("Z", "C1", "T1019", "2025-01-01", "2025-03-31", 40, units_per_day=0)],
        visits=[timed("V1", "C1", "T1019", "2025-02-03", 60)],
    )
    data = export(folder, "agency")
    assert visits_units(data) == {"V1": (4, 0)}
    assert kinds(data, "over_limit") == {"V1": 4}


def test_two_overlapping_authorizations_of_which_one_is_limited(tmp_path: Path) -> None:
    """L ends first (31 Jan, 100 u, 6 a month), U is unlimited (to 31 Mar, 100 u).
    10 Jan 4 u: L gives 4. 20 Jan 4 u: L has 6 - 4 = 2 left this month: L gives 2, U gives the
    other 2 (a visit split across a limited and an unlimited authorization), nothing over;
    its rate is L's (the first it took from): 4 x $5.00 = $20.00. 5 Feb 4 u: L no longer
    holds the date: U gives 4 at U's $7.00 = $28.00.
    """
    folder = write_data(
        tmp_path / "data",
        authorizations=[
            auth("L", "C1", "T1019", "2025-01-01", "2025-01-31", 100, units_per_month=6, rate=5),
            auth("U", "C1", "T1019", "2025-01-01", "2025-03-31", 100, rate=7),
        ],
        visits=[
            timed("V1", "C1", "T1019", "2025-01-10", 60),
            timed("V2", "C1", "T1019", "2025-01-20", 60),
            timed("V3", "C1", "T1019", "2025-02-05", 60),
        ],
    )
    data = export(folder, "agency", "--as-of", "2025-01-25")
    assert visits_units(data) == {}
    assert kinds(data, "over_limit") == {}
    balances = rows_by(data["authorizations"], "authorization_id")
    assert balances["L"]["units_used"] == 6 and balances["U"]["units_used"] == 2
    assert balances["L"]["status"] == "limit reached"  # 94 left in total, 0 this month
    assert data["kpis"]["amount_used"] == 20 + 20 + 28  # V1 4 x $5, V2 4 x $5, V3 4 x $7
    (limit,) = data["limits"]  # only L has a limit; U holds the date but has none
    assert (limit["authorization_id"], limit["units_used"], limit["units_remaining"]) == (
        "L",
        6,
        0,
    )


def test_a_daily_limit_with_two_visits_the_same_day(tmp_path: Path) -> None:
    """6 a day: the 09:00 visit takes 4; the 14:00 visit finds 2 left: 2 fit, 2 over."""
    folder = write_data(
        tmp_path / "data",
        authorizations=[auth("D", "C1", "T1019", "2025-01-01", "2025-03-31", 200, units_per_day=6)],
        visits=[
            timed("PM", "C1", "T1019", "2025-02-03", 60, start="14:00"),
            timed("AM", "C1", "T1019", "2025-02-03", 60, start="09:00"),
        ],
    )
    data = export(folder, "agency", "--as-of", "2025-02-03")
    assert visits_units(data) == {"PM": (2, 0)}
    assert kinds(data, "over_limit") == {"PM": 2}
    (limit,) = data["limits"]
    assert (limit["per"], limit["period_start"], limit["units_used"]) == ("day", "2025-02-03", 6)


def test_a_scheduled_visit_after_the_authorization_ends_is_unauthorized(tmp_path: Path) -> None:
    """S1 ends 31 Mar; the visit scheduled 2 Apr has no authorization holding its date:
    `unauthorized`, 0 fit and 0 over, flagged scheduled_unauthorized with its 4 units, which
    `check-schedule` says would not be paid (4 of 4).
    """
    folder = write_data(
        tmp_path / "data",
        authorizations=[auth("S1", "C1", "T1019", "2025-01-01", "2025-03-31", 100)],
        visits=[timed("S", "C1", "T1019", "2025-04-02", 60, status="scheduled")],
    )
    data = export(folder, "agency", frm="2025-04-01", to="2025-04-30")
    (row,) = data["schedule"]
    assert row == {
        "visit_id": "S",
        "client_id": "C1",
        "procedure_code": "T1019",
        "service_date": "2025-04-02",
        "units": 4,
        "units_fit": 0,
        "units_over": 0,
        "schedule_status": "unauthorized",
        "authorization_id": None,
        "reason": "no authorization holds 2025-04-02: S1 ended 2025-03-31",
    }
    assert kinds(data, "scheduled_unauthorized") == {"S": 4}
    rc, text, err = run(["check-schedule", "--data", str(folder), "--from", "2025-04-01"])
    assert rc == 3, err
    assert f"2025-04-02  Ana Alvarez (C1)  T1019  4 of 4 units: {row['reason']}" in text


def test_a_zero_unit_scheduled_visit_fits_even_without_an_authorization(tmp_path: Path) -> None:
    """§11 "A 0-unit scheduled visit `fits`": Z, 5 minutes scheduled 2 Apr ((5 + 7) // 15 =
    0 units) after S1 ended, has no authorization holding its date and still fits: 0 fit,
    0 over, no reason, no flag, and `check-schedule` finds nothing that would not be paid
    (exit 0). Its completed twin D is flagged as neither (§4). The 4-unit S beside them is
    unauthorized as before.
    """
    folder = write_data(
        tmp_path / "data",
        authorizations=[auth("S1", "C1", "T1019", "2025-01-01", "2025-03-31", 100)],
        visits=[
            timed("Z", "C1", "T1019", "2025-04-02", 5, status="scheduled"),
            timed("D", "C1", "T1019", "2025-04-03", 5),
            timed("S", "C1", "T1019", "2025-04-04", 60, status="scheduled"),
        ],
    )
    data = export(folder, "agency", frm="2025-04-01", to="2025-04-30")
    assert [
        (r["visit_id"], r["units"], r["units_fit"], r["units_over"], r["schedule_status"])
        for r in data["schedule"]
    ] == [("Z", 0, 0, 0, "fits"), ("S", 4, 0, 0, "unauthorized")]
    zero = data["schedule"][0]
    assert (zero["authorization_id"], zero["reason"]) == (None, "")
    assert [(f["kind"], f["visit_id"], f["units"]) for f in data["flags"]] == [
        ("scheduled_unauthorized", "S", 4)
    ]
    window = ["check-schedule", "--data", str(folder), "--from", "2025-04-01"]
    assert run([*window, "--to", "2025-04-03"])[0] == 0
    rc, text, _ = run([*window, "--to", "2025-04-30"])
    assert rc == 3
    assert text.splitlines()[0].startswith("1 scheduled visit(s) from 2025-04-01 to 2025-04-30")


SCHEDULED_MONTH = dict(
    authorizations=[auth("M", "C1", "T1019", "2025-01-01", "2025-06-30", 100, units_per_month=10)],
    visits=[
        timed("DONE", "C1", "T1019", "2025-03-03", 60),
        timed("S10", "C1", "T1019", "2025-03-10", 60, status="scheduled"),
        timed("S17", "C1", "T1019", "2025-03-17", 60, status="scheduled"),
        timed("S24", "C1", "T1019", "2025-03-24", 60, status="scheduled"),
    ],
)
REASON_M = "would exceed the monthly limit of 10 units for March 2025 (M)"


def test_scheduled_visits_that_together_cross_a_monthly_limit(tmp_path: Path) -> None:
    """After the completed 4 u of 3 Mar, March has 6 left: S10 (4) fits, S17 gets 2 (2 over),
    S24 gets none (4 over). As of 5 Mar the limit row counts 4 used and 12 scheduled.
    """
    folder = write_data(tmp_path / "data", **SCHEDULED_MONTH)  # type: ignore[arg-type]
    data = export(folder, "agency", "--as-of", "2025-03-05")
    schedule = rows_by(data["schedule"], "visit_id")
    assert {
        k: (r["units_fit"], r["units_over"], r["schedule_status"]) for k, r in schedule.items()
    } == {
        "S10": (4, 0, "fits"),
        "S17": (2, 2, "over"),
        "S24": (0, 4, "over"),
    }
    assert schedule["S10"]["reason"] == ""
    assert schedule["S17"]["reason"] == schedule["S24"]["reason"] == REASON_M
    assert schedule["S24"]["authorization_id"] == "M"  # it would take from none: ends first
    assert kinds(data, "scheduled_over_authorization") == {"S17": 2, "S24": 4}
    (limit,) = data["limits"]
    assert (limit["units_used"], limit["units_scheduled"], limit["units_remaining"]) == (4, 12, 6)
    assert data["authorizations"][0]["units_scheduled"] == 12


def test_check_schedule_lists_what_would_not_be_paid_and_exits_3(tmp_path: Path) -> None:
    """`check-schedule` from 5 Mar (90 days by default) lists S17 and S24 with their
    reasons and units not paid (the units over); JSON holds from, to and the visits; exit
    code 3. A window after them: exit 0.
    """
    folder = write_data(tmp_path / "data", **SCHEDULED_MONTH)  # type: ignore[arg-type]
    out = tmp_path / "check.json"
    args = ["check-schedule", "--data", str(folder), "--from", "2025-03-05"]
    rc, _, err = run([*args, "--format", "json", "--out", str(out)])
    assert rc == 3, err
    body = json.loads(out.read_text())
    assert (body["from"], body["to"]) == ("2025-03-05", "2025-06-03")
    assert [
        (v["visit_id"], v["units"], v["units_over"], v["units_not_paid"], v["reason"])
        for v in body["visits"]
    ] == [
        ("S17", 4, 2, 2, REASON_M),
        ("S24", 4, 4, 4, REASON_M),
    ]
    assert body["visits"][0]["client_name"] == "Ana Alvarez"
    rc, text, _ = run(args)
    assert rc == 3
    assert (
        text.splitlines()[0]
        == "2 scheduled visit(s) from 2025-03-05 to 2025-06-03 would not be paid in full:"
    )
    assert f"2025-03-17  Ana Alvarez (C1)  T1019  2 of 4 units: {REASON_M}" in text
    rc, text, _ = run(["check-schedule", "--data", str(folder), "--from", "2025-04-01"])
    assert (rc, text.strip()) == (
        0,
        "Every scheduled billable visit from 2025-04-01 to 2025-06-30 would be paid.",
    )


def test_check_schedule_csv_quotes_a_name_a_spreadsheet_would_run(tmp_path: Path) -> None:
    """`check-schedule --format csv` goes through the product's CSV writer: a client name
    that starts like a formula gets an apostrophe; the figures stay numbers.
    """
    clients = [dict(CLIENTS[0], client_name="=HYPERLINK(1)"), *CLIENTS[1:]]
    folder = write_data(tmp_path / "data", clients=clients, **SCHEDULED_MONTH)  # type: ignore[arg-type]
    out = tmp_path / "check.csv"
    args = ["check-schedule", "--data", str(folder), "--from", "2025-03-05"]
    rc, _, err = run([*args, "--format", "csv", "--out", str(out)])
    assert rc == 3, err
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["visit_id"], r["client_name"], r["units_over"]) for r in rows] == [
        ("S17", "'=HYPERLINK(1)", "2"),
        ("S24", "'=HYPERLINK(1)", "4"),
    ]


def test_a_bad_limit_rejects_its_authorization_with_the_reason(tmp_path: Path) -> None:
    """Limits are whole numbers of 0 or more; empty is no limit. -1, 2.5 and `ten` are
    rejects (row, column, value, reason, code) and their authorizations are not used.
    """
    folder = write_data(
        tmp_path / "data",
        authorizations=[
            auth("OK", "C1", "T1019", "2025-01-01", "2025-03-31", 10, units_per_week=""),
            auth("NEG", "C2", "T1019", "2025-01-01", "2025-03-31", 10, units_per_day=-1),
            auth("HALF", "C3", "T1019", "2025-01-01", "2025-03-31", 10, units_per_week=2.5),
            auth("TEXT", "C3", "S5125", "2025-01-01", "2025-03-31", 10, units_per_month="ten"),
        ],
        visits=[],
    )
    data = export(folder, "authorizations")
    assert [r["authorization_id"] for r in data["authorizations"]] == ["OK"]
    assert [
        (r["row"], r["column"], r["value"], r["reason"], r["code"])
        for r in data["rejects"]
        if r["table"] == "authorizations"
    ] == [
        (3, "units_per_day", "-1", "negative; must be 0 or more", "negative"),
        (4, "units_per_week", "2.5", "not a whole number of units", "not_whole"),
        (5, "units_per_month", "ten", "not a number", "not_a_number"),
    ]
    assert data["limits"] == []


def test_reports_say_each_limits_period_and_the_scheduled_visits_in_words(
    tmp_path: Path,
) -> None:
    """The client report's sections, as of 5 Mar: the limit's month in words ("March: 4 of 10
    units used, 6 left until 31 Mar, 12 more scheduled"), the scheduled visits that would not
    be paid with their reasons, the family's sentences, and the limit written after the
    authorization in the balances chart.
    """
    from utilization import load
    from utilization.parameters import Request
    from utilization.period import Filters, Period
    from utilization.report import charts
    from utilization.report.sections import Report
    from utilization.views import build_view

    folder = write_data(tmp_path / "data", **SCHEDULED_MONTH)  # type: ignore[arg-type]
    dataset = load(folder)
    request = Request(
        "client",
        Period.parse("2025-Q1"),
        Filters(clients=("C1",)),
        as_of=Period.parse("2025-03").start.replace(day=5),
    )
    report = Report(dataset, request, build_view(dataset, request))
    limits = report.limits_html()
    assert "March: 4 of 10 units used, 6 left until 31 Mar, 12 more scheduled" in limits
    assert "10 a month" in limits
    schedule = report.schedule_html()
    assert schedule.count(REASON_M) == 2 and "Ana Alvarez" not in schedule  # client view
    family = report.family_summary_html()
    assert (
        "Personal care, limited to 10 units a month: March: 4 of 10 units used, 6 left until "
        "31 Mar, 12 more scheduled." in family
    )
    assert (
        "2 scheduled Personal care visits (17 Mar 2025 – 24 Mar 2025) would not be paid for 6 "
        f"units: {REASON_M}." in family
    )
    assert "M · T1019 (10 a month)" in charts.to_svg(report.chart_balances())


def test_every_kind_of_reason_in_words(tmp_path: Path) -> None:
    """Each reason a scheduled visit would not be paid, on one data set (period Apr 2025):

    C1 T1019: G1 ended 4 Apr, G2 starts 20 Apr: 10 Apr is in the gap. C1 S5125: P1 holds
    10 Apr but for payer MCD, the visit is for PVT. C2 T1019: no authorization at all. C2
    S5125: T1 has 6 units left in total, the 8 u visit gets 6: 2 over. C3 T1019: W1 allows 6
    a week (weeks from Sunday 6 Apr): 4 u on Monday 7 Apr fits, 4 u on Tuesday 8 Apr gets 2.
    """
    folder = write_data(
        tmp_path / "data",
        authorizations=[
            auth("G1", "C1", "T1019", "2025-03-01", "2025-04-04", 100),
            auth("G2", "C1", "T1019", "2025-04-20", "2025-06-30", 100),
            auth("P1", "C1", "S5125", "2025-04-01", "2025-04-30", 100, payer_id="MCD"),
            auth("T1", "C2", "S5125", "2025-04-01", "2025-04-30", 6),
            auth("W1", "C3", "T1019", "2025-04-01", "2025-04-30", 100, units_per_week=6),
        ],
        visits=[
            timed("GAP", "C1", "T1019", "2025-04-10", 60, status="scheduled"),
            timed("PAY", "C1", "S5125", "2025-04-10", 60, status="scheduled", payer_id="PVT"),
            timed("NONE", "C2", "T1019", "2025-04-10", 60, status="scheduled"),
            timed("TOTAL", "C2", "S5125", "2025-04-10", 120, status="scheduled"),
            timed("MON", "C3", "T1019", "2025-04-07", 60, status="scheduled"),
            timed("TUE", "C3", "T1019", "2025-04-08", 60, status="scheduled"),
        ],
    )
    data = export(folder, "agency", frm="2025-04-01", to="2025-04-30")
    got = {
        r["visit_id"]: (r["schedule_status"], r["units_over"], r["reason"])
        for r in data["schedule"]
    }
    assert got == {
        "GAP": (
            "unauthorized",
            0,
            "no authorization holds 2025-04-10: G1 ended 2025-04-04, G2 starts 2025-04-20",
        ),
        "PAY": (
            "unauthorized",
            0,
            "no authorization holds 2025-04-10 for payer PVT: P1 is for payer MCD",
        ),
        "NONE": (
            "unauthorized",
            0,
            "no authorization holds 2025-04-10: C2 has no authorization for T1019",
        ),
        "TOTAL": (
            "over",
            2,
            "would exceed the 6 units approved of T1 (1 Apr 2025 – 30 Apr 2025)",
        ),
        "MON": ("fits", 0, ""),
        "TUE": (
            "over",
            2,
            "would exceed the weekly limit of 6 units for the week of 6 Apr 2025 (W1)",
        ),
    }


def test_a_visit_stopped_at_two_authorizations_names_both(tmp_path: Path) -> None:
    """C1 T1019 on Thursday 10 Apr 2025 is held by D1 (2 units a day, ends first) and D2
    (1,234 units in all). The completed visit of 2 Apr (18,525 minutes: 1,235 units) took
    D1's 2 units of that day and 1,233 of D2. The scheduled 4-unit visit gets D1's 2 units
    of 10 Apr and D2's last 1: 1 over, stopped at D1 by its daily limit and at D2 by its
    total, in that order (ends first), joined in one reason; the total written with its
    thousands separator.
    """
    folder = write_data(
        tmp_path / "data",
        authorizations=[
            auth("D1", "C1", "T1019", "2025-04-01", "2025-04-20", 100, units_per_day=2),
            auth("D2", "C1", "T1019", "2025-04-01", "2025-04-30", 1234),
        ],
        visits=[
            {
                "visit_id": "LONG",
                "client_id": "C1",
                "procedure_code": "T1019",
                "service_date": "2025-04-02",
                "minutes": 18525,
            },
            timed("SCH", "C1", "T1019", "2025-04-10", 60, status="scheduled"),
        ],
    )
    data = export(folder, "agency", frm="2025-04-01", to="2025-04-30")
    (row,) = data["schedule"]
    assert (row["visit_id"], row["units_fit"], row["units_over"]) == ("SCH", 3, 1)
    assert row["reason"] == (
        "would exceed the daily limit of 2 units on 10 Apr 2025 (D1); "
        "would exceed the 1,234 units approved of D2 (1 Apr 2025 – 30 Apr 2025)"
    )


def test_the_nearest_authorization_named_is_chosen_by_date_then_id(tmp_path: Path) -> None:
    """Ties between authorizations of the same date go by id in text order. C1 T1019: P1 and
    P0 both hold 10 Apr for payer MCD and both end 30 Apr: the first to end, P0, is named.
    C2 T1019: E0 ended 1 Apr, E1 and E2 on 5 Apr: the last to end, E2; S1 and S0 both start
    20 Apr: the first, S0.
    """
    folder = write_data(
        tmp_path / "data",
        authorizations=[
            auth("P1", "C1", "T1019", "2025-04-01", "2025-04-30", 100, payer_id="MCD"),
            auth("P0", "C1", "T1019", "2025-04-01", "2025-04-30", 100, payer_id="MCD"),
            auth("E1", "C2", "T1019", "2025-03-01", "2025-04-05", 100),
            auth("E0", "C2", "T1019", "2025-03-01", "2025-04-01", 100),
            auth("E2", "C2", "T1019", "2025-03-01", "2025-04-05", 100),
            auth("S1", "C2", "T1019", "2025-04-20", "2025-05-31", 100),
            auth("S0", "C2", "T1019", "2025-04-20", "2025-05-31", 100),
        ],
        visits=[
            timed("PAY", "C1", "T1019", "2025-04-10", 60, status="scheduled", payer_id="PVT"),
            timed("GAP", "C2", "T1019", "2025-04-10", 60, status="scheduled"),
        ],
    )
    data = export(folder, "agency", frm="2025-04-01", to="2025-04-30")
    assert {r["visit_id"]: r["reason"] for r in data["schedule"]} == {
        "PAY": "no authorization holds 2025-04-10 for payer PVT: P0 is for payer MCD",
        "GAP": "no authorization holds 2025-04-10: E2 ended 2025-04-05, S0 starts 2025-04-20",
    }


def test_the_family_pace_says_when_a_limit_allows_less(tmp_path: Path) -> None:
    """As of 5 Mar 2025, 26 days (6 to 31 Mar) are left. W has 300 units and 6 a week: the
    pace to use them is 300 ÷ (26 ÷ 7) = 80.8, about 81 units (20 h 15 min) a week, which
    its limit of 6 a week does not allow: the sentence says so. F has 20 units and 6 a week:
    20 ÷ (26 ÷ 7) = 5.4, about 5 units a week, within its limit: nothing added. W2, a second
    limited authorization of W's service: the limits' sentences say which is which.
    """
    from utilization import load
    from utilization.parameters import Request
    from utilization.period import Filters, Period
    from utilization.report.sections import Report
    from utilization.views import build_view

    folder = write_data(
        tmp_path / "data",
        authorizations=[
            auth("W", "C1", "T1019", "2025-01-01", "2025-03-31", 300, units_per_week=6),
            auth("F", "C1", "S5125", "2025-01-01", "2025-03-31", 20, units_per_week=6),
            auth("W2", "C1", "T1019", "2025-03-01", "2025-03-31", 10, units_per_week=4),
        ],
        visits=[],
    )
    dataset = load(folder)
    request = Request(
        "client", Period.parse("2025-Q1"), Filters(clients=("C1",)), as_of=date(2025, 3, 5)
    )
    family = Report(dataset, request, build_view(dataset, request)).family_summary_html()
    assert (
        "To use them by 31 Mar 2025, about 81 units (20 h 15 min) a week. Its limit of 6 "
        "units a week allows less, so not all of them can be used.</li>" in family
    )
    assert "To use them by 31 Mar 2025, about 5 units (1 h 15 min) a week.</li>" in family
    assert family.count("allows less") == 1
    # Two limited authorizations of Personal care: each limit sentence says which it is.
    assert (
        "<li>Personal care (authorized 1 Jan 2025 – 31 Mar 2025), limited to 6 units a week:"
        in family
    )
    assert (
        "<li>Personal care (authorized 1 Mar 2025 – 31 Mar 2025), limited to 4 units a week:"
        in family
    )
    assert "<li>Attendant care, limited to 6 units a week:" in family
