"""Local worker processes of a batch: a worker that dies costs its own report, no other.

`concurrent.futures.ProcessPoolExecutor` marks the whole pool broken when one process dies
(`kill -9`, the out-of-memory killer) and fails every report not yet finished. Here each
worker is a process of its own with a pipe: the parent knows which report each one is
rendering, so when one dies only that report is affected. It is rendered once more in a
new worker (the death may have been the machine's, not the report's); if its worker dies
again, it fails with the reason and the other reports go on.
"""

from __future__ import annotations

import glob
import signal
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from utilization import threads
from utilization.batch.manifest import ReportRecord
from utilization.batch.plan import Job
from utilization.batch.workers import Task
from utilization.files import is_temporary

TRIES = 2  # a report whose worker dies is rendered once more, then fails
_STOP_SECONDS = 10.0


@dataclass
class _Worker:
    process: BaseProcess
    connection: Connection
    task: Task | None = None


Work = Callable[[Task], list[ReportRecord]]


def run_pool(
    tasks: list[Task],
    workers: int,
    note: Callable[[str], None] = lambda _: None,
    work: Work | None = None,
) -> Iterator[list[ReportRecord]]:
    """The records of each task, as its worker finishes it, on `workers` processes.

    A worker that dies has its task rendered again in a new process (`note` is told); a
    task whose worker dies TRIES times gives failed records naming the cause. `work` is
    what a worker does with a task (a module-level function; default `workers.run_task`).
    """
    context = get_context("spawn")
    pending: deque[Task] = deque(tasks)
    tries: dict[int, int] = {}
    pool: list[_Worker] = []

    def start() -> _Worker:
        parent, child = context.Pipe()
        process = context.Process(target=_serve, args=(child, work), daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent)

    try:
        pool = [start() for _ in range(min(workers, len(tasks)))]
        running = 0
        while pending or running:
            for position, worker in enumerate(pool):
                if worker.task is None and not worker.process.is_alive():  # died while idle
                    worker.process.join()
                    worker.connection.close()
                    pool[position] = worker = start()
                if worker.task is None and pending:
                    worker.task = pending.popleft()
                    running += 1
                    with suppress(OSError):  # if it died, its sentinel says so below
                        worker.connection.send(worker.task)
            ready = set(wait([w.connection for w in pool] + [w.process.sentinel for w in pool]))
            for position, worker in enumerate(pool):
                if worker.task is None:
                    continue
                task = worker.task
                if worker.connection in ready:
                    try:
                        records: list[ReportRecord] = worker.connection.recv()
                    except (EOFError, OSError):
                        pass  # died while answering: see the sentinel below
                    else:
                        worker.task = None
                        running -= 1
                        yield records
                        continue
                if worker.process.sentinel not in ready and worker.process.is_alive():
                    continue
                worker.process.join()
                worker.connection.close()
                cause = _cause(worker.process.exitcode)
                running -= 1
                pool[position] = start()
                _remove_leftovers(task)
                key = id(task)
                tries[key] = tries.get(key, 0) + 1
                who = ", ".join(f"{j.view} {j.subject or j.name}" for j in task.jobs)
                if tries[key] < TRIES:
                    note(f"worker process died ({cause}) while rendering {who}; rendering it again")
                    pending.appendleft(task)
                    continue
                note(f"worker process died ({cause}) again while rendering {who}: failed")
                error = (
                    f"worker process died twice while rendering this report ({cause}); "
                    "the other reports went on"
                )
                yield [_failed(j, task, error) for j in task.jobs]
    finally:
        _stop(pool)


def _failed(job: Job, task: Task, error: str) -> ReportRecord:
    return ReportRecord(job.name, job.view, job.subject, task.keys[job.name], "failed", error=error)


def _cause(exitcode: int | None) -> str:
    """How a process ended, in words: `killed by SIGKILL, signal 9` or `exit code 3`."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        return f"killed by {name}, signal {-exitcode}"
    return f"exit code {exitcode}"


def _remove_leftovers(task: Task) -> None:
    """Delete the temporary files the dead worker was writing for the task's reports."""
    for job in task.jobs:
        folder = task.folder / job.view
        if not folder.is_dir():
            continue
        for ext in task.formats:
            for path in folder.glob(f".{glob.escape(job.name)}.{ext}.*"):
                if is_temporary(path.name, of=f"{job.name}.{ext}"):
                    path.unlink(missing_ok=True)


def _stop(pool: list[_Worker]) -> None:
    """Ask every worker to finish (its kernel shut down), then end those that do not."""
    for worker in pool:
        with suppress(OSError, ValueError):
            worker.connection.send(None)
    for worker in pool:
        worker.process.join(_STOP_SECONDS)
        if worker.process.is_alive():
            worker.process.terminate()
            worker.process.join(_STOP_SECONDS)
        worker.connection.close()


def _serve(connection: Connection, work: Work | None) -> None:
    """A worker process: render each task received until told to stop (None)."""
    from utilization.batch.workers import close_renderer, run_task

    threads.in_worker()  # one process per core already
    work = work or run_task
    try:
        while True:
            try:
                task: Any = connection.recv()
            except (EOFError, OSError):
                break  # the parent is gone
            if task is None:
                break
            connection.send(work(task))
    finally:
        close_renderer()
