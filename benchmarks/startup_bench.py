"""What a new user waits for: one command in a new process, this code against an older commit.

Run: `.venv/bin/python benchmarks/startup_bench.py [--against d635a04] [--runs 3]`.

On the demo data (written once, the demo's default size, `today` fixed), each of these
commands runs as a new process, `--runs` times, alternating between this checkout's `src/`
and the `src/` (and template notebooks) of the commit `--against`, extracted with
`git archive` and put first on `PYTHONPATH`:

- `utilization report client --client C0001 --format html,pdf` (the first report);
- `utilization report client --client C0001 --format html`;
- `utilization validate` and `utilization export agency` (JSON to a file);
- `python -c "import pandas"`, the floor any pandas tool starts from.

Prints best and median seconds of each, the older commit's next to this one's, and the
speed-up (older best / this best). The figures, with versions, go to
`benchmarks/out/startup.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from run import source_of

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TODAY = "2026-11-22"
PERIOD = ["--from", "2026-10-01", "--to", "2026-12-31", "--as-of", TODAY]


def commands(data: Path, out: Path) -> dict[str, list[str]]:
    """Each measured command, as the arguments after `python`."""
    cli = ["-m", "utilization"]
    export_to = ["--format", "json", "--out", str(out / "agency.json")]
    client = ["report", "client", "--client", "C0001", "--data", str(data), *PERIOD]
    return {
        "report html,pdf": [*cli, *client, "--format", "html,pdf", "--out", str(out / "r1")],
        "report html": [*cli, *client, "--format", "html", "--out", str(out / "r2")],
        "validate": [*cli, "validate", "--data", str(data), "--out", str(out / "v")],
        "export agency": [*cli, "export", "agency", "--data", str(data), *PERIOD, *export_to],
        "import pandas": ["-c", "import pandas"],
    }


def timed(args: list[str], src: Path) -> float:
    """Seconds for one new process running `python args` with `src` first on the path."""
    env = os.environ | {"PYTHONPATH": str(src), "MPLBACKEND": "Agg"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 2):  # 2: validate found rejects (the demo has a few)
        raise SystemExit(f"failed ({done.returncode}): {' '.join(args)}\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="d635a04", help="older commit (default d635a04)")
    parser.add_argument("--runs", type=int, default=3, help="new processes per command")
    args = parser.parse_args()
    cache = HERE / "out"
    sides = {"before": source_of(args.against, cache), "after": ROOT / "src"}
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as tmp:
        work = Path(tmp)
        data = work / "data"
        subprocess.run(
            [sys.executable, "-m", "utilization", "demo", "--out", str(data), "--today", TODAY],
            env=os.environ | {"PYTHONPATH": str(sides["after"])},
            check=True,
            capture_output=True,
        )
        seconds: dict[str, dict[str, list[float]]] = {}
        for name, argv in commands(data, work).items():
            seconds[name] = {"before": [], "after": []}
            for _ in range(args.runs):
                for side, src in sides.items():  # alternating: load hits both alike
                    seconds[name][side].append(timed(argv, src))
            print(name, {k: [round(s, 2) for s in v] for k, v in seconds[name].items()})
    rows = []
    for name, by_side in seconds.items():
        before, after = min(by_side["before"]), min(by_side["after"])
        rows.append(
            f"| {name} | {before:.2f} ({statistics.median(by_side['before']):.2f}) "
            f"| {after:.2f} ({statistics.median(by_side['after']):.2f}) "
            f"| {before / after:.1f}x |"
        )
    lines = [
        f"{args.against} (before) vs this checkout (after), seconds, best of {args.runs} "
        f"(median); {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "| command, new process | before | after | speed-up |",
        "|---|---:|---:|---:|",
        *rows,
    ]
    print("\n".join(lines))
    cache.mkdir(exist_ok=True)
    result: dict[str, Any] = {"against": args.against, "seconds": seconds, "table": lines}
    (cache / "startup.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
