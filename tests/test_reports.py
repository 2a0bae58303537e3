"""The seven reports rendered by `utilization report`, read as an auditor and a family would."""

from __future__ import annotations

import base64
import csv
import json
import re
import shutil
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import nbformat
import pytest

from browser import (
    ink,
    open_offline,
    page_text,
    pdf_page_images,
    pdf_pages,
    pdf_producer,
    require_chromium_binary,
)
from utilization.cli import main
from utilization.report import render, tables
from utilization.report.sections import FLAG_ROWS_PER_KIND

# One worker renders the reports once and runs every check on them.
pytestmark = pytest.mark.xdist_group("reports")

TODAY = date(2026, 3, 20)
EVIL = "<script>alert(1)</script>"
PERIOD = ["--from", "2026-01-01", "--to", "2026-03-31"]
VIEWS = {  # file name: (view, its filters)
    "agency": ("agency", []),
    "client": ("client", ["--client", "C0001"]),
    "procedure": ("procedure", ["--procedure", "T1019 U3"]),
    "service-codes": ("service-codes", []),
    "authorizations": ("authorizations", []),
    "revenue": ("revenue", []),
    "provider": ("provider", ["--provider", "P001"]),
}
HEADERS = {  # the running header of every PDF page: title · subject · period
    "agency": "Units utilization: agency · All clients and services · 1 Jan 2026 – 31 Mar 2026",
    "client": f"Units utilization: client · {EVIL} (C0001) · 1 Jan 2026 – 31 Mar 2026",
    "procedure": (
        "Units utilization: procedure · T1019 U3 CBS Acuity Visit · 1 Jan 2026 – 31 Mar 2026"
    ),
    "service-codes": "Service code usage · All clients and services · 1 Jan 2026 – 31 Mar 2026",
    "authorizations": (
        "Authorization balances · All clients and services · 1 Jan 2026 – 31 Mar 2026"
    ),
    "revenue": (
        "Revenue: where the authorized dollars went · All clients and services · "
        "1 Jan 2026 – 31 Mar 2026"
    ),
    "provider": "Units delivered: fieldworker · {name} (P001) · 1 Jan 2026 – 31 Mar 2026",
}
CHARTS = {
    "agency": 3,
    "client": 3,
    "procedure": 2,
    "service-codes": 1,
    "authorizations": 1,
    "revenue": 1,
    "provider": 0,
}
KPI_FORMATS = {
    "units_approved": tables.format_units,
    "units_used": tables.format_units,
    "units_remaining": tables.format_units,
    "amount_approved": tables.format_money,
    "amount_used": tables.format_money,
    "amount_remaining": tables.format_money,
    "utilization": tables.format_percent,
}


def write_data(demo: Path, folder: Path) -> None:
    """A copy of the 12-client demo agency `demo`, client C0001 renamed `<script>…`."""
    shutil.copytree(demo, folder)
    path = folder / "clients.csv"
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    rows[0]["client_name"] = EVIL
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def render_all(data: Path, folder: Path) -> None:
    """Each view rendered by `utilization report` (html, pdf, ipynb) and exported by
    `utilization export --format json` with the same parameters: `<name>.<format>`.
    """
    for name, (view, filters) in VIEWS.items():
        request = [view, "--data", str(data), *PERIOD, *filters]
        report = ["report", *request, "--format", "html,pdf,ipynb", "--out", str(folder)]
        assert main([*report, "--name", name]) == 0
        export = ["export", *request, "--format", "json", "--out", str(folder / f"{name}.json")]
        assert main(export) == 0
    for name, (view, filters) in VIEWS.items():  # the same PDFs by the other engine
        request = [view, "--data", str(data), *PERIOD, *filters, "--format", "pdf"]
        other = [*request, "--out", str(folder), "--name", f"{name}-weasyprint"]
        assert main(["report", *other, "--pdf-engine", "weasyprint"]) == 0


@pytest.fixture(scope="session")
def out(made_once: Callable[..., Path], demo_folder: Callable[..., Path]) -> Path:
    """The rendered reports of the 12-client demo agency of 20 Mar 2026 (C0001 renamed
    `<script>…`), made once per test run: under pytest-xdist the first worker renders while
    the other waits, then both read the same files.
    """

    def make(folder: Path) -> None:
        write_data(demo_folder(clients=12, today=TODAY), folder / "data")
        render_all(folder / "data", folder)

    return made_once("reports", make)


def provider_name(out: Path, provider_id: str) -> str:
    """The demo fieldworker's name, from the data folder's providers.csv."""
    with (out / "data" / "providers.csv").open(encoding="utf-8", newline="") as file:
        return next(
            r["provider_name"] for r in csv.DictReader(file) if r["provider_id"] == provider_id
        )


def exported(out: Path, name: str) -> dict[str, Any]:
    return dict(json.loads((out / f"{name}.json").read_text(encoding="utf-8")))


def html(out: Path, name: str) -> str:
    return (out / f"{name}.html").read_text(encoding="utf-8")


# Files and HTML -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(VIEWS))
def test_the_report_writes_html_pdf_and_the_executed_notebook(out: Path, name: str) -> None:
    """The notebook is the executed template (every code cell run, no error, the parameters
    injected, batch = True); the HTML shows no code, no prompt, no hidden checks cell.
    """
    nb = nbformat.read(out / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    injected = next(c for c in code if "injected-parameters" in c.metadata.get("tags", []))
    assert "batch = True" in injected.source and 'date_from = "2026-01-01"' in injected.source
    page = html(out, name)
    assert "<script" not in page.lower()
    assert "Report.open" not in page and "display_html(" not in page
    assert "adds up to the totals" not in page  # the checks cell is tagged remove-cell
    assert 'class="jp-InputPrompt' not in page
    assert (out / f"{name}.pdf").read_bytes().startswith(b"%PDF-")


def test_names_from_the_data_are_escaped_everywhere(out: Path) -> None:
    """The client named `<script>alert(1)</script>` is text in the header and the page
    subtitle of the client report and in the tables of the agency report.
    """
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    client = html(out, "client")
    assert f"<dd>{escaped} (C0001)</dd>" in client
    assert f'<p class="report-subtitle">{escaped} (C0001) · 1 Jan 2026 – 31 Mar 2026</p>' in client
    assert client.count(escaped) >= 2  # the client report's tables leave out its name
    assert escaped in html(out, "agency")
    for name in VIEWS:
        assert EVIL not in html(out, name)


def test_the_header_states_filters_period_as_of_and_newest_payment(out: Path) -> None:
    """The facts read as words, not Python lists: `client C0001`, `procedure code T1019 U3`."""
    client = html(out, "client")
    assert "<dt>Filters</dt><dd>client C0001</dd>" in client
    assert "<dt>Period</dt><dd>1 Jan 2026 – 31 Mar 2026</dd>" in client
    assert "<dt>Balances as of</dt><dd>31 Mar 2026</dd>" in client
    newest = exported(out, "client")["newest_payment_date"]
    assert (
        newest
        and f"<dt>Newest payment included</dt><dd>{date.fromisoformat(newest):%-d %b %Y}</dd>"
        in client
    )
    assert "<dd>procedure code T1019 U3</dd>" in html(out, "procedure")
    assert "<dt>Filters</dt><dd>none</dd>" in html(out, "agency")
    assert "['" not in client


def test_the_charts_are_svg_images_with_drawn_marks(out: Path) -> None:
    """Every chart is an inline SVG (data: URL) holding bar or line marks; none is empty."""
    for name, count in CHARTS.items():
        sources = re.findall(
            r'<img alt="[^"]*" src="data:image/svg\+xml;base64,([^"]+)"', html(out, name)
        )
        assert len(sources) == count, name
        for source in sources:
            svg = base64.b64decode(source).decode("utf-8")
            marks = re.findall(r'class="mark-(?:rect|line|symbol)[^"]*"[^>]*>(.*?)</g>', svg, re.S)
            assert marks and any("<path" in mark for mark in marks), name


def test_long_flag_lists_are_capped_per_kind_with_exact_counts(out: Path) -> None:
    """The agency report counts every flag by kind, lists at most 10 of each kind and says how
    many more the export holds; the JSON export has them all.
    """
    flags = exported(out, "agency")["flags"]
    counts = Counter(flag["kind"] for flag in flags)
    shown = sum(min(n, FLAG_ROWS_PER_KIND) for n in counts.values())
    assert shown < len(flags)
    page = html(out, "agency")
    for count in counts.values():
        assert f": <b>{count}</b></li>" in page
    assert (
        f"Listed: the first {FLAG_ROWS_PER_KIND} flags of each kind, {shown} of {len(flags)}. "
        f"The other {len(flags) - shown} are in the export"
    ) in page
    table = page.split('<ul class="flag-counts">')[1].split("</table>")[0]
    assert table.count("<tr>") == shown + 1  # and the header row


def test_a_long_balances_chart_keeps_the_authorizations_nearest_to_running_out(out: Path) -> None:
    """With more than 25 authorizations the chart draws 25, says so, and the table lists all."""
    total = len(exported(out, "authorizations")["authorizations"])
    assert total > 25
    page = html(out, "authorizations")
    title = f"Authorization balances: the 25 nearest to running out, of {total} (all in the table)"
    assert f'<img alt="{title}"' in page
    table = page.split("Authorization balances, as of the balance date")[1].split("</table>")[0]
    assert table.count("<tr>") == total + 1


# Browser ------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("name", list(VIEWS))
def test_the_html_opens_offline_with_its_charts_drawn(
    out: Path, name: str, browser: Any, tmp_path: Path
) -> None:
    """Chromium, offline: nothing is requested outside the file, no dialog opens, no console
    error; each chart image is decoded and has ink on the screenshot; the page fits a phone.
    """
    png = tmp_path / f"{name}.png"
    visit = open_offline(out / f"{name}.html", png, browser=browser)
    assert visit.external_urls == []
    assert visit.dialogs == []
    assert visit.console_errors == []
    drawn = [image for image in visit.images if image["height"] > 50]
    assert len(drawn) == CHARTS[name]
    for image in drawn:
        assert image["natural_width"] > 0
        box = (
            int(image["x"]),
            int(image["y"]),
            int(image["x"] + image["width"]),
            int(image["y"] + image["height"]),
        )
        assert ink(png, box) > 0.03, (name, box)
    phone = open_offline(out / f"{name}.html", tmp_path / f"{name}-phone.png", 390, browser)
    assert phone.page_width <= 390


@pytest.mark.browser
def test_the_script_client_name_shows_as_text_in_the_browser(
    out: Path, browser: Any, tmp_path: Path
) -> None:
    """The client's name reads `<script>alert(1)</script> (C0001)` on the page; no alert ran."""
    text = page_text(browser, out / "client.html")
    assert f"{EVIL} (C0001)" in text
    assert open_offline(out / "client.html", tmp_path / "client.png", browser=browser).dialogs == []


# PDF ----------------------------------------------------------------------------------------


ENGINES = {"": "the default engine", "-weasyprint": "weasyprint"}


def test_the_default_pdf_engine_is_chromium_when_it_is_found(out: Path) -> None:
    """`utilization report` printed with Chromium (CI has it: the PDF checks below are
    Chromium's); `--pdf-engine weasyprint` printed with WeasyPrint.
    """
    require_chromium_binary()
    for name in VIEWS:
        assert pdf_producer(out / f"{name}.pdf").startswith("Skia/PDF"), name
        assert pdf_producer(out / f"{name}-weasyprint.pdf").startswith("WeasyPrint"), name


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize("name", list(VIEWS))
def test_every_pdf_page_has_the_running_header_and_page_n_of_m(
    out: Path, name: str, engine: str
) -> None:
    """Each page starts with title · subject · period and ends with "Page N of M"."""
    pages = pdf_pages(out / f"{name}{engine}.pdf")
    for number, page in enumerate(pages, start=1):
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        assert lines[0] == HEADERS[name].format(name=provider_name(out, "P001")), (name, number)
        assert lines[-1] == f"Page {number} of {len(pages)}", (name, number)


@pytest.mark.parametrize("name", list(VIEWS))
def test_both_engines_print_the_same_words(out: Path, name: str, tmp_path: Path) -> None:
    """The report's HTML without its charts printed by Chromium and by WeasyPrint: the same
    words and figures, each as often (lines and pages may break elsewhere: table header rows,
    repeated on each page, are printed once here). The charts are left out: the text inside
    their SVG comes out of a PDF differently (rotated labels, labels Vega hides with opacity
    0 that WeasyPrint still writes).
    """
    require_chromium_binary()
    page = re.sub(r"<img [^>]*data:image/svg\+xml[^>]*>", "", html(out, name))
    once = "<style>thead { display: table-row-group !important }</style></head>"
    page = page.replace("</head>", once, 1)  # header rows once, wherever the pages break
    words = {}
    for engine in ("chromium", "weasyprint"):
        path = tmp_path / f"{engine}.pdf"
        render.html_to_pdf(page, path, header="Header", engine=engine)
        text = "\n".join(pdf_pages(path))
        text = re.sub(r"Page \d+ of \d+", "", text)
        words[engine] = Counter(re.findall(r"[^\W_]+", text))
    assert words["chromium"] == words["weasyprint"]


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize("name", ["agency", "client", "procedure", "authorizations"])
def test_the_pdf_holds_the_kpis_of_the_json_export(out: Path, name: str, engine: str) -> None:
    """The KPI cards of the PDF are the export's KPIs as shown: units to 1 place when
    fractional, dollars to cents, utilization to 0.1 %.
    """
    kpis = exported(out, name)["kpis"]
    first = pdf_pages(out / f"{name}{engine}.pdf")[0]
    cards = re.sub(r"\s+", " ", first.split("Key figures")[1])
    for key, shown in KPI_FORMATS.items():
        assert shown(kpis[key]) in cards, (name, key, shown(kpis[key]))


def test_the_client_pdf_gives_the_family_its_figures(out: Path) -> None:
    """Client C0001 in 2026-Q1 (12-client demo of 20 Mar 2026) used more than approved: the
    export's KPIs and the PDF's cards agree, negative remainders included.
    """
    kpis = exported(out, "client")["kpis"]
    assert {k: kpis[k] for k in KPI_FORMATS} == {
        "units_approved": 149.7668,
        "units_used": 167,
        "units_remaining": -17.2332,
        "amount_approved": 1563.7,
        "amount_used": 1683.0,
        "amount_remaining": -119.3,
        "utilization": 1.1151,
    }
    pages = pdf_pages(out / "client.pdf")
    cards = re.sub(r"\s+", " ", pages[0].split("Key figures")[1])
    for shown in ("149.8", "167", "-17.2", "$1,563.70", "$1,683.00", "-$119.30", "111.5 %"):
        assert shown in cards
    text = re.sub(r"\s+", " ", "\n".join(pages))
    assert "Where the authorized units stand" in text
    assert "168 of 194 units of CBS Acuity Visit left until 31 Aug 2026" in text


def test_the_family_pdf_names_the_data_without_the_servers_path(out: Path) -> None:
    """The PDF's "Data" is the folder's name; the auditor's HTML keeps the full path."""
    folder = str(out / "data")
    text = re.sub(r"\s+", " ", "\n".join(pdf_pages(out / "client.pdf")))
    assert "Data data (folder)" in text
    assert folder not in text.replace(" ", "") and folder not in text
    assert f'<span class="source-full">folder {folder}: ' in html(out, "client")


def test_the_service_code_pdf_holds_the_exported_usage(out: Path) -> None:
    """Each exported service code row (units billed, visits, total billed, insurance paid)
    appears in the PDF's usage table as shown.
    """
    text = re.sub(r"\s+", " ", "\n".join(pdf_pages(out / "service-codes.pdf")))
    rows = exported(out, "service-codes")["service_codes"]
    assert rows
    for row in rows:
        assert row["procedure_code"] in text
        assert tables.format_money(row["total_billed"]) in text
        assert tables.format_money(row["insurance_paid"]) in text


@pytest.mark.parametrize("name", list(VIEWS))
def test_pdf_pages_render_to_images_with_nothing_in_the_side_margins(
    out: Path, name: str, tmp_path: Path
) -> None:
    """pdftoppm gives one image per page, each with content, and no ink in the outer 10 mm
    left and right of the page body (nothing runs off the edge).
    """
    dpi = 40
    images = pdf_page_images(out / f"{name}.pdf", tmp_path, dpi)
    assert len(images) == len(pdf_pages(out / f"{name}.pdf"))
    margin = round(10 / 25.4 * dpi)
    image_module = pytest.importorskip("PIL.Image")
    for png in images:
        with image_module.open(png) as image:
            width, height = image.size
        assert ink(png) > 0.005
        assert ink(png, (0, 0, margin, height)) == 0, png.name
        assert ink(png, (width - margin, 0, width, height)) == 0, png.name


# Revenue, fieldworkers, payers ----------------------------------------------------------------


def test_the_revenue_report_has_its_sections_and_the_figures_of_the_export(out: Path) -> None:
    """The revenue report says where the dollars went in words, draws the waterfall, lists
    every category and the largest losses by client, procedure code and fieldworker, and
    the payers; its PDF holds the exported dollars.
    """
    page = html(out, "revenue")
    for heading in (
        "Where the authorized dollars went",
        "Every revenue figure",
        "Largest losses by client",
        "Largest losses by procedure code",
        "Largest losses by fieldworker",
        "By payer: approved, used and paid",
    ):
        assert f">{heading}<" in page, heading
    revenue = {r["category"]: r for r in exported(out, "revenue")["revenue"]}
    text = re.sub(r"\s+", " ", "\n".join(pdf_pages(out / "revenue.pdf")))
    assert text.startswith(HEADERS["revenue"])
    approved = tables.format_money(revenue["approved"]["amount"])
    delivered = tables.format_money(revenue["delivered"]["amount"])
    assert f"In Q1 2026, {approved} of services were authorized and {delivered} delivered." in text
    for row in revenue.values():
        assert tables.format_money(row["amount"]) in text, row["category"]


def test_the_agency_report_links_every_fieldworker_in_a_csv_beside_it(out: Path) -> None:
    """The agency report lists the top 20 fieldworkers by units used and links
    `agency.by_provider.csv`, written beside it with every row of the export's by_provider.
    """
    page = html(out, "agency")
    assert 'href="agency.by_provider.csv"' in page
    rows = exported(out, "agency")["by_provider"]
    assert f"The 20 fieldworkers with the most units used, of {len(rows)}." in page
    with (out / "agency.by_provider.csv").open(encoding="utf-8", newline="") as file:
        written = list(csv.DictReader(file))
    assert [r["provider_id"] for r in written] == [r["provider_id"] for r in rows]
    assert [float(r["amount_used"]) for r in written] == [r["amount_used"] for r in rows]
    top = sorted(rows, key=lambda r: (-r["units_used"], r["provider_id"]))[:20]
    table = page.split("fieldworkers with the most units used")[1].split("</table>")[0]
    assert table.count("<tr>") == len(top) + 1
    for row in top:
        assert f"<td>{row['provider_id']}</td>" in table
    assert "Where the authorized dollars went" in page and ">By payer: approved" in page


def test_the_provider_report_shows_the_fieldworkers_own_figures(out: Path) -> None:
    """P001's cards are its by_provider row; only visit flags are listed (no authorization's)."""
    data = exported(out, "provider")
    (row,) = data["by_provider"]
    page = html(out, "provider")
    cards = re.findall(r'<div class="kpi-label">([^<]*)</div><div class="kpi-value">([^<]*)<', page)
    shown = dict(cards)
    assert shown["Units used"] == tables.format_units(row["units_used"])
    assert shown["Amount used"] == tables.format_money(row["amount_used"])
    assert shown["Clients"] == str(row["clients"])
    assert shown["Visits cancelled"] == str(row["visits_cancelled"])
    for heading in ("Clients served", "Units delivered by procedure code", "Flags"):
        assert f">{heading}<" in page
    assert "Authorization at risk" not in page and "Balances as of" not in page


def test_the_family_summary_gives_the_weekly_pace(out: Path) -> None:
    """Each authorization with units left says how many units a week would use them by its
    end date, from the export's units_per_week_needed.
    """
    data = exported(out, "client")
    text = re.sub(r"\s+", " ", "\n".join(pdf_pages(out / "client.pdf")))
    paced = [a for a in data["authorizations"] if a["units_per_week_needed"] is not None]
    assert paced
    for row in paced:
        remaining = tables.format_units(row["units_remaining"])
        end = date.fromisoformat(row["end_date"])
        left = f"{remaining} of {tables.format_units(row['units_approved'])} units of "
        assert left in text
        assert f"To use them by {end:%-d %b %Y}, about " in text
