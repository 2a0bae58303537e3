"""Running batch tasks on a Dask cluster (`utilization batch --scheduler ADDRESS`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import TypeVar

from distributed import Client, KilledWorker, WorkerPlugin, as_completed

from utilization.batch.manifest import ReportRecord
from utilization.batch.workers import Task, close_renderer, run_task
from utilization.exceptions import EnvironmentFault, InputError
from utilization.partitions import PartJob, PartRunner

CONNECT_TIMEOUT = "20s"
CONNECT_DEADLINE = 30.0  # seconds: past Dask's own timeout, a connection that hangs
R = TypeVar("R")


class RendererPlugin(WorkerPlugin):
    """Shuts a worker's kernel down when the worker closes."""

    name = "utilization-renderer"

    def teardown(self, worker: object) -> None:
        """Shut the worker's kernel down."""
        close_renderer()


def connect(address: str) -> Client:
    """A client of the scheduler at `address`, or InputError saying how to fix it: nothing
    there, not an address, or something else answering (an HTTP server, the scheduler's
    dashboard port), which Dask's client may read as a message of any size or wait on past
    its timeout; so it is given `CONNECT_DEADLINE` seconds in a thread of its own.
    """
    found: dict[str, object] = {}

    def attempt() -> None:
        try:
            found["client"] = Client(address, timeout=CONNECT_TIMEOUT)  # type: ignore[no-untyped-call]
        except Exception as exc:  # whatever answered, it is not a scheduler
            found["error"] = exc

    thread = threading.Thread(target=attempt, name="dask-connect", daemon=True)
    thread.start()
    thread.join(CONNECT_DEADLINE)
    client = found.get("client")
    if isinstance(client, Client):
        return client
    error = found.get("error")
    why = (
        f"no Dask scheduler answered within {CONNECT_DEADLINE:.0f} s"
        if error is None
        else f"{error.__class__.__name__}: {error}".splitlines()[0][:300]
    )
    msg = (
        f"cannot reach the Dask scheduler at {address!r} ({why}); start one with "
        "`dask scheduler` and workers with `dask worker ADDRESS --nthreads 1`, and give "
        "its address (tcp://HOST:8786, not the dashboard's port)"
    )
    raise InputError(msg)


def part_runner(client: Client) -> PartRunner:
    """Runs the parts of a cut data folder on the cluster's workers (`partitions`): one task
    per part, given the part's files in the work folder (which the workers must be able to
    read: TMPDIR a shared folder); the results as they come.
    """

    def run(work: Callable[[PartJob], R], jobs: list[PartJob]) -> Iterator[R]:
        futures = client.map(work, jobs, pure=False)
        try:
            for future in as_completed(futures):  # type: ignore[no-untyped-call]
                result: R = future.result()
                future.release()
                yield result
        except BaseException as exc:  # a part failed, or the run stopped: start no other
            with suppress(Exception):  # a client that lost the scheduler: the error stands
                client.cancel(futures)  # type: ignore[no-untyped-call]
            if isinstance(exc, KilledWorker):  # as partitions.local_runner says it
                msg = (
                    f"a Dask worker ended before its part of the {len(jobs)} was done (out of "
                    "memory?); cut the data into more parts (--partitions) or give the "
                    "workers more memory"
                )
                raise EnvironmentFault(msg) from None
            raise

    return run


def worker_count(client: Client) -> int:
    """How many workers the cluster has now (at least 1)."""
    return max(1, len(client.scheduler_info().get("workers", {})))


def run_on_cluster(client: Client, tasks: list[Task]) -> Iterator[list[ReportRecord]]:
    """Submit every task; yield each task's records as it finishes.

    Each Dask worker keeps one kernel (workers.renderer) for all the tasks it runs; run
    workers with one thread each (`--nthreads 1`), a kernel renders one report at a time.
    """
    client.register_plugin(RendererPlugin())
    futures = [client.submit(run_task, task, pure=False) for task in tasks]
    owner = {future.key: task for future, task in zip(futures, tasks, strict=True)}
    for future in as_completed(futures):  # type: ignore[no-untyped-call]
        task = owner[future.key]
        try:
            yield future.result()
        except Exception as exc:  # a worker died or the task could not run at all
            yield [_failed(task, job.name, f"{type(exc).__name__}: {exc}") for job in task.jobs]
        future.release()


def _failed(task: Task, name: str, error: str) -> ReportRecord:
    job = next(j for j in task.jobs if j.name == name)
    return ReportRecord(job.name, job.view, job.subject, task.keys[name], "failed", error=error)
