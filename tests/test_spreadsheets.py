"""Spreadsheet formula injection: no CSV or Excel file the product writes runs a cell."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from remittance_data import claim_segments, remittance_text
from test_remittance_pipeline import _folder
from utilization.cli import main
from utilization.spreadsheets import csv_text, neutralize, runs_as_formula, workbook_bytes

HOSTILE = [
    '=HYPERLINK("http://evil.example/x","click")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "\uff1d1+1",  # full-width equals sign
]
HARMLESS = ["Ada", "-12.5", "+3", "-5", "1e3", "O'Brien", "a=b", "", "'=1+1"]


@pytest.mark.parametrize("text", HOSTILE)
def test_text_a_spreadsheet_would_run_gets_an_apostrophe(text: str) -> None:
    """OWASP: a cell starting with = + - @, a tab or a carriage return is prefixed with '."""
    assert runs_as_formula(text)
    assert neutralize(text) == "'" + text
    assert neutralize(neutralize(text)) == "'" + text  # once only


@pytest.mark.parametrize("text", HARMLESS)
def test_names_plain_numbers_and_neutralized_text_stay_as_they_are(text: str) -> None:
    """A plain number written as text (-12.5) runs nothing and is left alone, like any name."""
    assert not runs_as_formula(text)
    assert neutralize(text) == text


def test_csv_neutralizes_text_and_keeps_numbers_and_exempt_columns() -> None:
    """Only text cells change; numeric columns (negative ones too) and exempt columns do not."""
    frame = pd.DataFrame(
        {"name": ["=1+1", "Ada", None], "id": ["=X", "-5", "V1"], "amount": [-12.5, 3.0, None]}
    )
    text = csv_text(frame, exempt=["id"])
    assert text == "name,id,amount\n'=1+1,=X,-12.5\nAda,-5,3.0\n,V1,\n"
    assert csv_text(frame, neutralize=False) == frame.to_csv(index=False, lineterminator="\n")


def test_excel_cells_are_text_or_numbers_never_formulas() -> None:
    """Hostile text is a text cell with its value (and Excel's ' prefix); numbers are
    numeric cells; a control character, which .xlsx cannot hold, is shown as its symbol.
    (A carriage return reads back as a line break: XML stores line ends so.)
    """
    frame = pd.DataFrame(
        {"name": [*HOSTILE, "bell\x07"], "amount": [-1.5, 2, *[None] * (len(HOSTILE) - 1)]}
    )
    book = openpyxl.load_workbook(io.BytesIO(workbook_bytes({"s": frame})))
    cells = list(book["s"].iter_rows(min_row=2))
    assert [c[0].value for c in cells] == [*HOSTILE[:4], "\t=1+1", "\n=1+1", *HOSTILE[6:], "bell␇"]
    assert {c[0].data_type for c in cells} == {"s"}
    assert all(c[0].quotePrefix for c in cells[: len(HOSTILE)])
    assert (cells[0][1].value, cells[0][1].data_type) == (-1.5, "n")
    assert (cells[1][1].value, cells[1][1].data_type) == (2, "n")


@pytest.fixture
def hostile_folder(tmp_path: Path) -> Path:
    """The remittance tests' agency with hostile client names and a rejected hostile value."""
    folder = _folder(tmp_path)
    clients = (folder / "clients.csv").read_text()
    clients = clients.replace('"Lovelace, Ada"', '"=HYPERLINK(""http://evil.example/x"",""x"")"')
    clients = clients.replace("Grace Hopper", '"\t=1+1"').replace("Alan Turing", "@SUM(1)")
    (folder / "clients.csv").write_text(clients)
    with (folder / "visits.csv").open("a") as handle:
        handle.write("V8,C1,T1019,2025-03-08,=1+1,completed\n")  # minutes: not a number
    return folder


def _cells(paths: list[Path]) -> list[str]:
    values: list[str] = []
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            values += [v for row in csv.reader(handle) for v in row]
    return values


def test_every_csv_the_command_line_writes_is_neutralized(
    hostile_folder: Path, tmp_path: Path
) -> None:
    """export --format csv, rejects.csv, and import-835's files hold no cell that runs;
    --plain-csv writes the names exactly.
    """
    period = ["--from", "2025-03-01", "--to", "2025-03-31"]
    out = tmp_path / "csv"
    assert main(["export", "agency", "--data", str(hostile_folder), *period,
                 "--format", "csv", "--out", str(out)]) == 0  # fmt: skip
    assert main(["validate", "--data", str(hostile_folder), "--out", str(tmp_path / "v")]) == 0
    remittance = tmp_path / "odd.835"
    remittance.write_text(
        remittance_text(
            "=CHECK1",
            "20250401",
            "54",
            claim_segments(
                "=1+1", "1", "60", "54", ("NOBODY", "NEMO", "WA9"), ["SVC*HC:T1019*60*54**4"]
            ),
        )
    )
    assert main(["import-835", str(remittance), "--data", str(hostile_folder)]) == 0
    written = [*out.glob("*.csv"), tmp_path / "v" / "rejects.csv"]
    written += [hostile_folder / "remittance_unmatched.csv"]
    values = _cells(written)
    assert '\'=HYPERLINK("http://evil.example/x","x")' in values
    assert "'=1+1" in values and "'@SUM(1)" in values and "'=CHECK1" in values
    assert [v for v in values if runs_as_formula(v)] == []
    plain = tmp_path / "plain"
    assert main(["export", "agency", "--data", str(hostile_folder), *period,
                 "--format", "csv", "--out", str(plain), "--plain-csv"]) == 0  # fmt: skip
    assert "@SUM(1)" in _cells(list(plain.glob("*.csv")))


def test_payments_csv_reads_back_exactly_and_neutralizes_what_the_product_does_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The columns validation and import-835 read back (visit_id, amounts, codes, key) are
    written exactly, so a second import and a report see the same payments; the 835's
    descriptive columns (check number, claim number) are neutralized.
    """
    folder = _folder(tmp_path)
    visits = (folder / "visits.csv").read_text().replace("V1,", "=V1,", 1)
    (folder / "visits.csv").write_text(visits)
    remittance = tmp_path / "paid.835"
    remittance.write_text(
        remittance_text(
            "=CHECK1",
            "20250401",
            "54",
            claim_segments(
                "@A-1",
                "1",
                "60",
                "54",
                ("LOVELACE", "ADA", "WA111"),
                ["SVC*HC:T1019*60*54**4", "DTM*472*20250303", "REF*6R*=V1"],
            ),
        )
    )
    assert main(["import-835", str(remittance), "--data", str(folder)]) == 0
    with (folder / "payments.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["visit_id"], r["insurance_paid"], r["check_number"]) for r in rows] == [
        ("=V1", "54.00", "'=CHECK1")
    ]
    assert rows[0]["patient_control_number"] == "'@A-1"
    assert main(["import-835", str(remittance), "--data", str(folder)]) == 0
    assert "0 payment(s) added" in capsys.readouterr().out
    capsys.readouterr()
    assert main(["export", "service-codes", "--data", str(folder), "--from", "2025-03-01",
                 "--to", "2025-03-31", "--format", "json"]) == 0  # fmt: skip
    codes = json.loads(capsys.readouterr().out)["service_codes"]
    assert {r["procedure_code"]: r["insurance_paid"] for r in codes}["T1019"] == 54.0


def test_the_excel_export_keeps_hostile_names_as_text(hostile_folder: Path, tmp_path: Path) -> None:
    """No cell of the workbook is a formula; the names are there exactly; numbers are numbers."""
    path = tmp_path / "agency.xlsx"
    assert main(["export", "agency", "--data", str(hostile_folder), "--from", "2025-03-01",
                 "--to", "2025-03-31", "--format", "xlsx", "--out", str(path)]) == 0  # fmt: skip
    book = openpyxl.load_workbook(path)
    cells = [c for sheet in book for row in sheet.iter_rows() for c in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    names = {c.value for c in cells if isinstance(c.value, str)}
    assert {'=HYPERLINK("http://evil.example/x","x")', "@SUM(1)", "=1+1"} <= names
    by_client = book["by_client"]
    header = [c.value for c in by_client[1]]
    used = header.index("units_used")
    assert all(isinstance(row[used].value, int | float) for row in by_client.iter_rows(min_row=2))
