"""Independent pieces of work run at once on threads, for the engine's coarse steps.

NumPy, pandas' grouping and Arrow let go of the interpreter while they work on millions of
values, so two figures computed on two threads take less time than one after the other on
a machine with two cores or more (a view of 1M visits: about a third less). Every piece is
computed exactly as it would be alone: results never depend on the threads.

`UTILIZATION_THREADS` sets how many threads a step uses (default: the cores this process may
run on); 1 runs every piece in the calling thread, one after the other. Worker processes
started one per core (a batch's report workers, the local workers of parts) use one thread
each unless the variable is set (`in_worker`); a bad value is refused when a command starts.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from utilization.exceptions import UsageError

T = TypeVar("T")
K = TypeVar("K")

VARIABLE = "UTILIZATION_THREADS"


def threads() -> int:
    """How many threads a step may use: `UTILIZATION_THREADS`, else the cores (at least 1)."""
    given = os.environ.get(VARIABLE, "").strip()
    if not given:
        return _cores()
    try:
        count = int(given)
    except ValueError:
        count = 0
    if count < 1:
        msg = f"{VARIABLE} must be a whole number of threads, 1 or more, not {given!r}"
        raise UsageError(msg)
    return count


def _cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def in_worker() -> None:
    """In a worker process started one per core: one thread per step, unless
    `UTILIZATION_THREADS` says otherwise (the processes already fill the cores).
    """
    os.environ.setdefault(VARIABLE, "1")


_chain = threading.local()
"""Per thread, the stop events of the `together` calls it runs pieces of (`stops`)."""

MIN_ROWS = 750_000
"""Rows below which pieces run one after the other: on smaller frames each NumPy or pandas
step is short, and threads handing the interpreter to each other cost more than they give
(a view of 100k visits: about 35% slower on two threads; 400k: no faster; 1M: up to 20%
faster)."""


def together(work: Sequence[Callable[[], T]], rows: int) -> list[T]:
    """The results of `work`, in order, the pieces run at once on up to `threads()` threads
    when they work on `rows` rows or more (`MIN_ROWS`), the calling thread one of them (each
    thread takes the next piece not yet started). An error of a piece is raised once every
    piece has ended: that of the first piece in order. An interruption (Ctrl-C, which only
    the calling thread receives) goes up at once, and no piece is started after it.
    """
    count = min(threads(), len(work)) if rows >= MIN_ROWS else 1
    if count <= 1:
        return [piece() for piece in work]
    results: list[Any] = [None] * len(work)
    errors: list[BaseException | None] = [None] * len(work)
    queue = iter(range(1, len(work)))  # the calling thread takes piece 0 itself
    lock = threading.Lock()
    stopped = threading.Event()
    caller = threading.current_thread()
    # This call's stop and those of the calls it runs within: a piece that runs pieces of
    # its own on threads starts none once any call around it was interrupted.
    outer: tuple[threading.Event, ...] = getattr(_chain, "stops", ())
    stops = (*outer, stopped)

    def run(index: int) -> None:
        try:
            results[index] = work[index]()
        except Exception as error:  # raised below, in the calling thread
            errors[index] = error
        except BaseException as error:  # KeyboardInterrupt, SystemExit: no piece starts
            stopped.set()
            if threading.current_thread() is caller:
                raise  # at once: the pieces running on other threads end alone
            errors[index] = error

    def drain() -> None:
        while not any(stop.is_set() for stop in stops):
            with lock:
                index = next(queue, None)
            if index is None:
                return
            run(index)

    def helper() -> None:
        _chain.stops = stops
        drain()

    helpers = [
        threading.Thread(target=helper, name=f"utilization-{i}", daemon=True)
        for i in range(count - 1)
    ]
    for thread in helpers:
        thread.start()
    _chain.stops = stops
    try:
        run(0)
        drain()
    except BaseException:  # an interruption between pieces
        stopped.set()
        raise
    finally:
        _chain.stops = outer
    for thread in helpers:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
    return results


def together_by_name(work: Mapping[K, Callable[[], Any]], rows: int) -> dict[K, Any]:
    """`together` of named pieces: each name with its piece's result, in the same order."""
    return dict(zip(work, together(list(work.values()), rows), strict=True))
