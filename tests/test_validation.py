"""Tests of validation: the canonical frames, the rejects list and the row counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from utilization import matching, validation
from utilization.dataset import REFERENCES, catalog_rows, positions, rows_name
from utilization.exceptions import InputError
from utilization.settings import Settings
from utilization.sources import RawSource
from utilization.validation import COLUMNS, validate

BASE: dict[str, dict[str, list[str]]] = {
    "clients": {"client_id": ["C1", "C2"], "client_name": ["Ann Lee", "Bo Diaz"]},
    "procedures": {
        "procedure_code": ["T1019", "S5125"],
        "description": ["Personal care", "Attendant care"],
        "unit_minutes": ["15", "15"],
        "rate": ["6.00", "4.50"],
    },
    "authorizations": {
        "authorization_id": ["A1"],
        "client_id": ["C1"],
        "procedure_code": ["T1019"],
        "start_date": ["2025-01-01"],
        "end_date": ["2025-12-31"],
        "units_approved": ["100"],
    },
    "visits": {
        "visit_id": ["V1"],
        "client_id": ["C1"],
        "procedure_code": ["T1019"],
        "start": ["2025-01-06 09:00:00"],
        "end": ["2025-01-06 10:00:00"],
    },
}


def run(settings: Settings | None = None, **tables: dict[str, list[str]] | None):
    """Validate the BASE tables with some replaced (None removes an optional table)."""
    merged = {**BASE, **tables}
    frames = {
        name: pd.DataFrame(columns, dtype="str") if isinstance(columns, dict) else columns
        for name, columns in merged.items()
        if columns is not None
    }
    raw = RawSource(frames, {n: f"{n}.csv" for n in frames}, "test tables", None, "test")
    return validate(raw, settings or Settings())


def visits(**columns: list[str]) -> dict[str, list[str]]:
    """A visits table: one visit per value, C1 / T1019 unless given."""
    n = len(next(iter(columns.values())))
    table = {
        "visit_id": [f"V{i}" for i in range(1, n + 1)],
        "client_id": ["C1"] * n,
        "procedure_code": ["T1019"] * n,
    }
    table.update(columns)
    return table


def rejects(ds) -> list[tuple[str, int, str, str, str, str]]:
    """The rejects as (table, row, column, value, reason, code) tuples."""
    return list(ds.rejects.itertuples(index=False, name=None))


# -- duplicates -----------------------------------------------------------------------------


def test_duplicate_visit_id() -> None:
    """It keeps the first visit of a repeated visit_id and rejects the repeat."""
    ds = run(
        visits=visits(
            visit_id=["V1", "V2", "V1"],
            start=["2025-01-06 09:00"] * 3,
            end=["2025-01-06 10:00"] * 3,
        )
    )
    assert rejects(ds) == [("visits", 4, "visit_id", "V1", "duplicate of row 2", "duplicate")]
    assert ds.visits["visit_id"].tolist() == ["V1", "V2"]


def test_duplicate_authorization_id() -> None:
    """It rejects a repeated authorization_id as a duplicate of the first row."""
    auth = {k: v * 2 for k, v in BASE["authorizations"].items()}
    ds = run(authorizations=auth)
    assert rejects(ds) == [
        ("authorizations", 3, "authorization_id", "A1", "duplicate of row 2", "duplicate")
    ]
    assert len(ds.authorizations) == 1


def test_duplicate_client_id() -> None:
    """It rejects a repeated client_id, after stripping spaces, as a duplicate."""
    ds = run(clients={"client_id": ["C1", "C2", " C1 "], "client_name": ["A", "B", "C"]})
    assert rejects(ds) == [("clients", 4, "client_id", " C1 ", "duplicate of row 2", "duplicate")]
    assert ds.clients["client_name"].tolist() == ["A", "B"]


def test_duplicate_procedure_code() -> None:
    """It rejects a repeated procedure_code as a duplicate of the first row."""
    proc = {k: [*v, v[0]] for k, v in BASE["procedures"].items()}
    ds = run(procedures=proc)
    assert rejects(ds) == [
        ("procedures", 4, "procedure_code", "T1019", "duplicate of row 2", "duplicate")
    ]


# -- times ----------------------------------------------------------------------------------


def test_end_before_start() -> None:
    """It rejects a visit whose end is before its start."""
    ds = run(visits=visits(start=["2025-01-06 10:00:00"], end=["2025-01-06 09:59:00"]))
    assert rejects(ds) == [
        ("visits", 2, "end", "2025-01-06 09:59:00", "end is before start", "end_before_start")
    ]
    assert ds.visits.empty


def test_unparseable_datetime() -> None:
    """It rejects a start that is not a date-time, and a date without a time of day."""
    ds = run(visits=visits(start=["tomorrow", "2025-01-06"], end=["2025-01-06 10:00"] * 2))
    reason = "not a date-time (expected YYYY-MM-DD HH:MM:SS, optionally with a UTC offset)"
    assert rejects(ds) == [
        ("visits", 2, "start", "tomorrow", reason, "not_a_datetime"),
        ("visits", 3, "start", "2025-01-06", reason, "not_a_datetime"),
    ]


def test_unparseable_date() -> None:
    """It rejects an authorization whose start_date is not a calendar date."""
    auth = {**BASE["authorizations"], "start_date": ["2025-13-01"]}
    ds = run(authorizations=auth)
    assert rejects(ds) == [
        (
            "authorizations",
            2,
            "start_date",
            "2025-13-01",
            "not a date (expected YYYY-MM-DD)",
            "not_a_date",
        )
    ]


def test_date_forms() -> None:
    """It reads dates as YYYY-MM-DD, MM/DD/YYYY or a date-time at midnight (spreadsheets)."""
    auth = {k: v * 3 for k, v in BASE["authorizations"].items()}
    auth["authorization_id"] = ["A1", "A2", "A3"]
    auth["start_date"] = ["2025-01-01", "01/01/2025", "2025-01-01 00:00:00"]
    ds = run(authorizations=auth)
    assert ds.rejects.empty
    assert ds.authorizations["start_date"].tolist() == [pd.Timestamp("2025-01-01")] * 3
    assert ds.authorizations["days"].tolist() == [365, 365, 365]


def test_authorization_end_before_start() -> None:
    """It rejects an authorization whose end_date is before its start_date."""
    auth = {**BASE["authorizations"], "start_date": ["2025-02-01"], "end_date": ["2025-01-31"]}
    ds = run(authorizations=auth)
    assert rejects(ds) == [
        (
            "authorizations",
            2,
            "end_date",
            "2025-01-31",
            "end_date is before start_date",
            "end_before_start",
        )
    ]


def test_fall_back_hour_is_daylight_time() -> None:
    """It reads 2025-11-02 01:30 (repeated hour) as its first occurrence, PDT (UTC-7)."""
    ds = run(visits=visits(start=["2025-11-02 01:30:00"], end=["2025-11-02 01:45:00"]))
    assert ds.visits["start"][0] == pd.Timestamp("2025-11-02 08:30", tz="UTC")
    assert ds.visits["minutes"][0] == 15


def test_visit_across_fall_back_is_real_elapsed_time() -> None:
    """It counts a visit 2025-11-02 00:30 -> 02:30 local as 180 minutes (clocks fall back)."""
    ds = run(visits=visits(start=["2025-11-02 00:30:00"], end=["2025-11-02 02:30:00"]))
    assert ds.visits["minutes"].tolist() == [180]
    assert ds.visits["units"].tolist() == [12]
    assert ds.visits["service_date"].tolist() == [pd.Timestamp("2025-11-02")]


def test_spring_forward_gap_is_rejected() -> None:
    """It rejects 2025-03-09 02:30, a local time that does not exist (clocks spring forward)."""
    ds = run(visits=visits(start=["2025-03-09 02:30:00"], end=["2025-03-09 04:00:00"]))
    assert rejects(ds) == [
        (
            "visits",
            2,
            "start",
            "2025-03-09 02:30:00",
            "this local time does not exist on 2025-03-09 in America/Los_Angeles: clocks "
            "spring forward that day (correct the time or give its UTC offset)",
            "nonexistent_local_time",
        )
    ]


def test_visit_across_spring_forward_is_real_elapsed_time() -> None:
    """It counts a visit 2025-03-09 01:00 -> 04:00 local as 120 minutes (clocks spring forward)."""
    ds = run(visits=visits(start=["2025-03-09 01:00:00"], end=["2025-03-09 04:00:00"]))
    assert ds.visits["minutes"].tolist() == [120]


def test_overnight_visit_belongs_to_its_start_date() -> None:
    """It gives an overnight visit 22:00 -> 02:00 its start date and 240 minutes."""
    ds = run(visits=visits(start=["2025-01-06 22:00:00"], end=["2025-01-07 02:00:00"]))
    assert ds.visits["service_date"].tolist() == [pd.Timestamp("2025-01-06")]
    assert ds.visits["minutes"].tolist() == [240]


def test_offset_datetime_is_taken_as_given() -> None:
    """It takes 2025-11-02 01:30:00-08:00 as given: the second 01:30 (PST), 09:30 UTC."""
    ds = run(
        visits=visits(
            start=["2025-11-02 01:30:00-08:00", "2025-11-02 08:30:00Z"],
            end=["2025-11-02 02:00:00-08:00", "2025-11-02 01:45:00"],
        )
    )
    assert ds.rejects.empty
    assert ds.visits["start"].tolist() == [
        pd.Timestamp("2025-11-02 09:30", tz="UTC"),
        pd.Timestamp("2025-11-02 08:30", tz="UTC"),
    ]
    assert ds.visits["minutes"].tolist() == [30, 15]
    assert ds.visits["service_date"].tolist() == [pd.Timestamp("2025-11-02")] * 2


def test_minutes_are_floor_of_elapsed_seconds() -> None:
    """It counts whole minutes of real elapsed time, rounding seconds down (59:59 is 59)."""
    ds = run(visits=visits(start=["2025-01-06 09:00:00"], end=["2025-01-06 09:59:59"]))
    assert ds.visits["minutes"].tolist() == [59]
    assert ds.visits["units"].tolist() == [4]


def test_other_datetime_forms() -> None:
    """It reads ISO 8601 with a T and US month/day/year with AM/PM as local time."""
    ds = run(
        visits=visits(
            start=["2025-01-06T09:00", "01/06/2025 9:00 AM"],
            end=["2025-01-06T09:30:00", "01/06/2025 01:00 PM"],
        )
    )
    assert ds.rejects.empty
    assert ds.visits["minutes"].tolist() == [30, 240]
    assert ds.visits["start"][1] == pd.Timestamp("2025-01-06 17:00", tz="UTC")


def test_timezone_setting() -> None:
    """It reads naive date-times in the agency's time zone setting."""
    ds = run(Settings(timezone="America/New_York"))
    assert ds.visits["start"][0] == pd.Timestamp("2025-01-06 14:00", tz="UTC")


def test_service_date_and_minutes_form() -> None:
    """It accepts visits given as service_date + minutes, with NaT start and end."""
    ds = run(visits=visits(service_date=["2025-01-06"], minutes=["38"]))
    v = ds.visits.iloc[0]
    assert (v["service_date"], v["minutes"], v["units"]) == (pd.Timestamp("2025-01-06"), 38, 3)
    assert pd.isna(v["start"]) and pd.isna(v["end"])


def test_both_forms_must_agree() -> None:
    """It rejects a row whose service_date or minutes disagree with its start and end."""
    ds = run(
        visits=visits(
            start=["2025-01-06 22:00:00", "2025-01-06 09:00:00", "2025-01-06 09:00:00"],
            end=["2025-01-07 01:00:00", "2025-01-06 10:00:00", "2025-01-06 10:00:00"],
            service_date=["2025-01-07", "", "2025-01-06"],
            minutes=["180", "45", "60"],
        )
    )
    assert rejects(ds) == [
        (
            "visits",
            2,
            "service_date",
            "2025-01-07",
            "not the local date of start (2025-01-06)",
            "service_date_mismatch",
        ),
        (
            "visits",
            3,
            "minutes",
            "45",
            "does not match start to end (60 minutes)",
            "minutes_mismatch",
        ),
    ]
    assert ds.visits["visit_id"].tolist() == ["V3"]


def test_missing_times() -> None:
    """It rejects a visit with no times, or with a start but no end."""
    ds = run(
        visits=visits(
            start=["", "2025-01-06 09:00:00", ""],
            end=["", "", ""],
            service_date=["", "", "2025-01-06"],
            minutes=["", "", ""],
        )
    )
    assert rejects(ds) == [
        (
            "visits",
            2,
            "start",
            "",
            "required value is missing: give start and end, or service_date and minutes",
            "missing",
        ),
        ("visits", 3, "end", "", "required value is missing (start is given)", "incomplete_times"),
        (
            "visits",
            4,
            "minutes",
            "",
            "required value is missing (service_date is given)",
            "incomplete_times",
        ),
    ]


def test_long_visit_is_flagged_not_rejected() -> None:
    """It flags a visit longer than 24 hours as long_visit and keeps it; 24 hours exactly is not."""
    ds = run(
        visits=visits(
            start=["2025-01-06 08:00:00"] * 2, end=["2025-01-07 08:01:00", "2025-01-07 08:00:00"]
        )
    )
    assert ds.rejects.empty
    assert ds.visits["long_visit"].tolist() == [True, False]
    assert ds.visits["minutes"].tolist() == [1441, 1440]


# -- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason", "code"),
    [
        ("-5", "negative; must be 0 or more", "negative"),
        ("abc", "not a number", "not_a_number"),
        ("12.5", "not a whole number of minutes", "not_whole"),
        ("", "required value is missing (service_date is given)", "incomplete_times"),
    ],
)
def test_bad_minutes(value: str, reason: str, code: str) -> None:
    """It rejects minutes that are negative, not a number, fractional or missing."""
    ds = run(visits=visits(service_date=["2025-01-06"], minutes=[value]))
    assert rejects(ds) == [("visits", 2, "minutes", value, reason, code)]


@pytest.mark.parametrize(
    ("value", "reason", "code"),
    [
        ("-1", "negative; must be 0 or more", "negative"),
        ("four", "not a number", "not_a_number"),
        ("3.5", "not a whole number of units (units are whole numbers)", "not_whole"),
    ],
)
def test_bad_recorded_units(value: str, reason: str, code: str) -> None:
    """It rejects recorded units that are negative, not a number or not whole."""
    ds = run(visits={**BASE["visits"], "units": [value]})
    assert rejects(ds) == [("visits", 2, "units", value, reason, code)]


@pytest.mark.parametrize(
    ("value", "reason", "code"),
    [
        ("-10", "negative; must be 0 or more", "negative"),
        ("lots", "not a number", "not_a_number"),
        ("10.5", "not a whole number of units", "not_whole"),
        ("", "required value is missing", "missing"),
    ],
)
def test_bad_units_approved(value: str, reason: str, code: str) -> None:
    """It rejects units_approved that are negative, not a number, not whole or missing."""
    ds = run(authorizations={**BASE["authorizations"], "units_approved": [value]})
    assert rejects(ds) == [("authorizations", 2, "units_approved", value, reason, code)]


def test_bad_rates_and_amounts() -> None:
    """It rejects a negative procedure rate, a non-numeric authorization rate and amounts."""
    proc = {**BASE["procedures"], "rate": ["-6", "4.50"]}
    auth = {**BASE["authorizations"], "procedure_code": ["S5125"], "rate": ["$4.50"]}
    vis = visits(
        start=["2025-01-06 09:00"] * 2,
        end=["2025-01-06 10:00"] * 2,
        procedure_code=["S5125"] * 2,
        amount_billed=["-1", "1,000"],
    )
    ds = run(procedures=proc, authorizations=auth, visits=vis)
    assert rejects(ds) == [
        ("procedures", 2, "rate", "-6", "negative; must be 0 or more", "negative"),
        ("authorizations", 2, "rate", "$4.50", "not a number", "not_a_number"),
        ("visits", 2, "amount_billed", "-1", "negative; must be 0 or more", "negative"),
        ("visits", 3, "amount_billed", "1,000", "not a number", "not_a_number"),
    ]


def test_bad_unit_minutes() -> None:
    """It rejects a procedure whose unit_minutes is negative or not whole."""
    proc = {**BASE["procedures"], "unit_minutes": ["-15", "7.5"]}
    ds = run(
        procedures=proc,
        visits=visits(
            start=["2025-01-06 09:00"], end=["2025-01-06 10:00"], procedure_code=["S5125"]
        ),
    )
    assert rejects(ds)[:2] == [
        ("procedures", 2, "unit_minutes", "-15", "negative; must be 0 or more", "negative"),
        ("procedures", 3, "unit_minutes", "7.5", "not a whole number of minutes", "not_whole"),
    ]


# -- catalogs and references ----------------------------------------------------------------


def test_visit_client_not_in_clients() -> None:
    """It rejects a visit whose client_id is not in clients."""
    ds = run(visits={**BASE["visits"], "client_id": ["C9"]})
    assert rejects(ds) == [
        ("visits", 2, "client_id", "C9", "not found in clients", "unknown_reference")
    ]


def test_visit_procedure_not_in_procedures() -> None:
    """It rejects a visit whose procedure_code is not in procedures."""
    ds = run(visits={**BASE["visits"], "procedure_code": ["T1019 U4"]})
    assert rejects(ds) == [
        (
            "visits",
            2,
            "procedure_code",
            "T1019 U4",
            "not found in procedures",
            "unknown_reference",
        )
    ]


def test_reference_to_a_rejected_catalog_row() -> None:
    """It says so when a visit's client is in clients but that client's row was rejected."""
    ds = run(clients={"client_id": ["C1", "C2"], "client_name": ["", "Bo"]})
    assert rejects(ds) == [
        ("clients", 2, "client_name", "", "required value is missing", "missing"),
        (
            "authorizations",
            2,
            "client_id",
            "C1",
            "found in clients, but that row (row 2) was rejected",
            "rejected_reference",
        ),
        (
            "visits",
            2,
            "client_id",
            "C1",
            "found in clients, but that row (row 2) was rejected",
            "rejected_reference",
        ),
    ]


def test_authorization_references() -> None:
    """It rejects an authorization whose client_id or procedure_code is not in its catalog."""
    auth = {**BASE["authorizations"], "client_id": ["C7"], "procedure_code": ["X"]}
    ds = run(authorizations=auth)
    assert rejects(ds) == [
        ("authorizations", 2, "client_id", "C7", "not found in clients", "unknown_reference"),
        (
            "authorizations",
            2,
            "procedure_code",
            "X",
            "not found in procedures",
            "unknown_reference",
        ),
    ]
    assert ds.row_counts.set_index("table").loc["authorizations", "rows_rejected"] == 1


def test_payer_and_provider_must_exist_when_their_table_does() -> None:
    """It checks payer_id and provider_id against payers and providers when those exist."""
    vis = {**BASE["visits"], "payer_id": ["P2"], "provider_id": ["E9"]}
    ds = run(
        visits=vis,
        payers={"payer_id": ["P1"], "payer_name": ["Medicaid"]},
        providers={"provider_id": ["E1"], "provider_name": ["Eve"]},
    )
    assert rejects(ds) == [
        ("visits", 2, "provider_id", "E9", "not found in providers", "unknown_reference"),
        ("visits", 2, "payer_id", "P2", "not found in payers", "unknown_reference"),
    ]
    assert run(visits=vis).rejects.empty


def test_unknown_rounding_rule() -> None:
    """It rejects a procedure with an unknown rounding rule name."""
    ds = run(procedures={**BASE["procedures"], "rounding": ["midpoint", "nearest"]})
    assert rejects(ds) == [
        (
            "procedures",
            3,
            "rounding",
            "nearest",
            "unknown rounding rule; use one of midpoint, complete, never_zero, per_visit",
            "unknown_rounding_rule",
        )
    ]


def test_unknown_status_and_billable() -> None:
    """It rejects unknown status and billable values; both are read case-insensitively."""
    vis = visits(
        start=["2025-01-06 09:00"] * 4,
        end=["2025-01-06 10:00"] * 4,
        status=["Done", "SCHEDULED", "canceled", ""],
        billable=["Y", "maybe", "No", ""],
    )
    ds = run(visits=vis)
    assert rejects(ds) == [
        (
            "visits",
            2,
            "status",
            "Done",
            "unknown status; use completed, scheduled, cancelled",
            "unknown_status",
        ),
        (
            "visits",
            3,
            "billable",
            "maybe",
            "not true or false (use true/false, yes/no, y/n or 1/0)",
            "not_a_flag",
        ),
    ]
    assert ds.visits["status"].tolist() == ["cancelled", "completed"]
    assert ds.visits["billable"].tolist() == [False, True]


def test_required_but_empty() -> None:
    """It rejects a row whose required value is empty or only spaces."""
    ds = run(visits={**BASE["visits"], "procedure_code": ["  "]})
    assert rejects(ds) == [
        ("visits", 2, "procedure_code", "  ", "required value is missing", "missing")
    ]


# -- payments -------------------------------------------------------------------------------


def test_payments() -> None:
    """It accepts negative payments (reversals), defaults patient_paid to 0 and rejects the rest."""
    vis = visits(start=["2025-01-06 09:00"] * 2, end=["2025-01-06 10:00", "2025-01-06 08:00"])
    pay = {
        "visit_id": ["V1", "V1", "V2", "V3", "V1"],
        "insurance_paid": ["60.00", "-60.00", "5", "5", "n/a"],
        "patient_paid": ["", "-1.5", "", "", ""],
        "paid_date": ["2025-02-01", "2025-02-15", "", "", ""],
    }
    ds = run(visits=vis, payments=pay)
    assert rejects(ds) == [
        ("visits", 3, "end", "2025-01-06 08:00", "end is before start", "end_before_start"),
        (
            "payments",
            4,
            "visit_id",
            "V2",
            "found in visits, but that row (row 3) was rejected",
            "rejected_reference",
        ),
        ("payments", 5, "visit_id", "V3", "not found in visits", "unknown_reference"),
        ("payments", 6, "insurance_paid", "n/a", "not a number", "not_a_number"),
    ]
    assert ds.payments["insurance_paid"].tolist() == [60.0, -60.0]
    assert ds.payments["patient_paid"].tolist() == [0.0, -1.5]
    assert ds.payments["paid_date"].tolist() == [
        pd.Timestamp("2025-02-01"),
        pd.Timestamp("2025-02-15"),
    ]


# -- canonical frames -----------------------------------------------------------------------


def test_canonical_columns_and_types() -> None:
    """It produces exactly the canonical columns and types, without extra source columns."""
    ds = run(clients={**BASE["clients"], "notes": ["x", "y"]})
    for name, columns in COLUMNS.items():
        assert list(getattr(ds, name).columns) == columns
    assert ds.visits.dtypes.astype(str).to_dict() == {
        "visit_id": "str",
        "client_id": "str",
        "procedure_code": "str",
        "service_date": "datetime64[us]",
        "start": "datetime64[us, UTC]",
        "end": "datetime64[us, UTC]",
        "minutes": "int64",
        "provider_id": "str",
        "payer_id": "str",
        "case_type": "str",
        "billable": "bool",
        "status": "str",
        "units_recorded": "float64",
        "amount_billed": "float64",
        "units": "int64",
        "long_visit": "bool",
        "order": "int64",
    }
    assert ds.procedures.dtypes.astype(str).to_dict() == {
        "procedure_code": "str",
        "description": "str",
        "unit_minutes": "int64",
        "rate": "float64",
        "rounding": "str",
        "billable": "bool",
    }
    assert ds.authorizations["days"].dtype == np.int64
    assert list(ds.rejects.columns) == ["table", "row", "column", "value", "reason", "code"]


def test_procedure_defaults_and_units() -> None:
    """It fills unit_minutes, rounding and billable from the settings and computes units."""
    proc = {
        "procedure_code": ["T1019", "S5125", "G0156"],
        "description": ["a", "b", "c"],
        "unit_minutes": ["", "15", "0"],
        "rounding": ["", "never_zero", ""],
        "billable": ["", "no", "TRUE"],
    }
    vis = visits(
        start=["2025-01-06 09:00"] * 3,
        end=["2025-01-06 09:29"] * 3,
        procedure_code=["T1019", "S5125", "G0156"],
    )
    ds = run(Settings(rounding="complete", unit_minutes=10), procedures=proc, visits=vis)
    assert ds.procedures["unit_minutes"].tolist() == [10, 15, 0]
    assert ds.procedures["rounding"].tolist() == ["complete", "never_zero", "per_visit"]
    assert ds.procedures["billable"].tolist() == [True, False, True]
    assert ds.procedures["rate"].isna().all()
    assert ds.visits["units"].tolist() == [2, 2, 1]
    assert ds.visits["billable"].tolist() == [True, False, True]


def test_zero_minute_visit_has_zero_units() -> None:
    """It gives a visit of 0 minutes 0 units."""
    ds = run(visits=visits(start=["2025-01-06 09:00"], end=["2025-01-06 09:00"]))
    assert ds.visits["units"].tolist() == [0]


def test_authorization_defaults() -> None:
    """It fills an authorization's rate from its procedure and counts its days inclusively."""
    auth = {
        "authorization_id": ["A1", "A2"],
        "client_id": ["C1", "C2"],
        "procedure_code": ["T1019", "S5125"],
        "start_date": ["2025-01-01", "2025-03-01"],
        "end_date": ["2025-01-01", "2025-03-31"],
        "units_approved": ["0", "40"],
        "rate": ["", "5.25"],
        "payer_id": ["", "P1"],
        "status": ["Active", ""],
    }
    ds = run(authorizations=auth)
    a = ds.authorizations
    assert a["rate"].tolist() == [6.0, 5.25]
    assert a["days"].tolist() == [1, 31]
    assert a["units_approved"].tolist() == [0.0, 40.0]
    assert a["status"].tolist()[0] == "active"
    assert pd.isna(a["payer_id"][0]) and a["payer_id"][1] == "P1"


def test_visit_order() -> None:
    """It orders visits by start then visit_id; service_date visits start at local midnight."""
    vis = visits(
        visit_id=["V3", "V2", "V1", "V4"],
        start=["2025-01-06 09:00", "2025-01-06 09:00", "2025-01-06 00:00:00-08:00", ""],
        end=["2025-01-06 10:00", "2025-01-06 10:00", "2025-01-06 01:00", ""],
        service_date=["", "", "", "2025-01-06"],
        minutes=["", "", "", "30"],
    )
    ds = run(visits=vis)
    assert ds.visits["order"].tolist() == [3, 2, 0, 1]


def test_row_counts_reconcile() -> None:
    """It counts rows read, used and rejected per table, a row with two problems once."""
    vis = visits(
        start=["2025-01-06 09:00", "x", "2025-01-06 09:00"],
        end=["2025-01-06 10:00", "y", "2025-01-06 10:00"],
        client_id=["C1", "C1", "C9"],
    )
    ds = run(visits=vis)
    counts = ds.row_counts.set_index("table")
    assert counts.loc["visits"].tolist() == [3, 1, 2]
    assert len(ds.rejects) == 3
    assert (counts["rows_read"] == counts["rows_used"] + counts["rows_rejected"]).all()
    assert counts.index.tolist() == [
        "clients",
        "procedures",
        "payers",
        "providers",
        "authorizations",
        "visits",
        "payments",
    ]
    assert counts.loc["payments"].tolist() == [0, 0, 0]


def test_typed_columns_are_accepted() -> None:
    """It accepts typed columns (numbers, date-times, booleans) as Parquet and SQL give them."""
    typed = {
        "clients": pd.DataFrame({"client_id": [101, 102], "client_name": ["A", "B"]}),
        "procedures": pd.DataFrame(
            {
                "procedure_code": ["T1019"],
                "description": ["PC"],
                "unit_minutes": [15],
                "rate": [6.0],
                "billable": [False],
            }
        ),
        "authorizations": pd.DataFrame(
            {
                "authorization_id": [1],
                "client_id": [101.0],
                "procedure_code": ["T1019"],
                "start_date": pd.to_datetime(["2025-01-01"]),
                "end_date": pd.to_datetime(["2025-01-31"]),
                "units_approved": [100.0],
            }
        ),
        "visits": pd.DataFrame(
            {
                "visit_id": [7],
                "client_id": [102],
                "procedure_code": ["T1019"],
                "start": pd.to_datetime(["2025-11-02 01:30"]),
                "end": pd.to_datetime(["2025-11-02 10:00"]).tz_localize("UTC"),
                "units": pd.array([2], dtype="Int64"),
            }
        ),
    }
    ds = run(**typed)
    assert ds.rejects.empty
    assert ds.authorizations["client_id"].tolist() == ["101"]
    v = ds.visits.iloc[0]
    assert (v["visit_id"], v["client_id"], v["minutes"], v["billable"]) == ("7", "102", 90, False)
    assert v["units_recorded"] == 2.0


# -- structure errors -----------------------------------------------------------------------


def test_missing_required_column() -> None:
    """It stops with one message naming the table, the missing column and the columns found."""
    vis = {k: v for k, v in BASE["visits"].items() if k != "procedure_code"}
    with pytest.raises(InputError) as caught:
        run(visits=vis)
    assert str(caught.value) == (
        "visits: column 'procedure_code' is missing. Columns found: "
        "['visit_id', 'client_id', 'start', 'end']. Source: visits.csv"
    )


def test_missing_visit_time_columns() -> None:
    """It stops when visits have neither start and end nor service_date and minutes."""
    with pytest.raises(InputError, match=r"visits: columns 'start' and 'end' \(or 'service_date'"):
        run(visits={k: v for k, v in BASE["visits"].items() if k not in ("start", "end")})
    with pytest.raises(InputError, match="visits: column 'end' is missing"):
        run(visits={k: v for k, v in BASE["visits"].items() if k != "end"})


def test_missing_required_table() -> None:
    """It stops when a required table is missing from the raw source."""
    with pytest.raises(InputError, match=r"required table\(s\) \['authorizations'\] missing"):
        run(authorizations=None)


def test_many_visits() -> None:
    """It validates 50,000 hourly visits, rejecting the 10 in the spring-forward hour."""
    n = 50_000
    start = pd.Timestamp("2025-01-01 08:00") + pd.to_timedelta(np.arange(n) % 5000, unit="h")
    frame = pd.DataFrame(
        {
            "visit_id": pd.Series(np.arange(n)).astype("str"),
            "client_id": np.where(np.arange(n) % 2 == 0, "C1", "C2"),
            "procedure_code": "T1019",
            "start": start.strftime("%Y-%m-%d %H:%M:%S"),
            "end": (start + pd.Timedelta(minutes=38)).strftime("%Y-%m-%d %H:%M:%S"),
        },
        dtype="str",
    )
    ds = run(visits=frame)
    counts = ds.row_counts.set_index("table").loc["visits"].tolist()
    assert counts == [n, n - 10, 10]
    assert set(ds.rejects["value"].str[:13]) == {"2025-03-09 02"}
    assert ds.visits["units"].unique().tolist() == [3]
    assert ds.visits["order"].sort_values().tolist() == list(range(n - 10))


_FORMS = {"%Y-%m-%d": "2024-02-29", "%Y-%m-%d %H:%M:%S": "2024-02-29 23:59:59"}


@given(
    st.sampled_from(sorted(_FORMS)),
    st.lists(
        st.one_of(
            st.none(),
            st.text("0123456789-: T+Z", min_size=8, max_size=21),
            st.builds(
                lambda digits, place, char: digits[:place] + char + digits[place + 1 :],
                st.sampled_from(
                    ["2025-02-28 23:59:59", "2025-02-30 00:00:00", "0000-01-01 24:00:00"]
                ),
                st.integers(0, 18),
                st.sampled_from("0123456789-: T"),
            ),
        ),
        min_size=1,
        max_size=40,
    ),
)
@hypothesis_settings(max_examples=300, deadline=None)
def test_fast_date_time_parse_reads_as_the_byte_parser(fmt: str, values: list[str | None]) -> None:
    """Arrow's cast (the fast path) reads each fixed-form value as the byte parser does:
    the same microseconds where both read it, NaT for the same values (bad calendar dates,
    hours past 23, other forms).
    """
    values = [v if v is None or fmt != "%Y-%m-%d" else v[:10] for v in values]
    text = pd.Series(pd.array(values, dtype="str"))
    array = pa.array(text.array)
    chunk = (array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array).cast(
        pa.large_string()
    )
    expected = validation._parse_fixed(chunk, fmt)
    assert validation._strptime(text, fmt).tolist() == expected.tolist()
    fast = validation._parse_by_arrow(chunk, fmt)
    assert fast is None or fast.tolist() == expected.tolist()


@pytest.mark.parametrize("step", [1, 10_000])  # visit ids dense (a table) or sparse (a hash)
def test_references_found_are_the_catalog_rows(step: int) -> None:
    """The catalog rows validation finds checking references (text ids and ids typed as
    numbers, some unknown, some naming a rejected row) are those `positions` finds in the
    canonical frames, and `match` keeps them for its visits.
    """
    ids = [100 + step * i for i in range(6)]
    tables = {
        "visits": pd.DataFrame(
            {
                "visit_id": ids,
                "client_id": ["C2", "C1", "C9", "C1", "C2", "C1"],
                "procedure_code": ["T1019", "S5125", "T1019", "T1019", "XX", "T1019"],
                "start": ["2025-01-06 09:00:00"] * 5 + ["bad"],
                "end": ["2025-01-06 10:00:00"] * 6,
                "payer_id": ["P1", None, "P1", "P9", "P1", "P1"],
            }
        ),
        "payers": {"payer_id": ["P0", "P1"], "payer_name": ["Zero", "One"]},
        "payments": pd.DataFrame(
            {
                "visit_id": [ids[3], ids[0], ids[5], 7, ids[1], ids[0]],
                "insurance_paid": [1.0] * 6,
            }
        ),
    }
    ds = run(**tables)
    assert len(ds.visits) == 2 and len(ds.payments) == 3  # the rest rejected
    matched = matching.match(ds)
    for (table, column), (target, key) in REFERENCES.items():
        for dataset in (ds, matched):
            frame, catalog = getattr(dataset, table), getattr(dataset, target)
            expected = positions(frame[column], catalog[key])
            assert catalog_rows(dataset, table, column).tolist() == expected.tolist()
    assert rows_name("visits", "client_id") in ds._derived  # found, not computed again
    assert rows_name("payments", "visit_id") in matched._derived


@hypothesis_settings(deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.sampled_from(["", "a", " a", "b ", "é", "CO-45", "\u00a0"])))
)
def test_text_is_stripped_and_blank_is_missing(values: list[str | None]) -> None:
    """Text as validation reads it: stripped, missing where empty, whichever way it is made
    (nothing to do, only empty values, or values to strip).
    """
    text = pd.Series(pd.array(values, dtype="str"))
    expected = text.str.strip()
    expected = expected.where(expected != "")
    got = validation.as_text(text)
    assert str(got.dtype) == "str"
    assert got.tolist() == expected.tolist()


def test_release_gives_the_same_dataset_and_takes_the_tables() -> None:
    """`release=True` (as `utilization.load` validates) gives the same frames, rejects and
    counts, and takes the tables it checked out of the raw source.
    """
    tables = {
        **BASE,
        "visits": visits(
            start=["2025-01-06 09:00:00", "2025-01-06 10:00:00", "", "bad"],
            end=["2025-01-06 10:00:00", "2025-01-06 09:00:00", "2025-01-06 11:00:00", ""],
            status=["Completed", "canceled", "scheduled", "completed"],
        ),
    }

    def raw() -> RawSource:
        frames = {name: pd.DataFrame(columns, dtype="str") for name, columns in tables.items()}
        return RawSource(frames, {n: f"{n}.csv" for n in frames}, "test tables", None, "test")

    kept = validate(raw(), Settings())
    source = raw()
    released = validate(source, Settings(), release=True)
    assert source.tables == {}
    for name in ("clients", "procedures", "authorizations", "visits", "payments"):
        pd.testing.assert_frame_equal(getattr(released, name), getattr(kept, name))
    pd.testing.assert_frame_equal(released.rejects, kept.rejects)
    pd.testing.assert_frame_equal(released.row_counts, kept.row_counts)
    assert len(kept.rejects) == 4  # the raw values shown, read before they were let go


@hypothesis_settings(deadline=None)
@given(
    st.lists(st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=4), min_size=1),
    st.data(),
)
def test_rows_of_a_chunked_column_are_its_iloc(chunks: list[list[str | None]], data) -> None:
    """Rows taken chunk by chunk are those `iloc` takes (values, index, name, dtype)."""
    array = pa.chunked_array([pa.array(c, pa.large_string()) for c in chunks])
    column = pd.Series(pd.array(array, dtype="str"), name="c")
    column.index = column.index + 7
    where = np.array(
        sorted(data.draw(st.sets(st.integers(0, max(len(column) - 1, 0)))) if len(column) else []),
        dtype=np.intp,
    )
    pd.testing.assert_series_equal(validation._rows(column, where), column.iloc[where])


@pytest.mark.parametrize(("ids", "expected"), [([12, 11, 10], [2, 1, 0]), ([9, 10, 11], [2, 0, 1])])
def test_visits_at_the_same_time_are_ordered_by_the_text_of_their_ids(
    ids: list[int], expected: list[int]
) -> None:
    """Visits starting at the same time are in visit_id order as text, also for ids typed
    as numbers: 10 and 11 come before 9.
    """
    typed = pd.DataFrame(
        {
            "visit_id": ids,
            "client_id": ["C1"] * 3,
            "procedure_code": ["T1019"] * 3,
            "start": ["2025-01-06 09:00:00"] * 3,
            "end": ["2025-01-06 10:00:00"] * 3,
        }
    )
    assert run(visits=typed).visits["order"].tolist() == expected


@hypothesis_settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-3, 40), min_size=1, max_size=30), st.booleans())
def test_repeated_numeric_ids_are_the_repeats_of_their_text(ids: list[int], sparse: bool) -> None:
    """Ids typed as whole numbers (dense, counted; or sparse, sorted) are rejected as
    duplicates exactly as the same ids given as text.
    """
    numbers = [i * 10**12 if sparse else i for i in ids]
    as_text = visits(
        visit_id=[str(i) for i in numbers],
        start=["2025-01-06 09:00:00"] * len(ids),
        end=["2025-01-06 10:00:00"] * len(ids),
    )
    typed = pd.DataFrame({**as_text, "visit_id": numbers})
    assert rejects(run(visits=typed)) == rejects(run(visits=as_text))


def test_an_id_holding_a_character_that_does_not_show_is_named() -> None:
    """Client C1 given with a byte-order mark before it (two files joined), procedure code
    S5125 with a zero-width space after it: those catalog rows are rejected, naming the
    character, and the rows that name the ids as they show are told the row that was
    rejected; a visit naming C2 with a soft hyphen in it is not found, and told why. A
    line break is left to its own check (`line_break`), not named twice.
    """
    ds = run(
        clients={
            "client_id": ["\ufeffC1", "C2", "C3\nC4"],
            "client_name": ["Ann Lee", "Bo Diaz", "Cy"],
        },
        procedures={**BASE["procedures"], "procedure_code": ["T1019", "S5125\u200b"]},
        visits=visits(
            start=["2025-01-06 09:00:00"] * 3,
            end=["2025-01-06 10:00:00"] * 3,
            client_id=["C1", "C\u00ad2", "C2"],
            procedure_code=["T1019", "T1019", "S5125"],
        ),
    )
    assert [r for r in rejects(ds) if r[0] in ("clients", "procedures")] == [
        (
            "clients",
            2,
            "client_id",
            "\ufeffC1",
            "holds an invisible character (U+FEFF ZERO WIDTH NO-BREAK SPACE): retype it",
            "invisible_character",
        ),
        (
            "clients",
            4,
            "client_id",
            "C3\nC4",
            "contains a line break: an unclosed quote?",
            "line_break",
        ),
        (
            "procedures",
            3,
            "procedure_code",
            "S5125\u200b",
            "holds an invisible character (U+200B ZERO WIDTH SPACE): retype it",
            "invisible_character",
        ),
    ]
    found = {(r[1], r[2]): r[4] for r in rejects(ds) if r[0] == "visits"}
    assert found == {
        (2, "client_id"): "found in clients, but that row (row 2) was rejected",
        (3, "client_id"): "not found in clients (it holds an invisible character, U+00AD SOFT "
        "HYPHEN)",
        (4, "procedure_code"): "found in procedures, but that row (row 3) was rejected",
    }
    assert ds.clients["client_id"].tolist() == ["C2"]
