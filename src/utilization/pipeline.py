"""One call from a data source to a matched dataset: read, validate, add remittances, match."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from utilization.dataset import REJECT_COLUMNS, Dataset
from utilization.settings import Settings, load_settings

REMITTANCES = "remittances"


def load(source: str | Path, settings: Settings | Path | str | None = None) -> Dataset:
    """Read `source` (folder, workbook, SQL URL or `demo`), validate it and match visits.

    Settings: a Settings object, a path to a settings file, or None for the data folder's
    `utilization.toml` (if any) and otherwise the defaults. A data folder's `remittances/`
    subfolder of X12 835 files adds their payments (see `with_remittances`).
    """
    from utilization import matching, sources, validation

    raw = sources.read_source(source)
    if not isinstance(settings, Settings):
        settings = load_settings(settings, raw.data_dir)
    dataset = validation.validate(raw, settings)
    data_dir = raw.data_dir
    del raw  # the tables as read are not needed any more: free them before matching
    if data_dir is not None and (data_dir / REMITTANCES).is_dir():
        dataset = with_remittances(dataset, data_dir / REMITTANCES)
    return matching.match(dataset)


def with_remittances(dataset: Dataset, folder: Path) -> Dataset:
    """Add the payments of the 835 files in `folder` to the dataset.

    Lines already imported into the payments table (same remittance key) count once.
    Unmatched lines and unreadable files are never dropped: they become rejects of table
    `remittances` (row = the segment number in the file), and `row_counts` gets a
    `remittances` row (lines read = lines used + lines rejected).
    """
    from utilization import remittance

    files = remittance.remittance_files(folder)
    payments, unmatched, errors = remittance.payments_from_remittances(
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
                }
            ),
            pd.DataFrame(
                {
                    "table": REMITTANCES,
                    "row": failed["segment"].fillna(0).astype("int64"),
                    "column": "file",
                    "value": failed["file"].astype("str"),
                    "reason": ("835 file not read: " + failed["reason"]).astype("str"),
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
