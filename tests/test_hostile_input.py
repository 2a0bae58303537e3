"""Hostile rows in every table of a data folder (hypothesis): only the product's own errors.

Random values, valid and hostile alike (formulas, quotes, line breaks, control characters,
huge and odd numbers, dates out of range, ids that repeat or refer nowhere), are written as
CSV into every table; `validate` and every view's export must either work or stop with the
product's own error (UtilizationError), never a traceback; rows read = rows used + rows
rejected for every table; and no exported CSV cell or Excel cell can run as a formula.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from utilization import export, schema, views
from utilization.exceptions import UtilizationError
from utilization.parameters import Request
from utilization.period import Filters, Period
from utilization.pipeline import load
from utilization.rejects import write_rejects
from utilization.spreadsheets import runs_as_formula
from utilization.views import build_view

PERIOD = Period(date(2025, 1, 1), date(2025, 3, 31))
IDS = {"client_id": ["C1", "C2"], "procedure_code": ["T1019", "S5125"], "payer_id": ["P1"],
       "provider_id": ["E1"], "visit_id": ["V1", "V2", "V3"], "authorization_id": ["A1", "A2"],
       "medicaid_id": ["WA1"]}  # fmt: skip

HOSTILE = st.sampled_from(
    [
        '=HYPERLINK("http://evil.example/x","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1+1",
        "\r\n=1", "a\nb", '"', '""', "'", ",", ";", "\x00", "\x07bell", "\x1b[31m", "\u202e",
        "ＮＡＭＥ", "😀", " ", "\t", "null", "NaN", "nan", "inf", "-inf", "1e400", "-0",
        "9223372036854775808", "1e26", "1e12", "-1e7", "0x10", "1_000", "$4.50", "1,000",
        "0000-01-01", "9999-12-31", "2025-02-30", "1899-12-31", "2200-01-01",
        "2025-03-09 02:30:00", "2025-13-01", "1/2/2025", "2025-01-06T09:00:00Z",
        "2025-01-06 09:00:00+14:00", "yes", "maybe", "CON", "../x", "x" * 300,
    ]
)  # fmt: skip
PLAIN = {
    "date": st.sampled_from(["2025-01-01", "2025-02-15", "2025-03-31", "02/01/2025", ""]),
    "datetime": st.sampled_from(
        ["2025-01-06 09:00:00", "2025-01-06 10:30:00", "2025-02-01 23:00", "2025-03-31 08:00", ""]
    ),
    "minutes": st.sampled_from(["0", "15", "60", "527040", "527041", "", "7.5"]),
    "units": st.sampled_from(["0", "4", "100", "1000000", "1000001", "", "-1"]),
    "money": st.sampled_from(["0", "4.50", "-12.5", "1000000", "1000000.01", "", "12.345"]),
    "flag": st.sampled_from(["true", "no", "Y", "0", ""]),
    "choice": st.sampled_from(["completed", "scheduled", "Cancelled", "midpoint", "active", ""]),
    "text": st.sampled_from(["Ann Lee", "O'Brien, Pat", "Zoë", "", "Care\ncontinued"]),
    "code": st.sampled_from(["T1019", "S5125", "T1005 U4", "CO-45;PR-2", ""]),
    "id": st.sampled_from(["C1", "C2", "C9", "V1", "A1", "P1", "E1", ""]),
}


def values(column: schema.Column) -> st.SearchStrategy[str]:
    """A cell of `column`: mostly plausible (ids from a small pool, so references hit), often
    hostile.
    """
    plain = st.sampled_from(IDS[column.name]) if column.name in IDS else PLAIN[column.kind]
    return st.one_of(plain, plain, HOSTILE)


@st.composite
def folders(draw: st.DrawFn) -> dict[str, list[list[str]]]:
    """Every table as CSV rows (header first), a random subset of the optional columns."""
    tables: dict[str, list[list[str]]] = {}
    for table in schema.TABLES.values():
        if not table.required and not draw(st.booleans()):
            continue
        columns = [c for c in table.columns if c.required or draw(st.booleans())]
        if table.alternatives and not any(
            all(name in [c.name for c in columns] for name in group) for group in table.alternatives
        ):
            group = draw(st.sampled_from(table.alternatives))
            columns += [table.column(name) for name in group]
        rows = [[c.name for c in columns]]
        for _ in range(draw(st.integers(0, 5))):
            rows.append([draw(values(c)) for c in columns])
        tables[table.name] = rows
    return tables


def _write(folder: Path, tables: dict[str, list[list[str]]]) -> None:
    folder.mkdir()
    for name, rows in tables.items():
        with (folder / f"{name}.csv").open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows(rows)


def _no_cell_runs(out: Path) -> None:
    for path in out.glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as handle:
            cells = [v for row in csv.reader(handle) for v in row]
        assert [v for v in cells if runs_as_formula(v)] == [], path.name


def _requests(dataset: Any) -> list[Request]:
    found = []
    for name, view in views.VIEWS.items():
        filters = Filters()
        if view.subject is not None:
            column = views.SUBJECT_COLUMNS[view.subject]
            table = {"client": "clients", "procedure": "procedures", "provider": "providers"}
            ids = getattr(dataset, table[view.subject])[column].tolist()
            if not ids:
                continue
            filters = Filters(**{f"{view.subject}s": (ids[0],)})
        found.append(Request(name, PERIOD, filters, data="hostile"))  # type: ignore[arg-type]
    return found


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(folders())
def test_hostile_rows_give_rejects_or_the_products_own_errors(
    tables: dict[str, list[list[str]]],
) -> None:
    """validate and every view's export (JSON, CSV, Excel) work or raise UtilizationError;
    the row counts add up; no written cell runs as a formula.
    """
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        _write(folder, tables)
        try:
            dataset = load(folder)
        except UtilizationError as exc:
            event(f"not loaded: {type(exc).__name__}")
            return
        event(f"loaded, {int(dataset.row_counts['rows_used'].sum() > 0)} with rows used")
        counts = dataset.row_counts
        assert (counts["rows_read"] == counts["rows_used"] + counts["rows_rejected"]).all()
        for name, rows in tables.items():
            read = int(counts.loc[counts["table"] == name, "rows_read"].iloc[0])
            blank = sum(all(not v.strip() for v in row) for row in rows[1:])
            assert read >= len(rows) - 1 - blank, name  # no row disappears
        assert set(dataset.rejects["code"]) <= set(schema.CODES)
        out = Path(tmp) / "out"
        write_rejects(dataset, out)
        _no_cell_runs(out)
        for request in _requests(dataset):
            try:
                figures = build_view(dataset, request)
            except UtilizationError:
                event(f"{request.view}: the product's error")
                continue
            json.loads(export.write(figures, "json", None) or "")
            csv_out = Path(tmp) / f"csv-{request.view}"
            export.write(figures, "csv", csv_out)
            _no_cell_runs(csv_out)
            book = Path(tmp) / f"{request.view}.xlsx"
            export.write(figures, "xlsx", book)
            formulas = [
                c.coordinate
                for sheet in openpyxl.load_workbook(io.BytesIO(book.read_bytes()))
                for row in sheet.iter_rows()
                for c in row
                if c.data_type == "f"
            ]
            assert formulas == [], request.view


@pytest.mark.parametrize(
    "text",
    [
        'client_id,client_name\nC1,"Ann\nC2,Bo\n',  # a quote never closed
        "client_id,client_name\nC1,Ann,extra\n",  # too many fields
        "client_id,client_name\n\x00\x01\x02\n",  # binary after the header
        "client_id,client_name\nC1,\udcff\n",  # not UTF-8 (a lone surrogate escape)
        "\ufeffclient_id,client_name\r\nC1,Ann\r\n\r\n",  # BOM and CRLF
    ],
    ids=["unclosed-quote", "ragged", "binary", "not-utf8", "bom-crlf"],
)
def test_broken_files_give_one_message(tmp_path: Path, text: str) -> None:
    """Files broken in ways a CSV writer never makes: read, or one UtilizationError."""
    folder = tmp_path / "data"
    authorizations = [c.name for c in schema.AUTHORIZATIONS.columns if c.required]
    visits = ["visit_id", "client_id", "procedure_code", "start", "end"]
    procedures = [["procedure_code", "description"], ["T1019", "Care"]]
    _write(
        folder, {"procedures": procedures, "authorizations": [authorizations], "visits": [visits]}
    )
    (folder / "clients.csv").write_bytes(text.encode("utf-8", "surrogateescape"))
    try:
        dataset = load(folder)
    except UtilizationError as exc:
        assert "clients.csv" in str(exc)
        return
    counts = dataset.row_counts
    assert (counts["rows_read"] == counts["rows_used"] + counts["rows_rejected"]).all()
