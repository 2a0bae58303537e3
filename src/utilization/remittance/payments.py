"""Payments from the 835 files of a data folder's `remittances/`, added to a dataset."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pandas as pd

from utilization.dataset import REJECT_COLUMNS, Dataset
from utilization.remittance.lines import match_lines
from utilization.remittance.x12 import read_remittances, remittance_files
from utilization.schema import Code

REMITTANCES = "remittances"
UNMATCHED: Code = "unmatched_payment"
UNREADABLE: Code = "unreadable_835"


def payments_from_remittances(
    paths: Iterable[Path],
    visits: pd.DataFrame,
    clients: pd.DataFrame,
    existing: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Payments from 835 files read in place (a data source's `remittances/` folder).

    Returns (payments, unmatched, errors) as `match_lines` and `read_remittances` do, leaving
    out lines whose `remittance_key` is already among `existing` payments (those imported
    into payments.csv), so a file both imported and left in the folder counts once.
    """
    lines, errors = read_remittances(paths)
    payments, unmatched = match_lines(lines, visits, clients)
    if existing is not None and "remittance_key" in existing:
        known = set(existing["remittance_key"].dropna().astype(str)) - {""}
        payments = payments[~payments["remittance_key"].isin(known)].reset_index(drop=True)
        unmatched = unmatched[~unmatched["remittance_key"].isin(known)].reset_index(drop=True)
    return payments, unmatched, errors


def with_remittances(dataset: Dataset, folder: Path) -> Dataset:
    """Add the payments of the 835 files in `folder` to the dataset.

    Lines already imported into the payments table (same remittance key) count once.
    Unmatched lines and unreadable files are never dropped: they become rejects of table
    `remittances` (row = the segment number in the file; code `unmatched_payment` or
    `unreadable_835`), and `row_counts` gets a `remittances` row (lines read = lines used
    + lines rejected).
    """
    files = remittance_files(folder)
    payments, unmatched, errors = payments_from_remittances(
        files, dataset.visits, dataset.clients, existing=dataset.payments
    )
    added = pd.DataFrame(
        {
            "visit_id": payments["visit_id"].astype("str"),
            "insurance_paid": payments["insurance_paid"].astype("float64"),
            "patient_paid": payments["patient_paid"].astype("float64"),
            "paid_date": pd.to_datetime(payments["paid_date"]).astype(
                dataset.payments["paid_date"].dtype
            ),
            "denied": payments["denied"].astype(bool),
            "adjustment_reason_codes": payments["adjustment_reason_codes"].astype("str"),
        }
    )
    failed = errors[errors["severity"] == "error"] if "severity" in errors else errors
    rejects = pd.concat(
        [
            dataset.rejects,
            pd.DataFrame(
                {
                    "table": REMITTANCES,
                    "row": unmatched["segment_number"].astype("int64"),
                    "column": "file",
                    "value": unmatched["file"].astype("str"),
                    "reason": (
                        "payment line not matched to a visit: " + unmatched["reason"]
                    ).astype("str"),
                    "code": UNMATCHED,
                }
            ),
            pd.DataFrame(
                {
                    "table": REMITTANCES,
                    "row": failed["segment"].fillna(0).astype("int64"),
                    "column": "file",
                    "value": failed["file"].astype("str"),
                    "reason": ("835 file not read: " + failed["reason"]).astype("str"),
                    "code": UNREADABLE,
                }
            ),
        ],
        ignore_index=True,
    )[REJECT_COLUMNS]
    count = pd.DataFrame(
        [
            {
                "table": REMITTANCES,
                "rows_read": len(payments) + len(unmatched) + len(failed),
                "rows_used": len(payments),
                "rows_rejected": len(unmatched) + len(failed),
            }
        ]
    )
    return replace(
        dataset,
        payments=pd.concat([dataset.payments, added], ignore_index=True),
        rejects=rejects,
        row_counts=pd.concat([dataset.row_counts, count], ignore_index=True),
    )
