"""Builders for the contract tests: write a small data folder of CSVs and run the CLI export."""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

Row = Mapping[str, Any]

# The report period most tests use: the first quarter of 2025 (90 days, inclusive).
PERIOD_FROM = "2025-01-01"
PERIOD_TO = "2025-03-31"

CLIENTS: list[dict[str, Any]] = [
    {"client_id": "C1", "client_name": "Ana Alvarez", "status": "active"},
    {"client_id": "C2", "client_name": "Ben Brooks", "status": "active"},
    {"client_id": "C3", "client_name": "Cara Chen", "status": "active"},
]

# Rates are dollars per unit. `T2021 U4` is written with its modifier, as agencies write it.
PROCEDURES: list[dict[str, Any]] = [
    {"procedure_code": "T1019", "description": "Personal care", "unit_minutes": 15, "rate": "6.00"},
    {
        "procedure_code": "S5125",
        "description": "Attendant care",
        "unit_minutes": 15,
        "rate": "5.00",
    },
    {
        "procedure_code": "T2021 U4",
        "description": "Day habilitation",
        "unit_minutes": 15,
        "rate": "10.00",
    },
    {"procedure_code": "S5150", "description": "Respite", "unit_minutes": 15, "rate": "4.00"},
    {
        "procedure_code": "G0156",
        "description": "Home health aide (not billed)",
        "unit_minutes": 15,
        "rate": "4.00",
        "billable": "false",
    },
    {"procedure_code": "S9123", "description": "Nursing visit", "unit_minutes": 0, "rate": "80.00"},
]

PAYERS: list[dict[str, Any]] = [
    {"payer_id": "MCD", "payer_name": "State Medicaid"},
    {"payer_id": "PVT", "payer_name": "Private insurance"},
    {"payer_id": "OTH", "payer_name": "Other plan"},
]

PROVIDERS: list[dict[str, Any]] = [
    {"provider_id": "P1", "provider_name": "Dana Diaz"},
    {"provider_id": "P2", "provider_name": "Eli Evans"},
]

# Header written for a table given no rows (a CSV of a header only is a table of no rows).
EMPTY_COLUMNS: dict[str, list[str]] = {
    "clients": ["client_id", "client_name"],
    "procedures": ["procedure_code", "description", "unit_minutes", "rate"],
    "payers": ["payer_id", "payer_name"],
    "providers": ["provider_id", "provider_name"],
    "authorizations": [
        "authorization_id", "client_id", "procedure_code", "start_date", "end_date",
        "units_approved", "payer_id", "rate",
    ],
    "visits": ["visit_id", "client_id", "procedure_code", "start", "end"],
    "payments": ["visit_id", "insurance_paid", "patient_paid", "paid_date"],
}  # fmt: skip

_outputs = itertools.count(1)


def write_table(folder: Path, table: str, rows: Sequence[Row]) -> Path:
    """Write `rows` as `<table>.csv`; columns are the keys in order of first appearance.

    A value of None is written as an empty cell; a row without a key has an empty cell there.
    With no rows, the header alone is written (the table's usual columns).
    """
    columns: list[str] = [] if rows else list(EMPTY_COLUMNS.get(table, []))
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    path = folder / f"{table}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else str(row.get(c)) for c in columns])
    return path


def write_data(
    folder: Path,
    *,
    authorizations: Sequence[Row],
    visits: Sequence[Row],
    clients: Sequence[Row] = CLIENTS,
    procedures: Sequence[Row] = PROCEDURES,
    payers: Sequence[Row] | None = PAYERS,
    providers: Sequence[Row] | None = PROVIDERS,
    payments: Sequence[Row] | None = None,
    settings: str | None = None,
) -> Path:
    """Write one agency's data folder (one CSV per table) and return the folder.

    `settings`, when given, is written as the folder's `utilization.toml`.
    """
    folder.mkdir(parents=True, exist_ok=True)
    write_table(folder, "clients", clients)
    write_table(folder, "procedures", procedures)
    write_table(folder, "authorizations", authorizations)
    write_table(folder, "visits", visits)
    if payers is not None:
        write_table(folder, "payers", payers)
    if providers is not None:
        write_table(folder, "providers", providers)
    if payments is not None:
        write_table(folder, "payments", payments)
    if settings is not None:
        (folder / "utilization.toml").write_text(settings, encoding="utf-8")
    return folder


def auth(
    authorization_id: str,
    client_id: str,
    procedure_code: str,
    start_date: str,
    end_date: str,
    units_approved: int | str,
    **extra: Any,
) -> dict[str, Any]:
    """One authorization row (rate, payer_id, ... as keyword arguments)."""
    row: dict[str, Any] = {
        "authorization_id": authorization_id,
        "client_id": client_id,
        "procedure_code": procedure_code,
        "start_date": start_date,
        "end_date": end_date,
        "units_approved": units_approved,
        "payer_id": None,
        "rate": None,
    }
    row.update(extra)
    return row


def timed(
    visit_id: str,
    client_id: str,
    procedure_code: str,
    day: str,
    minutes: int,
    start: str = "09:00",
    **extra: Any,
) -> dict[str, Any]:
    """One visit row with local `start` and `end` date-times `minutes` apart (wall clock).

    Only for times that do not cross a daylight-saving change; DST tests write their
    date-times by hand.
    """
    begin = datetime.fromisoformat(f"{day} {start}")
    finish = begin + timedelta(minutes=minutes)
    row: dict[str, Any] = {
        "visit_id": visit_id,
        "client_id": client_id,
        "procedure_code": procedure_code,
        "start": begin.strftime("%Y-%m-%d %H:%M:%S"),
        "end": finish.strftime("%Y-%m-%d %H:%M:%S"),
    }
    row.update(extra)
    return row


def run(args: list[str]) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr).

    A usage error may surface as SystemExit (argparse); its code is returned the same way.
    """
    from utilization.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(args)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
    return int(rc if rc is not None else 0), out.getvalue(), err.getvalue()


def export(
    folder: Path,
    view: str,
    *options: str,
    frm: str = PERIOD_FROM,
    to: str = PERIOD_TO,
) -> dict[str, Any]:
    """Export `view` of the data in `folder` as JSON (written to a file) and return it parsed.

    The JSON file goes to a sibling folder so that nothing written next to the report
    (e.g. a rejects CSV) ends up among the data tables.
    """
    out_dir = folder.parent / f"{folder.name}-out"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"{view}-{next(_outputs)}.json"
    args = ["export", view, "--data", str(folder), "--from", frm, "--to", to]
    args += [*options, "--format", "json", "--out", str(out)]
    rc, _stdout, stderr = run(args)
    assert rc == 0, f"utilization {' '.join(args)} exited {rc}: {stderr}"
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def units(expected: float) -> Any:
    """Expected units: reported to at least 4 decimals."""
    return pytest.approx(expected, abs=1e-4)


def money(expected: float) -> Any:
    """Expected dollars: the exact figure rounded to cents once (data contract §8)."""
    return pytest.approx(round(expected, 2), abs=1e-6)


def rows_by(rows: Iterable[Row], *keys: str) -> dict[Any, Row]:
    """Index report rows by one key column (or a tuple of several)."""
    indexed: dict[Any, Row] = {}
    for row in rows:
        key = row[keys[0]] if len(keys) == 1 else tuple(row[k] for k in keys)
        assert key not in indexed, f"two rows for {key!r}"
        indexed[key] = row
    return indexed


FIGURES = ("units_approved", "units_used", "amount_approved", "amount_used")


def nonzero(rows: Iterable[Row], figures: Sequence[str] = FIGURES) -> list[Row]:
    """Rows with at least one non-zero figure (rows of zeros may or may not be listed)."""
    return [r for r in rows if any(abs(float(r[f] or 0)) > 1e-9 for f in figures)]


def flag_units(data: Mapping[str, Any], kind: str) -> dict[str, float]:
    """Units of the visit flags of `kind`, by visit_id."""
    found: dict[str, float] = {}
    for row in data["flags"]:
        if row["kind"] == kind:
            assert row["visit_id"] not in found, f"two {kind} flags for {row['visit_id']}"
            found[row["visit_id"]] = row["units"]
    return found


def flagged(data: Mapping[str, Any], kind: str, id_column: str = "visit_id") -> set[str]:
    """Ids (visit_id or authorization_id) that carry a flag of `kind`."""
    return {row[id_column] for row in data["flags"] if row["kind"] == kind}


def day(text: str) -> date:
    """A date from `YYYY-MM-DD`."""
    return date.fromisoformat(text)
