"""A dashboard filter change on the demo data (issue 13): seconds to redraw, against a plain
`build_view` of the same request measured in the same run.

Run: `.venv/bin/python benchmarks/dashboard_bench.py [--rounds 5] [--browser]`.

The kernel side: a `Dashboard` (the widgets, without a browser) on the 60-client demo
agency, warmed by one draw, then a round of filter changes (a client, a procedure from the
detail table, Back, a payer, another period, the full basis, the agency again). Each change
is timed from the new filter to the last widget value set (`Dashboard.redraw_seconds`: the
figures, three SVG charts, the tables); the reference is `views.build_view` alone for the
same request, the least any redraw must do. `--browser` also times the same kind of change
in Debian's chromium against `utilization dashboard`: from choosing a client in the page to
the new title on screen (kernel, websocket and the browser's drawing included).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path

from utilization.dashboard.filters import DashboardFilters
from utilization.dashboard.page import Dashboard
from utilization.demo import write_demo
from utilization.pipeline import load_cached
from utilization.views import build_view

TODAY = date(2026, 11, 22)
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def changes(board: Dashboard) -> list[tuple[str, object]]:
    """One round of filter changes, as a viewer makes them."""
    code = str(board.dataset.procedures["procedure_code"].iloc[0])
    payer = str(board.dataset.payers["payer_id"].iloc[0])
    return [
        ("client", lambda: board.choose(DashboardFilters(client="C0002"))),
        ("procedure (detail table)", lambda: board.open("procedure", code)),
        ("back", board.back),
        ("payer", lambda: board.choose(DashboardFilters(client="C0002", payer=payer))),
        ("period: last 12 months", lambda: board.choose(DashboardFilters(range="last-12-months"))),
        ("basis: full", lambda: board.choose(DashboardFilters(basis="full"))),
        ("agency", lambda: board.choose(DashboardFilters())),
    ]


def kernel_side(data: Path, rounds: int) -> list[tuple[str, list[float], list[float]]]:
    dataset = load_cached(str(data))
    board = Dashboard(dataset, TODAY)
    board.show(board.nav)  # warm: imports, fonts, the first charts
    timings: dict[str, tuple[list[float], list[float]]] = {}
    for _ in range(rounds):
        for name, change in changes(board):
            change()  # type: ignore[operator]
            assert board.report is not None, board.message.value
            drawn = board.redraw_seconds
            request = board.report.request
            started = time.perf_counter()
            build_view(dataset, request)
            reference = time.perf_counter() - started
            timings.setdefault(name, ([], []))[0].append(drawn)
            timings[name][1].append(reference)
    return [(name, drawn, ref) for name, (drawn, ref) in timings.items()]


def browser_side(data: Path, rounds: int) -> list[float]:
    """Seconds from choosing a client in the page to its title on screen."""
    from playwright.sync_api import sync_playwright

    port, token = 8899, "bench"
    command = [
        sys.executable, "-m", "utilization", "dashboard", "--data", str(data), "--port",
        str(port), "--token", token, "--today", TODAY.isoformat(),
    ]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = []
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(f"http://127.0.0.1:{port}/?token={token}")
            page.wait_for_selector("h1.dashboard-title")
            select = page.locator(".dashboard-filter-client select")
            labels = [o for o in select.locator("option").all_inner_texts() if "(C" in o]
            for index in range(rounds * 2):
                label = labels[index % len(labels)] if index % 2 == 0 else "All clients"
                wanted = f"Client: {label}" if index % 2 == 0 else "Agency: all clients"
                started = time.perf_counter()
                select.select_option(label=label)
                page.wait_for_selector(f"h1.dashboard-title:has-text('{wanted}')")
                seconds.append(time.perf_counter() - started)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return seconds


def spread(values: list[float]) -> str:
    return (
        f"best {min(values):.3f}, median {statistics.median(values):.3f}, worst {max(values):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--browser", action="store_true", help="also time it in chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_demo(data, today=TODAY)
        print(f"dashboard redraw, 60-client demo agency, {args.rounds} rounds (seconds)")
        print(f"{'change':<26}{'redraw median':>15}{'build_view median':>19}{'ratio':>8}")
        every: list[float] = []
        for name, drawn, reference in kernel_side(data, args.rounds):
            every += drawn
            ratio = statistics.median(drawn) / statistics.median(reference)
            print(
                f"{name:<26}{statistics.median(drawn):>15.3f}"
                f"{statistics.median(reference):>19.3f}{ratio:>7.1f}x"
            )
        print(f"every redraw: {spread(every)}; under 1 s: {sum(v < 1 for v in every)}/{len(every)}")
        if args.browser:
            seen = browser_side(data, args.rounds)
            print(f"in chromium, choose a client -> new title on screen: {spread(seen)}")


if __name__ == "__main__":
    main()
