"""Batch runs on data cut into parts by client: the coordinator never reads the visits.

A run on a folder of CSV or Parquet files goes in parts (`partitions`) on a Dask cluster
(`--scheduler`), when told (`--partitions K`) or when the data is large (more than
`partitions.AUTOMATIC_ROWS` visits):

    cut                 the coordinator streams the large tables into parts by client
                        (`partitions.cut`: bounded memory, whatever the size)
    prepare_part        each part, on a worker: read, validated and matched; its dataset
                        written to the work folder; back come its rejects, row counts, the
                        clients it holds and those active in the period
    whole_context       the coordinator puts the rejects and row counts together (the
                        catalogs, every reject, no visit): what it plans the run with and
                        writes rejects.csv from
    part_slice          a worker rendering a client's report reads the dataset of the
                        client's part with the whole rejects and row counts: every figure,
                        count and text of the report is the one the whole data set gives
    views_of_parts      reports of the other views (agency, procedure codes, ...): each
                        part's figures of the reports (`figures_of_part`, on the workers),
                        put together by the coordinator with the whole context; each report
                        task carries its `dataset.PreparedView`, which the template draws

The work folder is in TMPDIR; on a cluster the workers must be able to read it (TMPDIR a
shared folder), as for `utilization export --scheduler`.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from utilization import views
from utilization.batch.plan import ParameterSet, active_ids
from utilization.dataset import Dataset, PreparedFigures
from utilization.exceptions import InputError, UsageError
from utilization.files import write_atomic
from utilization.packing import read_packed, write_packed
from utilization.parameters import Request
from utilization.partitions import (
    AUTOMATIC_ROWS,
    Cut,
    PartJob,
    PartRunner,
    cut,
    folder_of,
    part_data,
    part_file,
    part_jobs,
    parts_for,
    put_together,
    results_of_cut,
    work_folder,
)
from utilization.settings import Settings, load_settings
from utilization.sources import folder_tables, table_rows

SLICE_COLUMN = "client_id"
"""The batch slice of the views that can run in parts: parts hold whole clients."""
DATASET = "dataset"  # a part's matched dataset: <work>/part-NNNNN/dataset.pickle
SLICE = "slice"  # the same with the whole rejects and row counts, as reports read it
WHOLE = "whole.pickle"  # the whole rejects, row counts and source description


@dataclass
class PreparedPart:
    """What one part tells the coordinator (`prepare_part`)."""

    index: int
    rejects: pd.DataFrame
    counts: pd.DataFrame
    clients: list[str]  # clients with an authorization or a visit in the part
    active: list[str]  # those active in the run's period (`plan.active_ids`)
    file: str  # the part's dataset
    catalogs: Dataset | None = None
    catalog_rows: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Parts:
    """A data folder prepared in parts for a batch run."""

    context: Dataset  # catalogs, every reject, the row counts; no authorization or visit
    active: list[str]  # subjects active in the period (clients, procedures...), sorted
    part_of: dict[str, int]  # client id -> its part (clients without rows: part 0)
    files: list[str]  # each part's dataset
    whole: str  # the whole rejects and row counts
    cut: Cut | None = None  # the cut the parts came from (`views_of_parts`)
    settings: Settings | None = None

    def slice_of(self, subject: str) -> tuple[str, str]:
        """The files a report about `subject` reads (`part_slice`)."""
        return self.files[self.part_of.get(subject, 0)], self.whole


def check_partitions(spec: ParameterSet, partitions: int | None) -> None:
    """UsageError when `partitions` cannot be: below 0, or parts asked of data or a view that
    cannot be cut (only reports of one client on a folder of files can).
    """
    if partitions is None or partitions == 0:
        return
    if partitions < 0:
        msg = f"--partitions must be 0 or more, not {partitions}"
        raise UsageError(msg)
    if not _possible(spec):
        msg = (
            f"--partitions {partitions}: only reports on a folder of CSV or Parquet files "
            "(without a remittances/ folder) can be made in parts; run the set without "
            "--partitions"
        )
        raise UsageError(msg)


def parts_wanted(
    spec: ParameterSet, partitions: int | None, workers: int, on_cluster: bool
) -> int | None:
    """How many parts the run's data is cut into; None: loaded whole (by the coordinator).

    `partitions`: 0 whole; K > 0 in K parts (`check_partitions`); None: in parts on a cluster,
    and locally above `AUTOMATIC_ROWS` visits, when the data and view can be, as many as
    `partitions.parts_for` says for `workers`.
    """
    check_partitions(spec, partitions)
    if partitions is not None:
        return partitions or None
    folder = folder_of(spec.data)
    if folder is None or not _possible(spec):
        return None
    if not on_cluster:
        files = folder_tables(folder)
        rows = table_rows(files["visits"]) if "visits" in files else 0
        if rows <= AUTOMATIC_ROWS:
            return None
    return parts_for(folder, workers)


def _possible(spec: ParameterSet) -> bool:
    return folder_of(spec.data) is not None


def by_client(view: str) -> bool:
    """Whether a report of `view` reads one part's dataset (reports of one client: `part_slice`)
    rather than figures made of every part (`views_of_parts`).
    """
    return views.get(view).batch_slice == SLICE_COLUMN


@contextmanager
def prepared(
    spec: ParameterSet, parts: int, run: PartRunner, note: Callable[[str], None] | None = None
) -> Iterator[Parts]:
    """The run's data folder cut into `parts`, each prepared by `run` (on the cluster's or
    local workers); the work folder removed when the run ends. `note`: see `partitions.cut`.
    """
    folder = folder_of(spec.data)
    if folder is None:  # parts_wanted said it can be cut
        msg = f"internal error: {spec.data} cannot be cut into parts"
        raise AssertionError(msg)
    settings = load_settings(spec.settings or None, folder)
    with work_folder() as work:
        cut_data = cut(folder, parts, work, note)
        context, results = results_of_cut(cut_data, settings, [spec.request], prepare_part, run)
        whole = work / WHOLE
        whole_state = {
            "rejects": context.rejects,
            "row_counts": context.row_counts,
            "source": context.source,
        }
        write_atomic(whole, pickle.dumps(whole_state, protocol=pickle.HIGHEST_PROTOCOL))
        yield Parts(
            context=context,
            active=sorted({c for r in results for c in r.active}),
            part_of={c: r.index for r in results for c in r.clients},
            files=[r.file for r in results],
            whole=str(whole),
            cut=cut_data,
            settings=settings,
        )


def prepare_part(job: PartJob) -> PreparedPart:
    """One part read, validated and matched (`partitions.part_data`), its dataset written to
    the work folder; what the coordinator needs of it.
    """
    data = part_data(job)
    dataset = data.dataset
    column = SLICE_COLUMN
    clients = set(dataset.authorizations[column]) | set(dataset.visits[column])
    subject = views.get(job.request.view).subject
    active = views.SUBJECT_COLUMNS[subject] if subject else column
    path = part_file(job.cut.work, DATASET, job.index)
    # into the part's folder, which the cut made: a part done after the run ended (and
    # removed the work folder) does not make it again, to stay in TMPDIR
    write_packed(path, dataset, new_folders=False)  # compressed: about 1/8 of the bytes
    return PreparedPart(
        index=job.index,
        rejects=data.rejects,
        counts=data.counts,
        clients=sorted(str(c) for c in clients),
        active=active_ids(dataset, job.request.period, active),
        file=str(path),
        catalogs=data.catalogs,
        catalog_rows=data.catalog_rows,
    )


_made: dict[tuple[str, str], str] = {}
_making = threading.Lock()


def part_slice(dataset_file: str, whole_file: str) -> str:
    """The file a report of a client of this part reads as its `data_slice`: the part's
    dataset with the whole data set's rejects, row counts and source description. Written
    once next to the part's dataset (by whichever worker comes first), then reused.
    """
    key = (dataset_file, whole_file)
    with _making:
        if key in _made and Path(_made[key]).is_file():
            return _made[key]
        path = Path(dataset_file).with_name(f"{SLICE}.pickle")
        if not path.is_file():
            dataset = _prepared_part(Path(dataset_file))
            try:
                with open(whole_file, "rb") as handle:
                    whole = pickle.load(handle)
            except OSError as exc:
                raise InputError(_unreachable(whole_file, exc)) from None
            dataset = replace(
                dataset,
                rejects=whole["rejects"],
                row_counts=whole["row_counts"],
                source=whole["source"],
            )
            write_packed(path, dataset, new_folders=False)  # as in prepare_part
        _made[key] = str(path)
        return str(path)


REQUESTS_PER_PASS = 32
"""Reports whose figures one pass over the prepared parts makes (`views_of_parts`): each part
is read once per pass, and the coordinator holds the parts' figures of this many reports."""
VIEW = "view"  # a report's figures made of every part: <work>/view-NNNNN.pickle, packed
CONTEXT = "context.pickle"  # what every such report reads besides its figures, packed


def views_of_parts(parts: Parts, requests: list[Request], run: PartRunner) -> list[str]:
    """The files of the figures of each request (reports of a view not about one client),
    made of every prepared part by `run` and put together with the whole context, in request
    order; a pass over the parts per `REQUESTS_PER_PASS` requests. Each is what the whole data
    set gives. The files, in the work folder, hold the figures (`dataset.PreparedFigures`);
    the context they share is written once beside them (`CONTEXT`): at 10M visits it is
    about 1.3 MB packed, which a batch of thousands of reports would otherwise write again
    for each.

    While one pass's figures are put together and written (on a thread of this process), the
    workers make the next pass's: they do not wait for the coordinator, and at most two
    passes' figures are held at once. The passes themselves run in the calling thread, so
    that Ctrl-C stops them as it stops any run of the parts.
    """
    if parts.cut is None or parts.settings is None:
        msg = "internal error: parts prepared without their cut"
        raise AssertionError(msg)
    cut_data, settings = parts.cut, parts.settings
    context = cut_data.work / CONTEXT  # written once: every report's catalogs, rejects, counts
    write_packed(context, parts.context)

    def written(
        first: int, asked: list[Request], results: list[list[tuple[dict[str, Any], date | None]]]
    ) -> list[str]:
        made = put_together(parts.context, asked, results)
        files = []
        for number, view in enumerate(made, start=first):
            path = cut_data.work / f"{VIEW}-{number:05d}.pickle"
            write_packed(path, PreparedFigures(view.request, view.figures, str(context)))
            files.append(str(path))
        return files

    files: list[str] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="put-together") as behind:
        writing: list[Future[list[str]]] = []
        for start in range(0, len(requests), REQUESTS_PER_PASS):
            asked = requests[start : start + REQUESTS_PER_PASS]
            jobs = part_jobs(cut_data, settings, asked)
            results = [m for _, m in sorted(run(figures_of_part, jobs), key=lambda r: r[0])]
            if writing:  # the pass before, put together while this one ran
                files += writing.pop().result()
            writing.append(behind.submit(written, start, asked, results))
            del results
        if writing:
            files += writing.pop().result()
    return files


def figures_of_part(job: PartJob) -> tuple[int, list[tuple[dict[str, Any], date | None]]]:
    """The figures of each of the job's requests (`views.view_parts`) of its prepared part's
    dataset (`prepare_part`), with the part's number.
    """
    dataset = _prepared_part(part_file(job.cut.work, DATASET, job.index))
    return job.index, [views.view_parts(dataset, request) for request in job.requests]


def _prepared_part(path: Path) -> Dataset:
    """A part's dataset as `prepare_part` wrote it; InputError saying what the workers must
    reach when it cannot be read.
    """
    try:
        dataset: Dataset = read_packed(path)
    except OSError as exc:
        raise InputError(_unreachable(path, exc)) from None
    return dataset


def _unreachable(path: str | Path, exc: OSError) -> str:
    return (
        f"cannot read the part {path} ({exc.strerror}); on a cluster the workers must reach "
        "the coordinator's TMPDIR (a shared folder)"
    )
