"""The batch index page and the key figures each report publishes for it."""

from __future__ import annotations

import math
from html import escape
from typing import Any

import nbformat

from utilization.batch.manifest import ReportRecord
from utilization.report.tables import format_percent, format_units

META_KEY = "utilization_key_figures"
# Appended to every template in batch runs, removed from the HTML by its tag.
FIGURES_CELL = (
    "from utilization.batch.index import publish_key_figures\npublish_key_figures(report)"
)
CSS = """
body { font: 14px/1.45 "Liberation Sans", Arial, Helvetica, sans-serif; color: #1f2328;
       margin: 2rem auto; max-width: 72rem; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.facts { color: #5f6670; margin: 0 0 1rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #d8dee4; padding: .35rem .6rem; text-align: left; }
th { background: #f3f5f7; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td { background: #fff1f0; } .error { color: #a40e26; }
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def key_figures(report: Any) -> dict[str, Any]:
    """Units approved and used, utilization and the number of flags of a views.Report.

    A fieldworker report gives its units used only: the units approved of a request filtered
    by provider are everyone's (a provider filter never narrows authorizations), so neither
    they nor a utilization would be the fieldworker's; its flags are those of their visits.
    """
    kpis = report.figures.kpis
    flags = report.figures.flags
    own = report.request.view != "provider"
    return {
        "units_approved": _number(kpis["units_approved"]) if own else None,
        "units_used": _number(kpis["units_used"]),
        "utilization": _number(kpis["utilization"]) if own else None,
        "flags": len(flags) if own else int(flags["visit_id"].notna().sum()),
    }


def publish_key_figures(report: Any) -> None:
    """Display nothing visible; the output's metadata carries `key_figures(report)`."""
    from IPython.display import display

    display({"text/plain": ""}, raw=True, metadata={META_KEY: key_figures(report)})


def figures_of(nb: nbformat.NotebookNode) -> dict[str, Any]:
    """The key figures an executed batch notebook published; empty if none."""
    for cell in reversed(nb.cells):
        for output in cell.get("outputs", []):
            figures = output.get("metadata", {}).get(META_KEY)
            if figures:
                return dict(figures)
    return {}


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), 4)


def index_html(header: dict[str, Any], records: list[ReportRecord]) -> str:
    """One self-contained page: the run's facts, failures first, then every report with its
    key figures and links (relative, so the folder can be moved or zipped).
    """
    spec = header["parameters"]
    records = sorted(records, key=lambda r: (r.view, r.subject, r.name))
    failed = [r for r in records if r.status == "failed"]
    ok = [r for r in records if r.status == "ok"]
    period = spec["period"]
    facts = (
        f"Period {escape(period['from'])} to {escape(period['to'])} · view {escape(spec['view'])}"
        f" · {len(records)} report(s), {len(failed)} failed · made {escape(header['finished'])}"
        f" by utilization {escape(header['package']['version'])} · "
        '<a href="manifest.json">manifest.json</a> (SHA-256 of every input and output) · '
        '<a href="batch.log">batch.log</a>'
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>Reports: {escape(spec['name'])} {escape(period['label'])}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Reports: {escape(spec['name'])}, {escape(period['label'])}</h1>",
        f'<p class="facts">{facts}</p>',
    ]
    if failed:
        parts.append(f"<h2>Failed ({len(failed)})</h2>")
        parts.append(_failures(failed))
    parts.append(f"<h2>Reports ({len(ok)})</h2>")
    parts.append(_reports(ok))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _failures(records: list[ReportRecord]) -> str:
    rows = "".join(
        f'<tr class="failed"><td>{escape(r.subject or r.view)}</td><td>{escape(r.view)}</td>'
        f'<td class="error">{escape(r.error)}</td></tr>'
        for r in records
    )
    return f"<table><tr><th>Report</th><th>View</th><th>Error</th></tr>{rows}</table>"


def _reports(records: list[ReportRecord]) -> str:
    head = (
        "<tr><th>Report</th><th>View</th><th class='num'>Units approved</th>"
        "<th class='num'>Units used</th><th class='num'>Utilization</th>"
        "<th class='num'>Flags</th><th>Files</th></tr>"
    )
    rows = []
    for r in records:
        fig = r.figures
        links = " · ".join(
            f'<a href="{escape(out["path"], quote=True)}">'
            f"{escape(fmt if '.' in fmt else fmt.upper())}</a>"
            for fmt, out in sorted(r.outputs.items())
        )
        rows.append(
            f"<tr><td>{escape(r.subject or r.view)}</td><td>{escape(r.view)}</td>"
            f"<td class='num'>{format_units(fig.get('units_approved'))}</td>"
            f"<td class='num'>{format_units(fig.get('units_used'))}</td>"
            f"<td class='num'>{format_percent(fig.get('utilization'))}</td>"
            f"<td class='num'>{fig.get('flags', '—')}</td><td>{links}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"
