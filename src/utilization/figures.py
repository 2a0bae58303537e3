"""The figures of a view as one typed result: frames with a stated grain, scalars, no format.

`views.build_view` makes a `ViewFigures`; `export` serializes it (JSON, CSV, Excel) and the
report sections draw it. Nothing here rounds: amounts are rounded to cents at the edge.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from utilization import balances, flags, metrics, payers, providers, schedule, service_codes
from utilization import revenue as revenue_figures
from utilization.metrics import Basis
from utilization.period import Period
from utilization.selection import Selection
from utilization.threads import together_by_name


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
Parts = dict[str, Any]
"""Frames (and values) of one set of whole clients, by name, that `Figures.finish` puts
together: rows that each belong to one client, or a client's share of a sum (`totals`)."""


@dataclass(frozen=True)
class Figures:
    """Some `ViewFigures` fields, made in two steps so that the clients can be split.

    Every figure is a sum over clients or belongs to one client: `parts(selection)` gives
    the rows of the selection's clients (each client's rows, each client's share of a sum);
    `finish(selection, parts)` puts the parts of one or more disjoint sets of whole clients
    together into the fields, adding the clients' shares in client order (`totals`).
    Calling it does both for one selection: the figures of the whole are those of any split
    (`partitions`), to the last bit. In `finish`, `selection` gives the request and the
    catalogs, rejects and row counts (its own rows are not read).
    """

    parts: Callable[[Selection], Parts]
    finish: Callable[[Selection, list[Parts]], dict[str, Any]]

    def __call__(self, selection: Selection) -> dict[str, Any]:
        return self.finish(selection, [self.parts(selection)])


def once(selection: Selection, key: str, make: Callable[[], T]) -> T:
    """`make()` computed once per selection: figures several functions read. A thread asking
    for it while another computes it waits for that result (`threads.together`). An error is
    kept with the figure; an interruption (Ctrl-C) is not: the next call computes it again.
    """
    with selection.lock:
        slot = selection.memo.get(key)
        mine = slot is None
        if slot is None:
            slot = selection.memo[key] = Future()
    if mine:
        try:
            value = make()
        except Exception as error:
            slot.set_exception(error)
        except BaseException as error:
            with selection.lock:
                selection.memo.pop(key, None)
            slot.set_exception(error)  # for a thread waiting on it
            raise
        else:
            slot.set_result(value)
    found: T = slot.result()
    return found


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
    return schedule.schedule_of([_schedule_rows(selection)])


def _schedule_rows(selection: Selection) -> pd.DataFrame:
    return once(selection, "schedule_rows", lambda: schedule.schedule_rows(selection))


def _usage_parts(selection: Selection) -> Parts:
    work: dict[str, Callable[[], Any]] = {
        "detail": lambda: metrics.detail(selection),
        "monthly": lambda: metrics.monthly_parts(
            selection.dataset, selection.period.end, selection.filters
        ),
        "authorizations": lambda: balance_table(selection),
        "limits": lambda: limit_rows(selection),
        "schedule": lambda: _schedule_rows(selection),
        "visit_flags": lambda: flags.visit_flag_rows(selection),
    }
    return together_by_name(work, len(selection.dataset.visits))


def _finished(selection: Selection, parts: list[Parts], key: str) -> pd.DataFrame:
    """The frame `key` of the parts put together: rows of disjoint sets of clients in the
    order of the whole (computed once per request: several fields read them).
    """
    combine = {
        "detail": metrics.detail_of,
        "authorizations": balances.balances_of,
        "limits": balances.limits_of,
        "schedule": schedule.schedule_of,
    }[key]
    return once(selection, f"finished:{key}", lambda: combine([p[key] for p in parts]))


def _usage_finish(selection: Selection, parts: list[Parts]) -> dict[str, Any]:
    dataset = selection.dataset
    table = _finished(selection, parts, "detail")
    balance = _finished(selection, parts, "authorizations")
    visit_flags = flags.visit_flags_of([p["visit_flags"] for p in parts])
    return {
        "kpis": metrics.kpis(table),
        "by_procedure": metrics.by_procedure(table),
        "by_client": metrics.by_client(table),
        "monthly": metrics.monthly_table(
            [p["monthly"] for p in parts], selection.period.end, selection.as_of
        ),
        "detail": table,
        "authorizations": balance,
        "flags": flags.flags_of(
            visit_flags,
            _finished(selection, parts, "schedule"),
            balance,
            _finished(selection, parts, "limits"),
        ),
        "rounding_rules": rounding_rules(selection),
        "rejects": dataset.rejects,
        "row_counts": dataset.row_counts,
    }


usage = Figures(_usage_parts, _usage_finish)
"""The figures every view has: approved, used and scheduled; balances; flags; method (keys as
`ViewFigures` fields from `kpis` to `row_counts`).
"""


def _limits_and_schedule_parts(selection: Selection) -> Parts:
    return {"limits": limit_rows(selection), "schedule": _schedule_rows(selection)}


limits_and_schedule = Figures(
    _limits_and_schedule_parts,
    lambda selection, parts: {
        "limits": _finished(selection, parts, "limits"),
        "schedule": _finished(selection, parts, "schedule"),
    },
)
"""Each limit's current period and the scheduled visits checked (§10, §11): keys `limits`
and `schedule`.
"""


def _service_code_parts(selection: Selection) -> Parts:
    usage_rows, denials = service_codes.service_code_parts(selection)
    return {"service_codes": usage_rows, "denials": denials}


service_code_usage = Figures(
    _service_code_parts,
    lambda selection, parts: {
        "service_codes": service_codes.service_codes_of(
            selection, [p["service_codes"] for p in parts], [p["denials"] for p in parts]
        )
    },
)
"""The service code usage table (data contract §7): key `service_codes`."""


def _revenue_parts(selection: Selection) -> Parts:
    dataset = selection.dataset
    paid = revenue_figures.insurance_paid_by_visit(dataset)
    lines = revenue_figures.visit_lines(selection, paid)  # once, for revenue and fieldworkers
    work: dict[str, Callable[[], Any]] = {
        "pairs": lambda: revenue_figures.pairs(selection, lines),
        "by_provider": lambda: providers.provider_parts(selection, lines),
        "by_payer": lambda: payers.payer_parts(selection, paid),
    }
    return together_by_name(work, len(selection.dataset.visits))


def _revenue_finish(selection: Selection, parts: list[Parts]) -> dict[str, Any]:
    dataset = selection.dataset
    table = revenue_figures.pairs_of([p["pairs"] for p in parts])
    names = dataset.clients.set_index("client_id")["client_name"]
    descriptions = dataset.procedures.set_index("procedure_code")["description"]
    return {
        "revenue": revenue_figures.revenue(table),
        "revenue_by_client": revenue_figures.by_client(table, names),
        "revenue_by_procedure": revenue_figures.by_procedure(table, descriptions),
        "by_provider": providers.by_provider_of(selection, [p["by_provider"] for p in parts]),
        "by_payer": payers.by_payer_of(selection, [p["by_payer"] for p in parts]),
    }


revenue = Figures(_revenue_parts, _revenue_finish)
"""Where the authorized dollars went (§12), fieldworkers and payers (§13): keys `revenue`,
`revenue_by_client`, `revenue_by_procedure`, `by_provider`, `by_payer`.
"""


def newest_payment_included(selection: Selection) -> date | None:
    """The newest paid_date among payments for the completed visits the view covers."""
    covered = np.append(selection.mask(billable_default=None), False)
    rows = revenue_figures.payment_visit_rows(selection.dataset)
    chosen = covered[rows]  # -1 (no visit) reads the False appended
    paid = selection.dataset.payments.loc[chosen, "paid_date"].max()
    return None if pd.isna(paid) else pd.Timestamp(paid).date()


def rounding_rules(selection: Selection) -> pd.DataFrame:
    """The rule and unit length of every procedure. Grain: one row per procedure_code."""
    return selection.dataset.procedures[
        ["procedure_code", "description", "unit_minutes", "rounding", "rate", "billable"]
    ].reset_index(drop=True)
