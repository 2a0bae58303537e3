"""Batch runs: every report of a parameter set, resumable, on local processes or a Dask cluster."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from utilization import views
from utilization.batch.index import FIGURES_CELL, index_html
from utilization.batch.manifest import (
    ReportRecord,
    input_fingerprints,
    job_key,
    package_fingerprint,
    read_manifest,
    up_to_date,
    write_manifest,
)
from utilization.batch.plan import Job, ParameterSet, read_parameter_set, unknown_subject
from utilization.batch.workers import Task
from utilization.dataset import Dataset
from utilization.exceptions import EnvironmentFault, require
from utilization.files import (
    ensure_folder,
    locked,
    open_append,
    remove_temporary,
    run_folder,
    sha256_file,
    write_atomic,
)
from utilization.parameters import Request
from utilization.report.pdf_engine import choose
from utilization.report.runner import RESET, templates_dir
from utilization.sources import masked_source

if TYPE_CHECKING:
    from distributed import Client

    from utilization.batch.parts import Parts
    from utilization.partitions import PartRunner

LOG = "batch.log"
LOCK = ".batch.lock"  # one run per set and period at a time
INDEX = "index.html"
SAVE_EVERY_SECONDS = 2.0  # the manifest is rewritten this often while reports finish
CHUNK_MAX = 50  # reports per Dask task at most


@dataclass
class BatchResult:
    """What a run did: every report's record and where the index is."""

    folder: Path
    records: list[ReportRecord] = field(default_factory=list)

    @property
    def failed(self) -> list[ReportRecord]:
        """Reports that could not be made."""
        return [r for r in self.records if r.status == "failed"]

    @property
    def rendered(self) -> int:
        """Reports rendered (or tried) by this run; the others were up to date."""
        return sum(r.rendered for r in self.records)

    def summary(self) -> str:
        """One line for the terminal and the log: the reports ok, those of them rendered now
        and those up to date (the two add up to the reports ok), and those that failed.
        """
        ok = [r for r in self.records if r.status != "failed"]
        made = sum(r.rendered for r in ok)
        return (
            f"{len(ok)} of {len(self.records)} reports ok ({made} rendered, {len(ok) - made} "
            f"up to date), {len(self.failed)} failed; index: {self.folder / INDEX}"
        )


# -- command line --------------------------------------------------------------------------


def cmd_batch(args: argparse.Namespace) -> int:
    """Run a parameter set; exit 1 when any report failed (after making all the others)."""
    spec = read_parameter_set(Path(args.params), Path(args.out) if args.out else None, args.period)
    result = run_batch(
        spec,
        workers=args.workers,
        scheduler=args.scheduler,
        force=args.force,
        progress=not args.no_progress,
        partitions=args.partitions,
        pdf_engine=args.pdf_engine,
    )
    print(result.summary())
    for record in result.failed:
        print(f"failed: {record.view} {record.subject or record.name}", file=sys.stderr)
    return 1 if result.failed else 0


# -- a run ---------------------------------------------------------------------------------


def run_batch(
    spec: ParameterSet,
    workers: int = 1,
    scheduler: str | None = None,
    force: bool = False,
    progress: bool = False,
    partitions: int | None = None,
    pdf_engine: str = "auto",
) -> BatchResult:
    """Render every report of the set that is missing or out of date; write index and manifest.

    The data is loaded whole by this process, or (reports of one client on a folder of files,
    on a cluster, with `partitions` > 0 or above `partitions.AUTOMATIC_ROWS` visits) cut into
    parts that the workers read (`batch.parts`): then this process holds no visit.

    `pdf_engine`: `chromium`, `weasyprint` or `auto` (chromium when found, `report.pdf_engine`),
    chosen here, before any work, for every worker (one browser per worker process).
    """
    from utilization.batch.parts import check_partitions
    from utilization.rejects import write_rejects

    engine = choose(pdf_engine) if "pdf" in spec.formats else "none"
    if scheduler:
        require("distributed", "dask", "Batch runs on a Dask cluster")
    check_partitions(spec, partitions)  # before connecting or writing anything
    folder = ensure_folder(spec.folder, within=spec.out)  # no planted link on the way
    with (
        locked(folder / LOCK, "another batch run"),
        _Log(folder / LOG) as log,
        _cluster(scheduler) as client,
    ):
        ensure_folder(folder / spec.view, within=folder)  # the reports' folder: no link
        removed = remove_temporary_files(folder)
        with _data(spec, partitions, workers, client, log.write) as data:
            dataset = data.dataset
            log.names = _client_names(dataset)
            rejects = write_rejects(dataset, folder, within=folder)
            header = _header(spec, dataset)
            if engine != "none":
                header["pdf_engine"] = engine
            records, todo, keys = _plan(spec, data, header, force, log.write)
            log.write(
                f"start set {spec.name} period {spec.period.label} view {spec.view}: "
                f"{len(records) + len(todo)} report(s), {len(todo)} to render"
                + (f" from {len(data.parts.files)} part(s) of the data" if data.parts else "")
                + (
                    f"; removed {removed} temporary file(s) of an interrupted run"
                    if removed
                    else ""
                )
            )
            for record in (r for r in records if r.rendered):
                log.report(record)
            saved = time.monotonic()
            for record in _execute(
                spec, data, todo, keys, workers, client, progress, len(records), log.write, engine
            ):
                record.error = log.scrub(record.error)
                records.append(record)
                log.report(record)
                if time.monotonic() - saved > SAVE_EVERY_SECONDS:
                    write_manifest(folder, header, records)
                    saved = time.monotonic()
        header |= {"status": "complete", "finished": _now()}
        write_atomic(folder / INDEX, index_html(header, records), within=folder)
        header["files"] = {p.name: sha256_file(p) for p in (folder / INDEX, rejects)}
        write_manifest(folder, header, records)
        result = BatchResult(folder, records)
        log.write("done: " + result.summary())
    return result


@dataclass(frozen=True)
class _Data:
    """What the coordinator knows of the data: the whole dataset, or (in parts) the catalogs
    with every reject and the parts the workers read.
    """

    dataset: Dataset
    parts: Parts | None = None
    run: PartRunner | None = None  # what ran the parts (a report's figures: `views_of_parts`)


@contextmanager
def _cluster(scheduler: str | None) -> Iterator[Client | None]:
    """A client of the Dask scheduler, if one is given."""
    if not scheduler:
        yield None
        return
    from utilization.batch.cluster import connect

    with connect(scheduler) as client:
        yield client


@contextmanager
def _data(
    spec: ParameterSet,
    partitions: int | None,
    workers: int,
    client: Client | None,
    note: Callable[[str], None],
) -> Iterator[_Data]:
    """The run's data: loaded whole, or cut into parts prepared on the cluster's or local
    workers (`batch.parts`; their work folder removed when the run ends).
    """
    from utilization.batch.parts import parts_wanted, prepared
    from utilization.partitions import local_runner

    if client is not None:
        from utilization.batch.cluster import part_runner, worker_count

        parts = parts_wanted(spec, partitions, worker_count(client), on_cluster=True)
        run = part_runner(client)
    else:
        parts = parts_wanted(spec, partitions, workers, on_cluster=False)
        run = local_runner(workers)
    if parts is None:
        from utilization.pipeline import load

        yield _Data(load(spec.data, spec.settings or None))
        return
    with prepared(spec, parts, run, note) as made:
        yield _Data(made.context, made, run)


def _plan(
    spec: ParameterSet,
    data: _Data,
    header: dict[str, Any],
    force: bool,
    note: Callable[[str], None],
) -> tuple[list[ReportRecord], list[Job], dict[str, str]]:
    """Records settled before rendering (up to date, or an id not in the data: failed), the
    jobs to render, and every job's key.
    """
    from utilization.batch.plan import jobs

    dataset = data.dataset
    all_jobs = jobs(spec, dataset, data.parts.active if data.parts else None)
    keys = {j.name: _key(j, header) for j in all_jobs}
    previous = {} if force else read_manifest(spec.folder, note)
    records: list[ReportRecord] = []
    todo: list[Job] = []
    for job in all_jobs:
        earlier = previous.get(job.name)
        if up_to_date(earlier, keys[job.name], spec.formats, spec.folder):
            records.append(earlier)  # type: ignore[arg-type]
        elif reason := unknown_subject(job, dataset):
            records.append(
                ReportRecord(
                    job.name, job.view, job.subject, keys[job.name], "failed", error=reason
                )
            )
        else:
            todo.append(job)
    return records, todo, keys


def _key(job: Job, header: dict[str, Any]) -> str:
    """The job's key, from its parameters with a database password masked (a hash of a
    password among known values could be guessed back) and, when PDFs are made, the engine
    that prints them (a run with another engine makes them again).
    """
    parameters = job.parameters | {"data": masked_source(str(job.parameters.get("data", "")))}
    if "pdf_engine" in header:
        parameters["pdf_engine"] = header["pdf_engine"]
    return job_key(parameters, header["inputs"], header["templates"][job.view], header["package"])


def _header(spec: ParameterSet, dataset: Dataset) -> dict[str, Any]:
    """The manifest's facts about the run: parameters and the fingerprints of what went in."""
    return {
        "set": spec.name,
        "parameters": spec.describe(),
        "package": package_fingerprint(),
        "inputs": input_fingerprints(spec.data, spec.settings, dataset),
        "templates": {view: template_fingerprint(view) for view in views.VIEWS},
        "status": "running",
        "started": _now(),
        "finished": "",
    }


def template_fingerprint(view: str) -> str:
    """SHA-256 of the view's template notebook and the cells a batch run adds to it."""
    from utilization.batch.manifest import sha256_text

    path = templates_dir() / views.get(view).template
    return sha256_text(sha256_file(path) + RESET + FIGURES_CELL)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _client_names(dataset: Dataset) -> list[str]:
    names = dataset.clients["client_name"].dropna().astype(str).str.strip()
    return sorted({n for n in names if len(n) >= 2}, key=len, reverse=True)


# -- executing -----------------------------------------------------------------------------


def _execute(
    spec: ParameterSet,
    data: _Data,
    todo: list[Job],
    keys: dict[str, str],
    workers: int,
    client: Client | None,
    progress: bool,
    done: int,
    note: Callable[[str], None],
    pdf_engine: str,
) -> Iterator[ReportRecord]:
    """Records of the jobs as they finish, under a progress bar (counts, rate, ETA); `note`
    is told what happened on the way (a worker that died).
    """
    from tqdm import tqdm

    total = done + len(todo)
    with tqdm(
        total=total, initial=done, unit="report", disable=not progress or not todo, file=sys.stderr
    ) as bar:
        failed = 0
        for records in _batches(spec, data, todo, keys, workers, client, note, pdf_engine):
            for record in records:
                failed += record.status == "failed"
                bar.set_postfix(failed=failed, refresh=False)
                bar.update(1)
                yield record


def _batches(
    spec: ParameterSet,
    data: _Data,
    todo: list[Job],
    keys: dict[str, str],
    workers: int,
    client: Client | None,
    note: Callable[[str], None],
    pdf_engine: str,
) -> Iterator[list[ReportRecord]]:
    from utilization.batch.parts import by_client

    if not todo:
        return
    with ExitStack() as stack:
        if data.parts is not None and not by_client(spec.view):
            tasks = figure_tasks(spec, data, todo, keys, pdf_engine)
        elif client is not None:
            from utilization.batch.cluster import worker_count

            count = worker_count(client)
            if data.parts is not None:
                tasks = part_tasks(spec, data.parts, todo, keys, count, pdf_engine=pdf_engine)
            else:
                tasks = sliced_tasks(spec, data.dataset, todo, keys, count, pdf_engine)
        elif data.parts is not None:
            tasks = part_tasks(spec, data.parts, todo, keys, chunk=1, pdf_engine=pdf_engine)
        else:  # on local workers, each maps the loaded data set (removed when the run ends)
            shared = stack.enter_context(_mapped(data.dataset, note)) if workers > 1 else None
            tasks = [
                Task([job], keys, spec.folder, spec.formats, dataset=shared, pdf_engine=pdf_engine)
                for job in todo
            ]
        if client is not None:
            from utilization.batch.cluster import run_on_cluster

            yield from run_on_cluster(client, tasks)
            return
        if workers <= 1:
            from utilization.batch.workers import close_renderer, run_task

            try:
                for task in tasks:
                    yield run_task(task)
            finally:
                close_renderer()
            return
        from utilization.batch.pool import run_pool

        yield from run_pool(tasks, min(workers, len(tasks)), note)


@contextmanager
def _mapped(dataset: Dataset, note: Callable[[str], None]) -> Iterator[str | None]:
    """The loaded data set written once for the local workers (`pipeline.write_shared`, with
    what it derived): each worker's kernel maps that file instead of reading, validating and
    matching the source again, and the system's file cache holds one copy for all of them.
    The file is removed when the run ends. None, and `note` told why, when it cannot be
    written (TMPDIR full): each worker then loads the source itself, as it would without.
    """
    from utilization.pipeline import write_shared

    folder = run_folder("utilization-batch-")
    try:
        path = folder / "dataset.pickle"
        try:
            write_shared(path, dataset)
        except EnvironmentFault as exc:
            note(f"{exc}; each worker reads the data itself instead")
            yield None
            return
        yield str(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _chunk_size(jobs: int, workers: int) -> int:
    """Reports per cluster task: about four tasks per worker, at most CHUNK_MAX."""
    return max(1, min(CHUNK_MAX, jobs // (workers * 4) or 1))


def sliced_tasks(
    spec: ParameterSet,
    dataset: Dataset,
    todo: list[Job],
    keys: dict[str, str],
    workers: int,
    pdf_engine: str = "auto",
) -> list[Task]:
    """Chunks of jobs for a cluster, each with the slice of the dataset its reports read."""
    from utilization.batch.slices import slice_dataset, to_bytes

    size = _chunk_size(len(todo), workers)
    tasks = []
    for start in range(0, len(todo), size):
        chunk = todo[start : start + size]
        part = slice_dataset(dataset, spec.view, [j.subject for j in chunk])
        tasks.append(
            Task(chunk, keys, spec.folder, spec.formats, to_bytes(part), pdf_engine=pdf_engine)
        )
    return tasks


def figure_tasks(
    spec: ParameterSet, data: _Data, todo: list[Job], keys: dict[str, str], pdf_engine: str
) -> list[Task]:
    """One task per job of a view not about one client on data in parts, naming the file of
    the report's figures made of every part (`batch.parts.views_of_parts`, a `PreparedView`
    in the run's work folder): the worker's template draws them as its data slice; no
    process holds the visits.
    """
    from utilization.batch.parts import views_of_parts

    if data.parts is None or data.run is None:
        msg = "internal error: figures of parts without parts"
        raise AssertionError(msg)
    requests = [Request.from_notebook(job.view, **job.parameters) for job in todo]
    files = views_of_parts(data.parts, requests, data.run)
    return [
        Task([job], keys, spec.folder, spec.formats, figures=file, pdf_engine=pdf_engine)
        for job, file in zip(todo, files, strict=True)
    ]


def part_tasks(
    spec: ParameterSet,
    parts: Parts,
    todo: list[Job],
    keys: dict[str, str],
    workers: int = 1,
    chunk: int | None = None,
    pdf_engine: str = "auto",
) -> list[Task]:
    """Chunks of jobs of one part each (`chunk` reports, default `_chunk_size`), in part
    order, each naming the files its reports read (`batch.parts.part_slice`).
    """
    size = chunk or _chunk_size(len(todo), workers)
    by_part: dict[tuple[str, str], list[Job]] = {}
    for job in todo:
        by_part.setdefault(parts.slice_of(job.subject), []).append(job)
    tasks = []
    for files, jobs in sorted(by_part.items()):
        for start in range(0, len(jobs), size):
            tasks.append(
                Task(
                    jobs[start : start + size],
                    keys,
                    spec.folder,
                    spec.formats,
                    part=files,
                    pdf_engine=pdf_engine,
                )
            )
    return tasks


# -- files ---------------------------------------------------------------------------------


def remove_temporary_files(folder: Path) -> int:
    """Delete the product's own temporary files (`files.temporary_name`) an interrupted run
    left behind in the set's folder; a user's file, whatever its name, stays.
    """
    return remove_temporary(folder)


class _Log:
    """`batch.log`: one timestamped line per event; client ids only, names scrubbed out."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.names: list[str] = []
        self._handle: TextIO | None = None

    def __enter__(self) -> _Log:
        self._handle = open_append(self.path)  # never through a planted link
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()

    def scrub(self, text: str) -> str:
        """`text` with every client name replaced by `[client name]`."""
        for name in self.names:
            if name in text:
                text = text.replace(name, "[client name]")
        return text

    def write(self, line: str) -> None:
        """Append one line with the time."""
        assert self._handle is not None
        self._handle.write(f"{_now()} {self.scrub(line)}\n")
        self._handle.flush()

    def report(self, record: ReportRecord) -> None:
        """The outcome of one report: ok with seconds and files, or failed with the error."""
        who = f"{record.view} {record.subject or record.name}"
        if record.status == "ok":
            files = ", ".join(o["path"] for o in record.outputs.values())
            self.write(f"ok {who} {record.seconds:.2f}s {files}")
        else:
            self.write(f"FAILED {who}: {record.error}")
