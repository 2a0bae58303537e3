"""Batch worker processes: one that dies costs its own report at most, never the batch."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
import yaml

from utilization.batch.manifest import ReportRecord
from utilization.batch.plan import Job
from utilization.batch.pool import run_pool
from utilization.batch.workers import Task
from utilization.files import is_temporary, sha256_file
from utilization.threads import VARIABLE

CLIENTS = ["C0001", "C0002", "C0003", "C0004", "C0005"]


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _workers(pid: int) -> list[int]:
    """The batch's worker processes: its children running multiprocessing's spawn_main."""
    found = []
    for child in _children(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:
            found.append(child)
    return found


def _kill_one_worker(
    process: subprocess.Popen[bytes], rng: random.Random, killed: list[int]
) -> None:
    """At a random moment, SIGKILL one worker chosen at random (while the batch runs)."""
    time.sleep(rng.uniform(0.5, 10.0))
    while process.poll() is None:
        workers = _workers(process.pid)
        if workers:
            victim = rng.choice(workers)
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
            return
        time.sleep(0.05)


@pytest.mark.slow
def test_a_worker_killed_at_a_random_moment_costs_no_report(
    demo_folder: Callable[..., Path], tmp_path: Path
) -> None:
    """Three small batches on two workers, each with one worker killed (SIGKILL) at a random
    moment: every batch exits 0 with all five reports ok; every report is whole and has the
    SHA-256 the manifest records; no temporary file is left; the log says what happened.
    """
    data = demo_folder(clients=8, today=date(2026, 11, 23))
    seed = int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    for attempt in range(3):
        out = tmp_path / f"out{attempt}"
        params = tmp_path / f"q{attempt}.yaml"
        params.write_text(
            yaml.safe_dump(
                {"name": "q", "view": "client", "period": "2026-Q4", "data": str(data),
                 "clients": CLIENTS, "formats": ["html"], "out": str(out)}
            )
        )  # fmt: skip
        command = [sys.executable, "-m", "utilization", "batch", str(params), "--no-progress"]
        process = subprocess.Popen(
            [*command, "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        killed: list[int] = []
        killer = threading.Thread(target=_kill_one_worker, args=(process, rng, killed))
        killer.start()
        stdout, stderr = process.communicate(timeout=600)
        killer.join()
        context = f"seed {seed}, batch {attempt}, killed {killed}: {stderr.decode()[-2000:]}"
        assert process.returncode == 0, context
        assert b"5 of 5 reports ok" in stdout, context
        folder = out / "q" / "2026-Q4"
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["counts"]["ok"] == 5 and manifest["status"] == "complete", context
        for record in manifest["reports"]:
            path = folder / record["outputs"]["html"]["path"]
            assert path.read_text().rstrip().endswith("</html>"), context
            assert sha256_file(path) == record["outputs"]["html"]["sha256"], context
        assert [p for p in folder.rglob("*") if is_temporary(p.name)] == [], context
        log = (folder / "batch.log").read_text()
        if killed and "worker process died" not in log:  # killed between two reports
            assert all(f"ok client {c}" in log for c in CLIENTS), context


def _die_on(task: Task) -> list[ReportRecord]:
    """A worker's work for the test: the report of subject DIE kills its process."""
    job = task.jobs[0]
    if job.subject == "DIE":
        os.kill(os.getpid(), signal.SIGKILL)
    return [ReportRecord(job.name, job.view, job.subject, task.keys[job.name], "ok")]


def test_a_report_whose_worker_dies_twice_fails_alone(tmp_path: Path) -> None:
    """A task that kills its worker every time is tried twice and fails with the cause; the
    other tasks, on the same pool, finish.
    """
    jobs = [Job("client", c, c, {"client": c}) for c in ("C1", "DIE", "C2", "C3")]
    tasks = [Task([j], {j.name: f"k-{j.name}" for j in jobs}, tmp_path, ("html",)) for j in jobs]
    notes: list[str] = []
    results = [r for records in run_pool(tasks, 2, notes.append, _die_on) for r in records]
    outcome = {r.subject: (r.status, r.error) for r in results}
    assert len(results) == 4
    assert outcome["DIE"][0] == "failed"
    assert outcome["DIE"][1] == (
        "worker process died twice while rendering this report (killed by SIGKILL, signal 9); "
        "the other reports went on"
    )
    assert {s for s, (status, _) in outcome.items() if status == "ok"} == {"C1", "C2", "C3"}
    assert notes == [
        "worker process died (killed by SIGKILL, signal 9) while rendering client DIE; "
        "rendering it again",
        "worker process died (killed by SIGKILL, signal 9) again while rendering client DIE: "
        "failed",
    ]
    assert isinstance(results[0], ReportRecord)


def _threads_of_worker(task: Task) -> list[ReportRecord]:
    """A worker's work for the test: its UTILIZATION_THREADS as the record's status."""
    job = task.jobs[0]
    return [ReportRecord(job.name, job.view, job.subject, "", os.environ.get(VARIABLE, ""))]


@pytest.mark.parametrize(("given", "seen"), [(None, "1"), ("3", "3")], ids=["unset", "set"])
def test_report_workers_use_one_thread_each_unless_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str | None, seen: str
) -> None:
    """One worker process per core already fills the cores: no threads inside, unless the
    user's UTILIZATION_THREADS says otherwise.
    """
    if given is None:
        monkeypatch.delenv(VARIABLE, raising=False)
    else:
        monkeypatch.setenv(VARIABLE, given)
    jobs = [Job("client", c, c, {"client": c}) for c in ("C1", "C2")]
    tasks = [Task([j], {j.name: j.name}, tmp_path, ("html",)) for j in jobs]
    records = [r for found in run_pool(tasks, 2, lambda _: None, _threads_of_worker) for r in found]
    assert [r.status for r in records] == [seen, seen]
    assert os.environ.get(VARIABLE) == given  # this process untouched
