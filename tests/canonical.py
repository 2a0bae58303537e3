"""Builds canonical (already validated) datasets by hand, for engine tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from utilization.dataset import Dataset, empty_rejects
from utilization.matching import match
from utilization.settings import Settings


def _dates(values: list[str]) -> pd.Series:
    return pd.Series(pd.to_datetime(values), dtype="datetime64[ns]")


def dataset(
    authorizations: list[dict],
    visits: list[dict],
    procedures: list[dict] | None = None,
    payments: list[dict] | None = None,
    settings: Settings | None = None,
) -> Dataset:
    """A matched dataset from short dicts; clients are those named in visits and authorizations."""
    procedures = procedures or [{"procedure_code": "T1005", "rate": 10.0}]
    proc = pd.DataFrame(
        [
            {
                "description": p["procedure_code"],
                "unit_minutes": 15,
                "rounding": "midpoint",
                "billable": True,
                "rate": np.nan,
            }
            | p
            for p in procedures
        ]
    )
    ids = sorted({r["client_id"] for r in authorizations + visits})
    clients = pd.DataFrame({"client_id": ids, "client_name": [f"Client {i}" for i in ids]})
    for c in ("medicaid_id", "case_manager", "status"):
        clients[c] = pd.Series([None] * len(ids), dtype="str")
    rate = proc.set_index("procedure_code")["rate"]
    a = pd.DataFrame(
        [{"payer_id": None, "status": None, "rate": None} | r for r in authorizations],
        columns=[
            "authorization_id",
            "client_id",
            "procedure_code",
            "start_date",
            "end_date",
            "units_approved",
            "payer_id",
            "rate",
            "status",
            "units_per_day",
            "units_per_week",
            "units_per_month",
        ],
    )
    a["start_date"], a["end_date"] = _dates(list(a["start_date"])), _dates(list(a["end_date"]))
    a["units_approved"] = a["units_approved"].astype(float)
    for column in ("units_per_day", "units_per_week", "units_per_month"):
        a[column] = a[column].astype(float)
    a["rate"] = a["rate"].astype(float).fillna(a["procedure_code"].map(rate))
    a["days"] = (a["end_date"] - a["start_date"]).dt.days + 1
    a["payer_id"] = a["payer_id"].astype("str")
    billable = proc.set_index("procedure_code")["billable"]
    v = pd.DataFrame(
        [
            {
                "status": "completed",
                "payer_id": None,
                "provider_id": None,
                "case_type": None,
                "units_recorded": np.nan,
                "amount_billed": np.nan,
                "long_visit": False,
            }
            | r
            for r in visits
        ]
    )
    v["service_date"] = _dates(list(v["service_date"]))
    if "billable" not in v:
        v["billable"] = v["procedure_code"].map(billable)
    v["billable"] = v["billable"].fillna(v["procedure_code"].map(billable)).astype(bool)
    v["units"] = v["units"].astype(np.int64)
    v["minutes"] = v.get("minutes", v["units"] * 15)
    v["start"] = pd.Series(pd.NaT, index=v.index, dtype="datetime64[ns, UTC]")
    v["end"] = v["start"]
    for c in ("payer_id", "provider_id", "case_type"):
        v[c] = v[c].astype("str")
    v["units_recorded"] = v["units_recorded"].astype(float)
    v["amount_billed"] = v["amount_billed"].astype(float)
    v["order"] = np.lexsort((v["visit_id"].to_numpy(), v["service_date"].to_numpy()))
    v["order"] = np.argsort(v["order"].to_numpy())
    pay = pd.DataFrame(
        payments or [], columns=["visit_id", "insurance_paid", "patient_paid", "paid_date"]
    )
    pay["paid_date"] = pd.to_datetime(pay["paid_date"])
    pay["insurance_paid"] = pay["insurance_paid"].astype(float)
    pay["patient_paid"] = pay["patient_paid"].astype(float).fillna(0.0)
    empty = pd.DataFrame({"table": [], "rows_read": [], "rows_used": [], "rows_rejected": []})
    ds = Dataset(
        clients=clients,
        procedures=proc,
        payers=pd.DataFrame(columns=["payer_id", "payer_name"]),
        providers=pd.DataFrame(columns=["provider_id", "provider_name"]),
        authorizations=a,
        visits=v,
        payments=pay,
        rejects=empty_rejects(),
        row_counts=empty,
        settings=settings or Settings(),
        source="hand-built",
    )
    return match(ds)
