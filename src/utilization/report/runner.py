"""Running a template notebook and writing HTML, PDF and the executed notebook.

A template runs with papermill in a kernel, or, when that gives the same report, in this
process (`report.inprocess`): the package's own templates, rendered to HTML or PDF only.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from utilization import exceptions, views
from utilization.exceptions import InputError, ReportError
from utilization.files import write_atomic
from utilization.sources import PASSWORD_ENV, split_password

if TYPE_CHECKING:
    from utilization.dataset import Dataset
    from utilization.report.convert import Converter

FORMATS: tuple[str, ...] = ("html", "pdf", "ipynb")
FILES_KEY = "utilization_files"  # output metadata: files to write beside the report
# Clear the previous report's variables, then freeze what survives (modules, the dataset cache)
# out of the cyclic garbage collector: each later collection then scans only the new report's
# objects, which halves the time of a report in a reused kernel.
RESET = "%reset -f\n__import__('gc').freeze()"


def templates_dir() -> Path:
    """The template notebooks' folder: $UTILIZATION_TEMPLATES, else the package's own
    (`utilization/report/templates/notebooks`, which links to the repository's notebooks/
    in a checkout and holds copies in an installed wheel).
    """
    configured = os.environ.get("UTILIZATION_TEMPLATES")
    if configured:
        folder = Path(configured)
    else:
        folder = Path(str(resources.files("utilization.report") / "templates" / "notebooks"))
    first = next(iter(views.VIEWS.values())).template
    if not (folder / first).is_file():
        msg = (
            f"template notebooks not found in {folder}; reinstall the package "
            "(pip install utilization) or set UTILIZATION_TEMPLATES to a folder of templates"
        )
        raise InputError(msg)
    return folder


def parse_formats(text: str) -> tuple[str, ...]:
    """`html,pdf` -> ("html", "pdf"); unknown names are an error."""
    chosen = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        msg = f"formats {unknown or text!r} not known; choose from {list(FORMATS)}"
        raise InputError(msg)
    return chosen


def report_files(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Files the report asked to be written beside it (`Report.files`): text by name suffix."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            files = output.get("metadata", {}).get(FILES_KEY)
            if files:
                return dict(files)
    return {}


def report_meta(nb: nbformat.NotebookNode) -> dict[str, str]:
    """The `utilization` metadata the report's header cell published."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("utilization")
            if meta:
                return dict(meta)
    return {}


def _code_cells(nb: nbformat.NotebookNode) -> list[tuple[str, tuple[str, ...]]]:
    """What a notebook runs: each code cell's source and tags, in order."""
    return [
        (cell.source, tuple(cell.get("metadata", {}).get("tags", ())))
        for cell in nb.cells
        if cell.cell_type == "code"
    ]


@dataclass
class Renderer:
    """Runs templates in one reused kernel (started by the first run) and converts the results.

    `render` runs the package's own templates in this process instead (`in_process`, see
    `runs_in_process`), which gives the same HTML and PDF without starting a kernel.
    Use as a context manager so the kernel is shut down at the end.
    """

    folder: Path = field(default_factory=templates_dir)
    reuse_kernel: bool = True
    in_process: bool = True
    converter: Converter | None = None  # makes the HTML and PDF in a helper process
    _km: Any = None
    _templates: dict[str, nbformat.NotebookNode] = field(default_factory=dict)
    _password: str = ""
    _own: dict[str, bool] = field(default_factory=dict)

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Shut the kernel down, if one was started."""
        if self._km is not None and self._km.has_kernel:
            self._km.shutdown_kernel(now=True)
        if self._km is not None and self._km.transport == "ipc":
            shutil.rmtree(os.path.dirname(self._km.ip), ignore_errors=True)
        self._km = None

    def template(self, view: str) -> nbformat.NotebookNode:
        """The template notebook of a view, read once."""
        if view not in self._templates:
            path = self.folder / views.get(view).template
            self._templates[view] = nbformat.read(path, as_version=4)
        return self._templates[view]

    def _kernel_manager(self, password: str) -> Any:
        """The kernel to run in, started with `password` in its environment (PASSWORD_ENV)
        when one is given; None (papermill starts one per report) without reuse or password.
        """
        if not self.reuse_kernel and not password:
            return None
        if self._km is not None and password != self._password:
            self.close()  # a kernel knows one password: start another
        if self._km is None or (self._km.has_kernel and not self._km.is_alive()):
            from jupyter_client.manager import KernelManager

            self.close()
            # IPC sockets in a folder of this renderer's own: kernels started at the same time
            # by parallel batch workers cannot pick the same socket files (as they can TCP ports).
            sockets = tempfile.mkdtemp(prefix="utilization-kernel-")
            self._km = KernelManager(
                kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "kernel")
            )
        if not self._km.has_kernel:
            env = dict(os.environ)
            if password:
                env[PASSWORD_ENV] = password
            self._km.start_kernel(env=env)
            self._password = password
        return self._km

    def own_cells(self, view: str) -> list[tuple[str, tuple[str, ...]]]:
        """The code cells (source, tags) the package writes for the view's template."""
        from utilization.report.template import notebook

        return _code_cells(notebook(views.get(view)))

    def runs_in_process(self, view: str) -> bool:
        """Whether `render` runs the view's template in this process: `in_process` is on,
        no IPython shell runs here already (inside a kernel), and the template's code cells
        are exactly the package's own (`own_cells`; a changed template runs in a kernel).
        """
        from utilization.report import inprocess

        if not self.in_process or not inprocess.available():
            return False
        if view not in self._own:
            self._own[view] = _code_cells(self.template(view)) == self.own_cells(view)
        return self._own[view]

    def dataset(self, parameters: dict[str, Any]) -> Dataset:
        """The data the template's `open_report` reads with these parameters, loaded through
        the same cache (`pipeline.load_cached`): a template then run in this process finds
        it loaded.
        """
        from utilization.pipeline import load_cached
        from utilization.report.inprocess import environment

        data, password = split_password(str(parameters.get("data", "demo")))
        with environment({PASSWORD_ENV: password} if password else {}):
            return load_cached(
                data, str(parameters.get("settings", "")), str(parameters.get("data_slice", ""))
            )

    def execute(
        self, view: str, parameters: dict[str, Any], in_process: bool = False
    ) -> nbformat.NotebookNode:
        """Run the view's template with the parameters; return the executed notebook.

        A database URL's password never enters the notebook: the `data` parameter is the
        URL without it, and the kernel reads it from its environment (UTILIZATION_DB_PASSWORD).
        `in_process`: run it in this process instead of a kernel (`report.inprocess`; for
        templates `runs_in_process` accepts).
        """
        nb = copy.deepcopy(self.template(view))
        data, password = split_password(str(parameters.get("data", "")))
        if password:
            parameters = parameters | {"data": data}
        if in_process:
            return self._execute_here(view, nb, parameters, password)
        import papermill
        from papermill.exceptions import PapermillExecutionError

        km = self._kernel_manager(password)
        if km is not None:
            nb.cells.insert(0, nbformat.v4.new_code_cell(RESET, metadata={"tags": ["remove-cell"]}))
        try:
            executed: nbformat.NotebookNode = papermill.execute_notebook(
                nb, None, parameters=parameters, kernel_name="python3", progress_bar=False, km=km
            )
            return executed
        except PapermillExecutionError as exc:
            raise ReportError(_failed(view, exc.ename, exc.evalue)) from None
        finally:
            if not self.reuse_kernel:
                self.close()

    def _execute_here(
        self, view: str, nb: nbformat.NotebookNode, parameters: dict[str, Any], password: str
    ) -> nbformat.NotebookNode:
        """The template run in this process, parameterized as papermill does it."""
        from papermill.execute import prepare_notebook_metadata, remove_error_markers
        from papermill.iorw import load_notebook_node
        from papermill.parameterize import parameterize_notebook

        from utilization.report import inprocess

        nb = load_notebook_node(nb)  # papermill's own steps, as `papermill.execute_notebook`
        nb = parameterize_notebook(nb, parameters, kernel_name="python3")
        nb = remove_error_markers(prepare_notebook_metadata(nb, "NotebookNode object", None))
        try:
            return inprocess.execute(nb, {PASSWORD_ENV: password} if password else {})
        except inprocess.NotebookError as exc:
            raise ReportError(_failed(view, exc.ename, exc.evalue)) from None

    def render(
        self,
        view: str,
        parameters: dict[str, Any],
        out_dir: Path,
        name: str,
        formats: tuple[str, ...],
        within: Path | None = None,
        pdf_engine: str = "auto",
    ) -> dict[str, Path]:
        """Execute and write `<out_dir>/<name>.<format>` for each format, and the files the
        report links to beside it (`<out_dir>/<name>.<suffix>`, e.g. `agency.by_provider.csv`,
        `Report.files`); return the paths by format or suffix.

        `within`: a folder holding `out_dir` below which no symbolic link is followed
        (a batch's output set; `files.write_atomic`). `pdf_engine`: `chromium`, `weasyprint`
        or `auto` (`report.pdf_engine`); with a `converter`, the converter's engine prints.
        """
        here = "ipynb" not in formats and self.runs_in_process(view)
        nb = self.execute(view, parameters | {"report_name": name}, in_process=here)
        meta = report_meta(nb)
        written: dict[str, Path] = {}
        for suffix, text in sorted(report_files(nb).items()):
            path = out_dir / f"{name}.{suffix}"
            write_atomic(path, text.encode("utf-8"), within=within)
            written[suffix] = path
        if "ipynb" in formats:
            path = out_dir / f"{name}.ipynb"
            write_atomic(path, nbformat.writes(nb).encode("utf-8"), within=within)
            written["ipynb"] = path
        if ("html" in formats or "pdf" in formats) and self.converter is not None:
            paths: dict[str, Path] = {
                f: out_dir / f"{name}.{f}" for f in ("html", "pdf") if f in formats
            }
            self.converter.convert(
                nb,
                meta.get("title", view),
                meta.get("subtitle", meta.get("running_header", "")),
                meta.get("running_header", ""),
                paths.get("html"),
                paths.get("pdf"),
                within,
            )
            written |= paths
        elif "html" in formats or "pdf" in formats:
            from utilization.report.render import html_to_pdf, notebook_to_html

            subtitle = meta.get("subtitle", meta.get("running_header", ""))
            html = notebook_to_html(nb, meta.get("title", view), subtitle)
            if "html" in formats:
                path = out_dir / f"{name}.html"
                write_atomic(path, html.encode("utf-8"), within=within)
                written["html"] = path
            if "pdf" in formats:
                path = out_dir / f"{name}.pdf"
                header = meta.get("running_header", "")
                html_to_pdf(html, path, header=header, within=within, engine=pdf_engine)
                written["pdf"] = path
        return written


def _failed(view: str, name: str, value: str) -> str:
    """What stopped a report's notebook: the product's own message as it is (an id not in
    the data), anything else with the name of the error.
    """
    kind = getattr(exceptions, name, None)
    if isinstance(kind, type) and issubclass(kind, exceptions.UtilizationError):
        return f"{view} report: {value}"
    return f"{view} report failed: {name}: {value}"
