"""Contract tests for revenue (data contract §12), fieldworkers and payers (§13).

Period 2025-01-01..2025-03-31 (90 days). Rates: T1019 6.00, S5125 5.00, T2021 U4 10.00,
S9123 80.00 a visit (unit_minutes 0), G0156 not billable. 15-minute midpoint units:
45 min = 3 u, 50 min = (50 + 7) // 15 = 3 u, 52 min = 3 u, 60 min = 4 u, 90 min = 6 u,
120 min = 8 u, 300 min = 20 u.

Authorizations (approved in the period, prorated basis):
  A1 C1 T1019    2025-01-01..03-31 40 u rate 6.50 MCD -> 40 u, 40 x 6.50  =  260.00
  A2 C1 S5125    2025-01-01..03-31 10 u (5.00)    MCD -> 10 u, 10 x 5.00  =   50.00
  A3 C2 T2021 U4 2025-01-01..01-31 20 u rate 10   PVT -> 20 u, 20 x 10    =  200.00
  A4 C2 T2021 U4 2025-01-15..03-31 76 u rate 11   PVT -> 76 u, 76 x 11    =  836.00
  A5 C3 T1019    2024-12-02..2025-01-30 (60 days) 60 u rate 6.00, no payer
                 -> 30 of its 60 days in the period: 30 u, 30 x 6.00 =          180.00
  approved: 40 + 10 + 20 + 76 + 30 = 176 u; 260 + 50 + 200 + 836 + 180 = 1,526.00.
  A3 and A4 overlap 15..31 Jan; A3 ends first.

Visits (provider, payer given on the visit, staff-recorded units):
  V1  C1 T1019 01-06  60 min 4 u P1 MCD rec 4   A1 -> 4 x 6.50               =  26.00
  V2  C1 T1019 02-03  52 min 3 u P1     rec 4   A1, amount_billed 30.00 (10.00 a unit,
                                                 a rate mismatch)            =  30.00
  V3  C1 T1019 03-03  50 min 3 u P2     rec 2   A1 -> 3 x 6.50               =  19.50
  V4  C1 S5125 01-13 120 min 8 u P1             A2 (8 of 10)  8 x 5.00       =  40.00
  V5  C1 S5125 02-10  90 min 6 u P2     rec 5   A2 has 2 left: 2 + 4 over    =  30.00
  V6  C2 T2021 U4 01-20 60 min 4 u P1 CANCELLED (A3 and A4 hold the date; amount_billed
                                                 99.00, which a cancelled visit ignores)
  V7  C2 T2021 U4 01-22 300 min 20 u P2         A3 (ends first) 20 x 10      = 200.00
  V8  C2 T2021 U4 01-27  60 min 4 u P2          A3 used up -> A4, 4 x 11     =  44.00
  V9  C3 T1019 01-10  60 min 4 u (no provider)  A5, 4 x 6.00                 =  24.00
  V10 C3 T1019 02-14  45 min 3 u P1             A5 ended: unauthorized 3 x 6 =  18.00
  V11 C2 S9123 03-05  50 min 1 u P2 OTH         no authorization: 1 x 80     =  80.00
  V12 C2 S9123 03-12  40 min 1 u P2 CANCELLED   no authorization
  V13 C1 G0156 02-05 60 min P1 (not billable); V14 C1 G0156 02-06 cancelled (not billable);
  V15 C1 T1019 03-25 scheduled; V16 C1 T1019 2024-12-20 (before the period): none counts.

Payments (insurance_paid; patient_paid): V1 20.00; 6.00 - V2 30.00 - V7 150.00 and 50.00
(paid 2025-05-01, after the period: counts) - V10 0.00 (denied) - V13 10.00 (not billable)
- V16 26.00 (outside the period).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contract_data import Row, auth, export, money, rows_by, run, timed, units, write_data

AUTHORIZATIONS = [
    auth("A1", "C1", "T1019", "2025-01-01", "2025-03-31", 40, rate="6.50", payer_id="MCD"),
    auth("A2", "C1", "S5125", "2025-01-01", "2025-03-31", 10, payer_id="MCD"),
    auth("A3", "C2", "T2021 U4", "2025-01-01", "2025-01-31", 20, rate="10.00", payer_id="PVT"),
    auth("A4", "C2", "T2021 U4", "2025-01-15", "2025-03-31", 76, rate="11.00", payer_id="PVT"),
    auth("A5", "C3", "T1019", "2024-12-02", "2025-01-30", 60, rate="6.00"),
]
VISITS = [
    timed("V1", "C1", "T1019", "2025-01-06", 60, provider_id="P1", payer_id="MCD", units=4),
    timed("V2", "C1", "T1019", "2025-02-03", 52, provider_id="P1", units=4, amount_billed="30.00"),
    timed("V3", "C1", "T1019", "2025-03-03", 50, provider_id="P2", units=2),
    timed("V4", "C1", "S5125", "2025-01-13", 120, provider_id="P1"),
    timed("V5", "C1", "S5125", "2025-02-10", 90, provider_id="P2", units=5),
    timed(
        "V6",
        "C2",
        "T2021 U4",
        "2025-01-20",
        60,
        provider_id="P1",
        status="cancelled",
        amount_billed="99.00",
    ),
    timed("V7", "C2", "T2021 U4", "2025-01-22", 300, provider_id="P2"),
    timed("V8", "C2", "T2021 U4", "2025-01-27", 60, provider_id="P2"),
    timed("V9", "C3", "T1019", "2025-01-10", 60),
    timed("V10", "C3", "T1019", "2025-02-14", 45, provider_id="P1"),
    timed("V11", "C2", "S9123", "2025-03-05", 50, provider_id="P2", payer_id="OTH"),
    timed("V12", "C2", "S9123", "2025-03-12", 40, provider_id="P2", status="cancelled"),
    timed("V13", "C1", "G0156", "2025-02-05", 60, provider_id="P1"),
    timed("V14", "C1", "G0156", "2025-02-06", 60, provider_id="P1", status="cancelled"),
    timed("V15", "C1", "T1019", "2025-03-25", 60, provider_id="P1", status="scheduled"),
    timed("V16", "C1", "T1019", "2024-12-20", 60, provider_id="P1"),
]


def _paid(visit_id: str, insurance: str, paid_date: str, patient: str | None = None) -> Row:
    return {
        "visit_id": visit_id,
        "insurance_paid": insurance,
        "patient_paid": patient,
        "paid_date": paid_date,
    }


PAYMENTS = [
    _paid("V1", "20.00", "2025-02-01", patient="6.00"),
    _paid("V2", "30.00", "2025-03-01"),
    _paid("V7", "150.00", "2025-02-20"),
    _paid("V7", "50.00", "2025-05-01"),
    _paid("V10", "0.00", "2025-03-20"),
    _paid("V13", "10.00", "2025-03-01"),
    _paid("V16", "26.00", "2025-01-15"),
]

# category: (units, amount), worked out in the module docstring and in each test.
REVENUE = {
    "approved": (176, 1526.00),
    # 10 + 14 + 24 + 7 + 1 = 56 u; 75.50 + 70 + 244 + 42 + 80 = 511.50
    "delivered": (56, 511.50),
    # per pair max(0, approved - delivered): C1 T1019 40 - 10 = 30 u, 260 - 75.50 = 184.50;
    # C1 S5125 10 - 14 < 0 -> 0; C2 T2021 U4 96 - 24 = 72 u, 1036 - 244 = 792.00;
    # C3 T1019 30 - 7 = 23 u, 180 - 42 = 138.00; C2 S9123 nothing approved -> 0.
    "not_delivered": (125, 1114.50),
    # V6 4 u at A3's 10.00 (the one ending first of A3, A4) = 40.00; V12 1 u at the
    # procedure's 80.00 (no authorization) = 80.00. V14 is not billable.
    "cancelled": (5, 120.00),
    # V10 3 u x 6.00 (procedure) = 18.00; V11 1 u x 80.00 = 80.00
    "unauthorized": (4, 98.00),
    # V5: 4 u x A2's 5.00
    "over_authorization": (4, 20.00),
    # V3 3 - 2 = 1 u x 6.50; V5 6 - 5 = 1 u x 5.00 -> 2 u, 11.50
    "under_recorded": (2, 11.50),
    # V2 4 - 3 = 1 u x 6.50 (the rate of §4, not amount_billed / units = 10.00)
    "over_recorded": (1, 6.50),
    # V1 20 + V2 30 + V7 150 + 50 = 250.00 (V1's patient 6.00, V13, V16 left out)
    "insurance_paid": (None, 250.00),
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-worked agency of this module's docstring."""
    return write_data(
        tmp_path_factory.mktemp("revenue") / "data",
        authorizations=AUTHORIZATIONS,
        visits=VISITS,
        payments=PAYMENTS,
    )


@pytest.fixture(scope="module")
def agency(folder: Path) -> dict[str, Any]:
    return export(folder, "agency")


def _check_revenue(rows: list[dict[str, Any]], expected: dict[str, tuple[Any, float]]) -> None:
    assert [r["category"] for r in rows] == list(expected)
    for row in rows:
        want_units, want_amount = expected[row["category"]]
        if want_units is None:
            assert row["units"] is None, row
        else:
            assert row["units"] == units(want_units), row
        assert row["amount"] == money(want_amount), row


def test_revenue_has_every_category_in_order_with_hand_worked_figures(
    agency: dict[str, Any],
) -> None:
    """It gives approved, delivered, not delivered, cancelled, unauthorized, over
    authorization, under-recorded, over-recorded and insurance paid as worked out above.
    """
    _check_revenue(agency["revenue"], REVENUE)


def test_delivered_is_units_and_amount_used(agency: dict[str, Any]) -> None:
    """`delivered` is the units and amount used of §5: V2 counts its amount_billed 30.00."""
    delivered = rows_by(agency["revenue"], "category")["delivered"]
    assert delivered["units"] == agency["kpis"]["units_used"] == 56
    assert delivered["amount"] == agency["kpis"]["amount_used"] == money(511.50)
    approved = rows_by(agency["revenue"], "category")["approved"]
    assert approved["amount"] == agency["kpis"]["amount_approved"]


def test_a_rate_other_than_the_authorizations_never_sets_the_category_rate(
    agency: dict[str, Any],
) -> None:
    """V2 was billed 30.00 for 3 u (10.00 a unit, flagged rate_mismatch); its extra recorded
    unit is valued at A1's 6.50, the rate of §4.
    """
    assert {f["visit_id"] for f in agency["flags"] if f["kind"] == "rate_mismatch"} == {"V2"}
    by_procedure = rows_by(agency["revenue_by_procedure"], "procedure_code")
    assert by_procedure["T1019"]["over_recorded_units"] == 1
    assert by_procedure["T1019"]["over_recorded_amount"] == money(6.50)


def test_a_cancelled_visit_under_two_authorizations_takes_the_rate_of_the_one_ending_first(
    agency: dict[str, Any],
) -> None:
    """V6 (20 Jan) is held by A3 (ends 31 Jan, 10.00) and A4 (ends 31 Mar, 11.00): 4 u x 10.00."""
    code = rows_by(agency["revenue_by_procedure"], "procedure_code")["T2021 U4"]
    assert code["cancelled_units"] == 4
    assert code["cancelled_amount"] == money(40.00)


def test_a_visit_without_any_rate_counts_its_units_and_no_dollars(tmp_path: Path) -> None:
    """A procedure without a rate and no authorization: the units count, the dollars are 0."""
    procedures = [{"procedure_code": "X1", "description": "No rate", "unit_minutes": 15}]
    folder = write_data(
        tmp_path / "data",
        authorizations=[],
        visits=[
            timed("X1", "C1", "X1", "2025-01-06", 60),
            timed("X2", "C1", "X1", "2025-01-07", 60, status="cancelled"),
        ],
        procedures=procedures,
    )
    rows = rows_by(export(folder, "agency")["revenue"], "category")
    for category in ("delivered", "unauthorized", "cancelled"):
        assert (rows[category]["units"], rows[category]["amount"]) == (4, 0), category


def test_a_payer_filter_narrows_capacity_too(folder: Path) -> None:
    """`--payer PVT` is not a visit-only filter: approved and not delivered are PVT's (A3, A4:
    96 u, 1,036.00; 72 u, 792.00), delivered V7 + V8 (24 u, 244.00).
    """
    rows = rows_by(export(folder, "agency", "--payer", "PVT")["revenue"], "category")
    assert (rows["approved"]["units"], rows["approved"]["amount"]) == (units(96), money(1036))
    assert rows["not_delivered"]["amount"] == money(792.00)
    assert (rows["delivered"]["units"], rows["delivered"]["amount"]) == (24, money(244.00))


def test_a_cancelled_visit_without_authorization_takes_the_procedures_rate(
    agency: dict[str, Any],
) -> None:
    """V12 (S9123, no authorization) is 1 visit-unit at the procedure's 80.00."""
    code = rows_by(agency["revenue_by_procedure"], "procedure_code")["S9123"]
    assert (code["cancelled_units"], code["cancelled_amount"]) == (1, money(80.00))


def test_over_use_of_one_service_never_hides_under_use_of_another(agency: dict[str, Any]) -> None:
    """C1 used 4 u of S5125 beyond its 10 and left 30 u of T1019: not delivered is 30 u,
    184.50 (per pair), not 30 - 4 = 26 u.
    """
    # C1: approved 40 + 10 = 50 u, 260 + 50 = 310.00; delivered 10 + 14 = 24 u,
    # 75.50 + 70 = 145.50; not delivered 30 u, 184.50 (S5125 adds 0, not -4).
    c1 = rows_by(agency["revenue_by_client"], "client_id")["C1"]
    assert c1["client_name"] == "Ana Alvarez"
    assert (c1["approved_units"], c1["approved_amount"]) == (units(50), money(310.00))
    assert (c1["delivered_units"], c1["delivered_amount"]) == (24, money(145.50))
    assert (c1["not_delivered_units"], c1["not_delivered_amount"]) == (units(30), money(184.50))
    assert (c1["over_authorization_units"], c1["over_authorization_amount"]) == (4, money(20))
    assert (c1["under_recorded_units"], c1["under_recorded_amount"]) == (2, money(11.50))
    assert c1["insurance_paid_amount"] == money(50.00)


def test_revenue_by_client_and_procedure_rows(agency: dict[str, Any]) -> None:
    """Each client's and each procedure code's categories, as worked out by hand."""
    clients = rows_by(agency["revenue_by_client"], "client_id")
    # C2: approved A3 + A4 = 96 u, 1036.00; delivered V7 + V8 + V11 = 25 u, 324.00;
    # not delivered 72 u, 792.00; cancelled V6 + V12 = 5 u, 120.00; unauthorized V11.
    c2 = clients["C2"]
    assert (c2["approved_units"], c2["delivered_units"], c2["delivered_amount"]) == (
        units(96),
        25,
        money(324.00),
    )
    assert (c2["not_delivered_units"], c2["not_delivered_amount"]) == (units(72), money(792))
    assert (c2["cancelled_units"], c2["cancelled_amount"]) == (5, money(120.00))
    assert (c2["unauthorized_units"], c2["unauthorized_amount"]) == (1, money(80.00))
    assert c2["insurance_paid_amount"] == money(200.00)
    # C3: approved 30 u (prorated A5), 180.00; delivered 7 u, 42.00; not delivered 23 u,
    # 138.00; unauthorized V10 3 u, 18.00.
    c3 = clients["C3"]
    assert (c3["not_delivered_units"], c3["not_delivered_amount"]) == (units(23), money(138))
    assert (c3["unauthorized_units"], c3["unauthorized_amount"]) == (3, money(18.00))
    codes = rows_by(agency["revenue_by_procedure"], "procedure_code")
    # T1019: approved 40 + 30 = 70 u, 440.00; delivered V1 V2 V3 V9 V10 = 17 u, 117.50;
    # not delivered 30 + 23 = 53 u, 322.50 (2 clients); unauthorized 3 u 18.00.
    t1019 = codes["T1019"]
    assert t1019["description"] == "Personal care"
    assert (t1019["approved_units"], t1019["approved_amount"]) == (units(70), money(440))
    assert (t1019["delivered_units"], t1019["delivered_amount"]) == (17, money(117.50))
    assert (t1019["not_delivered_units"], t1019["not_delivered_amount"]) == (
        units(53),
        money(322.50),
    )
    assert t1019["not_delivered_clients"] == 2
    # S5125: used beyond approved, so nothing not delivered and no client counted.
    assert (codes["S5125"]["not_delivered_amount"], codes["S5125"]["not_delivered_clients"]) == (
        0,
        0,
    )


@pytest.mark.parametrize("key", ["revenue_by_client", "revenue_by_procedure"])
def test_each_column_sums_to_its_revenue_row(agency: dict[str, Any], key: str) -> None:
    """Every `<category>_units` and `<category>_amount` column adds up to the `revenue` row."""
    for category, (want_units, want_amount) in REVENUE.items():
        rows = agency[key]
        assert sum(r[f"{category}_amount"] for r in rows) == money(want_amount), category
        if want_units is None:
            assert f"{category}_units" not in rows[0]
        else:
            assert sum(r[f"{category}_units"] for r in rows) == units(want_units), category


def test_visit_filters_narrow_every_category_but_approved_and_not_delivered(
    folder: Path,
) -> None:
    """`--provider P1`: approved and not delivered stay the agency's; the rest are P1's."""
    # P1's completed billable visits: V1 4 u 26.00, V2 3 u 30.00, V4 8 u 40.00, V10 3 u 18.00
    # -> 18 u, 114.00; cancelled V6 4 u 40.00; unauthorized V10; over-recorded V2; paid
    # V1 20 + V2 30 = 50.00.
    data = export(folder, "revenue", "--provider", "P1")
    expected = REVENUE | {
        "delivered": (18, 114.00),
        "cancelled": (4, 40.00),
        "unauthorized": (3, 18.00),
        "over_authorization": (0, 0.0),
        "under_recorded": (0, 0.0),
        "over_recorded": (1, 6.50),
        "insurance_paid": (None, 50.00),
    }
    _check_revenue(data["revenue"], expected)


def test_billable_no_reports_non_billable_visits_and_keeps_capacity(folder: Path) -> None:
    """`--billable no`: delivered is V13 (G0156, 4 u at the procedure's 4.00); cancelled is
    V14 (4 u, 16.00); approved and not delivered are those of the billable visits.
    """
    data = export(folder, "agency", "--billable", "no")
    rows = rows_by(data["revenue"], "category")
    assert (rows["delivered"]["units"], rows["delivered"]["amount"]) == (4, money(16.00))
    assert (rows["cancelled"]["units"], rows["cancelled"]["amount"]) == (4, money(16.00))
    assert rows["not_delivered"]["amount"] == money(1114.50)
    assert rows["insurance_paid"]["amount"] == money(10.00)


# Fieldworkers (§13) ---------------------------------------------------------------------


def test_by_provider_counts_each_fieldworkers_visits(agency: dict[str, Any]) -> None:
    """One row per fieldworker with visits; the visits without one form a row with an empty id."""
    rows = agency["by_provider"]
    assert [r["provider_id"] for r in rows] == ["P1", "P2", ""]
    p1, p2, none = rows
    # P1: V1, V2, V4, V10 completed (C1, C3); V6 cancelled (V14 is not billable); V2's
    # recorded 4 differ from the rule's 3.
    assert p1 == p1 | {
        "provider_name": "Dana Diaz",
        "clients": 2,
        "visits": 4,
        "units_used": 18,
        "amount_used": money(114.00),
        "visits_cancelled": 1,
        "units_cancelled": 4,
        "units_unauthorized": 3,
        "units_over_authorization": 0,
        "units_mismatch_visits": 1,
        "amount_cancelled": money(40.00),
    }
    # P2: V3, V5, V7, V8, V11 (C1, C2) 3 + 6 + 20 + 4 + 1 = 34 u,
    # 19.50 + 30 + 200 + 44 + 80 = 373.50; V12 cancelled; V3 and V5 recorded off the rule.
    assert p2 == p2 | {
        "clients": 2,
        "visits": 5,
        "units_used": 34,
        "amount_used": money(373.50),
        "visits_cancelled": 1,
        "units_cancelled": 1,
        "units_unauthorized": 1,
        "units_over_authorization": 4,
        "units_mismatch_visits": 2,
        "units_under_recorded": 2,
        "amount_under_recorded": money(11.50),
    }
    assert none == none | {"provider_name": "", "clients": 1, "visits": 1, "units_used": 4}
    assert sum(r["units_used"] for r in rows) == agency["kpis"]["units_used"]


def test_the_provider_view_needs_one_provider_and_shows_only_theirs(folder: Path) -> None:
    """`export provider --provider P2` has P2's row only; without --provider it is refused."""
    data = export(folder, "provider", "--provider", "P2")
    assert [r["provider_id"] for r in data["by_provider"]] == ["P2"]
    assert data["kpis"]["units_used"] == 34
    rc, _out, err = run(["export", "provider", "--data", str(folder), "--from", "2025-01-01",
                         "--to", "2025-03-31"])  # fmt: skip
    assert rc == 2 and "needs exactly one provider: add --provider ID" in err


# Payers (§13) ---------------------------------------------------------------------------


def test_by_payer_splits_approved_used_and_paid(agency: dict[str, Any]) -> None:
    """Approved by the authorization's payer; used by the visit's own payer, else that of the
    authorization whose rate it takes; visits and authorizations without one: the empty id.
    """
    rows = rows_by(agency["by_payer"], "payer_id")
    assert list(rows) == ["MCD", "OTH", "PVT", ""]
    # MCD: A1 + A2 = 50 u, 310.00; V1 (own) and V2, V3, V4, V5 (A1's, A2's payer):
    # 4 + 3 + 3 + 8 + 6 = 24 u, 26 + 30 + 19.50 + 40 + 30 = 145.50; paid 20 + 30 = 50.00.
    assert rows["MCD"] == rows["MCD"] | {
        "payer_name": "State Medicaid",
        "units_approved": units(50),
        "amount_approved": money(310.00),
        "units_used": 24,
        "amount_used": money(145.50),
        "insurance_paid": money(50.00),
    }
    # PVT: A3 + A4 = 96 u, 1036.00; V7 + V8 (A3's, A4's payer) 24 u, 244.00; paid 200.00.
    assert (rows["PVT"]["units_used"], rows["PVT"]["amount_used"]) == (24, money(244.00))
    assert rows["PVT"]["insurance_paid"] == money(200.00)
    # OTH: V11 names it; nothing approved.
    assert (rows["OTH"]["units_approved"], rows["OTH"]["amount_used"]) == (0, money(80.00))
    # No payer: A5 (30 u, 180.00); V9 (A5 names none) and V10 (unauthorized): 7 u, 42.00.
    assert rows[""] == rows[""] | {
        "payer_name": "",
        "units_approved": units(30),
        "amount_approved": money(180.00),
        "units_used": 7,
        "amount_used": money(42.00),
        "insurance_paid": 0,
    }


def test_every_view_but_service_codes_exports_the_new_keys(folder: Path) -> None:
    """§14: the revenue, fieldworker and payer keys are in the agency, client, procedure,
    provider, authorizations and revenue exports, not in service-codes.
    """
    keys = ["revenue", "revenue_by_client", "revenue_by_procedure", "by_provider", "by_payer"]
    for view, options in {
        "agency": [],
        "client": ["--client", "C1"],
        "procedure": ["--procedure", "T1019"],
        "provider": ["--provider", "P1"],
        "authorizations": [],
        "revenue": [],
    }.items():
        data = export(folder, view, *options)
        assert [k for k in data if k in keys] == keys, view
    assert not set(keys) & set(export(folder, "service-codes"))


def test_the_client_view_narrows_revenue_to_the_client(folder: Path) -> None:
    """`--client C1` (a filter of authorizations and visits): revenue is C1's row."""
    data = export(folder, "client", "--client", "C1")
    rows = rows_by(data["revenue"], "category")
    assert rows["approved"]["amount"] == money(310.00)
    assert rows["not_delivered"]["amount"] == money(184.50)
    assert rows["delivered"]["amount"] == money(145.50)


# Pace (§13) -----------------------------------------------------------------------------


def test_units_per_week_needed(folder: Path) -> None:
    """Remaining ÷ (days from the day after the as-of date to end_date ÷ 7); none when no day
    or nothing is left.
    """
    data = export(folder, "authorizations", "--as-of", "2025-03-03")
    rows = rows_by(data["authorizations"], "authorization_id")
    # A1: used V1 V2 V3 (3 Mar counts) = 10, remaining 30; 4..31 Mar = 28 days = 4 weeks
    # -> 7.5 a week. A4: used V8 4, remaining 72 over the same 4 weeks -> 18.
    assert rows["A1"]["units_per_week_needed"] == units(7.5)
    assert rows["A4"]["units_per_week_needed"] == units(18)
    # A2: 10 of 10 used -> nothing remains; A3, A5 ended -> no day left.
    assert rows["A2"]["units_per_week_needed"] is None
    assert rows["A3"]["units_per_week_needed"] is None
    assert rows["A5"]["units_per_week_needed"] is None
    # On the end date itself no day is left.
    last = rows_by(export(folder, "authorizations")["authorizations"], "authorization_id")
    assert last["A1"]["units_per_week_needed"] is None


def test_units_per_week_needed_before_the_start_counts_from_the_start(tmp_path: Path) -> None:
    """As of 14 Feb, an authorization of 1 Mar..30 Apr (61 days) with 61 u needs 61 / (61 / 7)
    = 7 units a week: the days count from its start, not from the day after the as-of date.
    """
    folder = write_data(
        tmp_path / "data",
        authorizations=[auth("B1", "C1", "S5150", "2025-03-01", "2025-04-30", 61)],
        visits=[],
    )
    data = export(folder, "authorizations", "--as-of", "2025-02-14")
    assert data["authorizations"][0]["units_per_week_needed"] == units(7)
