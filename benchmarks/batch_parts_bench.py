"""Batch coordinator memory: a batch of reports on large data, loaded whole or in parts.

    .venv/bin/python benchmarks/batch_parts_bench.py [--size 1000000] [--clients 10]
    .venv/bin/python benchmarks/batch_parts_bench.py --view agency     # or procedure

On the engine benchmark's cached demo data of `--size` visits (`run.py`'s `ensure_data`,
Parquet; generated when missing), `utilization batch` makes the HTML reports of `--clients`
clients (`--view client`, the default; `--view agency`: the agency report; `--view
procedure`: one per procedure code active in the period) for 2026-Q1 as of 2026-02-16, in a
new process each way, one after the other:

1. `--partitions 0`: the coordinator loads the whole data set (as before issue 11's batch
   work), slices it for its two worker processes;
2. in parts (`--partitions P`, default one per 1M visits rounded up to the 2 workers): the
   coordinator cuts the folder by client and its workers prepare the parts.

Printed for each: wall seconds, the coordinator's own peak resident memory (the process that
plans the run; `ru_maxrss` of itself) and the largest of its worker processes; and the
ratio whole / parts of the coordinator's peak. Both runs make the same pages (checked here
on their key figures; `tests/test_batch_parts.py` checks the bytes).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as engine_bench  # benchmarks/run.py: the cached data

PERIOD = "2026-Q1"
AS_OF = "2026-02-16"


def child(folder: str, params: str, out: str, partitions: int) -> None:
    """Run the batch in this process (2 local workers); print its figures as JSON."""
    from utilization.batch import run_batch
    from utilization.batch.plan import read_parameter_set

    spec = read_parameter_set(Path(params), Path(out))
    start = time.perf_counter()
    result = run_batch(spec, workers=2, partitions=partitions)
    seconds = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    figures = {r.subject: r.figures for r in result.records}
    status = sorted({r.status for r in result.records})
    print(json.dumps({"seconds": seconds, "own": own, "workers": workers, "status": status,
                      "figures": figures}))  # fmt: skip


def _run(folder: Path, params: Path, out: Path, partitions: int) -> dict[str, Any]:
    args = ["--child", str(folder), str(params), str(out), str(partitions)]
    return engine_bench._child(args, script=__file__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="visits (run.py's data)")
    parser.add_argument("--clients", type=int, default=10, help="client reports to make")
    parser.add_argument("--view", choices=["client", "agency", "procedure"], default="client")
    parser.add_argument("--partitions", type=int, help="parts (default: one per 1M visits)")
    parser.add_argument(
        "--parts-only",
        action="store_true",
        help="skip the whole run (at 10M visits it needs about 6 GB per process: coordinator "
        "and each worker load the data)",
    )
    parser.add_argument("--out", default=str(Path(__file__).parent / "out"))
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        folder, params, out, partitions = args.child
        child(folder, params, out, int(partitions))
        return 0
    engine_bench.ensure_data(Path(args.out), args.size, ["parquet"])
    folder = Path(args.out) / "data" / f"visits-{args.size}" / "parquet"
    parts = args.partitions or max(2, 2 * math.ceil(args.size / 2_000_000))
    import pyarrow.parquet as pq

    ids = pq.read_table(folder / "clients.parquet", columns=["client_id"]).column(0)
    step = max(1, len(ids) // args.clients)  # clients spread over every part
    clients = [str(ids[i]) for i in range(0, len(ids), step)][: args.clients]
    with tempfile.TemporaryDirectory(prefix="batch-parts-") as work:
        params = Path(work) / "set.yaml"
        spec = {
            "name": "bench", "view": args.view, "period": PERIOD, "as_of": AS_OF,
            "data": str(folder), "clients": clients, "formats": ["html"],
        }  # fmt: skip
        if args.view != "client":
            del spec["clients"]  # the agency, or every procedure code active in the period
        params.write_text(json.dumps(spec), encoding="utf-8")  # JSON is YAML
        runs = {}
        if not args.parts_only:
            runs["whole (--partitions 0)"] = _run(folder, params, Path(work) / "whole", 0)
        runs[f"in {parts} parts"] = _run(folder, params, Path(work) / "parts", parts)
    figures = [r["figures"] for r in runs.values()]
    if any(f != figures[0] for f in figures) or any(r["status"] != ["ok"] for r in runs.values()):
        raise SystemExit("the runs disagree or failed: " + json.dumps(runs)[:2000])
    made = f"{len(clients)} client" if args.view == "client" else f"{len(figures[0])} {args.view}"
    print(f"{args.size:,} visits, {made} reports (HTML), 2 workers")
    print("| run | wall s | coordinator peak | largest worker peak |")
    print("|---|---|---|---|")
    for name, run in runs.items():
        print(
            f"| {name} | {run['seconds']:.1f} | {run['own'] / 1e9:.2f} GB | "
            f"{run['workers'] / 1e9:.2f} GB |"
        )
    if len(runs) == 2:
        whole, parted = runs.values()
        print(f"coordinator peak, whole / in parts: {whole['own'] / parted['own']:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
