"""Batch runs in parts (issue 11): the coordinator cuts the data folder by client and never
loads the visits; workers read their part's rows with the whole rejects and row counts, so
every report is the one a run on the whole data set makes.
"""

from __future__ import annotations

import dataclasses
import pickle
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from utilization import packing, pipeline
from utilization.batch import BatchResult, run_batch
from utilization.batch import parts as batch_parts
from utilization.batch import run as batch_run
from utilization.batch.parts import parts_wanted
from utilization.batch.plan import ParameterSet, parameter_set
from utilization.cli import main
from utilization.dataset import Dataset, PreparedFigures
from utilization.exceptions import EnvironmentFault, InputError, UsageError, UtilizationError
from utilization.partitions import PartJob, cut, part_data, work_folder
from utilization.settings import load_settings

TODAY = date(2026, 11, 23)
ACTIVE_CODES = "H2014 HI, H2023 HQ, H2023 U1, NB TRAVEL, T1001, T1005, T1019 U3, T2017, T2021 U4"
"""The procedure codes with an authorization or a visit in 2026-Q4 (`data`)."""
ACTIVE_PROVIDERS = ", ".join(f"P{n:03d}" for n in range(1, 25) if n != 15)
"""The fieldworkers with a visit in 2026-Q4 (`data`): all but P015."""
CELL_ID = re.compile(r'id="cell-id=[0-9a-f]+"')  # papermill's injected cell gets a random id


@pytest.fixture(scope="module")
def data(demo_folder: Callable[..., Path]) -> Path:
    """A small demo agency (8 clients, with the demo's bad rows) for a fixed day."""
    return demo_folder(clients=8, today=TODAY)


def spec_for(source: Path, out: Path, **extra: object) -> ParameterSet:
    raw = {
        "name": "q",
        "view": "client",
        "period": "2026-Q4",
        "data": str(source),
        "clients": "active",
        "formats": ["html"],
        "out": str(out),
    }
    return parameter_set(raw | extra)


@pytest.fixture(scope="module")
def whole(data: Path, tmp_path_factory: pytest.TempPathFactory) -> BatchResult:
    """Every active client's report from the whole data set loaded in one process."""
    return run_batch(spec_for(data, tmp_path_factory.mktemp("whole")), workers=1, partitions=0)


def _pages(result: BatchResult, view: str = "client") -> dict[str, str]:
    return {
        p.name: CELL_ID.sub("", p.read_text(encoding="utf-8"))
        for p in sorted((result.folder / view).glob("*.html"))
    }


def _no_whole_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make loading the whole data set in this process an error."""

    def refused(*args: object, **kwargs: object) -> None:
        msg = "the coordinator loaded the whole data set"
        raise AssertionError(msg)

    monkeypatch.setattr(pipeline, "load", refused)


def test_a_batch_in_parts_makes_the_reports_of_the_whole_data_set(
    whole: BatchResult, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut into 3 parts of the 8 clients, the same 7 active clients get a report each, every
    page equals the whole run's (the rejects of every part counted in each), with the same
    key figures and the same rejects.csv; this process never loads the whole data set.
    """
    _no_whole_load(monkeypatch)
    result = run_batch(spec_for(data, tmp_path), workers=1, partitions=3)
    assert [r.status for r in result.records] == ["ok"] * len(whole.records)
    assert [r.subject for r in result.records] == [r.subject for r in whole.records]
    assert len(whole.records) == 7
    assert _pages(result) == _pages(whole)
    assert [r.figures for r in result.records] == [r.figures for r in whole.records]
    assert (result.folder / "rejects.csv").read_bytes() == (
        whole.folder / "rejects.csv"
    ).read_bytes()
    assert len((result.folder / "rejects.csv").read_text().splitlines()) > 2  # bad rows, kept
    log = (result.folder / "batch.log").read_text()
    assert "7 report(s), 7 to render from 3 part(s) of the data" in log


def test_a_large_folder_goes_in_parts_by_itself(
    whole: BatchResult, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above AUTOMATIC_ROWS visits (here lowered to 100) a local run goes in parts, one per
    ROWS_PER_PART visits (here 1,000: the demo's visits make 2 parts on 2 workers).
    """
    monkeypatch.setattr(batch_parts, "AUTOMATIC_ROWS", 100)
    monkeypatch.setattr("utilization.partitions.ROWS_PER_PART", 1_000)
    spec = spec_for(data, tmp_path, clients=["C0002", "C0007"])
    assert parts_wanted(spec, None, workers=2, on_cluster=False) == 2
    _no_whole_load(monkeypatch)
    result = run_batch(spec, workers=1)
    assert [(r.subject, r.status) for r in result.records] == [("C0002", "ok"), ("C0007", "ok")]
    pages = _pages(whole)
    assert _pages(result) == {k: pages[k] for k in ("C0002.html", "C0007.html")}
    assert "from 2 part(s) of the data" in (result.folder / "batch.log").read_text()


@pytest.mark.parametrize(
    ("view", "reports"),
    [
        ("agency", ["agency"]),
        ("procedure", ACTIVE_CODES.split(", ")),
        ("provider", ACTIVE_PROVIDERS.split(", ")),
    ],
)
def test_reports_of_other_views_are_drawn_from_the_figures_of_the_parts(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, view: str, reports: list[str]
) -> None:
    """An agency set, a set of the active procedure codes and one of the active fieldworkers
    (whose approved units and balances read beyond their own visits), cut into 3 parts: every
    report's figures are made of all 3 parts and put together (`views_of_parts`, 5 reports a
    pass, a pass put together while the next one runs), and each page equals the page of the
    run on the whole data set, with the same key figures and rejects; this process never
    loads the whole data set.

    The pages hold rows of several clients in the order of the data (flags, scheduled visits
    that would not be paid): each part's visits keep their rows in the whole data set, also
    once the part is written and read back (`Dataset.__getstate__`).
    """
    spec = {"view": view, "procedures": "active", "providers": "active"}
    whole = run_batch(spec_for(data, tmp_path / "whole", **spec), workers=1, partitions=0)
    _no_whole_load(monkeypatch)
    written: list[tuple[str, object]] = []

    def write_packed(path: Path, value: object, **options: Any) -> None:
        written.append((path.name, value))
        packed(path, value, **options)

    packed = batch_parts.write_packed
    monkeypatch.setattr(batch_parts, "write_packed", write_packed)
    monkeypatch.setattr(batch_parts, "REQUESTS_PER_PASS", 5)  # procedures 2 passes, providers 5
    result = run_batch(spec_for(data, tmp_path / "parts", **spec), workers=1, partitions=3)
    # The reports' figures each in a file of their own, naming the one context they share.
    contexts = [(n, v) for n, v in written if n == batch_parts.CONTEXT]
    views_written = [(n, v) for n, v in written if n.startswith(f"{batch_parts.VIEW}-")]
    figures = [v for _, v in views_written if isinstance(v, PreparedFigures)]
    assert len(contexts) == 1 and isinstance(contexts[0][1], Dataset)
    assert len(figures) == len(views_written) == len(reports)
    assert sorted(n for n, _ in views_written) == [
        f"view-{k:05d}.pickle" for k in range(len(reports))
    ]
    assert {Path(f.context_file).name for f in figures} == {batch_parts.CONTEXT}
    assert [f.request.subject for f in figures] == [r.subject for r in whole.records]
    assert [(r.subject or r.view, r.status) for r in result.records] == [(r, "ok") for r in reports]
    assert [r.subject for r in whole.records] == [r.subject for r in result.records]
    assert _pages(result, view) == _pages(whole, view)
    assert len(_pages(result, view)) == len(reports)
    assert [r.figures for r in result.records] == [r.figures for r in whole.records]
    assert (result.folder / "rejects.csv").read_bytes() == (
        whole.folder / "rejects.csv"
    ).read_bytes()
    log = (result.folder / "batch.log").read_text()
    assert f"{len(reports)} to render from 3 part(s) of the data" in log


def test_small_data_other_views_and_other_sources_are_loaded_whole(
    data: Path, tmp_path: Path
) -> None:
    """Locally below AUTOMATIC_ROWS, a folder is loaded whole, and the demo source (not a
    folder) always is; on a cluster a folder goes in parts, whatever the view, as many as
    `parts_for` says (one for this small folder).
    """
    client = spec_for(data, tmp_path)
    assert parts_wanted(client, None, workers=2, on_cluster=False) is None
    assert parts_wanted(client, None, workers=2, on_cluster=True) == 1
    assert parts_wanted(client, 0, workers=2, on_cluster=True) is None
    procedure = spec_for(data, tmp_path, view="procedure", clients="active")
    assert parts_wanted(procedure, None, workers=2, on_cluster=False) is None
    assert parts_wanted(procedure, None, workers=2, on_cluster=True) == 1
    demo = spec_for(data, tmp_path, data="demo")
    assert parts_wanted(demo, None, workers=2, on_cluster=True) is None


@pytest.mark.parametrize(
    ("extra", "partitions", "message"),
    [
        ({"data": "demo"}, 2, "on a folder of CSV or Parquet files"),
        ({}, -1, "--partitions must be 0 or more, not -1"),
    ],
)
def test_parts_that_cannot_be_are_a_usage_error_before_anything_is_written(
    data: Path, tmp_path: Path, extra: dict[str, object], partitions: int, message: str
) -> None:
    """`--partitions` on a view or source that cannot be cut: a usage error, no folder made."""
    spec = spec_for(data, tmp_path, **extra)
    with pytest.raises(UsageError, match=message):
        run_batch(spec, partitions=partitions)
    assert not (tmp_path / "q").exists()


def test_the_command_takes_partitions(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`utilization batch --partitions 2` renders the set from 2 parts, a client set as a
    procedure set; a set on the demo source (not a folder) exits 2 with the reason.
    """
    params = tmp_path / "set.yaml"
    params.write_text(
        f"name: q\nview: client\nperiod: 2026-Q4\ndata: {data}\nclients: [C0001, C0008]\n"
        "formats: [html]\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    argv = ["batch", str(params), "--out", str(out), "--workers", "1", "--no-progress"]
    assert main([*argv, "--partitions", "2"]) == 0
    assert "2 of 2 reports ok" in capsys.readouterr().out
    log = (out / "q" / "2026-Q4" / "batch.log").read_text()
    assert "from 2 part(s) of the data" in log
    text = params.read_text().replace("view: client", "view: procedure")
    params.write_text(text.replace("clients: [C0001, C0008]", "procedures: [T2017]"))
    assert main([*argv, "--partitions", "2"]) == 0
    assert "1 of 1 reports ok" in capsys.readouterr().out
    log = (out / "q" / "2026-Q4" / "batch.log").read_text()
    assert "1 report(s), 1 to render from 2 part(s) of the data" in log
    params.write_text(text.replace(f"data: {data}", "data: demo"))
    assert main([*argv, "--partitions", "2"]) == 2
    assert "only reports on a folder of CSV or Parquet files" in capsys.readouterr().err


@pytest.mark.slow
def test_on_a_dask_cluster_the_coordinator_reads_no_visit(
    whole: BatchResult, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --scheduler, the parts are prepared and the reports rendered on a LocalCluster's
    two workers; this process only cuts the folder and puts the rejects together. Every page
    equals the whole run's.
    """
    from distributed import LocalCluster

    _no_whole_load(monkeypatch)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        result = run_batch(
            spec_for(data, tmp_path), scheduler=cluster.scheduler_address, partitions=2
        )
    assert [r.status for r in result.records] == ["ok"] * 7
    assert _pages(result) == _pages(whole)
    assert (result.folder / "rejects.csv").read_bytes() == (
        whole.folder / "rejects.csv"
    ).read_bytes()
    assert "from 2 part(s) of the data" in (result.folder / "batch.log").read_text()


@pytest.mark.slow
def test_on_a_dask_cluster_reports_of_other_views_are_made_of_every_part(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A procedure set with --scheduler: the parts are prepared and each part's figures made
    on a LocalCluster's two workers, which render the reports from them; the pages equal
    those of the run on the whole data set.
    """
    from distributed import LocalCluster

    spec = {"view": "procedure", "procedures": ["T2017", "T1019 U3"]}
    whole = run_batch(spec_for(data, tmp_path / "whole", **spec), workers=1, partitions=0)
    _no_whole_load(monkeypatch)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        result = run_batch(
            spec_for(data, tmp_path / "parts", **spec),
            scheduler=cluster.scheduler_address,
            partitions=2,
        )
    assert sorted((r.subject, r.status) for r in result.records) == [  # in the order done
        ("T1019 U3", "ok"),
        ("T2017", "ok"),
    ]
    assert _pages(result, "procedure") == _pages(whole, "procedure")
    assert len(_pages(whole, "procedure")) == 2
    assert "2 to render from 2 part(s) of the data" in (result.folder / "batch.log").read_text()


def test_a_part_prepared_after_the_run_ended_leaves_nothing_behind(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A part that a Dask worker finishes after the run ended (another part failed, Ctrl-C)
    and removed its work folder: its dataset is not written, and the work folder is not
    made again (it would stay in TMPDIR, a part's dataset of about 1 GB each).
    """
    spec = spec_for(data, tmp_path)
    with work_folder() as work:
        job = PartJob(cut(data, 2, work), 1, load_settings(None, data), spec.request)
        made = part_data(job)  # read while the run was going on
    assert not work.exists()
    monkeypatch.setattr(batch_parts, "part_data", lambda _: made)
    with pytest.raises(UtilizationError):
        batch_parts.prepare_part(job)
    assert not work.exists()


def test_a_slice_written_after_the_run_ended_leaves_nothing_behind(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report task still running on a Dask worker when the run ended: its part's slice is
    not written into a work folder made again.
    """
    spec = spec_for(data, tmp_path)
    with work_folder() as work:
        job = PartJob(cut(data, 2, work), 0, load_settings(None, data), spec.request)
        dataset_file = batch_parts.prepare_part(job).file
        whole = work / "whole.pickle"
        whole.write_bytes(pickle.dumps({"rejects": None, "row_counts": None, "source": ""}))

        def removed_meanwhile(*args: Any, **kwargs: Any) -> Any:
            shutil.rmtree(work)  # the run ended while this worker read the part
            return dataclasses.replace(*args, **kwargs)

        monkeypatch.setattr(batch_parts, "replace", removed_meanwhile)
        with pytest.raises(UtilizationError):
            batch_parts.part_slice(dataset_file, str(whole))
        assert not work.exists()


def test_a_worker_that_cannot_reach_the_work_folder_says_so(data: Path, tmp_path: Path) -> None:
    """A worker of a cluster whose TMPDIR is not the coordinator's (not a shared folder):
    one message saying what the workers must reach, not a file that does not exist.
    """
    spec = spec_for(data, tmp_path)
    with work_folder() as work:
        job = PartJob(cut(data, 2, work), 1, load_settings(None, data), spec.request)
    with pytest.raises(InputError, match="TMPDIR") as raised:
        batch_parts.prepare_part(job)
    assert str(work) in str(raised.value)


def test_a_worker_that_cannot_reach_a_prepared_part_says_so(data: Path, tmp_path: Path) -> None:
    """A worker making a report's figures of a part (`figures_of_part`) that does not see the
    part's dataset (TMPDIR not shared): one message naming the file and what to share.
    """
    spec = spec_for(data, tmp_path, view="agency")
    with work_folder() as work:
        job = PartJob(cut(data, 2, work), 1, load_settings(None, data), spec.request)
    with pytest.raises(InputError, match="TMPDIR") as raised:
        batch_parts.figures_of_part(job)
    assert str(work / "part-00001" / "dataset.pickle") in str(raised.value)


def test_a_worker_that_cannot_reach_the_data_folder_says_so(data: Path, tmp_path: Path) -> None:
    """A worker of a cluster that does not see the data folder (it reads the catalogs
    there): one message saying so, not 'export the table again'.
    """
    folder = tmp_path / "data"
    shutil.copytree(data, folder)
    spec = spec_for(folder, tmp_path)
    with work_folder() as work:
        job = PartJob(cut(folder, 2, work), 1, load_settings(None, folder), spec.request)
        shutil.rmtree(folder)  # as a worker on another machine sees it
        with pytest.raises(InputError, match="data folder") as raised:
            batch_parts.prepare_part(job)
    assert str(folder) in str(raised.value)


def test_a_part_failing_on_the_cluster_cancels_the_others_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A part that fails on the cluster: the parts not yet done are cancelled, not left
    running for a run that has ended.
    """
    from distributed import KilledWorker

    from utilization.batch import cluster

    class Future:
        def __init__(self, error: bool) -> None:
            self.error = error

        def result(self) -> int:
            if self.error:
                raise failure
            return 1

        def release(self) -> None:
            pass

    class Client:
        def __init__(self) -> None:
            self.cancelled: list[Future] = []

        def map(self, work: object, jobs: list[int], pure: bool) -> list[Future]:
            return [Future(error=j == 0) for j in jobs]

        def cancel(self, futures: list[Future]) -> None:
            self.cancelled = list(futures)

    monkeypatch.setattr(cluster, "as_completed", iter)
    failure: Exception = InputError("part 0 cannot be read")
    client = Client()
    run = cluster.part_runner(client)  # type: ignore[arg-type]  # a stand-in
    with pytest.raises(InputError, match="part 0 cannot be read"):
        list(run(lambda job: job, [0, 1, 2]))  # type: ignore[arg-type, list-item]
    assert len(client.cancelled) == 3
    # a worker killed (out of memory) while preparing a part: one message, as locally
    failure = KilledWorker("prepare_part-1", None, 3)
    client = Client()
    run = cluster.part_runner(client)  # type: ignore[arg-type]
    with pytest.raises(EnvironmentFault, match="more parts"):
        list(run(lambda job: job, [0, 1, 2]))  # type: ignore[arg-type, list-item]
    assert len(client.cancelled) == 3


def test_figures_whose_context_cannot_be_read_say_so(tmp_path: Path) -> None:
    """A report's figures file naming a context file that is gone (or is not a data set):
    an InputError naming both files, never a report without its context.
    """
    from utilization.packing import write_packed
    from utilization.parameters import Request
    from utilization.period import Filters, Period

    request = Request("agency", Period(date(2026, 10, 1), date(2026, 12, 31)), Filters(), TODAY)
    context = tmp_path / "context.pickle"
    figures = tmp_path / "view-00000.pickle"
    write_packed(figures, PreparedFigures(request, None, str(context)))  # type: ignore[arg-type]
    with pytest.raises(InputError) as caught:
        pipeline.prepared_slice(str(figures))
    assert str(caught.value) == (
        f"{figures}: cannot read the context it names, {context} (No such file or directory)"
    )
    write_packed(context, request)  # not a data set
    with pytest.raises(InputError) as caught:
        pipeline.prepared_slice(str(figures))
    assert str(caught.value) == (
        f"{context} is not a dataset slice or a view's figures written by a batch run"
    )


def test_local_workers_read_the_coordinators_copy_not_the_source(
    whole: BatchResult, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In memory with two local workers, the coordinator writes the data set it loaded once,
    mapped (`batch.run._mapped`), and each worker's kernel reads that copy: with the source
    folder moved away as soon as the copy is written, every report is still made and equals
    the whole run's. The copy is removed when the run ends.
    """
    written: list[Path] = []
    real = batch_run._mapped
    away = tmp_path / "away"

    @contextmanager
    def then_source_gone(dataset: Dataset, note: Callable[[str], None]) -> Iterator[str]:
        with real(dataset, note) as path:
            assert path is not None
            written.append(Path(path))
            assert packing.is_mapped(Path(path))
            shutil.move(data, away)
            try:
                yield path
            finally:
                shutil.move(away, data)

    monkeypatch.setattr(batch_run, "_mapped", then_source_gone)
    result = run_batch(spec_for(data, tmp_path / "out"), workers=2, partitions=0)
    assert [r.status for r in result.records] == ["ok"] * 7
    assert _pages(result) == _pages(whole)
    figures = {r.subject: r.figures for r in result.records}  # in the order they were made
    assert figures == {r.subject: r.figures for r in whole.records}
    assert len(written) == 1 and not written[0].parent.exists()


def test_workers_read_the_source_when_the_copy_cannot_be_written(
    whole: BatchResult, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy for the workers that cannot be written (TMPDIR full) is a line of the batch's
    log, and each worker reads the source itself: the same reports.
    """

    def full(path: Path, value: object, **_: object) -> None:
        raise EnvironmentFault(f"cannot write {path.name} (No space left on device)")

    monkeypatch.setattr(pipeline, "write_mapped", full)
    result = run_batch(spec_for(data, tmp_path / "out"), workers=2, partitions=0)
    assert [r.status for r in result.records] == ["ok"] * 7
    assert _pages(result) == _pages(whole)
    log = (result.folder / "batch.log").read_text()
    said = "cannot write dataset.pickle (No space left on device); each worker reads the data"
    assert log.count(said) == 1
