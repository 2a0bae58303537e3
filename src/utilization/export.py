"""Machine-readable views: a view's figures serialized as JSON, CSV or Excel (data contract §8).

The figures come from `views.build_view`; this module only formats them: money to cents
(half up), units and shares to 4 decimals, dates as YYYY-MM-DD, in the keys' order.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from utilization import balances, payers, providers, revenue
from utilization.exceptions import InputError
from utilization.figures import ViewFigures
from utilization.files import write_atomic
from utilization.spreadsheets import csv_text, workbook_bytes

FORMATS: tuple[str, ...] = ("json", "csv", "xlsx")
JSON_ROWS = 20_000
"""Rows of a frame turned into JSON text at a time (`json_pieces`)."""
MONEY_COLUMNS = {"rate", "total_billed", "insurance_paid", "patient_paid"}
SECTION_COLUMNS: dict[str, list[str]] = {
    "by_procedure": [
        "procedure_code", "description", "units_approved", "units_used", "units_scheduled",
        "units_remaining", "amount_approved", "amount_used", "amount_remaining", "utilization",
    ],
    "by_client": [
        "client_id", "client_name", "units_approved", "units_used", "units_scheduled",
        "units_remaining", "amount_approved", "amount_used", "amount_remaining", "utilization",
    ],
    "detail": [
        "client_id", "client_name", "procedure_code", "description", "units_approved",
        "units_used", "units_scheduled", "units_remaining", "amount_approved", "amount_used",
        "amount_remaining", "utilization",
    ],
    "monthly": [
        "month", "units_approved", "units_used", "amount_approved", "amount_used",
        "units_scheduled", "partial",
    ],
    "authorizations": [
        "authorization_id", "client_id", "client_name", "procedure_code", "payer_id",
        "start_date", "end_date", "units_approved", "units_used", "units_scheduled",
        "units_remaining", "units_unscheduled", "used_share", "elapsed_share", "pace",
        "projected_exhaustion_date", "days_to_end", "status", "rate", "amount_approved",
        "amount_used", "units_per_week_needed",
    ],
    "limits": balances.LIMIT_COLUMNS,
    "schedule": [
        "visit_id", "client_id", "client_name", "procedure_code", "service_date", "units",
        "units_fit", "units_over", "units_not_paid", "schedule_status", "authorization_id",
        "reason",
    ],  # client_name and units_not_paid: `utilization check-schedule` (schedule.not_paid)
    "revenue": ["category", "units", "amount"],
    "revenue_by_client": ["client_id", "client_name", *revenue.category_columns()],
    "revenue_by_procedure": [
        "procedure_code", "description", *revenue.category_columns(), "not_delivered_clients",
    ],
    "by_provider": providers.COLUMNS,
    "by_payer": payers.COLUMNS,
}  # fmt: skip


def round_money(value: float) -> float:
    """Dollars rounded half up to cents: once, at the edge."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return value
    return float(Decimal(repr(float(value))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _is_money(column: str) -> bool:
    return (
        column.startswith("amount_")
        or column.endswith("_amount")
        or column == "amount"
        or column in MONEY_COLUMNS
    )


def _plain(value: Any, column: str) -> Any:
    """One value as JSON: money to cents, units and shares to 4 decimals, dates as text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if _is_money(column):
            return round_money(value)
        rounded = round(value, 4)
        whole = rounded.is_integer() and (column.startswith("units") or column.endswith("_units"))
        return int(rounded) if whole else rounded
    return value


def rounded_records(frame: pd.DataFrame, section: str) -> list[dict[str, Any]]:
    """Rows as shown: chosen columns, money to cents, units to 4 decimals, dates as text."""
    columns = [c for c in SECTION_COLUMNS.get(section, list(frame.columns)) if c in frame.columns]
    values = {c: frame[c].tolist() for c in columns}
    return [{c: _plain(values[c][i], c) for c in columns} for i in range(len(frame))]


def rounded_frame(frame: pd.DataFrame, section: str) -> pd.DataFrame:
    """A frame as shown (see `rounded_records`), for CSV and Excel."""
    columns = [c for c in SECTION_COLUMNS.get(section, list(frame.columns)) if c in frame.columns]
    return pd.DataFrame(rounded_records(frame, section), columns=columns)


def to_jsonable(view: ViewFigures) -> dict[str, Any]:
    """The view with frames as lists of rows and every number rounded as shown."""
    return {key: _jsonable(key, value) for key, value in view.items()}


def _jsonable(key: str, value: Any) -> Any:
    """One entry of a view as `to_jsonable` gives it."""
    if isinstance(value, pd.DataFrame):
        return rounded_records(value, key)
    if isinstance(value, dict):
        return {k: _plain(v, k) for k, v in value.items()}
    return _plain(value, key)


def json_pieces(view: ViewFigures, rows: int = JSON_ROWS) -> Iterator[str]:
    """The JSON text of a view, `json.dumps(to_jsonable(view), indent=2, ensure_ascii=False)`
    to the character, in pieces: an entry at a time, a frame `rows` rows at a time, so that
    memory holds the text of one block of rows, not the whole (10M visits: about 0.8 GB of
    text, several GB as Python objects).
    """
    yield "{"
    for n, (key, value) in enumerate(view.items()):
        head = ("\n  " if n == 0 else ",\n  ") + json.dumps(key, ensure_ascii=False) + ": "
        if not isinstance(value, pd.DataFrame) or value.empty:
            text = json.dumps(_jsonable(key, value), indent=2, ensure_ascii=False)
            yield head + text.replace("\n", "\n  ")
            continue
        yield head + "["
        for start in range(0, len(value), rows):
            records = rounded_records(value.iloc[start : start + rows], key)
            text = json.dumps(records, indent=2, ensure_ascii=False)  # "[\n  {…},\n  {…}\n]"
            yield ("\n" if start == 0 else ",\n") + "  " + text[2:-2].replace("\n", "\n  ")
        yield "\n  ]"
    yield "\n}"


def write(view: ViewFigures, fmt: str, out: Path | None, *, plain_csv: bool = False) -> str | None:
    """Write the view; JSON without `out` is returned as text for standard output.

    CSV and Excel text cells that a spreadsheet would run as a formula are neutralized
    (`utilization.spreadsheets`); `plain_csv` writes CSV text exactly, for programs.
    """
    if fmt not in FORMATS:
        msg = f"unknown format {fmt!r}; choose one of {list(FORMATS)}"
        raise InputError(msg)
    if fmt == "json":
        if out is None:
            return "".join(json_pieces(view)) + "\n"
        write_atomic(out, itertools.chain(json_pieces(view), ["\n"]))
        return None
    sections = _sections(view)
    if out is None:
        msg = f"--format {fmt} needs --out (a folder for csv, a .xlsx file for xlsx)"
        raise InputError(msg)
    if fmt == "csv":
        for name, frame in sections.items():  # write_atomic makes the folder
            write_atomic(out / f"{name}.csv", csv_text(frame, neutralize=not plain_csv))
        return None
    write_atomic(out, workbook_bytes(sections))
    return None


def _sections(view: ViewFigures) -> dict[str, pd.DataFrame]:
    """Tables of a view for CSV/Excel: `summary` (one row of scalars and KPIs), then the frames."""
    plain = to_jsonable(view)
    summary: dict[str, Any] = {}
    for key, value in plain.items():
        if isinstance(value, dict):
            summary.update({f"{key}.{k}" if key != "kpis" else k: v for k, v in value.items()})
        elif not isinstance(value, list):
            summary[key] = value
    tables = {"summary": pd.DataFrame([summary])}
    for key, frame in view.frames().items():
        tables[key] = rounded_frame(frame, key)
    return tables
