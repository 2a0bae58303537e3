"""One report, HTML and PDF, from a warm start (issue 3): seconds per report in a reused kernel.

Run: `.venv/bin/python benchmarks/report_bench.py [--runs 5]`. A warm start is a Renderer
whose kernel has already made one report (imports done, dataset cached); the first, cold
report is timed as well, and, in the same run, the straightforward way (`utilization report`
as a new process per report) for comparison.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from utilization.demo import write_demo
from utilization.report.runner import Renderer

TODAY = date(2026, 11, 22)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "data"
        write_demo(data, today=TODAY)
        params = {
            "data": str(data),
            "date_from": "2026-10-01",
            "date_to": "2026-12-31",
            "as_of": TODAY.isoformat(),
            "batch": True,
        }
        warm: list[float] = []
        with Renderer() as renderer:
            started = time.perf_counter()
            renderer.render("client", params | {"client": "C0001"}, folder, "cold", ("html", "pdf"))
            cold = time.perf_counter() - started
            for i in range(args.runs):
                client = f"C{i + 2:04d}"
                started = time.perf_counter()
                renderer.render(
                    "client", params | {"client": client}, folder, client, ("html", "pdf")
                )
                warm.append(time.perf_counter() - started)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "utilization", "report", "client", "--client", "C0001",
             "--data", str(data), "--from", "2026-10-01", "--to", "2026-12-31",
             "--as-of", TODAY.isoformat(), "--format", "html,pdf", "--out", str(folder / "cli")],
            check=True, capture_output=True,
        )  # fmt: skip
        fresh = time.perf_counter() - started
    print("client report, HTML + PDF (demo agency, 60 clients)")
    print(f"  cold (new kernel, first report)      {cold:6.2f} s")
    print(
        f"  warm (reused kernel), {args.runs} runs     best {min(warm):.2f} s, "
        f"median {statistics.median(warm):.2f} s, worst {max(warm):.2f} s"
    )
    print(f"  `utilization report` as a new process {fresh:6.2f} s")
    print(
        f"  target <= 3.0 s warm: {'met' if statistics.median(warm) <= 3.0 else 'MISSED'} (median)"
    )


if __name__ == "__main__":
    main()
