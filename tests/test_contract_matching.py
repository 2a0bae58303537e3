"""Contract tests for matching visits to authorizations and for visit amounts (data contract §4).

Procedures (tests/contract_data.py): T1019 rate 6.00, S5125 rate 5.00, G0156 not billable,
all with 15-minute units and the default midpoint rule, so a 60-minute visit is
(60 + 7) // 15 = 4 units, 90 minutes is 97 // 15 = 6 units, 120 minutes is 127 // 15 = 8 units.
Report period: 2025-01-01..2025-03-31 unless said otherwise; as-of date = the `to` date.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contract_data import (
    auth,
    export,
    flag_units,
    flagged,
    money,
    rows_by,
    timed,
    units,
    write_data,
)

# --- FIFO: the authorization that ends first is used first ------------------------------


def _fifo_folder(tmp_path: Path) -> Path:
    """C1/T1019 with two overlapping authorizations; visits written out of time order.

    A1: 2025-01-05..2025-01-31, 6 units, rate blank -> the procedure's 6.00.
    A2: 2025-01-01..2025-03-31, 30 units, rate 6.50.
    V1 2025-01-06 09:00, 60 min = 4 u; V2 2025-01-07 08:00, 90 min = 6 u;
    V3 2025-01-07 13:00, 120 min = 8 u.
    """
    authorizations = [
        auth("A2", "C1", "T1019", "2025-01-01", "2025-03-31", 30, rate="6.50"),
        auth("A1", "C1", "T1019", "2025-01-05", "2025-01-31", 6),
    ]
    visits = [
        timed("V3", "C1", "T1019", "2025-01-07", 120, start="13:00"),
        timed("V2", "C1", "T1019", "2025-01-07", 90, start="08:00"),
        timed("V1", "C1", "T1019", "2025-01-06", 60, start="09:00"),
    ]
    return write_data(tmp_path / "data", authorizations=authorizations, visits=visits)


def test_authorization_ending_first_is_used_first_and_a_visit_splits_across_two(
    tmp_path: Path,
) -> None:
    """It uses A1 (ends 31 Jan) before A2 (ends 31 Mar) and splits V2 across both."""
    # "Where several authorizations hold the date, the one that ends first and still has units
    # left is used first. A visit that needs more units than are left uses what is left"
    # Time order V1, V2, V3 (start, then visit_id):
    #   V1 4 u -> A1 (6 -> 2 left)
    #   V2 6 u -> A1 2 (exhausted) + A2 4 (30 -> 26 left)
    #   V3 8 u -> A2 (26 -> 18 left)
    # A1 used 6, remaining 0; A2 used 4 + 8 = 12, remaining 30 - 12 = 18.
    data = export(_fifo_folder(tmp_path), "authorizations")
    balance = rows_by(data["authorizations"], "authorization_id")
    assert balance["A1"]["units_used"] == units(6)
    assert balance["A1"]["units_remaining"] == units(0)
    assert balance["A2"]["units_used"] == units(12)
    assert balance["A2"]["units_remaining"] == units(18)
    assert flag_units(data, "over_authorization") == {}
    assert flag_units(data, "unauthorized_service") == {}


def test_visits_are_applied_in_time_order_and_priced_at_the_first_authorization_used(
    tmp_path: Path,
) -> None:
    """It prices each visit at the rate of the first authorization it used units from."""
    # "Visits are applied in time order (start, then `visit_id`)." "The rate is that of the
    # first authorization the visit used units from".
    #   V1 4 u from A1 at 6.00 = 24.00
    #   V2 6 u, first from A1 -> 6 x 6.00 = 36.00 (all its units at A1's rate)
    #   V3 8 u from A2 at 6.50 = 52.00
    # amount_used = 24 + 36 + 52 = 112.00 (in file order V3, V2, V1 it would be
    # 8 x 6.00 + 6 x 6.50 + 4 x 6.50 = 48 + 39 + 26 = 113.00).
    # units_used = 4 + 6 + 8 = 18.
    # Approved, prorated over Q1 (both lie inside it): 6 + 30 = 36 units;
    # amount_approved = 6 x 6.00 + 30 x 6.50 = 36 + 195 = 231.00; utilization 18 / 36 = 0.5.
    data = export(_fifo_folder(tmp_path), "agency")
    kpis = data["kpis"]
    assert kpis["units_used"] == units(18)
    assert kpis["amount_used"] == money(112.00)
    assert kpis["units_approved"] == units(36)
    assert kpis["amount_approved"] == money(231.00)
    assert kpis["utilization"] == units(0.5)
    row = rows_by(data["by_procedure"], "procedure_code")["T1019"]
    assert row["units_used"] == units(18)
    assert row["amount_used"] == money(112.00)
    assert row["units_approved"] == units(36)
    assert row["amount_approved"] == money(231.00)
    detail = rows_by(data["detail"], "client_id", "procedure_code")[("C1", "T1019")]
    assert detail["units_used"] == units(18)
    assert detail["amount_used"] == money(112.00)


def test_authorizations_ending_the_same_day_are_used_in_authorization_id_order(
    tmp_path: Path,
) -> None:
    """It uses B1 before B2 when both end on the same day, whatever the file order."""
    # "Ties between authorizations ending the same day go by `authorization_id`."
    # B2 (listed first, rate 6.00) and B1 (rate 7.00), both 2025-01-01..2025-01-31, 10 units.
    # Visit 60 min = 4 u -> B1: B1 used 4, B2 used 0; amount 4 x 7.00 = 28.00.
    authorizations = [
        auth("B2", "C2", "T1019", "2025-01-01", "2025-01-31", 10, rate="6.00"),
        auth("B1", "C2", "T1019", "2025-01-01", "2025-01-31", 10, rate="7.00"),
    ]
    visits = [timed("T1", "C2", "T1019", "2025-01-15", 60)]
    folder = write_data(tmp_path / "data", authorizations=authorizations, visits=visits)
    balance = rows_by(export(folder, "authorizations")["authorizations"], "authorization_id")
    assert balance["B1"]["units_used"] == units(4)
    assert balance["B2"]["units_used"] == units(0)
    assert export(folder, "agency")["kpis"]["amount_used"] == money(28.00)


def test_visits_starting_at_the_same_time_are_applied_in_visit_id_order(tmp_path: Path) -> None:
    """It applies VA before VB when both start at the same moment."""
    # A1 2025-01-01..2025-01-31, 4 units, rate 6.00; A2 2025-01-01..2025-03-31, 100 units,
    # rate 6.50. VA 60 min = 4 u, VB 120 min = 8 u, both at 2025-01-10 09:00 (VB listed first).
    # VA first: VA 4 u -> A1 (exhausted), 4 x 6.00 = 24.00; VB 8 u -> A2, 8 x 6.50 = 52.00.
    # Total 76.00 (VB first would be 8 x 6.00 + 4 x 6.50 = 74.00).
    authorizations = [
        auth("A1", "C1", "T1019", "2025-01-01", "2025-01-31", 4, rate="6.00"),
        auth("A2", "C1", "T1019", "2025-01-01", "2025-03-31", 100, rate="6.50"),
    ]
    visits = [
        timed("VB", "C1", "T1019", "2025-01-10", 120),
        timed("VA", "C1", "T1019", "2025-01-10", 60),
    ]
    folder = write_data(tmp_path / "data", authorizations=authorizations, visits=visits)
    assert export(folder, "agency")["kpis"]["amount_used"] == money(76.00)
    balance = rows_by(export(folder, "authorizations")["authorizations"], "authorization_id")
    assert balance["A1"]["units_used"] == units(4)  # VA's 4 units
    assert balance["A2"]["units_used"] == units(8)  # VB's 8 units


def test_ids_that_look_like_numbers_break_ties_as_text(tmp_path: Path) -> None:
    """Ids compare as text, character by character (docs/data-contract.md §4): "10" comes
    before "9", and "011" before both.
    """
    # Authorizations "9" (rate 7.00) and "10" (rate 6.00) both 2025-01-01..2025-01-31, 4
    # units each. Visits "9" (60 min = 4 u), "10" (60 min = 4 u) and "011" (30 min = 2 u),
    # all at 2025-01-10 09:00. In text order "011" takes 2 u of "10" (2 x 6.00 = 12.00),
    # "10" takes its last 2 and 2 of "9" (priced at "10"'s 6.00: 24.00), "9" takes 2 of
    # "9" and is 2 over (4 x 7.00 = 28.00): 64.00. Compared as numbers, visit "9" would go
    # first and take authorization "9", and "011" (11) would be the one 2 units over.
    authorizations = [
        auth("9", "C1", "T1019", "2025-01-01", "2025-01-31", 4, rate="7.00"),
        auth("10", "C1", "T1019", "2025-01-01", "2025-01-31", 4, rate="6.00"),
    ]
    visits = [
        timed("9", "C1", "T1019", "2025-01-10", 60),
        timed("10", "C1", "T1019", "2025-01-10", 60),
        timed("011", "C1", "T1019", "2025-01-10", 30),
    ]
    folder = write_data(tmp_path / "data", authorizations=authorizations, visits=visits)
    data = export(folder, "agency")
    assert data["kpis"]["amount_used"] == money(64.00)
    assert flag_units(data, "over_authorization") == {"9": 2}
    balance = rows_by(export(folder, "authorizations")["authorizations"], "authorization_id")
    assert (balance["10"]["units_used"], balance["9"]["units_used"]) == (units(4), units(4))


# --- Over-authorization and unauthorized service ----------------------------------------


def _over_folder(tmp_path: Path) -> Path:
    """C2/S5125 (procedure rate 5.00): two small authorizations that both run out.

    B1: 2025-02-01..2025-02-28, 4 units, rate 5.25; B2: 2025-02-01..2025-03-31, 2 units,
    rate 5.50. W1 2025-02-10 120 min = 8 u; W2 2025-02-11 60 min = 4 u.
    """
    authorizations = [
        auth("B1", "C2", "S5125", "2025-02-01", "2025-02-28", 4, rate="5.25"),
        auth("B2", "C2", "S5125", "2025-02-01", "2025-03-31", 2, rate="5.50"),
    ]
    visits = [
        timed("W1", "C2", "S5125", "2025-02-10", 120),
        timed("W2", "C2", "S5125", "2025-02-11", 60),
    ]
    return write_data(tmp_path / "data", authorizations=authorizations, visits=visits)


def test_units_beyond_every_authorization_are_over_authorization(tmp_path: Path) -> None:
    """It flags the units left over once both authorizations run out as over-authorization."""
    # "A visit that needs more units than are left uses what is left and the rest are
    # **over-authorization** units (delivered, not reimbursable)."
    # W1 8 u: B1 4 (ends first) + B2 2 + over 2. W2 4 u: nothing left -> over 4.
    # B1 used 4, remaining 0; B2 used 2, remaining 0.
    data = export(_over_folder(tmp_path), "authorizations")
    assert flag_units(data, "over_authorization") == {"W1": units(2), "W2": units(4)}
    assert flag_units(data, "unauthorized_service") == {}
    balance = rows_by(data["authorizations"], "authorization_id")
    assert balance["B1"]["units_used"] == units(4)
    assert balance["B1"]["units_remaining"] == units(0)
    assert balance["B2"]["units_used"] == units(2)
    assert balance["B2"]["units_remaining"] == units(0)


def test_over_authorization_units_count_as_used_and_are_priced(tmp_path: Path) -> None:
    """It counts over-authorization units in units and amount used, at the proper rate."""
    # "`units_used`, `amount_used`: ... unauthorized and over-authorization units included"
    # W1: first authorization used is B1 -> 8 x 5.25 = 42.00.
    # W2: none of its units fit -> "that of the authorization that ends first among those
    # holding its date" = B1 (ends 28 Feb) -> 4 x 5.25 = 21.00 (not B2's 5.50, not the
    # procedure's 5.00). amount_used = 63.00; units_used = 8 + 4 = 12.
    kpis = export(_over_folder(tmp_path), "agency")["kpis"]
    assert kpis["units_used"] == units(12)
    assert kpis["amount_used"] == money(63.00)


def _unauthorized_folder(tmp_path: Path) -> Path:
    """C3 has T1019 authorized for February only (rate 7.00) and no S5125 authorization.

    J1 T1019 2025-01-20 60 min = 4 u (no authorization holds 20 Jan);
    J2 T1019 2025-02-05 60 min = 4 u (G1 holds it); J3 S5125 2025-02-06 120 min = 8 u.
    """
    authorizations = [auth("G1", "C3", "T1019", "2025-02-01", "2025-02-28", 10, rate="7.00")]
    visits = [
        timed("J1", "C3", "T1019", "2025-01-20", 60),
        timed("J2", "C3", "T1019", "2025-02-05", 60),
        timed("J3", "C3", "S5125", "2025-02-06", 120),
    ]
    return write_data(tmp_path / "data", authorizations=authorizations, visits=visits)


def test_visit_no_authorization_holds_is_unauthorized_service(tmp_path: Path) -> None:
    """It flags all units of a visit whose date no authorization holds as unauthorized."""
    # "A visit with no authorization at all is an **unauthorized service**: all its units are
    # unauthorized." J1 (date outside G1) 4 u; J3 (no S5125 authorization) 8 u.
    data = export(_unauthorized_folder(tmp_path), "authorizations")
    assert flag_units(data, "unauthorized_service") == {"J1": units(4), "J3": units(8)}
    assert flag_units(data, "over_authorization") == {}
    assert rows_by(data["authorizations"], "authorization_id")["G1"]["units_used"] == units(4)


def test_a_visit_uses_only_authorizations_of_its_own_client_and_procedure(
    tmp_path: Path,
) -> None:
    """It never lets a visit use an authorization of another client and procedure code, also
    when an agency has fewer clients than procedure codes.
    """
    # "Each uses the authorizations of the same client and procedure code ..." C1 has no
    # authorization: K1's 4 units are unauthorized, none is taken from C2's S5150.
    clients = [{"client_id": "C1", "client_name": "A"}, {"client_id": "C2", "client_name": "B"}]
    authorizations = [
        auth("B0", "C2", "T1019", "2025-01-01", "2025-03-31", 40),
        auth("B1", "C2", "S5125", "2025-01-01", "2025-03-31", 40),
        auth("B2", "C2", "S5150", "2025-01-01", "2025-03-31", 40),
    ]
    visits = [timed("K1", "C1", "T1019", "2025-01-06", 60)]
    folder = write_data(
        tmp_path / "data", clients=clients, authorizations=authorizations, visits=visits
    )
    data = export(folder, "authorizations")
    assert flag_units(data, "unauthorized_service") == {"K1": units(4)}
    used = {r["authorization_id"]: r["units_used"] for r in data["authorizations"]}
    assert used == {"B0": 0, "B1": 0, "B2": 0}


def test_unauthorized_visit_is_priced_at_the_procedure_rate(tmp_path: Path) -> None:
    """It prices an unauthorized visit at its procedure's rate."""
    # "for an unauthorized or non-billable visit, the procedure's [rate]."
    # J1 4 x 6.00 = 24.00; J2 4 x 7.00 (G1) = 28.00; J3 8 x 5.00 = 40.00. Total 92.00,
    # units 16. Approved: G1 10 units x 7.00 = 70.00, inside Q1.
    data = export(_unauthorized_folder(tmp_path), "agency")
    assert data["kpis"]["units_used"] == units(16)
    assert data["kpis"]["amount_used"] == money(92.00)
    by_procedure = rows_by(data["by_procedure"], "procedure_code")
    assert by_procedure["T1019"]["amount_used"] == money(52.00)  # 24 + 28
    assert by_procedure["T1019"]["units_approved"] == units(10)
    assert by_procedure["T1019"]["amount_approved"] == money(70.00)
    assert by_procedure["S5125"]["amount_used"] == money(40.00)
    assert by_procedure["S5125"]["units_approved"] == units(0)


def test_zero_unit_authorization_makes_its_visits_over_authorization(tmp_path: Path) -> None:
    """It treats a visit under a 0-unit authorization as over-authorization, not unauthorized."""
    # "An authorization of 0 units still holds its dates: visits under it are
    # over-authorization, not unauthorized."
    # Z1 C1/S5125 2025-01-01..2025-03-31, 0 units, rate 5.75; visit 60 min = 4 u -> over 4.
    # Amount: none fit, Z1 ends first among holders -> 4 x 5.75 = 23.00.
    authorizations = [auth("Z1", "C1", "S5125", "2025-01-01", "2025-03-31", 0, rate="5.75")]
    visits = [timed("Q1", "C1", "S5125", "2025-02-03", 60)]
    folder = write_data(tmp_path / "data", authorizations=authorizations, visits=visits)
    data = export(folder, "authorizations")
    assert flag_units(data, "over_authorization") == {"Q1": units(4)}
    assert flag_units(data, "unauthorized_service") == {}
    z1 = rows_by(data["authorizations"], "authorization_id")["Z1"]
    assert z1["units_used"] == units(0)
    assert z1["units_remaining"] == units(0)
    kpis = export(folder, "agency")["kpis"]
    assert kpis["units_used"] == units(4)
    assert kpis["amount_used"] == money(23.00)


def test_zero_unit_visit_is_flagged_as_neither(tmp_path: Path) -> None:
    """It neither uses units nor flags a visit of 0 units, authorized or not."""
    # "A visit of 0 units uses nothing and is flagged as neither."
    # K0: 0 minutes -> 0 u, under N1 (2 units): N1 keeps both its units.
    # K7: 7 minutes -> (7 + 7) // 15 = 0 u, with no S5125 authorization: not unauthorized.
    authorizations = [auth("N1", "C1", "T1019", "2025-01-01", "2025-03-31", 2)]
    visits = [
        timed("K0", "C1", "T1019", "2025-01-10", 0),
        timed("K7", "C1", "S5125", "2025-01-11", 7),
    ]
    folder = write_data(tmp_path / "data", authorizations=authorizations, visits=visits)
    data = export(folder, "authorizations")
    assert flag_units(data, "unauthorized_service") == {}
    assert flag_units(data, "over_authorization") == {}
    assert rows_by(data["authorizations"], "authorization_id")["N1"]["units_used"] == units(0)
    kpis = export(folder, "agency")["kpis"]
    assert kpis["units_used"] == units(0)
    assert kpis["amount_used"] == money(0)


# --- Payers -----------------------------------------------------------------------------


def _payer_folder(tmp_path: Path) -> Path:
    """C1/T1019: PA1 for payer MCD (ends 31 Jan), PA2 for PVT; C2/T1019: PN1 with no payer.

    PA1 2025-01-01..2025-01-31, 10 u, rate blank (6.00); PA2 2025-01-01..2025-03-31, 10 u,
    rate 7.00; PN1 2025-01-01..2025-03-31, 10 u, rate 6.50. All visits 60 min = 4 u.
    """
    authorizations = [
        auth("PA1", "C1", "T1019", "2025-01-01", "2025-01-31", 10, payer_id="MCD"),
        auth("PA2", "C1", "T1019", "2025-01-01", "2025-03-31", 10, payer_id="PVT", rate="7.00"),
        auth("PN1", "C2", "T1019", "2025-01-01", "2025-03-31", 10, rate="6.50"),
    ]
    visits = [
        timed("X1", "C1", "T1019", "2025-01-10", 60, payer_id="PVT"),
        timed("X2", "C1", "T1019", "2025-01-11", 60, payer_id="MCD"),
        timed("X3", "C1", "T1019", "2025-01-12", 60, payer_id=None),
        timed("X4", "C1", "T1019", "2025-01-13", 60, payer_id="OTH"),
        timed("Y1", "C2", "T1019", "2025-01-15", 60, payer_id="PVT"),
    ]
    return write_data(tmp_path / "data", authorizations=authorizations, visits=visits)


def test_visit_cannot_use_an_authorization_of_another_payer(tmp_path: Path) -> None:
    """It matches payer to payer where both the visit and the authorization name one."""
    # "A visit uses the authorization with the same `client_id` and `procedure_code` (and
    # `payer_id` where both give one)".
    #   X1 (PVT): PA1 ends first but is MCD's -> PA2.
    #   X2 (MCD): PA1.
    #   X4 (OTH): no OTH authorization holds the date -> unauthorized, 4 u.
    # PA1 used 4 (X2) + 4 (X3, next test) = 8, remaining 2; PA2 used 4 (X1), remaining 6.
    data = export(_payer_folder(tmp_path), "authorizations")
    balance = rows_by(data["authorizations"], "authorization_id")
    assert balance["PA1"]["units_used"] == units(8)
    assert balance["PA1"]["units_remaining"] == units(2)
    assert balance["PA2"]["units_used"] == units(4)
    assert balance["PA2"]["units_remaining"] == units(6)
    assert flag_units(data, "unauthorized_service") == {"X4": units(4)}


def test_visit_or_authorization_without_payer_matches_any_payer(tmp_path: Path) -> None:
    """It lets a visit without payer use any payer's authorization, and vice versa."""
    # X3 (no payer) -> PA1, the one ending first; Y1 (PVT) -> PN1 (no payer).
    # Amounts: X1 4 x 7.00 = 28.00; X2 4 x 6.00 = 24.00; X3 4 x 6.00 = 24.00 (PA1's rate);
    # X4 unauthorized 4 x 6.00 = 24.00; C1 total 100.00. Y1 4 x 6.50 = 26.00.
    folder = _payer_folder(tmp_path)
    data = export(folder, "authorizations")
    assert rows_by(data["authorizations"], "authorization_id")["PN1"]["units_used"] == units(4)
    assert "Y1" not in flag_units(data, "unauthorized_service")
    by_client = rows_by(export(folder, "agency")["by_client"], "client_id")
    assert by_client["C1"]["amount_used"] == money(100.00)
    assert by_client["C1"]["units_used"] == units(16)
    assert by_client["C2"]["amount_used"] == money(26.00)


# --- What uses units --------------------------------------------------------------------


def test_only_completed_billable_visits_use_authorized_units(tmp_path: Path) -> None:
    """It uses no units for non-billable, scheduled or cancelled visits."""
    # "Only completed, billable visits use authorized units."
    # NB1 C1/T1019 20 u; NB2 C1/G0156 (procedure not billable) 20 u. All visits 60 min = 4 u.
    #   N1 completed -> NB1 4.            N2 completed, billable=false -> nothing.
    #   N3 scheduled -> nothing.          N4 cancelled -> nothing.
    #   N5 G0156 completed (not billable by its procedure) -> nothing.
    # NB1 used 4 remaining 16; NB2 used 0 remaining 20. No unauthorized/over flags.
    # units_used 4 (N1), amount_used 4 x 6.00 = 24.00; units_scheduled 4 (N3, 20 Mar).
    # "Authorizations count whatever the procedure's billable flag": units_approved
    # 20 + 20 = 40; amount_approved 20 x 6.00 + 20 x 4.00 = 200.00.
    authorizations = [
        auth("NB1", "C1", "T1019", "2025-01-01", "2025-03-31", 20),
        auth("NB2", "C1", "G0156", "2025-01-01", "2025-03-31", 20),
    ]
    visits = [
        timed("N1", "C1", "T1019", "2025-01-10", 60, status="completed"),
        timed("N2", "C1", "T1019", "2025-01-11", 60, billable="false"),
        timed("N3", "C1", "T1019", "2025-03-20", 60, status="scheduled"),
        timed("N4", "C1", "T1019", "2025-01-20", 60, status="cancelled"),
        timed("N5", "C1", "G0156", "2025-01-21", 60),
    ]
    folder = write_data(tmp_path / "data", authorizations=authorizations, visits=visits)
    data = export(folder, "authorizations")
    balance = rows_by(data["authorizations"], "authorization_id")
    assert balance["NB1"]["units_used"] == units(4)
    assert balance["NB1"]["units_remaining"] == units(16)
    assert balance["NB2"]["units_used"] == units(0)
    assert balance["NB2"]["units_remaining"] == units(20)
    assert flag_units(data, "unauthorized_service") == {}
    assert flag_units(data, "over_authorization") == {}
    kpis = export(folder, "agency")["kpis"]
    assert kpis["units_used"] == units(4)
    assert kpis["amount_used"] == money(24.00)
    assert kpis["units_scheduled"] == units(4)
    assert kpis["units_approved"] == units(40)
    assert kpis["amount_approved"] == money(200.00)


# --- Amounts, rate and units checks -----------------------------------------------------


def _amounts_folder(tmp_path: Path) -> Path:
    """C1/T1019, one authorization R1 of 100 units at the procedure's rate 6.00.

    Every visit is 60 min = 4 u:
      RB1 amount_billed 30.00 (7.50 a unit)  RB2 amount_billed 24.02 (6.005 a unit)
      RB3 no amount                           RB4 staff recorded 5 units
      RB5 staff recorded 4 units
    """
    authorizations = [auth("R1", "C1", "T1019", "2025-01-01", "2025-03-31", 100)]
    visits: list[dict[str, Any]] = [
        timed("RB1", "C1", "T1019", "2025-01-06", 60, amount_billed="30.00"),
        timed("RB2", "C1", "T1019", "2025-01-07", 60, amount_billed="24.02"),
        timed("RB3", "C1", "T1019", "2025-01-08", 60),
        timed("RB4", "C1", "T1019", "2025-01-09", 60, units="5"),
        timed("RB5", "C1", "T1019", "2025-01-10", 60, units="4"),
    ]
    return write_data(tmp_path / "data", authorizations=authorizations, visits=visits)


def test_amount_billed_is_the_amount_where_given(tmp_path: Path) -> None:
    """It takes amount_billed as the visit's amount, otherwise units x rate."""
    # "The amount of a visit is `amount_billed` where given, otherwise `units × rate`."
    # 30.00 + 24.02 + 4 x 6.00 + 4 x 6.00 + 4 x 6.00 = 126.02; units 5 x 4 = 20.
    data = export(_amounts_folder(tmp_path), "agency")
    assert data["kpis"]["amount_used"] == money(126.02)
    assert data["kpis"]["units_used"] == units(20)


def test_rate_mismatch_is_reported_beyond_one_cent_only(tmp_path: Path) -> None:
    """It flags RB1 (7.50 a unit against 6.00) but not RB2 (6.005, within a cent)."""
    # "The rate check compares `amount_billed / units` with the authorization's rate and
    # reports a **rate mismatch** beyond one cent."
    # RB1 30.00 / 4 = 7.50, |7.50 - 6.00| = 1.50 > 0.01 -> flag.
    # RB2 24.02 / 4 = 6.005, |6.005 - 6.00| = 0.005 <= 0.01 -> no flag.
    data = export(_amounts_folder(tmp_path), "agency")
    assert flagged(data, "rate_mismatch") == {"RB1"}


def test_recorded_units_that_differ_are_a_units_mismatch(tmp_path: Path) -> None:
    """It flags RB4 (staff recorded 5, computed 4) and counts the computed units."""
    # "Where staff recorded `units` on a completed visit, the computed units are what count;
    # a difference is reported as a units mismatch". RB5 recorded 4 = computed 4: no flag.
    # R1 used 5 x 4 = 20 (RB4 counts 4, not 5).
    data = export(_amounts_folder(tmp_path), "authorizations")
    assert flagged(data, "units_mismatch") == {"RB4"}
    assert rows_by(data["authorizations"], "authorization_id")["R1"]["units_used"] == units(20)
