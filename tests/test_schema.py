"""Tests of the schema: one declaration of the tables and reject codes, read by code and docs."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import get_type_hints

import pandas as pd
import pytest

from remittance_data import march_835
from test_remittance_pipeline import _folder
from test_validation import BASE, run, visits
from utilization import dataset, schema, sources, validation
from utilization.cli import main
from utilization.dataset import Dataset
from utilization.pipeline import load
from utilization.rejects import write_rejects
from utilization.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
REJECT_COLUMNS = ["table", "row", "column", "value", "reason", "code"]


def markdown_table(path: Path, header: str) -> str:
    """The Markdown table of a file that starts with the line `header`, to its last row."""
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines.count(header) == 1, f"{path.name}: one table headed {header!r}"
    first = lines.index(header)
    last = first
    while last < len(lines) and lines[last].startswith("|"):
        last += 1
    return "\n".join(lines[first:last]) + "\n"


# -- the docs are generated from the schema -------------------------------------------------

GENERATED = [(file, render().splitlines()[0], render) for file, render in schema.DOC_TABLES]


@pytest.mark.parametrize(
    ("file", "header", "render"), GENERATED, ids=["columns", "codes", "bounds", "readme", "frames"]
)
def test_docs_hold_exactly_the_tables_rendered_from_the_schema(
    file: str, header: str, render: Callable[[], str]
) -> None:
    """Each column or code table of the docs is the schema's rendering, row for row.

    To change one, change `utilization.schema` and run `python scripts/schema_docs.py`.
    """
    assert markdown_table(ROOT / file, header) == render()


def test_contract_table_states_the_visits_either_pair_rule() -> None:
    """The contract's visits row says: start and end, or service_date and minutes."""
    row = next(line for line in schema.contract_table().splitlines() if "`visits`" in line)
    assert "; ★`start` and ★`end`, or ★`service_date` and ★`minutes`; `provider_id`" in row
    assert row.startswith("| `visits` ★ (service entries, EVV records) | ★`visit_id`, ")


def test_python_m_utilization_schema_prints_every_table(tmp_path: Path) -> None:
    """`python -m utilization.schema` prints the docs' tables, with nothing on stderr."""
    package = Path(schema.__file__).resolve().parents[2]  # the code under test comes first
    path = os.pathsep.join([str(package), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-m", "utilization.schema"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert done.stderr == ""
    for render in (
        schema.contract_table,
        schema.codes_table,
        schema.bounds_table,
        schema.readme_table,
    ):
        assert render() in done.stdout
    assert schema.frames_table() in done.stdout
    assert "| visits | start | datetime | one pair | | |" in done.stdout


# -- one declaration, read by the code ------------------------------------------------------


def test_the_old_names_are_read_from_the_schema() -> None:
    """Table order, required tables and columns, canonical columns all come from the schema."""
    assert dataset.TABLES == (
        "clients",
        "procedures",
        "payers",
        "providers",
        "authorizations",
        "visits",
        "payments",
    )
    assert tuple(schema.TABLES) == dataset.TABLES
    assert sources.REQUIRED_TABLES is schema.REQUIRED_TABLES
    assert schema.REQUIRED_TABLES == ("clients", "procedures", "authorizations", "visits")
    assert {n: t.canonical_columns for n, t in schema.TABLES.items()} == validation.COLUMNS
    assert validation.REQUIRED_COLUMNS["visits"] == ["visit_id", "client_id", "procedure_code"]
    assert validation.STATUSES == ("completed", "scheduled", "cancelled")
    assert dataset.REJECT_COLUMNS == REJECT_COLUMNS


def test_every_table_states_its_grain_and_key() -> None:
    """Every table's grain is "one row per …"; a key is a required column and comes first."""
    for table in (*schema.TABLES.values(), schema.REJECTS, schema.ROW_COUNTS):
        assert table.grain.startswith("one row per "), table.name
    for table in schema.TABLES.values():
        if table.key is not None:
            assert table.required_columns[0] == table.key, table.name
            assert table.canonical_columns[0] == table.key, table.name
    assert [n for n, t in schema.TABLES.items() if t.key is None] == ["payments"]


def test_alternatives_are_declared_optional_columns() -> None:
    """The visits' either pair names declared, not-required columns, out of the optional list."""
    visits_table = schema.TABLES["visits"]
    assert visits_table.alternatives == (("start", "end"), ("service_date", "minutes"))
    for name in ("start", "end", "service_date", "minutes"):
        assert not visits_table.column(name).required
        assert name not in visits_table.optional_columns
    assert visits_table.optional_columns == [
        "provider_id",
        "payer_id",
        "case_type",
        "billable",
        "status",
        "units",
        "amount_billed",
    ]
    with pytest.raises(KeyError, match="table 'visits' has no input column 'order'"):
        visits_table.column("order")


def test_column_names_carry_their_kind() -> None:
    """Suffixes say the kind (Tuva): `_id` ids, `_date` dates, `units` units, amounts money."""
    for table in schema.TABLES.values():
        for column in table.columns:
            name, kind = column.name, column.kind
            if name.endswith("_id"):
                assert kind == "id", name
            if name.endswith("_date"):
                assert kind == "date", name
            if name.startswith("units"):
                assert kind == "units", name
            if name.startswith("amount_") or name.endswith("_paid") or name == "rate":
                assert kind == "money", name


def full_dataset() -> Dataset:
    """The validation tests' tables with every optional table and column given, all valid."""
    return run(
        payers={"payer_id": ["P1"], "payer_name": ["Medicaid"]},
        providers={"provider_id": ["E1"], "provider_name": ["Eve"]},
        visits={**BASE["visits"], "payer_id": ["P1"], "provider_id": ["E1"], "units": ["4"]},
        payments={
            "visit_id": ["V1"],
            "insurance_paid": ["24"],
            "patient_paid": ["1"],
            "paid_date": ["2025-02-01"],
            "denied": ["no"],
            "adjustment_reason_codes": ["CO-45"],
        },
    )


def test_validated_frames_have_the_declared_columns_and_dtypes() -> None:
    """Every canonical frame has the schema's columns, in order, with the declared dtypes."""
    ds = full_dataset()
    assert ds.rejects.empty
    for name, table in schema.TABLES.items():
        frame = getattr(ds, name)
        assert len(frame) >= 1, name
        assert frame.dtypes.astype(str).to_dict() == table.dtypes, name
    assert ds.row_counts.dtypes.astype(str).to_dict() == schema.ROW_COUNTS.dtypes


def test_absent_optional_tables_have_the_declared_dtypes_too() -> None:
    """An optional table left out is an empty frame of the declared columns and dtypes."""
    ds = run()
    for name in ("payers", "providers", "payments"):
        frame = getattr(ds, name)
        assert frame.empty
        assert frame.dtypes.astype(str).to_dict() == schema.TABLES[name].dtypes, name


# -- reject codes ---------------------------------------------------------------------------


def test_codes_are_declared_once_each_with_a_meaning_and_an_example() -> None:
    """The Code type and the table of codes hold the same codes, in the same order."""
    assert tuple(c.code for c in schema.REJECT_CODES) == schema.CODES
    assert len(set(schema.CODES)) == len(schema.CODES) == 22
    for code in schema.REJECT_CODES:
        assert code.code.islower() and " " not in code.code
        assert code.meaning and code.example


def test_a_reject_cannot_be_made_without_a_declared_code() -> None:
    """Validation's one way to reject a row takes a code typed as the declared codes."""
    hints = get_type_hints(validation._Table.reject, vars(validation))
    assert hints["code"] == schema.Code


def _in(tmp_path: Path, files: dict[str, str]) -> Dataset:
    """The remittance tests' data folder with these 835 files in its remittances/."""
    folder = _folder(tmp_path)
    (folder / "remittances").mkdir()
    for name, text in files.items():
        (folder / "remittances" / name).write_text(text)
    return load(folder)


AUTH = BASE["authorizations"]


def _unclosed_quote(tmp_path: Path) -> Dataset:
    """The remittance tests' agency with a client name whose quote runs over four lines."""
    folder = _folder(tmp_path)
    text = (folder / "clients.csv").read_text()
    (folder / "clients.csv").write_text(text + 'C4,"Ann,WA4\nC5,Bo,WA5\nC6,Cy,WA6\nC7,Di",WA7\n')
    return load(folder)


CASES: dict[str, Callable[[Path], Dataset]] = {
    "line_break": _unclosed_quote,
    "missing": lambda _: run(visits={**BASE["visits"], "procedure_code": [""]}),
    "incomplete_times": lambda _: run(visits=visits(start=["2025-01-06 09:00"], end=[""])),
    "not_a_number": lambda _: run(authorizations={**AUTH, "units_approved": ["lots"]}),
    "negative": lambda _: run(authorizations={**AUTH, "units_approved": ["-10"]}),
    "not_whole": lambda _: run(authorizations={**AUTH, "units_approved": ["10.5"]}),
    "out_of_range": lambda _: run(authorizations={**AUTH, "units_approved": ["1000001"]}),
    "not_a_date": lambda _: run(authorizations={**AUTH, "start_date": ["2025-13-01"]}),
    "not_a_datetime": lambda _: run(visits=visits(start=["tomorrow"], end=["2025-01-06 10:00:00"])),
    "nonexistent_local_time": lambda _: run(
        visits=visits(start=["2025-03-09 02:30:00"], end=["2025-03-09 04:00:00"])
    ),
    "not_a_flag": lambda _: run(visits={**BASE["visits"], "billable": ["maybe"]}),
    "unknown_status": lambda _: run(visits={**BASE["visits"], "status": ["Done"]}),
    "unknown_rounding_rule": lambda _: run(
        procedures={**BASE["procedures"], "rounding": ["midpoint", "nearest"]}
    ),
    "duplicate": lambda _: run(
        visits=visits(
            visit_id=["V1", "V1"], start=["2025-01-06 09:00"] * 2, end=["2025-01-06 10:00"] * 2
        )
    ),
    "invisible_character": lambda _: run(
        clients={"client_id": ["C1", "C2\u200b"], "client_name": ["Al", "Bo"]}
    ),
    "unknown_reference": lambda _: run(visits={**BASE["visits"], "client_id": ["C9"]}),
    "rejected_reference": lambda _: run(
        clients={"client_id": ["C1", "C2"], "client_name": ["", "Bo"]}
    ),
    "end_before_start": lambda _: run(
        visits=visits(start=["2025-01-06 10:00:00"], end=["2025-01-06 09:59:00"])
    ),
    "service_date_mismatch": lambda _: run(
        visits=visits(
            start=["2025-01-06 22:00:00"], end=["2025-01-07 01:00:00"], service_date=["2025-01-07"]
        )
    ),
    "minutes_mismatch": lambda _: run(
        visits=visits(start=["2025-01-06 09:00:00"], end=["2025-01-06 10:00:00"], minutes=["45"])
    ),
    "unmatched_payment": lambda tmp_path: _in(tmp_path, {"march.835": march_835()}),
    "unreadable_835": lambda tmp_path: _in(
        tmp_path, {"notes.835": "hello, this is not a remittance\n"}
    ),
}


def test_every_code_has_a_case() -> None:
    """The cases below cover every declared code, no more."""
    assert tuple(CASES) == schema.CODES


@pytest.mark.parametrize("declared", schema.REJECT_CODES, ids=lambda c: c.code)
def test_each_code_is_given_with_its_example_reason(
    declared: schema.RejectCode, tmp_path: Path
) -> None:
    """A row with the problem a code names is rejected with that code and the example reason."""
    ds = CASES[declared.code](tmp_path)
    pairs = list(zip(ds.rejects["reason"], ds.rejects["code"], strict=True))
    assert (declared.example, declared.code) in pairs


def test_one_bad_value_gets_one_code() -> None:
    """A row with two problems gets one reject per problem, each with its own code."""
    ds = run(
        visits=visits(
            start=["2025-01-06 09:00", "x"], end=["2025-01-06 10:00", "y"], client_id=["C9", "C1"]
        )
    )
    assert list(ds.rejects[["row", "column", "code"]].itertuples(index=False, name=None)) == [
        (2, "client_id", "unknown_reference"),
        (3, "start", "not_a_datetime"),
        (3, "end", "not_a_datetime"),
    ]


def test_remittance_rejects_are_coded(tmp_path: Path) -> None:
    """Unmatched 835 lines are `unmatched_payment`, an unreadable 835 file `unreadable_835`."""
    ds = _in(tmp_path, {"march.835": march_835(), "notes.835": "hello, this is not a remittance\n"})
    remittances = ds.rejects[ds.rejects["table"] == "remittances"]
    assert list(remittances[["row", "code"]].itertuples(index=False, name=None)) == [
        (28, "unmatched_payment"),
        (33, "unmatched_payment"),
        (0, "unreadable_835"),
    ]
    assert list(ds.rejects.columns) == REJECT_COLUMNS


# -- the rejects frame and files ------------------------------------------------------------


def test_empty_rejects_have_the_declared_columns_and_dtypes() -> None:
    """A rejects frame without rows has table, row, column, value, reason, code as declared."""
    empty = dataset.empty_rejects()
    assert list(empty.columns) == REJECT_COLUMNS
    assert empty.dtypes.astype(str).to_dict() == schema.REJECTS.dtypes
    assert schema.REJECTS.dtypes == {
        "table": "str",
        "row": "int64",
        "column": "str",
        "value": "str",
        "reason": "str",
        "code": "str",
    }


def test_rejects_csv_has_the_code_after_the_reason(tmp_path: Path) -> None:
    """rejects.csv's columns are table, row, column, value, reason, code, one row per reject."""
    ds = run(visits={**BASE["visits"], "client_id": ["C9"]})
    with write_rejects(ds, tmp_path).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        REJECT_COLUMNS,
        ["visits", "2", "client_id", "C9", "not found in clients", "unknown_reference"],
    ]


def test_exports_carry_the_code_of_each_reject(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """JSON rows and the CSV and Excel `rejects` tables end with the code, after the reason."""
    folder = _folder(tmp_path)
    (folder / "visits.csv").write_text(
        "visit_id,client_id,procedure_code,service_date,minutes\nV1,C1,T1019,2025-03-03,x\n",
        encoding="utf-8",
    )
    request = ["export", "agency", "--data", str(folder), "--from", "2025-03-01",
               "--to", "2025-03-31"]  # fmt: skip
    capsys.readouterr()
    assert main([*request, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rejects"]
    assert rows == [
        {
            "table": "visits",
            "row": 2,
            "column": "minutes",
            "value": "x",
            "reason": "not a number",
            "code": "not_a_number",
        }
    ]
    assert list(rows[0]) == REJECT_COLUMNS
    assert main([*request, "--format", "csv", "--out", str(tmp_path / "csv")]) == 0
    text = (tmp_path / "csv" / "rejects.csv").read_text(encoding="utf-8")
    assert text == f"{','.join(REJECT_COLUMNS)}\nvisits,2,minutes,x,not a number,not_a_number\n"
    assert main([*request, "--format", "xlsx", "--out", str(tmp_path / "out.xlsx")]) == 0
    sheet = pd.read_excel(tmp_path / "out.xlsx", sheet_name="rejects")
    assert list(sheet.columns) == REJECT_COLUMNS
    assert sheet["code"].tolist() == ["not_a_number"]


def test_summary_still_counts_by_reason() -> None:
    """`validate`'s summary lists the commonest reasons in words, as before codes existed."""
    from utilization.rejects import summary_text

    ds = run(visits={**BASE["visits"], "client_id": ["C9"]}, settings=Settings())
    assert "       1 × visits.client_id: not found in clients" in summary_text(ds)


def test_summary_says_how_many_reasons_it_leaves_out() -> None:
    """Thirteen visits from 09:00 giving 5 minutes, ending 10:01 to 10:12 and once more
    10:12 (13 rejects, 12 reasons, each naming the minutes from start to end): the summary
    lists the ten commonest, 72 minutes first, and says the two left out, given twice in
    all, are in rejects.csv.
    """
    from utilization.rejects import TOP_REASONS, summary_text

    ends = [f"2025-01-06 10:{m:02d}:00" for m in [*range(1, 13), 12]]
    ds = run(visits=visits(start=["2025-01-06 09:00:00"] * 13, end=ends, minutes=["5"] * 13))
    lines = summary_text(ds).splitlines()
    listed = [line for line in lines if " × " in line]
    assert len(listed) == TOP_REASONS == 10
    assert listed[0] == "       2 × visits.minutes: does not match start to end (72 minutes)"
    assert lines[lines.index(listed[-1]) + 1] == (
        "  … and 2 more reason(s), 2 in all: rejects.csv lists every one"
    )
