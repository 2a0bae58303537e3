"""Properties of the export that hold for any agency (data contract §4, §5), via hypothesis.

Random small agencies over the 12 whole months 2024-04-01..2025-03-31 are written to a folder
and exported through the CLI; the report must reconcile with itself and with the visits.
"""

from __future__ import annotations

import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract_data import auth, export, timed, write_data
from utilization.units import units_for

FIRST_DAY = date(2024, 4, 1)
LAST_DAY = date(2025, 3, 31)  # 365 days: 12 whole calendar months
SPAN_DAYS = (LAST_DAY - FIRST_DAY).days + 1

# code: (unit_minutes, billable by default)
PROCEDURES = {"T1019": (15, True), "S5125": (15, True), "S9123": (0, True), "G0156": (15, False)}
CLIENT_IDS = ["C1", "C2", "C3"]
PAYER_IDS = [None, "MCD", "PVT"]


def _day(offset: int) -> str:
    return (FIRST_DAY + timedelta(days=offset)).isoformat()


@st.composite
def agencies(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Authorizations and visits of a small random agency, all dated within the 12 months.

    Visits start between 08:00 and 17:59 and last at most 5 hours, so none crosses a
    daylight-saving change (those happen at 02:00).
    """
    authorizations = []
    for i in range(draw(st.integers(0, 5))):
        start = draw(st.integers(0, SPAN_DAYS - 1))
        length = draw(st.integers(1, 200))
        rate = draw(st.one_of(st.none(), st.integers(300, 999).map(lambda c: f"{c / 100:.2f}")))
        authorizations.append(
            auth(
                f"A{i:02d}",
                draw(st.sampled_from(CLIENT_IDS)),
                draw(st.sampled_from(sorted(PROCEDURES))),
                _day(start),
                (FIRST_DAY + timedelta(days=start + length - 1)).isoformat(),
                draw(st.integers(0, 60)),
                payer_id=draw(st.sampled_from(PAYER_IDS)),
                rate=rate,
            )
        )
    visits = []
    for i in range(draw(st.integers(0, 15))):
        amount = draw(st.one_of(st.none(), st.integers(0, 20000).map(lambda c: f"{c / 100:.2f}")))
        visits.append(
            timed(
                f"V{i:03d}",
                draw(st.sampled_from(CLIENT_IDS)),
                draw(st.sampled_from(sorted(PROCEDURES))),
                _day(draw(st.integers(0, SPAN_DAYS - 1))),
                draw(st.integers(0, 300)),
                start=f"{draw(st.integers(8, 17)):02d}:{draw(st.integers(0, 59)):02d}",
                status=draw(st.sampled_from(["completed", "completed", "scheduled", "cancelled"])),
                billable=draw(st.sampled_from([None, "true", "false"])),
                payer_id=draw(st.sampled_from(PAYER_IDS)),
                amount_billed=amount,
            )
        )
    return authorizations, visits


def _visit_units(visit: dict[str, Any]) -> int:
    """Units of a visit by its procedure's unit length, default rule midpoint (§3)."""
    elapsed = datetime.fromisoformat(visit["end"]) - datetime.fromisoformat(visit["start"])
    minutes = int(elapsed.total_seconds() // 60)  # wall clock = real time: no DST crossing
    unit_minutes, _ = PROCEDURES[visit["procedure_code"]]
    return units_for(minutes, unit_minutes, "midpoint")


def _is_billable(visit: dict[str, Any]) -> bool:
    """A visit's billable flag, defaulting to its procedure's (§1)."""
    if visit["billable"] is None:
        return PROCEDURES[visit["procedure_code"]][1]
    return bool(visit["billable"] == "true")


def _export_both(
    authorizations: list[dict[str, Any]], visits: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_data(Path(tmp) / "data", authorizations=authorizations, visits=visits)
        frm, to = FIRST_DAY.isoformat(), LAST_DAY.isoformat()
        agency = export(folder, "agency", frm=frm, to=to)
        balances = export(folder, "authorizations", frm=frm, to=to)
    return agency, balances


PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY_SETTINGS
@given(agencies())
def test_rows_and_months_add_up_to_the_totals(
    agency_data: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    """It makes procedures, clients, detail rows and the 12 months add up to the period totals."""
    # "Totals reconcile: the sum over procedures and over clients equals the period total, and
    # so does the sum over the months when the period is made of whole months (within rounding
    # of the display)." Used units and amounts are whole units and whole cents, so their sums
    # agree within 0.01; each approved figure is rounded once per row, so the sum of n rows
    # may drift by n half-cents (or n x 0.00005 units).
    data, _ = _export_both(*agency_data)
    kpis = data["kpis"]
    for table in ("by_procedure", "by_client", "detail"):
        rows = data[table]
        slack = 0.005 * (len(rows) + 1)
        for figure, tolerance in (
            ("units_used", 0.01),
            ("amount_used", 0.01),
            ("units_approved", 0.0001 * (len(rows) + 1)),
            ("amount_approved", slack),
        ):
            total = sum(float(r[figure]) for r in rows)
            assert total == pytest.approx(float(kpis[figure]), abs=tolerance), (table, figure)
    months = data["monthly"]
    assert len(months) == 12
    assert sum(float(r["units_used"]) for r in months) == pytest.approx(
        float(kpis["units_used"]), abs=0.01
    )
    assert sum(float(r["units_approved"]) for r in months) == pytest.approx(
        float(kpis["units_approved"]), abs=0.0001 * 13
    )


@PROPERTY_SETTINGS
@given(agencies())
def test_units_used_are_the_units_of_completed_billable_visits(
    agency_data: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    """It never counts more than the completed billable visits' units, nor less (§5)."""
    # "`units_used` ...: completed billable visits whose service date is in the period,
    # unauthorized and over-authorization units included" -- every generated visit is in the
    # period, so units_used is exactly their sum.
    authorizations, visits = agency_data
    data, _ = _export_both(authorizations, visits)
    delivered = sum(
        _visit_units(v) for v in visits if v["status"] == "completed" and _is_billable(v)
    )
    assert float(data["kpis"]["units_used"]) <= delivered + 1e-9
    assert float(data["kpis"]["units_used"]) == pytest.approx(delivered, abs=1e-9)
    approved = float(data["kpis"]["units_approved"])
    if approved > 0:
        assert data["kpis"]["utilization"] == pytest.approx(
            float(data["kpis"]["units_used"]) / approved, abs=1e-4
        )
    else:
        assert data["kpis"]["utilization"] is None


@PROPERTY_SETTINGS
@given(agencies())
def test_flagged_units_are_the_units_used_beyond_authorizations(
    agency_data: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    """It flags as over-authorization or unauthorized exactly the units no authorization took."""
    # Every used unit is either taken from an authorization or flagged (§4); as of the last day
    # of the period every generated visit is counted in its authorization's units_used.
    data, balances = _export_both(*agency_data)
    flagged_units = sum(
        float(r["units"])
        for r in data["flags"]
        if r["kind"] in ("over_authorization", "unauthorized_service")
    )
    authorized = sum(float(r["units_used"]) for r in balances["authorizations"])
    assert flagged_units == pytest.approx(float(data["kpis"]["units_used"]) - authorized, abs=1e-9)
    for row in balances["authorizations"]:
        assert 0 <= float(row["units_used"]) <= float(row["units_approved"]) + 1e-9, row
        assert float(row["units_remaining"]) == pytest.approx(
            float(row["units_approved"]) - float(row["units_used"]), abs=1e-9
        ), row
