"""Contract tests for service code usage (data contract §7), view `service-codes`.

Period 2025-01-01..2025-03-31. Procedures: T1019 rate 6.00, G0156 not billable rate 4.00
(15-minute midpoint units: 60 min = 4 u, 90 min = 6 u, 120 min = 8 u), S9123 one unit per
visit (unit_minutes 0) rate 80.00. One authorization: C1/T1019 Q1, 100 u, rate 6.50.

Visits (provider, amount):
  S1 C1 T1019 2025-01-10  60 min 4 u P1  authorized at 6.50         -> 26.00
  S2 C1 T1019 2025-02-10  90 min 6 u P1  amount_billed 40.00        -> 40.00
  S3 C2 T1019 2025-02-11  60 min 4 u P1  unauthorized, procedure 6.00 -> 24.00
  S4 C1 G0156 2025-01-12 120 min 8 u P1  not billable, procedure 4.00 -> 32.00
  S5 C2 S9123 2025-03-03  50 min 1 u P2  unauthorized, 1 x 80.00    -> 80.00
  S9 C2 T1019 2025-03-20  60 min 4 u P1  billable=false, 6.00       -> 24.00
  S6 C1 T1019 2025-03-15 scheduled; S7 C1 T1019 2025-03-16 cancelled: not counted.
  S8 C1 T1019 2024-12-20 (before the period): not counted.

Payments (insurance_paid, patient_paid, paid_date):
  S1 20.00, 6.00, 2025-02-01;  S1 3.00, -, 2025-04-20 (after the period: still counts)
  S2 40.00, -, 2025-03-01;     S3 0.00, 24.00, 2025-03-05;   S5 75.00, -, 2025-03-20
  S8 26.00, -, 2025-05-01 (its visit is outside the period)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contract_data import auth, export, money, rows_by, timed, units, write_data


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The hand-worked agency of this module's docstring."""
    authorizations = [auth("A1", "C1", "T1019", "2025-01-01", "2025-03-31", 100, rate="6.50")]
    visits = [
        timed("S1", "C1", "T1019", "2025-01-10", 60, provider_id="P1"),
        timed("S2", "C1", "T1019", "2025-02-10", 90, provider_id="P1", amount_billed="40.00"),
        timed("S3", "C2", "T1019", "2025-02-11", 60, provider_id="P1"),
        timed("S4", "C1", "G0156", "2025-01-12", 120, provider_id="P1"),
        timed("S5", "C2", "S9123", "2025-03-03", 50, provider_id="P2"),
        timed("S9", "C2", "T1019", "2025-03-20", 60, provider_id="P1", billable="false"),
        timed("S6", "C1", "T1019", "2025-03-15", 60, provider_id="P1", status="scheduled"),
        timed("S7", "C1", "T1019", "2025-03-16", 60, provider_id="P1", status="cancelled"),
        timed("S8", "C1", "T1019", "2024-12-20", 60, provider_id="P1"),
    ]
    payments = [
        {"visit_id": "S1", "insurance_paid": "20.00", "patient_paid": "6.00",
         "paid_date": "2025-02-01"},
        {"visit_id": "S1", "insurance_paid": "3.00", "patient_paid": None,
         "paid_date": "2025-04-20"},
        {"visit_id": "S2", "insurance_paid": "40.00", "patient_paid": None,
         "paid_date": "2025-03-01"},
        {"visit_id": "S3", "insurance_paid": "0.00", "patient_paid": "24.00",
         "paid_date": "2025-03-05"},
        {"visit_id": "S5", "insurance_paid": "75.00", "patient_paid": None,
         "paid_date": "2025-03-20"},
        {"visit_id": "S8", "insurance_paid": "26.00", "patient_paid": None,
         "paid_date": "2025-05-01"},
    ]  # fmt: skip
    return write_data(
        tmp_path / "data", authorizations=authorizations, visits=visits, payments=payments
    )


def _codes(folder: Path, *options: str) -> dict[str, Any]:
    return rows_by(export(folder, "service-codes", *options)["service_codes"], "procedure_code")


def _check(row: Any, units_billed: float, visits: int, total: float, paid: float) -> None:
    assert row["units_billed"] == units(units_billed)
    assert row["visits"] == visits
    assert row["total_billed"] == money(total)
    assert row["insurance_paid"] == money(paid)


def test_usage_per_service_code_over_completed_visits(folder: Path) -> None:
    """It sums units, visits, amounts and insurance payments per procedure code."""
    # "Per `procedure_code`, over completed visits whose service date is in the period ...,
    # billable and non-billable alike unless filtered"
    # T1019: S1, S2, S3, S9 -> 4 visits; 4 + 6 + 4 + 4 = 18 u; 26 + 40 + 24 + 24 = 114.00;
    #        insurance 20 + 3 + 40 + 0 = 63.00 (S1's patient 6.00 and S3's 24.00 excluded).
    # G0156: S4 -> 1 visit, 8 u, 32.00, nothing paid.
    # S9123: S5 -> 1 visit, 1 u, 80.00, 75.00.
    codes = _codes(folder)
    assert set(codes) >= {"T1019", "G0156", "S9123"}
    _check(codes["T1019"], 18, 4, 114.00, 63.00)
    _check(codes["G0156"], 8, 1, 32.00, 0.00)
    _check(codes["S9123"], 1, 1, 80.00, 75.00)


def test_insurance_paid_excludes_patient_payments(folder: Path) -> None:
    """It counts only what the payer paid, not what the patient paid."""
    # "`insurance_paid` (payments by the payer only, patient payments excluded ...)"
    # T1019 with patient payments added would be 63 + 6 + 24 = 93.00; the report says 63.00.
    assert _codes(folder)["T1019"]["insurance_paid"] == money(63.00)


def test_payments_count_whatever_their_paid_date(folder: Path) -> None:
    """It counts S1's 3.00 paid on 20 April although the period ends on 31 March."""
    # "every payment in the source counts, whatever its `paid_date`"; the visit's date of
    # service decides: S1 (10 Jan) is in the period. Without it T1019 would show 60.00.
    assert _codes(folder)["T1019"]["insurance_paid"] == money(63.00)


def test_newest_payment_date_is_reported(folder: Path) -> None:
    """It says the date of the newest payment it includes."""
    # "Insurance paid changes as payments arrive: the report says the date of the newest
    # payment it includes." Included payments are those of the period's visits: the newest
    # is S1's of 2025-04-20. S8's payment of 2025-05-01 belongs to a visit outside the
    # period and is not included.
    data = export(folder, "service-codes")
    assert data["newest_payment_date"] == "2025-04-20"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # yes: T1019 S1, S2, S3 -> 3 visits, 14 u, 26 + 40 + 24 = 90.00, paid 63.00;
        #      S9123 S5 -> 1, 1 u, 80.00, 75.00.
        pytest.param(
            ("--billable", "yes"),
            {"T1019": (14, 3, 90.00, 63.00), "S9123": (1, 1, 80.00, 75.00)},
            id="billable-yes",
        ),
        # no: T1019 S9 (billable=false on the visit) -> 1, 4 u, 24.00, 0;
        #     G0156 S4 (procedure not billable) -> 1, 8 u, 32.00, 0.
        pytest.param(
            ("--billable", "no"),
            {"T1019": (4, 1, 24.00, 0.00), "G0156": (8, 1, 32.00, 0.00)},
            id="billable-no",
        ),
        # the chosen procedure code only: G0156 S4 -> 1, 8 u, 32.00, 0.
        pytest.param(
            ("--procedure", "G0156"), {"G0156": (8, 1, 32.00, 0.00)}, id="service-code-G0156"
        ),
        # the chosen provider's visits only: P2 delivered only S5 (S9123).
        pytest.param(("--provider", "P2"), {"S9123": (1, 1, 80.00, 75.00)}, id="provider-P2"),
    ],
)
def test_filters_keep_only_the_chosen_visits(
    folder: Path, options: tuple[str, str], expected: dict[str, tuple[float, int, float, float]]
) -> None:
    """It keeps only billable or non-billable visits, the chosen procedure code or the chosen
    provider's visits when filtered.
    """
    codes = _codes(folder, *options)
    listed = {code for code, row in codes.items() if row["visits"]}
    assert listed == set(expected)
    for code, (units_billed, visits, total, paid) in expected.items():
        _check(codes[code], units_billed, visits, total, paid)


def test_date_range_is_the_date_of_service(folder: Path) -> None:
    """It selects visits by date of service, not by payment date."""
    # February only: S2 (10 Feb) and S3 (11 Feb), T1019: 2 visits, 6 + 4 = 10 u,
    # 40 + 24 = 64.00, insurance 40.00 + 0.00 = 40.00 (S1's February payment belongs to a
    # January visit and is not counted).
    codes = rows_by(
        export(folder, "service-codes", frm="2025-02-01", to="2025-02-28")["service_codes"],
        "procedure_code",
    )
    assert {code for code, row in codes.items() if row["visits"]} == {"T1019"}
    _check(codes["T1019"], 10, 2, 64.00, 40.00)
