"""What the dashboard offers to download for the filters on screen: CSV, Excel and PDF.

The bytes are those of the command line's own outputs for the same request: the CSV is the
on-screen detail table as `utilization export --format csv` writes it, the Excel workbook is
`utilization export --format xlsx`, and the PDF is the view's report, laid out as
`utilization report --format pdf` lays it out. The page offers them as links with a `data:`
address, which a browser saves without another request to the server.
"""

from __future__ import annotations

import base64
import re
import tempfile
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Literal

import nbformat

from utilization import export, views
from utilization.filenames import safe_name
from utilization.report import charts
from utilization.report.sections import SECTIONS, Report
from utilization.spreadsheets import csv_text

Format = Literal["csv", "xlsx", "pdf"]
FORMATS: dict[Format, tuple[str, str]] = {
    # format -> (button label, media type)
    "csv": ("CSV", "text/csv"),
    "xlsx": ("Excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "pdf": ("PDF", "application/pdf"),
}
SECTION_CALL = re.compile(r"^(display_html|show)\(report\.(\w+)\(\)\)$")


@dataclass(frozen=True)
class Download:
    """A file to offer: its name, media type and bytes."""

    name: str
    media_type: str
    data: bytes

    def link_html(self) -> str:
        """An anchor that saves the file: `download` name, `data:` address, size in words."""
        encoded = base64.b64encode(self.data).decode("ascii")
        return (
            f'<a class="dashboard-download" download="{escape(self.name, quote=True)}" '
            f'href="data:{self.media_type};base64,{encoded}">Save {escape(self.name)}</a> '
            f'<span class="dashboard-download-size">({_size(len(self.data))})</span>'
        )


def file_stem(report: Report) -> str:
    """`utilization-client-C0001-2026-Q1`: view, subject and period, safe as a file name."""
    request = report.request
    parts = ["utilization", request.view, request.subject, request.period.label]
    return safe_name("-".join(p for p in parts if p))


def table_section(report: Report) -> str:
    """The figures the page's detail table shows: per client in the procedure view, else
    per client and procedure code.
    """
    return "by_client" if report.request.view == "procedure" else "detail"


def build(report: Report, fmt: Format) -> Download:
    """The download of `fmt` for the report's request."""
    media_type = FORMATS[fmt][1]
    stem = file_stem(report)
    if fmt == "csv":
        section = table_section(report)
        frame = export.rounded_frame(getattr(report.figures, section), section)
        data = csv_text(frame).encode("utf-8")  # names never run as formulas in Excel
    elif fmt == "xlsx":
        with tempfile.TemporaryDirectory(prefix="utilization-download-") as folder:
            path = Path(folder) / "figures.xlsx"
            export.write(report.figures, "xlsx", path)
            data = path.read_bytes()
    else:
        data = pdf_bytes(report)
    return Download(f"{stem}.{fmt}", media_type, data)


def report_notebook(report: Report) -> nbformat.NotebookNode:
    """The view's report as an executed notebook, made in this process without a kernel:
    the header, then a heading and the output of each of the view's sections (the calls
    its template makes, `report.sections.SECTIONS`), as papermill would have stored them.
    """
    header = nbformat.v4.new_output(
        "display_data",
        data={"text/html": report.header_html()},
        metadata={"utilization": report.meta()},
    )
    cells = [nbformat.v4.new_code_cell("report.publish()", outputs=[header])]
    for name in views.get(report.request.view).sections:
        heading, code = SECTIONS[name]
        call = SECTION_CALL.match(code)
        if call is None:  # the widgets' cell: nothing to print
            continue
        kind, method = call.groups()
        value = getattr(report, method)()
        if kind == "show":
            data = {"image/svg+xml": charts.to_svg(value), "text/plain": heading or name}
        else:
            data = {"text/html": value}
        if heading:
            cells.append(nbformat.v4.new_markdown_cell(f"## {heading}"))
        cells.append(
            nbformat.v4.new_code_cell(code, outputs=[nbformat.v4.new_output("display_data", data)])
        )
    notebook: nbformat.NotebookNode = nbformat.v4.new_notebook(cells=cells)
    return notebook


def pdf_bytes(report: Report) -> bytes:
    """The view's report as a PDF, laid out as `utilization report` does, by its default
    engine (Chromium when found, else WeasyPrint; a browser started for it is closed after:
    a viewer's kernel does not keep one open between downloads).
    """
    from utilization.report.chromium import close_shared
    from utilization.report.render import html_to_pdf, notebook_to_html

    meta = report.meta()
    html = notebook_to_html(report_notebook(report), meta["title"], meta["subtitle"])
    with tempfile.TemporaryDirectory(prefix="utilization-download-") as folder:
        path = Path(folder) / "report.pdf"
        try:
            html_to_pdf(html, path, header=meta["running_header"])
        finally:
            close_shared()
        return path.read_bytes()


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} bytes"
    if count < 1024 * 1024:
        return f"{count / 1024:,.0f} KB"
    return f"{count / 1024 / 1024:,.1f} MB"
