"""835 remittances end to end: a data folder's remittances/ and `utilization import-835`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from remittance_data import april_835, march_835
from utilization.cli import main

# Visits of the remittance tests, as an agency would export them (60 minutes = 4 units etc.).
CLIENTS = (
    "client_id,client_name,medicaid_id\n"
    'C1,"Lovelace, Ada",WA111\nC2,Grace Hopper,WA222\nC3,Alan Turing,WA333\n'
)
PROCEDURES = (
    "procedure_code,description,rate\n"
    "T1019,Personal care,15\nT1005 U4,Respite,12\nS5125,Attendant care,13\n"
)
AUTHORIZATIONS = "authorization_id,client_id,procedure_code,start_date,end_date,units_approved\n"
VISITS = (
    "visit_id,client_id,procedure_code,service_date,minutes,status\n"
    "V1,C1,T1019,2025-03-03,60,completed\n"
    "V2,C1,T1019,2025-03-04,60,completed\n"
    "V3,C2,T1005 U4,2025-03-03,120,completed\n"
    "V4,C3,S5125,2025-03-05,30,completed\n"
    "V5,C3,S5125,2025-03-05,30,completed\n"
    "V6,C2,T1019,2025-03-06,45,completed\n"
    "V7,C1,T1019,2025-03-07,60,cancelled\n"
)


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for name, text in (
        ("clients", CLIENTS),
        ("procedures", PROCEDURES),
        ("authorizations", AUTHORIZATIONS),
        ("visits", VISITS),
    ):
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def _codes(folder: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    rc = main(["export", "service-codes", "--data", str(folder), "--from", "2025-03-01",
               "--to", "2025-03-31", "--format", "json"])  # fmt: skip
    assert rc == 0
    return json.loads(capsys.readouterr().out)


def _by_code(data: dict) -> dict[str, dict]:
    return {row["procedure_code"]: row for row in data["service_codes"]}


def _expect_payments(data: dict) -> None:
    """March pays V1 54, V2 54, V3 90, V6 0 (denied CO-45); April reverses V1 (-54), repays 58."""
    codes = _by_code(data)
    # T1019: V1 54 - 54 + 58 = 58, V2 54, V6 0 -> 112.00; V6's line is denied (CO-45).
    assert codes["T1019"]["insurance_paid"] == 112.00
    assert codes["T1019"]["denied_lines"] == 1
    assert codes["T1019"]["denial_reasons"] == "CO-45"
    # T1019 billed: V1 4 u + V2 4 u + V6 3 u = 11 u × $15 = $165.00; paid share 112 / 165.
    assert codes["T1019"]["total_billed"] == 165.00
    assert codes["T1019"]["paid_share"] == pytest.approx(112 / 165, abs=1e-4)
    assert codes["T1005 U4"]["insurance_paid"] == 90.00
    # S5125: V4 and V5 are both C3's on 2025-03-05, so the line is ambiguous: not paid.
    assert codes["S5125"]["insurance_paid"] == 0.00
    assert data["newest_payment_date"] == "2025-04-15"


def test_remittances_folder_is_read_with_the_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """835 files in the data folder's remittances/ are payments; unmatched lines are rejects."""
    folder = _folder(tmp_path)
    (folder / "remittances").mkdir()
    (folder / "remittances" / "march.835").write_text(march_835())
    (folder / "remittances" / "april.835").write_text(april_835())
    data = _codes(folder, capsys)
    _expect_payments(data)
    remittance_rejects = [r for r in data["rejects"] if r["table"] == "remittances"]
    # The ambiguous S5125 line and the NOBODY line (unknown control number and member).
    assert len(remittance_rejects) == 2
    assert {r["value"] for r in remittance_rejects} == {"march.835"}
    assert [r["code"] for r in remittance_rejects] == ["unmatched_payment"] * 2
    counts = {r["table"]: r for r in data["row_counts"]}["remittances"]
    # March 6 lines + April 2 lines = 8 read; 6 used; 2 rejected.
    assert (counts["rows_read"], counts["rows_used"], counts["rows_rejected"]) == (8, 6, 2)


def test_import_835_twice_counts_each_payment_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`import-835` writes payments.csv; a second import of the same files adds nothing."""
    folder = _folder(tmp_path)
    files = [tmp_path / "march.835", tmp_path / "april.835"]
    files[0].write_text(march_835())
    files[1].write_text(april_835())
    assert main(["import-835", *map(str, files), "--data", str(folder)]) == 0
    first = (folder / "payments.csv").read_bytes()
    out = capsys.readouterr().out
    assert "8 line(s) read: 6 matched, 2 unmatched" in out
    assert main(["import-835", *map(str, files), "--data", str(folder)]) == 0
    assert (folder / "payments.csv").read_bytes() == first
    _expect_payments(_codes(folder, capsys))


def test_import_835_of_a_file_that_is_not_x12_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that is not an 835 gives a message naming it and exit code 1, no traceback."""
    folder = _folder(tmp_path)
    bad = tmp_path / "notes.txt"
    bad.write_text("hello, this is not a remittance\n")
    assert main(["import-835", str(bad), "--data", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "notes.txt" in err
    assert "Traceback" not in err
