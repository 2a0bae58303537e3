"""The main job (`make demo`): demo data, rejects, figures and reports for this quarter."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from utilization.demo.job import run

TODAY = date(2026, 11, 22)


@pytest.mark.slow
def test_the_main_job_writes_data_rejects_figures_and_reports(tmp_path: Path) -> None:
    """It writes the demo data, the five deliberate rejects, JSON figures and every report."""
    lines = list(run(tmp_path, TODAY, client_reports=2))
    assert (tmp_path / "data" / "visits.csv").is_file()
    rejects = (tmp_path / "rejects.csv").read_text(encoding="utf-8").splitlines()
    assert len(rejects) == 1 + 5  # header and the demo's five deliberate bad rows
    agency = json.loads((tmp_path / "agency.json").read_text(encoding="utf-8"))
    assert agency["period"] == {"from": "2026-10-01", "to": "2026-12-31"}
    assert agency["as_of"] == "2026-11-22"
    for name in ("agency", "service-codes", "authorizations", "revenue"):
        assert (tmp_path / f"{name}.html").stat().st_size > 10_000
        assert (tmp_path / f"{name}.pdf").read_bytes().startswith(b"%PDF")
    revenue = json.loads((tmp_path / "revenue.json").read_text(encoding="utf-8"))
    assert [r["category"] for r in revenue["revenue"]][:2] == ["approved", "delivered"]
    assert 'href="agency.by_provider.csv"' in (tmp_path / "agency.html").read_text("utf-8")
    assert (tmp_path / "agency.by_provider.csv").is_file()
    quarter = tmp_path / "clients" / "2026-Q4"
    assert len(list((quarter / "client").glob("*.pdf"))) == 2
    assert (quarter / "index.html").is_file()
    assert (quarter / "manifest.json").is_file()
    assert any(line.startswith("client reports:") for line in lines)
