"""The command line: validate, demo, export formats, errors without tracebacks."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from contract_data import auth, export, run, timed, write_data
from utilization.cli import main

TODAY = "2026-11-22"


@pytest.fixture(scope="module")
def demo(demo_folder: Callable[..., Path]) -> Path:
    """The default demo agency (60 clients) as of TODAY (shared: read only)."""
    return demo_folder(today=date.fromisoformat(TODAY))


def test_demo_writes_the_same_bytes_twice(tmp_path: Path) -> None:
    """`utilization demo` with the same seed and day writes identical files."""
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["demo", "--out", str(first), "--today", TODAY]) == 0
    assert main(["demo", "--out", str(second), "--today", TODAY]) == 0
    for path in sorted(first.glob("*.csv")):
        assert (second / path.name).read_bytes() == path.read_bytes(), path.name


def test_validate_prints_counts_and_writes_the_rejects(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It prints rows read/used/rejected per table and writes every rejected row to rejects.csv."""
    out = tmp_path / "validation"
    assert main(["validate", "--data", str(demo), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "5 row(s) rejected" in text  # the demo's five deliberate bad rows
    with (out / "rejects.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["table"] for r in rows].count("visits") == 4
    assert [r["table"] for r in rows].count("authorizations") == 1
    assert list(rows[0]) == ["table", "row", "column", "value", "reason", "code"]
    assert [(r["table"], r["column"], r["code"]) for r in rows] == [
        ("authorizations", "end_date", "end_before_start"),
        ("visits", "visit_id", "duplicate"),
        ("visits", "end", "end_before_start"),
        ("visits", "procedure_code", "unknown_reference"),
        ("visits", "minutes", "not_a_number"),
    ]


def test_validate_counts_of_a_state_wide_data_set_stay_apart() -> None:
    """Counts of tens of millions of rows keep a space between the columns (each column as
    wide as its largest number and one), as 50M visits need.
    """
    from dataclasses import replace

    from utilization.pipeline import load
    from utilization.rejects import summary_text

    dataset = load("demo")
    counts = dataset.row_counts.copy()
    visits = counts["table"].eq("visits").to_numpy()
    counts.loc[visits, ["rows_read", "rows_used", "rows_rejected"]] = [50_069_844, 50_069_804, 40]
    lines = summary_text(replace(dataset, row_counts=counts)).splitlines()
    assert lines[1] == "table" + " " * 11 + f"{'read':>11}{'used':>11}{'rejected':>11}"
    assert "visits           50,069,844 50,069,804         40" in lines


def test_validate_of_a_folder_without_visits_exits_1_with_one_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A source missing a required table is one clear message and exit code 1."""
    (tmp_path / "clients.csv").write_text("client_id,client_name\nC1,A\n", encoding="utf-8")
    assert main(["validate", "--data", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "visits" in err
    assert "Traceback" not in err


def test_export_csv_and_xlsx_hold_the_same_figures_as_json(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CSV (one file per section) and Excel (one sheet per section) carry the JSON's numbers."""
    args = ["export", "agency", "--data", str(demo), "--from", "2026-07-01",
            "--to", "2026-09-30"]  # fmt: skip
    assert main([*args, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert main([*args, "--format", "csv", "--out", str(tmp_path / "csv")]) == 0
    assert main([*args, "--format", "xlsx", "--out", str(tmp_path / "agency.xlsx")]) == 0
    summary = pd.read_csv(tmp_path / "csv" / "summary.csv")
    sheet = pd.read_excel(tmp_path / "agency.xlsx", sheet_name="by_procedure")
    assert summary.loc[0, "units_used"] == data["kpis"]["units_used"]
    assert summary.loc[0, "amount_used"] == data["kpis"]["amount_used"]
    assert sheet["units_used"].tolist() == [r["units_used"] for r in data["by_procedure"]]
    assert sheet["amount_approved"].tolist() == [r["amount_approved"] for r in data["by_procedure"]]


def test_python_dash_m_runs_the_same_command_line(demo: Path) -> None:
    """`python -m utilization` is the same program as `utilization`."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "utilization",
            "export",
            "client",
            "--data",
            str(demo),
            "--from",
            "2026-07-01",
            "--to",
            "2026-09-30",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2  # the client view needs --client: a usage error
    assert "--client" in done.stderr
    assert "Traceback" not in done.stderr


def test_counts_and_dates_out_of_range_are_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A count below its least value is a usage error naming the option (exit 2), and an
    empty --from, --to or --as-of (an unset shell variable) is not a date, not the default.
    """
    out = str(tmp_path / "demo")
    for option, value, said in [
        ("--clients", "0", "argument --clients: 0 is less than 1"),
        ("--months", "2", "argument --months: 2 is less than 3 (the window ends with today's"),
        ("--parts", "x", "argument --parts: 'x' is not a whole number"),
    ]:
        assert main(["demo", "--out", out, option, value]) == 2
        assert said in capsys.readouterr().err
    assert not Path(out).exists()
    assert main(["batch", "params/quarterly-clients.yaml", "--workers", "0"]) == 2
    assert "argument --workers: 0 is less than 1" in capsys.readouterr().err
    period = ["--from", "2026-01-01", "--to", "2026-03-31"]
    for option in ("--from", "--to", "--as-of"):
        args = [*period, option, ""] if option == "--as-of" else period.copy()
        if option != "--as-of":
            args[args.index(option) + 1] = ""
        assert main(["export", "agency", "--data", "demo", *args, "--format", "json"]) == 1
        assert "utilization export: '' is not a date (YYYY-MM-DD)" in capsys.readouterr().err


def test_a_payer_fieldworker_or_case_type_in_no_row_is_refused_as_a_client_is(
    tmp_path: Path,
) -> None:
    """A filter id the data does not hold (a typo) stops the export, the report and
    check-schedule with the id named, in memory and in parts, instead of a report of zeros.
    An id in the rows only counts: fieldworker P9 of a visit (no providers table is given:
    it is optional); payer OTH of the payers table, in no row; case type DDA of a visit.
    """
    folder = write_data(
        tmp_path / "data",
        providers=None,
        authorizations=[
            auth("A1", "C1", "T1019", "2025-01-01", "2025-03-31", 40, payer_id="MCD"),
            auth("A2", "C2", "T1019", "2025-01-01", "2025-03-31", 40, payer_id="MCD"),
        ],
        visits=[
            timed("V1", "C1", "T1019", "2025-01-10", 60, provider_id="P9", case_type="DDA"),
            timed("V2", "C2", "T1019", "2025-01-11", 30, provider_id="P1"),
        ],
    )
    period = ["--data", str(folder), "--from", "2025-01-01", "--to", "2025-03-31"]
    for parts in ("0", "2"):
        for option, value, column in [
            ("--provider", "P7", "provider_id"),
            ("--payer", "NOPE", "payer_id"),
            ("--case-type", "dda", "case_type"),
        ]:
            said = f"{column} '{value}' not found in the data; check the id"
            for command in (["export", "agency"], ["check-schedule"]):
                args = [*command, *period, option, value, "--partitions", parts]
                rc, _, err = run(args)
                assert (rc, err.strip()) == (1, f"utilization {command[0]}: {said}"), args
        for option, value, column in [
            ("--provider", "P9", "provider_id"),
            ("--payer", "OTH", "payer_id"),
            ("--case-type", "DDA", "case_type"),
        ]:
            data = export(folder, "agency", option, value, "--partitions", parts)
            assert data["filters"] == {column: [value]}
    assert export(folder, "provider", "--provider", "P9")["kpis"]["units_used"] == 4
