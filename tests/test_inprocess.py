"""Templates run in the renderer's own process give the reports a kernel gives.

`utilization report` and batch workers run the package's own templates without a kernel
(`report.inprocess`): the same notebook outputs, the same HTML (the papermill-injected
parameters cell has a random id either way), the same failures; a changed template, or an
executed notebook to write, still runs in a kernel. The command's HTML and PDF helper
process (`report.convert`) writes what this process would write.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from browser import pdf_page_images, pdf_pages
from utilization import views
from utilization.batch.workers import BatchRenderer
from utilization.exceptions import EnvironmentFault, ReportError
from utilization.files import write_atomic
from utilization.report import inprocess
from utilization.report.convert import Converter
from utilization.report.render import html_to_pdf, notebook_to_html
from utilization.report.runner import Renderer, report_meta
from utilization.sources import PASSWORD_ENV

pytestmark = pytest.mark.xdist_group("inprocess")

TODAY = date(2026, 3, 20)
Q1 = {"date_from": "2026-01-01", "date_to": "2026-03-31", "batch": True}
INJECTED_ID = re.compile(r'id="cell-id=[0-9a-f]{8}"')


@pytest.fixture(scope="module")
def data(demo_folder: Callable[..., Path]) -> Path:
    return demo_folder(clients=12, today=TODAY)


@pytest.fixture(scope="module")
def kernel() -> Iterator[Renderer]:
    """A renderer that always runs in its (reused) kernel."""
    with Renderer(in_process=False) as renderer:
        yield renderer


def _outputs(nb: nbformat.NotebookNode) -> list[Any]:
    """Every code cell's source and outputs (errors without their coloured traceback)."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code" and "remove-cell" not in cell.metadata.get("tags", []):
            outs = [{k: v for k, v in o.items() if k != "traceback"} for o in cell.outputs]
            cells.append((cell.source, json.loads(json.dumps(outs))))
    return cells


def _html(nb: nbformat.NotebookNode, view: str) -> str:
    meta = report_meta(nb)
    html = notebook_to_html(nb, meta.get("title", view), meta.get("subtitle", ""))
    return INJECTED_ID.sub('id="cell-id=injected"', html)


@pytest.mark.parametrize("view", list(views.VIEWS))
def test_every_view_gives_the_kernels_outputs_and_html(
    view: str, data: Path, kernel: Renderer
) -> None:
    """Each view's template on the demo data: the same outputs, cell by cell, and the same
    HTML, run in this process as in a kernel.
    """
    parameters = {"data": str(data), **Q1, "report_name": view}
    here = Renderer()
    assert here.runs_in_process(view)
    nb_here = here.execute(view, parameters, in_process=True)
    nb_kernel = kernel.execute(view, parameters)
    assert _outputs(nb_here) == _outputs(nb_kernel)
    assert _html(nb_here, view) == _html(nb_kernel, view)
    assert here._km is None  # no kernel was started


def test_a_batch_worker_publishes_the_same_key_figures(data: Path) -> None:
    """The batch renderer's templates (with the key-figures cell) run in its process and
    publish what they publish in a kernel.
    """
    parameters = {"data": str(data), **Q1, "client": "C0003"}
    with BatchRenderer() as here, BatchRenderer(in_process=False) as kernel:
        assert here.runs_in_process("client")
        here.execute("client", parameters, in_process=True)
        kernel.execute("client", parameters)
        assert here.last_figures == kernel.last_figures
        assert here.last_figures["flags"] >= 0


def test_a_failing_report_fails_with_the_kernels_message(data: Path, kernel: Renderer) -> None:
    """A client that is not in the data: the same ReportError either way."""
    parameters = {"data": str(data), **Q1, "client": "C0999"}
    with pytest.raises(ReportError) as in_kernel:
        kernel.execute("client", parameters)
    with pytest.raises(ReportError) as here:
        Renderer().execute("client", parameters, in_process=True)
    assert str(here.value) == str(in_kernel.value)
    assert str(here.value) == "client report: client_id 'C0999' not found in the data; check the id"


def test_a_changed_template_or_an_executed_notebook_runs_in_a_kernel(
    data: Path, tmp_path: Path
) -> None:
    """A template with a cell the package did not write is run by papermill in a kernel; so
    is any template when the executed notebook is one of the formats.
    """
    folder = tmp_path / "templates"
    folder.mkdir()
    for view in views.VIEWS.values():
        nb = nbformat.read(Renderer().folder / view.template, as_version=4)
        if view.name == "client":
            nb.cells.append(nbformat.v4.new_code_cell("print('mine')"))
        nbformat.write(nb, folder / view.template)
    with Renderer(folder=folder) as renderer:
        assert not renderer.runs_in_process("client")
        assert renderer.runs_in_process("agency")
        params = {"data": str(data), **Q1}
        renderer.render("agency", params, tmp_path, "agency", ("html",))
        assert renderer._km is None
        renderer.render("agency", params, tmp_path, "agency", ("html", "ipynb"))
        assert renderer._km is not None
    assert Renderer(in_process=False).runs_in_process("agency") is False


CELLS = [
    "print('a')\nprint('b')",
    "from IPython.display import display\n"
    "display({'text/html': '<b>x</b>'}, raw=True, metadata={'k': {'t': (1, 2)}})",
    "print('c')\ndisplay({'text/plain': 'p'}, raw=True)\nprint('d')",
    "import sys\nprint('e', file=sys.stderr)\nprint('f')",
    "1 + 1",
    "from IPython.display import clear_output\nprint('gone')\nclear_output()\nprint('kept')",
    "import os\nprint(os.environ.get('" + PASSWORD_ENV + "', 'none'))",
    "raise ValueError('no such client')",
    "print('never')",
]


def test_outputs_are_made_as_nbclient_makes_them_from_kernel_messages() -> None:
    """Prints, displays with metadata, stderr, a result, cleared output, the environment and
    an error: the same outputs (and execution counts) as nbclient's from a new kernel.
    """
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "P", "language": "python"}
    in_kernel = nbformat.from_dict(json.loads(json.dumps(nb)))
    env = {PASSWORD_ENV: "s3cret"}
    saved = os.environ.get(PASSWORD_ENV)
    with inprocess.environment(env):
        NotebookClient(in_kernel, kernel_name="python3", allow_errors=True).execute()
    main = sys.modules["__main__"]
    with pytest.raises(inprocess.NotebookError) as failed:
        inprocess.execute(nb, env)
    assert sys.modules["__main__"] is main  # multiprocessing's spawn still finds it
    assert (failed.value.ename, failed.value.evalue) == ("ValueError", "no such client")
    assert os.environ.get(PASSWORD_ENV) == saved
    counts = [c.execution_count for c in nb.cells[:-1]]
    assert counts == [c.execution_count for c in in_kernel.cells[:-1]] == list(range(1, 9))
    assert _outputs(nb)[:-1] == _outputs(in_kernel)[:-1]


def test_the_helper_writes_the_html_and_pdf_this_process_writes(data: Path, tmp_path: Path) -> None:
    """The helper's HTML is byte for byte this process's; its PDF has the same pages, as
    text and as images; a file it cannot write is the same error here; and when the helper
    is gone this process converts.
    """
    nb = Renderer().execute("client", {"data": str(data), **Q1}, in_process=True)
    meta = report_meta(nb)
    args = (meta["title"], meta["subtitle"], meta["running_header"])
    html = notebook_to_html(nb, meta["title"], meta["subtitle"])
    html_to_pdf(html, tmp_path / "here.pdf", header=meta["running_header"])
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with Converter() as converter:
        converter.convert(nb, *args, tmp_path / "there.html", tmp_path / "there.pdf")
        with pytest.raises(EnvironmentFault) as there:
            converter.convert(nb, *args, blocked / "x.html", None)
        assert converter._process is not None
        converter._process.kill()
        converter.convert(nb, *args, tmp_path / "after.html", None)
    with pytest.raises(EnvironmentFault) as here:
        write_atomic(blocked / "x.html", html)
    assert str(there.value) == str(here.value)
    assert (tmp_path / "there.html").read_text(encoding="utf-8") == html
    assert (tmp_path / "after.html").read_text(encoding="utf-8") == html
    assert pdf_pages(tmp_path / "there.pdf") == pdf_pages(tmp_path / "here.pdf")
    images = []
    for name in ("here", "there"):
        (tmp_path / name).mkdir()
        pages = pdf_page_images(tmp_path / f"{name}.pdf", tmp_path / name, dpi=50)
        images.append([page.read_bytes() for page in pages])
    assert images[0] == images[1] and len(images[0]) >= 2


def test_a_report_run_in_process_leaves_nothing_of_itself_for_the_next() -> None:
    """Batch workers run report after report in one process: an object of one report that
    refers to itself (pandas and Altair make such cycles) is freed when the next runs, not
    frozen with the process's long-lived objects.
    """
    import builtins

    cycle = (
        "import builtins, weakref\n"
        "class Node:\n    pass\n"
        "node = Node()\nnode.me = node\nnode.payload = bytearray(10_000_000)\n"
        "builtins._utilization_probe = weakref.ref(node)"
    )
    first = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cycle)])
    second = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    try:
        inprocess.execute(first)
        assert builtins._utilization_probe() is not None  # type: ignore[attr-defined]
        inprocess.execute(second)
        assert builtins._utilization_probe() is None  # type: ignore[attr-defined]
    finally:
        del builtins._utilization_probe  # type: ignore[attr-defined]


def test_an_error_of_the_helper_process_keeps_its_words_and_stays_the_packages() -> None:
    """An error the HTML and PDF helper cannot send back as it is (its class cannot be
    pickled, or rebuilt from its message) reaches the command as a ReportError with the same
    words, which the command prints as one line, never a RuntimeError with a traceback.
    """
    from utilization.exceptions import UtilizationError
    from utilization.report.convert import _sendable

    class Local(UtilizationError):  # a class in a function: pickle cannot name it
        pass

    error = Local("PDF reports need the Pango library")
    sent = _sendable(error)
    assert isinstance(sent, ReportError)
    assert str(sent) == "PDF reports need the Pango library"
    foreign = _sendable(type("Foreign", (Exception,), {})("odd"))
    assert (type(foreign), str(foreign)) == (ReportError, "Foreign: odd")
    plain = ValueError("a value")
    assert _sendable(plain) is plain  # what pickles goes as it is


def test_ctrl_c_is_the_commands_not_the_helpers(tmp_path: Path) -> None:
    """Ctrl-C goes to the whole process group: the helper ignores it (the command handles it
    and closes the helper), so the helper prints no traceback of its own and still answers.
    """
    import signal
    import time

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Hello")])
    with Converter() as converter:
        process = converter._process
        assert process is not None
        converter.convert(nb, "T", "S", "H", tmp_path / "before.html", None)  # running
        process.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert process.poll() is None  # still there
        converter.convert(nb, "T", "S", "H", tmp_path / "after.html", None)
        assert converter._process is process  # it answered: no fallback to this process
    assert process.returncode == 0
    assert (tmp_path / "after.html").read_bytes() == (tmp_path / "before.html").read_bytes()
