"""Fieldworkers: who delivered the units, what they cancelled and what is at risk (§13)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from utilization.revenue import visit_lines
from utilization.selection import Selection
from utilization.totals import CLIENT, join, over_clients, per_client

COLUMNS = [
    "provider_id",
    "provider_name",
    "clients",
    "visits",
    "units_used",
    "amount_used",
    "visits_cancelled",
    "units_cancelled",
    "units_unauthorized",
    "units_over_authorization",
    "units_mismatch_visits",
    "amount_cancelled",
    "amount_unauthorized",
    "amount_over_authorization",
    "units_under_recorded",
    "amount_under_recorded",
    "units_over_recorded",
    "amount_over_recorded",
]
"""The contract's columns (§13), then the revenue categories of §12 a fieldworker's visits
carry (cancelled, unauthorized, over-authorization amounts; hand-recorded units under and
over the rule)."""
_FROM_LINES = {
    "visits": "visits",
    "units_used": "delivered_units",
    "amount_used": "delivered_amount",
    "visits_cancelled": "visits_cancelled",
    "units_cancelled": "cancelled_units",
    "units_unauthorized": "unauthorized_units",
    "units_over_authorization": "over_authorization_units",
    "units_mismatch_visits": "units_mismatch_visits",
    "amount_cancelled": "cancelled_amount",
    "amount_unauthorized": "unauthorized_amount",
    "amount_over_authorization": "over_authorization_amount",
    "units_under_recorded": "under_recorded_units",
    "amount_under_recorded": "under_recorded_amount",
    "units_over_recorded": "over_recorded_units",
    "amount_over_recorded": "over_recorded_amount",
}
WHOLE = ["clients", "visits", "units_used", "visits_cancelled", "units_cancelled"]
WHOLE += ["units_unauthorized", "units_over_authorization", "units_mismatch_visits"]
WHOLE += ["units_under_recorded", "units_over_recorded"]


def by_provider(selection: Selection, lines: pd.DataFrame | None = None) -> pd.DataFrame:
    """What each fieldworker delivered and cancelled in the period.

    Grain: one row per provider_id with a completed or cancelled visit in the period that
    passes the filters (billable visits unless the billable filter says otherwise); the
    visits without a provider make one row whose provider_id (and provider_name) is empty,
    listed last. `clients` counts distinct clients with a completed visit; `visits` the
    completed visits; `units_mismatch_visits` the completed visits whose staff-recorded
    units differ from the units computed by the rule (§3). Amounts as `revenue.visit_lines`
    (`lines`, when given, are those of `selection`); not rounded, each fieldworker's sums
    adding up each client's first (`totals`). Rows sorted by provider_id.
    """
    return by_provider_of(selection, [provider_parts(selection, lines)])


_SUMS = list(dict.fromkeys(_FROM_LINES.values()))


def provider_parts(selection: Selection, lines: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each client's share of `by_provider`. Grain: one row per provider_id ('' for none) and
    client (`_client`, its rank) with a visit; the sums of `revenue.visit_lines` columns.
    """
    lines = visit_lines(selection) if lines is None else lines
    provider = lines["provider_id"].fillna("").astype("str")
    return per_client(
        {"provider_id": provider}, lines[CLIENT].to_numpy(), {c: lines[c] for c in _SUMS}
    )


def by_provider_of(selection: Selection, parts: list[pd.DataFrame]) -> pd.DataFrame:
    """`by_provider` from the clients' shares (`provider_parts` of disjoint sets of clients)."""
    sums = over_clients(parts, ["provider_id"], _SUMS).set_index("provider_id")
    table = pd.DataFrame({name: sums[source] for name, source in _FROM_LINES.items()})
    shares = join(parts)
    served = shares[shares["visits"].to_numpy() > 0].groupby("provider_id").size()
    table["clients"] = served.reindex(table.index).fillna(0)
    table = table.reset_index()
    table["provider_id"] = table["provider_id"].astype("str")
    names = selection.dataset.providers.set_index("provider_id")["provider_name"]
    table["provider_name"] = table["provider_id"].map(names).astype(object).fillna("").astype("str")
    for column in WHOLE:
        table[column] = table[column].astype(np.int64)
    order = np.lexsort((table["provider_id"].to_numpy(), table["provider_id"].eq("").to_numpy()))
    return table.iloc[order][COLUMNS].reset_index(drop=True)


def top_by_units(table: pd.DataFrame, count: int) -> pd.DataFrame:
    """The `count` fieldworkers with the most units used (ties by provider_id), from
    `by_provider`. Grain: one row per provider_id.
    """
    return table.sort_values(["units_used", "provider_id"], ascending=[False, True]).head(count)
