"""Service code usage: units, visits, amounts billed and insurance paid per code (§7)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from utilization.dataset import Dataset
from utilization.metrics import period_visits
from utilization.period import Filters, Period


def service_codes(dataset: Dataset, period: Period, filters: Filters) -> pd.DataFrame:
    """Usage per procedure code over completed visits whose service date is in the period.

    Grain: one row per procedure_code. Billable and non-billable visits alike unless the
    billable filter is set. `insurance_paid` sums the payer's payments for those visits,
    whatever their paid_date (patient payments excluded); `paid_share` = insurance_paid /
    total_billed. Amounts are not rounded.
    """
    visits = period_visits(dataset, period, filters, billable_default=None)
    paid = dataset.payments.groupby("visit_id")["insurance_paid"].sum()
    patient = dataset.payments.groupby("visit_id")["patient_paid"].sum()
    frame = pd.DataFrame(
        {
            "procedure_code": visits["procedure_code"],
            "units_billed": visits["units"],
            "total_billed": visits["amount"],
            "insurance_paid": visits["visit_id"].map(paid).fillna(0.0),
            "patient_paid": visits["visit_id"].map(patient).fillna(0.0),
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
    with np.errstate(divide="ignore", invalid="ignore"):
        table["paid_share"] = np.where(
            table["total_billed"] > 0, table["insurance_paid"] / table["total_billed"], np.nan
        )
    return table.sort_values("procedure_code").reset_index(drop=True)
