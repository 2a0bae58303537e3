"""Service code usage: units, visits, amounts billed and insurance paid per code (§7)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from utilization.revenue import payment_visit_rows
from utilization.selection import Selection
from utilization.totals import client_ranks, join, over_clients, per_client


def service_codes(selection: Selection) -> pd.DataFrame:
    """Usage per procedure code over completed visits whose service date is in the period.

    Grain: one row per procedure_code. Billable and non-billable visits alike unless the
    billable filter is set. `insurance_paid` sums the payer's payments for those visits,
    whatever their paid_date (patient payments excluded); `paid_share` = insurance_paid /
    total_billed; `denied_lines` counts payment lines the payer denied (from 835
    remittances) and `denial_reasons` lists their adjustment reason codes. Amounts are not
    rounded; each code's sums add up each client's first (`totals`).
    """
    usage, denials = service_code_parts(selection)
    return service_codes_of(selection, [usage], [denials])


_SUMS = ["units_billed", "visits", "total_billed", "insurance_paid", "patient_paid"]
_SUMS.append("visits_with_payment")


def service_code_parts(selection: Selection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each client's share of `service_codes` (one row per procedure_code and client with a
    visit: the sums), and the denied payment lines of the visits (one row per procedure_code
    and adjustment reason code of a denied line: `denied_lines` on the code's first row).
    """
    dataset = selection.dataset
    rows = selection.mask(billable_default=None)
    visits = dataset.visits
    payments = dataset.payments
    paid_rows = payment_visit_rows(dataset)
    known = paid_rows >= 0
    n = len(visits)
    insurance = payments["insurance_paid"].to_numpy(dtype=np.float64)[known]
    patient = payments["patient_paid"].to_numpy(dtype=np.float64)[known]
    paid = np.bincount(paid_rows[known], weights=insurance, minlength=n)
    patient_paid = np.bincount(paid_rows[known], weights=patient, minlength=n)
    with_payment = np.bincount(paid_rows[known], minlength=n) > 0
    usage = per_client(
        {"procedure_code": visits["procedure_code"][rows]},
        client_ranks(dataset, "visits")[rows],
        {
            "units_billed": visits["units"].to_numpy(dtype=np.int64)[rows],
            "visits": np.ones(int(rows.sum()), dtype=np.int64),
            "total_billed": visits["amount"].to_numpy(dtype=np.float64)[rows],
            "insurance_paid": paid[rows],
            "patient_paid": patient_paid[rows],
            "visits_with_payment": with_payment[rows],
        },
    )
    covered = np.append(rows, False)[np.where(known, paid_rows, -1)]
    chosen = np.flatnonzero(payments["denied"].to_numpy(dtype=bool) & covered)
    denied = payments.iloc[chosen]
    codes = visits["procedure_code"].to_numpy(dtype=object)[paid_rows[chosen]]
    reasons = [
        sorted({r for r in str(text).split(";") if r}) if isinstance(text, str) else []
        for text in denied["adjustment_reason_codes"].tolist()
    ]
    lines = pd.DataFrame({"procedure_code": codes, "reasons": reasons})
    return usage, lines


def service_codes_of(
    selection: Selection, parts: list[pd.DataFrame], denials: list[pd.DataFrame]
) -> pd.DataFrame:
    """`service_codes` from the clients' shares and denied lines (`service_code_parts` of
    disjoint sets of clients).
    """
    dataset = selection.dataset
    table = over_clients(parts, ["procedure_code"], _SUMS)
    table["procedure_code"] = table["procedure_code"].astype("str")
    for column in ("units_billed", "visits", "visits_with_payment"):
        table[column] = table[column].astype(np.int64)
    table = table[["procedure_code", *_SUMS]]
    descriptions = dataset.procedures.set_index("procedure_code")
    table.insert(1, "description", table["procedure_code"].map(descriptions["description"]))
    table.insert(2, "billable", table["procedure_code"].map(descriptions["billable"]))
    lines = join(denials)
    counts: dict[str, int] = {}
    found: dict[str, set[str]] = {}
    codes, lists = lines["procedure_code"].tolist(), lines["reasons"].tolist()
    for code, reasons in zip(codes, lists, strict=True):
        counts[code] = counts.get(code, 0) + 1
        found.setdefault(code, set()).update(reasons)
    table["denied_lines"] = table["procedure_code"].map(counts).fillna(0).astype(np.int64)
    table["denial_reasons"] = (
        table["procedure_code"]
        .map({code: ";".join(sorted(words)) for code, words in found.items()})
        .astype("str")
        .fillna("")
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        table["paid_share"] = np.where(
            table["total_billed"] > 0, table["insurance_paid"] / table["total_billed"], np.nan
        )
    return table.sort_values("procedure_code").reset_index(drop=True)
