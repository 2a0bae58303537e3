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

from utilization import views
from utilization.report.runner import Renderer, templates_dir
from utilization.report.template import CHECK_MARK, CHECKS, OPEN, PARAMETERS, notebook

__all__ = ["CHECKS", "CHECK_MARK", "OPEN", "PARAMETERS", "key_figure_outputs", "main", "notebook"]


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
