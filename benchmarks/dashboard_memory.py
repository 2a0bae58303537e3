"""The dashboard on large data: the server's memory and that of each page's kernel.

    .venv/bin/python benchmarks/dashboard_memory.py [--size 10000000] [--pages 2] [--against REV]

On the engine benchmark's cached demo data of `--size` visits (`run.py`'s `ensure_data`,
Parquet; generated when missing), starts `utilization dashboard` (this checkout, then git
revision `--against` if given: its `src/` extracted by `run.source_of`), waits until it says
where it listens, then opens `--pages` pages at once (the agency page, as a viewer's browser
asks for it: Voilà runs the page's notebook in a kernel of its own before answering). Printed
for each: seconds until the server listens, seconds until each page came back, the server's
resident memory, and for each kernel its proportional share (PSS: a page of memory shared by
two processes counts half in each), its private memory and the memory it shares; then the
sum of the proportional shares of the server and its kernels, the memory the whole dashboard
takes. Stopped with SIGTERM (a server started from a background job ignores Ctrl-C's SIGINT),
which Voilà handles by stopping: the command then removes its folder, as on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as engine_bench  # benchmarks/run.py: the cached data, a revision's sources

TODAY = "2026-02-16"
TOKEN = "benchmark"


def _memory(pid: int) -> dict[str, int]:
    """Pss, Private_Dirty + Private_Clean and Shared_Clean + Shared_Dirty of a process, bytes."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, value = line.partition(":")
        fields[name] = int(value.split()[0]) * 1024
    return {
        "pss": fields["Pss"],
        "private": fields["Private_Dirty"] + fields["Private_Clean"],
        "shared": fields["Shared_Dirty"] + fields["Shared_Clean"],
    }


def _children(pid: int) -> list[int]:
    """The processes started by `pid`, and theirs (Linux `/proc`)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *_children(int(child))]
    return found


@dataclass
class Run:
    """What one dashboard took: seconds until it listened and until each page came back,
    its server's memory and each kernel's (`_memory`), the PSS of the server's other child
    processes (multiprocessing's resource tracker), and the PSS of them all summed."""

    ready: float
    pages: list[float]
    server: dict[str, int]
    kernels: dict[int, dict[str, int]]
    others: int = 0

    @property
    def total(self) -> int:
        return self.server["pss"] + sum(k["pss"] for k in self.kernels.values()) + self.others


def _is_kernel(pid: int) -> bool:
    """Whether process `pid` is a Jupyter kernel (not multiprocessing's resource tracker)."""
    return b"ipykernel" in Path(f"/proc/{pid}/cmdline").read_bytes()


def measure(src: Path, folder: Path, pages: int, port: int) -> Run:
    """Start the dashboard of `src` on `folder`, open `pages` pages at once, measure, stop."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    command = [sys.executable, "-m", "utilization", "dashboard", "--data", str(folder)]
    command += ["--port", str(port), "--token", TOKEN, "--today", TODAY]
    start = time.perf_counter()
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if "dashboard is at" in line:
                break
        else:
            raise SystemExit(f"the dashboard of {src} ended before it listened")
        ready = time.perf_counter() - start
        url = f"http://127.0.0.1:{port}/?token={TOKEN}"

        def page(_: int) -> float:
            begin = time.perf_counter()
            with urllib.request.urlopen(url, timeout=900) as answer:
                answer.read()
            return time.perf_counter() - begin

        with ThreadPoolExecutor(pages) as pool:
            seconds = list(pool.map(page, range(pages)))
        time.sleep(2)  # the kernels idle, as a viewer reads the page
        children = {pid: _memory(pid) for pid in _children(server.pid)}
        kernels = {pid: memory for pid, memory in children.items() if _is_kernel(pid)}
        others = sum(m["pss"] for pid, m in children.items() if pid not in kernels)
        own = _memory(server.pid)
    finally:  # SIGTERM: Voilà stops and the command removes its folder; SIGINT is ignored
        server.send_signal(signal.SIGTERM)  # by a process started in the background
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    return Run(ready, seconds, own, kernels, others)


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


def show(label: str, run: Run) -> None:
    pages = ", ".join(f"{s:.1f}" for s in run.pages)
    print(f"{label}: listening after {run.ready:.1f} s; pages after {pages} s")
    print(f"  server: PSS {_gb(run.server['pss'])}")
    for pid, kernel in run.kernels.items():
        print(
            f"  kernel {pid}: PSS {_gb(kernel['pss'])}, private {_gb(kernel['private'])}, "
            f"shared {_gb(kernel['shared'])}"
        )
    print(f"  the whole dashboard (PSS summed): {_gb(run.total)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000_000, help="visits (run.py's data)")
    parser.add_argument("--pages", type=int, default=2, help="pages opened at once")
    parser.add_argument("--against", help="also measure the dashboard of this git revision")
    parser.add_argument("--port", type=int, default=8890)
    parser.add_argument("--out", default=str(Path(__file__).parent / "out"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    engine_bench.ensure_data(out, args.size, ["parquet"])
    folder = out / "data" / f"visits-{args.size}" / "parquet"
    here = Path(__file__).resolve().parents[1] / "src"
    show("this checkout", measure(here, folder, args.pages, args.port))
    if args.against:
        src = engine_bench.source_of(args.against, out)
        show(args.against, measure(src, folder, args.pages, args.port + 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
