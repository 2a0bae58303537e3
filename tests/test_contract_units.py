"""Contract tests for units (data contract §3) and for minutes measured from visit times (§1).

Every expected number is worked out by hand from the contract; the arithmetic is in the comments.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract_data import export, flagged, timed, units, write_data
from utilization.units import units_array, units_for

RULE_NAMES = ("midpoint", "complete", "never_zero", "per_visit")

# --- §3 table, 15-minute examples, row by row -------------------------------------------

# "`midpoint` ... a unit counts once more than half of it is reached:
#  units = (minutes + ceil(U/2) - 1) // U … i.e. for U = 15, `(minutes + 7) // 15`"
MIDPOINT_15 = [
    (7, 0),  # (7 + 7) // 15 = 14 // 15 = 0
    (8, 1),  # 15 // 15 = 1
    (22, 1),  # 29 // 15 = 1
    (23, 2),  # 30 // 15 = 2
    (37, 2),  # 44 // 15 = 2
    (38, 3),  # 45 // 15 = 3
    (51, 3),  # 58 // 15 = 3
    (52, 3),  # 59 // 15 = 3
    (53, 4),  # 60 // 15 = 4
    (67, 4),  # 74 // 15 = 4
    (68, 5),  # 75 // 15 = 5
    (73, 5),  # 80 // 15 = 5
]
# "`complete` (only whole units) | `minutes // U`"
COMPLETE_15 = [(14, 0), (15, 1), (29, 1), (59, 3)]
# "`never_zero` | `midpoint`, but any visit of 1 minute or more is at least 1 unit"
NEVER_ZERO_15 = [
    (1, 1),  # midpoint (1 + 7) // 15 = 0, raised to 1
    (7, 1),  # midpoint 0, raised to 1
    (8, 1),  # midpoint 1
    (37, 2),  # midpoint 2
    (38, 3),  # midpoint 3
]


@pytest.mark.parametrize(("minutes", "expected"), MIDPOINT_15)
def test_midpoint_rounds_each_example_of_the_table(minutes: int, expected: int) -> None:
    """It counts a 15-minute unit once more than half of it (8 minutes) is reached."""
    assert units_for(minutes, 15, "midpoint") == expected


@pytest.mark.parametrize(("minutes", "expected"), MIDPOINT_15)
def test_midpoint_is_the_default_rule_and_fifteen_minutes_the_default_unit(
    minutes: int, expected: int
) -> None:
    """It applies `midpoint` with 15-minute units when no rule or unit length is given."""
    assert units_for(minutes) == expected


@pytest.mark.parametrize(("minutes", "expected"), COMPLETE_15)
def test_complete_counts_only_whole_units(minutes: int, expected: int) -> None:
    """It counts only whole 15-minute units under `complete`."""
    assert units_for(minutes, 15, "complete") == expected


@pytest.mark.parametrize(("minutes", "expected"), NEVER_ZERO_15)
def test_never_zero_gives_at_least_one_unit_from_one_minute(minutes: int, expected: int) -> None:
    """It rounds like `midpoint` but never gives 0 units to a visit of 1 minute or more."""
    assert units_for(minutes, 15, "never_zero") == expected


@pytest.mark.parametrize("minutes", [1, 7, 8, 15, 59, 600, 1440])
def test_per_visit_is_one_unit_whatever_the_minutes(minutes: int) -> None:
    """It gives one unit per visit under `per_visit` ("any → 1")."""
    assert units_for(minutes, 15, "per_visit") == 1


# "A visit of 0 minutes is 0 units under every rule except `per_visit`."
@pytest.mark.parametrize(
    ("rule", "expected"),
    [("midpoint", 0), ("complete", 0), ("never_zero", 0), ("per_visit", 1)],
)
def test_zero_minutes_is_zero_units_except_per_visit(rule: str, expected: int) -> None:
    """It gives 0 units to a 0-minute visit under every rule except `per_visit` (1 unit)."""
    assert units_for(0, 15, rule) == expected


# "`unit_minutes` (default 15; `0` = one unit per visit)"; "per_visit ... (`unit_minutes` = 0
# implies it)": whatever rule is named, a unit length of 0 means one unit per visit.
@pytest.mark.parametrize("rule", RULE_NAMES)
@pytest.mark.parametrize("minutes", [0, 1, 7, 8, 45, 600])
def test_zero_unit_minutes_means_one_unit_per_visit(rule: str, minutes: int) -> None:
    """It gives one unit per visit when the unit length is 0 minutes, under any rule."""
    assert units_for(minutes, 0, rule) == 1


# U = 30: ceil(30 / 2) = 15, so midpoint = (minutes + 14) // 30; complete = minutes // 30.
# U = 60: ceil(60 / 2) = 30, so midpoint = (minutes + 29) // 60; complete = minutes // 60.
# U = 7 (odd): ceil(7 / 2) = 4, so midpoint = (minutes + 3) // 7.
LONGER_UNITS = [
    # (minutes, U, rule, expected)
    (15, 30, "midpoint", 0),  # (15 + 14) // 30 = 29 // 30 = 0: exactly half is not "more than"
    (16, 30, "midpoint", 1),  # 30 // 30 = 1
    (45, 30, "midpoint", 1),  # 59 // 30 = 1
    (46, 30, "midpoint", 2),  # 60 // 30 = 2
    (29, 30, "complete", 0),  # 29 // 30 = 0
    (30, 30, "complete", 1),
    (59, 30, "complete", 1),
    (60, 30, "complete", 2),
    (1, 30, "never_zero", 1),  # midpoint 0, raised to 1
    (15, 30, "never_zero", 1),  # midpoint 0, raised to 1
    (46, 30, "never_zero", 2),  # midpoint 2
    (30, 60, "midpoint", 0),  # (30 + 29) // 60 = 59 // 60 = 0
    (31, 60, "midpoint", 1),  # 60 // 60 = 1
    (90, 60, "midpoint", 1),  # 119 // 60 = 1
    (91, 60, "midpoint", 2),  # 120 // 60 = 2
    (59, 60, "complete", 0),
    (60, 60, "complete", 1),
    (119, 60, "complete", 1),
    (1, 60, "never_zero", 1),
    (31, 60, "never_zero", 1),
    (91, 60, "never_zero", 2),
    (45, 30, "per_visit", 1),
    (3, 7, "midpoint", 0),  # (3 + 3) // 7 = 0: 3 minutes is less than half of 7
    (4, 7, "midpoint", 1),  # (4 + 3) // 7 = 1: 4 minutes is more than half of 7
]


@pytest.mark.parametrize(("minutes", "unit_minutes", "rule", "expected"), LONGER_UNITS)
def test_rules_follow_the_formula_for_other_unit_lengths(
    minutes: int, unit_minutes: int, rule: str, expected: int
) -> None:
    """It applies each rule's formula to 30-, 60- and 7-minute units."""
    assert units_for(minutes, unit_minutes, rule) == expected


def test_units_array_gives_one_result_per_visit() -> None:
    """It computes units per visit with a rule and a unit length per visit."""
    result = units_array(
        np.array([0, 8, 29, 5, 53]),
        np.array([15, 15, 30, 0, 15]),
        np.array(["midpoint", "midpoint", "complete", "midpoint", "never_zero"]),
    )
    # 0 -> 0; (8+7)//15 = 1; 29//30 = 0; U = 0 -> 1 per visit; never_zero = midpoint 60//15 = 4
    assert [int(x) for x in result] == [0, 1, 0, 1, 4]


def test_units_array_broadcasts_one_rule_and_unit_length_to_all_visits() -> None:
    """It applies a single rule and unit length to every visit when given once."""
    result = units_array(np.array([7, 8, 73]), 15, "midpoint")
    assert [int(x) for x in result] == [0, 1, 5]  # table: 7→0, 8→1, 73→5


def test_unknown_rule_name_is_an_error() -> None:
    """It refuses a rounding rule name that is not one of the four."""
    with pytest.raises(ValueError, match="banker"):
        units_for(30, 15, "banker")


@settings(max_examples=200, deadline=None)
@given(
    rule=st.sampled_from(RULE_NAMES),
    unit_minutes=st.integers(min_value=1, max_value=120),
    minutes=st.integers(min_value=0, max_value=3000),
)
def test_units_never_decrease_as_minutes_grow(rule: str, unit_minutes: int, minutes: int) -> None:
    """It never gives fewer units to a longer visit, under any rule and unit length."""
    assert units_for(minutes + 1, unit_minutes, rule) >= units_for(minutes, unit_minutes, rule)


@settings(max_examples=200, deadline=None)
@given(
    unit_minutes=st.integers(min_value=1, max_value=120),
    minutes=st.integers(min_value=0, max_value=3000),
)
def test_rules_agree_with_their_definitions(unit_minutes: int, minutes: int) -> None:
    """It keeps midpoint within half a unit of the minutes, complete below, never_zero above."""
    mid = units_for(minutes, unit_minutes, "midpoint")
    whole = units_for(minutes, unit_minutes, "complete")
    never = units_for(minutes, unit_minutes, "never_zero")
    # midpoint counts a unit once MORE than half of it is reached:
    # mid * U - U/2 < minutes + ... i.e. |minutes - mid * U| <= U / 2 (ties go down).
    assert abs(minutes - mid * unit_minutes) <= unit_minutes / 2
    assert whole * unit_minutes <= minutes < (whole + 1) * unit_minutes
    assert whole <= mid <= whole + 1
    assert never == (max(mid, 1) if minutes >= 1 else 0)


# --- Minutes from visit times, through the whole pipeline (§1 and §3) ---------------------
#
# Default time zone America/Los_Angeles. Each folder has one visit for client C1 and procedure
# T1019 (midpoint, 15-minute units, rate 6.00) and an authorizations table of no rows (header
# only), so the visit is unauthorized; units_used still counts it (§5: unauthorized units are
# included) and no authorization figure or flag is involved.

NO_AUTHORIZATIONS: list[dict[str, object]] = []


def _one_visit(tmp_path: Path, visit: dict[str, object], toml: str | None = None) -> Path:
    return write_data(
        tmp_path / "data", authorizations=NO_AUTHORIZATIONS, visits=[visit], settings=toml
    )


def _used(folder: Path, frm: str, to: str, *options: str) -> float:
    kpis = export(folder, "agency", *options, frm=frm, to=to)["kpis"]
    return float(kpis["units_used"])


# "Minutes are `end - start` in real elapsed time, so a visit across a daylight-saving change
# is measured correctly." Each case: one visit (start, end), the month it is in, its units.
# (The hour skipped when clocks spring forward: test_time_in_the_skipped_hour_is_rejected.)
REAL_TIME = [
    # 00:30 PDT (UTC-7) = 07:30 UTC; 02:30 PST (UTC-8) = 10:30 UTC -> 180 minutes.
    # midpoint: (180 + 7) // 15 = 187 // 15 = 12 units (not 8 as the wall clock's 120 min).
    pytest.param(
        "D1", "2025-11-02 00:30:00", "2025-11-02 02:30:00", "2025-11-01", "2025-11-30", 12,
        id="across-fall-back-180-minutes",
    ),
    # 01:00 PST (UTC-8) = 09:00 UTC; 04:00 PDT (UTC-7) = 11:00 UTC -> 120 minutes.
    # midpoint: (120 + 7) // 15 = 8 units (the wall clock says 180 minutes, 12 units).
    pytest.param(
        "D2", "2025-03-09 01:00:00", "2025-03-09 04:00:00", "2025-03-01", "2025-03-31", 8,
        id="across-spring-forward-120-minutes",
    ),
    # "one in the hour repeated when they fall back is read as its first occurrence
    # (daylight time)": 01:30 PDT = 08:30 UTC; 03:00 PST = 11:00 UTC -> 150 minutes.
    # midpoint: (150 + 7) // 15 = 157 // 15 = 10 units (read as PST it would be 90 min, 6).
    pytest.param(
        "D3", "2025-11-02 01:30:00", "2025-11-02 03:00:00", "2025-11-01", "2025-11-30", 10,
        id="repeated-hour-read-as-first-occurrence",
    ),
    # An offset given in the repeated hour picks that occurrence: the contract's own example
    # "2025-11-02 01:30:00-08:00" is the second 01:30 (PST).
    # 09:30 UTC -> 10:30 UTC = 60 minutes; (60 + 7) // 15 = 4 units.
    pytest.param(
        "D7", "2025-11-02 01:30:00-08:00", "2025-11-02 02:30:00-08:00",
        "2025-11-01", "2025-11-30", 4,
        id="offset-in-repeated-hour-picks-that-occurrence",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("visit_id", "start", "end", "frm", "to", "expected"), REAL_TIME)
def test_visits_around_a_daylight_saving_change_are_measured_in_real_time(
    tmp_path: Path, visit_id: str, start: str, end: str, frm: str, to: str, expected: int
) -> None:
    """It measures a visit across a clock change, or in the repeated hour, in real minutes."""
    visit = {"visit_id": visit_id, "client_id": "C1", "procedure_code": "T1019",
             "start": start, "end": end}  # fmt: skip
    folder = _one_visit(tmp_path, visit)
    assert _used(folder, frm, to) == units(expected)


def test_time_in_the_skipped_hour_is_rejected(tmp_path: Path) -> None:
    """It rejects a visit starting at 02:30 on the spring-forward day, a time that never was."""
    # "A local time in the hour skipped when clocks spring forward is rejected."
    visit = {
        "visit_id": "D4",
        "client_id": "C1",
        "procedure_code": "T1019",
        "start": "2025-03-09 02:30:00",
        "end": "2025-03-09 04:00:00",
    }
    folder = _one_visit(tmp_path, visit)
    data = export(folder, "agency", frm="2025-03-01", to="2025-03-31")
    assert data["kpis"]["units_used"] == units(0)
    rejected = [(r["table"], r["row"], r["column"]) for r in data["rejects"]]
    assert rejected == [("visits", 2, "start")]  # header is row 1, the visit is row 2


def test_visit_past_midnight_belongs_to_the_date_it_started(tmp_path: Path) -> None:
    """It puts a visit from 22:00 on 31 January to 02:00 on 1 February on 31 January."""
    # "a visit that passes midnight belongs to the service date on which it started"
    # 22:00 -> 02:00 = 240 minutes; midpoint (240 + 7) // 15 = 16 units, all in January.
    visit = timed("D5", "C1", "T1019", "2025-01-31", 240, start="22:00")
    assert visit["end"] == "2025-02-01 02:00:00"
    folder = _one_visit(tmp_path, visit)
    assert _used(folder, "2025-01-01", "2025-01-31") == units(16)
    assert _used(folder, "2025-02-01", "2025-02-28") == units(0)
    monthly = {r["month"]: r["units_used"] for r in export(folder, "agency")["monthly"]}
    assert monthly["2025-01"] == units(16)
    assert monthly["2025-02"] == units(0)


def test_date_time_with_an_offset_is_taken_as_given(tmp_path: Path) -> None:
    """It reads 06:00 UTC on 1 February as 22:00 on 31 January in Los Angeles."""
    # "A date-time may carry its UTC offset ... then it is taken as given."
    # 2025-02-01 06:00+00:00 = 2025-01-31 22:00 PST -> service date 31 January.
    # 06:00 -> 07:00 UTC = 60 minutes; midpoint (60 + 7) // 15 = 4 units.
    visit = {
        "visit_id": "D6",
        "client_id": "C1",
        "procedure_code": "T1019",
        "start": "2025-02-01 06:00:00+00:00",
        "end": "2025-02-01 07:00:00+00:00",
    }
    folder = _one_visit(tmp_path, visit)
    assert _used(folder, "2025-01-01", "2025-01-31") == units(4)
    assert _used(folder, "2025-02-01", "2025-02-28") == units(0)


def test_time_zone_setting_in_the_data_folder_decides_the_service_date(tmp_path: Path) -> None:
    """It puts 06:00 UTC on 1 February on 1 February when the agency is in New York."""
    # "Date-times without an offset are local time in that zone (a setting ...)"; the service
    # date is the local date in the agency's zone: 06:00 UTC = 01:00 EST on 1 February.
    visit = {
        "visit_id": "D8",
        "client_id": "C1",
        "procedure_code": "T1019",
        "start": "2025-02-01 06:00:00+00:00",
        "end": "2025-02-01 07:00:00+00:00",
    }
    folder = _one_visit(tmp_path, visit, toml='timezone = "America/New_York"\n')
    assert _used(folder, "2025-01-01", "2025-01-31") == units(0)
    assert _used(folder, "2025-02-01", "2025-02-28") == units(4)


def test_time_zone_setting_file_given_on_the_command_line(tmp_path: Path) -> None:
    """It takes the time zone from the `--settings` file."""
    visit = {
        "visit_id": "D9",
        "client_id": "C1",
        "procedure_code": "T1019",
        "start": "2025-02-01 06:00:00+00:00",
        "end": "2025-02-01 07:00:00+00:00",
    }
    folder = _one_visit(tmp_path, visit)
    toml = tmp_path / "ny.toml"
    toml.write_text('timezone = "America/New_York"\n', encoding="utf-8")
    # 06:00 UTC = 01:00 EST on 1 February -> 4 units in February, none in January.
    assert _used(folder, "2025-02-01", "2025-02-28", "--settings", str(toml)) == units(4)
    assert _used(folder, "2025-01-01", "2025-01-31", "--settings", str(toml)) == units(0)


def test_service_date_and_minutes_rows_are_rounded_by_the_rule(tmp_path: Path) -> None:
    """It takes a visit's minutes as given when the visits table has service_date and minutes."""
    # midpoint: 52 -> (52 + 7) // 15 = 3; 53 -> 60 // 15 = 4; total 7.
    visits = [
        {"visit_id": "M1", "client_id": "C1", "procedure_code": "T1019",
         "service_date": "2025-01-10", "minutes": 52},
        {"visit_id": "M2", "client_id": "C1", "procedure_code": "T1019",
         "service_date": "2025-02-10", "minutes": 53},
    ]  # fmt: skip
    folder = write_data(tmp_path / "data", authorizations=NO_AUTHORIZATIONS, visits=visits)
    assert _used(folder, "2025-01-01", "2025-01-31") == units(3)
    assert _used(folder, "2025-02-01", "2025-02-28") == units(4)


def test_visit_longer_than_a_day_is_flagged_not_rejected(tmp_path: Path) -> None:
    """It keeps a 25-hour visit with all its units and flags it as a long visit."""
    # "a visit longer than 24 hours (flag, do not reject)"
    # 2025-01-10 08:00 -> 2025-01-11 09:00 = 25 h = 1500 minutes; (1500 + 7) // 15 = 100 units.
    # 2025-01-12 08:00 -> 2025-01-13 08:00 = exactly 24 h = 1440 min: not longer, not flagged;
    # (1440 + 7) // 15 = 96 units. Total 196.
    visits = [
        timed("L1", "C1", "T1019", "2025-01-10", 1500, start="08:00"),
        timed("L2", "C1", "T1019", "2025-01-12", 1440, start="08:00"),
    ]
    folder = write_data(tmp_path / "data", authorizations=NO_AUTHORIZATIONS, visits=visits)
    data = export(folder, "agency", frm="2025-01-01", to="2025-01-31")
    assert data["kpis"]["units_used"] == units(196)
    assert flagged(data, "long_visit") == {"L1"}
    assert data["rejects"] == []


def test_agency_rounding_setting_applies_to_procedures_without_a_rule(tmp_path: Path) -> None:
    """It rounds by the agency's `rounding` setting where the procedure names no rule."""
    # rounding = "complete": 29 minutes -> 29 // 15 = 1 unit (midpoint would give 2).
    visit = timed("R1", "C1", "T1019", "2025-01-10", 29)
    folder = _one_visit(tmp_path, visit, toml='rounding = "complete"\n')
    assert _used(folder, "2025-01-01", "2025-01-31") == units(1)


def test_procedure_rounding_rule_overrides_the_agency_default(tmp_path: Path) -> None:
    """It rounds a procedure's visits by the rule named in the procedure catalog."""
    # T1019 with rounding complete: 29 // 15 = 1; S5125 without a rule: midpoint
    # (29 + 7) // 15 = 2. Total 3.
    procedures = [
        {"procedure_code": "T1019", "description": "Personal care", "unit_minutes": 15,
         "rate": "6.00", "rounding": "complete"},
        {"procedure_code": "S5125", "description": "Attendant care", "unit_minutes": 15,
         "rate": "5.00", "rounding": None},
    ]  # fmt: skip
    visits = [
        timed("R2", "C1", "T1019", "2025-01-10", 29),
        timed("R3", "C1", "S5125", "2025-01-11", 29),
    ]
    folder = write_data(
        tmp_path / "data", authorizations=NO_AUTHORIZATIONS, visits=visits, procedures=procedures
    )
    data = export(folder, "agency", frm="2025-01-01", to="2025-01-31")
    by_procedure = {r["procedure_code"]: r["units_used"] for r in data["by_procedure"]}
    assert by_procedure["T1019"] == units(1)
    assert by_procedure["S5125"] == units(2)


def test_settings_file_rounding_never_zero(tmp_path: Path) -> None:
    """It gives a 5-minute visit one unit when the `--settings` file says never_zero."""
    # never_zero: midpoint (5 + 7) // 15 = 0, raised to 1 because the visit lasted >= 1 minute.
    visit = timed("R4", "C1", "T1019", "2025-01-10", 5)
    folder = _one_visit(tmp_path, visit)
    toml = tmp_path / "nz.toml"
    toml.write_text('rounding = "never_zero"\n', encoding="utf-8")
    assert _used(folder, "2025-01-01", "2025-01-31", "--settings", str(toml)) == units(1)


def test_unit_length_of_the_procedure_is_used(tmp_path: Path) -> None:
    """It rounds by each procedure's own unit length, one unit per visit when it is 0."""
    # S9123 unit_minutes 0 -> 1 unit for a 600-minute visit.
    # X30 unit_minutes 30, midpoint: 45 -> (45 + 14) // 30 = 1; 46 -> 60 // 30 = 2.
    procedures = [
        {"procedure_code": "T1019", "description": "Personal care", "unit_minutes": 15,
         "rate": "6.00"},
        {"procedure_code": "S9123", "description": "Nursing visit", "unit_minutes": 0,
         "rate": "80.00"},
        {"procedure_code": "X30", "description": "Half-hour service", "unit_minutes": 30,
         "rate": "12.00"},
    ]  # fmt: skip
    visits = [
        timed("U1", "C1", "S9123", "2025-01-10", 600, start="08:00"),
        timed("U2", "C1", "X30", "2025-01-11", 45),
        timed("U3", "C1", "X30", "2025-01-12", 46),
    ]
    folder = write_data(
        tmp_path / "data", authorizations=NO_AUTHORIZATIONS, visits=visits, procedures=procedures
    )
    data = export(folder, "agency", frm="2025-01-01", to="2025-01-31")
    by_procedure = {r["procedure_code"]: r["units_used"] for r in data["by_procedure"]}
    assert by_procedure["S9123"] == units(1)
    assert by_procedure["X30"] == units(3)  # 1 + 2
