"""The template notebook of a view, as the package writes it: the parameters cell, the call
that opens the report, the key-figure checks, then one cell per section of the view
(`report.sections.SECTIONS`). `report.notebooks` writes these to notebooks/; the renderer
compares a template with them before running it in its own process (`runner.Renderer`).
"""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from utilization import views
from utilization.report.sections import SECTIONS

PARAMETERS = """data: str = "demo"  # data folder, .xlsx workbook, SQL URL, or demo (built-in synthetic agency)
date_from: str = ""  # first day, YYYY-MM-DD (empty: the current quarter)
date_to: str = ""  # last day, YYYY-MM-DD (empty: the current quarter)
client: str = "{client}"  # client_id (the client view needs one); comma-separated to filter
procedure: str = "{procedure}"  # procedure code (the procedure view needs one); comma-separated to filter
payer: str = ""  # payer_id filter, comma-separated
provider: str = "{provider}"  # provider_id (the provider view needs one); comma-separated to filter
case_type: str = ""  # case type filter, comma-separated
billable: str = ""  # yes or no (empty: the view's default)
as_of: str = ""  # date of the authorization balances, YYYY-MM-DD (empty: the last day)
basis: str = "prorated"  # units approved basis: prorated or full
settings: str = ""  # settings file, TOML (empty: utilization.toml in the data folder)
rejects_href: str = "rejects.csv"  # link to the rejected rows, relative to the report
report_name: str = ""  # the report's file name without extension (the renderer sets it): files written beside it start with it
data_slice: str = ""  # batch runs: a file with the rows of this report's subjects (read instead of data)
batch: bool = False  # True in batch runs: static output, no widgets"""

OPEN = """from utilization.report import display_html, explore, open_report, show

report = open_report(
    "{view}", data=data, settings=settings, data_slice=data_slice, rejects_href=rejects_href,
    report_name=report_name, date_from=date_from, date_to=date_to, client=client, procedure=procedure, payer=payer,
    provider=provider, case_type=case_type, billable=billable, as_of=as_of, basis=basis,
)
report.publish()"""

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
CHECKS = f"""{CHECK_MARK}
print(report.checks_text())"""


def notebook(view: views.View) -> nbformat.NotebookNode:
    """One template: parameters, open, key-figure checks, then a cell per section."""
    subjects = {"client": "", "procedure": "", "provider": ""}
    if view.subject is not None:
        subjects[view.subject] = view.example
    cells = [
        new_code_cell(
            PARAMETERS.format(**subjects), metadata={"tags": ["parameters"]}, id="parameters"
        ),
        new_code_cell(OPEN.format(view=view.name), id="open"),
        # keep_output: nbstripout leaves this cell's committed output for nbval to compare.
        new_code_cell(CHECKS, metadata={"tags": ["remove-cell"], "keep_output": True}, id="checks"),
    ]
    for name in view.sections:
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
    notebook: nbformat.NotebookNode = nb
    return notebook
