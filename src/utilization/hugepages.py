"""The engine's arrays in ordinary memory pages, not NumPy's transparent huge pages.

On Linux NumPy asks for transparent huge pages (`madvise(MADV_HUGEPAGE)`) on every array of
4 MB or more. Where the kernel's huge-page `defrag` setting is `madvise` (the kernel's
default), each first touch of such an array may make the kernel compact memory and zero 2 MB
at once. The engine makes and lets go of hundreds of
column-sized arrays on large data (80 MB each at 10M visits), each mapped afresh by the C
library, so that cost is paid again and again: 10M visits read, validated, matched and given
the agency view took 36-39 s with huge pages and 27-28 s without, on this project's 2-core
machine, half of the system time gone (benchmarks/README, "Huge pages"). Below about 1M
visits the arrays are reused from the C library's heap and it makes little difference.

The engine's stages run inside `small_pages()`, which turns NumPy's advice off and puts back
what was there when it ends: a notebook or program that imports the package keeps NumPy as
it was between calls. A user who set `NUMPY_MADVISE_HUGEPAGE` (NumPy's own switch, read when
NumPy is imported) has chosen, and is left alone.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from numpy._core import multiarray

P = ParamSpec("P")
R = TypeVar("R")

VARIABLE = "NUMPY_MADVISE_HUGEPAGE"


def _unknown(enabled: bool) -> bool:
    return False


_set: Callable[[bool], bool] = getattr(multiarray, "_set_madvise_hugepage", _unknown)
"""NumPy's switch (since 1.20; it returns the previous setting), or nothing on a NumPy
without it."""


_lock = threading.Lock()
_inside = 0  # `small_pages()` blocks running now, in every thread
_before = True  # NumPy's setting when the first of them began


@contextmanager
def small_pages() -> Iterator[None]:
    """Within it, NumPy allocates without asking for huge pages (unless `NUMPY_MADVISE_HUGEPAGE`
    is set). When the last such block running in the process ends (they nest, and several
    threads may be in one), NumPy's setting from before the first is put back, also on an
    error.
    """
    global _inside, _before
    if VARIABLE in os.environ:
        yield
        return
    with _lock:
        if _inside == 0:
            _before = _set(False)
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0:
                _set(_before)


def in_small_pages(func: Callable[P, R]) -> Callable[P, R]:
    """`func` run inside `small_pages()`: for the engine's stages (not for generators)."""

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with small_pages():
            return func(*args, **kwargs)

    return run


def in_process() -> None:
    """For a process the package starts and owns (a command, a worker): small pages for its
    whole life and for the processes it starts (kernels, workers), unless
    `NUMPY_MADVISE_HUGEPAGE` is set.
    """
    if VARIABLE in os.environ:
        return
    os.environ[VARIABLE] = "0"  # read by NumPy in the processes this one starts
    _set(False)
