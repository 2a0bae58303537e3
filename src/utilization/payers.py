"""Payers: units and dollars approved, used and paid per payer (data contract §13)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from utilization.metrics import AUTHORIZATION_ROW, approved_shares
from utilization.revenue import insurance_paid_by_visit
from utilization.selection import Selection
from utilization.totals import CLIENT, client_ranks, over_clients, per_client

COLUMNS = [
    "payer_id",
    "payer_name",
    "units_approved",
    "amount_approved",
    "units_used",
    "amount_used",
    "insurance_paid",
]


def by_payer(selection: Selection, paid: np.ndarray | None = None) -> pd.DataFrame:
    """Approved, used and paid per payer in the period.

    Grain: one row per payer_id with anything approved or used; the authorizations and
    visits without a payer make one row whose payer_id (and payer_name) is empty, listed
    last. Units and amounts approved (§5, the request's basis) go to the authorization's
    `payer_id`; units and amounts used (§5) to the visit's own `payer_id`, else to that of
    the authorization whose rate it takes (§4); `insurance_paid` sums the payer payments of
    those used visits (§7: whatever their paid_date, patient payments excluded; `paid`:
    `revenue.insurance_paid_by_visit`, when already computed). Not rounded; each payer's
    sums add up each client's first (`totals`).
    """
    return by_payer_of(selection, [payer_parts(selection, paid)])


_APPROVED = ["units_approved", "amount_approved"]
_USED = ["units_used", "amount_used", "insurance_paid"]


def payer_parts(selection: Selection, paid: np.ndarray | None = None) -> pd.DataFrame:
    """Each client's share of `by_payer`. Grain: one row per payer_id ('' for none) and client
    (`_client`, its rank) with anything approved or used; columns as `by_payer`'s sums.
    """
    dataset = selection.dataset
    shares = approved_shares(dataset, selection.period, selection.filters, selection.basis)
    auths = dataset.authorizations
    payer_of = auths["payer_id"].fillna("").astype("str")
    at = shares[AUTHORIZATION_ROW].to_numpy()
    approved = per_client(
        {"payer_id": payer_of.to_numpy(dtype=object)[at] if len(at) else np.zeros(0, object)},
        client_ranks(dataset, "authorizations")[at],
        {c: shares[c] for c in _APPROVED},
    )
    paid = insurance_paid_by_visit(dataset) if paid is None else paid
    rows = selection.mask()
    visits = dataset.visits
    used = per_client(
        {"payer_id": visits["payer_effective"][rows].fillna("").astype("str")},
        client_ranks(dataset, "visits")[rows],
        {
            "units_used": visits["units"].to_numpy(dtype=np.int64)[rows],
            "amount_used": visits["amount"].to_numpy(dtype=np.float64)[rows],
            "insurance_paid": paid[rows],
        },
    )
    keys = ["payer_id", CLIENT]
    table = approved.merge(used, on=keys, how="outer").sort_values(keys, ignore_index=True)
    return table[[*keys, *_APPROVED, *_USED]].fillna(0.0)


def by_payer_of(selection: Selection, parts: list[pd.DataFrame]) -> pd.DataFrame:
    """`by_payer` from the clients' shares (`payer_parts` of disjoint sets of clients)."""
    table = over_clients(parts, ["payer_id"], [*_APPROVED, *_USED])
    table["payer_id"] = table["payer_id"].astype("str")
    table["units_used"] = table["units_used"].astype(np.int64)
    names = selection.dataset.payers.set_index("payer_id")["payer_name"]
    table["payer_name"] = table["payer_id"].map(names).astype(object).fillna("").astype("str")
    order = np.lexsort((table["payer_id"].to_numpy(), table["payer_id"].eq("").to_numpy()))
    return table.iloc[order][COLUMNS].reset_index(drop=True)
