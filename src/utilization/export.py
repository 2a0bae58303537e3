"""Machine-readable views: the figures of every report as JSON, CSV or Excel (DATA_MODEL §8)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from utilization import balances, flags, metrics, service_codes
from utilization.dataset import Dataset
from utilization.errors import InputError, UsageError
from utilization.files import write_atomic
from utilization.metrics import Basis
from utilization.period import Filters, Period

VIEWS: tuple[str, ...] = ("agency", "client", "procedure", "service-codes", "authorizations")
FORMATS: tuple[str, ...] = ("json", "csv", "xlsx")
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
    "monthly": ["month", "units_approved", "units_used", "amount_approved", "amount_used"],
    "authorizations": [
        "authorization_id", "client_id", "client_name", "procedure_code", "payer_id",
        "start_date", "end_date", "units_approved", "units_used", "units_scheduled",
        "units_remaining", "units_unscheduled", "used_share", "elapsed_share", "pace",
        "projected_exhaustion_date", "days_to_end", "status", "rate", "amount_approved",
        "amount_used",
    ],
}  # fmt: skip


@dataclass(frozen=True)
class ViewRequest:
    """What one report or export covers."""

    view: str
    period: Period
    filters: Filters
    as_of: date
    basis: Basis = "prorated"

    def check(self) -> None:
        """Raise InputError where the request cannot be answered."""
        if self.view not in VIEWS:
            msg = f"unknown view {self.view!r}; choose one of {list(VIEWS)}"
            raise UsageError(msg)
        if self.basis not in metrics.BASES:
            msg = f"unknown basis {self.basis!r}; choose one of {list(metrics.BASES)}"
            raise UsageError(msg)
        if self.view == "client" and len(self.filters.clients) != 1:
            msg = "the client view needs exactly one client: add --client ID"
            raise UsageError(msg)
        if self.view == "procedure" and len(self.filters.procedures) != 1:
            msg = "the procedure view needs exactly one procedure code: add --procedure CODE"
            raise UsageError(msg)


def build_view(dataset: Dataset, request: ViewRequest) -> dict[str, Any]:
    """Every figure of one view, unrounded: a dict of scalars, dicts and frames."""
    request.check()
    period, filters = request.period, request.filters
    for column, wanted, table in (
        ("client_id", filters.clients, dataset.clients),
        ("procedure_code", filters.procedures, dataset.procedures),
    ):
        unknown = sorted(set(wanted) - set(table[column]))
        if unknown:
            msg = f"{column} {unknown} not found in the data; check the id"
            raise InputError(msg)
    table = metrics.detail(dataset, period, filters, request.basis)
    balance_table = balances.balances(dataset, request.as_of, filters, period)
    newest = newest_payment_included(dataset, period, filters)
    result: dict[str, Any] = {
        "view": request.view,
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat()},
        "as_of": request.as_of.isoformat(),
        "basis": request.basis,
        "filters": filters.describe(),
        "source": dataset.source,
        "newest_payment_date": newest.date().isoformat() if newest is not None else None,
        "kpis": metrics.kpis(table),
        "by_procedure": metrics.by_procedure(table),
        "by_client": metrics.by_client(table),
        "monthly": metrics.monthly(dataset, period.end, filters),
        "detail": table,
        "authorizations": balance_table,
        "flags": flags.flags(dataset, period, filters, balance_table),
        "rounding_rules": rounding_rules(dataset),
        "rejects": dataset.rejects,
        "row_counts": dataset.row_counts,
    }
    if request.view == "service-codes":
        result["service_codes"] = service_codes.service_codes(dataset, period, filters)
    return result


def newest_payment_included(
    dataset: Dataset, period: Period, filters: Filters
) -> pd.Timestamp | None:
    """The newest paid_date among payments for the completed visits the view covers."""
    covered = metrics.period_visits(
        dataset, period, filters, billable_default=None, columns=["visit_id"]
    )["visit_id"]
    payments = dataset.payments
    ids = pa.array(payments["visit_id"].astype("str").array)
    pool = pa.array(covered.astype("str").array).cast(ids.type)
    found = pc.fill_null(pc.is_in(ids, value_set=pool, skip_nulls=True), False)
    chosen = np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)
    paid = payments.loc[chosen, "paid_date"].max()
    return None if pd.isna(paid) else pd.Timestamp(paid)


def rounding_rules(dataset: Dataset) -> pd.DataFrame:
    """The rule and unit length of every procedure. Grain: one row per procedure_code."""
    return dataset.procedures[
        ["procedure_code", "description", "unit_minutes", "rounding", "rate", "billable"]
    ].reset_index(drop=True)


def round_money(value: float) -> float:
    """Dollars rounded half up to cents: once, at the edge."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return value
    return float(Decimal(repr(float(value))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _is_money(column: str) -> bool:
    return column.startswith("amount_") or column in MONEY_COLUMNS


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
        return int(rounded) if rounded.is_integer() and column.startswith("units") else rounded
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


def to_jsonable(view: dict[str, Any]) -> dict[str, Any]:
    """The view with frames as lists of rows and every number rounded as shown."""
    out: dict[str, Any] = {}
    for key, value in view.items():
        if isinstance(value, pd.DataFrame):
            out[key] = rounded_records(value, key)
        elif isinstance(value, dict):
            out[key] = {k: _plain(v, k) for k, v in value.items()}
        else:
            out[key] = _plain(value, key)
    return out


def write(view: dict[str, Any], fmt: str, out: Path | None) -> str | None:
    """Write the view; JSON without `out` is returned as text for standard output."""
    if fmt not in FORMATS:
        msg = f"unknown format {fmt!r}; choose one of {list(FORMATS)}"
        raise InputError(msg)
    if fmt == "json":
        text = json.dumps(to_jsonable(view), indent=2, ensure_ascii=False) + "\n"
        if out is None:
            return text
        write_atomic(out, text.encode("utf-8"))
        return None
    sections = _sections(view)
    if out is None:
        msg = f"--format {fmt} needs --out (a folder for csv, a .xlsx file for xlsx)"
        raise InputError(msg)
    if fmt == "csv":
        out.mkdir(parents=True, exist_ok=True)
        for name, frame in sections.items():
            write_atomic(
                out / f"{name}.csv", frame.to_csv(index=False, lineterminator="\n").encode()
            )
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
        for name, frame in sections.items():
            frame.to_excel(writer, sheet_name=name[:31], index=False)
    tmp.replace(out)
    return None


def _sections(view: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Tables of a view for CSV/Excel: `summary` (one row of scalars and KPIs), then the frames."""
    plain = to_jsonable(view)
    summary: dict[str, Any] = {}
    for key, value in plain.items():
        if isinstance(value, dict):
            summary.update({f"{key}.{k}" if key != "kpis" else k: v for k, v in value.items()})
        elif not isinstance(value, list):
            summary[key] = value
    tables = {"summary": pd.DataFrame([summary])}
    for key, value in view.items():
        if isinstance(value, pd.DataFrame):
            tables[key] = rounded_frame(value, key)
    return tables
