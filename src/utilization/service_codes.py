"""Service code usage: units, visits, amounts billed and insurance paid per code (§7)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from utilization.selection import Selection


def service_codes(selection: Selection) -> pd.DataFrame:
    """Usage per procedure code over completed visits whose service date is in the period.

    Grain: one row per procedure_code. Billable and non-billable visits alike unless the
    billable filter is set. `insurance_paid` sums the payer's payments for those visits,
    whatever their paid_date (patient payments excluded); `paid_share` = insurance_paid /
    total_billed; `denied_lines` counts payment lines the payer denied (from 835
    remittances) and `denial_reasons` lists their adjustment reason codes. Amounts are not
    rounded.
    """
    dataset = selection.dataset
    visits = selection.visits(billable_default=None)
    payments = dataset.payments
    paid = payments.groupby("visit_id")["insurance_paid"].sum()
    patient = payments.groupby("visit_id")["patient_paid"].sum()
    frame = pd.DataFrame(
        {
            "procedure_code": visits["procedure_code"],
            "units_billed": visits["units"],
            "total_billed": visits["amount"],
            "insurance_paid": visits["visit_id"].map(paid).fillna(0.0).astype("float64"),
            "patient_paid": visits["visit_id"].map(patient).fillna(0.0).astype("float64"),
            "paid_visit": visits["visit_id"].isin(paid.index),
        }
    )
    table = frame.groupby("procedure_code").agg(
        units_billed=("units_billed", "sum"),
        visits=("units_billed", "size"),
        total_billed=("total_billed", "sum"),
        insurance_paid=("insurance_paid", "sum"),
        patient_paid=("patient_paid", "sum"),
        visits_with_payment=("paid_visit", "sum"),
    )
    table = table.reset_index()
    descriptions = dataset.procedures.set_index("procedure_code")
    table.insert(1, "description", table["procedure_code"].map(descriptions["description"]))
    table.insert(2, "billable", table["procedure_code"].map(descriptions["billable"]))
    denials = _denials(payments, visits)
    table["denied_lines"] = (
        table["procedure_code"].map(denials["denied_lines"]).fillna(0).astype(np.int64)
    )
    table["denial_reasons"] = (
        table["procedure_code"].map(denials["denial_reasons"]).astype("str").fillna("")
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        table["paid_share"] = np.where(
            table["total_billed"] > 0, table["insurance_paid"] / table["total_billed"], np.nan
        )
    return table.sort_values("procedure_code").reset_index(drop=True)


def _denials(payments: pd.DataFrame, visits: pd.DataFrame) -> pd.DataFrame:
    """Denied payment lines per procedure code, with their reason codes `;`-joined.

    Grain: one row per procedure_code with at least one denied line among `visits`.
    """
    denied = payments[
        payments["denied"].astype(bool) & payments["visit_id"].isin(visits["visit_id"])
    ]
    codes = denied["visit_id"].map(visits.set_index("visit_id")["procedure_code"])
    rows = {}
    for code, group in denied.groupby(codes):
        reasons = {
            reason
            for text in group["adjustment_reason_codes"].dropna()
            for reason in str(text).split(";")
            if reason
        }
        rows[code] = {"denied_lines": len(group), "denial_reasons": ";".join(sorted(reasons))}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["denied_lines", "denial_reasons"])
