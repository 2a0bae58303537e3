"""Bounds (data contract §2): values beyond them are rejects with a reason, never a traceback."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from remittance_data import march_835
from test_remittance_pipeline import _folder
from test_validation import BASE, rejects, run, visits
from utilization import views
from utilization.cli import main
from utilization.exceptions import RemittanceError
from utilization.remittance import read_835

AUTH = BASE["authorizations"]
PROC = BASE["procedures"]
OUT = "out_of_range"


def _coded(ds) -> list[tuple[int, str, str, str]]:
    return [(r[1], r[2], r[4], r[5]) for r in rejects(ds) if r[5] == OUT]


@pytest.mark.parametrize(
    ("column", "inside", "beyond", "reason"),
    [
        ("units_approved", "1000000", "1000001", "out of range: more than 1,000,000 units"),
        ("rate", "1000000", "1000000.01", "out of range: more than $1,000,000"),
        ("start_date", "1900-01-01", "1899-12-31", "out of range: before 1900-01-01"),
        ("end_date", "2199-12-31", "2200-01-01", "out of range: after 2199-12-31"),
    ],
)
def test_authorization_bounds_hold_exactly_at_the_edge(
    column: str, inside: str, beyond: str, reason: str
) -> None:
    """The bound itself is accepted; one step beyond it is rejected as out_of_range."""
    two = {c: v * 2 for c, v in AUTH.items()}
    ds = run(authorizations=two | {"authorization_id": ["A1", "A2"], column: [inside, beyond]})
    assert _coded(ds) == [(3, column, reason, OUT)]
    assert ds.authorizations["authorization_id"].tolist() == ["A1"]


DAY = {"service_date": ["2025-01-06"] * 2}
HOUR = DAY | {"minutes": ["60"] * 2}
VISIT_EDGES = {
    "minutes": (
        DAY | {"minutes": ["527040", "527041"]},
        ("minutes", "out of range: more than 527,040 minutes"),
    ),
    "start-to-end": (
        {"start": ["2025-01-01 00:00"] * 2, "end": ["2026-01-02 00:00", "2026-01-02 00:01"]},
        ("end", "out of range: more than 527,040 minutes after start"),
    ),
    "first-instant": (
        {"start": ["1900-01-01 00:00:00", "1899-12-31 23:59:59"], "end": ["1900-01-01 01:00"] * 2},
        ("start", "out of range: before 1900-01-01"),
    ),
    "last-instant": (
        {"start": ["2199-12-31 22:00"] * 2, "end": ["2199-12-31 23:59:59", "2200-01-01 00:00:00"]},
        ("end", "out of range: after 2199-12-31"),
    ),
    "units": (
        HOUR | {"units": ["1000000", "1000001"]},
        ("units", "out of range: more than 1,000,000 units"),
    ),
    "amount": (
        HOUR | {"amount_billed": ["1000000.00", "1000000.01"]},
        ("amount_billed", "out of range: more than $1,000,000"),
    ),
}


@pytest.mark.parametrize(("columns", "reason"), VISIT_EDGES.values(), ids=VISIT_EDGES)
def test_visit_bounds_hold_exactly_at_the_edge(
    columns: dict[str, list[str]], reason: tuple[str, str]
) -> None:
    """Visit 1 sits on the bound and is used; visit 2, one step beyond, is rejected."""
    ds = run(visits=visits(**columns))
    assert _coded(ds) == [(3, *reason, OUT)]
    assert ds.visits["visit_id"].tolist() == ["V1"]


def test_payment_bounds_hold_both_ways() -> None:
    """Payments may be negative, down to -$1,000,000; a cent beyond either way is rejected."""
    ds = run(
        payments={
            "visit_id": ["V1"] * 4,
            "insurance_paid": ["1000000", "-1000000", "1000000.01", "-1000000.01"],
            "paid_date": ["2025-02-01", "2199-12-31", "2025-02-01", "2025-02-01"],
        }
    )
    assert _coded(ds) == [
        (4, "insurance_paid", "out of range: more than $1,000,000", OUT),
        (5, "insurance_paid", "out of range: less than -$1,000,000", OUT),
    ]
    assert ds.payments["insurance_paid"].tolist() == [1_000_000.0, -1_000_000.0]


def test_unit_minutes_beyond_the_bound_is_rejected() -> None:
    """A procedure's unit length is minutes too: 527,041 is out of range."""
    ds = run(procedures={**PROC, "unit_minutes": ["527040", "527041"]})
    assert _coded(ds) == [(3, "unit_minutes", "out of range: more than 527,040 minutes", OUT)]


def test_settings_take_their_ranges_from_the_bounds(tmp_path: Path) -> None:
    """utilization.toml's unit_minutes and rate_tolerance stop where minutes and money do
    (527,040 and $1,000,000): one more is an error naming the range; a kind without a bound
    asked for one is a mistake in the code (LookupError).
    """
    from utilization import schema
    from utilization.exceptions import InputError
    from utilization.settings import load_settings

    assert (schema.highest("minutes"), schema.highest("money")) == (527_040, 1_000_000)
    for key, edge in (("unit_minutes", 527_040), ("rate_tolerance", 1_000_000)):
        path = tmp_path / f"{key}.toml"
        path.write_text(f"{key} = {edge}\n", encoding="utf-8")
        assert getattr(load_settings(path), key) == edge
        path.write_text(f"{key} = {edge + 1}\n", encoding="utf-8")
        message = f"{key} must be from 0 to {edge:,}, not {edge + 1:,}$"
        with pytest.raises(InputError, match=message):
            load_settings(path)
    with pytest.raises(LookupError, match="'text' have no bound"):
        schema.bound_of("text")


ISSUE = {  # the values of issue 12, item 7, that once gave tracebacks further on
    ("visits", "minutes"): "9223372036854775808",
    ("authorizations", "units_approved"): "1e12",
    ("authorizations", "start_date"): "0000-01-01",
    ("visits", "amount_billed"): "1e26",
}


@pytest.mark.parametrize(("where", "value"), list(ISSUE.items()), ids=lambda v: str(v))
def test_every_view_exports_with_the_values_that_once_broke_it(
    demo_folder: Callable[..., Path], tmp_path: Path, where: tuple[str, str], value: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The value is one out_of_range reject; every view still exports."""
    data = tmp_path / "data"
    shutil.copytree(demo_folder(clients=8, today=date(2026, 11, 23)), data)
    table, column = where
    frame = pd.read_csv(data / f"{table}.csv", dtype=str, keep_default_na=False)
    if column == "minutes":  # a visit given as service date and minutes
        frame.loc[0, ["start", "end", "service_date"]] = ["", "", "2026-10-05"]
    frame.loc[0, column] = value
    frame.to_csv(data / f"{table}.csv", index=False)
    for view in views.VIEWS.values():
        subject = [f"--{view.subject}", view.example] if view.subject else []
        args = ["export", view.name, "--data", str(data), "--from", "2026-10-01"]
        args += ["--to", "2026-12-31", *subject]
        assert main(args) == 0, view.name
        found = json.loads(capsys.readouterr().out)["rejects"]
        assert [
            (r["table"], r["row"], r["column"], r["code"]) for r in found if r["code"] == OUT
        ] == [(table, 2, column, OUT)]


def test_an_835_date_beyond_the_bound_makes_its_file_a_reject_not_a_stop(tmp_path: Path) -> None:
    """DTM*472*99991231: the file is one unreadable_835 reject naming the date; the other
    835 file of remittances/ is read and the report is made.
    """
    with pytest.raises(RemittanceError, match=r"DTM02 '99991231' is out of range"):
        path = tmp_path / "far.835"
        path.write_text(march_835().replace("DTM*472*20250304", "DTM*472*99991231"))
        read_835(path)
    data = _folder(tmp_path)
    (data / "remittances").mkdir()
    shutil.copy(path, data / "remittances" / "far.835")
    (data / "remittances" / "march.835").write_text(march_835().replace("EFT1001", "EFT7"))
    out = tmp_path / "codes.json"
    assert main(["export", "service-codes", "--data", str(data), "--from", "2025-03-01",
                 "--to", "2025-03-31", "--out", str(out)]) == 0  # fmt: skip
    figures = json.loads(out.read_text())
    unreadable = [r for r in figures["rejects"] if r["code"] == "unreadable_835"]
    assert [r["value"] for r in unreadable] == [str(data / "remittances" / "far.835")]
    assert "DTM02 '99991231' is out of range" in unreadable[0]["reason"]
    assert sum(r["insurance_paid"] for r in figures["service_codes"]) == 198.0  # V1, V2, V3 and V6
