"""`utilization dashboard` in Debian's chromium: the page leadership opens, for real.

One server (Voilà behind a token, on 127.0.0.1) on the 12-client demo agency of 20 Mar 2026;
each test opens its own page. A failing test leaves a screenshot in test-artifacts/.
"""

from __future__ import annotations

import io
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import redirect_stdout
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from browser import chromium, free_port, kept_on_failure, local_only, server
from utilization.cli import main
from utilization.demo import write_demo
from utilization.report import tables

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("dashboard-browser")]

TODAY = date(2026, 3, 20)
TOKEN = "test-token-0123456789abcdef"
Q1 = ["--from", "2026-01-01", "--to", "2026-03-31", "--as-of", "2026-03-20"]
PAGE_TIMEOUT = 90_000  # ms: the first page starts a kernel and imports the chart stack


class Dashboard:
    """The running server: its address, port and data folder."""

    def __init__(self, port: int, data: Path) -> None:
        self.port = port
        self.data = data
        self.base = f"http://127.0.0.1:{port}"

    def url(self, query: str = "") -> str:
        return f"{self.base}/?token={TOKEN}" + (f"&{query}" if query else "")


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """`utilization dashboard --data DIR --port N --token T --today 2026-03-20` until the end."""
    data = tmp_path_factory.mktemp("dashboard-browser") / "agency-data"
    write_demo(data, clients=12, today=TODAY)
    port = free_port()
    command = [
        sys.executable, "-m", "utilization", "dashboard", "--data", str(data),
        "--port", str(port), "--token", TOKEN, "--today", TODAY.isoformat(),
    ]  # fmt: skip
    with server(command, f"http://127.0.0.1:{port}/login"):
        yield Dashboard(port, data)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as started:
        yield started


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A new page (downloads accepted) refusing every request that leaves 127.0.0.1."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    opened = context.new_page()
    opened.set_default_timeout(PAGE_TIMEOUT)
    opened.refused = local_only(opened)
    try:
        with kept_on_failure(opened, request.node.name):
            yield opened
    finally:
        context.close()


def open_dashboard(page: Any, dashboard: Dashboard, query: str = "") -> None:
    page.goto(dashboard.url(query))
    page.wait_for_selector(".kpi-card")


def cards(page: Any) -> list[str]:
    """The summary cards' values, as shown."""
    return [
        v.strip() for v in page.locator(".kpi-cards").first.locator(".kpi-value").all_inner_texts()
    ]


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def title(page: Any) -> str:
    return str(page.locator("h1.dashboard-title").inner_text())


def wait_title(page: Any, text: str) -> None:
    page.wait_for_selector(f"h1.dashboard-title:text-is('{text}')")


def exported_cards(data: Path, *options: str) -> list[str]:
    """`utilization export` of the same request, its KPIs formatted as the cards show them."""
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["export", *options, "--data", str(data)]) == 0
    kpis = json.loads(out.getvalue())["kpis"]
    shown = {"money": tables.format_money, "percent": tables.format_percent}
    return [shown.get(kind, tables.format_units)(kpis[key]) for key, _, kind in tables.KPI_CARDS]


def get(url: str) -> tuple[int, dict[str, str], str]:
    """Status, headers and body of a GET that does not follow redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=30) as response:
            return (
                response.status,
                dict(response.headers),
                response.read().decode("utf-8", "replace"),
            )
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode("utf-8", "replace")


# Security ---------------------------------------------------------------------------------------


def test_without_the_token_nothing_is_served(dashboard: Dashboard) -> None:
    """No token, or a wrong one: the page redirects to the login form; the kernel API refuses;
    no file of the page's folder is served even with the token.
    """
    for url in (f"{dashboard.base}/", f"{dashboard.base}/?token=wrong"):
        status, headers, body = get(url)
        assert status == 302 and headers["Location"].startswith("/login"), (url, status)
        assert "kpi" not in body
    assert get(f"{dashboard.base}/api/kernels")[0] == 302  # to the login form
    kernel = "0b4d2c6e-8a4f-4f57-9d0b-2f7d1c7e0a11"
    assert get(f"{dashboard.base}/api/kernels/{kernel}")[0] == 403
    assert get(f"{dashboard.base}/voila/files/dashboard.ipynb?token={TOKEN}")[0] == 403
    assert get(f"{dashboard.base}/?token={TOKEN}&template=reveal")[0] == 200


def test_the_page_carries_no_code_no_paths_and_no_referrer(dashboard: Dashboard) -> None:
    """The HTML Voilà sends holds no cell source, no path of the server's files, no CDN."""
    status, headers, body = get(dashboard.url())
    assert status == 200
    assert headers["Referrer-Policy"] == "no-referrer"
    for secret in ("show_dashboard", "data_slice", "dataset.pickle", str(dashboard.data), "/tmp/"):
        assert secret not in body, secret
    assert "cdn.jsdelivr.net" not in body and "unpkg.com" not in body


# The page ---------------------------------------------------------------------------------------


def test_the_dashboard_opens_offline_on_the_agency(page: Any, dashboard: Dashboard) -> None:
    """This quarter's agency page: the export's cards, every filter, nothing from outside."""
    open_dashboard(page, dashboard)
    assert title(page) == "Agency: all clients and services"
    assert cards(page) == exported_cards(dashboard.data, "agency", *Q1)
    for name in ("client", "procedure", "payer", "provider", "range", "basis"):
        assert page.locator(f".dashboard-filter-{name}").count() == 1, name
    text = page.inner_text("body")
    assert "Units over 12 months" in text and "Authorization balances" in text
    assert "Flags" in text and "agency-data (folder)" in text
    assert str(dashboard.data) not in text and "Traceback" not in text
    assert page.locator(".dashboard-chart img").count() == 2
    assert page.refused == []


def test_choosing_a_client_shows_the_client_export(page: Any, dashboard: Dashboard) -> None:
    """The client filter switches the page to the client's view: its cards are the figures of
    `utilization export client` for that client; Back returns to the agency.
    """
    open_dashboard(page, dashboard)
    page.select_option(".dashboard-filter-client select", label="Quinn Whitlock (C0002)")
    wait_title(page, "Client: Quinn Whitlock (C0002)")
    assert cards(page) == exported_cards(dashboard.data, "client", "--client", "C0002", *Q1)
    assert "Where the authorized units stand" in page.inner_text("body")
    page.click(".dashboard-back")
    wait_title(page, "Agency: all clients and services")
    assert page.locator(".dashboard-filter-client select").input_value() == "All clients"


def test_a_procedure_in_the_detail_table_opens_its_page(page: Any, dashboard: Dashboard) -> None:
    """Clicking the first row's procedure code in the agency's detail table opens the
    procedure's page with the procedure export's cards and its clients in the table.
    """
    open_dashboard(page, dashboard)
    button = page.locator(".dashboard-detail .dashboard-open-procedure").first
    code = button.inner_text().strip()
    button.click()
    page.wait_for_selector(f"h1.dashboard-title:has-text('Procedure: {code}')")
    assert cards(page) == exported_cards(dashboard.data, "procedure", "--procedure", code, *Q1)
    expect(page.locator(".dashboard-detail .dashboard-open-procedure")).to_have_count(0)
    assert page.locator(".dashboard-detail .dashboard-open-client").count() > 0


def test_the_excel_download_is_the_export_of_the_screen(
    page: Any, dashboard: Dashboard, tmp_path: Path
) -> None:
    """Excel for the client on screen: the browser saves the file and it reads back sheet for
    sheet as `utilization export client --format xlsx`.
    """
    open_dashboard(page, dashboard, "client=C0003")
    page.wait_for_selector("h1.dashboard-title:has-text('(C0003)')")
    page.click(".dashboard-download-xlsx")
    link = page.locator("a.dashboard-download")
    link.wait_for()
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == "utilization-client-C0003-2026-Q1.xlsx"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    expected = tmp_path / "export.xlsx"
    options = ["export", "client", "--client", "C0003", *Q1, "--data", str(dashboard.data)]
    assert main([*options, "--format", "xlsx", "--out", str(expected)]) == 0
    ours = pd.read_excel(saved, sheet_name=None)
    theirs = pd.read_excel(expected, sheet_name=None)
    assert list(ours) == list(theirs)
    for sheet, frame in theirs.items():
        pd.testing.assert_frame_equal(ours[sheet], frame, check_dtype=False)


def test_a_bad_filter_value_is_a_message_not_a_traceback(page: Any, dashboard: Dashboard) -> None:
    """An address naming a client the data does not have, then dates in the wrong order: a
    sentence on the page each time, no traceback, no path.
    """
    open_dashboard(page, dashboard, "client=C9999")
    message = page.locator(".dashboard-error")
    assert "There is no client 'C9999' in the data" in message.inner_text()
    assert title(page) == "Agency: all clients and services"
    page.fill(".dashboard-filter-to input", "2025-12-01")
    page.locator(".dashboard-filter-to input").dispatch_event("change")
    page.wait_for_selector(".dashboard-error:has-text('before it starts')")
    text = page.inner_text("body")
    assert "Traceback" not in text and "Error" not in text and str(dashboard.data) not in text
    expect(page.locator(".kpi-card")).to_have_count(0)
