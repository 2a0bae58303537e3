"""Payers: units and dollars approved, used and paid per payer (data contract §13)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from utilization.metrics import approved_shares
from utilization.revenue import insurance_paid_by_visit
from utilization.selection import Selection

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
    `revenue.insurance_paid_by_visit`, when already computed). Not rounded.
    """
    dataset = selection.dataset
    shares = approved_shares(dataset, selection.period, selection.filters, selection.basis)
    payer_of = dataset.authorizations.set_index("authorization_id")["payer_id"]
    shares["payer_id"] = shares["authorization_id"].map(payer_of).fillna("").astype("str")
    approved = shares.groupby("payer_id")[["units_approved", "amount_approved"]].sum()
    paid = insurance_paid_by_visit(dataset) if paid is None else paid
    rows = selection.mask()
    visits = dataset.visits[["payer_effective", "units", "amount"]][rows]
    used = (
        pd.DataFrame(
            {
                "payer_id": visits["payer_effective"].fillna("").astype("str"),
                "units_used": visits["units"].to_numpy(dtype=np.int64),
                "amount_used": visits["amount"].to_numpy(dtype=np.float64),
                "insurance_paid": paid[rows],
            }
        )
        .groupby("payer_id")[["units_used", "amount_used", "insurance_paid"]]
        .sum()
    )
    table = approved.join(used, how="outer").fillna(0.0).reset_index()
    for column in ("units_approved", "amount_approved", "units_used", "amount_used"):
        if column not in table:
            table[column] = 0.0
    table["units_used"] = table["units_used"].astype(np.int64)
    names = dataset.payers.set_index("payer_id")["payer_name"]
    table["payer_name"] = table["payer_id"].map(names).astype(object).fillna("").astype("str")
    order = np.lexsort((table["payer_id"].to_numpy(), table["payer_id"].eq("").to_numpy()))
    return table.iloc[order][COLUMNS].reset_index(drop=True)
