"""The units dashboard without a browser: quick periods, filters, drill-down, downloads, server."""

from __future__ import annotations

import io
import json
import re
import subprocess
from datetime import date
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from utilization.cli import main
from utilization.dashboard import downloads, server
from utilization.dashboard.filters import (
    QUICK_RANGES,
    DashboardFilters,
    FilterError,
    choices,
    quick_range,
)
from utilization.dashboard.navigation import Navigation
from utilization.dashboard.page import Dashboard, plain_message
from utilization.dashboard.server import (
    HEADERS,
    TEMPLATE,
    page_url,
    prepare,
    voila_config,
    with_parameters,
)
from utilization.dataset import catalog_rows, positions, rows_name
from utilization.demo import write_demo
from utilization.packing import is_mapped
from utilization.parameters import Request
from utilization.period import Period
from utilization.pipeline import load_cached
from utilization.rejects import summary_text
from utilization.report import tables
from utilization.report.runner import templates_dir
from utilization.views import build_view

pytestmark = pytest.mark.xdist_group("dashboard")

TODAY = date(2026, 3, 20)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 12-client demo agency as of 20 Mar 2026."""
    folder = tmp_path_factory.mktemp("dashboard") / "data"
    write_demo(folder, clients=12, today=TODAY)
    return folder


@pytest.fixture
def board(data: Path) -> Dashboard:
    """A dashboard of the demo agency on 20 Mar 2026, drawn once (its widgets need no browser)."""
    made = Dashboard(load_cached(str(data)), TODAY)
    made.show(made.nav)
    return made


def cards(board: Dashboard) -> list[str]:
    return re.findall(r'<div class="kpi-value">([^<]*)</div>', board.sections["kpis"].value)


def exported_cards(data: Path, *options: str) -> list[str]:
    """The KPI cards `utilization export` gives for the same request, formatted as shown."""
    out = io.StringIO()
    from contextlib import redirect_stdout

    with redirect_stdout(out):
        assert main(["export", *options, "--data", str(data)]) == 0
    kpis = json.loads(out.getvalue())["kpis"]
    # The JSON rounds the share to 4 decimals; a card shows it to 0.1 %: rounding twice could
    # move the last digit (0.42949 -> 0.4295 -> 43.0 %), so the share comes from the units.
    if kpis["units_approved"]:
        kpis["utilization"] = kpis["units_used"] / kpis["units_approved"]
    return [
        tables.format_money(kpis[key])
        if kind == "money"
        else tables.format_percent(kpis[key])
        if kind == "percent"
        else tables.format_units(kpis[key])
        for key, _, kind in tables.KPI_CARDS
    ]


Q1 = ["--from", "2026-01-01", "--to", "2026-03-31", "--as-of", "2026-03-20"]


# Quick periods --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("this-month", date(2026, 3, 1), date(2026, 3, 31)),
        ("last-month", date(2026, 2, 1), date(2026, 2, 28)),
        ("this-quarter", date(2026, 1, 1), date(2026, 3, 31)),
        ("last-quarter", date(2025, 10, 1), date(2025, 12, 31)),
        ("year-to-date", date(2026, 1, 1), date(2026, 3, 20)),
        ("last-12-months", date(2025, 3, 21), date(2026, 3, 20)),
    ],
)
def test_quick_periods_on_20_march_2026(name: str, start: date, end: date) -> None:
    """Months and quarters are whole calendar ones; year to date ends today; the last 12
    months are the 365 days ending today.
    """
    assert quick_range(name, TODAY) == Period(start, end)


def test_quick_periods_at_the_edges_of_years_and_leap_days() -> None:
    """On 1 Jan the last month and quarter are last year's December and Q4; on 29 Feb 2028 the
    last 12 months start on 1 Mar 2027 (the day after 28 Feb 2027).
    """
    new_year = date(2027, 1, 1)
    assert quick_range("last-month", new_year) == Period(date(2026, 12, 1), date(2026, 12, 31))
    assert quick_range("last-quarter", new_year) == Period(date(2026, 10, 1), date(2026, 12, 31))
    assert quick_range("year-to-date", new_year) == Period(new_year, new_year)
    leap = date(2028, 2, 29)
    assert quick_range("last-12-months", leap) == Period(date(2027, 3, 1), leap)
    assert quick_range("last-month", date(2028, 3, 15)).end == leap
    with pytest.raises(FilterError, match="unknown period 'fortnight'"):
        quick_range("fortnight", TODAY)
    assert list(QUICK_RANGES)[-1] == "custom"


# Filters --------------------------------------------------------------------------------------


def test_filters_make_the_request_of_their_view(data: Path) -> None:
    """A client makes the client view, else a procedure the procedure view, else the agency;
    payer and fieldworker narrow it; balances are as of today inside the period, else as of
    its last day.
    """
    dataset = load_cached(str(data))
    agency = DashboardFilters(payer="DDA").request(dataset, TODAY)
    assert (agency.view, agency.filters.payers, agency.as_of) == ("agency", ("DDA",), TODAY)
    client = DashboardFilters(client="C0002", procedure="T1019 U3").request(dataset, TODAY)
    assert client.view == "client" and client.filters.procedures == ("T1019 U3",)
    last = DashboardFilters(procedure="T1019 U3", range="last-quarter", basis="full")
    request = last.request(dataset, TODAY)
    assert request.view == "procedure" and request.basis == "full"
    assert request.period == Period(date(2025, 10, 1), date(2025, 12, 31))
    assert request.as_of is None and request.balance_date == date(2025, 12, 31)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (
            DashboardFilters(client="C9999"),
            "There is no client 'C9999' in the data: choose a client from the list.",
        ),
        (
            DashboardFilters(provider="P999"),
            "There is no fieldworker 'P999' in the data: choose a fieldworker from the list.",
        ),
        (
            DashboardFilters(range="custom", date_from=date(2026, 3, 1), date_to=date(2026, 2, 1)),
            "The period ends (1 Feb 2026) before it starts (1 Mar 2026): choose a To date on or "
            "after the From date.",
        ),
        (
            DashboardFilters(range="custom", date_from=date(2026, 3, 1)),
            "Choose both a From and a To date for custom dates.",
        ),
        (
            DashboardFilters(basis="half"),
            "Unknown units approved basis 'half': choose prorated or full.",
        ),
    ],
)
def test_a_filter_the_data_cannot_answer_says_what_to_choose(
    data: Path, filters: DashboardFilters, message: str
) -> None:
    with pytest.raises(FilterError) as caught:
        filters.request(load_cached(str(data)), TODAY)
    assert str(caught.value) == message


def test_filters_travel_in_the_page_address(data: Path) -> None:
    """`to_query` leaves defaults out and `from_query` reads it back; the server's token and
    unknown keys are ignored; dates alone mean custom dates; a bad date is a FilterError.
    """
    chosen = DashboardFilters(
        client="C0002",
        payer="DDA",
        range="custom",
        date_from=date(2026, 1, 5),
        date_to=date(2026, 2, 5),
        basis="full",
    )
    query = chosen.to_query()
    assert query == "client=C0002&payer=DDA&range=custom&from=2026-01-05&to=2026-02-05&basis=full"
    assert DashboardFilters.from_query(query + "&token=abc&x=1") == chosen
    assert DashboardFilters.from_query("token=abc") == DashboardFilters()
    assert DashboardFilters.from_query("procedure=T1019+U3").procedure == "T1019 U3"
    assert DashboardFilters.from_query("from=2026-01-01&to=2026-01-31").range == "custom"
    with pytest.raises(FilterError, match="not a date"):
        DashboardFilters.from_query("from=yesterday")
    with pytest.raises(FilterError, match="period 'fortnight'"):
        DashboardFilters.from_query("range=fortnight")


def test_each_filter_offers_the_values_of_the_data(data: Path) -> None:
    """Clients by name with their id, procedure codes with their description, every payer and
    fieldworker of the data.
    """
    dataset = load_cached(str(data))
    offered = choices(dataset)
    assert len(offered["client"]) == len(dataset.clients)
    assert ("Quinn Whitlock (C0002)", "C0002") in offered["client"]
    assert ("T1019 U3 CBS Acuity Visit", "T1019 U3") in offered["procedure"]
    assert ("State DD Medicaid Waiver (DDA)", "DDA") in offered["payer"]  # the id said once
    assert ("Private pay (PVT)", "PVT") in offered["payer"]
    assert {ident for _, ident in offered["payer"]} >= set(dataset.payers["payer_id"])
    assert {ident for _, ident in offered["provider"]} >= set(
        dataset.visits["provider_id"].dropna()
    )


# Drill-down and back --------------------------------------------------------------------------


def test_drill_down_and_back_retrace_the_pages() -> None:
    """Agency -> client -> that client's procedure's page -> back, back: the agency again;
    Back on the first page stays there; choosing the page on screen is no step.
    """
    agency = DashboardFilters(payer="DDA", range="last-quarter")
    nav = Navigation(agency)
    assert not nav.can_go_back and nav.back() == nav
    client = nav.drill("client", "C0002")
    assert client.current == DashboardFilters(client="C0002", payer="DDA", range="last-quarter")
    assert client.current.view == "client" and client.previous == agency
    procedure = client.drill("procedure", "T1019 U3")
    assert procedure.current.view == "procedure" and procedure.current.client == ""
    assert procedure.go(procedure.current) == procedure
    assert procedure.back().current == client.current
    assert procedure.back().back() == nav


# The page -------------------------------------------------------------------------------------


def test_the_agency_page_shows_the_exported_figures(board: Dashboard, data: Path) -> None:
    """On 20 Mar 2026 the page opens on this quarter: its cards are the export's for Q1 with
    balances as of that day; the detail table lists every client and procedure row.
    """
    assert board.report is not None and board.report.request.view == "agency"
    assert board.message.value == ""
    assert cards(board) == exported_cards(data, "agency", *Q1)
    assert board.title.value == '<h1 class="dashboard-title">Agency: all clients and services</h1>'
    assert board.facts.value == (
        '<p class="dashboard-facts">1 Jan 2026 – 31 Mar 2026 · filters: none · balances as '
        "of 20 Mar 2026 · units approved prorated · data: data (folder)</p>"
    )
    assert str(data) not in board.facts.value
    assert board.detail.position.value == f"Rows 1–25 of {len(board.report.figures.detail)}"
    assert board.back_button.disabled and board.home_button.disabled


def test_choosing_a_client_shows_the_client_export(board: Dashboard, data: Path) -> None:
    """The client filter switches the page to the client's view with the export's figures."""
    board.client.value = "C0002"
    assert board.report is not None and board.report.request.view == "client"
    assert "Client: Quinn Whitlock (C0002)" in board.title.value
    assert cards(board) == exported_cards(data, "client", "--client", "C0002", *Q1)
    assert not board.back_button.disabled


def test_a_detail_row_opens_its_procedure_and_back_returns(board: Dashboard, data: Path) -> None:
    """Clicking a procedure code in the agency detail table opens that procedure's page (the
    procedure export's cards, the clients receiving it in the table); Back returns to the agency.
    """
    first = board.detail.grid.children[len(board.detail.columns)]  # row 1, client column
    code_button = board.detail.grid.children[len(board.detail.columns) + 1]
    assert first.ident.startswith("C") and code_button.ident
    code = code_button.ident
    code_button.click()
    assert board.report is not None and board.report.request.view == "procedure"
    assert board.procedure.value == code and board.client.value == ""
    assert cards(board) == exported_cards(data, "procedure", "--procedure", code, *Q1)
    assert board.detail.columns[0].label == "Client"
    board.back_button.click()
    assert board.report.request.view == "agency" and board.procedure.value == ""
    first.click()
    assert board.report.request.view == "client" and board.client.value == first.ident
    board.home_button.click()
    assert board.report.request.view == "agency"


def test_a_custom_period_from_the_date_pickers(board: Dashboard, data: Path) -> None:
    """Picking a date makes the period custom; an end before the start is a message instead of
    figures, and fixing it draws the period.
    """
    board.date_to.value = date(2025, 12, 1)
    assert board.range.value == "custom"
    assert board.report is None and board.content.children == ()
    assert "before it starts (1 Jan 2026)" in board.message.value
    assert all(button.disabled for button in board.download_buttons.values())
    board.date_to.value = date(2026, 1, 31)
    assert board.message.value == "" and board.report is not None
    expected = ["--from", "2026-01-01", "--to", "2026-01-31"]
    assert cards(board) == exported_cards(data, "agency", *expected)
    board.range.value = "last-12-months"
    assert (board.date_from.value, board.date_to.value) == (date(2025, 3, 21), TODAY)


def test_a_bad_address_is_a_message_above_the_agency(data: Path) -> None:
    """`?client=C9999` shows the agency's page with a message naming the client."""
    from utilization.dashboard.page import show_dashboard

    board = show_dashboard(data=str(data), today="2026-03-20", query="client=C9999&token=x")
    assert board.report is not None and board.report.request.view == "agency"
    assert "There is no client &#x27;C9999&#x27; in the data" in board.message.value
    chosen = show_dashboard(data=str(data), today="2026-03-20", query="procedure=T1005")
    assert chosen.report is not None and chosen.report.request.view == "procedure"


def test_messages_never_show_the_servers_directories() -> None:
    error = ValueError("/srv/agency/data/visits.csv: row 3 unreadable; see C:\\data\\x.csv")
    assert plain_message(error) == "Visits.csv: row 3 unreadable; see x.csv"


# Downloads ------------------------------------------------------------------------------------


def test_downloads_are_the_exports_of_the_request_on_screen(
    board: Dashboard, data: Path, tmp_path: Path
) -> None:
    """CSV: the on-screen table as `export --format csv` writes it; Excel: the export workbook,
    sheet for sheet; PDF: the view's report with its running header on every page.
    """
    board.client.value = "C0002"
    report = board.report
    assert report is not None
    options = ["client", "--client", "C0002", *Q1, "--data", str(data)]
    assert main(["export", *options, "--format", "csv", "--out", str(tmp_path / "csv")]) == 0
    assert main(["export", *options, "--format", "xlsx", "--out", str(tmp_path / "x.xlsx")]) == 0
    csv = downloads.build(report, "csv")
    assert csv.name == "utilization-client-C0002-2026-Q1.csv"
    assert csv.data == (tmp_path / "csv" / "detail.csv").read_bytes()
    excel = downloads.build(report, "xlsx")
    ours = pd.read_excel(io.BytesIO(excel.data), sheet_name=None)
    theirs = pd.read_excel(tmp_path / "x.xlsx", sheet_name=None)
    assert list(ours) == list(theirs)
    for sheet, frame in theirs.items():
        pd.testing.assert_frame_equal(ours[sheet], frame, check_dtype=False)
    board.download("pdf")
    link = board.download_link.value
    assert 'download="utilization-client-C0002-2026-Q1.pdf"' in link
    assert 'href="data:application/pdf;base64,' in link
    pdf = downloads.build(report, "pdf")
    path = tmp_path / "c.pdf"
    path.write_bytes(pdf.data)
    from browser import pdf_pages

    pages = pdf_pages(path)
    header = "Units utilization: client · Quinn Whitlock (C0002) · 1 Jan 2026 – 31 Mar 2026"
    assert all(page.strip().splitlines()[0].strip() == header for page in pages)
    text = " ".join(pages)
    assert "Key figures" in text and "data (folder)" in text and str(data) not in text


def test_the_procedure_csv_lists_its_clients(data: Path) -> None:
    dataset = load_cached(str(data))
    request = Request.from_notebook("procedure", procedure="T1005", **{"date_from": "2026-01-01"})
    from utilization.report.sections import Report

    report = Report(dataset, request, build_view(dataset, request))
    made = downloads.build(report, "csv")
    assert made.data.decode().splitlines()[0].startswith("client_id,client_name,units_approved")
    assert downloads.table_section(report) == "by_client"


# The notebook and the server ------------------------------------------------------------------


def test_the_dashboard_template_is_a_parameters_cell_and_one_call() -> None:
    nb = nbformat.read(templates_dir() / TEMPLATE, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) == 2 and code[0].metadata["tags"] == ["parameters"]
    assert "show_dashboard(" in code[1].source
    assert not [c for c in nb.cells if c.get("outputs")]
    injected = with_parameters(nb, {"data": "x", "today": "2026-03-20"})
    assert injected.cells[1].source == "data = 'x'\ntoday = '2026-03-20'"
    assert injected.cells[1].metadata["tags"] == ["injected-parameters"]


def test_the_server_loads_once_and_shows_nothing_but_the_page(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server reads the data once, in a process of its own (not the server's: loading
    there is made to fail), and hands its kernels the loaded copy, written for them to map;
    Voilà listens where it is told, with the token, sources stripped, no tracebacks, no file
    served, no template or theme chosen from the address, and no referrer sent.
    """

    def not_here(*_: object) -> None:
        raise AssertionError("the server process loads the data itself")

    monkeypatch.setattr(server, "load", not_here)
    out = io.StringIO()
    notebook = prepare(str(data), "", tmp_path, "2026-03-20", out)
    dataset = load_cached(str(data))
    assert out.getvalue() == summary_text(dataset) + "\n"
    nb = nbformat.read(notebook, as_version=4)
    injected = nb.cells[1].source
    loaded = tmp_path / "data" / "dataset.pickle"
    assert f"data_slice = '{loaded}'" in injected
    assert is_mapped(loaded)
    again = load_cached(str(data), "", str(loaded))
    pd.testing.assert_frame_equal(again.visits, dataset.visits)
    assert again.source == dataset.source
    # What validation and matching derived comes with it, for the visits read back.
    sources, rows = again._derived[rows_name("visits", "client_id")]
    assert sources[0] is again.visits and sources[1] is again.clients
    expected = positions(again.visits["client_id"], again.clients["client_id"])
    np.testing.assert_array_equal(rows, expected)
    assert catalog_rows(again, "visits", "client_id") is rows
    config = voila_config(notebook, "127.0.0.1", 8870, "s3cret")
    assert (config.Voila.ip, config.Voila.port, config.Voila.token) == ("127.0.0.1", 8870, "s3cret")
    assert config.Voila.port_retries == 0 and config.Voila.open_browser is False
    voila = config.VoilaConfiguration
    assert voila.strip_sources is True and voila.show_tracebacks is False
    assert voila.allow_template_override == "NO" and voila.allow_theme_override == "NO"
    assert voila.file_allowlist == [] and voila.template == "utilization"
    assert config.Voila.tornado_settings["headers"] == HEADERS
    assert page_url("127.0.0.1", 8870, "t") == "http://127.0.0.1:8870/?token=t"
    assert page_url("::1", 8870, "t") == "http://[::1]:8870/?token=t"


def test_the_dashboard_command_refuses_unusable_data_before_serving(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A source that does not exist is one message and exit code 1; a bad port, exit code 2."""
    assert main(["dashboard", "--data", str(tmp_path / "nowhere"), "--port", "8870"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["dashboard", "--port", "70000"]) == 2
    assert "not a port number" in capsys.readouterr().err


def test_the_command_line_help_lists_the_dashboard() -> None:
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "utilization", "dashboard", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--port" in result.stdout and "--token" in result.stdout and "127.0.0.1" in result.stdout
