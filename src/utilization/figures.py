"""The figures of a view as one typed result: frames with a stated grain, scalars, no format.

`views.build_view` makes a `ViewFigures`; `export` serializes it (JSON, CSV, Excel) and the
report sections draw it. Nothing here rounds: amounts are rounded to cents at the edge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from utilization import balances, flags, metrics, payers, providers, schedule, service_codes
from utilization import revenue as revenue_figures
from utilization.metrics import Basis
from utilization.period import Period
from utilization.selection import Selection


@dataclass(frozen=True)
class ViewFigures:
    """Every figure of one view for one request, unrounded (data contract §8 keys, in order).

    Frames and their grain:

    - `by_procedure`: one row per procedure_code; `by_client`: one row per client_id;
      `detail`: one row per (client_id, procedure_code) (data contract §5);
    - `monthly`: one row per calendar month, the 12 ending with the period's last month;
    - `authorizations`: one row per authorization overlapping the period (§6);
    - `flags`: one row per flagged visit or authorization and kind;
    - `rounding_rules`: one row per procedure_code; `rejects`: one row per rejected value;
      `row_counts`: one row per table;
    - `service_codes` (view `service-codes` only, else None): one row per procedure_code (§7).

    Limits and the schedule (§10, §11; every view but `service-codes`, else None):

    - `limits`: one row per limit of an authorization holding the as-of date, for the
      calendar period holding it; `schedule`: one row per scheduled billable visit in the
      period, as projected.

    Revenue, fieldworkers and payers (§12, §13; every view but `service-codes`, else None):

    - `revenue`: one row per category (approved, delivered, not_delivered, cancelled,
      unauthorized, over_authorization, under_recorded, over_recorded, insurance_paid);
    - `revenue_by_client`: one row per client_id; `revenue_by_procedure`: one row per
      procedure_code; the categories as columns `<category>_units`, `<category>_amount`;
    - `by_provider`: one row per provider_id (visits without one: a row with an empty id);
    - `by_payer`: one row per payer_id (no payer: a row with an empty id).
    """

    view: str
    period: Period
    as_of: date
    basis: Basis
    filters: dict[str, object]
    source: str
    newest_payment_date: date | None
    kpis: dict[str, float | None]
    by_procedure: pd.DataFrame
    by_client: pd.DataFrame
    monthly: pd.DataFrame
    detail: pd.DataFrame
    authorizations: pd.DataFrame
    flags: pd.DataFrame
    rounding_rules: pd.DataFrame
    rejects: pd.DataFrame
    row_counts: pd.DataFrame
    service_codes: pd.DataFrame | None = None
    limits: pd.DataFrame | None = None
    schedule: pd.DataFrame | None = None
    revenue: pd.DataFrame | None = None
    revenue_by_client: pd.DataFrame | None = None
    revenue_by_procedure: pd.DataFrame | None = None
    by_provider: pd.DataFrame | None = None
    by_payer: pd.DataFrame | None = None

    def items(self) -> list[tuple[str, Any]]:
        """(key, value) in export order; the period as {from, to}, figures left out as None."""
        out: list[tuple[str, Any]] = []
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name == "period":
                value = {"from": self.period.start.isoformat(), "to": self.period.end.isoformat()}
            elif value is None and spec.default is None:
                continue
            out.append((spec.name, value))
        return out

    def frames(self) -> dict[str, pd.DataFrame]:
        """The frames of the view, by key, in export order."""
        return {k: v for k, v in self.items() if isinstance(v, pd.DataFrame)}


T = TypeVar("T")
FiguresFunction = Callable[[Selection], dict[str, Any]]
"""A function adding some `ViewFigures` fields (by name) for a selection."""


def once(selection: Selection, key: str, make: Callable[[], T]) -> T:
    """`make()` computed once per selection: figures several functions read."""
    if key not in selection.memo:
        selection.memo[key] = make()
    value: T = selection.memo[key]
    return value


def balance_table(selection: Selection) -> pd.DataFrame:
    """Authorization balances as of the balance date (§6); grain: one row per authorization."""
    return _balances_and_limits(selection)[0]


def limit_rows(selection: Selection) -> pd.DataFrame:
    """Limits of the balances' authorizations holding the as-of date (§10); grain: one row
    per authorization and limited period kind.
    """
    return _balances_and_limits(selection)[1]


def _balances_and_limits(selection: Selection) -> tuple[pd.DataFrame, pd.DataFrame]:
    return once(
        selection,
        "balances",
        lambda: balances.balances_and_limits(
            selection.dataset, selection.as_of, selection.filters, selection.period
        ),
    )


def schedule_table(selection: Selection) -> pd.DataFrame:
    """Scheduled billable visits of the period as projected (§11); grain: one row per visit."""
    return once(selection, "schedule", lambda: schedule.schedule(selection))


def usage(selection: Selection) -> dict[str, Any]:
    """The figures every view has: approved, used and scheduled; balances; flags; method.

    Keys as `ViewFigures` fields from `kpis` to `row_counts`.
    """
    dataset = selection.dataset
    table = metrics.detail(selection)
    balance = balance_table(selection)
    return {
        "kpis": metrics.kpis(table),
        "by_procedure": metrics.by_procedure(table),
        "by_client": metrics.by_client(table),
        "monthly": metrics.monthly(
            dataset, selection.period.end, selection.filters, selection.as_of
        ),
        "detail": table,
        "authorizations": balance,
        "flags": flags.flags(selection, balance, schedule_table(selection), limit_rows(selection)),
        "rounding_rules": rounding_rules(selection),
        "rejects": dataset.rejects,
        "row_counts": dataset.row_counts,
    }


def limits_and_schedule(selection: Selection) -> dict[str, Any]:
    """Each limit's current period and the scheduled visits checked (§10, §11): keys `limits`
    and `schedule`.
    """
    return {"limits": limit_rows(selection), "schedule": schedule_table(selection)}


def service_code_usage(selection: Selection) -> dict[str, Any]:
    """The service code usage table (data contract §7): key `service_codes`."""
    return {"service_codes": service_codes.service_codes(selection)}


def revenue(selection: Selection) -> dict[str, Any]:
    """Where the authorized dollars went (§12), fieldworkers and payers (§13): keys
    `revenue`, `revenue_by_client`, `revenue_by_procedure`, `by_provider`, `by_payer`.
    """
    dataset = selection.dataset
    paid = revenue_figures.insurance_paid_by_visit(dataset)
    lines = revenue_figures.visit_lines(selection, paid)  # once, for revenue and fieldworkers
    table = revenue_figures.pairs(selection, lines)
    names = dataset.clients.set_index("client_id")["client_name"]
    descriptions = dataset.procedures.set_index("procedure_code")["description"]
    return {
        "revenue": revenue_figures.revenue(table),
        "revenue_by_client": revenue_figures.by_client(table, names),
        "revenue_by_procedure": revenue_figures.by_procedure(table, descriptions),
        "by_provider": providers.by_provider(selection, lines),
        "by_payer": payers.by_payer(selection, paid),
    }


def newest_payment_included(selection: Selection) -> date | None:
    """The newest paid_date among payments for the completed visits the view covers."""
    covered = selection.visits(billable_default=None, columns=["visit_id"])["visit_id"]
    payments = selection.dataset.payments
    ids = pa.array(payments["visit_id"].astype("str").array)
    pool = pa.array(covered.astype("str").array).cast(ids.type)
    found = pc.fill_null(pc.is_in(ids, value_set=pool, skip_nulls=True), False)
    chosen = np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)
    paid = payments.loc[chosen, "paid_date"].max()
    return None if pd.isna(paid) else pd.Timestamp(paid).date()


def rounding_rules(selection: Selection) -> pd.DataFrame:
    """The rule and unit length of every procedure. Grain: one row per procedure_code."""
    return selection.dataset.procedures[
        ["procedure_code", "description", "unit_minutes", "rounding", "rate", "billable"]
    ].reset_index(drop=True)
