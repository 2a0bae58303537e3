"""Insurance paid from X12 835 remittance files: reading, matching to visits, importing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from remittance_data import (
    LOVELACE,
    V1_LINE,
    april_835,
    claim_segments,
    march_835,
    remittance_text,
)
from utilization.exceptions import InputError, RemittanceError
from utilization.remittance import (
    LINE_COLUMNS,
    PAYMENT_COLUMNS,
    import_835,
    match_lines,
    payments_from_remittances,
    read_835,
    read_remittances,
    remittance_files,
)

REALDATA = Path(__file__).parent / "data" / "x12"
LFH = REALDATA / "linuxforhealth_x12" / "resources" / "835_005010X221A1"
KS = REALDATA / "keironstoddart_edi_835_parser"


def _paid(lines: pd.DataFrame) -> float:
    return round(float(lines["paid_amount"].sum()), 2)


# ---- public sample files ----------------------------------------------------------------
def test_united_healthcare_sample_lines() -> None:
    """It reads five service lines paying 349.99 (= BPR02) with their REF*6R and units."""
    lines = read_835(KS / "united_healthcare_legacy_sample.txt")
    assert list(lines.columns) == LINE_COLUMNS
    assert len(lines) == 5
    assert _paid(lines) == 349.99
    assert lines["line_control_number"].tolist() == [
        "800941258001",
        "800941258002",
        "123456789012",
        "123456789013",
        "123456789014",
    ]
    assert lines["procedure_code"].tolist() == ["B4152", "B4152", "B4154", "B4034", "B4154"]
    assert lines["units"].tolist() == [234.0, 277.0, 249.0, 12.0, 178.0]
    assert lines["patient_control_number"].tolist() == ["001-18573-358"] * 2 + ["001-18604-358"] * 3
    first = lines.iloc[0]
    assert first["payer_id"] == "87726"
    assert first["payer_name"] == "UNITED HEALTHCARE INSURANCE COMPANY"
    assert first["check_number"] == "1234567890"
    assert first["paid_date"] == pd.Timestamp("2021-02-04")
    assert first["interchange_control_number"] == "444444444"
    assert first["member_id"] == "123456789"
    assert first["patient_name"] == "MR, COOL"
    assert first["service_date"] == pd.Timestamp("2020-12-21")
    # CAS*PR*2*5.13**1*110~CAS*CO*45*184.32: two reasons in one CAS, then another group.
    last = lines.iloc[4]
    assert last["adjustment_reason_codes"] == "PR-2;PR-1;CO-45"
    assert last["adjustment_group_codes"] == "PR;CO"
    assert round(last["adjustment_amount"], 2) == 299.45
    assert round(last["patient_responsibility_amount"], 2) == 115.13
    assert lines["denied"].tolist() == [False, True, False, False, False]


def test_emedny_sample_lines() -> None:
    """It reads ten lines over three claims paying 45.75, four of them denied (CO-29, CO-251)."""
    lines = read_835(KS / "emedny_sample.txt")
    assert len(lines) == 10
    assert _paid(lines) == 45.75
    assert lines["procedure_code"].tolist() == [
        "V2020 RB",
        "V2700 RB",
        "V2103 RB",
        "S0580",
        "V2020",
        "V2103",
        "V2020 RB",
        "V2103 RB",
        "V2700 RB",
        "S0580",
    ]
    # SVC05 is written as 0 on the denied lines: kept as 0, not the default of 1.
    assert lines["units"].tolist() == [1.0, 1.0, 1.0, 2.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    assert lines["member_id"].unique().tolist() == ["LL99999L", "LL88888L", "LL77777L"]
    assert lines["claim_status"].tolist() == ["1"] * 4 + ["2"] * 6
    denied = lines[lines["denied"]]
    assert denied["adjustment_reason_codes"].tolist() == ["CO-29", "CO-29", "CO-251", "CO-251"]
    assert lines.loc[7, "service_date"] == pd.Timestamp("2013-09-17")
    assert lines["line_control_number"].isna().all()
    # No N1*PR04 and no REF*2U: the payer id is the TRN03 originator.
    assert lines["payer_id"].unique().tolist() == ["1000000000"]


def test_pyx12_respite_sample_lines() -> None:
    """It reads three denied T1005 lines (claim status 4) dated by DTM*150."""
    lines = read_835(REALDATA / "pyx12" / "835_mult_loops.txt")
    assert len(lines) == 3
    assert _paid(lines) == 0.0
    assert round(float(lines["charge_amount"].sum()), 2) == 915.39
    assert lines["procedure_code"].tolist() == ["T1005"] * 3
    assert lines["units"].tolist() == [68.0, 16.0, 36.0]
    assert lines["service_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2003-11-29",
        "2003-10-30",
        "2003-10-31",
    ]
    assert lines["denied"].all()
    assert lines["adjustment_reason_codes"].tolist() == ["CO-16", "OA-A7", "OA-A7"]
    assert lines.loc[0, "patient_name"] == "BACH, JOHANN S"
    assert lines.loc[0, "member_id"] == "00001612"
    assert lines.loc[0, "claim_status"] == "4"


def test_medicare_part_a_claims_without_service_lines() -> None:
    """Claims paid without SVC lines are one row each with the claim's amounts and no code."""
    lines = read_835(LFH / "medicare-part-a.835")
    assert lines["line_kind"].tolist() == ["claim", "claim"]
    assert lines["patient_control_number"].tolist() == ["666123", "777777"]
    assert lines["paid_amount"].tolist() == [138018.40, 11980.33]
    assert lines["charge_amount"].tolist() == [211366.97, 15000.00]
    assert lines["procedure_code"].isna().all()
    assert lines["adjustment_reason_codes"].tolist() == ["CO-45", "CO-45"]
    assert lines["service_date"].tolist() == [
        pd.Timestamp("2002-08-16"),
        pd.Timestamp("2002-05-12"),
    ]
    # BPR02 is 150000.00: the PLB provider adjustment of -1.27 is not a payment for a service.
    assert _paid(lines) == 149998.73


def test_secondary_payment_read_with_greater_than_slip() -> None:
    """ISA16 says ':' but SVC01 uses '>': read as code and modifier, with warnings."""
    lines, errors = read_remittances([LFH / "secondary-payment.835"])
    assert lines["line_kind"].tolist() == ["claim", "service", "service"]
    assert lines["procedure_code"].tolist()[1:] == ["12345 26", "66543 26"]
    assert lines["paid_amount"].tolist() == [912.0, 30.0, 280.0]
    assert _paid(lines) == 1222.00
    assert lines["paid_date"].unique().tolist() == [pd.Timestamp("2005-04-12")]
    assert lines.loc[2, "adjustment_reason_codes"] == "PR-1;PR-2;CO-42"
    assert errors["severity"].tolist() == ["warning", "warning"]
    assert errors["segment"].tolist() == [4, 29]
    assert "BPR15" in errors.loc[0, "reason"]
    assert "uses '>'" in errors.loc[1, "reason"]


def test_cob_contractual_adjustment_read_with_slips() -> None:
    """The COB sample reads as one line of 55669 paying 34.00 with OA-23 and OA-94."""
    lines, errors = read_remittances([LFH / "cob-contractural-adjustment.835"])
    assert len(lines) == 1
    row = lines.iloc[0]
    assert row["procedure_code"] == "55669"
    assert row["paid_amount"] == 34.0
    assert row["adjustment_reason_codes"] == "OA-23;OA-94"
    assert row["adjustment_amount"] == 507.0
    assert row["patient_control_number"] == "0001000055"
    assert row["paid_date"] == pd.Timestamp("2005-03-18")
    assert (errors["severity"] == "warning").all()


def test_tertiary_payment_malformed_svc_is_a_clear_error() -> None:
    """An SVC01 holding only 'HC' (the code slid into SVC02) is an error at segment 20."""
    with pytest.raises(RemittanceError) as caught:
        read_835(LFH / "tertiary-payment.835")
    assert caught.value.segment == 20
    assert "tertiary-payment.835" in str(caught.value)
    assert "SVC01 'HC' names no procedure code" in str(caught.value)
    assert "segment 20 (SVC): " in str(caught.value)  # the segment's id, not its elements
    assert "24599.00" not in str(caught.value)


def test_managed_care_invalid_check_date_is_a_clear_error() -> None:
    """BPR16 '20002316' is not a date: the file is refused, not dated by a guess."""
    with pytest.raises(RemittanceError, match=r"segment 4 .*BPR16 '20002316' is not a date"):
        read_835(LFH / "managed-care.835")


def test_file_without_isa_is_a_clear_error() -> None:
    """The Blue Cross NC sample starts at ST: an error saying the ISA header is missing."""
    with pytest.raises(RemittanceError, match="no ISA interchange header") as caught:
        read_835(KS / "blue_cross_nc_sample.txt")
    assert "blue_cross_nc_sample.txt" in str(caught.value)


def test_claim_file_is_not_a_remittance() -> None:
    """An 837 claim file is refused with ST01 named."""
    path = REALDATA / "linuxforhealth_x12/resources/837_005010X222A2/demo.example1.837"
    with pytest.raises(RemittanceError, match=r"ST01 is '837' \(claims\), not '835'"):
        read_835(path)


def test_read_remittances_keeps_going_past_bad_files() -> None:
    """All nine samples: six are read (24 rows), three are errors, none stops the others."""
    paths = sorted(LFH.glob("*.835")) + sorted(KS.glob("*sample.txt"))
    paths.append(REALDATA / "pyx12" / "835_mult_loops.txt")
    lines, errors = read_remittances(paths)
    failed = errors[errors["severity"] == "error"]
    assert sorted(Path(f).name for f in failed["file"]) == [
        "blue_cross_nc_sample.txt",
        "managed-care.835",
        "tertiary-payment.835",
    ]
    assert len(lines) == 24
    assert lines.groupby("file").size().to_dict() == {
        "835_mult_loops.txt": 3,
        "cob-contractural-adjustment.835": 1,
        "emedny_sample.txt": 10,
        "medicare-part-a.835": 2,
        "secondary-payment.835": 3,
        "united_healthcare_legacy_sample.txt": 5,
    }
    assert _paid(lines) == round(34.0 + 149998.73 + 1222.0 + 45.75 + 349.99 + 0.0, 2)
    assert lines["remittance_key"].is_unique


def test_not_x12_is_a_clear_error(tmp_path: Path) -> None:
    """A CSV handed over as an 835 is refused naming the file."""
    path = tmp_path / "payments.835"
    path.write_text("visit_id,insurance_paid\nV1,10\n")
    with pytest.raises(RemittanceError, match=r"payments\.835: not an X12 file"):
        read_835(path)


def test_empty_file_is_a_clear_error(tmp_path: Path) -> None:
    """An empty file is refused, and the error is an InputError the CLI reports."""
    path = tmp_path / "empty.835"
    path.write_text("\n")
    with pytest.raises(InputError, match="the file is empty"):
        read_835(path)


def test_truncated_file_is_a_clear_error(tmp_path: Path) -> None:
    """A file cut in the middle of a segment is refused as truncated, with the segment number."""
    text = remittance_text(
        "EFT1", "20250401", "1", claim_segments("A-1", "1", "60", "54", LOVELACE, V1_LINE)
    )
    path = tmp_path / "cut.835"
    path.write_text(text[: text.index("REF*6R") + 5])
    with pytest.raises(RemittanceError, match="looks truncated") as caught:
        read_835(path)
    assert caught.value.segment == 14


def test_file_without_trailer_is_a_clear_error(tmp_path: Path) -> None:
    """A file that stops after a whole segment but before SE/IEA is refused as truncated."""
    text = remittance_text(
        "EFT1", "20250401", "1", claim_segments("A-1", "1", "60", "54", LOVELACE, V1_LINE)
    )
    path = tmp_path / "cut.835"
    path.write_text(text[: text.index("SE*")])
    with pytest.raises(RemittanceError, match="without the IEA trailer"):
        read_835(path)


def test_wrong_segment_count_is_a_clear_error(tmp_path: Path) -> None:
    """SE01 disagreeing with the segments present means segments are missing."""
    text = remittance_text(
        "EFT1", "20250401", "1", claim_segments("A-1", "1", "60", "54", LOVELACE, V1_LINE)
    )
    path = tmp_path / "short.835"
    path.write_text(text.replace("CAS*CO*45*6~", ""))
    with pytest.raises(RemittanceError, match=r"SE01 says '13' segments but .* has 12"):
        read_835(path)


def test_missing_file_is_listed_not_raised(tmp_path: Path) -> None:
    """read_remittances reports a file that is not there as an error row."""
    lines, errors = read_remittances([tmp_path / "nope.835"])
    assert lines.empty
    assert list(lines.columns) == LINE_COLUMNS
    assert errors["severity"].tolist() == ["error"]
    assert "cannot be read" in errors.loc[0, "reason"]


# ---- demo visits, paid by the 835 files of remittance_data.py ------------------------------


@pytest.fixture
def clients() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "client_id": ["C1", "C2", "C3"],
            "client_name": ["Lovelace, Ada", "Grace Hopper", "Alan Turing"],
            "medicaid_id": ["WA111", "WA222", "WA333"],
        }
    )


@pytest.fixture
def visits() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "visit_id": ["V1", "V2", "V3", "V4", "V5", "V6", "V7"],
            "client_id": ["C1", "C1", "C2", "C3", "C3", "C2", "C1"],
            "procedure_code": ["T1019", "T1019", "T1005 U4", "S5125", "S5125", "T1019", "T1019"],
            "service_date": pd.to_datetime(
                [
                    "2025-03-03",
                    "2025-03-04",
                    "2025-03-03",
                    "2025-03-05",
                    "2025-03-05",
                    "2025-03-06",
                    "2025-03-07",
                ]
            ),
            "status": ["completed"] * 6 + ["cancelled"],
            "units": [4, 4, 8, 2, 2, 3, 4],
        }
    )


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_written_file_reads_with_hand_computed_totals(tmp_path: Path) -> None:
    """The March file is six lines paying 273.00 (= BPR02), one denied with CO-45."""
    lines = read_835(_write(tmp_path, "march.835", march_835()))
    assert len(lines) == 6
    assert _paid(lines) == 273.0
    assert lines["procedure_code"].tolist() == [
        "T1019",
        "T1019",
        "T1005 U4",
        "T1019",
        "S5125",
        "T1019",
    ]
    assert lines["line_number"].tolist() == [1, 2, 1, 2, 1, 1]
    denied = lines[lines["denied"]]
    assert denied["adjustment_reason_codes"].tolist() == ["CO-45"]
    assert denied["charge_amount"].tolist() == [45.0]


def test_match_by_line_control_number_and_member(
    tmp_path: Path, visits: pd.DataFrame, clients: pd.DataFrame
) -> None:
    """REF*6R = visit_id matches V1; member id + date + code match V2, V3 and V6."""
    lines = read_835(_write(tmp_path, "march.835", march_835()))
    payments, _ = match_lines(lines, visits, clients)
    assert list(payments.columns) == PAYMENT_COLUMNS
    assert payments["visit_id"].tolist() == ["V1", "V2", "V3", "V6"]
    assert payments["matched_by"].tolist() == [
        "line_control_number",
        "member_id",
        "member_id",
        "member_id",
    ]
    assert payments["insurance_paid"].tolist() == [54.0, 54.0, 90.0, 0.0]
    assert payments["patient_paid"].tolist() == [0.0] * 4
    assert payments["paid_date"].unique().tolist() == [pd.Timestamp("2025-04-01")]
    assert payments["check_number"].unique().tolist() == ["EFT1001"]
    assert round(payments["insurance_paid"].sum(), 2) == 198.0


def test_unmatched_lines_are_reported_with_reasons(
    tmp_path: Path, visits: pd.DataFrame, clients: pd.DataFrame
) -> None:
    """Two visits on the day is ambiguous (candidates listed); an unknown client is reported."""
    lines = read_835(_write(tmp_path, "march.835", march_835()))
    _, unmatched = match_lines(lines, visits, clients)
    assert unmatched["patient_control_number"].tolist() == ["A-1003", "A-1004"]
    assert unmatched["paid_amount"].tolist() == [25.0, 50.0]
    assert unmatched.loc[0, "candidates"] == "V4;V5"
    assert "2 completed visits of client C3 on 2025-03-05" in unmatched.loc[0, "reason"]
    assert "not guessed" in unmatched.loc[0, "reason"]
    assert unmatched.loc[1, "reason"] == (
        "line control number 'X-77' is no visit_id; "
        "no client with medicaid_id 'WA999' or name 'NOBODY, NEMO'"
    )
    assert pd.isna(unmatched.loc[1, "candidates"])


def test_match_by_patient_name_in_both_orders(
    tmp_path: Path, visits: pd.DataFrame, clients: pd.DataFrame
) -> None:
    """Without member ids, LOVELACE, ADA matches 'Lovelace, Ada'; HOPPER, GRACE 'Grace Hopper'."""
    text = remittance_text(
        "EFT3003",
        "20250402",
        "54",
        claim_segments(
            "B-1",
            "1",
            "60",
            "54",
            ("LOVELACE", "ADA", ""),
            ["SVC*HC:T1019*60*54**4", "DTM*472*20250304", "CAS*CO*45*6"],
        ),
        claim_segments(
            "B-2",
            "1",
            "45",
            "0",
            ("HOPPER", "GRACE", ""),
            ["SVC*HC:T1019*45*0**3", "DTM*472*20250306", "CAS*CO*45*45"],
        ),
        claim_segments(
            "B-3",
            "1",
            "60",
            "0",
            ("LOVELACE", "ADA", ""),
            ["SVC*HC:T1019*60*0**4", "DTM*472*20250307", "CAS*CO*16*60"],
        ),
    )
    payments, unmatched = match_lines(read_835(_write(tmp_path, "n.835", text)), visits, clients)
    assert payments["visit_id"].tolist() == ["V2", "V6"]
    assert payments["matched_by"].tolist() == ["patient_name", "patient_name"]
    # V7 on 2025-03-07 was cancelled: cancelled visits are not candidates.
    assert unmatched["reason"].tolist() == [
        "no completed visit of client C1 on 2025-03-07 with procedure code 'T1019'"
    ]


def test_claim_level_adjustment_goes_with_its_single_line(
    tmp_path: Path, visits: pd.DataFrame, clients: pd.DataFrame
) -> None:
    """A claim-level CAS of 5 on a one-line claim paying 50 nets V2 to 50, not 55."""
    claim = claim_segments(
        "C-1",
        "1",
        "60",
        "50",
        LOVELACE,
        ["SVC*HC:T1019*60*55**4", "DTM*472*20250304", "CAS*CO*45*5", "REF*6R*V2"],
    )
    claim.insert(1, "CAS*CO*A2*5")
    lines = read_835(_write(tmp_path, "c.835", remittance_text("EFT4004", "20250403", "50", claim)))
    assert lines["line_kind"].tolist() == ["service", "claim_adjustment"]
    assert lines["paid_amount"].tolist() == [55.0, -5.0]
    assert lines.loc[1, "adjustment_reason_codes"] == "CO-A2"
    payments, unmatched = match_lines(lines, visits, clients)
    assert payments["visit_id"].tolist() == ["V2", "V2"]
    assert payments["matched_by"].tolist() == ["line_control_number", "claim"]
    assert payments["insurance_paid"].sum() == 50.0
    assert unmatched.empty


def test_import_writes_payments_and_unmatched(
    tmp_path: Path, visits: pd.DataFrame, clients: pd.DataFrame
) -> None:
    """Importing March writes four payments (198.00) and two unmatched lines."""
    march = _write(tmp_path, "march.835", march_835())
    data = tmp_path / "data"
    data.mkdir()
    result = import_835([march], data, visits=visits, clients=clients)
    assert (result.lines_read, result.lines_matched, result.lines_unmatched) == (6, 4, 2)
    assert (result.lines_already_imported, result.payments_added) == (0, 4)
    assert result.errors.empty
    table = pd.read_csv(data / "payments.csv", dtype=str)
    assert list(table.columns) == PAYMENT_COLUMNS
    assert table["visit_id"].tolist() == ["V1", "V2", "V3", "V6"]
    assert table["insurance_paid"].tolist() == ["54.00", "54.00", "90.00", "0.00"]
    assert table["paid_date"].unique().tolist() == ["2025-04-01"]
    report = pd.read_csv(data / "remittance_unmatched.csv", dtype=str)
    assert report["patient_control_number"].tolist() == ["A-1003", "A-1004"]
    assert report["candidates"].tolist()[0] == "V4;V5"


def test_import_twice_is_byte_identical(
    tmp_path: Path, visits: pd.DataFrame, clients: pd.DataFrame
) -> None:
    """Importing the same file again adds nothing: payments.csv stays byte for byte the same."""
    march = _write(tmp_path, "march.835", march_835())
    data = tmp_path / "data"
    data.mkdir()
    import_835([march], data, visits=visits, clients=clients)
    first = (data / "payments.csv").read_bytes()
    first_unmatched = (data / "remittance_unmatched.csv").read_bytes()
    copy = _write(tmp_path, "march-again.835", march_835())
    again = import_835([march, copy], data, visits=visits, clients=clients)
    assert (data / "payments.csv").read_bytes() == first
    assert (data / "remittance_unmatched.csv").read_bytes() == first_unmatched
    assert (again.lines_read, again.payments_added, again.lines_already_imported) == (6, 0, 4)
    assert again.errors["reason"].tolist() == [
        "6 line(s) repeat those of march.835 (same payer, check and claims): counted once"
    ]


def test_same_remittance_twice_in_one_import_counts_once(
    tmp_path: Path, visits: pd.DataFrame, clients: pd.DataFrame
) -> None:
    """Two copies of one remittance imported together add its four payments once."""
    data = tmp_path / "data"
    data.mkdir()
    march = _write(tmp_path, "march.835", march_835())
    copy = _write(tmp_path, "copy.835", march_835())
    result = import_835([march, copy], data, visits=visits, clients=clients)
    assert (result.lines_read, result.payments_added) == (6, 4)
    assert round(pd.read_csv(data / "payments.csv")["insurance_paid"].sum(), 2) == 198.0


def test_reversal_then_correction_nets_to_the_corrected_amount(
    tmp_path: Path, visits: pd.DataFrame, clients: pd.DataFrame
) -> None:
    """V1 paid 54 in March, reversed (-54) and paid 58 in April: V1 has 58, the total 202."""
    data = tmp_path / "data"
    data.mkdir()
    import_835([_write(tmp_path, "march.835", march_835())], data, visits=visits, clients=clients)
    april = _write(tmp_path, "april.835", april_835())
    result = import_835([april], data, visits=visits, clients=clients)
    assert result.payments_added == 2
    table = pd.read_csv(data / "payments.csv")
    assert table.groupby("visit_id")["insurance_paid"].sum().round(2).to_dict() == {
        "V1": 58.0,
        "V2": 54.0,
        "V3": 90.0,
        "V6": 0.0,
    }
    assert round(table["insurance_paid"].sum(), 2) == 202.0
    assert table["paid_date"].max() == "2025-04-15"
    lines = read_835(april)
    assert lines["claim_status"].tolist() == ["22", "1"]
    assert lines["denied"].tolist() == [False, False]
    # The unmatched March lines are still reported after the April import.
    report = pd.read_csv(data / "remittance_unmatched.csv", dtype=str)
    assert report["patient_control_number"].tolist() == ["A-1003", "A-1004"]


def test_import_keeps_rows_from_elsewhere(
    tmp_path: Path, visits: pd.DataFrame, clients: pd.DataFrame
) -> None:
    """A payments.csv kept by hand keeps its rows and values; new columns are left empty."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "payments.csv").write_text(
        "visit_id,insurance_paid,patient_paid,paid_date\nV4,20.00,5.00,2025-03-20\n"
    )
    import_835([_write(tmp_path, "march.835", march_835())], data, visits=visits, clients=clients)
    rows = (data / "payments.csv").read_text().splitlines()
    assert rows[0] == ",".join(PAYMENT_COLUMNS)
    assert rows[1] == "V4,20.00,5.00,2025-03-20" + "," * (len(PAYMENT_COLUMNS) - 4)
    assert len(rows) == 6


def test_unmatched_line_matched_later_moves_to_payments(
    tmp_path: Path, visits: pd.DataFrame, clients: pd.DataFrame
) -> None:
    """Once the ambiguous visit V5 is removed, importing again adds A-1003 to V4 (25.00)."""
    data = tmp_path / "data"
    data.mkdir()
    march = _write(tmp_path, "march.835", march_835())
    import_835([march], data, visits=visits, clients=clients)
    fixed = visits[visits["visit_id"] != "V5"]
    result = import_835([march], data, visits=fixed, clients=clients)
    assert (result.payments_added, result.lines_already_imported, result.lines_unmatched) == (
        1,
        4,
        1,
    )
    table = pd.read_csv(data / "payments.csv", dtype=str)
    assert table["visit_id"].tolist() == ["V1", "V2", "V3", "V6", "V4"]
    report = pd.read_csv(data / "remittance_unmatched.csv", dtype=str)
    assert report["patient_control_number"].tolist() == ["A-1004"]


def test_import_lists_bad_files_and_imports_the_rest(
    tmp_path: Path, visits: pd.DataFrame, clients: pd.DataFrame
) -> None:
    """A bad file among good ones is an error row; the good file is imported."""
    data = tmp_path / "data"
    data.mkdir()
    bad = _write(tmp_path, "bad.835", "hello")
    result = import_835(
        [bad, _write(tmp_path, "march.835", march_835())], data, visits=visits, clients=clients
    )
    assert result.payments_added == 4
    assert result.errors["file"].tolist() == [str(bad)]
    assert result.errors["severity"].tolist() == ["error"]


def test_import_refuses_a_second_payments_table(
    tmp_path: Path, visits: pd.DataFrame, clients: pd.DataFrame
) -> None:
    """A data folder holding payments.parquet is not given a payments.csv beside it."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "payments.parquet").write_bytes(b"")
    with pytest.raises(InputError, match=r"payments\.parquet exists"):
        import_835([_write(tmp_path, "m.835", march_835())], data, visits=visits, clients=clients)


def test_remittances_folder_counts_lines_not_yet_imported(
    tmp_path: Path, visits: pd.DataFrame, clients: pd.DataFrame
) -> None:
    """Files left in remittances/ add only what payments.csv does not already hold."""
    data = tmp_path / "data"
    folder = data / "remittances"
    folder.mkdir(parents=True)
    march = _write(folder, "march.835", march_835())
    _write(folder, "april.835", april_835())
    _write(folder, ".hidden", "ignored")
    assert [p.name for p in remittance_files(folder)] == ["april.835", "march.835"]
    import_835([march], data, visits=visits, clients=clients)
    existing = pd.read_csv(data / "payments.csv", dtype=str, keep_default_na=False)
    payments, unmatched, errors = payments_from_remittances(
        remittance_files(folder), visits, clients, existing
    )
    assert payments["visit_id"].tolist() == ["V1", "V1"]
    assert payments["insurance_paid"].tolist() == [-54.0, 58.0]
    assert unmatched["patient_control_number"].tolist() == ["A-1003", "A-1004"]
    assert errors.empty


def test_unbalanced_line_is_read_with_a_warning(tmp_path: Path) -> None:
    """A line whose charge - paid - adjustments is not 0 is read as sent, with a warning."""
    text = remittance_text(
        "EFT5005",
        "20250404",
        "54",
        claim_segments(
            "D-1", "1", "60", "54", LOVELACE, ["SVC*HC:T1019*60*54**4", "DTM*472*20250303"]
        ),
    )
    lines, errors = read_remittances([_write(tmp_path, "d.835", text)])
    assert lines["paid_amount"].tolist() == [54.0]
    assert lines["denied"].tolist() == [False]
    assert errors[["segment", "reason", "severity"]].values.tolist() == [
        [11, "SVC does not balance: charge - paid - adjustments = 6", "warning"]
    ]
