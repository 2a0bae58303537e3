"""Batch runs: parameter sets, safe names, failures, resuming, atomic files, index, manifest, log,
local processes and a Dask cluster.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml

import utilization
from utilization import export
from utilization.batch import BatchResult, remove_temporary_files, run_batch, slices
from utilization.batch.manifest import job_key
from utilization.batch.plan import Job, ParameterSet, parameter_set, read_parameter_set
from utilization.batch.slices import SLICES_PREFIX, SUFFIX, materialize, slice_dataset
from utilization.batch.workers import BatchRenderer, Task, run_task
from utilization.cli import main
from utilization.exceptions import InputError
from utilization.filenames import safe_name, unique_names
from utilization.files import sha256_file
from utilization.parameters import Request
from utilization.period import Filters, Period, parse_period
from utilization.pipeline import load
from utilization.views import build_view

TODAY = date(2026, 11, 23)
PARAMS = Path(__file__).resolve().parents[1] / "params"
CELL_ID = re.compile(r'id="cell-id=[0-9a-f]+"')  # papermill's injected cell gets a random id


@pytest.fixture(scope="module")
def data(demo_folder: Callable[..., Path]) -> Path:
    """A small demo agency (8 clients) generated for a fixed day (shared: read only)."""
    return demo_folder(clients=8, today=TODAY)


def spec_for(data: Path, out: Path, clients: list[str], **extra: object) -> ParameterSet:
    raw = {
        "name": "q",
        "view": "client",
        "period": "2026-Q4",
        "data": str(data),
        "clients": clients,
        "formats": ["html"],
        "out": str(out),
    }
    return parameter_set(raw | extra)


@pytest.fixture(scope="module")
def first(data: Path, tmp_path_factory: pytest.TempPathFactory) -> BatchResult:
    """Two real clients and one id that is not in the data, in one local process."""
    out = tmp_path_factory.mktemp("reports")
    return run_batch(spec_for(data, out, ["C0001", "C9999", "C0002"]), workers=1)


# -- parameter sets ------------------------------------------------------------------------


def test_every_example_parameter_set_reads_and_uses_the_demo_data() -> None:
    """Each params/*.yaml is a valid set on `data: demo` with the view and formats it states."""
    sets = {p.stem: read_parameter_set(p, today=TODAY) for p in sorted(PARAMS.glob("*.yaml"))}
    assert {k: (s.view, s.period.label, s.formats, s.data) for k, s in sets.items()} == {
        "agency-year": ("agency", "2026", ("html", "pdf"), "demo"),
        "fieldworkers": ("provider", "2026-Q3", ("html",), "demo"),
        "monthly-procedures": ("procedure", "2026-10", ("html",), "demo"),
        "monthly-revenue": ("revenue", "2026-10", ("html", "pdf"), "demo"),
        "quarterly-clients": ("client", "2026-Q3", ("html", "pdf"), "demo"),
        "selected-clients": ("client", "2026-Q3", ("html",), "demo"),
    }
    assert sets["selected-clients"].subjects == ("C0001", "C0002", "C0003")
    assert sets["selected-clients"].request.filters == Filters(payers=("DDA",))
    assert sets["quarterly-clients"].subjects == "active"
    assert sets["fieldworkers"].subjects == "active"
    assert sets["quarterly-clients"].folder == Path("reports/quarterly-clients/2026-Q3")


def test_relative_periods_are_whole_calendar_units_before_or_holding_today() -> None:
    """`previous-quarter` on 23 Nov 2026 is Q3; `previous-month` October; `previous-year` 2025."""
    assert parse_period("previous-quarter", TODAY) == Period(date(2026, 7, 1), date(2026, 9, 30))
    assert parse_period("current-quarter", TODAY) == Period(date(2026, 10, 1), date(2026, 12, 31))
    assert parse_period("previous-month", TODAY) == Period(date(2026, 10, 1), date(2026, 10, 31))
    assert parse_period("previous-year", TODAY) == Period(date(2025, 1, 1), date(2025, 12, 31))
    assert parse_period({"from": date(2026, 1, 5), "to": "2026-02-20"}).label == (
        "2026-01-05_2026-02-20"
    )
    assert parse_period(2026).label == "2026"
    with pytest.raises(InputError) as stopped:
        parse_period("last-quarter", TODAY)  # what is allowed, relative names too
    assert str(stopped.value) == (
        "period 'last-quarter' is not one of 2026-Q1, 2026-03, 2026, 2026-01-01..2026-03-31, "
        "current-month, previous-month, current-quarter, previous-quarter, current-year, "
        "previous-year"
    )


def test_a_mistake_in_a_parameter_set_names_what_is_allowed(tmp_path: Path) -> None:
    """An unknown key or filter stops the run with the allowed names in the message."""
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"view": "client", "period": "2026-Q1", "client": "C0001"}))
    with pytest.raises(Exception, match=r"unknown key\(s\) \['client'\].*'clients'"):
        read_parameter_set(path)
    with pytest.raises(Exception, match=r"unknown filter\(s\) \['payers'\]"):
        parameter_set({"name": "x", "view": "client", "period": "2026", "filters": {"payers": 1}})
    with pytest.raises(Exception, match="view 'clients' not known"):
        parameter_set({"name": "x", "view": "clients", "period": "2026"})
    path.write_text(yaml.safe_dump({"view": "client", "period": "2026-Q7"}))
    assert main(["batch", str(path)]) == 2
    path.write_text("view: agency\nperiod: 2026-Q1\nfilters:\n  payers: [DDA]\nview: client\n")
    with pytest.raises(InputError, match=r"key 'view' is given twice \(lines 1 and 5\); keep one"):
        read_parameter_set(path)
    path.write_text("view: agency\nperiod: 2026-Q1\nfilters:\n  payers: [DDA]\n  payers: [PVT]\n")
    with pytest.raises(InputError, match=r"key 'payers' is given twice \(lines 4 and 5\)"):
        read_parameter_set(path)


# -- names ---------------------------------------------------------------------------------


def test_safe_names_stay_in_the_folder_and_never_clash(tmp_path: Path) -> None:
    """Ids with separators, traversal, characters a file system drops or case differences
    get distinct names that resolve to files directly inside the report folder.
    """
    ids = ["../x", "x", "a/b", "a?b", "a_b", "A:B", "a:b", "ab", "AB", "CON", ".", "C0001"]
    names = unique_names(ids)
    assert len({n.casefold() for n in names.values()}) == len(ids)
    for name in names.values():
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name), name
        assert (tmp_path / f"{name}.html").resolve().parent == tmp_path.resolve()
    assert names["C0001"] == "C0001" and names["x"] == "x" and names["a_b"] == "a_b"
    assert names["../x"] == f"x-{safe_name('../x')[-8:]}"
    assert names["ab"] != "ab" and names["AB"] != "AB"  # `ab` and `AB` are one file on macOS
    assert names["CON"].startswith("CON-")


# -- one run -------------------------------------------------------------------------------


def test_an_unknown_client_fails_alone_and_is_listed(first: BatchResult) -> None:
    """C9999 is one failure in the index, the manifest and the log; C0001 and C0002 render."""
    assert [(r.subject, r.status) for r in first.records] == [
        ("C9999", "failed"),
        ("C0001", "ok"),
        ("C0002", "ok"),
    ]
    assert sorted(p.name for p in (first.folder / "client").iterdir()) == [
        "C0001.html",
        "C0002.html",
    ]
    error = "client_id 'C9999' not found in the data (clients table); check the id"
    assert [r.error for r in first.failed] == [error]
    index = (first.folder / "index.html").read_text()
    assert "<h2>Failed (1)</h2>" in index and error.replace("'", "&#x27;") in index
    assert f"FAILED client C9999: {error}" in (first.folder / "batch.log").read_text()
    manifest = json.loads((first.folder / "manifest.json").read_text())
    assert manifest["counts"] == {"reports": 3, "ok": 2, "failed": 1, "rendered": 3}
    assert first.summary() == (  # rendered and up to date add up to the reports ok
        f"2 of 3 reports ok (2 rendered, 0 up to date), 1 failed; index: {first.folder}/index.html"
    )


def test_the_log_has_client_ids_and_no_client_names(first: BatchResult, data: Path) -> None:
    """batch.log names clients by id only."""
    log = (first.folder / "batch.log").read_text()
    names = pd.read_csv(data / "clients.csv")["client_name"].dropna()
    assert len(names) == 8
    assert [n for n in names if n in log] == []
    assert "ok client C0001 " in log and "ok client C0002 " in log


def test_the_manifest_fingerprints_inputs_templates_package_and_outputs(
    first: BatchResult, data: Path
) -> None:
    """Every input file and every output has its SHA-256 in the manifest; they match the files."""
    manifest = json.loads((first.folder / "manifest.json").read_text())
    inputs = {str(p.resolve()): sha256_file(p) for p in data.iterdir() if p.is_file()}
    assert manifest["inputs"] == inputs
    assert manifest["package"]["version"] == utilization.__version__
    assert len(manifest["package"]["sha256"]) == 64
    assert set(manifest["templates"]) == {
        "agency", "client", "procedure", "service-codes", "authorizations", "provider", "revenue",
    }  # fmt: skip
    assert manifest["parameters"]["period"] == {
        "label": "2026-Q4",
        "from": "2026-10-01",
        "to": "2026-12-31",
    }
    for record in manifest["reports"]:
        for output in record["outputs"].values():
            assert sha256_file(first.folder / output["path"]) == output["sha256"]
    assert manifest["files"] == {
        "index.html": sha256_file(first.folder / "index.html"),
        "rejects.csv": sha256_file(first.folder / "rejects.csv"),
    }
    assert manifest["status"] == "complete"


def test_the_index_shows_the_figures_of_the_engine(first: BatchResult, data: Path) -> None:
    """Units approved and used, utilization and flags of C0001 in the index are the export's."""
    request = Request(
        "client", Period.parse("2026-Q4"), Filters(clients=("C0001",)), date(2026, 12, 31)
    )
    view = build_view(load(data), request)
    kpis = view.kpis
    record = next(r for r in first.records if r.subject == "C0001")
    assert record.figures == {
        "units_approved": round(kpis["units_approved"], 4),
        "units_used": round(kpis["units_used"], 4),
        "utilization": round(kpis["utilization"], 4),
        "flags": len(view.flags),
    }
    index = (first.folder / "index.html").read_text()
    row = f"<td class='num'>{kpis['utilization'] * 100:,.1f} %</td>"
    assert row in index and '<a href="client/C0001.html">HTML</a>' in index
    assert "<script" not in index and "http" not in index.replace('http-equiv="', "")


def test_a_second_run_renders_only_what_is_missing_or_changed(
    first: BatchResult, data: Path, tmp_path: Path
) -> None:
    """Same set again: the two reports are up to date (untouched), the failed one is tried
    again. A report whose file was altered is rendered again; the other is not.
    """
    out = tmp_path / "reports"  # a copy of the first run's folder: `first` stays as it was
    shutil.copytree(first.folder.parents[1], out)
    spec = spec_for(data, out, ["C0001", "C9999", "C0002"])
    folder = out / first.folder.relative_to(first.folder.parents[1])
    html = {n: folder / "client" / f"{n}.html" for n in ("C0001", "C0002")}
    stamps = {n: p.stat().st_mtime_ns for n, p in html.items()}
    again = run_batch(spec, workers=1)
    assert sorted((r.subject, r.rendered) for r in again.records) == [
        ("C0001", False),
        ("C0002", False),
        ("C9999", True),
    ]
    assert {n: p.stat().st_mtime_ns for n, p in html.items()} == stamps
    html["C0002"].write_text(html["C0002"].read_text() + "<!-- altered -->")
    third = run_batch(spec, workers=1)
    assert sorted(r.subject for r in third.records if r.rendered and r.status == "ok") == ["C0002"]
    assert "altered" not in html["C0002"].read_text()


def test_the_job_key_changes_with_parameters_inputs_template_and_package() -> None:
    """Any change in what a report is made from gives another key; the same inputs the same key."""
    base = ({"client": "C0001"}, {"clients.csv": "aa"}, "t1", {"version": "1", "sha256": "p"})
    key = job_key(*base)
    assert key == job_key(*base) and len(key) == 64
    assert job_key({"client": "C0002"}, *base[1:]) != key
    assert job_key(base[0], {"clients.csv": "ab"}, *base[2:]) != key
    assert job_key(*base[:2], "t2", base[3]) != key
    assert job_key(*base[:3], {"version": "1", "sha256": "q"}) != key


# -- atomic files and failures inside a worker ----------------------------------------------


def test_a_report_failing_while_rendering_does_not_stop_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error in one render is that report's failed record; the worker goes on."""

    def render(self: BatchRenderer, view: str, parameters: dict[str, str], out_dir: Path,
               name: str, formats: tuple[str, ...], within: Path,
               pdf_engine: str = "auto") -> dict[str, Path]:  # fmt: skip
        if parameters["client"] == "C0001":
            raise RuntimeError("kernel died")
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"{name}.html").write_text("<html></html>")
        self.last_figures = {"flags": 0}
        return {"html": out_dir / f"{name}.html"}

    monkeypatch.setattr(BatchRenderer, "render", render)
    jobs = [Job("client", c, c, {"client": c}) for c in ("C0001", "C0002")]
    records = run_task(Task(jobs, {"C0001": "k1", "C0002": "k2"}, tmp_path, ("html",)))
    assert [(r.subject, r.status, r.error) for r in records] == [
        ("C0001", "failed", "RuntimeError: kernel died"),
        ("C0002", "ok", ""),
    ]
    assert records[1].outputs == {
        "html": {"path": "client/C0002.html", "sha256": sha256_file(tmp_path / "client/C0002.html")}
    }
    assert records[1].figures == {"flags": 0}


def test_temporary_files_never_look_like_reports_and_are_cleaned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write killed before its rename leaves no `*.html` and no temporary file; a stray
    temporary file of a killed run (`.<name>.<16 hex>.utilization.tmp`) is removed by the
    next run, while a user's own `.notes.tmp` stays.
    """
    from utilization.files import temporary_name, write_atomic

    folder = tmp_path / "client"
    folder.mkdir()
    (folder / temporary_name("C0001.html")).write_text("<html><body>half")
    (folder / ".notes.tmp").write_text("mine")

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(os, "replace", killed)
        write_atomic(folder / "C0002.html", "<html>complete</html>")
    assert list(folder.glob("*.html")) == []
    assert len(list(folder.iterdir())) == 2
    assert remove_temporary_files(tmp_path) == 1
    assert [p.name for p in folder.iterdir()] == [".notes.tmp"]


@pytest.mark.slow
def test_a_killed_batch_leaves_only_whole_reports_and_resumes(data: Path, tmp_path: Path) -> None:
    """Kill the command (and its workers) as reports appear: every `*.html` there is whole;
    the next run (two worker processes) finishes the set, leaves no temporary file, and exits 1
    because the set names a client that does not exist.
    """
    params = tmp_path / "q.yaml"
    clients = ["C0001", "C0002", "C0003", "C0004", "C0005", "C9999"]
    params.write_text(
        yaml.safe_dump(
            {"name": "q", "view": "client", "period": "2026-Q4", "data": str(data),
             "clients": clients, "formats": ["html"], "out": str(tmp_path / "out")}
        )
    )  # fmt: skip
    command = [sys.executable, "-m", "utilization", "batch", str(params), "--no-progress"]
    folder = tmp_path / "out" / "q" / "2026-Q4"
    process = subprocess.Popen(
        [*command, "--workers", "2"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not list(folder.glob("client/*.html")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    for path in folder.glob("client/*.html"):
        assert path.read_text().rstrip().endswith("</html>"), path
    done = subprocess.run([*command, "--workers", "2"], capture_output=True, text=True)
    assert done.returncode == 1
    assert "5 of 6 reports ok" in done.stdout and "failed: client C9999" in done.stderr
    assert sorted(p.name for p in folder.glob("client/*")) == [f"{c}.html" for c in clients[:5]]
    assert list(folder.rglob("*.tmp")) == []


# -- fieldworkers and the agency's by-fieldworker file ---------------------------------------


def test_a_batch_of_fieldworker_reports_reads_the_whole_dataset(data: Path, tmp_path: Path) -> None:
    """Fieldworker reports are never sliced (units approved and balances read beyond their
    visits); each report's index row has its units used, no units approved or utilization.
    """
    dataset = load(data)
    assert slice_dataset(dataset, "provider", ["P001"]) is dataset
    spec = parameter_set(
        {
            "name": "f",
            "view": "provider",
            "period": "2026-Q4",
            "data": str(data),
            "providers": ["P001", "P002"],
            "formats": ["html"],
            "out": str(tmp_path),
        }
    )
    result = run_batch(spec, workers=1)
    assert [(r.subject, r.status) for r in result.records] == [("P001", "ok"), ("P002", "ok")]
    request = Request("provider", Period.parse("2026-Q4"), Filters(providers=("P001",)))
    (row,) = export.to_jsonable(build_view(dataset, request))["by_provider"]
    record = next(r for r in result.records if r.subject == "P001")
    assert record.figures["units_used"] == row["units_used"]
    assert record.figures["units_approved"] is None and record.figures["utilization"] is None
    page = (result.folder / "provider" / "P001.html").read_text(encoding="utf-8")
    assert "Units delivered: fieldworker" in page and "(P001)" in page


def test_an_agency_batch_writes_the_full_by_fieldworker_table_beside_its_report(
    data: Path, tmp_path: Path
) -> None:
    """The agency report links `agency.by_provider.csv`, written in its folder, listed in the
    manifest with its SHA-256 and in the index.
    """
    spec = parameter_set(
        {"name": "a", "view": "agency", "period": "2026-Q4", "data": str(data),
         "formats": ["html"], "out": str(tmp_path)}
    )  # fmt: skip
    result = run_batch(spec, workers=1)
    (record,) = result.records
    csv_path = result.folder / "agency" / "agency.by_provider.csv"
    assert record.outputs["by_provider.csv"] == {
        "path": "agency/agency.by_provider.csv",
        "sha256": sha256_file(csv_path),
    }
    page = (result.folder / "agency" / "agency.html").read_text(encoding="utf-8")
    assert 'href="agency.by_provider.csv"' in page
    table = pd.read_csv(csv_path, dtype={"provider_id": str}, keep_default_na=False)
    request = Request("agency", Period.parse("2026-Q4"))
    expected = export.rounded_frame(build_view(load(data), request).by_provider, "by_provider")
    assert table["provider_id"].tolist() == expected["provider_id"].tolist()
    assert table["units_used"].tolist() == expected["units_used"].tolist()
    index = (result.folder / "index.html").read_text(encoding="utf-8")
    assert 'href="agency/agency.by_provider.csv">by_provider.csv</a>' in index


# -- a Dask cluster ------------------------------------------------------------------------


def test_a_client_slice_gives_the_same_figures_as_the_whole_dataset(data: Path) -> None:
    """The rows shipped to a cluster worker for C0003 give exactly the client's full figures."""
    dataset = load(data)
    part = slice_dataset(dataset, "client", ["C0003", "C0004"])
    assert set(part.visits["client_id"]) == {"C0003", "C0004"}
    assert len(part.visits) < len(dataset.visits)
    request = Request(
        "client", Period.parse("2026-Q4"), Filters(clients=("C0003",)), date(2026, 12, 31)
    )
    full = export.to_jsonable(build_view(dataset, request))
    assert export.to_jsonable(build_view(part, request)) == full


@pytest.mark.slow
def test_the_same_batch_runs_on_a_dask_cluster(
    first: BatchResult, data: Path, tmp_path: Path
) -> None:
    """With --scheduler, a LocalCluster worker renders the reports from its slice of the data;
    each HTML equals the local run's (but for papermill's random cell id).
    """
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        result = run_batch(
            spec_for(data, tmp_path, ["C0001", "C0002"]), scheduler=cluster.scheduler_address
        )
    assert [(r.subject, r.status) for r in sorted(result.records, key=lambda r: r.subject)] == [
        ("C0001", "ok"),
        ("C0002", "ok"),
    ]
    for name in ("C0001.html", "C0002.html"):
        mine = (result.folder / "client" / name).read_text()
        local = (first.folder / "client" / name).read_text()
        assert CELL_ID.sub("", mine) == CELL_ID.sub("", local)


@pytest.mark.slow
def test_a_cluster_worker_removes_the_slices_it_wrote(tmp_path: Path) -> None:
    """A source that cannot be cut (here the built-in demo) reaches a cluster worker as slices
    of the data set, one file per task in the worker's temporary folder: each is removed once
    the task's reports are made, so that a worker serving batch after batch does not fill it.
    """
    from distributed import LocalCluster

    worker_tmp = tmp_path / "worker-tmp"
    worker_tmp.mkdir()
    spec = parameter_set(
        {
            "name": "q",
            "view": "client",
            "period": "2026-Q1",
            "data": "demo",
            "clients": ["C0001", "C0002", "C0003"],
            "formats": ["html"],
            "out": str(tmp_path / "out"),
        }
    )
    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        env={"TMPDIR": str(worker_tmp)},  # the worker process's temporary folder
    ) as cluster:
        result = run_batch(spec, scheduler=cluster.scheduler_address)
    assert sorted((r.subject, r.status) for r in result.records) == [
        ("C0001", "ok"),
        ("C0002", "ok"),
        ("C0003", "ok"),
    ]
    # The worker wrote its slices in a folder of its own there (named after the machine and
    # its process), and removed them.
    folders = list(worker_tmp.glob(f"{SLICES_PREFIX}{socket.gethostname()}-*"))
    assert len(folders) == 1
    assert sorted(folders[0].iterdir()) == []


def test_a_slice_folder_of_an_ended_worker_is_removed_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed outright leaves its slices behind: the next worker process on the
    machine to write a slice removes the folder, and its own is private and named after it.
    Another machine's folder (a shared temporary folder) is left alone.
    """
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ended = subprocess.Popen(["true"])  # a process that has ended: its pid
    ended.wait()
    host = socket.gethostname()
    stale = tmp_path / f"{SLICES_PREFIX}{host}-{ended.pid}-abc123"
    stale.mkdir()
    (stale / f"{'0' * 20}{SUFFIX}").write_bytes(b"left by a killed worker")
    elsewhere = tmp_path / f"{SLICES_PREFIX}another-machine-{ended.pid}-abc123"
    elsewhere.mkdir()
    monkeypatch.setattr(slices, "_folders", {})

    written = Path(materialize(b"a slice"))

    assert not stale.exists()
    assert elsewhere.is_dir()
    assert written.read_bytes() == b"a slice"
    assert written.parent.name.startswith(f"{SLICES_PREFIX}{host}-{os.getpid()}-")
    assert written.parent.stat().st_mode & 0o777 == 0o700
    assert Path(materialize(b"another")).parent == written.parent  # one folder per process
