"""Contract tests for period metrics (data contract §5), the JSON export (§8) and bad input (§2).

One small agency, worked by hand. Procedures: T1019 rate 6.00, S5125 rate 5.00, 15-minute
units, midpoint: 30 min = (30 + 7) // 15 = 2 u, 60 min = 4 u, 90 min = 6 u, 120 min = 8 u,
180 min = 12 u. Period 2025-01-01..2025-03-31 (90 days) unless said otherwise.

Authorizations (days inclusive):
  M1 C1/T1019 2024-12-01..2025-02-28 = 31 + 31 + 28 = 90 days, 90 u, rate blank -> 6.00, MCD
  M2 C1/S5125 2025-01-01..2025-12-31 = 365 days, 100 u, rate blank -> 5.00, MCD
  M3 C2/T1019 2025-02-01..2025-03-31 = 28 + 31 = 59 days, 40 u, rate 6.50, PVT
  C3 has no authorization.

Prorated over Q1: M1 overlaps 1 Jan..28 Feb = 59 days -> 90 x 59 / 90 = 59;
M2 overlaps 90 days -> 100 x 90 / 365 = 24.657534; M3 overlaps all 59 days -> 40.
units_approved = 59 + 24.657534 + 40 = 123.657534.
amount_approved = 59 x 6.00 + 24.657534 x 5.00 + 40 x 6.50 = 354 + 123.287671 + 260
                = 737.287671 -> 737.29.

Visits (start 09:00 unless said; provider, case type, payer):
  V098 C2/T1019 2024-03-31  60 min  4 u  P1 PCS PVT  before the 12 trend months
  V099 C2/T1019 2024-04-10  60 min  4 u  P1 PCS PVT  unauthorized, trend month 2024-04
  V104 C1/T1019 2024-12-15  60 min  4 u  P1 PCS MCD  M1, trend month 2024-12
  V101 C1/T1019 2025-01-10  60 min  4 u  P1 PCS MCD  M1         4 x 6.00 = 24.00
  V102 C1/T1019 2025-02-14 120 min  8 u  P2 PCS MCD  M1         8 x 6.00 = 48.00
  V103 C1/T1019 2025-03-05  60 min  4 u  P1 DDA MCD  unauthorized (M1 ended) 24.00
  V105 C1/T1019 2025-03-20  60 min  4 u  P1 PCS MCD  scheduled
  V111 C1/S5125 2025-01-15  90 min  6 u  P2 DDA MCD  M2         6 x 5.00 = 30.00
  V112 C1/S5125 2025-02-20  30 min  2 u  P1 PCS MCD  M2         2 x 5.00 = 10.00
  V201 C2/T1019 2025-02-03  60 min  4 u  P1 DDA PVT  M3         4 x 6.50 = 26.00
  V202 C2/T1019 2025-03-10 180 min 12 u  P2 PCS PVT  M3        12 x 6.50 = 78.00
  V301 C3/T1019 2025-01-20  60 min  4 u  P1 PCS MCD  unauthorized           24.00
  V302 C3/T1019 2025-03-31 23:00-00:00 4 u P2 PCS MCD unauthorized, on 31 Mar  24.00

Q1 used: C1 4 + 8 + 4 + 6 + 2 = 24 u, 24 + 48 + 24 + 30 + 10 = 136.00;
         C2 4 + 12 = 16 u, 104.00; C3 4 + 4 = 8 u, 48.00. Total 48 u, 288.00.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from contract_data import (
    auth,
    export,
    flag_units,
    money,
    nonzero,
    rows_by,
    run,
    timed,
    units,
    write_data,
    write_table,
)

Q1_APPROVED = 59 + 100 * 90 / 365 + 40  # 123.657534
Q1_AMOUNT_APPROVED = 59 * 6.00 + 100 * 90 / 365 * 5.00 + 40 * 6.50  # 737.287671


def _agency(tmp_path: Path) -> Path:
    authorizations = [
        auth("M1", "C1", "T1019", "2024-12-01", "2025-02-28", 90, payer_id="MCD"),
        auth("M2", "C1", "S5125", "2025-01-01", "2025-12-31", 100, payer_id="MCD"),
        auth("M3", "C2", "T1019", "2025-02-01", "2025-03-31", 40, payer_id="PVT", rate="6.50"),
    ]

    def v(
        vid: str,
        client: str,
        code: str,
        day: str,
        minutes: int,
        provider: str,
        case_type: str,
        payer: str,
        start: str = "09:00",
        status: str = "completed",
    ) -> dict[str, object]:
        return timed(
            vid, client, code, day, minutes, start=start, provider_id=provider,
            case_type=case_type, payer_id=payer, status=status,
        )  # fmt: skip

    visits = [
        v("V098", "C2", "T1019", "2024-03-31", 60, "P1", "PCS", "PVT"),
        v("V099", "C2", "T1019", "2024-04-10", 60, "P1", "PCS", "PVT"),
        v("V104", "C1", "T1019", "2024-12-15", 60, "P1", "PCS", "MCD"),
        v("V101", "C1", "T1019", "2025-01-10", 60, "P1", "PCS", "MCD"),
        v("V102", "C1", "T1019", "2025-02-14", 120, "P2", "PCS", "MCD"),
        v("V103", "C1", "T1019", "2025-03-05", 60, "P1", "DDA", "MCD"),
        v("V105", "C1", "T1019", "2025-03-20", 60, "P1", "PCS", "MCD", status="scheduled"),
        v("V111", "C1", "S5125", "2025-01-15", 90, "P2", "DDA", "MCD"),
        v("V112", "C1", "S5125", "2025-02-20", 30, "P1", "PCS", "MCD"),
        v("V201", "C2", "T1019", "2025-02-03", 60, "P1", "DDA", "PVT"),
        v("V202", "C2", "T1019", "2025-03-10", 180, "P2", "PCS", "PVT"),
        v("V301", "C3", "T1019", "2025-01-20", 60, "P1", "PCS", "MCD"),
        v("V302", "C3", "T1019", "2025-03-31", 60, "P2", "PCS", "MCD", start="23:00"),
    ]
    return write_data(tmp_path / "data", authorizations=authorizations, visits=visits)


@pytest.fixture
def agency(tmp_path: Path) -> Path:
    """The hand-worked agency of this module's docstring, written as CSVs."""
    return _agency(tmp_path)


# --- Period totals ------------------------------------------------------------------------


def test_kpis_of_the_quarter(agency: Path) -> None:
    """It reports the quarter's units and amounts, approved prorated, and their ratio."""
    # "`units_used`, `amount_used`: completed billable visits whose service date is in the
    # period, unauthorized and over-authorization units included" -> 48 u, 288.00.
    # "`units_scheduled`: scheduled billable visits whose service date is in the period" -> V105.
    # "`utilization` = `units_used / units_approved`" = 48 / 123.657534 = 0.388169.
    kpis = export(agency, "agency")["kpis"]
    assert kpis["units_used"] == units(48)
    assert kpis["amount_used"] == money(288.00)
    assert kpis["units_scheduled"] == units(4)
    assert kpis["units_approved"] == units(Q1_APPROVED)
    assert kpis["amount_approved"] == money(Q1_AMOUNT_APPROVED)  # 737.29
    assert kpis["utilization"] == pytest.approx(48 / Q1_APPROVED, abs=1e-4)


def test_report_says_it_used_the_prorated_basis_by_default(agency: Path) -> None:
    """It states the basis of approved units, `prorated` unless asked otherwise."""
    # "this is the default basis `prorated` ... The report says which basis it used."
    data = export(agency, "agency")
    assert data["basis"] == "prorated"


def test_prorated_authorization_of_ninety_days_over_a_month(agency: Path) -> None:
    """It counts 31 of M1's 90 units in January (90 units x 31 / 90 days)."""
    # "each authorization counts in proportion to the days of it that fall in the period
    # (`units_approved × overlap_days / authorization_days`)"
    # M1: 90 x 31 / 90 = 31.0; amount at M1's rate 31 x 6.00 = 186.00.
    # Used in January, C1/T1019: V101 4 u, 24.00. Utilization 4 / 31 = 0.129032.
    data = export(agency, "procedure", "--procedure", "T1019", "--client", "C1",
                  frm="2025-01-01", to="2025-01-31")  # fmt: skip
    kpis = data["kpis"]
    assert kpis["units_approved"] == units(31.0)
    assert kpis["amount_approved"] == money(186.00)
    assert kpis["units_used"] == units(4)
    assert kpis["utilization"] == pytest.approx(4 / 31, abs=1e-4)


def test_prorated_authorization_of_a_year_over_february(agency: Path) -> None:
    """It counts 100 x 28 / 365 = 7.6712 of M2's units in February, not rounded per month."""
    # M2 100 u over 365 days; February has 28 days: 100 x 28 / 365 = 7.671233 -> 7.6712.
    # amount_approved 7.671233 x 5.00 = 38.356164 -> 38.36. Used: V112 2 u, 10.00.
    data = export(agency, "procedure", "--procedure", "S5125",
                  frm="2025-02-01", to="2025-02-28")  # fmt: skip
    kpis = data["kpis"]
    assert kpis["units_approved"] == units(100 * 28 / 365)
    assert kpis["amount_approved"] == money(100 * 28 / 365 * 5.00)
    assert kpis["units_used"] == units(2)
    assert kpis["amount_used"] == money(10.00)


def test_period_not_made_of_whole_months_is_prorated_by_day(agency: Path) -> None:
    """It prorates every authorization by the days of 10 Feb..15 Mar and counts visits by date."""
    # Overlaps: M1 10..28 Feb = 19 of 90 days -> 19; M2 19 + 15 = 34 of 365 -> 9.315068;
    # M3 34 of 59 -> 40 x 34 / 59 = 23.050847. Total 51.365915.
    # Used: V102 (14 Feb) 8 + V112 (20 Feb) 2 + V103 (5 Mar) 4 + V202 (10 Mar) 12 = 26 u;
    # V201 (3 Feb) is before the period. Amount 48 + 10 + 24 + 78 = 160.00.
    kpis = export(agency, "agency", frm="2025-02-10", to="2025-03-15")["kpis"]
    assert kpis["units_approved"] == units(19 + 100 * 34 / 365 + 40 * 34 / 59)
    assert kpis["units_used"] == units(26)
    assert kpis["amount_used"] == money(160.00)


def test_full_basis_counts_every_overlapping_authorization_whole(agency: Path) -> None:
    """It counts all units of each authorization overlapping the period under basis full."""
    # "Basis `full` counts every authorization that overlaps the period with all its units."
    # 90 + 100 + 40 = 230 u; 90 x 6.00 + 100 x 5.00 + 40 x 6.50 = 540 + 500 + 260 = 1300.00.
    data = export(agency, "agency", "--basis", "full")
    kpis = data["kpis"]
    assert kpis["units_approved"] == units(230)
    assert kpis["amount_approved"] == money(1300.00)
    assert kpis["utilization"] == pytest.approx(48 / 230, abs=1e-4)
    assert data["basis"] == "full"


# --- Rows by procedure, client, client x procedure ---------------------------------------


def test_rows_by_procedure(agency: Path) -> None:
    """It gives one row per procedure code with its approved and used figures."""
    # T1019: approved M1 59 + M3 40 = 99, 354 + 260 = 614.00;
    #        used C1 16 u (96.00) + C2 16 u (104.00) + C3 8 u (48.00) = 40 u, 248.00.
    # S5125: approved 24.657534, 123.29; used 8 u, 40.00.
    rows = rows_by(nonzero(export(agency, "agency")["by_procedure"]), "procedure_code")
    assert set(rows) == {"T1019", "S5125"}
    assert rows["T1019"]["units_approved"] == units(99)
    assert rows["T1019"]["amount_approved"] == money(614.00)
    assert rows["T1019"]["units_used"] == units(40)
    assert rows["T1019"]["amount_used"] == money(248.00)
    assert rows["S5125"]["units_approved"] == units(100 * 90 / 365)
    assert rows["S5125"]["amount_approved"] == money(100 * 90 / 365 * 5.00)
    assert rows["S5125"]["units_used"] == units(8)
    assert rows["S5125"]["amount_used"] == money(40.00)


def test_rows_by_client(agency: Path) -> None:
    """It gives one row per client with the client's name and the four figures."""
    # C1: approved 59 + 24.657534 = 83.657534, 354 + 123.287671 = 477.29; used 24, 136.00.
    # C2: approved 40, 260.00 (M3's own rate 6.50); used 16, 104.00.
    # C3: nothing approved; used 8, 48.00.
    rows = rows_by(nonzero(export(agency, "agency")["by_client"]), "client_id")
    assert set(rows) == {"C1", "C2", "C3"}
    assert rows["C1"]["client_name"] == "Ana Alvarez"
    assert rows["C1"]["units_approved"] == units(59 + 100 * 90 / 365)
    assert rows["C1"]["amount_approved"] == money(354 + 100 * 90 / 365 * 5.00)
    assert rows["C1"]["units_used"] == units(24)
    assert rows["C1"]["amount_used"] == money(136.00)
    assert rows["C2"]["client_name"] == "Ben Brooks"
    assert rows["C2"]["units_approved"] == units(40)
    assert rows["C2"]["amount_approved"] == money(260.00)
    assert rows["C2"]["units_used"] == units(16)
    assert rows["C2"]["amount_used"] == money(104.00)
    assert rows["C3"]["units_approved"] == units(0)
    assert rows["C3"]["amount_approved"] == money(0)
    assert rows["C3"]["units_used"] == units(8)
    assert rows["C3"]["amount_used"] == money(48.00)


def test_detail_rows_by_client_and_procedure(agency: Path) -> None:
    """It gives one detail row per client and procedure code."""
    rows = rows_by(nonzero(export(agency, "agency")["detail"]), "client_id", "procedure_code")
    assert set(rows) == {("C1", "T1019"), ("C1", "S5125"), ("C2", "T1019"), ("C3", "T1019")}
    expected = {
        # (units_approved, units_used, amount_approved, amount_used)
        ("C1", "T1019"): (59, 16, 354.00, 96.00),  # used 4 + 8 + 4; 24 + 48 + 24
        ("C1", "S5125"): (100 * 90 / 365, 8, 100 * 90 / 365 * 5.00, 40.00),
        ("C2", "T1019"): (40, 16, 260.00, 104.00),
        ("C3", "T1019"): (0, 8, 0.00, 48.00),
    }
    for key, (approved, used, amount_approved, amount_used) in expected.items():
        assert rows[key]["units_approved"] == units(approved), key
        assert rows[key]["units_used"] == units(used), key
        assert rows[key]["amount_approved"] == money(amount_approved), key
        assert rows[key]["amount_used"] == money(amount_used), key


def test_totals_reconcile_over_procedures_clients_and_detail(agency: Path) -> None:
    """It makes the rows by procedure, by client and in detail add up to the period total."""
    # "Totals reconcile: the sum over procedures and over clients equals the period total"
    data = export(agency, "agency")
    for table in ("by_procedure", "by_client", "detail"):
        for figure in ("units_approved", "units_used", "amount_approved", "amount_used"):
            total = sum(float(row[figure]) for row in data[table])
            assert total == pytest.approx(float(data["kpis"][figure]), abs=0.01), (table, figure)


# --- Monthly trend ------------------------------------------------------------------------

TREND_MONTHS = [
    "2024-04", "2024-05", "2024-06", "2024-07", "2024-08", "2024-09",
    "2024-10", "2024-11", "2024-12", "2025-01", "2025-02", "2025-03",
]  # fmt: skip

# Approved by month, prorated: M1 1 u a day (90 u / 90 days); M2 100 / 365 a day;
# M3 40 / 59 a day.
TREND_APPROVED = {
    "2024-12": 31,  # M1 31 days
    "2025-01": 31 + 100 * 31 / 365,  # 31 + 8.493151 = 39.493151
    "2025-02": 28 + 100 * 28 / 365 + 40 * 28 / 59,  # 28 + 7.671233 + 18.983051 = 54.654284
    "2025-03": 100 * 31 / 365 + 40 * 31 / 59,  # 8.493151 + 21.016949 = 29.510100
}
# Used by service date: Apr 2024 V099 4; Dec V104 4; Jan V101 4 + V111 6 + V301 4 = 14;
# Feb V102 8 + V112 2 + V201 4 = 14; Mar V103 4 + V202 12 + V302 4 = 20. V098 (Mar 2024) is
# outside the 12 months.
TREND_USED = {"2024-04": 4, "2024-12": 4, "2025-01": 14, "2025-02": 14, "2025-03": 20}


def test_monthly_trend_is_the_twelve_months_ending_with_the_month_of_to(agency: Path) -> None:
    """It lists April 2024 to March 2025 with approved (prorated) and used units per month."""
    # "Monthly trend: the 12 whole calendar months that end with the month of `to` ...;
    # each month's approved units on the prorated basis, used units by service date."
    monthly = export(agency, "agency")["monthly"]
    assert [row["month"] for row in monthly] == TREND_MONTHS
    for row in monthly:
        assert row["units_approved"] == units(TREND_APPROVED.get(row["month"], 0)), row
        assert row["units_used"] == units(TREND_USED.get(row["month"], 0)), row


def test_monthly_trend_is_whole_months_whatever_from_and_to(agency: Path) -> None:
    """It shows whole calendar months even when the period starts and ends mid-month."""
    # Period 10 Feb..15 Mar: the trend still ends with March 2025 and March is the whole
    # month: approved 29.510100, used 20 (V302 on 31 Mar included).
    monthly = export(agency, "agency", frm="2025-02-10", to="2025-03-15")["monthly"]
    assert [row["month"] for row in monthly] == TREND_MONTHS
    march = rows_by(monthly, "month")["2025-03"]
    assert march["units_approved"] == units(TREND_APPROVED["2025-03"])
    assert march["units_used"] == units(20)


def test_monthly_trend_follows_the_filters(agency: Path) -> None:
    """It shows only client C2's months when filtered to C2."""
    # C2: V099 Apr 2024 4 u; V201 Feb 4 u; V202 Mar 12 u. M3 40 / 59 a day:
    # Feb 40 x 28 / 59 = 18.983051, Mar 40 x 31 / 59 = 21.016949.
    monthly = rows_by(export(agency, "client", "--client", "C2")["monthly"], "month")
    assert monthly["2024-04"]["units_used"] == units(4)
    assert monthly["2025-02"]["units_used"] == units(4)
    assert monthly["2025-03"]["units_used"] == units(12)
    assert monthly["2025-01"]["units_approved"] == units(0)
    assert monthly["2025-02"]["units_approved"] == units(40 * 28 / 59)
    assert monthly["2025-03"]["units_approved"] == units(40 * 31 / 59)


def test_the_month_of_the_balance_date_is_partial_with_its_scheduled_units(agency: Path) -> None:
    """A month that had not ended on the balance date is partial; each month has the units
    of its scheduled visits.
    """
    # "`units_scheduled` (scheduled billable visits with a service date in the month) and
    # `partial`: true when the month had not ended on the balance date (`--as-of`, default
    # `to`)". V105 (C1/T1019, 20 Mar 2025, 4 u) is the one scheduled visit.
    whole = rows_by(export(agency, "agency")["monthly"], "month")
    assert not any(row["partial"] for row in whole.values())
    assert {m: r["units_scheduled"] for m, r in whole.items() if r["units_scheduled"]} == {
        "2025-03": 4
    }
    to_date = export(agency, "agency", "--as-of", "2025-03-12")["monthly"]
    assert [row["month"] for row in to_date if row["partial"]] == ["2025-03"]
    march = rows_by(to_date, "month")["2025-03"]
    assert (march["units_used"], march["units_scheduled"]) == (units(20), units(4))
    assert [r["units_used"] for r in to_date] == [r["units_used"] for r in whole.values()]
    mid = export(agency, "agency", frm="2025-02-10", to="2025-03-15")["monthly"]
    assert [row["month"] for row in mid if row["partial"]] == ["2025-03"]
    assert list(mid[0]) == [
        "month", "units_approved", "units_used", "amount_approved", "amount_used",
        "units_scheduled", "partial",
    ]  # fmt: skip


def test_monthly_sums_equal_the_period_of_whole_months(agency: Path) -> None:
    """It makes the 12 months add up to the totals of a period of those 12 whole months."""
    # "and so does the sum over the months when the period is made of whole months"
    # 1 Apr 2024..31 Mar 2025: used 4 + 4 + 14 + 14 + 20 = 56.
    data = export(agency, "agency", frm="2024-04-01", to="2025-03-31")
    assert sum(r["units_used"] for r in data["monthly"]) == units(data["kpis"]["units_used"])
    assert data["kpis"]["units_used"] == units(56)
    approved = sum(r["units_approved"] for r in data["monthly"])
    assert approved == pytest.approx(data["kpis"]["units_approved"], abs=0.001)


# --- Filters ------------------------------------------------------------------------------


def test_client_filter(agency: Path) -> None:
    """It reports only client C1's visits and authorizations in the client view."""
    # C1: used 24 u, 136.00; approved 83.657534 u, 477.29; scheduled V105 4 u.
    kpis = export(agency, "client", "--client", "C1")["kpis"]
    assert kpis["units_used"] == units(24)
    assert kpis["amount_used"] == money(136.00)
    assert kpis["units_approved"] == units(59 + 100 * 90 / 365)
    assert kpis["amount_approved"] == money(354 + 100 * 90 / 365 * 5.00)
    assert kpis["units_scheduled"] == units(4)
    assert kpis["utilization"] == pytest.approx(24 / (59 + 100 * 90 / 365), abs=1e-4)


def test_client_without_authorizations_has_no_utilization(agency: Path) -> None:
    """It reports utilization as null for a client with nothing approved."""
    # "`utilization` = `units_used / units_approved` (none when nothing approved)"
    # C3: used V301 + V302 = 8 u, 48.00; approved 0.
    kpis = export(agency, "client", "--client", "C3")["kpis"]
    assert kpis["units_approved"] == units(0)
    assert kpis["units_used"] == units(8)
    assert kpis["amount_used"] == money(48.00)
    assert kpis["utilization"] is None


def test_procedure_filter(agency: Path) -> None:
    """It reports only procedure S5125 in the procedure view."""
    # S5125: used 8 u, 40.00; approved 24.657534, 123.29; utilization 8 / 24.657534 = 0.324444.
    kpis = export(agency, "procedure", "--procedure", "S5125")["kpis"]
    assert kpis["units_used"] == units(8)
    assert kpis["amount_used"] == money(40.00)
    assert kpis["units_approved"] == units(100 * 90 / 365)
    assert kpis["amount_approved"] == money(100 * 90 / 365 * 5.00)
    assert kpis["utilization"] == pytest.approx(8 / (100 * 90 / 365), abs=1e-4)


@pytest.mark.parametrize(
    ("payer", "approved", "amount_approved", "used", "amount_used", "scheduled"),
    [
        # MCD: M1 + M2 = 83.657534 u, 477.29; visits V101 4 + V102 8 + V103 4 + V111 6
        # + V112 2 + V301 4 + V302 4 = 32 u, 24 + 48 + 24 + 30 + 10 + 24 + 24 = 184.00; V105.
        ("MCD", 59 + 100 * 90 / 365, 354 + 100 * 90 / 365 * 5.00, 32, 184.00, 4),
        # PVT: M3 40 u, 260.00; V201 4 + V202 12 = 16 u, 104.00.
        ("PVT", 40, 260.00, 16, 104.00, 0),
    ],
)
def test_payer_filter(
    agency: Path,
    payer: str,
    approved: float,
    amount_approved: float,
    used: int,
    amount_used: float,
    scheduled: int,
) -> None:
    """It reports only the payer's authorizations and visits."""
    kpis = export(agency, "agency", "--payer", payer)["kpis"]
    assert kpis["units_approved"] == units(approved)
    assert kpis["amount_approved"] == money(amount_approved)
    assert kpis["units_used"] == units(used)
    assert kpis["amount_used"] == money(amount_used)
    assert kpis["units_scheduled"] == units(scheduled)


@pytest.mark.parametrize(
    ("option", "value", "used", "amount_used", "scheduled"),
    [
        # P1: V101 4 + V103 4 + V112 2 + V201 4 + V301 4 = 18 u; 24 + 24 + 10 + 26 + 24 = 108.
        ("--provider", "P1", 18, 108.00, 4),
        # P2: V102 8 + V111 6 + V202 12 + V302 4 = 30 u; 48 + 30 + 78 + 24 = 180.00.
        ("--provider", "P2", 30, 180.00, 0),
        # DDA: V103 4 + V111 6 + V201 4 = 14 u; 24 + 30 + 26 = 80.00.
        ("--case-type", "DDA", 14, 80.00, 0),
        # PCS: V101 4 + V102 8 + V112 2 + V202 12 + V301 4 + V302 4 = 34 u;
        # 24 + 48 + 10 + 78 + 24 + 24 = 208.00; scheduled V105.
        ("--case-type", "PCS", 34, 208.00, 4),
    ],
)
def test_provider_and_case_type_filters_leave_authorizations_whole(
    agency: Path, option: str, value: str, used: int, amount_used: float, scheduled: int
) -> None:
    """It filters visits by provider or case type but keeps every authorization approved."""
    # Authorizations have no provider or case type: approved stays 123.657534 u, 737.29.
    kpis = export(agency, "agency", option, value)["kpis"]
    assert kpis["units_used"] == units(used)
    assert kpis["amount_used"] == money(amount_used)
    assert kpis["units_scheduled"] == units(scheduled)
    assert kpis["units_approved"] == units(Q1_APPROVED)
    assert kpis["amount_approved"] == money(Q1_AMOUNT_APPROVED)
    assert kpis["utilization"] == pytest.approx(used / Q1_APPROVED, abs=1e-4)


def test_flags_list_visits_in_the_period_that_match_the_filters(agency: Path) -> None:
    """It lists unauthorized visits of the period only, and only those the filters keep."""
    # "Flags list the visits whose service date is in the period and that match the filters"
    # Q1 unauthorized: V103 4, V301 4, V302 4 (V098 and V099 are before the period).
    assert flag_units(export(agency, "agency"), "unauthorized_service") == {
        "V103": units(4),
        "V301": units(4),
        "V302": units(4),
    }
    assert set(flag_units(export(agency, "client", "--client", "C1"), "unauthorized_service")) == {
        "V103"
    }
    assert set(
        flag_units(export(agency, "agency", "--provider", "P2"), "unauthorized_service")
    ) == {"V302"}


def test_json_goes_to_standard_output_without_out(
    agency: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It prints the JSON export to standard output when no --out is given."""
    import json

    from utilization.cli import main

    rc = main(["export", "agency", "--data", str(agency), "--from", "2025-01-01",
               "--to", "2025-03-31", "--format", "json"])  # fmt: skip
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kpis"]["units_used"] == units(48)


# --- Bad input (§2) -----------------------------------------------------------------------


def _bad_folder(tmp_path: Path) -> Path:
    """One bad row of each kind; every table's header is row 1, its first data row is row 2."""
    procedures = [
        {"procedure_code": "T1019", "description": "Personal care", "unit_minutes": 15,
         "rate": "6.00", "rounding": None},                                       # row 2 ok
        {"procedure_code": "X999", "description": "Odd", "unit_minutes": 15,
         "rate": "5.00", "rounding": "banker"},                                   # row 3
        {"procedure_code": "S5125", "description": "Attendant care", "unit_minutes": 15,
         "rate": "abc", "rounding": None},                                        # row 4
    ]  # fmt: skip
    authorizations = [
        auth("A1", "C1", "T1019", "2025-01-01", "2025-03-31", 100),  # row 2 ok
        auth("A2", "C1", "T1019", "2025-03-01", "2025-02-01", 10),  # row 3 end before start
        auth("A3", "C9", "T1019", "2025-01-01", "2025-03-31", 10),  # row 4 unknown client
        auth("A4", "C1", "T1019", "2025-01-01", "2025-03-31", "-5"),  # row 5 negative units
        auth("A5", "C1", "T1019", "2025-13-01", "2025-03-31", 10),  # row 6 bad date
        auth("A6", "C1", "Z000", "2025-01-01", "2025-03-31", 10),  # row 7 unknown procedure
    ]
    visits = [
        timed("V1", "C1", "T1019", "2025-01-10", 60),  # row 2 ok, 4 u
        {**timed("V2", "C1", "T1019", "2025-01-11", 60, start="10:00"),
         "end": "2025-01-11 09:00:00"},                             # row 3 end before start
        timed("V3", "C9", "T1019", "2025-01-12", 60),               # row 4 unknown client
        timed("V4", "C1", "ZZZ", "2025-01-13", 60),                 # row 5 unknown procedure
        {**timed("V5", "C1", "T1019", "2025-01-14", 60), "start": "not a date"},  # row 6
        timed("V6", "C1", "T1019", "2025-01-15", 60, units="four"),  # row 7 non-numeric units
        timed("V7", "C1", "T1019", "2025-01-16", 60, amount_billed="-3.00"),  # row 8 negative
        timed("V8", "C1", "T1019", "2025-01-17", 1500, start="08:00"),  # row 9 long: kept
    ]  # fmt: skip
    payments = [
        {"visit_id": "V1", "insurance_paid": "20.00", "patient_paid": None},  # row 2 ok
        {"visit_id": "V1", "insurance_paid": "x", "patient_paid": None},  # row 3 non-numeric
    ]
    clients = [
        {"client_id": "C1", "client_name": "Ana Alvarez"},
        {"client_id": "C2", "client_name": "Ben Brooks"},
    ]
    return write_data(tmp_path / "data", authorizations=authorizations, visits=visits,
                      procedures=procedures, clients=clients, payments=payments)  # fmt: skip


BAD_REJECTS = {
    # (table, row, column): value as written
    ("procedures", 3, "rounding"): "banker",  # "unknown rounding rule names"
    ("procedures", 4, "rate"): "abc",  # "non-numeric ... rates"
    ("authorizations", 3, "end_date"): "2025-02-01",  # "end_date is before its start_date"
    ("authorizations", 4, "client_id"): "C9",  # "client_id ... not in its catalog"
    ("authorizations", 5, "units_approved"): "-5",  # "negative ... units"
    ("authorizations", 6, "start_date"): "2025-13-01",  # "unparseable dates"
    ("authorizations", 7, "procedure_code"): "Z000",  # "procedure_code ... not in its catalog"
    ("visits", 3, "end"): "2025-01-11 09:00:00",  # "`end` before `start`"
    ("visits", 4, "client_id"): "C9",
    ("visits", 5, "procedure_code"): "ZZZ",
    ("visits", 6, "start"): "not a date",
    ("visits", 7, "units"): "four",  # "non-numeric ... units"
    ("visits", 8, "amount_billed"): "-3.00",  # "negative ... amounts"
    ("payments", 3, "insurance_paid"): "x",
}


def test_each_bad_row_is_rejected_with_table_row_column_value_and_reason(tmp_path: Path) -> None:
    """It rejects each bad row, naming where it was and why, and still makes the report."""
    # "Every row that cannot be used goes to a rejects list with its table, row number, the
    # value and the reason"
    data = export(_bad_folder(tmp_path), "agency")
    found = {(r["table"], int(r["row"]), r["column"]): r for r in data["rejects"]}
    assert set(found) == set(BAD_REJECTS)
    for key, value in BAD_REJECTS.items():
        assert str(found[key]["value"]) == value, key
        assert str(found[key]["reason"]).strip(), key


def test_row_counts_add_up(tmp_path: Path) -> None:
    """It counts, per table, rows read = rows used + rows rejected."""
    # "the report states how many rows were rejected"
    expected = {
        # table: (rows_read, rows_used, rows_rejected)
        "clients": (2, 2, 0),
        "procedures": (3, 1, 2),
        "authorizations": (6, 1, 5),
        "visits": (8, 2, 6),  # V1 and the long visit V8 are used
        "payments": (2, 1, 1),
    }
    data = export(_bad_folder(tmp_path), "agency")
    counts = rows_by(data["row_counts"], "table")
    for table, (read, used, rejected) in expected.items():
        row = counts[table]
        assert (row["rows_read"], row["rows_used"], row["rows_rejected"]) == (read, used, rejected)
    for row in data["row_counts"]:
        assert row["rows_read"] == row["rows_used"] + row["rows_rejected"], row


def test_long_visit_among_bad_rows_is_kept_and_flagged(tmp_path: Path) -> None:
    """It keeps the 25-hour visit with its units and flags it, while rejecting the bad rows."""
    # V8 1500 min -> (1500 + 7) // 15 = 100 u; V1 4 u; units_used 104.
    data = export(_bad_folder(tmp_path), "agency")
    assert data["kpis"]["units_used"] == units(104)
    assert {r["visit_id"] for r in data["flags"] if r["kind"] == "long_visit"} == {"V8"}


def test_bad_minutes_and_service_dates_are_rejected(tmp_path: Path) -> None:
    """It rejects negative or non-numeric minutes and impossible service dates."""
    visits = [
        {"visit_id": "M1", "client_id": "C1", "procedure_code": "T1019",
         "service_date": "2025-02-10", "minutes": "60"},   # row 2 ok, 4 u
        {"visit_id": "M2", "client_id": "C1", "procedure_code": "T1019",
         "service_date": "2025-02-11", "minutes": "-5"},   # row 3
        {"visit_id": "M3", "client_id": "C1", "procedure_code": "T1019",
         "service_date": "2025-02-12", "minutes": "abc"},  # row 4
        {"visit_id": "M4", "client_id": "C1", "procedure_code": "T1019",
         "service_date": "2025-02-30", "minutes": "60"},   # row 5
    ]  # fmt: skip
    authorizations = [auth("A1", "C1", "T1019", "2025-01-01", "2025-03-31", 100)]
    folder = write_data(tmp_path / "data", authorizations=authorizations, visits=visits)
    data = export(folder, "agency")
    found = {(r["table"], int(r["row"]), r["column"]): str(r["value"]) for r in data["rejects"]}
    assert found == {
        ("visits", 3, "minutes"): "-5",
        ("visits", 4, "minutes"): "abc",
        ("visits", 5, "service_date"): "2025-02-30",
    }
    assert data["kpis"]["units_used"] == units(4)
    counts = rows_by(data["row_counts"], "table")["visits"]
    assert (counts["rows_read"], counts["rows_used"], counts["rows_rejected"]) == (4, 1, 3)


def test_duplicate_ids_reject_the_later_row(tmp_path: Path) -> None:
    """It keeps the first row of a duplicated visit_id or authorization_id and rejects the next."""
    # "Examples that must be caught: duplicate `visit_id` or `authorization_id`"
    # Reading assumed: the first occurrence is used, each later one is rejected.
    # A1 (row 2) 100 u is kept, A1 (row 3) 5 u rejected; V1 (row 2) 60 min = 4 u kept,
    # V1 (row 3) 120 min rejected -> units_used 4, units_approved 100.
    authorizations = [
        auth("A1", "C1", "T1019", "2025-01-01", "2025-03-31", 100),
        auth("A1", "C1", "T1019", "2025-01-01", "2025-03-31", 5),
    ]
    visits = [
        timed("V1", "C1", "T1019", "2025-01-10", 60),
        timed("V1", "C1", "T1019", "2025-01-11", 120),
    ]
    folder = write_data(tmp_path / "data", authorizations=authorizations, visits=visits)
    data = export(folder, "agency")
    found = {(r["table"], int(r["row"]), r["column"]): str(r["value"]) for r in data["rejects"]}
    assert found == {
        ("authorizations", 3, "authorization_id"): "A1",
        ("visits", 3, "visit_id"): "V1",
    }
    assert data["kpis"]["units_used"] == units(4)
    assert data["kpis"]["units_approved"] == units(100)


def _good_folder(tmp_path: Path) -> Path:
    authorizations = [auth("A1", "C1", "T1019", "2025-01-01", "2025-03-31", 100)]
    visits = [timed("V1", "C1", "T1019", "2025-01-10", 60)]
    return write_data(tmp_path / "data", authorizations=authorizations, visits=visits)


def _export_args(folder: Path, view: str = "agency") -> list[str]:
    return ["export", view, "--data", str(folder), "--from", "2025-01-01", "--to",
            "2025-03-31", "--format", "json"]  # fmt: skip


def _drop_procedure_code_column(folder: Path) -> None:
    write_table(folder, "visits", [
        {"visit_id": "V1", "client_id": "C1", "start": "2025-01-10 09:00:00",
         "end": "2025-01-10 10:00:00"},
    ])  # fmt: skip


def _remove_authorizations_table(folder: Path) -> None:
    (folder / "authorizations.csv").unlink()


def _empty_visits_file(folder: Path) -> None:
    (folder / "visits.csv").write_bytes(b"")


@pytest.mark.parametrize(
    ("spoil", "named"),
    [
        # "a required table or column that is missing is a clear error naming the table, the
        # column and the columns that were found."
        pytest.param(
            _drop_procedure_code_column,
            ("visits", "procedure_code", "visit_id", "client_id", "start", "end"),
            id="missing-required-column",
        ),
        pytest.param(_remove_authorizations_table, ("authorizations",), id="missing-table"),
        # "A file that cannot be read at all (wrong encoding, not a CSV, empty) is one clear
        # error, not a traceback."
        pytest.param(_empty_visits_file, ("visits",), id="empty-file"),
    ],
)
def test_unusable_data_is_one_clear_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    spoil: Callable[[Path], None],
    named: tuple[str, ...],
) -> None:
    """It exits 1 naming the table (and, for a missing column, the column and the columns
    it found), without a traceback.
    """
    from utilization.cli import main

    folder = _good_folder(tmp_path)
    spoil(folder)
    rc = main(_export_args(folder))
    err = capsys.readouterr().err
    assert rc == 1
    for word in named:
        assert word in err, word
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "view",
    [
        "client",  # the client view needs --client
        "procedure",  # the procedure view needs --procedure
        "no-such-view",
        "--bogus-option",
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, view: str) -> None:
    """It exits 2 when the command line is not usable."""
    # Brief: "0 ok; 1 data unusable; 2 usage error" -- a view without its required option is
    # a usage error, not unusable data.
    folder = _good_folder(tmp_path)
    args = _export_args(folder, view)
    if view.startswith("--"):
        args = [*_export_args(folder), view]
    rc, _out, err = run(args)
    assert rc == 2
    assert "Traceback" not in err


def test_detail_per_client_and_code_also_when_the_catalog_lacks_a_client(agency: Path) -> None:
    """Q1 used and scheduled per (client, code), from the module docstring: C1 T1019 V101 4 +
    V102 8 + V103 4 = 16 u, $96.00, V105 4 u scheduled; C1 S5125 6 + 2 = 8 u, $40.00; C2
    T1019 4 + 12 = 16 u, $104.00; C3 T1019 4 + 4 = 8 u, $48.00. The same when the clients
    catalog lacks C3 (a dataset put together by hand: its visits are grouped by their texts).
    """
    from dataclasses import replace

    from utilization import load
    from utilization.metrics import detail
    from utilization.period import Filters, Period
    from utilization.selection import Selection

    dataset = load(agency)
    without_c3 = replace(dataset, clients=dataset.clients[dataset.clients["client_id"] != "C3"])
    q1 = Period.parse("2025-Q1")
    for data in (dataset, without_c3):
        table = detail(Selection(data, q1, Filters(), q1.end))
        got = {
            (r.client_id, r.procedure_code): (r.units_used, r.units_scheduled, r.amount_used)
            for r in table.itertuples()
        }
        assert got == {
            ("C1", "T1019"): (16, 4, 96.0),
            ("C1", "S5125"): (8, 0, 40.0),
            ("C2", "T1019"): (16, 0, 104.0),
            ("C3", "T1019"): (8, 0, 48.0),
        }
