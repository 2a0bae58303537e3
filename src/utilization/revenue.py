"""Revenue: where the authorized dollars went, category by category (data contract §12)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from utilization.dataset import Dataset, catalog_rows
from utilization.metrics import approved_shares, approved_sums, sums_per_pair, visit_sums
from utilization.selection import Selection, filtered, without_visit_filters
from utilization.totals import CLIENT, client_ranks, join

CATEGORIES: tuple[str, ...] = (
    "approved",
    "delivered",
    "not_delivered",
    "cancelled",
    "unauthorized",
    "over_authorization",
    "under_recorded",
    "over_recorded",
    "insurance_paid",
)
"""The categories of `revenue`, in the contract's order."""
VISIT_CATEGORIES: tuple[str, ...] = (
    "delivered",
    "cancelled",
    "unauthorized",
    "over_authorization",
    "under_recorded",
    "over_recorded",
)
"""The categories made of visits (with units and amount); insurance_paid is visits' money only."""
COUNTS = ("visits", "visits_cancelled", "units_mismatch_visits")
VISIT_ROW = "_visit_row"
"""The column of `visit_lines` holding each line's row in the dataset's visits."""
_VISIT_COLUMNS = [
    "provider_id",
    "units",
    "units_recorded",
    "units_unauthorized",
    "units_over_authorization",
    "units_mismatch",
    "rate",
    "amount",
]


def category_columns(with_insurance_units: bool = False) -> list[str]:
    """`<category>_units`, `<category>_amount` in category order; insurance_paid has an amount
    only (its units are none), unless `with_insurance_units`.
    """
    columns = []
    for category in CATEGORIES:
        if category != "insurance_paid" or with_insurance_units:
            columns.append(f"{category}_units")
        columns.append(f"{category}_amount")
    return columns


def insurance_paid_by_visit(dataset: Dataset) -> np.ndarray:
    """The payer payments of each visit (§7: every payment whatever its paid_date, patient
    payments left out), by row of `dataset.visits`; 0 for a visit without any. Computed once
    per dataset.
    """
    visits, payments = dataset.visits, dataset.payments

    def paid() -> np.ndarray:
        rows = payment_visit_rows(dataset)
        known = rows >= 0
        amounts = payments["insurance_paid"].to_numpy(dtype=np.float64)[known]
        return np.bincount(rows[known], weights=amounts, minlength=len(visits))

    return dataset.derived("insurance_paid_by_visit", (visits, payments), paid)


def payment_visit_rows(dataset: Dataset) -> np.ndarray:
    """The row of `dataset.visits` each payment is for (-1: none); computed once per dataset."""
    return catalog_rows(dataset, "payments", "visit_id")


def visit_lines(selection: Selection, paid: np.ndarray | None = None) -> pd.DataFrame:
    """What each visit of the request adds to the visit categories.

    Grain: one row per visit: the completed visits in the period that pass every filter
    (billable ones unless the billable filter says otherwise), then the cancelled ones.
    Columns: provider_id; `<category>_units` and
    `<category>_amount` of the six visit categories; insurance_paid_amount; and the counts
    `visits` (1 for a completed visit), `visits_cancelled` (1 for a cancelled one),
    `units_mismatch_visits` (1 for a completed visit whose staff-recorded units differ from
    the computed ones); `_client`, the client's rank (`totals.client_ranks`); `_visit_row`,
    the visit's row in the dataset's visits (its ids and texts are there).

    `paid`: `insurance_paid_by_visit` of the dataset, when already computed.

    Delivered is the visit's units and its amount (§4: `amount_billed` where given). Every
    other amount is units × the visit's rate of §4, never `amount_billed ÷ units`. A visit
    without any rate (no authorization and no procedure rate) counts its units and $0.
    Not rounded.
    """
    paid = insurance_paid_by_visit(selection.dataset) if paid is None else paid
    done_rows = selection.mask("completed")
    completed = filtered(selection.dataset.visits[_VISIT_COLUMNS], done_rows)
    cancelled = selection.visits("cancelled", columns=_VISIT_COLUMNS)
    ranks = client_ranks(selection.dataset, "visits")
    rows = np.concatenate([np.flatnonzero(done_rows), np.flatnonzero(selection.mask("cancelled"))])
    rate = np.nan_to_num(completed["rate"].to_numpy(dtype=np.float64))
    units = completed["units"].to_numpy(dtype=np.float64)
    recorded = completed["units_recorded"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        short = np.where(np.isnan(recorded), 0.0, np.clip(units - recorded, 0.0, None))
        extra = np.where(np.isnan(recorded), 0.0, np.clip(recorded - units, 0.0, None))
    unauthorized = completed["units_unauthorized"].to_numpy(dtype=np.float64)
    over = completed["units_over_authorization"].to_numpy(dtype=np.float64)
    done = pd.DataFrame(
        {
            "provider_id": completed["provider_id"],
            "delivered_units": units,
            "delivered_amount": np.nan_to_num(completed["amount"].to_numpy(dtype=np.float64)),
            "unauthorized_units": unauthorized,
            "unauthorized_amount": unauthorized * rate,
            "over_authorization_units": over,
            "over_authorization_amount": over * rate,
            "under_recorded_units": short,
            "under_recorded_amount": short * rate,
            "over_recorded_units": extra,
            "over_recorded_amount": extra * rate,
            "insurance_paid_amount": paid[done_rows],
            "visits": 1,
            "units_mismatch_visits": completed["units_mismatch"].to_numpy(dtype=np.int64),
        }
    )
    cancelled_units = cancelled["units"].to_numpy(dtype=np.float64)
    off = pd.DataFrame(
        {
            "provider_id": cancelled["provider_id"],
            "cancelled_units": cancelled_units,
            "cancelled_amount": cancelled_units
            * np.nan_to_num(cancelled["rate"].to_numpy(dtype=np.float64)),
            "visits_cancelled": 1,
        }
    )
    lines = pd.concat([done, off], ignore_index=True) if len(off) else done
    numbers = [c for c in category_columns() if not c.startswith(("approved", "not_delivered"))]
    for column in [*numbers, *COUNTS]:
        if column not in lines:
            lines[column] = 0.0
    lines[numbers] = lines[numbers].fillna(0.0).astype(np.float64)
    lines[list(COUNTS)] = lines[list(COUNTS)].fillna(0).astype(np.int64)
    lines[CLIENT] = ranks[rows]
    lines[VISIT_ROW] = rows
    return lines[["provider_id", *numbers, *COUNTS, CLIENT, VISIT_ROW]]


def pairs(selection: Selection, lines: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every revenue category per client and procedure code.

    Grain: one row per (client_id, procedure_code) with anything approved, delivered or
    cancelled in the period. Columns: client_id, procedure_code, then `category_columns()`.

    `approved` is that of the request (§5, its basis); `not_delivered` is
    `max(0, approved − delivered)` of the pair, units and amount each on their own, where
    both are measured without the filters that describe visits only (provider, case type,
    billable): undelivered capacity belongs to no fieldworker. Every other category is of
    the visits that pass all the filters (`visit_lines`, or `lines` when given). Not rounded.
    """
    dataset = selection.dataset
    shares = approved_shares(dataset, selection.period, selection.filters, selection.basis)
    names = {"approved_units": "units_approved", "approved_amount": "amount_approved"}
    lines = visit_lines(selection) if lines is None else lines
    parts = [
        approved_sums(dataset, shares, names),
        visit_sums(
            dataset,
            lines[VISIT_ROW].to_numpy(),
            {c: lines[c] for c in category_columns() if c in lines},
        ),
    ]
    capacity = without_visit_filters(selection)
    if capacity is not selection:  # capacity used by every visit, whatever the visit filters
        rows = np.flatnonzero(capacity.mask("completed"))
        visits = dataset.visits
        used = {"used_units": visits["units"].to_numpy()[rows]}
        used["used_amount"] = visits["amount"].to_numpy()[rows]
        parts.append(visit_sums(dataset, rows, used))
    table = sums_per_pair(dataset, parts)
    if capacity is selection:  # no visit-only filter: capacity was used by these very visits
        table["used_units"] = table["delivered_units"]
        table["used_amount"] = table["delivered_amount"]
    for column in category_columns():
        if column not in table:
            table[column] = 0.0
    table["not_delivered_units"] = np.clip(
        table["approved_units"].to_numpy() - table["used_units"].to_numpy(), 0.0, None
    )
    table["not_delivered_amount"] = np.clip(
        table["approved_amount"].to_numpy() - table["used_amount"].to_numpy(), 0.0, None
    )
    # A pair whose visits all fall outside the visit filters has delivered nothing here but
    # may still have capacity not delivered: it stays. Pairs with nothing at all go.
    table = table[["client_id", "procedure_code", *category_columns()]]
    anything = table[category_columns()].abs().sum(axis=1) > 0
    return pairs_of([table[anything.to_numpy()]])


def pairs_of(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The `pairs` of disjoint sets of clients, by client_id and procedure code."""
    return join(parts).sort_values(["client_id", "procedure_code"]).reset_index(drop=True)


def revenue(table: pd.DataFrame) -> pd.DataFrame:
    """The period's figure of each category, from `pairs`.

    Grain: one row per category, in `CATEGORIES` order: category, units, amount
    (insurance_paid: units none). Not rounded.
    """
    rows = []
    for category in CATEGORIES:
        units_column = f"{category}_units"
        units = float(table[units_column].sum()) if units_column in table else np.nan
        rows.append(
            {
                "category": category,
                "units": units,
                "amount": float(table[f"{category}_amount"].sum()),
            }
        )
    return pd.DataFrame(rows, columns=["category", "units", "amount"])


def by_client(table: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    """Every category per client, from `pairs` (`names`: client_name by client_id).

    Grain: one row per client_id: client_id, client_name, `category_columns()`. Each column
    sums to its `revenue` row; not_delivered sums the client's pairs, so one service used
    beyond its authorization never hides another's unused hours.
    """
    grouped = table.groupby("client_id")[category_columns()].sum().reset_index()
    grouped.insert(1, "client_name", grouped["client_id"].map(names))
    return grouped.sort_values(["client_name", "client_id"]).reset_index(drop=True)


def by_procedure(table: pd.DataFrame, descriptions: pd.Series) -> pd.DataFrame:
    """Every category per procedure code, from `pairs` (`descriptions` by procedure_code).

    Grain: one row per procedure_code: procedure_code, description, `category_columns()`,
    then `not_delivered_clients`: the clients with capacity of this code not delivered.
    """
    grouped = table.groupby("procedure_code")[category_columns()].sum()
    short = table["not_delivered_units"].gt(1e-9) | table["not_delivered_amount"].gt(1e-9)
    counted = table[short.to_numpy()].groupby("procedure_code")["client_id"].nunique()
    grouped = grouped.reset_index()
    grouped.insert(1, "description", grouped["procedure_code"].map(descriptions))
    grouped["not_delivered_clients"] = (
        grouped["procedure_code"].map(counted).fillna(0).astype(np.int64)
    )
    return grouped.sort_values("procedure_code").reset_index(drop=True)
