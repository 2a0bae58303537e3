"""Executed notebooks to offline HTML, HTML to PDF, and atomic writes of both."""

from __future__ import annotations

import functools
from html import escape
from pathlib import Path
from typing import Any, Literal

import nbformat
from nbconvert import HTMLExporter

from utilization.exceptions import EnvironmentFault, require
from utilization.files import write_atomic
from utilization.report.tables import plain_direction

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE_NAME = "report"
PageSize = Literal["Letter", "A4"]
PAGE_MARGINS = "22mm 15mm 20mm 15mm"  # top right bottom left: the header and footer sit in them


@functools.cache
def _exporter() -> HTMLExporter:
    """One exporter for the process: building it costs far more than an export."""
    exporter = HTMLExporter(  # type: ignore[no-untyped-call]
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(_tag_remover(), enabled=True)  # type: ignore[no-untyped-call]
    return exporter


def _tag_remover() -> Any:
    from nbconvert.preprocessors import TagRemovePreprocessor

    return TagRemovePreprocessor(  # type: ignore[no-untyped-call]
        remove_cell_tags={"remove-cell", "remove_cell"},
        remove_all_outputs_tags={"remove-output", "remove_output"},
        enabled=True,
    )


def notebook_to_html(nb: nbformat.NotebookNode, title: str, subtitle: str = "") -> str:
    """Export an executed notebook to one self-contained HTML page.

    No input code, no prompts, no script and no external load (a Content-Security-Policy
    forbids any); `title` and `subtitle` fill the page header (escaped here).
    """
    resources = {
        "metadata": {"name": title},
        "report_title_html": escape(plain_direction(title)),
        "report_subtitle_html": escape(plain_direction(subtitle)),
    }
    body, _ = _exporter().from_notebook_node(nb, resources=resources)
    return plain_direction(str(body))


def page_css(header: str, size: PageSize = "Letter") -> str:
    """@page rules: `header` on top of every page, "Page N of M" at the bottom."""
    font = '9pt "Liberation Sans", Arial, Helvetica, sans-serif'
    return f"""
@page {{
  size: {size};
  margin: {PAGE_MARGINS};
  @top-left {{
    content: "{_css_string(_header_text(header))}";
    font: {font};
    color: #5f6670;
    vertical-align: bottom;
    padding-bottom: 3mm;
    border-bottom: 0.5pt solid #b8c2cc;
    width: 100%;
  }}
  @bottom-center {{
    content: "Page " counter(page) " of " counter(pages);
    font: {font};
    color: #5f6670;
  }}
}}
"""


def html_to_pdf(
    html: str,
    out: Path,
    header: str,
    size: PageSize = "Letter",
    within: Path | None = None,
    engine: str = "auto",
) -> None:
    """Write `html` as a PDF to `out` (atomically) with the PDF engine `engine` (`chromium`,
    `weasyprint` or `auto`, see `pdf_engine`); fetches nothing remote.

    Tables break across pages with their header row repeated; charts are scaled to the
    page width; `header` (client and period) runs on top of every page.
    """
    write_atomic(out, pdf_bytes(html, header, size, out.parent, engine), within=within)


def pdf_bytes(
    html: str,
    header: str,
    size: PageSize = "Letter",
    base: Path | None = None,
    engine: str = "auto",
) -> bytes:
    """The PDF of `html` (see `html_to_pdf`); `base`: the folder relative links start from
    (WeasyPrint; Chromium resolves none: the page has no address).
    """
    from utilization.report.pdf_engine import choose

    if choose(engine) == "chromium":
        from utilization.report.chromium import shared

        return shared().pdf(html, page_css(header, size))
    return _weasyprint_pdf(html, header, size, base)


def _weasyprint_pdf(html: str, header: str, size: PageSize, base: Path | None) -> bytes:
    require("weasyprint", "pdf", "PDF reports")
    try:
        from weasyprint import CSS, HTML
        from weasyprint.urls import URLFetcher
    except OSError as exc:  # WeasyPrint is there, the system's Pango is not
        msg = (
            f"PDF reports need the Pango library ({exc}); on Debian or Ubuntu: "
            "apt-get install libpango-1.0-0 libpangoft2-1.0-0"
        )
        raise EnvironmentFault(msg) from None

    local_only = URLFetcher(allowed_protocols={"data"})  # reports embed data: URLs only
    document = HTML(string=html, url_fetcher=local_only, base_url=str(base or Path.cwd()))
    pdf: bytes = document.write_pdf(stylesheets=[CSS(string=page_css(header, size))])
    return pdf


HEADER_CHARACTERS = 110
"""The most of a running header a page shows (about the width of a Letter or A4 page in its
font); a longer one (a name of hundreds of characters) ends in an ellipsis instead of running
off the page."""


def _header_text(header: str) -> str:
    text = plain_direction(header)
    if len(text) > HEADER_CHARACTERS:
        text = text[: HEADER_CHARACTERS - 1].rstrip() + "…"
    return text


def _css_string(text: str) -> str:
    """Escape `text` for a CSS string: every character but letters, digits and spaces
    as a hex escape, so quotes, backslashes and newlines cannot end the string.
    """
    return "".join(c if c.isalnum() or c == " " else f"\\{ord(c):06x} " for c in text)
