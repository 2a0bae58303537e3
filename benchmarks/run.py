"""Speed and memory benchmark: N demo visits loaded, validated, matched and reported.

    .venv/bin/python benchmarks/run.py                 # 1M and 10M visits, 3 runs each
    .venv/bin/python benchmarks/run.py --sizes 1000000 --repeat 5
    .venv/bin/python benchmarks/run.py --quick         # small smoke run (seconds)

What it does (benchmarks/README.md has the details and the figures measured):

1. Generates the demo agency (`utilization.demo.generate`) once per size into a cache folder
   (`benchmarks/out/data/`, git-ignored) as Parquet, plus CSV for the CSV load figure; a
   cached folder is reused while its parameters and `demo/agency.py` are unchanged.
2. For each size and run, a fresh Python process times each stage with `time.perf_counter`:
   read (`sources.read_source`), validate including unit rounding (`validation.validate`),
   match (`matching.match`) and the agency view for one quarter (`export.build_view`), and
   reports its peak resident memory (`resource.getrusage(RUSAGE_SELF).ru_maxrss`).
3. For each size and run, a fresh Python process runs the DuckDB reference
   (`benchmarks/reference.py`) on the same Parquet folder: the same parsing, rounding and
   group-bys in SQL; the ratio engine total / DuckDB total is printed (issue 11: at most 3x).
   So is the agency view in parts (`partitions.view_figures`, as `utilization export` makes
   it above 2M visits: one part per 1M visits, a worker process per core), with the peak
   memory of its process tree.
4. In the same run, a straightforward analyst's pandas script (row-by-row `apply` for
   units, an `iterrows` loop for matching, `groupby` for the figures) runs on a small size;
   its time is extrapolated linearly to each size and the ratio printed.

Timings are the best of the runs, with the spread (median and worst) alongside: other jobs on
the machine slow single runs down, never speed them up. Nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import inspect
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_OUT = HERE / "out"
DEFAULT_SIZES = (1_000_000, 10_000_000)
BASELINE_SIZE = 100_000
CSV_SIZE = 1_000_000  # the size whose CSV load time is also reported
QUICK_SIZES = (20_000,)
QUICK_BASELINE_SIZE = 5_000
SEED = 2026
MONTHS = 12
TODAY = date(2026, 2, 16)  # visits: Apr 2025 - Mar 2026, completed up to today
PERIOD = (date(2026, 1, 1), date(2026, 3, 31))  # the quarter the agency view covers
VISITS_PER_CLIENT = 143.7  # visits per demo client over MONTHS months (measured at 1M)
TARGETS = {1_000_000: 3.0, 10_000_000: 30.0}  # seconds end to end (issue 2)
MEMORY_TARGET_GB = {10_000_000: 4.0}  # peak resident memory (issue 11; issue 2 had 8 GB)
REFERENCE_RATIO = 3.0  # engine total / DuckDB total, at most (issue 11)
LINEARITY = (1_000_000, 10_000_000, 10.5)  # time(10M) / time(1M), at most (issue 11)
AUTOMATIC_ROWS = 2_000_000  # visits above which `export` cuts the data (partitions.AUTOMATIC_ROWS)
STAGES = ("read", "validate", "match", "agency_view")
STAGE_NAMES = {
    "read": "read (Parquet)",
    "validate": "validate + units",
    "match": "match",
    "agency_view": "agency view (quarter)",
    "csv_read": "read (CSV)",
    "csv_validate": "validate + units (CSV)",
}
BASELINE_STAGES = ("read", "units", "match", "figures")
REFERENCE_STAGES = ("load_units", "figures")
REFERENCE_NAMES = {"load_units": "read + units (DuckDB)", "figures": "agency group-bys (DuckDB)"}


# -- helpers ----------------------------------------------------------------------------------


def _peak_rss_bytes() -> int:
    """Peak resident memory of this process (Linux reports kilobytes, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def _clients_for(size: int) -> int:
    """Demo clients that make about `size` visits over MONTHS months."""
    return max(1, round(size / VISITS_PER_CLIENT))


def _fingerprint(size: int) -> dict[str, Any]:
    """What the cached data of one size depends on."""
    source = (ROOT / "src" / "utilization" / "demo" / "agency.py").read_bytes()
    return {
        "seed": SEED,
        "clients": _clients_for(size),
        "months": MONTHS,
        "today": TODAY.isoformat(),
        "demo_sha1": hashlib.sha1(source).hexdigest(),
    }


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.2f} GB"


def _child(args: list[str], src: Path | None = None, script: str = __file__) -> dict[str, Any]:
    """Run this script (or another benchmark `script`) in a fresh process with `args`; its
    last stdout line is JSON.

    `src`: another checkout's `src/` folder to run instead of this one (`--against`).
    """
    env = dict(os.environ, PYTHONHASHSEED="0")
    if src is not None:
        env["PYTHONPATH"] = str(src)
    done = subprocess.run(
        [sys.executable, str(Path(script).resolve()), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        msg = f"benchmark step {args} failed (exit {done.returncode}):\n{done.stderr[-4000:]}"
        raise SystemExit(msg)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- children: run in a fresh process each ------------------------------------------------------


def child_generate(folder: Path, size: int, formats: list[str]) -> dict[str, Any]:
    """Write the demo tables of `size` visits as `<folder>/<fmt>/<table>.<fmt>`."""
    from utilization import demo

    started = time.perf_counter()
    tables = demo.generate(seed=SEED, clients=_clients_for(size), months=MONTHS, today=TODAY)
    generated = time.perf_counter() - started
    for fmt in formats:
        out = folder / fmt
        out.mkdir(parents=True, exist_ok=True)
        for name, frame in tables.items():  # as demo.write_demo writes them
            path = out / f"{name}.{fmt}"
            if fmt == "csv":
                frame.to_csv(
                    path, index=False, lineterminator="\n", float_format="%.2f", encoding="utf-8"
                )
            else:
                frame.to_parquet(path, index=False)
    info = {
        **_fingerprint(size),
        "visits": len(tables["visits"]),
        "authorizations": len(tables["authorizations"]),
        "formats": formats,
        "generate_seconds": generated,
        "write_seconds": time.perf_counter() - started - generated,
    }
    (folder / "info.json").write_text(json.dumps(info, indent=2))
    return info


def child_engine(folder: Path, csv: bool) -> dict[str, Any]:
    """Time the engine's stages on one data folder (as utilization.load, then the view)."""
    started = time.perf_counter()
    from utilization import matching, sources, validation
    from utilization.parameters import Request
    from utilization.period import Filters, Period
    from utilization.settings import load_settings
    from utilization.views import build_view

    times: dict[str, float] = {"import": time.perf_counter() - started}
    rss: dict[str, int] = {}

    def stage(name: str, work: Callable[..., Any], *args: Any) -> Any:
        begin = time.perf_counter()
        value = work(*args)
        times[name] = time.perf_counter() - begin
        rss[name] = _peak_rss_bytes()
        return value

    prefix = "csv_" if csv else ""
    raw = stage(f"{prefix}read", sources.read_source, folder)
    settings = load_settings(None, raw.data_dir)
    validate: Callable[..., Any] = validation.validate
    if "release" in inspect.signature(validate).parameters:  # as utilization.load does
        validate = functools.partial(validate, release=True)
    dataset = stage(f"{prefix}validate", validate, raw, settings)
    del raw  # as utilization.load: the raw tables are not needed after validation
    result: dict[str, Any] = {"times": times, "peak_rss": rss}
    result["visits_read"] = int(dataset.row_counts.set_index("table").loc["visits", "rows_read"])
    result["rejects"] = len(dataset.rejects)
    if csv:
        return result
    dataset = stage("match", matching.match, dataset)
    request = Request("agency", Period(*PERIOD), Filters(), TODAY)
    view = stage("agency_view", build_view, dataset, request)
    result["kpis"] = {k: round(v, 4) for k, v in view.kpis.items() if v is not None}
    result["flags"] = len(view.flags)
    result["allocations"] = len(dataset.allocations) if dataset.allocations is not None else 0
    return result


def _tree_rss_bytes(pid: int) -> tuple[int, int]:
    """Resident memory of process `pid` and of its descendants now (Linux `/proc`)."""

    def rss(process: int) -> int:
        try:
            for line in Path(f"/proc/{process}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def children(process: int) -> list[int]:
        found: list[int] = []
        try:
            for task in Path(f"/proc/{process}/task").iterdir():
                found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
        return found

    descendants, todo = 0, children(pid)
    while todo:
        process = todo.pop()
        descendants += rss(process)
        todo += children(process)
    return rss(pid), descendants


class _TreeSampler:
    """The peak resident memory of this process and its descendants together, sampled
    every 0.1 s by a thread (Linux; elsewhere this process's peak only).
    """

    def __init__(self) -> None:
        import threading

        self.peak = 0
        self.peak_parent = 0
        self.peak_children = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            parent, children = _tree_rss_bytes(os.getpid())
            self.peak = max(self.peak, parent + children)
            self.peak_parent = max(self.peak_parent, parent)
            self.peak_children = max(self.peak_children, children)
            self._stop.wait(0.1)

    def __enter__(self) -> _TreeSampler:
        if Path("/proc/self/status").is_file():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()
        self.peak = max(self.peak, _peak_rss_bytes())


def child_parts(folder: Path) -> dict[str, Any]:
    """Time the agency view as `utilization export` makes it above 2M visits: the folder cut
    into parts by client (one per 1M visits, `partitions.parts_for`), the parts on one worker
    process per core, their figures put together. Peak memory: that of this process and its
    workers together, sampled every 0.1 s (`ru_maxrss` of a worker would count the pages of
    this process it was forked from).
    """
    started = time.perf_counter()
    from utilization import partitions
    from utilization.parameters import Request
    from utilization.period import Filters, Period

    times: dict[str, float] = {"import": time.perf_counter() - started}
    parts = partitions.parts_for(folder)
    request = Request("agency", Period(*PERIOD), Filters(), TODAY)
    begin = time.perf_counter()
    with _TreeSampler() as sampler:
        view = partitions.view_figures(folder, request, parts=parts)
    times["parts_view"] = time.perf_counter() - begin
    return {
        "times": times,
        "peak_rss": {"parts_view": sampler.peak},
        "parts": parts,
        "workers": min(os.cpu_count() or 1, parts) if parts > 1 else 0,
        "parent_rss": _peak_rss_bytes(),
        "workers_rss": sampler.peak_children,
        "kpis": {k: round(v, 4) for k, v in view.kpis.items() if v is not None},
    }


def child_reference(folder: Path) -> dict[str, Any]:
    """Time the DuckDB reference (`benchmarks/reference.py`) on one Parquet data folder."""
    started = time.perf_counter()
    sys.path.insert(0, str(HERE))
    import duckdb
    from reference import reference

    from utilization.period import trend_months

    imported = time.perf_counter() - started
    result = reference(folder, PERIOD[0], PERIOD[1], trend_months(PERIOD[1]))
    result["times"]["import"] = imported
    result["peak_rss"] = {"figures": _peak_rss_bytes()}
    result["duckdb"] = duckdb.__version__
    return result


def child_baseline(folder: Path) -> dict[str, Any]:
    """A straightforward analyst's pandas script: row-by-row units and matching, groupby figures.

    Not the contract (no validation, no time zones, midpoint rule for every code): the kind
    of script the engine replaces, timed stage by stage.
    """
    started = time.perf_counter()
    from collections import defaultdict

    import pandas as pd

    times: dict[str, float] = {"import": time.perf_counter() - started}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[name] = now - clock
        clock = now

    visits = pd.read_parquet(folder / "visits.parquet")
    auths = pd.read_parquet(folder / "authorizations.parquet")
    procedures = pd.read_parquet(folder / "procedures.parquet")
    lap("read")

    unit_minutes = dict(
        zip(procedures["procedure_code"], procedures["unit_minutes"].fillna(15), strict=True)
    )
    rates = dict(zip(procedures["procedure_code"], procedures["rate"], strict=True))
    billable = dict(zip(procedures["procedure_code"], procedures["billable"], strict=True))

    def units_of(row: Any) -> tuple[Any, Any, Any]:
        """(service date, minutes, units) of one visit by the midpoint rule."""
        code = row["procedure_code"]
        if code not in unit_minutes:
            return None, None, None
        if isinstance(row["start"], str) and isinstance(row["end"], str):
            start = datetime.fromisoformat(row["start"]).replace(tzinfo=None)
            end = datetime.fromisoformat(row["end"]).replace(tzinfo=None)
            minutes = int((end - start).total_seconds() // 60)
            day = start.date()
        else:
            try:
                minutes = int(row["minutes"])
                day = date.fromisoformat(row["service_date"])
            except (TypeError, ValueError):
                return None, None, None
        length = int(unit_minutes[code])
        if length == 0:
            return day, minutes, 1
        return day, minutes, (minutes + (length + 1) // 2 - 1) // length

    computed = visits.apply(units_of, axis=1)
    visits["service_date"] = [c[0] for c in computed]
    visits["minutes"] = [c[1] for c in computed]
    visits["units_computed"] = [c[2] for c in computed]
    lap("units")

    auths["start_date"] = pd.to_datetime(auths["start_date"], errors="coerce").dt.date
    auths["end_date"] = pd.to_datetime(auths["end_date"], errors="coerce").dt.date
    by_key: dict[tuple[str, str], list[Any]] = defaultdict(list)
    remaining: dict[str, float] = {}
    for auth in auths.sort_values(["end_date", "authorization_id"]).itertuples(index=False):
        by_key[(auth.client_id, auth.procedure_code)].append(auth)
        remaining[auth.authorization_id] = auth.units_approved
    done = visits[
        (visits["status"].fillna("completed") == "completed")
        & visits["units_computed"].notna()
        & visits["procedure_code"].map(billable).fillna(False).astype(bool)
    ].sort_values(["start", "visit_id"])
    authorized: dict[int, float] = {}
    over: dict[int, float] = {}
    unauthorized: dict[int, float] = {}
    rate_of: dict[int, float] = {}
    for index, visit in done.iterrows():
        need = visit["units_computed"]
        holding = [
            a
            for a in by_key.get((visit["client_id"], visit["procedure_code"]), [])
            if a.start_date <= visit["service_date"] <= a.end_date
        ]
        rate_of[index] = holding[0].rate if holding else rates[visit["procedure_code"]]
        if not holding:
            authorized[index], over[index], unauthorized[index] = 0, 0, need
            continue
        used = 0
        for auth in holding:
            take = min(need - used, remaining[auth.authorization_id])
            remaining[auth.authorization_id] -= take
            used += take
        authorized[index], over[index], unauthorized[index] = used, need - used, 0
    done = done.assign(
        units_authorized=pd.Series(authorized),
        units_over=pd.Series(over),
        units_unauthorized=pd.Series(unauthorized),
        rate=pd.Series(rate_of),
    )
    lap("match")

    start, end = PERIOD
    done["amount"] = done["amount_billed"].fillna(done["units_computed"] * done["rate"])
    quarter = done[(done["service_date"] >= start) & (done["service_date"] <= end)]
    used_figures = quarter.groupby(["client_id", "procedure_code"]).agg(
        units_used=("units_computed", "sum"), amount_used=("amount", "sum")
    )
    first = pd.Timestamp(start)
    last = pd.Timestamp(end)
    a_start = pd.to_datetime(auths["start_date"])
    a_end = pd.to_datetime(auths["end_date"])
    overlap = (a_end.clip(upper=last) - a_start.clip(lower=first)).dt.days + 1
    days = (a_end - a_start).dt.days + 1
    auths["units_in_period"] = auths["units_approved"] * overlap.clip(lower=0) / days
    approved = auths.groupby(["client_id", "procedure_code"])["units_in_period"].sum()
    table = used_figures.join(approved, how="outer").fillna(0)
    monthly = done.groupby(pd.to_datetime(done["service_date"]).dt.strftime("%Y-%m"))[
        "units_computed"
    ].sum()
    lap("figures")
    return {
        "times": times,
        "peak_rss": {"figures": _peak_rss_bytes()},
        "visits_read": len(visits),
        "rows": len(table) + len(monthly),
    }


# -- parent -----------------------------------------------------------------------------------


def ensure_data(out: Path, size: int, formats: list[str]) -> dict[str, Any]:
    """The cached demo data of `size` visits, generated (in a child) when missing or stale."""
    folder = out / "data" / f"visits-{size}"
    info_path = folder / "info.json"
    if info_path.is_file():
        info: dict[str, Any] = json.loads(info_path.read_text())
        fresh = all(info.get(k) == v for k, v in _fingerprint(size).items())
        if fresh and set(formats) <= set(info.get("formats", [])):
            return info
    print(f"generating {size:,} visits into {folder} ({', '.join(formats)}) ...", flush=True)
    return _child(["--child", "generate", str(folder), "--size", str(size), "--formats", *formats])


def _summary(values: list[float]) -> dict[str, float]:
    return {"best": min(values), "median": statistics.median(values), "worst": max(values)}


def source_of(rev: str, out: Path) -> Path:
    """The `src/` folder of git revision `rev`, extracted once into the cache folder with the
    template notebooks its package links to (`startup_bench.py` and `batch_bench.py` render
    reports with it).
    """
    sha = subprocess.run(
        ["git", "rev-parse", rev], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    folder = out / "src" / f"{sha[:12]}-with-notebooks"
    if not (folder / "src" / "utilization").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", sha, "src", "notebooks"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "src"


def measure(
    out: Path,
    sizes: list[int],
    baseline_size: int,
    repeat: int,
    csv_size: int,
    against: str | None = None,
) -> dict[str, Any]:
    """Run every measurement; the figures by size, plus the baseline. With `against`, the
    engine of that git revision runs on the same data too, its runs alternating with this
    checkout's so that the machine's load falls on both alike.
    """
    results: dict[str, Any] = {"sizes": {}, "baseline": None, "against": against}
    old_src = source_of(against, out) if against else None
    base_info = ensure_data(out, baseline_size, ["parquet"])
    infos = {
        size: ensure_data(out, size, ["parquet", "csv"] if size == csv_size else ["parquet"])
        for size in sizes
    }

    runs = []
    for i in range(repeat):
        print(f"baseline on {base_info['visits']:,} visits, run {i + 1}/{repeat} ...", flush=True)
        folder = out / "data" / f"visits-{baseline_size}" / "parquet"
        runs.append(_child(["--child", "baseline", str(folder)]))
    results["baseline"] = _collect(runs, BASELINE_STAGES, base_info["visits"])

    for size in sizes:
        folder = out / "data" / f"visits-{size}"
        runs, old_runs, reference_runs, part_runs, old_part_runs = [], [], [], [], []
        for i in range(repeat):
            print(
                f"engine on {infos[size]['visits']:,} visits, run {i + 1}/{repeat} ...", flush=True
            )
            runs.append(_child(["--child", "engine", str(folder / "parquet")]))
            print("  the DuckDB reference ...", flush=True)
            reference_runs.append(_child(["--child", "reference", str(folder / "parquet")]))
            print("  the agency view in parts, as `utilization export` ...", flush=True)
            part_runs.append(_child(["--child", "parts", str(folder / "parquet")]))
            if old_src is not None:
                print(f"  the same with {against} ...", flush=True)
                old_runs.append(_child(["--child", "engine", str(folder / "parquet")], old_src))
                if _parted(infos[size]["visits"]):  # what `export` runs there
                    part = ["--child", "parts", str(folder / "parquet")]
                    old_part_runs.append(_child(part, old_src))
        entry = _collect(runs, STAGES, infos[size]["visits"])
        entry["reference"] = _collect(reference_runs, REFERENCE_STAGES, infos[size]["visits"])
        entry["parts"] = _collect(part_runs, ("parts_view",), infos[size]["visits"])
        if old_runs:
            entry["against"] = _collect(old_runs, STAGES, infos[size]["visits"])
        if old_part_runs:
            entry["against_parts"] = _collect(old_part_runs, ("parts_view",), infos[size]["visits"])
        entry["generate_seconds"] = infos[size]["generate_seconds"]
        if size == csv_size:
            csv_runs = []
            for i in range(repeat):
                print(
                    f"CSV load of {infos[size]['visits']:,} visits, run {i + 1}/{repeat} ...",
                    flush=True,
                )
                csv_runs.append(_child(["--child", "engine", str(folder / "csv"), "--csv"]))
            entry["csv"] = _collect(csv_runs, ("csv_read", "csv_validate"), infos[size]["visits"])
        results["sizes"][str(size)] = entry
    return results


def _parted(visits: int) -> bool:
    """Whether `utilization export` cuts a data set of `visits` visits into parts."""
    return visits > AUTOMATIC_ROWS


def _collect(runs: list[dict[str, Any]], stages: tuple[str, ...], visits: int) -> dict[str, Any]:
    """Best / median / worst of each stage, of the total and of the peak memory over runs."""
    totals = [sum(r["times"][s] for s in stages) for r in runs]
    peaks = [max(r["peak_rss"].values()) for r in runs]
    first = runs[0]
    return {
        "visits": visits,
        "runs": len(runs),
        "stages": {s: _summary([r["times"][s] for r in runs]) for s in stages},
        "total": _summary(totals),
        "peak_rss": _summary([float(p) for p in peaks]),
        "import": _summary([r["times"]["import"] for r in runs]),
        "checks": {k: v for k, v in first.items() if k not in ("times", "peak_rss")},
        "raw": runs,
    }


def report(results: dict[str, Any]) -> str:
    """The figures as a plain-text table."""
    base = results["baseline"]
    base_visits = base["visits"]
    lines = [
        f"utilization benchmark, {datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {_versions()}",
        f"memory: {_huge_pages()}",
        f"data: demo.generate(seed={SEED}, months={MONTHS}, today={TODAY}) as Parquet; "
        f"agency view {PERIOD[0]}..{PERIOD[1]} as of {TODAY}",
        f"times in seconds: best of {base['runs']} fresh processes (median / worst); "
        "peak RSS = ru_maxrss of the process",
        "",
    ]
    header = f"{'stage':<28}{'best':>9}{'median':>9}{'worst':>9}"
    for size, entry in results["sizes"].items():
        n = entry["visits"]
        scale = n / base_visits
        lines += [f"== {n:,} visits (asked {int(size):,}) ==", header]
        for stage, summary in entry["stages"].items():
            lines.append(_row(STAGE_NAMES[stage], summary))
        lines.append(_row("total (end to end)", entry["total"]))
        peak = entry["peak_rss"]
        lines.append(
            f"{'peak RSS':<28}{_gb(peak['best']):>9}{_gb(peak['median']):>9}{_gb(peak['worst']):>9}"
        )
        if "csv" in entry:
            for stage, summary in entry["csv"]["stages"].items():
                lines.append(_row(STAGE_NAMES[stage], summary))
            lines.append(_row("total CSV read + validate", entry["csv"]["total"]))
        lines += _reference_rows(entry, int(size))
        extrapolated = base["total"]["best"] * scale
        ratio = extrapolated / entry["total"]["best"]
        lines.append(
            f"{'baseline, extrapolated':<28}{extrapolated:>9.1f}   "
            f"({base['total']['best']:.2f} s on {base_visits:,} visits x {scale:,.1f})"
        )
        lines.append(f"{'speed-up vs baseline':<28}{ratio:>8.0f}x")
        target = TARGETS.get(int(size))
        if target is not None:
            met = "met" if entry["total"]["best"] <= target else "MISSED"
            lines.append(f"{'target time':<28}{'<= ' + str(target):>9}   {met} (best run)")
        memory = MEMORY_TARGET_GB.get(int(size))
        if memory is not None:
            met = "met" if peak["worst"] <= memory * 1e9 else "MISSED"
            lines.append(
                f"{'target peak RSS':<28}{'<= ' + str(memory) + ' GB':>9}   {met} (worst run)"
            )
        if "against" in entry:
            old = entry["against"]
            lines.append(f"-- the same data with {results['against']} (same run, alternating) --")
            for stage in STAGES:
                lines.append(_row(STAGE_NAMES[stage], old["stages"][stage]))
            lines.append(_row("total (end to end)", old["total"]))
            new_best, old_best = entry["total"]["best"], old["total"]["best"]
            new_med, old_med = entry["total"]["median"], old["total"]["median"]
            lines.append(
                f"{'this checkout / ' + results['against']:<28}{new_best / old_best:>8.2f}x"
                f"{new_med / old_med:>8.2f}x   (best, median)"
            )
        if "against_parts" in entry:
            old = entry["against_parts"]
            lines.append(_row("agency view in parts", old["stages"]["parts_view"]))
            new_parts, old_parts = entry["parts"]["total"], old["total"]
            lines.append(
                f"{'parts: this / ' + results['against']:<28}"
                f"{new_parts['best'] / old_parts['best']:>8.2f}x"
                f"{new_parts['median'] / old_parts['median']:>8.2f}x   (best, median)"
            )
        lines.append(
            f"{'(import, not counted)':<28}{entry['import']['best']:>9.2f}"
            f"   generate: {entry['generate_seconds']:.1f} s (once, cached)"
        )
        lines.append("")
    lines += _linearity_rows(results)
    lines += [f"== baseline: analyst's pandas script on {base_visits:,} visits ==", header]
    for stage, summary in base["stages"].items():
        lines.append(_row(stage, summary))
    lines.append(_row("total", base["total"]))
    lines.append(f"{'peak RSS':<28}{_gb(base['peak_rss']['best']):>9}")
    return "\n".join(lines)


def _reference_rows(entry: dict[str, Any], size: int) -> list[str]:
    """The engine's figures next to the DuckDB reference's, with the ratios."""
    ref = entry["reference"]
    stages, ref_stages = entry["stages"], ref["stages"]
    lines = [
        "-- next to the DuckDB reference (same files, same run, alternating) --",
        f"{'best (median)':<28}{'engine':>15}{'DuckDB':>15}{'ratio':>9}",
    ]
    pairs = [
        (
            "read + validate + units",
            [stages[s] for s in ("read", "validate")],
            [ref_stages["load_units"]],
        ),
        ("match", [stages["match"]], []),
        ("agency view / group-bys", [stages["agency_view"]], [ref_stages["figures"]]),
        ("total (end to end)", [entry["total"]], [ref["total"]]),
    ]
    for name, ours, theirs in pairs:
        best = sum(s["best"] for s in ours)
        median = sum(s["median"] for s in ours)
        cells = f"{name:<28}{best:>7.2f} ({median:5.2f})"
        if theirs:
            ref_best = sum(s["best"] for s in theirs)
            ref_median = sum(s["median"] for s in theirs)
            cells += f"{ref_best:>7.2f} ({ref_median:5.2f}){best / ref_best:>8.1f}x"
        else:
            cells += f"{'(none)':>15}"
        lines.append(cells)
    peak, ref_peak = entry["peak_rss"]["worst"], ref["peak_rss"]["worst"]
    lines.append(f"{'peak RSS (worst run)':<28}{_gb(peak):>15}{_gb(ref_peak):>15}")
    ratio = entry["total"]["best"] / ref["total"]["best"]
    met = "met" if ratio <= REFERENCE_RATIO else "MISSED"
    lines.append(
        f"{'target engine / DuckDB':<28}{'<= ' + str(REFERENCE_RATIO) + 'x':>9}   "
        f"{met} ({ratio:.1f}x, best against best)"
    )
    parts = entry["parts"]
    checks = parts["checks"]
    ratio = parts["total"]["best"] / ref["total"]["best"]
    met = "met" if ratio <= REFERENCE_RATIO else "MISSED"
    lines += [
        f"-- the agency view in {checks['parts']} part(s) by client on {checks['workers']} "
        "worker process(es) (what `utilization export` runs above 2M visits) --",
        _row("read ... agency view, parts", parts["total"]),
        f"{'peak RSS, process tree':<28}{_gb(parts['peak_rss']['best']):>9}"
        f"{_gb(parts['peak_rss']['median']):>9}{_gb(parts['peak_rss']['worst']):>9}"
        f"   (parent alone {_gb(checks['parent_rss'])}, workers together "
        f"{_gb(checks['workers_rss'])}, each at its peak)",
        f"{'parts / DuckDB':<28}{ratio:>8.1f}x   target <= {REFERENCE_RATIO}x: {met} (best)",
    ]
    memory = MEMORY_TARGET_GB.get(size)
    if memory is not None:
        met = "met" if parts["peak_rss"]["worst"] <= memory * 1e9 else "MISSED"
        lines.append(
            f"{'target peak RSS, parts':<28}{'<= ' + str(memory) + ' GB':>9}   {met} (worst run)"
        )
    same = "same" if checks["kpis"] == entry["checks"]["kpis"] else "DIFFERENT"
    lines.append(f"{'KPIs, parts and in memory':<28}{same:>9}")
    ours, theirs = entry["checks"], ref["checks"]
    for name, mine, other in (
        ("visits read", ours["visits_read"], theirs["visits_read"]),
        ("units used (quarter)", ours["kpis"]["units_used"], theirs["units_used"]),
    ):
        same = "same" if mine == other else "different (the engine rejects bad rows)"
        lines.append(f"{name + ', both':<28}{mine:>15,.0f}{other:>15,.0f}   {same}")
    return lines


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """The figures held against issue 11's targets, best runs: per size the engine's, in
    parts and DuckDB's totals, their ratios and peak memory; time(10M) / time(1M).
    """
    found: dict[str, Any] = {"sizes": {}, "linearity": {}}
    for size, entry in results["sizes"].items():
        reference = entry["reference"]["total"]["best"]
        found["sizes"][size] = {
            "engine_seconds": entry["total"]["best"],
            "parts_seconds": entry["parts"]["total"]["best"],
            "duckdb_seconds": reference,
            "engine_over_duckdb": entry["total"]["best"] / reference,
            "parts_over_duckdb": entry["parts"]["total"]["best"] / reference,
            "engine_peak_rss": entry["peak_rss"]["worst"],
            "parts_peak_rss": entry["parts"]["peak_rss"]["worst"],
            "duckdb_peak_rss": entry["reference"]["peak_rss"]["worst"],
        }
    small, large, _ = LINEARITY
    sizes = results["sizes"]
    if str(small) in sizes and str(large) in sizes:
        for name, key in (("engine", None), ("parts", "parts"), ("duckdb", "reference")):
            pair = [sizes[str(small)], sizes[str(large)]]
            if key is not None:
                pair = [e[key] for e in pair]
            found["linearity"][name] = pair[1]["total"]["best"] / pair[0]["total"]["best"]
    return found


def _linearity_rows(results: dict[str, Any]) -> list[str]:
    """time(10M) / time(1M) for the engine (and the reference, and `--against`), when both ran."""
    small, large, target = LINEARITY
    sizes = results["sizes"]
    if str(small) not in sizes or str(large) not in sizes:
        return []
    lines = [f"== linearity: time({large:,}) / time({small:,}), best runs =="]
    names = [("engine", ()), ("engine in parts", ("parts",)), ("DuckDB reference", ("reference",))]
    if results.get("against"):
        names.append((f"engine of {results['against']}", ("against",)))
    for name, path in names:
        entries = [sizes[str(small)], sizes[str(large)]]
        for key in path:
            entries = [e[key] for e in entries]
        times = [e["total"]["best"] for e in entries]
        visits = entries[1]["visits"] / entries[0]["visits"]
        line = f"{name:<28}{times[1] / times[0]:>8.2f}x   ({visits:.2f}x the visits)"
        if name.startswith("engine"):
            met = "met" if times[1] / times[0] <= target else "MISSED"
            line += f"   target <= {target}: {met}"
        lines.append(line)
    return [*lines, ""]


def _row(name: str, summary: dict[str, float]) -> str:
    return f"{name:<28}{summary['best']:>9.2f}{summary['median']:>9.2f}{summary['worst']:>9.2f}"


def _huge_pages() -> str:
    """The kernel's transparent huge pages, which the engine's times depend on (the engine
    turns NumPy's advice off: benchmarks/README, "Huge pages").
    """
    folder = Path("/sys/kernel/mm/transparent_hugepage")
    settings = []
    for name in ("enabled", "defrag"):
        try:
            text = (folder / name).read_text()
        except OSError:
            return "transparent huge pages: not known on this system"
        chosen = text[text.find("[") + 1 : text.find("]")] if "[" in text else text.strip()
        settings.append(f"{name} {chosen}")
    advice = os.environ.get("NUMPY_MADVISE_HUGEPAGE", "NumPy's default")
    return f"transparent huge pages {', '.join(settings)}; NUMPY_MADVISE_HUGEPAGE {advice}"


def _versions() -> str:
    import duckdb
    import numpy
    import pandas
    import pyarrow

    return (
        f"pandas {pandas.__version__}, numpy {numpy.__version__}, "
        f"pyarrow {pyarrow.__version__}, duckdb {duckdb.__version__}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", help="visit counts, comma-separated (default 1000000,10000000)")
    parser.add_argument("--repeat", type=int, help="fresh-process runs per size (default 3)")
    parser.add_argument("--baseline-size", type=int, help=f"default {BASELINE_SIZE:,}")
    parser.add_argument("--quick", action="store_true", help="a small smoke run: 20k visits, 1 run")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="cache and results folder")
    parser.add_argument(
        "--against", help="also run the engine of this git revision on the same data (e.g. main)"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--formats", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--csv", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, folder = args.child[0], Path(args.child[1])
        if kind == "generate":
            result = child_generate(folder, args.size, args.formats)
        elif kind == "engine":
            result = child_engine(folder, args.csv)
        elif kind == "reference":
            result = child_reference(folder)
        elif kind == "parts":
            result = child_parts(folder)
        else:
            result = child_baseline(folder)
        print(json.dumps(result))
        return 0

    if args.quick:
        sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(QUICK_SIZES)
        repeat = args.repeat or 1
        baseline_size = args.baseline_size or QUICK_BASELINE_SIZE
        csv_size = sizes[0]
    else:
        sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(DEFAULT_SIZES)
        repeat = args.repeat or 3
        baseline_size = args.baseline_size or BASELINE_SIZE
        csv_size = CSV_SIZE
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    results = measure(out, sizes, baseline_size, repeat, csv_size, args.against)
    results["summary"] = summary(results)
    text = report(results)
    print()
    print(text)
    stamp = f"{datetime.now():%Y%m%d-%H%M%S}"
    (out / f"results-{stamp}.json").write_text(json.dumps(results, indent=2))
    (out / f"results-{stamp}.txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
