"""Tables, offline HTML export, PDF and atomic writes, checked as a reader would see them."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from browser import (
    ink,
    open_offline,
    pdf_page_images,
    pdf_pages,
    pdf_producer,
    require_chromium_binary,
    screenshot_offline,
)
from utilization.exceptions import EnvironmentFault
from utilization.report import render, tables

HEADER = "Andre Fuego Mandana Maya · 2025-10-01 to 2026-03-21"
EVIL = "<script>alert(1)</script>"
SETUP = f"""
import pandas as pd
from utilization.report import charts, tables
charts.use_theme()
kpis = {{"units_approved": 309.6774, "units_used": 14, "units_scheduled": 6,
        "amount_approved": 2476.5, "amount_used": 675.0, "utilization": 14 / 309.6774}}
by_procedure = pd.DataFrame({{
    "procedure_code": ["T2021", "T2019", "H2015"],
    "description": ["CBS Acuity Visit", "Supported Employment - Group", "Community Support"],
    "units_approved": [28.0, 12.5, 269.1774], "units_used": [10, 7, 0]}})
detail = pd.DataFrame({{
    "client_name": ["Andre Fuego Mandana Maya", {EVIL!r}]
    + [f"Client {{i:02d}}" for i in range(78)],
    "procedure_code": ["T2021", "T2019"] + ["H2015"] * 78,
    "units_approved": [14.0, 12.5] + [10.25] * 78, "units_used": [5, 7] + [3] * 78,
    "amount_approved": [98.0, 72.0] + [80.0] * 78, "amount_used": [125.0, 350.0] + [24.0] * 78}})
months = pd.period_range("2025-04", "2026-03", freq="M").astype(str)
monthly = pd.DataFrame({{"month": months, "units_approved": [10, 12, 14, 20, 30, 60, 100, 155,
                        80, 40, 30, 20], "units_used": [3, 4, 5, 5, 6, 7, 8, 9, 10, 8, 6, 4]}})
"""
CELLS = [
    ("code", SETUP),
    ("markdown", "## Key figures"),
    ("code", "tables.display_html(tables.kpi_cards(kpis))"),
    ("markdown", "## Units approved and used by procedure code"),
    ("code", "charts.show(charts.approved_vs_used(by_procedure))"),
    ("code", "charts.show(charts.monthly_trend(monthly))"),
    ("code", "charts.show(charts.monthly_trend(monthly.iloc[:0]))"),
    ("markdown", "## Detail"),
    (
        "code",
        "tables.display_html(tables.table(detail, money=['amount_approved', 'amount_used'],"
        " units=['units_approved', 'units_used']))",
    ),
]


def notebook() -> nbformat.NotebookNode:
    """A small report notebook: charts and tables of hand-made frames."""
    make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell}
    cells = [make[kind](source, id=f"cell-{i}") for i, (kind, source) in enumerate(CELLS)]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


@pytest.fixture(scope="module")
def executed() -> nbformat.NotebookNode:
    nb = notebook()
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    return nb


@pytest.fixture(scope="module")
def report(executed: nbformat.NotebookNode, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The notebook exported to HTML and written to a file."""
    html = render.notebook_to_html(executed, "Units utilization <Andre>", subtitle=HEADER)
    path = tmp_path_factory.mktemp("report") / "report.html"
    render.write_atomic(path, html)
    return path


ENGINES = ["chromium", "weasyprint"]
PRODUCERS = {"chromium": "Skia/PDF", "weasyprint": "WeasyPrint"}


def engine_ready(engine: str) -> str:
    """The engine, its program or package checked: Chromium required in CI, else skipped."""
    if engine == "chromium":
        require_chromium_binary()
    else:
        pytest.importorskip("weasyprint")
    return engine


@pytest.fixture(scope="module", params=ENGINES)
def pdf(report: Path, request: pytest.FixtureRequest) -> Path:
    """The report printed by each PDF engine (the same checks hold for both)."""
    engine = engine_ready(request.param)
    path = report.with_name(f"report-{engine}.pdf")
    render.html_to_pdf(report.read_text(encoding="utf-8"), path, header=HEADER, engine=engine)
    assert pdf_producer(path).startswith(PRODUCERS[engine])
    return path


# Formatting and tables --------------------------------------------------------------


def test_money_is_rounded_to_cents_half_up_with_thousands() -> None:
    """Money shows as $1,234.56; 2.675 rounds up to $2.68; missing shows as a dash."""
    assert tables.format_money(1234.5) == "$1,234.50"
    assert tables.format_money(2.675) == "$2.68"
    assert tables.format_money(-3) == "-$3.00"
    assert tables.format_money(-0.001) == "$0.00"
    assert tables.format_money(float("nan")) == "—"
    assert tables.format_money(None) == "—"


def test_units_and_utilization_formats() -> None:
    """Whole units without decimals, prorated units to 1 place, utilization as 12.3 %."""
    assert tables.format_units(1234) == "1,234"
    assert tables.format_units(309.6774) == "309.7"
    assert tables.format_units(2.0 - 2.04) == "0.0"  # never "-0.0"
    assert tables.format_units(-0.4, 0) == "0"
    assert tables.format_percent(0.1234) == "12.3 %"
    assert tables.format_percent(None) == "—"
    assert tables.format_percent(float("nan")) == "—"


def test_kpi_cards_show_every_figure_and_the_remainders() -> None:
    """Remaining units and dollars are approved minus used when not given."""
    html = tables.kpi_cards(
        {
            "units_approved": 309.6774,
            "units_used": 14,
            "units_scheduled": 6,
            "amount_approved": 2476.5,
            "amount_used": 675.0,
            "utilization": None,
        }
    )
    values = re.findall(r'<div class="kpi-value">([^<]*)</div>', html)
    assert values == ["309.7", "14", "295.7", "6", "$2,476.50", "$675.00", "$1,801.50", "—"]
    assert "Units remaining" in html and "Amount remaining" in html


def test_table_escapes_values_and_right_aligns_numbers() -> None:
    """A client named <script> shows as text; number cells carry class "num"."""
    frame = pd.DataFrame(
        {
            "client_name": [EVIL, "Zoë & Sons"],
            "units_approved": [14.0, 283.1774],
            "units_used": [5, 7],
            "amount_used": [125.0, 1350.555],
            "utilization": [0.357, float("nan")],
        }
    )
    html = tables.table(
        frame,
        money=["amount_used"],
        units=["units_approved", "units_used"],
        percent=["utilization"],
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    assert "Zoë &amp; Sons" in html
    cells = re.findall(r'<td class="num">([^<]*)</td>', html)
    assert cells == ["14.0", "5", "$125.00", "35.7 %", "283.2", "7", "$1,350.56", "—"]
    assert '<th scope="col" class="num">Units approved</th>' in html
    assert html.count("<tr>") == 3  # header row and one per frame row
    assert "T_" not in html and " id=" not in html  # no Styler ids that change run to run


def test_other_columns_show_plain_numbers_dates_and_yes_no() -> None:
    """Whole floats lose ".0", dates show as YYYY-MM-DD on one line, flags as yes / no."""
    frame = pd.DataFrame(
        {
            "rows_read": [60.0],
            "rate": [12.125],
            "billable": pd.array([True], dtype="bool"),
            "end_date": pd.to_datetime(["2026-07-01"]),
            "visits": pd.array([1234], dtype="int64"),
        }
    )
    html = tables.table(frame)
    assert '<td class="num">60</td><td class="num">12.125</td><td>yes</td>' in html
    assert '<td class="date">2026-07-01</td><td class="num">1,234</td>' in html


def test_table_takes_header_labels_and_says_when_empty() -> None:
    """A mapping sets the headers (escaped); no rows gives one row saying so."""
    frame = pd.DataFrame({"client_id": pd.Series([], dtype="str")})
    html = tables.table(frame, columns={"client_id": "Client <id>"})
    assert "Client &lt;id&gt;" in html and "No rows for this period" in html


def test_table_names_a_missing_column() -> None:
    with pytest.raises(ValueError, match=r"\['amount_used'\] not in frame"):
        tables.table(pd.DataFrame({"a": [1]}), money=["amount_used"])


# HTML export -------------------------------------------------------------------------


def test_outputs_are_svg_or_html_never_the_vega_mimetype(executed: nbformat.NotebookNode) -> None:
    """show() and display_html() store only image/svg+xml, text/html and text/plain."""
    kinds = {
        kind
        for cell in executed.cells
        for output in cell.get("outputs", [])
        for kind in output.get("data", {})
    }
    assert kinds == {"image/svg+xml", "text/html", "text/plain"}
    nbformat.validate(executed)


def test_html_loads_nothing_and_shows_no_code(report: Path) -> None:
    """No script, no external URL in link/script/img/iframe/style, no input code, no prompt."""
    html = report.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    loads = re.findall(
        r'<(?:link|script|img|iframe|source|embed)\b[^>]*\b(?:src|href)="([^"]*)"', html
    )
    assert loads and all(url.startswith("data:") for url in loads)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", html)
    assert not re.search(r"@import", html)
    assert "charts.show" not in html and "import pandas" not in html
    assert "In&nbsp;[" not in html and 'class="jp-InputPrompt' not in html
    assert "Content-Security-Policy" in html


def test_html_has_the_header_figures_and_escaped_names(report: Path) -> None:
    """Title and subtitle are escaped; the KPI values and the table reach the page."""
    html = report.read_text(encoding="utf-8")
    assert "<title>Units utilization &lt;Andre&gt;</title>" in html
    assert f'<p class="report-subtitle">{HEADER}</p>' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and EVIL not in html
    for value in ("309.7", "$2,476.50", "$675.00", "$1,801.50", "4.5 %", "Key figures"):
        assert value in html
    assert re.search(r'<meta content="width=device-width[^>]*name="viewport"', html)
    assert "@media print" in html


def test_the_exporter_is_built_once_and_exports_the_same_bytes(
    executed: nbformat.NotebookNode,
) -> None:
    """One HTMLExporter serves every export of the process (building it costs more than an
    export; the speed itself is measured by benchmarks/report_bench.py, not asserted here),
    and the same notebook gives the same bytes.
    """
    assert render._exporter() is render._exporter()
    html = render.notebook_to_html(executed, "again")
    assert html == render.notebook_to_html(executed, "again")


def test_cells_tagged_remove_cell_are_left_out(executed: nbformat.NotebookNode) -> None:
    nb = nbformat.from_dict(executed)
    nb.cells[2].metadata["tags"] = ["remove-cell"]
    assert 'class="kpi-value"' not in render.notebook_to_html(nb, "t")


# PDF ------------------------------------------------------------------------------------


def test_pdf_has_the_figures_and_the_header_and_page_numbers_on_every_page(pdf: Path) -> None:
    """Every page carries the client and period on top and "Page N of M" at the bottom."""
    pages = pdf_pages(pdf)
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert HEADER in page
        assert f"Page {number} of {len(pages)}" in page
    text = "\n".join(pages)
    for value in ("309.7", "$2,476.50", "$675.00", "$1,801.50", "4.5 %", EVIL):
        assert value in text


def test_pdf_tables_repeat_their_header_row_on_each_page(pdf: Path) -> None:
    """The 80-row detail table breaks across pages with its header row on each."""
    pages = [page for page in pdf_pages(pdf) if "Client 7" in page or "Client 0" in page]
    assert len(pages) >= 2
    assert all(re.search(r"Client name\s+Procedure code\s+Units approved", p) for p in pages)


def test_pdf_pages_render_to_images(pdf: Path, tmp_path: Path) -> None:
    """pdftoppm -png -r 50 gives one non-blank image per page."""
    images = pdf_page_images(pdf, tmp_path, dpi=50)
    assert len(images) == len(pdf_pages(pdf))
    assert all(ink(image) > 0.01 for image in images)


@pytest.mark.parametrize("engine", ENGINES)
def test_pdf_header_text_cannot_break_the_page_css(tmp_path: Path, engine: str) -> None:
    """Quotes, backslashes and braces in the header are printed as they are, on A4."""
    header = 'O\'Brien "Jr" \\ {x} · 2025'
    out = tmp_path / "h.pdf"
    render.html_to_pdf("<p>body</p>", out, header=header, size="A4", engine=engine_ready(engine))
    assert header in pdf_pages(out)[0]
    assert "Page 1 of 1" in pdf_pages(out)[0]


# Files -----------------------------------------------------------------------------------


def test_write_atomic_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "r.html"
    render.write_atomic(path, "one")
    render.write_atomic(path, b"two")
    assert path.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_write_atomic_keeps_the_old_file_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure before the rename leaves the previous report whole and no temporary file,
    and says what happened.
    """
    path = tmp_path / "r.pdf"
    render.write_atomic(path, b"old")

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(EnvironmentFault, match=r"r\.pdf: cannot write: the disk is full"):
        render.write_atomic(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.pdf"]


# Browser ---------------------------------------------------------------------------------


@pytest.mark.browser
def test_report_opens_offline_with_charts_drawn_and_no_script_run(
    report: Path, tmp_path: Path, browser: Any
) -> None:
    """Chromium requests nothing outside the file, shows no dialog, draws every chart."""
    png = tmp_path / "report.png"
    visit = open_offline(report, png, browser=browser)
    assert visit.external_urls == []
    assert visit.dialogs == []
    assert visit.console_errors == []
    charts = [image for image in visit.images if image["height"] > 50]
    assert len(charts) == 3 and all(image["natural_width"] > 0 for image in charts)
    first = charts[0]
    box = (
        int(first["x"]),
        int(first["y"]),
        int(first["x"] + first["width"]),
        int(first["y"] + first["height"]),
    )
    assert ink(png, box) > 0.05


@pytest.mark.browser
def test_report_fits_a_phone_screen(report: Path, tmp_path: Path, browser: Any) -> None:
    """At 390 px wide the page does not scroll sideways: wide tables scroll in their box."""
    visit = open_offline(report, tmp_path / "phone.png", width=390, browser=browser)
    assert visit.page_width <= 390


@pytest.mark.browser
def test_the_offline_check_catches_external_loads_and_dialogs(tmp_path: Path, browser: Any) -> None:
    """The recorder itself works: a page with a remote image and a script is caught."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<img src="http://example.invalid/a.png"><script>alert("boo")</script>', encoding="utf-8"
    )
    external = screenshot_offline(page, tmp_path / "bad.png", browser=browser)
    assert external == ["http://example.invalid/a.png"]
    assert open_offline(page, tmp_path / "bad2.png", browser=browser).dialogs == ["boo"]


def test_the_balances_table_gives_a_run_out_date_only_where_one_can_come() -> None:
    """Runs out (at pace): the projected date while it falls before the end; "not before it
    ends" when the pace lasts past the end; a dash once expired, used up or not started.
    """
    import pandas as pd

    from utilization.report.sections import NOT_BEFORE_END, balances_shown

    frame = pd.DataFrame(
        {
            "authorization_id": ["A1", "A2", "A3", "A4", "A5"],
            "status": ["at risk", "ok", "expired", "exhausted", "ok"],
            "end_date": pd.to_datetime(["2026-06-30"] * 2 + ["2026-01-31"] * 2 + ["2026-06-30"]),
            "projected_exhaustion_date": pd.to_datetime(
                ["2026-05-02", "2026-09-12", "2026-04-01", None, None]
            ),
        }
    )
    shown = balances_shown(frame)["projected_exhaustion_date"].tolist()
    assert shown == ["2026-05-02", NOT_BEFORE_END, None, None, None]
    assert frame["projected_exhaustion_date"].notna().sum() == 3  # the figures stay as they are


def test_the_data_source_is_named_without_its_path_in_print() -> None:
    """A folder, a workbook and a database by their names; the demo as itself."""
    from utilization.report.sections import source_name

    assert source_name("folder /srv/agency/export-2026-03: clients (60 rows)") == (
        "export-2026-03 (folder)"
    )
    assert source_name("workbook /home/ana/agency.xlsx: clients (3 rows)") == (
        "agency.xlsx (workbook)"
    )
    assert source_name("database postgresql+psycopg://u:***@db.local:5432/agency: x") == (
        "agency (database)"
    )
    assert source_name("demo data: clients (60 rows), visits (9 rows)") == "demo data"


def test_an_authorization_flag_gives_a_run_out_date_only_before_the_end() -> None:
    """At risk: "they run out" on the projected date before the end; expiring with a pace that
    lasts past the end: "they last until it ends", never a date after the end.
    """
    import pandas as pd

    from utilization.flags import authorization_flags

    balances = pd.DataFrame(
        {
            "authorization_id": ["A1", "A2"],
            "client_id": ["C1", "C1"],
            "procedure_code": ["T1005", "T2017"],
            "status": ["at risk", "expiring"],
            "units_approved": [100.0, 921.0],
            "units_remaining": [40.0, 748.0],
            "end_date": pd.to_datetime(["2026-06-30", "2026-12-31"]),
            "projected_exhaustion_date": pd.to_datetime(["2026-05-02", "2028-09-27"]),
        }
    )
    assert authorization_flags(balances)["detail"].tolist() == [
        "40 of 100 units left until 2026-06-30; at the current pace they run out 2026-05-02",
        "748 of 921 units left until 2026-12-31; at the current pace they last until it ends",
    ]
