"""Batch workers: one process per core (or Dask worker), each with one reused kernel."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from utilization.batch.index import FIGURES_CELL, figures_of
from utilization.batch.manifest import ReportRecord
from utilization.batch.plan import Job
from utilization.files import sha256_file
from utilization.report.runner import Renderer

_renderer: BatchRenderer | None = None
_lock = threading.Lock()  # a kernel renders one report at a time, whatever the threads


class BatchRenderer(Renderer):
    """A Renderer whose templates end with a hidden cell publishing the key figures."""

    last_figures: dict[str, Any]

    def template(self, view: str) -> nbformat.NotebookNode:
        """The view's template plus the key-figures cell (tagged to stay out of the HTML)."""
        fresh = view not in self._templates
        nb = super().template(view)
        if fresh:
            cell = nbformat.v4.new_code_cell(FIGURES_CELL, metadata={"tags": ["remove-cell"]})
            nb.cells.append(cell)
        return nb

    def own_cells(self, view: str) -> list[tuple[str, tuple[str, ...]]]:
        """The package's cells of the template, and the key-figures cell."""
        return [*super().own_cells(view), (FIGURES_CELL, ("remove-cell",))]

    def execute(
        self, view: str, parameters: dict[str, Any], in_process: bool = False
    ) -> nbformat.NotebookNode:
        """Run the template; keep the key figures it published."""
        nb = super().execute(view, parameters, in_process)
        self.last_figures = figures_of(nb)
        return nb


@dataclass(frozen=True)
class Task:
    """Jobs for one worker call: where to write, which formats, and optionally a data slice."""

    jobs: list[Job]
    keys: dict[str, str]  # job name -> job key
    folder: Path  # the set's period folder; reports go to <folder>/<view>/<name>.<ext>
    formats: tuple[str, ...]
    slice_bytes: bytes | None = None
    part: tuple[str, str] | None = None  # a part's dataset and the whole rejects (batch.parts)
    figures: str | None = None  # the report's figures made in parts (batch.parts.views_of_parts)
    dataset: str | None = None  # the loaded data set, written mapped by the run (`run._mapped`)
    pdf_engine: str = "auto"  # chromium or weasyprint, chosen by the run (`pdf_engine.choose`)


def renderer() -> BatchRenderer:
    """This process's renderer, started on first use and kept for every later report."""
    global _renderer
    if _renderer is None:
        _renderer = BatchRenderer()
        _close_at_exit()
    return _renderer


def close_renderer() -> None:
    """Shut this process's kernel down and close its browser (the PDF engine), if started."""
    global _renderer
    from utilization.report.chromium import close_shared

    try:
        if _renderer is not None:
            _renderer.close()
            _renderer = None
    finally:
        close_shared()


def _close_at_exit() -> None:
    """Close the kernel when the process ends; multiprocessing children skip atexit, so use
    its own finalizers as well.
    """
    import atexit
    from multiprocessing import util

    atexit.register(close_renderer)
    util.Finalize(None, close_renderer, exitpriority=10)


def run_task(task: Task) -> list[ReportRecord]:
    """Render each job of the task; a failing report becomes a failed record, never an error."""
    data = written = None
    if task.slice_bytes is not None:
        from utilization.batch.slices import materialize

        data = written = materialize(task.slice_bytes)  # the task's own file
    elif task.figures is not None:
        data = task.figures
    elif task.dataset is not None:
        data = task.dataset
    elif task.part is not None:
        from utilization.batch.parts import part_slice

        try:
            data = part_slice(*task.part)
        except Exception as exc:  # every report of the task fails, saying why
            error = f"{type(exc).__name__}: {exc}".strip()
            return [
                ReportRecord(j.name, j.view, j.subject, task.keys[j.name], "failed", error=error)
                for j in task.jobs
            ]
    try:
        with _lock:
            return [_render(job, task, data) for job in task.jobs]
    finally:
        if written is not None:  # its reports are made
            Path(written).unlink(missing_ok=True)


def _render(job: Job, task: Task, data: str | None) -> ReportRecord:
    record = ReportRecord(job.name, job.view, job.subject, task.keys[job.name], "ok")
    parameters = job.parameters if data is None else job.parameters | {"data_slice": data}
    out_dir = task.folder / job.view
    start = time.perf_counter()
    try:
        rend = renderer()
        written = rend.render(
            job.view,
            parameters,
            out_dir,
            job.name,
            task.formats,
            within=task.folder,
            pdf_engine=task.pdf_engine,
        )
        record.figures = rend.last_figures
        record.outputs = {
            fmt: {"path": f"{job.view}/{path.name}", "sha256": sha256_file(path)}
            for fmt, path in written.items()
        }
    except Exception as exc:  # one report failing must not stop the others
        record.status = "failed"
        record.error = f"{type(exc).__name__}: {exc}".strip()
    record.seconds = time.perf_counter() - start
    return record
