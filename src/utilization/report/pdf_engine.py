"""Which engine makes the PDF: Chromium when found, else WeasyPrint, or the one asked for.

This module imports neither engine (the command line's options come from here).

- `chromium` (`report.chromium`): the system's headless Chromium, kept open for a whole
  batch (one per worker process), about 0.1 s a client report. Needs Debian's `chromium`
  package (or $UTILIZATION_CHROMIUM); no Python package.
- `weasyprint` (`render.pdf_bytes`): pure Python and Pango, about 0.45 s a client report;
  the `pdf` extra (`pip install 'utilization[pdf]'`).
- `auto` (the default): chromium when one is found, else weasyprint.

Both print the same HTML with the same `@page` rules (`render.page_css`): the running header
on top of every page, "Page N of M" at the bottom, Liberation Sans throughout.
"""

from __future__ import annotations

from utilization.exceptions import EnvironmentFault, UsageError, require

PDF_ENGINES = ("auto", "chromium", "weasyprint")
ENGINE_HELP = (
    "PDF engine: chromium (headless Chromium, fast), weasyprint (the pdf extra), or auto "
    "(default: chromium when found, else weasyprint)"
)


def choose(name: str = "auto") -> str:
    """The engine to use for `name` (`auto`, `chromium` or `weasyprint`): `chromium` or
    `weasyprint`. Raises EnvironmentFault when chromium is asked for and not found, and
    MissingExtraError when WeasyPrint is needed and not installed.
    """
    from utilization.report.chromium import find, not_found_message

    if name not in PDF_ENGINES:
        msg = f"PDF engine {name!r} not known; choose from {list(PDF_ENGINES)}"
        raise UsageError(msg)
    if name == "chromium":
        if find() is None:
            raise EnvironmentFault(not_found_message())
        return name
    if name == "auto" and find() is not None:
        return "chromium"
    purpose = "PDF reports" if name == "weasyprint" else "PDF reports without Chromium (not found)"
    require("weasyprint", "pdf", purpose)
    return "weasyprint"
