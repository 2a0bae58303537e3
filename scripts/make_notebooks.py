"""Writes the template notebooks of notebooks/ (thin: parameters, a load, calls, display).

Run after changing a template's sections: `python scripts/make_notebooks.py`. The notebooks are
committed without outputs except the key-figure cells marked NBVAL_CHECK_OUTPUT: the script runs
each template once on the demo data (one kernel, ~5 s) and keeps only those cells' outputs, which
`pytest --nbval-lax notebooks/` (tests/test_notebooks.py) then compares. `--no-execute` writes
the templates without running them (the key-figure cells then have no outputs to compare).
Cell ids are fixed names, so the same sections give the same bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parents[1] / "notebooks"

PARAMETERS = """data: str = "demo"  # data folder, .xlsx workbook, SQL URL, or demo (built-in synthetic agency)
date_from: str = ""  # first day, YYYY-MM-DD (empty: the current quarter)
date_to: str = ""  # last day, YYYY-MM-DD (empty: the current quarter)
client: str = "{client}"  # client_id (the client view needs one); comma-separated to filter
procedure: str = "{procedure}"  # procedure code (the procedure view needs one); comma-separated to filter
payer: str = ""  # payer_id filter, comma-separated
provider: str = ""  # provider_id filter, comma-separated
case_type: str = ""  # case type filter, comma-separated
billable: str = ""  # yes or no (empty: the view's default)
as_of: str = ""  # date of the authorization balances, YYYY-MM-DD (empty: the last day)
basis: str = "prorated"  # units approved basis: prorated or full
settings: str = ""  # settings file, TOML (empty: utilization.toml in the data folder)
rejects_href: str = "rejects.csv"  # link to the rejected rows, relative to the report
batch: bool = False  # True in batch runs: static output, no widgets"""

OPEN = """from utilization.charts import show
from utilization.tables import display_html
from utilization.views import Report

report = Report.open(
    "{view}", data=data, settings=settings, rejects_href=rejects_href, date_from=date_from,
    date_to=date_to, client=client, procedure=procedure, payer=payer, provider=provider,
    case_type=case_type, billable=billable, as_of=as_of, basis=basis,
)
report.publish()"""

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
CHECKS = f"""{CHECK_MARK}
print(report.checks_text())"""

SECTIONS = {
    "kpis": ("Key figures", "display_html(report.kpis_html())"),
    "family": ("Where the authorized units stand", "display_html(report.family_summary_html())"),
    "by_procedure": (
        "Units approved and used by procedure code",
        "show(report.chart_by_procedure())",
    ),
    "by_client": ("Units approved and used by client", "show(report.chart_by_client())"),
    "monthly": ("Units over 12 months", "show(report.chart_monthly())"),
    "balances_chart": ("Authorization balances", "show(report.chart_balances())"),
    "detail": ("Detail", "display_html(report.detail_html())"),
    "per_client": ("Clients receiving this service", "display_html(report.per_client_html())"),
    "rate_check": ("Rate check", "display_html(report.rate_check_html())"),
    "balances": (
        "Authorization balances, as of the balance date",
        "display_html(report.balances_html())",
    ),
    "service_chart": ("Billed and paid by service code", "show(report.chart_service_codes())"),
    "service_table": ("Service code usage", "display_html(report.service_codes_html())"),
    "flags": ("Flags", "display_html(report.flags_html())"),
    "method": ("How these numbers were made", "display_html(report.method_html())"),
    "explore": (None, "report.explore(batch)"),
}

VIEWS = {
    "agency": (
        "agency",
        "",
        "",
        ["kpis", "by_procedure", "monthly", "detail", "flags", "method", "explore"],
    ),
    "client": (
        "client",
        "C0001",
        "",
        [
            "family",
            "kpis",
            "by_procedure",
            "monthly",
            "balances_chart",
            "detail",
            "balances",
            "flags",
            "method",
            "explore",
        ],
    ),
    "procedure": (
        "procedure",
        "",
        "T1019 U3",
        ["kpis", "by_client", "monthly", "rate_check", "per_client", "flags", "method", "explore"],
    ),
    "service_codes": (
        "service-codes",
        "",
        "",
        ["service_chart", "service_table", "method", "explore"],
    ),
    "authorizations": (
        "authorizations",
        "",
        "",
        ["kpis", "balances_chart", "balances", "flags", "method", "explore"],
    ),
}


def notebook(view: str, client: str, procedure: str, sections: list[str]) -> nbformat.NotebookNode:
    """One template: parameters, open, key-figure checks, then a cell per section."""
    cells = [
        new_code_cell(
            PARAMETERS.format(client=client, procedure=procedure),
            metadata={"tags": ["parameters"]},
            id="parameters",
        ),
        new_code_cell(OPEN.format(view=view), id="open"),
        # keep_output: nbstripout leaves this cell's committed output for nbval to compare.
        new_code_cell(CHECKS, metadata={"tags": ["remove-cell"], "keep_output": True}, id="checks"),
    ]
    for name in sections:
        heading, code = SECTIONS[name]
        ident = name.replace("_", "-")
        if heading:
            cells.append(new_markdown_cell(f"## {heading}", id=f"{ident}-heading"))
        cells.append(new_code_cell(code, id=ident))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def key_figure_outputs(folder: Path = HERE) -> dict[str, list[nbformat.NotebookNode]]:
    """Run every template once as it is (demo data, batch) in one kernel; the outputs of its
    NBVAL_CHECK_OUTPUT cell, by template file name.
    """
    from utilization.runner import TEMPLATE_FILES, Renderer

    found: dict[str, list[nbformat.NotebookNode]] = {}
    with Renderer(folder=folder) as renderer:
        for view, file_name in TEMPLATE_FILES.items():
            executed = renderer.execute(view, {"batch": True})
            for cell in executed.cells:
                if cell.cell_type == "code" and cell.source.startswith(CHECK_MARK):
                    found[file_name] = [_plain_output(o) for o in cell.outputs]
    return found


def _plain_output(output: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """An output without its run-specific execution count (a result becomes a display)."""
    if output.get("output_type") == "execute_result":
        return nbformat.v4.new_output("display_data", data=output["data"])
    return output


def main(execute: bool = True) -> None:
    for name, (view, client, procedure, sections) in VIEWS.items():
        nbformat.write(notebook(view, client, procedure, sections), HERE / f"{name}.ipynb")
    if not execute:
        return
    outputs = key_figure_outputs()
    for path in sorted(HERE.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.source.startswith(CHECK_MARK):
                cell.outputs = outputs[path.name]
                cell.execution_count = 1  # nbval skips a cell with outputs but no count
        nbformat.write(nb, path)


if __name__ == "__main__":
    main(execute="--no-execute" not in sys.argv[1:])
