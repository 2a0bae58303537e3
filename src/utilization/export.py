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
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

import numpy as np
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


def _plain_column(column: pd.Series, name: str) -> list[Any]:
    """`[_plain(value, name) for value in column]`, by the column's type where it can be."""
    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype):  # text, missing as NA or NaN
        missing = column.isna().tolist()
        return [None if m else v for v, m in zip(column.tolist(), missing, strict=True)]
    if not isinstance(dtype, np.dtype) or dtype.kind not in "Mfiub":
        return [_plain(v, name) for v in column.tolist()]
    if dtype.kind == "M":  # naive datetime64: the date of each instant
        instants = column.to_numpy()
        days = np.datetime_as_string(instants, unit="D").tolist()
        return [None if m else d for d, m in zip(days, np.isnat(instants).tolist(), strict=True)]
    values: list[Any] = column.tolist()  # Python ints, bools and floats
    if dtype.kind != "f":
        return values
    if _is_money(name):
        return [None if v != v else round_money(v) for v in values]  # v != v: NaN
    whole = name.startswith("units") or name.endswith("_units")
    out: list[Any] = []
    for value in values:
        if value != value:
            out.append(None)
            continue
        rounded = round(value, 4)
        out.append(int(rounded) if whole and rounded.is_integer() else rounded)
    return out


def rounded_records(frame: pd.DataFrame, section: str) -> list[dict[str, Any]]:
    """Rows as shown: chosen columns, money to cents, units to 4 decimals, dates as text."""
    columns = _shown_columns(frame, section)
    values = [_plain_column(frame[c], c) for c in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def _shown_columns(frame: pd.DataFrame, section: str) -> list[str]:
    """The columns of a section's frame that are exported, in the section's order."""
    return [c for c in SECTION_COLUMNS.get(section, list(frame.columns)) if c in frame.columns]


_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def _json_text(value: Any) -> str:
    """One plain value (`_plain`) as `json.dumps(value, ensure_ascii=False)` writes it."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    return _ENCODE(value)  # Infinity, and any other value


def _json_column(column: pd.Series, name: str) -> list[str]:
    """`[_json_text(value) for value in _plain_column(column, name)]`, by the column's type
    where it can be.
    """
    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype):
        return ["null" if v is None else encode_basestring(v) for v in _plain_column(column, name)]
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return [int.__repr__(v) for v in column.tolist()]
    return [_json_text(v) for v in _plain_column(column, name)]


def _records_json(frame: pd.DataFrame, section: str) -> str:
    """The rows of a block of a section's frame as `json_pieces` writes them inside the
    section's list: `    {` then a line `      "column": value` per column, rows joined by
    `,` and a new line; the text of `json.dumps(rounded_records(...), indent=2)`, indented.
    """
    columns = _shown_columns(frame, section)
    if not columns:  # rows without columns: `{}` each
        return ",\n".join(["    {}"] * len(frame))
    lines = []
    for name in columns:
        head = "      " + encode_basestring(name) + ": "
        lines.append([head + text for text in _json_column(frame[name], name)])
    return ",\n".join("    {\n" + ",\n".join(row) + "\n    }" for row in zip(*lines, strict=True))


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
            text = _records_json(value.iloc[start : start + rows], key)
            yield ("\n" if start == 0 else ",\n") + text
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
