"""The benchmark command runs (a smoke test: speed is measured by benchmarks/run.py, not here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """The printed table and the results JSON of one `benchmarks/run.py --quick`."""
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results: dict[str, Any] = json.loads(next(out.glob("results-*.json")).read_text())
    return done.stdout, results


@pytest.mark.slow
def test_quick_benchmark_prints_every_figure(quick_run: tuple[str, dict[str, Any]]) -> None:
    """`benchmarks/run.py --quick` runs end to end and prints stages, total, memory and ratios."""
    stdout, results = quick_run
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
        "-- next to the DuckDB reference",
        "agency view / group-bys",
        "target engine / DuckDB",
        "-- the agency view in 1 part(s) by client",
        "KPIs, parts and in memory        same",
        "memory: transparent huge pages",  # the kernel's setting the times depend on
    ):
        assert line in stdout, line
    (entry,) = results["sizes"].values()
    assert entry["checks"]["visits_read"] == entry["visits"] == 20_941
    assert entry["checks"]["kpis"]["units_used"] == 27_251
    assert set(entry["stages"]) == {"read", "validate", "match", "agency_view"}


@pytest.mark.slow
def test_quick_benchmark_runs_the_duckdb_reference_on_the_same_files(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    """The DuckDB reference reads the engine's 20,941 visits and finds the same 27,251 units
    used in the quarter (the demo's 5 rejected rows hold none of the quarter's units).
    """
    stdout, results = quick_run
    (entry,) = results["sizes"].values()
    reference = entry["reference"]
    assert set(reference["stages"]) == {"load_units", "figures"}
    assert reference["runs"] == 1
    assert reference["checks"]["visits_read"] == entry["checks"]["visits_read"] == 20_941
    assert reference["checks"]["units_used"] == entry["checks"]["kpis"]["units_used"] == 27_251
    assert reference["total"]["best"] > 0
    figures = results["summary"]["sizes"]["20000"]
    assert figures["engine_over_duckdb"] == entry["total"]["best"] / reference["total"]["best"]
    assert figures["parts_peak_rss"] > 0
    assert "visits read, both                    20,941         20,941   same" in stdout
    assert "units used (quarter), both           27,251         27,251   same" in stdout


def test_the_benchmark_compares_the_parts_where_export_cuts_the_data() -> None:
    """`--against` also runs the older revision's parts above the size `export` cuts at; the
    benchmark (which does not import the package) keeps its own copy of that size.
    """
    import importlib.util

    from utilization import partitions

    spec = importlib.util.spec_from_file_location("benchmark_run", RUN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.AUTOMATIC_ROWS == partitions.AUTOMATIC_ROWS
    assert module._parted(partitions.AUTOMATIC_ROWS + 1)
    assert not module._parted(partitions.AUTOMATIC_ROWS)
