"""The client template in a real JupyterLab page: run all cells, change the client widget.

JupyterLab runs on 127.0.0.1 behind a token, in a folder holding a copy of
notebooks/client.ipynb, with its own settings, workspaces and runtime folders, news and
update checks off; Debian's chromium drives it and refuses every request leaving the machine.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import redirect_stdout
from typing import Any

import pytest

from browser import chromium, free_port, kept_on_failure, local_only, server
from utilization.cli import main
from utilization.period import current_quarter
from utilization.pipeline import load_cached
from utilization.report import tables
from utilization.report.runner import templates_dir

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("jupyterlab")]

TOKEN = "lab-token-0123456789abcdef"
TIMEOUT = 120_000  # ms: JupyterLab's first load, a kernel start and the chart stack's import


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`jupyter lab` serving a copy of the client template; yields its address."""
    root = tmp_path_factory.mktemp("jupyterlab")
    work = root / "work"
    work.mkdir()
    shutil.copy(templates_dir() / "client.ipynb", work / "client.ipynb")
    notifications = root / "settings" / "@jupyterlab" / "apputils-extension"
    notifications.mkdir(parents=True)
    (notifications / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port = free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(root / "config"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
    }
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={work}",
        f"--LabApp.user_settings_dir={root / 'settings'}",
        f"--LabApp.workspaces_dir={root / 'workspaces'}",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with server(command, f"{base}/api/status?token={TOKEN}", env=env, cwd=str(work)):
        yield base


def exported_cards(client: str) -> list[str]:
    """`utilization export client` on the demo data for this quarter, as the cards show it."""
    quarter = current_quarter()
    out = io.StringIO()
    options = ["--from", quarter.start.isoformat(), "--to", quarter.end.isoformat()]
    with redirect_stdout(out):
        assert main(["export", "client", "--client", client, *options]) == 0
    kpis = json.loads(out.getvalue())["kpis"]
    shown = {"money": tables.format_money, "percent": tables.format_percent}
    return [shown.get(kind, tables.format_units)(kpis[key]) for key, _, kind in tables.KPI_CARDS]


def test_the_client_template_runs_in_jupyterlab_and_its_widgets_redraw(
    lab: str, request: pytest.FixtureRequest
) -> None:
    """Open notebooks/client.ipynb, Run All Cells: the explorer's cards are C0001's export;
    choose another client in its Client dropdown: the cards become that client's export.
    """
    names = load_cached("demo").clients.set_index("client_id")["client_name"]
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT)
        refused = local_only(page)
        with kept_on_failure(page, request.node.name):
            page.goto(f"{lab}/lab/tree/client.ipynb?token={TOKEN}")
            page.wait_for_selector(".jp-NotebookPanel .jp-Notebook")
            expect(page.locator(".jp-StatusBar-Widget", has_text="| Idle").first).to_be_visible()
            run_all(page)
            explorer = page.locator(".jp-OutputArea-output .widget-vbox").last
            cards = explorer.locator(".kpi-value")
            expect(cards.first).to_be_visible()
            expect(cards).to_have_text(exported_cards("C0001"))
            client = explorer.locator(".widget-dropdown select").first
            assert client.input_value() == names["C0001"]
            client.select_option(label=str(names["C0003"]))
            expect(cards).to_have_text(exported_cards("C0003"))
            assert not page.locator(".jp-OutputArea-output[data-mime-type*='error']").count()
        page.close()
    assert refused == []


def run_all(page: Any) -> None:
    """Run > Run All Cells; once more if no cell has started 30 s later (a click on a busy
    machine can land while JupyterLab is still connecting the kernel).
    """
    started = page.locator(".jp-InputPrompt", has_text="[1]")
    for attempt in range(2):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            started.first.wait_for(timeout=30_000)
            return
        except Exception:
            if attempt:
                raise


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=TIMEOUT)
    return playwright_expect(locator)
