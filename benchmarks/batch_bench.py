"""Batch benchmark: client reports for every demo client against the scripted baseline.

    .venv/bin/python benchmarks/batch_bench.py [--clients 200] [--sample 5] [--pdf 50]

In one run, on demo data with `--clients` clients (this quarter):
1. `utilization batch` HTML reports for 50 clients, then for all of them (wall time per report
   and peak memory of the whole process tree: driver, workers, kernels);
2. the way an analyst scripts it, on `--sample` clients: a `papermill` CLI call and a
   `jupyter nbconvert --to html` CLI call per client;
3. `utilization batch` HTML + PDF reports for `--pdf` clients.
Prints a Markdown table and writes it, with the raw figures, to benchmarks/out/batch.json.

    .venv/bin/python benchmarks/batch_bench.py --against d635a04 [--clients 200] [--runs 2]

compares instead, in one run, `utilization batch` HTML + PDF reports for every client as a
new process with this checkout's `src/` and with the `src/` (and templates) of an older
commit, alternating, and prints seconds per report and the speed-up.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import psutil

from utilization import demo
from utilization.batch import run_batch
from utilization.batch.plan import parameter_set
from utilization.period import current_quarter
from utilization.report.runner import templates_dir

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


class PeakMemory:
    """Samples the resident memory of this process and all its descendants; keeps the peak."""

    def __init__(self, every: float = 0.1) -> None:
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += process.memory_info().rss
            self.peak = max(self.peak, total)
            time.sleep(self.every)


def timed(action: Callable[[], Any]) -> tuple[float, int]:
    """Seconds and peak memory (bytes, whole process tree) of one call."""
    with PeakMemory() as memory:
        start = time.perf_counter()
        action()
        seconds = time.perf_counter() - start
    return seconds, memory.peak


def batch(data: Path, out: Path, clients: list[str], formats: list[str]) -> None:
    """One `utilization batch` run (as the command runs it), failing loudly on any failure."""
    period = current_quarter(date.today())
    spec = parameter_set(
        {
            "name": "bench",
            "view": "client",
            "period": period.label,
            "data": str(data),
            "clients": clients,
            "formats": formats,
            "out": str(out),
        }
    )
    result = run_batch(spec, workers=os.cpu_count() or 1, progress=False)
    if result.failed or result.rendered != len(clients):
        msg = f"batch benchmark run failed: {result.summary()}"
        raise SystemExit(msg)


def baseline(data: Path, out: Path, clients: list[str]) -> None:
    """The scripted way: a papermill CLI call and an nbconvert CLI call per client."""
    period = current_quarter(date.today())
    template = templates_dir() / "client.ipynb"
    out.mkdir(parents=True, exist_ok=True)
    for client in clients:
        executed = out / f"{client}.ipynb"
        subprocess.run(
            [
                str(BIN / "papermill"), str(template), str(executed), "--log-level", "WARNING",
                "-p", "data", str(data), "-p", "client", client,
                "-p", "date_from", period.start.isoformat(),
                "-p", "date_to", period.end.isoformat(), "-p", "batch", "True",
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [str(BIN / "jupyter"), "nbconvert", "--to", "html", str(executed)],
            check=True,
            capture_output=True,
        )


def batch_command(src: Path, data: Path, out: Path, clients: int) -> tuple[float, int]:
    """Seconds and peak memory of `utilization batch` (HTML + PDF for `clients` clients, two
    workers) as a new process running the package in `src`.
    """
    period = current_quarter(date.today())
    spec = out.with_suffix(".yaml")
    ids = ", ".join(f"C{i:04d}" for i in range(1, clients + 1))
    spec.write_text(
        f"name: bench\nview: client\nperiod: {period.label}\ndata: {data}\n"
        f"clients: [{ids}]\nformats: [html, pdf]\nout: {out}\n"
    )
    argv = [sys.executable, "-m", "utilization", "batch", str(spec), "--workers", "2"]
    env = os.environ | {"PYTHONPATH": str(src)}
    with PeakMemory() as memory:
        start = time.perf_counter()
        done = subprocess.run([*argv, "--no-progress"], env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"batch failed with {src}:\n{done.stderr[-2000:]}")
    return seconds, memory.peak


def compare(against: str, clients: int, runs: int) -> None:
    """HTML + PDF batch per report: this checkout against commit `against`, alternating."""
    from run import source_of

    sides = {"before": source_of(against, HERE / "out"), "after": HERE.parent / "src"}
    work = Path(tempfile.mkdtemp(prefix="batch-compare-"))
    try:
        data = work / "data"
        demo.write_demo(data, clients=clients, today=date.today())
        per_report: dict[str, list[float]] = {"before": [], "after": []}
        peaks: dict[str, list[int]] = {"before": [], "after": []}
        for run in range(runs):
            for side, src in sides.items():
                seconds, peak = batch_command(src, data, work / f"{side}-{run}", clients)
                per_report[side].append(seconds / clients)
                peaks[side].append(peak)
                print(f"{side}: {seconds:.1f} s, {seconds / clients:.3f} s/report", flush=True)
        before, after = min(per_report["before"]), min(per_report["after"])
        lines = [
            f"`utilization batch`, HTML + PDF, {clients} clients, 2 workers, best of {runs}",
            "| | s / report | peak memory (MB) |",
            "|---|---:|---:|",
            f"| {against} (before) | {before:.3f} | {max(peaks['before']) // 2**20} |",
            f"| this checkout (after) | {after:.3f} | {max(peaks['after']) // 2**20} |",
            f"speed-up: {before / after:.2f}x",
        ]
        print("\n".join(lines))
        (HERE / "out").mkdir(exist_ok=True)
        (HERE / "out" / "batch-compare.json").write_text(
            json.dumps({"per_report": per_report, "table": lines}, indent=1) + "\n"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200, help="demo clients (default 200)")
    parser.add_argument("--sample", type=int, default=5, help="clients for the baseline")
    parser.add_argument("--pdf", type=int, default=50, help="clients for the HTML + PDF run")
    parser.add_argument("--against", help="compare HTML + PDF batches with this older commit")
    parser.add_argument("--runs", type=int, default=2, help="runs per side with --against")
    args = parser.parse_args()
    if args.against:
        compare(args.against, args.clients, args.runs)
        return
    work = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    try:
        data = work / "data"
        demo.write_demo(data, clients=args.clients, today=date.today())
        ids = [f"C{i:04d}" for i in range(1, args.clients + 1)]
        small = ids[: min(50, len(ids))]
        rows: dict[str, dict[str, float]] = {}

        def measure(label: str, count: int, action: Callable[[], Any]) -> None:
            seconds, peak = timed(action)
            rows[label] = {
                "reports": count,
                "seconds": round(seconds, 2),
                "per_report": round(seconds / count, 3),
                "peak_mb": round(peak / 2**20),
            }
            print(f"{label}: {rows[label]}", flush=True)

        measure(
            f"batch html, {len(small)} clients",
            len(small),
            lambda: batch(data, work / "b50", small, ["html"]),
        )
        measure(
            f"batch html, {len(ids)} clients",
            len(ids),
            lambda: batch(data, work / "b-all", ids, ["html"]),
        )
        sample = ids[: args.sample]
        measure(
            f"baseline papermill + nbconvert CLI, {len(sample)} clients",
            len(sample),
            lambda: baseline(data, work / "baseline", sample),
        )
        pdf = ids[: args.pdf]
        measure(
            f"batch html + pdf, {len(pdf)} clients",
            len(pdf),
            lambda: batch(data, work / "b-pdf", pdf, ["html", "pdf"]),
        )
        report(rows, len(ids), len(small))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(rows: dict[str, dict[str, float]], total: int, small: int) -> None:
    """Print the Markdown table and the ratio; write both to benchmarks/out/batch.json."""
    all_html = rows[f"batch html, {total} clients"]
    base = next(v for k, v in rows.items() if k.startswith("baseline"))
    ratio = base["per_report"] / all_html["per_report"]
    lines = [
        f"2 cores: {os.cpu_count()} logical CPUs",
        "| run | reports | seconds | s / report | peak memory (MB) |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {k} | {v['reports']} | {v['seconds']} | {v['per_report']} | {v['peak_mb']} |"
            for k, v in rows.items()
        ),
        f"batch vs baseline, per HTML report: {ratio:.1f}x faster",
        f"peak memory {small} vs {total} reports: "
        f"{rows[f'batch html, {small} clients']['peak_mb']} MB vs {all_html['peak_mb']} MB",
    ]
    print("\n".join(lines))
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / "batch.json").write_text(
        json.dumps({"rows": rows, "ratio": round(ratio, 1), "table": lines}, indent=1) + "\n"
    )


if __name__ == "__main__":
    main()
