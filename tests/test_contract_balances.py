"""Contract tests for authorization balances as of a date (data contract §6).

As-of date 2025-02-15 (unless said otherwise), report period 2025-01-01..2025-03-31.
Units: 15-minute midpoint, 30 min = 2 u, 45 min = (45 + 7) // 15 = 3 u, 60 min = 4 u,
120 min = 8 u, 180 min = 12 u, 240 min = 16 u. Each client/procedure pair below has a single
authorization holding its visits' dates, so FIFO plays no part.

Definitions used (data contract §6 and the settings' defaults):
  elapsed days   = days from start_date to the as-of date, both counted (capped at the span)
  elapsed share  = elapsed days / authorization days;  used share = used / approved
  pace           = used share / elapsed share
  projected exhaustion date = as-of date + ceil(remaining / (used / elapsed days)) days,
                   none when nothing is used yet; the numbers below divide exactly, so
                   ceil/floor do not matter
  at risk        = on pace to run out before end_date (projected date < end_date, i.e.
                   pace > 1), or remaining < 20 % of approved
  under-used     = pace < 0.75 and elapsed share >= 0.25
  expiring       = end_date within 30 days after the as-of date, with units left
  status precedence: expired, exhausted, at risk, expiring, under-used, ok;
  `not started` when start_date is after the as-of date.

Elapsed days to 2025-02-15 from 2025-01-01: 31 + 15 = 46; from 2025-01-16: 16 + 15 = 31;
from 2024-09-01: 30 + 31 + 30 + 31 + 31 + 15 = 168; from 2025-02-01: 15.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contract_data import auth, export, flag_units, flagged, rows_by, timed, units, write_data

AS_OF = "2025-02-15"

AUTHORIZATIONS = [
    # OK: 90 days, 50 u. Used 23 by 15 Feb (KO1-KO6); KO7 (20 Feb) comes after the as-of date.
    # used share 23/50 = 0.46, elapsed 46/90 = 0.5111, pace 0.9; remaining 27 (54 %);
    # ends in 44 days -> ok. Projection 27 / (23/46 = 0.5 a day) = 54 days -> 2025-04-10.
    auth("OK", "C1", "T1019", "2025-01-01", "2025-03-31", 50),
    # EXH: 8 u, used 8 by 22 Jan (KE3 on 5 Feb is over-authorization) -> exhausted.
    auth("EXH", "C1", "S5125", "2025-01-01", "2025-03-31", 8),
    # RISK-PACE: 2025-01-01..2025-06-30 = 181 days, 100 u, used 46 in 46 days: 1 u a day.
    # pace (46/100) / (46/181) = 1.81 > 1; remaining 54 (54 %) runs out in 54 days ->
    # 2025-04-10, before 30 Jun -> at risk.
    auth("RISK-PACE", "C2", "T1019", "2025-01-01", "2025-06-30", 100),
    # RISK-LOW: 2024-09-01..2025-03-20 = 201 days, 100 u, used 82 (80 of them in 2024-09..
    # 2025-01, before the report period). Remaining 18 = 18 % < 20 % -> at risk, although
    # pace (82/100) / (168/201 = 0.8358) = 0.981 <= 1; ends in 33 days: not expiring.
    auth("RISK-LOW", "C2", "S5125", "2024-09-01", "2025-03-20", 100),
    # EXPIRING: 2025-01-16..2025-03-10 = 16 + 28 + 10 = 54 days, 54 u, used 28.
    # elapsed 31/54 = 0.574, used 28/54 = 0.519, pace 0.903; remaining 26 (48 %);
    # ends in 23 days (<= 30) with units left -> expiring.
    auth("EXPIRING", "C3", "T1019", "2025-01-16", "2025-03-10", 54),
    # EXP-UNDER: same dates, 54 u, used 8: pace 8/31 = 0.258 < 0.75 with elapsed 0.574 >= 0.25
    # (under-used) and ends in 23 days (expiring): expiring comes first.
    auth("EXP-UNDER", "C3", "S5125", "2025-01-16", "2025-03-10", 54),
    # UNDER: 181 days, 181 u, used 20. elapsed 46/181 = 0.254 >= 0.25; pace 20/46 = 0.435 <
    # 0.75 -> under-used; remaining 161 (89 %); ends in 135 days.
    auth("UNDER", "C1", "T2021 U4", "2025-01-01", "2025-06-30", 181),
    # EARLY: 2025-02-01..2025-12-31 = 334 days, 100 u, nothing used; elapsed 15/334 = 0.045 <
    # 0.25, so not under-used -> ok; no pace, no projected date.
    auth("EARLY", "C2", "T2021 U4", "2025-02-01", "2025-12-31", 100),
    # EXPIRED: ended 31 Jan, 10 u, used 4 -> expired.
    auth("EXPIRED", "C3", "T2021 U4", "2025-01-01", "2025-01-31", 10),
    # EXPIRED-USED: ended 31 Jan, 8 u, used 8: exhausted too, but expired comes first.
    auth("EXPIRED-USED", "C1", "S5150", "2025-01-01", "2025-01-31", 8),
    # NEW: starts 15 Mar, after the as-of date -> not started; KN1 scheduled 20 Mar 4 u.
    auth("NEW", "C3", "T1019", "2025-03-15", "2025-06-30", 40),
    # RISK-EXPIRING: 2025-01-01..2025-03-10 = 69 days, 20 u, used 18: remaining 2 (10 %) and
    # pace (18/20) / (46/69) = 1.35 -> at risk; ends in 23 days (expiring): at risk comes first.
    auth("RISK-EXPIRING", "C3", "S5150", "2025-01-01", "2025-03-10", 20),
]

VISITS = [
    timed("KO1", "C1", "T1019", "2025-01-06", 60),
    timed("KO2", "C1", "T1019", "2025-01-13", 60),
    timed("KO3", "C1", "T1019", "2025-01-20", 60),
    timed("KO4", "C1", "T1019", "2025-01-27", 60),
    timed("KO5", "C1", "T1019", "2025-02-03", 60),
    timed("KO6", "C1", "T1019", "2025-02-10", 45),  # 4 x 5 + 3 = 23
    timed("KO7", "C1", "T1019", "2025-02-20", 60),  # completed after the as-of date
    timed("KO8", "C1", "T1019", "2025-02-24", 60, status="scheduled"),
    timed("KO9", "C1", "T1019", "2025-03-05", 60, status="scheduled"),  # scheduled 4 + 4 = 8
    timed("KE1", "C1", "S5125", "2025-01-08", 60),
    timed("KE2", "C1", "S5125", "2025-01-22", 60),
    timed("KE3", "C1", "S5125", "2025-02-05", 60),  # nothing left: over-authorization 4
    timed("KA1", "C2", "T1019", "2025-01-06", 240, start="08:00"),
    timed("KA2", "C2", "T1019", "2025-01-20", 240, start="08:00"),
    timed("KA3", "C2", "T1019", "2025-02-03", 180, start="08:00"),
    timed("KA4", "C2", "T1019", "2025-02-10", 30),  # 16 + 16 + 12 + 2 = 46
    timed("KB1", "C2", "S5125", "2024-09-10", 240, start="08:00"),
    timed("KB2", "C2", "S5125", "2024-10-10", 240, start="08:00"),
    timed("KB3", "C2", "S5125", "2024-11-12", 240, start="08:00"),
    timed("KB4", "C2", "S5125", "2024-12-10", 240, start="08:00"),
    timed("KB5", "C2", "S5125", "2025-01-14", 240, start="08:00"),
    timed("KB6", "C2", "S5125", "2025-02-04", 30),  # 16 x 5 + 2 = 82
    timed("KX1", "C3", "T1019", "2025-01-20", 240, start="08:00"),
    timed("KX2", "C3", "T1019", "2025-02-03", 180, start="08:00"),  # 16 + 12 = 28
    timed("KN1", "C3", "T1019", "2025-03-20", 60, status="scheduled"),  # NEW's, 4
    timed("KU1", "C3", "S5125", "2025-01-27", 120),  # 8
    timed("KD1", "C1", "T2021 U4", "2025-01-15", 240, start="08:00"),
    timed("KD2", "C1", "T2021 U4", "2025-02-12", 60),  # 16 + 4 = 20
    timed("KL1", "C3", "T2021 U4", "2025-01-10", 60),  # 4
    timed("KM1", "C1", "S5150", "2025-01-09", 120),  # 8
    timed("KR1", "C3", "S5150", "2025-01-07", 240, start="08:00"),
    timed("KR2", "C3", "S5150", "2025-02-04", 30),  # 16 + 2 = 18
]


@pytest.fixture
def balances(tmp_path: Path) -> dict[str, Any]:
    """The authorizations view as of 2025-02-15."""
    folder = write_data(tmp_path / "data", authorizations=AUTHORIZATIONS, visits=VISITS)
    return export(folder, "authorizations", "--as-of", AS_OF)


def _row(data: dict[str, Any], authorization_id: str) -> Any:
    return rows_by(data["authorizations"], "authorization_id")[authorization_id]


@pytest.mark.parametrize(
    ("authorization_id", "status"),
    [
        ("OK", "ok"),
        ("EXH", "exhausted"),
        ("RISK-PACE", "at risk"),
        ("RISK-LOW", "at risk"),
        ("EXPIRING", "expiring"),
        ("UNDER", "under-used"),
        ("EARLY", "ok"),
        ("EXPIRED", "expired"),
        ("NEW", "not started"),
    ],
)
def test_status_as_of_a_date(balances: dict[str, Any], authorization_id: str, status: str) -> None:
    """It gives each authorization the status its balance and dates call for."""
    # "a status: `exhausted`, `at risk` (on pace to run out before the end date, or under
    # 20 % left), `under-used` (well behind pace), `expiring` (ends within 30 days with units
    # left), `expired`, `ok`." Worked figures: see AUTHORIZATIONS.
    assert _row(balances, authorization_id)["status"] == status


@pytest.mark.parametrize(
    ("authorization_id", "status", "also"),
    [
        ("EXPIRED-USED", "expired", "exhausted"),
        ("RISK-EXPIRING", "at risk", "expiring"),
        ("EXP-UNDER", "expiring", "under-used"),
        ("EXH", "exhausted", "at risk (0 % left)"),
    ],
)
def test_status_precedence(
    balances: dict[str, Any], authorization_id: str, status: str, also: str
) -> None:
    """It reports the first status that applies, in the order of precedence."""
    assert _row(balances, authorization_id)["status"] == status, f"also {also}"


def test_balance_counts_used_to_the_as_of_date_and_scheduled_after_it(
    balances: dict[str, Any],
) -> None:
    """It counts units used up to the as-of date and units scheduled after it."""
    # "`units_used` (to the as-of date), `units_scheduled` (after it), `units_remaining` =
    # approved − used". OK: used 4 x 5 + 3 = 23 (KO7 on 20 Feb is after 15 Feb);
    # scheduled KO8 + KO9 = 8; remaining 50 - 23 = 27.
    row = _row(balances, "OK")
    assert row["units_approved"] == units(50)
    assert row["units_used"] == units(23)
    assert row["units_scheduled"] == units(8)
    assert row["units_remaining"] == units(27)
    assert row["client_id"] == "C1"
    assert row["procedure_code"] == "T1019"


def test_balance_reports_unscheduled_units(balances: dict[str, Any]) -> None:
    """It reports units neither used nor scheduled (data contract §6 `units_unscheduled`)."""
    # "`units_unscheduled` = approved − used − scheduled": OK 50 - 23 - 8 = 19;
    # NEW 40 - 0 - 4 = 36.
    assert _row(balances, "OK")["units_unscheduled"] == units(19)
    assert _row(balances, "NEW")["units_unscheduled"] == units(36)


def test_balance_counts_units_used_before_the_report_period(balances: dict[str, Any]) -> None:
    """It counts an authorization's use since its start date, not only within the period."""
    # RISK-LOW started 2024-09-01: 5 x 16 u in 2024-09..2025-01 + 2 u on 4 Feb = 82;
    # remaining 100 - 82 = 18.
    row = _row(balances, "RISK-LOW")
    assert row["units_used"] == units(82)
    assert row["units_remaining"] == units(18)


def test_exhausted_authorization_has_nothing_left(balances: dict[str, Any]) -> None:
    """It uses all 8 units of EXH and puts the next visit's units over authorization."""
    row = _row(balances, "EXH")
    assert row["units_used"] == units(8)
    assert row["units_remaining"] == units(0)
    assert flag_units(balances, "over_authorization")["KE3"] == units(4)


def test_not_started_authorization_has_scheduled_units_only(balances: dict[str, Any]) -> None:
    """It shows nothing used and the scheduled visit for an authorization not yet started."""
    row = _row(balances, "NEW")
    assert row["units_used"] == units(0)
    assert row["units_scheduled"] == units(4)
    assert row["units_remaining"] == units(40)
    assert row["projected_exhaustion_date"] is None


@pytest.mark.parametrize(
    ("authorization_id", "projected"),
    [
        # OK: 23 u in 46 days = 0.5 u a day; 27 left / 0.5 = 54 days; 15 Feb + 54 days:
        # 13 days to 28 Feb, 31 to 31 Mar (44), 10 more -> 2025-04-10 (after its end date:
        # the units outlast the authorization, which is why it is not at risk).
        ("OK", "2025-04-10"),
        # RISK-PACE: 46 u in 46 days = 1 a day; 54 left -> 54 days -> 2025-04-10, before
        # its end date 2025-06-30.
        ("RISK-PACE", "2025-04-10"),
        # EARLY: nothing used yet -> no pace, no date.
        ("EARLY", None),
    ],
)
def test_projected_exhaustion_date_at_the_current_pace(
    balances: dict[str, Any], authorization_id: str, projected: str | None
) -> None:
    """It projects the date the remaining units run out at the daily pace used so far."""
    # "the projected date the units run out at the current pace"
    assert _row(balances, authorization_id)["projected_exhaustion_date"] == projected


def test_authorization_flags_as_of_a_date(balances: dict[str, Any]) -> None:
    """It flags exhausted, at-risk, expiring and under-used authorizations, and not the others."""
    assert "EXH" in flagged(balances, "authorization_exhausted", "authorization_id")
    at_risk = flagged(balances, "authorization_at_risk", "authorization_id")
    assert {"RISK-PACE", "RISK-LOW", "RISK-EXPIRING"} <= at_risk
    expiring = flagged(balances, "authorization_expiring", "authorization_id")
    assert {"EXPIRING", "EXP-UNDER"} <= expiring
    assert "UNDER" in flagged(balances, "authorization_under_used", "authorization_id")
    authorization_flags = {
        row.get("authorization_id")
        for row in balances["flags"]
        if str(row["kind"]).startswith("authorization_")
    }
    assert "OK" not in authorization_flags
    assert "EARLY" not in authorization_flags
    assert "NEW" not in authorization_flags


def test_report_states_its_as_of_date(balances: dict[str, Any]) -> None:
    """It says which as-of date the balances are computed for."""
    assert balances["as_of"] == AS_OF


def test_as_of_defaults_to_the_end_of_the_period(tmp_path: Path) -> None:
    """It computes balances as of the `to` date when no --as-of is given."""
    # As of 2025-03-31: OK used 23 + KO7 4 = 27, remaining 23; KO8 (24 Feb) and KO9 (5 Mar)
    # are not after 31 Mar -> scheduled 0. EXPIRING ended 10 Mar -> expired.
    folder = write_data(tmp_path / "data", authorizations=AUTHORIZATIONS, visits=VISITS)
    data = export(folder, "authorizations")
    row = _row(data, "OK")
    assert row["units_used"] == units(27)
    assert row["units_remaining"] == units(23)
    assert row["units_scheduled"] == units(0)
    assert _row(data, "EXPIRING")["status"] == "expired"
