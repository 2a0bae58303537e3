"""The benchmark command runs (a smoke test: speed is measured by benchmarks/run.py, not here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


@pytest.mark.slow
def test_quick_benchmark_prints_every_figure(tmp_path: Path) -> None:
    """`benchmarks/run.py --quick` runs end to end and prints stages, total, memory and ratio."""
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for line in (
        "read (Parquet)",
        "validate + units",
        "match",
        "agency view (quarter)",
        "total (end to end)",
        "peak RSS",
        "read (CSV)",
        "baseline, extrapolated",
        "speed-up vs baseline",
        "== baseline: analyst's pandas script",
    ):
        assert line in done.stdout, line
    results = json.loads(next(tmp_path.glob("results-*.json")).read_text())
    (entry,) = results["sizes"].values()
    assert entry["checks"]["visits_read"] == entry["visits"] > 0
    assert entry["checks"]["kpis"]["units_used"] > 0
    assert set(entry["stages"]) == {"read", "validate", "match", "agency_view"}
