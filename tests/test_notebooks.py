"""The template notebooks: parameters, papermill runs on many parameter sets, widgets, nbval."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from utilization import views
from utilization.parameters import Request
from utilization.pipeline import load_cached
from utilization.report import charts, open_report
from utilization.report.notebooks import notebook
from utilization.report.runner import Renderer, templates_dir
from utilization.report.widgets import report_for
from utilization.views import build_view

TEMPLATE_FILES = {name: view.template for name, view in views.VIEWS.items()}

# One worker renders everything of this module: the kernel and the data are made once.
pytestmark = pytest.mark.xdist_group("notebooks")

ROOT = Path(__file__).resolve().parents[1]
TODAY = date(2026, 3, 20)
Q1 = {"date_from": "2026-01-01", "date_to": "2026-03-31"}
NO_VISITS = {"date_from": "2030-01-01", "date_to": "2030-03-31"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
STATIC = {"text/html", "text/plain", "image/svg+xml"}
CHECKS = (
    "by_procedure adds up to the totals: True\n"
    "by_client adds up to the totals: True\n"
    "detail adds up to the totals: True\n"
    "rows read = rows used + rows rejected, every table: True\n"
    "monthly trend has 12 months: True\n"
)
PARAMETERS = [
    "data", "date_from", "date_to", "client", "procedure", "payer", "provider", "case_type",
    "billable", "as_of", "basis", "settings", "rejects_href", "report_name", "data_slice",
    "batch",
]  # fmt: skip
NO_AUTH_CLIENT = "C0900"
NO_AUTH_ROWS = {
    "clients.csv": ["C0900,Nadia Noauth,900000000WA,,active"],
    "visits.csv": [  # 60 minutes: 4 units; 38 minutes: 3 units (T1019 U3, 15 min, midpoint)
        "900001,C0900,T1019 U3,2026-02-02 09:00:00,2026-02-02 10:00:00,,,P001,DDA,waiver,"
        "completed,,",
        "900002,C0900,T1019 U3,2026-02-09 09:00:00,2026-02-09 09:38:00,,,P001,DDA,waiver,"
        "completed,,",
    ],
}


@pytest.fixture(scope="module")
def data(demo_folder: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-client demo agency as of 20 Mar 2026, plus client C0900 (Nadia Noauth) with two
    visits of T1019 U3 in February 2026 and no authorization at all.
    """
    folder = tmp_path_factory.mktemp("notebooks") / "data"
    shutil.copytree(demo_folder(clients=12, today=TODAY), folder)
    for name, lines in NO_AUTH_ROWS.items():
        with (folder / name).open("a", encoding="utf-8") as file:
            file.write("".join(line + "\n" for line in lines))
    return folder


@pytest.fixture(scope="module")
def renderer() -> Iterator[Renderer]:
    """papermill runs in one reused kernel (0.5–1 s a run after the first)."""
    with Renderer() as started:
        yield started


def run(renderer: Renderer, view: str, data: Path, **params: Any) -> nbformat.NotebookNode:
    """Execute a view's template with papermill on `data` (batch unless said otherwise)."""
    return renderer.execute(view, {"data": str(data), "batch": True, **params})


def outputs(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [output for cell in nb.cells for output in cell.get("outputs", [])]


def html_text(nb: nbformat.NotebookNode) -> str:
    """Every text/html and SVG output of the notebook, joined."""
    parts = []
    for output in outputs(nb):
        data = output.get("data", {})
        parts += [data.get("text/html", ""), data.get("image/svg+xml", "")]
    return "\n".join(parts)


def checks_output(nb: nbformat.NotebookNode) -> str:
    """The standard output of the key-figure cell (`report.checks_text()`)."""
    cell = next(c for c in nb.cells if c.source.startswith("# NBVAL_CHECK_OUTPUT"))
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def kpi_values(nb: nbformat.NotebookNode) -> list[str]:
    """The KPI card values in display order."""
    return re.findall(r'<div class="kpi-value">([^<]*)</div>', html_text(nb))


# Parameters ---------------------------------------------------------------------------------


def test_help_notebook_lists_every_parameter_with_type_default_and_help() -> None:
    """`papermill --help-notebook` prints all 16 parameters of each template with their help;
    the client template defaults to C0001 and the procedure template to T1019 U3.
    """
    from click.testing import CliRunner
    from papermill.cli import papermill

    for name in TEMPLATE_FILES.values():
        result = CliRunner().invoke(papermill, ["--help-notebook", str(templates_dir() / name)])
        text = result.output
        assert result.exit_code == 0, text
        listed = re.findall(r"^  (\w+): (\w+) \(default ", text, flags=re.MULTILINE)
        assert [n for n, _ in listed] == PARAMETERS, name
        assert dict(listed)["batch"] == "bool"
        assert 'data: str (default "demo")' in text
        assert "True in batch runs: static output, no widgets" in text
        client = "C0001" if name == "client.ipynb" else ""
        procedure = "T1019 U3" if name == "procedure.ipynb" else ""
        assert f'client: str (default "{client}")' in text
        assert f'procedure: str (default "{procedure}")' in text


def test_templates_are_committed_with_outputs_only_in_the_key_figure_cell() -> None:
    """Each template has one output-bearing cell, the NBVAL_CHECK_OUTPUT checks cell, whose
    committed output is the five invariants, all True; the sources match what the generator
    (`python -m utilization.report.notebooks`) writes from the view registry.
    """
    for view in views.VIEWS.values():
        name = view.name
        committed = nbformat.read(templates_dir() / view.template, as_version=4)
        nbformat.validate(committed)
        with_outputs = [c.id for c in committed.cells if c.get("outputs")]
        assert with_outputs == ["checks"], name
        assert checks_output(committed) == CHECKS
        fresh = notebook(view)
        assert [c.source for c in committed.cells] == [c.source for c in fresh.cells], name
        assert [c.id for c in committed.cells] == [c.id for c in fresh.cells], name


# papermill runs -----------------------------------------------------------------------------

RUNS = [
    # (id, view, parameters, texts the outputs must hold)
    ("agency", "agency", Q1, ["1 Jan 2026 – 31 Mar 2026", "<dt>Filters</dt><dd>none</dd>"]),
    (
        "agency-payer-non-billable",
        "agency",
        {**Q1, "payer": "DDA", "billable": "no"},
        ["<dd>payer DDA; non-billable visits only</dd>"],
    ),
    ("client", "client", {**Q1, "client": "C0002"}, ["<dd>Quinn Whitlock (C0002)</dd>"]),
    (
        "procedure",
        "procedure",
        {**Q1, "procedure": "T1019 U3"},
        ["<dd>T1019 U3 CBS Acuity Visit</dd>", "<dd>procedure code T1019 U3</dd>", "Rate used"],
    ),
    ("procedure-non-billable", "procedure", {**Q1, "procedure": "NB TRAVEL"}, ["NB TRAVEL"]),
    ("service-codes", "service-codes", {**Q1, "payer": "DDA"}, ["Insurance paid"]),
    (
        "authorizations-full-basis-as-of",
        "authorizations",
        {**Q1, "basis": "full", "as_of": "2026-02-15"},
        ["<dt>Balances as of</dt><dd>15 Feb 2026</dd>", "<dd>full</dd>"],
    ),
    *[
        (f"{view}-no-visits", view, {**NO_VISITS, **extra}, ["1 Jan 2030 – 31 Mar 2030", text])
        for view, extra, text in [
            ("agency", {}, "No rows for this period"),
            ("client", {"client": "C0001"}, "No authorizations cover this period."),
            ("procedure", {"procedure": "T1005"}, "No rows for this period"),
            ("service-codes", {}, "No data for this period"),
            ("authorizations", {}, "No rows for this period"),
        ]
    ],
]


@pytest.mark.parametrize(
    ("view", "params", "texts"),
    [pytest.param(*r[1:], id=r[0]) for r in RUNS],
)
def test_each_template_runs_under_papermill_with_static_output(
    renderer: Renderer, data: Path, view: str, params: dict[str, str], texts: list[str]
) -> None:
    """The template runs without error; its invariants all print True; its outputs are HTML,
    SVG and plain text only (batch = True: no widget mimetype); the header shows the request.
    """
    nb = run(renderer, view, data, **params)
    assert not [o for o in outputs(nb) if o.output_type == "error"]
    assert checks_output(nb) == CHECKS
    kinds = {kind for output in outputs(nb) for kind in output.get("data", {})}
    assert kinds <= STATIC and WIDGET_VIEW not in kinds
    assert "image/svg+xml" in kinds
    assert "widgets" not in nb.metadata
    page = html_text(nb)
    for text in texts:
        assert text in page


def test_a_period_with_no_visits_shows_zeros_and_says_so(renderer: Renderer, data: Path) -> None:
    """In 2030-Q1 (no visits, no authorizations) the KPI cards are 0 and $0.00, utilization
    a dash, the tables say "No rows for this period" and there are no flags.
    """
    nb = run(renderer, "agency", data, **NO_VISITS)
    assert kpi_values(nb) == ["0", "0", "0", "0", "$0.00", "$0.00", "$0.00", "—"]
    page = html_text(nb)
    assert "No rows for this period" in page
    assert "No flags for this period." in page
    assert "No data for this period" in page  # by procedure; the 12 zero months are drawn


def test_a_client_with_no_authorizations(renderer: Renderer, data: Path) -> None:
    """C0900 has no authorization and 7 units of T1019 U3 in Q1 (4 + 3, at $7.00):
    0 approved, 7 used, -7 remaining, $49.00 used, no utilization; both visits are
    flagged as unauthorized service; the family is told no authorization covers the period.
    """
    nb = run(renderer, "client", data, client=NO_AUTH_CLIENT, **Q1)
    assert checks_output(nb) == CHECKS
    assert kpi_values(nb) == ["0", "7", "-7", "0", "$0.00", "$49.00", "-$49.00", "—"]
    page = html_text(nb)
    assert "<dd>Nadia Noauth (C0900)</dd>" in page
    assert "No authorizations cover this period." in page
    assert "<li>Unauthorized service: <b>2</b></li>" in page
    assert page.count("no authorization for T1019 U3 holds this date") == 2
    assert "No data for this period" in page  # the balances chart has no authorization to draw


# Widgets ------------------------------------------------------------------------------------


def test_report_for_picks_the_view_the_widgets_ask_for(data: Path) -> None:
    """A client gives the client view, a procedure alone the procedure view, neither the
    agency view; the figures are those of build_view for the same request.
    """
    dataset = load_cached(str(data))
    start, end = date(2026, 1, 1), date(2026, 3, 31)
    cases = [("C0002", "", "client"), ("", "T1019 U3", "procedure"), ("", "", "agency")]
    cases.append(("C0002", "T1019 U3", "client"))  # the client view, narrowed to the code
    for client, procedure, view in cases:
        report = report_for(dataset, client, procedure, start, end, rejects_href="r.csv")
        assert report.request.view == view
        assert report.request.filters.clients == ((client,) if client else ())
        assert report.request.filters.procedures == ((procedure,) if procedure else ())
        assert report.rejects_href == "r.csv"
        request = Request.from_notebook(
            view, date_from="2026-01-01", date_to="2026-03-31", client=client, procedure=procedure
        )
        expected = build_view(dataset, request)
        assert report.figures.kpis == expected.kpis
        assert report.figures.by_procedure.equals(expected.by_procedure)
    procedure = report_for(dataset, "", "T1019 U3", start, end)
    assert charts.to_svg(procedure.chart_by_client()) == charts.to_svg(
        open_report("procedure", data=str(data), procedure="T1019 U3", **Q1).chart_by_client()
    )


def widget_state(nb: nbformat.NotebookNode) -> list[dict[str, Any]]:
    """The widget models nbclient stored with the notebook (model_name and state)."""
    stored = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    return [{"model": m["model_name"], **m["state"]} for m in stored.values()]


def test_batch_false_adds_filter_widgets_showing_the_same_figures(
    renderer: Renderer, data: Path
) -> None:
    """With batch = False the client template ends with the explorer: client and procedure
    dropdowns (client C0002 chosen), From/To date pickers on the period, and an output
    showing the client's KPI cards and two SVG charts, as the static report does.
    """
    nb = run(renderer, "client", data, client="C0002", batch=False, **Q1)
    assert not [o for o in outputs(nb) if o.output_type == "error"]
    assert WIDGET_VIEW in nb.cells[-1].outputs[0]["data"]
    models = widget_state(nb)
    dropdowns = {m["description"]: m for m in models if m["model"] == "DropdownModel"}
    assert set(dropdowns) == {"Client", "Procedure"}
    client_labels = dropdowns["Client"]["_options_labels"]
    assert client_labels[0] == "All clients" and "Nadia Noauth" in client_labels
    assert client_labels[dropdowns["Client"]["index"]] == "Quinn Whitlock"
    assert dropdowns["Procedure"]["_options_labels"][dropdowns["Procedure"]["index"]] == (
        "All procedures"
    )
    pickers = {m["description"]: m["value"] for m in models if m["model"] == "DatePickerModel"}
    assert pickers == {
        "From": {"year": 2026, "month": 0, "date": 1},  # months count from 0 in the widget
        "To": {"year": 2026, "month": 2, "date": 31},
    }
    (shown,) = [m["outputs"] for m in models if m["model"] == "OutputModel"]
    static = open_report("client", data=str(data), client="C0002", **Q1)
    assert shown[0]["data"]["text/html"] == static.kpis_html()
    svgs = [o["data"]["image/svg+xml"] for o in shown[1:]]
    assert svgs == [
        charts.to_svg(static.chart_by_procedure()),
        charts.to_svg(static.chart_monthly()),
    ]


EXPLORE = """
from datetime import date
from utilization.report import open_report
from utilization.report.widgets import explorer
report = open_report("agency", data={data!r}, date_from="2026-01-01", date_to="2026-03-31")
box = explorer(report)
(client, procedure), (start, end), out = box.children[0].children, box.children[1].children, \
    box.children[2]
"""


def test_the_explorer_redraws_when_a_filter_changes(data: Path) -> None:
    """In a kernel, choosing a client redraws the KPI cards of that client's report; a
    procedure alone redraws the per-client chart; an end before the start asks for a period.
    """
    cells = [
        EXPLORE.format(data=str(data)),
        'client.value = "C0003"',
        'client.value = ""\nprocedure.value = "T1005"',
        "start.value = date(2026, 4, 1)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    client = NotebookClient(nb, timeout=120, kernel_name="python3", record_timing=False)
    # Stop after each change to read what the output widget holds: run the cells one by one.
    shown = []
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
            assert not [o for o in cell.outputs if o.output_type == "error"], cell.outputs
            state = client.widget_state
            (output_model,) = [s for s in state.values() if s.get("_model_name") == "OutputModel"]
            shown.append(list(output_model["outputs"]))
    dataset = load_cached(str(data))
    start, end = date(2026, 1, 1), date(2026, 3, 31)
    agency, chosen, coded = (
        report_for(dataset, c, p, start, end) for c, p in [("", ""), ("C0003", ""), ("", "T1005")]
    )
    assert shown[0][0]["data"]["text/html"] == agency.kpis_html()
    assert shown[1][0]["data"]["text/html"] == chosen.kpis_html()
    assert shown[2][0]["data"]["text/html"] == coded.kpis_html()
    assert shown[2][1]["data"]["image/svg+xml"] == charts.to_svg(coded.chart_by_client())
    assert shown[3] == [
        {
            "output_type": "stream",
            "name": "stdout",
            "text": "Choose a period whose end is on or after its start.\n",
        }
    ]


# nbval --------------------------------------------------------------------------------------


@pytest.mark.xdist_group("nbval")
def test_nbval_runs_the_templates_and_checks_the_key_figure_cells() -> None:
    """`pytest --nbval-lax notebooks/` runs every notebook as it is (demo data, widgets on):
    the 5 view templates, the dashboard and the analyst guide; it compares each committed
    NBVAL_CHECK_OUTPUT cell, and every cell passes.
    """
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
            "-p", "no:xdist", "-p", "no:cacheprovider", "-q", str(templates_dir()),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=240, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    notebooks = sorted(templates_dir().glob("*.ipynb"))
    assert {p.name for p in notebooks} == {
        *TEMPLATE_FILES.values(),
        "dashboard.ipynb",
        "analyst-guide.ipynb",
    }
    code_cells = sum(
        sum(c.cell_type == "code" for c in nbformat.read(path, as_version=4).cells)
        for path in notebooks
    )
    assert re.search(rf"\b{code_cells} passed\b", result.stdout), result.stdout[-2000:]


def test_the_analyst_guide_shows_every_export_key_and_exports() -> None:
    """The guide is committed without outputs; it shows each frame key of an export (and the
    KPIs) as a DataFrame, makes an Altair chart of its own and writes Excel and CSV.
    """
    nb = nbformat.read(templates_dir() / "analyst-guide.ipynb", as_version=4)
    assert not [c for c in nb.cells if c.get("outputs")]
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert nb.cells[1].metadata["tags"] == ["parameters"]
    keys = ["by_procedure", "by_client", "monthly", "detail", "authorizations", "flags"]
    keys += ["rounding_rules", "rejects", "row_counts"]
    for key in keys:
        assert f'export.rounded_frame(figures.{key}, "{key}")' in code, key
    assert '["kpis"]' in code and "alt.Chart(" in code and "show(chart)" in code
    assert 'export.write(figures, "xlsx"' in code and 'export.write(figures, "csv"' in code
