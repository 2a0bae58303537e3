"""Data larger than memory: the rows cut into parts by client, each part's figures, put together.

Every figure is a sum over clients or belongs to one client, and matching never crosses
clients, so a data folder can be cut into parts that each hold whole clients:

    cut(folder, parts, work)      one pass over each large table (visits, authorizations,
                                  payments), a batch of rows at a time: each row to the part
                                  of its client (the clients in client_id order, cut into
                                  ranges), a payment to the part of its visit; the ids repeated
                                  over the whole table (a visit_id given twice, in rows of two
                                  clients) found on the way
    run_part(job)                 one part: its rows validated with the whole catalogs and the
                                  repeats found over the whole table, matched, and the view's
                                  figures made in parts (`views.view_parts`)
    view_figures(...)             the parts' figures put together (`views.view_of_parts`):
                                  rejects by table and row, row counts added up, the view's
                                  frames in the order of the whole
    schedule_in_parts(...)        `check-schedule`: only the scheduled visits that would not
                                  be paid, from each part (`schedule_part`), in time order

The result is the `ViewFigures` of `build_view` on the whole data set, to the last bit
(`tests/test_partitions.py`). Parts run one after the other, on local worker processes, or on
a Dask cluster (`utilization export ... --scheduler ADDRESS`, through `batch.cluster`): a part
is a folder of files in the work folder, which the workers must be able to read (for a
cluster, set TMPDIR to a shared folder).
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from utilization import hugepages, matching, packing, schedule, sources, threads, validation, views
from utilization.dataset import TABLES, VISIT_KEYS, Dataset, PreparedView, plain_numbers, positions
from utilization.exceptions import EnvironmentFault, InputError, UsageError
from utilization.figures import ViewFigures
from utilization.files import run_folder
from utilization.parameters import Request
from utilization.period import Period
from utilization.pipeline import has_remittances, load
from utilization.selection import Selection
from utilization.settings import Settings, load_settings
from utilization.sources import ROW, IrregularCsv, RawSource

ROWS_PER_PART = 1_000_000
"""Visits per part when the number of parts is chosen for the data (about 1 GB of memory)."""
AUTOMATIC_ROWS = 2_000_000
"""Visits above which `utilization export` cuts the data into parts by itself."""
BATCH_ROWS = 1 << 20
"""Rows read at a time while cutting."""
LARGE: tuple[str, ...] = ("visits", "payments", "authorizations")
"""The tables that are cut (visits first: a payment goes to the part of its visit)."""
CATALOGS: tuple[str, ...] = tuple(t for t in TABLES if t not in LARGE)
"""The tables every part reads whole (clients, procedures, payers, providers)."""
KEYS = {"visits": "visit_id", "authorizations": "authorization_id"}
"""The id column of each cut table whose repeats are rejected (data contract §2)."""

R = TypeVar("R")


class PartRunner(Protocol):
    """Runs a function of one part (`run_part`, a batch run's `prepare_part`) on every job, in
    any order, on any machine, and yields the results as they come.
    """

    def __call__(self, work: Callable[[PartJob], R], jobs: list[PartJob]) -> Iterator[R]: ...


@dataclass(frozen=True)
class Cut:
    """A data folder cut into parts: where each part's files are, and what only the whole
    table shows (rows read of each table, ids repeated over a whole table).
    """

    folder: Path
    work: Path
    parts: int
    files: dict[str, Path]  # table -> its file in the data folder
    rows: dict[str, int]  # table -> rows read (blank rows left out)
    repeats: dict[str, validation.Repeats]
    base: Path = field(default_factory=Path.cwd)  # where relative `files` start (any worker)
    part_rows: dict[str, tuple[int, ...]] = field(default_factory=dict)  # table -> per part

    def part_file(self, table: str, index: int) -> Path:
        """The file holding the rows of `table` of part `index`."""
        return part_file(self.work, table, index)

    def file(self, table: str) -> Path:
        """The table's file in the data folder, as a worker anywhere finds it (absolute)."""
        return self.base / self.files[table]


@dataclass(frozen=True)
class PartJob:
    """What one part needs: the cut, its number, the settings and the request (`also`: more
    requests whose figures `run_part` makes of the same rows, read once).
    """

    cut: Cut
    index: int
    settings: Settings
    request: Request
    also: tuple[Request, ...] = ()

    @property
    def requests(self) -> tuple[Request, ...]:
        """The request, then those `also` asks for."""
        return (self.request, *self.also)


@dataclass
class PartFigures:
    """What one part gives: for each of the job's requests its parts of the view's figures
    and the newest payment date (`views.view_parts`), the rejects, row counts and rows read of
    the cut tables, and (part 0 only) the catalogs with their rejects and row counts.
    """

    index: int
    made: list[tuple[dict[str, Any], date | None]]
    rejects: pd.DataFrame
    counts: pd.DataFrame
    catalogs: Dataset | None = None
    catalog_rows: dict[str, int] = field(default_factory=dict)


# -- choosing ---------------------------------------------------------------------------------


def folder_of(source: str | Path) -> Path | None:
    """The data folder of `source` when it can be cut (a folder of CSV or Parquet files
    without `remittances/`), else None.
    """
    folder = sources.on_disk(source)
    if folder is None or not folder.is_dir() or has_remittances(folder):
        return None
    return folder


def cuttable(source: str | Path) -> Path:
    """The data folder of `source`, or UsageError when it cannot be cut (`folder_of`)."""
    folder = folder_of(source)
    if folder is None:
        msg = (
            f"{source}: only a folder of CSV or Parquet files (without a remittances/ "
            "folder) can be cut into parts; export it without --partitions and --scheduler"
        )
        raise UsageError(msg)
    return folder


def parts_for(folder: Path, workers: int | None = None) -> int:
    """How many parts the data of `folder` is cut into when not told: one per
    `ROWS_PER_PART` visits (at least one), more than one rounded up to a multiple of
    `workers` (default: the cores) so that the last round of parts keeps every worker busy.
    """
    files = _table_files(folder)
    rows = sources.table_rows(files["visits"]) if "visits" in files else 0
    parts = max(1, math.ceil(rows / ROWS_PER_PART))
    if parts == 1:
        return 1
    count = max(1, workers or os.cpu_count() or 1)
    return math.ceil(parts / count) * count


def view_figures(
    source: str | Path,
    request: Request,
    settings: str | Path | Settings | None = None,
    parts: int | None = None,
    run: PartRunner | None = None,
    workers: int | None = None,
) -> ViewFigures:
    """The figures of `request` on `source`, cut into parts when that is asked for or when
    the data is large; else loaded in memory (`pipeline.load`, `views.build_view`).

    `parts`: how many parts (0: in memory; None: chosen for the data, in memory below
    `AUTOMATIC_ROWS` visits unless `run` is given). `run` runs the parts (a Dask cluster's,
    `batch.cluster.part_runner`); by default they run on `workers` local processes (default:
    the cores), one after the other in this process when `workers` is 1.
    """
    chosen = parts_to_cut(source, parts, run is not None, workers)
    if chosen is None:
        return views.build_view(load(source, settings), request)
    return prepared_views(chosen, [request], settings, run, workers)[0].figures


def parts_to_cut(
    source: str | Path, parts: int | None, cluster: bool = False, workers: int | None = None
) -> tuple[Path, int] | None:
    """The data folder of `source` and how many parts to cut it into, or None when it is
    loaded in memory: `parts` 0, or None (chosen) for a source that cannot be cut or, unless
    the parts run on a `cluster`, for up to `AUTOMATIC_ROWS` visits. UsageError when parts
    are asked of a source that cannot be cut (`cuttable`).
    """
    folder = folder_of(source)
    if parts == 0 or (folder is None and parts is None and not cluster):
        return None
    folder = cuttable(source)
    if parts is None:
        files = _table_files(folder)
        rows = sources.table_rows(files["visits"]) if "visits" in files else 0
        if rows <= AUTOMATIC_ROWS and not cluster:
            return None
        parts = parts_for(folder, workers)
    return folder, parts


def prepared_views(
    chosen: tuple[Path, int],
    requests: Sequence[Request],
    settings: str | Path | Settings | None = None,
    run: PartRunner | None = None,
    workers: int | None = None,
) -> list[PreparedView]:
    """The figures of each of `requests` on a data folder cut into parts (`parts_to_cut`),
    with the whole data set's context (a report draws them: `dataset.PreparedView`); the parts
    run by `run`, by default on `workers` local processes (see `view_figures`).
    """
    context, results = _each_part(chosen, settings, requests, run_part, run, workers)
    return put_together(context, requests, [r.made for r in results])


def figures_of_cut(
    cut_data: Cut, settings: Settings, request: Request, run: PartRunner
) -> ViewFigures:
    """The figures of `request` on a cut data folder, its parts run by `run`."""
    return views_of_cut(cut_data, settings, [request], run)[0].figures


def views_of_cut(
    cut_data: Cut, settings: Settings, requests: Sequence[Request], run: PartRunner
) -> list[PreparedView]:
    """The figures of each of `requests` (at least one) on a cut data folder, with the whole
    data set's context; each part read, validated and matched once, by `run`.
    """
    context, results = results_of_cut(cut_data, settings, requests, run_part, run)
    return put_together(context, requests, [r.made for r in results])


@contextmanager
def work_folder() -> Iterator[Path]:
    """A new private folder for the parts, removed afterwards (in TMPDIR)."""
    path = run_folder("utilization-parts-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def local_runner(workers: int | None = None) -> PartRunner:
    """Runs parts on `workers` local processes (default: the cores); in this process when 1."""
    count = workers or os.cpu_count() or 1

    def run(work: Callable[[PartJob], R], jobs: list[PartJob]) -> Iterator[R]:
        if count <= 1 or len(jobs) <= 1:
            yield from map(work, jobs)
            return
        context = get_context("spawn")  # no forked copy of this process's threads and memory
        with ProcessPoolExecutor(
            max_workers=min(count, len(jobs)), mp_context=context, initializer=threads.in_worker
        ) as pool:
            try:
                yield from pool.map(work, jobs)
            except BrokenProcessPool:
                msg = (
                    f"a worker process ended before its part of the {len(jobs)} was done "
                    "(out of memory?); cut the data into more parts (--partitions) or use "
                    "fewer workers"
                )
                raise EnvironmentFault(msg) from None
            finally:  # a part that failed: the others waiting are not started
                pool.shutdown(wait=False, cancel_futures=True)

    return run


# -- cutting ----------------------------------------------------------------------------------


def _table_files(folder: Path) -> dict[str, Path]:
    """The table files of a data folder, checked as `sources.read_source` checks them."""
    return sources.folder_tables(folder)


@hugepages.in_small_pages
def cut(folder: Path, parts: int, work: Path, note: Callable[[str], None] | None = None) -> Cut:
    """Cut the large tables of `folder` into `parts` parts by client, in `work`.

    Clients are taken in client_id order and cut into `parts` ranges of about as many
    clients; a visit or authorization goes to the part of its client (one whose client is
    missing or unknown to part 0: it is rejected there), a payment to the part of the
    first row of its visit_id (part 0 when there is none). Rows keep their order and row
    numbers. A table is read a batch at a time; a CSV file Arrow cannot stream (a blank
    line, a ragged row, a row over 1 MB) is read whole, and `note` (default: standard
    error) is told why, since memory then grows with the file.
    """
    note = note or _to_stderr
    files = _table_files(folder)
    clients = _catalog_ids(sources.read_table(files["clients"]))
    parts = max(1, min(parts, len(clients)))  # at most a part per client: none left empty
    client_part = _client_parts(clients, parts)
    rows: dict[str, int] = {}
    part_rows: dict[str, tuple[int, ...]] = {}
    repeats: dict[str, validation.Repeats] = {}
    visit_parts: _Lookup | None = None
    for table in LARGE:
        if table not in files:
            continue
        try:
            found = _cut_table(
                work,
                table,
                parts,
                sources.table_batches(files[table], BATCH_ROWS),
                client_part,
                visit_parts,
            )
        except IrregularCsv as why:  # read whole, as read_csv reads it
            note(
                f"note: {why}; the file is read whole to cut it, so memory grows with it "
                "(save it without blank lines, or as Parquet, to keep memory bounded)"
            )
            found = _cut_table(
                work,
                table,
                parts,
                iter([sources.read_table(files[table])]),
                client_part,
                visit_parts,
            )
        part_rows[table], table_repeats, lookup = found
        rows[table] = sum(part_rows[table])
        if table_repeats is not None:
            repeats[table] = table_repeats
        if lookup is not None:
            visit_parts = lookup
    return Cut(folder, work, parts, files, rows, repeats, part_rows=part_rows)


def _to_stderr(text: str) -> None:
    print(f"utilization: {text}", file=sys.stderr)


def _cut_table(
    work: Path,
    table: str,
    parts: int,
    batches: Iterator[pd.DataFrame],
    client_part: Callable[[pd.DataFrame], npt.NDArray[np.int64]],
    visit_parts: _Lookup | None,
) -> tuple[tuple[int, ...], validation.Repeats | None, _Lookup | None]:
    """Write the rows of one table into its part files; the rows written to each part, the
    repeated ids (visits, authorizations) and, for visits, the part of each visit_id.
    """
    key = KEYS.get(table)
    ids: list[pd.Series] = []
    numbers: list[npt.NDArray[np.int64]] = []
    visit_ids: list[pd.Series] = []
    part_of: list[npt.NDArray[np.int64]] = []
    count = np.zeros(parts, dtype=np.int64)
    with _Writers(work, table, parts) as writers:
        for frame in batches:
            if table == "payments":
                where = _payment_parts(frame, visit_parts)
            else:
                where = client_part(frame)
            count += np.bincount(where, minlength=parts)
            writers.write(frame, where)
            if key is not None and key in frame:
                ids.append(frame[key])
                numbers.append(frame[ROW].to_numpy(dtype=np.int64))
            if table == "visits" and "visit_id" in frame:
                visit_ids.append(frame["visit_id"])
                part_of.append(where)
    repeats = None
    if ids and key is not None:
        column = pd.concat(ids, ignore_index=True) if len(ids) > 1 else ids[0]
        del ids
        repeats = validation.repeated_ids(table, key, column, np.concatenate(numbers))
        del column
    lookup = _Lookup.of(visit_ids, part_of) if visit_ids else None
    return tuple(int(n) for n in count), repeats, lookup


def _catalog_ids(clients: pd.DataFrame) -> pd.Series:
    """The client ids of the catalog, every id given (valid or not) once, in order."""
    if "client_id" in clients:
        ids = validation.as_text(clients["client_id"]).dropna().drop_duplicates()
    else:
        ids = pd.Series([], dtype="str")
    return pd.Series(sorted(ids.tolist()), dtype="str")


def _client_parts(
    ordered: pd.Series, parts: int
) -> Callable[[pd.DataFrame], npt.NDArray[np.int64]]:
    """The part of each row of a frame with `client_id`: its client's range among the clients
    of the catalog (`_catalog_ids`); 0 for a client id that is missing or not in the catalog.
    """
    count = max(len(ordered), 1)
    part_of_rank = (np.arange(len(ordered) + 1, dtype=np.int64) * parts) // count
    part_of_rank[-1] = 0  # positions says -1: missing or unknown

    def part(frame: pd.DataFrame) -> npt.NDArray[np.int64]:
        if "client_id" not in frame:
            return np.zeros(len(frame), dtype=np.int64)
        rank = positions(validation.as_text(frame["client_id"]), ordered)
        found: npt.NDArray[np.int64] = part_of_rank[rank]
        return found

    return part


def _signed_integers(column: pd.Series) -> bool:
    """Whether a visit_id column read as numbers is signed 64-bit integers without gaps
    (unsigned ones of 2^63 and more would not survive as int64: those go by their text).
    """
    dtype = column.dtype
    kind, size = getattr(dtype, "kind", "O"), getattr(dtype, "itemsize", 8)
    return (kind == "i" or (kind == "u" and size < 8)) and not column.hasnans


@dataclass(frozen=True)
class _Lookup:
    """The part of the first row of each visit_id, to send each payment to its visit's part.

    Ids that are all plain whole numbers (`123`, as a number is written back) are looked up
    by binary search in their sorted numbers; others by Arrow's hash table. Visit ids read
    as integers (Parquet, SQL) are kept as numbers, their text made only when a payment's
    visit_id is not a plain number.
    """

    given_ids: pd.Series | None  # each visit_id once, as text (None: the text of `numbers`)
    parts: npt.NDArray[np.int64]
    numbers: npt.NDArray[np.int64] | None  # sorted, when the ids are plain whole numbers
    order: npt.NDArray[np.int64] | None  # position in `parts` of each of `numbers` (None: same)

    @classmethod
    def of(cls, given: list[pd.Series], part_of: list[npt.NDArray[np.int64]]) -> _Lookup:
        """The lookup of the visit_id columns of a table's batches, as read, and the part of
        each row.
        """
        part = np.concatenate(part_of)
        if all(_signed_integers(c) for c in given):
            values = np.concatenate([c.to_numpy(dtype=np.int64) for c in given])
            order = np.argsort(values, kind="stable")  # the earliest row of each id first
            values = values[order]
            first = np.ones(len(values), dtype=bool)
            first[1:] = values[1:] != values[:-1]
            return cls(None, part[order[first]], values[first], None)
        texts = [validation.as_text(c) for c in given]
        text = pd.concat(texts, ignore_index=True) if len(texts) > 1 else texts[0]
        codes, distinct = pd.factorize(text)
        first_row = np.full(len(distinct), -1, dtype=np.int64)
        rows = np.flatnonzero(codes >= 0)
        first_row[codes[rows[::-1]]] = rows[::-1]  # the earliest row of each id wins
        ids = pd.Series(np.asarray(distinct, dtype=object), dtype="str")
        numbers = plain_numbers(ids)
        sorting = None
        if numbers is not None:
            sorting = np.argsort(numbers, kind="stable")
            numbers = numbers[sorting]
        return cls(ids, part[first_row], numbers, sorting)

    @property
    def ids(self) -> pd.Series:
        """Each visit_id once, as text, in the order of `parts`."""
        if self.given_ids is not None:
            return self.given_ids
        digits = pc.cast(pa.array(self.numbers, type=pa.int64()), pa.large_string())
        return pd.Series(pd.array(digits, dtype="str"))

    def part_of(self, text: pd.Series) -> npt.NDArray[np.int64]:
        """The part of the visit of each visit_id (text); 0 where there is none."""
        if not len(self.parts):
            return np.zeros(len(text), dtype=np.int64)
        at: npt.NDArray[np.int64]
        mine = plain_numbers(text) if self.numbers is not None else None
        if self.numbers is not None and mine is not None and len(self.numbers):
            where = np.clip(np.searchsorted(self.numbers, mine), 0, len(self.numbers) - 1)
            hit = (self.numbers[where] == mine) & text.notna().to_numpy()
            found = where if self.order is None else self.order[where]
            at = np.where(hit, found, -1)
        else:
            at = positions(text, self.ids)
        return np.where(at >= 0, self.parts[np.maximum(at, 0)], 0)


def _payment_parts(frame: pd.DataFrame, visits: _Lookup | None) -> npt.NDArray[np.int64]:
    """The part of each payment: that of the first visit row with its visit_id, else 0."""
    if visits is None or "visit_id" not in frame:
        return np.zeros(len(frame), dtype=np.int64)
    return visits.part_of(validation.as_text(frame["visit_id"]))


class _Writers:
    """The part files of one table, each a sequence of frames (exact dtypes), each pickled
    and compressed (`packing.packed`).

    A batch is written by a thread of its own while the next one is read and placed (Arrow's
    take, the compression and the file writes let the interpreter go): one batch at a time
    is being written, so memory holds two batches at most.
    """

    def __init__(self, work: Path, table: str, parts: int) -> None:
        self.paths = [part_file(work, table, i) for i in range(parts)]
        self.handles: list[BinaryIO] = []
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cut-writer")
        self.pending: Future[None] | None = None

    def __enter__(self) -> _Writers:
        try:
            for path in self.paths:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.handles.append(path.open("wb"))
        except BaseException:  # the files opened so far closed, the thread ended
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self._wait()  # the last batch written (its error raised here)
        finally:
            try:
                self.writer.shutdown(wait=True)
            finally:
                for handle in self.handles:
                    handle.close()

    def write(self, frame: pd.DataFrame, part: npt.NDArray[np.int64]) -> None:
        """Append each part's rows of `frame` (in order) to its file, once the batch before
        is written; every file gets a frame, perhaps empty, so that each part has the
        table's columns.
        """
        self._wait()
        self.pending = self.writer.submit(self._write, frame, part)

    def _wait(self) -> None:
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def _write(self, frame: pd.DataFrame, part: npt.NDArray[np.int64]) -> None:
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(len(self.paths) + 1))
        ordered = frame.take(order)  # one take; each part's rows are then a slice of it
        written = [
            (handle, ordered.iloc[bounds[i] : bounds[i + 1]].reset_index(drop=True))
            for i, handle in enumerate(self.handles)
            if bounds[i] < bounds[i + 1] or handle.tell() == 0
        ]
        work = [partial(packing.packed, rows) for _, rows in written]
        packed = threads.together(work, len(frame))
        for (handle, _), data in zip(written, packed, strict=True):
            handle.write(data)


def part_file(work: Path, table: str, index: int) -> Path:
    """The file of the rows of `table` of part `index` in a work folder."""
    return work / f"part-{index:05d}" / f"{table}.pickle"


# -- one part ---------------------------------------------------------------------------------


@dataclass
class PartData:
    """One part's rows read, validated and matched: its dataset (visits, authorizations and
    payments of its clients, the whole catalogs), what of it the whole needs (rejects and row
    counts of the cut tables), and (part 0 only) the catalogs with their rejects and rows read.
    """

    index: int
    dataset: Dataset
    rejects: pd.DataFrame
    counts: pd.DataFrame
    catalogs: Dataset | None = None
    catalog_rows: dict[str, int] = field(default_factory=dict)


def part_data(job: PartJob, matched: bool = True) -> PartData:
    """Read, validate and (unless not `matched`) match one part of a cut data folder (see
    the module's docstring).
    """
    cut_data = job.cut
    _check_reachable(cut_data)
    tables: dict[str, pd.DataFrame] = {}
    for table in cut_data.files:
        if table in LARGE:
            rows = cut_data.part_rows.get(table)
            tables[table] = _read_part(
                cut_data.part_file(table, job.index), rows[job.index] if rows else None
            )
        else:
            tables[table] = sources.read_table(cut_data.file(table))
    origin = {t: str(p) for t, p in cut_data.files.items()}  # named as given
    raw = RawSource(tables, origin, "", cut_data.folder, "folder")
    lengths = {t: len(f) for t, f in tables.items() if t in CATALOGS}
    dataset = validation.validate(raw, job.settings, repeats=cut_data.repeats)
    visit_rows = _accepted_rows(tables.get("visits"), dataset.rejects, "visits")
    del raw, tables
    if matched:
        dataset = matching.match(dataset)
    dataset.derived(VISIT_KEYS, (dataset.visits,), lambda: visit_rows)  # source rows
    cut_tables = dataset.rejects["table"].isin(list(LARGE)).to_numpy()
    counts = dataset.row_counts[dataset.row_counts["table"].isin(list(LARGE)).to_numpy()]
    result = PartData(
        job.index,
        dataset,
        dataset.rejects[cut_tables].reset_index(drop=True),
        counts.reset_index(drop=True),
    )
    if job.index == 0:
        result.catalogs = Dataset(
            clients=dataset.clients,
            procedures=dataset.procedures,
            payers=dataset.payers,
            providers=dataset.providers,
            authorizations=dataset.authorizations.iloc[:0],
            visits=dataset.visits.iloc[:0],
            payments=dataset.payments.iloc[:0],
            rejects=dataset.rejects[~cut_tables].reset_index(drop=True),
            row_counts=dataset.row_counts,
            settings=job.settings,
        )
        result.catalog_rows = lengths
    return result


@dataclass
class PartChecks:
    """What validating one part gives (`check_part`): its rejects and row counts of the cut
    tables, (part 0 only) the catalogs, and how many of its visits are flagged long.
    """

    index: int
    rejects: pd.DataFrame
    counts: pd.DataFrame
    catalogs: Dataset | None
    catalog_rows: dict[str, int]
    long_visits: int


def check_part(job: PartJob) -> PartChecks:
    """One part of a cut data folder read and validated, not matched (`utilization validate`)."""
    data = part_data(job, matched=False)
    visits = data.dataset.visits
    long_visits = int(visits["long_visit"].sum()) if "long_visit" in visits else 0
    return PartChecks(
        job.index, data.rejects, data.counts, data.catalogs, data.catalog_rows, long_visits
    )


def checked_in_parts(
    chosen: tuple[Path, int],
    settings: str | Path | Settings | None = None,
    run: PartRunner | None = None,
    workers: int | None = None,
) -> tuple[Dataset, int]:
    """A data folder cut into parts (`parts_to_cut`) and validated part by part: what the
    whole data set says apart from its large tables' rows (`whole_context`: catalogs, every
    reject, row counts) and how many visits are flagged long; no process holds the visits.
    See `prepared_views` for `run` and `workers`.
    """
    today = date.today()
    request = Request("agency", Period(today, today))  # a job carries one; validating reads none
    context, results = _each_part(chosen, settings, [request], check_part, run, workers)
    return context, sum(r.long_visits for r in results)


P = TypeVar("P", bound="_PartCounts")


def _each_part(
    chosen: tuple[Path, int],
    settings: str | Path | Settings | None,
    requests: Sequence[Request],
    work: Callable[[PartJob], P],
    run: PartRunner | None,
    workers: int | None,
) -> tuple[Dataset, list[P]]:
    """The data folder of `chosen` cut into parts and `work` done on each (`results_of_cut`), the
    parts run by `run`, by default on `workers` local processes (see `view_figures`). The
    work folder is gone when it returns.
    """
    folder, parts = chosen
    if not isinstance(settings, Settings):
        settings = load_settings(settings, folder)
    with work_folder() as place:
        cut_data = cut(folder, parts, place)
        return results_of_cut(cut_data, settings, requests, work, run or local_runner(workers))


def results_of_cut(
    cut_data: Cut,
    settings: Settings,
    requests: Sequence[Request],
    work: Callable[[PartJob], P],
    run: PartRunner,
) -> tuple[Dataset, list[P]]:
    """`work` done by `run` on each part of a cut data folder for `requests` (at least one;
    each part read once for all of them): the whole data set's context (`whole_context`) and
    the parts' results in part order.
    """
    results = sorted(run(work, part_jobs(cut_data, settings, requests)), key=lambda r: r.index)
    return whole_context(cut_data, settings, results), results


def part_jobs(cut_data: Cut, settings: Settings, requests: Sequence[Request]) -> list[PartJob]:
    """One job per part of a cut data folder, each for all of `requests` (at least one)."""
    first, *more = requests
    return [PartJob(cut_data, i, settings, first, tuple(more)) for i in range(cut_data.parts)]


@dataclass
class PartSchedule:
    """What one part gives `utilization check-schedule`: its scheduled billable visits of the
    job's request that would not be paid in full (`schedule.schedule_rows`, in the part's time
    order), with what `whole_context` reads (see `PartData`).
    """

    index: int
    not_paid: pd.DataFrame
    rejects: pd.DataFrame
    counts: pd.DataFrame
    catalogs: Dataset | None
    catalog_rows: dict[str, int]
    found: dict[str, set[str]] = field(default_factory=dict)  # `views.filter_ids_found`


def schedule_part(job: PartJob) -> PartSchedule:
    """One part of a cut data folder read, validated and matched: only its schedule's rows
    that would not be paid (no other figure of a view is made).
    """
    data = part_data(job)
    request = job.request
    selection = Selection(
        data.dataset, request.period, request.filters, request.balance_date, request.basis
    )
    rows = schedule.schedule_rows(selection)
    rows = rows[rows["schedule_status"].ne(schedule.FITS).to_numpy()].reset_index(drop=True)
    found = views.filter_ids_found(data.dataset, request.filters)
    return PartSchedule(
        job.index, rows, data.rejects, data.counts, data.catalogs, data.catalog_rows, found
    )


def schedule_in_parts(
    chosen: tuple[Path, int],
    request: Request,
    settings: str | Path | Settings | None = None,
    run: PartRunner | None = None,
    workers: int | None = None,
) -> pd.DataFrame:
    """`schedule.not_paid` of the request on a data folder cut into parts (`parts_to_cut`):
    the scheduled visits that would not be paid in full, with the clients' names, in the
    order of the whole; no process holds the visits. See `prepared_views` for `run` and
    `workers`.
    """
    context, results = _each_part(chosen, settings, [request], schedule_part, run, workers)
    found = views.found_in_parts([{views.FOUND: r.found} for r in results])
    views.checked(context, request, found)  # the ids of its filters are in the data
    rows = schedule.schedule_of([r.not_paid for r in results])
    return schedule.not_paid_named(rows, context.clients)


def run_part(job: PartJob) -> PartFigures:
    """The figures of one part of a cut data folder (see the module's docstring)."""
    data = part_data(job)
    made = [views.view_parts(data.dataset, request) for request in job.requests]
    return PartFigures(job.index, made, data.rejects, data.counts, data.catalogs, data.catalog_rows)


_SHARED = (
    "a worker reads the data folder and the run's work folder (in TMPDIR of the process that "
    "cut the data) at the same paths: on a Dask cluster both must be shared folders (set "
    "TMPDIR to one)"
)


def _check_reachable(cut_data: Cut) -> None:
    """InputError when this process (a worker, perhaps on another machine) does not see the
    data folder or the work folder of the cut.
    """
    folder = cut_data.base / cut_data.folder
    if not folder.is_dir():
        msg = f"cannot read the data folder {folder}: {_SHARED}"
        raise InputError(msg)
    if not cut_data.work.is_dir():
        msg = f"cannot read the parts in {cut_data.work}: {_SHARED}"
        raise InputError(msg)


def _read_part(path: Path, rows: int | None = None) -> pd.DataFrame:
    """A part's rows of one table, with the columns and dtypes of the whole table as read;
    InputError when the file is not what the cut wrote (`rows`: how many it wrote).
    """
    try:
        handle = path.open("rb")  # written by this module's cut, in a private folder
    except OSError as exc:
        msg = f"cannot read the part {path} ({exc.strerror}): {_SHARED}"
        raise InputError(msg) from None
    changed = f"the part {path} is not as the cut wrote it: was the work folder changed?"
    with handle:
        frames: list[pd.DataFrame] = list(packing.records(handle, changed))  # `_Writers`
    if not frames:
        raise InputError(f"{changed} (it is empty)")
    found = sum(len(f) for f in frames)
    if rows is not None and found != rows:
        raise InputError(f"{changed} (it holds {found} of the {rows} rows written)")
    full = [f for f in frames if len(f)]
    if not full:
        return frames[0]
    return pd.concat(full, ignore_index=True) if len(full) > 1 else full[0]


def _accepted_rows(
    frame: pd.DataFrame | None, rejects: pd.DataFrame, table: str
) -> npt.NDArray[np.int64]:
    """The source rows of a table's rows that validation kept, in order."""
    if frame is None:
        return np.zeros(0, dtype=np.int64)
    rows = frame[ROW].to_numpy(dtype=np.int64)
    rejected = rejects.loc[rejects["table"].eq(table).to_numpy(), "row"].to_numpy(dtype=np.int64)
    kept: npt.NDArray[np.int64] = rows[~np.isin(rows, rejected)]
    return kept


# -- putting together -------------------------------------------------------------------------


def put_together(
    context: Dataset,
    requests: Sequence[Request],
    made: Sequence[list[tuple[dict[str, Any], date | None]]],
) -> list[PreparedView]:
    """The view of each request from what each part made of it (`made`, in part order: per
    request its `views.view_parts`), with the whole data set's `context` (`views.view_of_parts`).
    """
    return [
        PreparedView(
            request,
            views.view_of_parts(context, request, [m[k][0] for m in made], [m[k][1] for m in made]),
            context,
        )
        for k, request in enumerate(requests)
    ]


class _PartCounts(Protocol):
    """What `whole_context` reads of each part's result (`PartFigures`, `PartData`)."""

    index: int
    rejects: pd.DataFrame
    counts: pd.DataFrame
    catalogs: Dataset | None
    catalog_rows: dict[str, int]


def whole_context(cut_data: Cut, settings: Settings, results: Sequence[_PartCounts]) -> Dataset:
    """What the whole data set says apart from its large tables' rows: the catalogs (as every
    part read them) from part 0, the rejects of all parts by table and row, the row counts of
    the cut tables added up, and the source described as `pipeline.load` describes it; the
    large tables empty. `results` in part order.
    """
    first = results[0].catalogs
    if first is None or results[0].index != 0:
        msg = "internal error: part 0 gave no catalogs"
        raise AssertionError(msg)
    numbers = ["rows_read", "rows_used", "rows_rejected"]
    added = pd.concat([r.counts for r in results]).groupby("table", sort=False)[numbers].sum()
    row_counts = first.row_counts.copy()
    for table in added.index:
        at = row_counts["table"].eq(table).to_numpy()
        row_counts.loc[at, numbers] = added.loc[[table], numbers].to_numpy()
    rows = {**results[0].catalog_rows, **cut_data.rows}
    described = ", ".join(f"{t} ({rows[t]} rows)" for t in TABLES if t in cut_data.files)
    return Dataset(
        clients=first.clients,
        procedures=first.procedures,
        payers=first.payers,
        providers=first.providers,
        authorizations=first.authorizations,
        visits=first.visits,
        payments=first.payments,
        rejects=validation.rejects_of([first.rejects, *(r.rejects for r in results)]),
        row_counts=row_counts,
        settings=settings,
        source=f"folder {cut_data.folder}: {described}",
    )
