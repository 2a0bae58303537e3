"""Writes the template notebooks (thin: parameters, a load, calls, display) from the views.

Each view of the registry (`utilization.views`) gets `notebooks/<template>`: the parameters
cell, the call that opens the report, the key-figure checks, then one cell per section of
the view (`report.sections.SECTIONS`). Run after changing a view's sections:
`python -m utilization.report.notebooks` (`make notebooks`). The notebooks are committed
without outputs except the key-figure cells marked NBVAL_CHECK_OUTPUT: the generator runs
each template once on the demo data (one kernel, ~5 s) and keeps only those cells' outputs,
which `pytest --nbval-lax notebooks/` (tests/test_notebooks.py) then compares.
`--no-execute` writes the templates without running them (the key-figure cells then have no
outputs to compare). Cell ids are fixed names, so the same sections give the same bytes.
The package reads the same files (`report/templates/notebooks` links to `notebooks/`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from utilization import views
from utilization.report.runner import Renderer, templates_dir
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


def key_figure_outputs(folder: Path) -> dict[str, list[nbformat.NotebookNode]]:
    """Run every template once as it is (demo data, batch) in one kernel; the outputs of its
    NBVAL_CHECK_OUTPUT cell, by template file name.
    """
    found: dict[str, list[nbformat.NotebookNode]] = {}
    with Renderer(folder=folder) as renderer:
        for view in views.VIEWS.values():
            executed = renderer.execute(view.name, {"batch": True})
            for cell in executed.cells:
                if cell.cell_type == "code" and cell.source.startswith(CHECK_MARK):
                    found[view.template] = [_plain_output(o) for o in cell.outputs]
    return found


def _plain_output(output: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """An output without its run-specific execution count (a result becomes a display)."""
    if output.get("output_type") == "execute_result":
        shown: nbformat.NotebookNode = nbformat.v4.new_output("display_data", data=output["data"])
        return shown
    return output


def main(execute: bool = True, folder: Path | None = None) -> None:
    """Write every view's template into `folder` (default: the package's templates, that is
    the repository's notebooks/); with `execute`, keep the key-figure outputs.
    """
    folder = folder or templates_dir()
    for view in views.VIEWS.values():
        nbformat.write(notebook(view), folder / view.template)
    if not execute:
        return
    outputs = key_figure_outputs(folder)
    for view in views.VIEWS.values():
        path = folder / view.template
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.source.startswith(CHECK_MARK):
                cell.outputs = outputs[view.template]
                cell.execution_count = 1  # nbval skips a cell with outputs but no count
        nbformat.write(nb, path)


if __name__ == "__main__":
    main(execute="--no-execute" not in sys.argv[1:])
