"""The engine's arrays live in ordinary pages: NumPy's huge-page advice is off while it works.

On large data NumPy's `madvise(MADV_HUGEPAGE)` made 10M visits cost 36-39 s instead of
27-28 s (benchmarks/README, "Huge pages"). These tests read the kernel's own record of the
advice (`VmFlags: hg` in /proc/self/smaps), check that NumPy's setting is put back for the
program that imported the package, and that every stage of the engine runs inside.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from utilization import hugepages, partitions, views
from utilization.cli import main
from utilization.parameters import Request
from utilization.period import Filters, Period
from utilization.pipeline import load

linux_only = pytest.mark.skipif(
    not Path("/proc/self/smaps").exists(), reason="reads Linux's /proc/self/smaps"
)


def _setting() -> bool:
    """NumPy's huge-page setting now (set and put back)."""
    now = hugepages._set(True)
    hugepages._set(now)
    return now


@pytest.fixture(autouse=True)
def numpy_as_it_was(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with NumPy advising huge pages and no NUMPY_MADVISE_HUGEPAGE, and
    leaves NumPy and the environment as they were.
    """
    before = hugepages._set(True)
    monkeypatch.setenv(hugepages.VARIABLE, "")  # so that the end puts back its absence
    monkeypatch.delenv(hugepages.VARIABLE)
    yield
    hugepages._set(before)


def _advised(array: np.ndarray[Any, Any]) -> bool:
    """Whether the kernel holds huge-page advice for the memory in the middle of `array`."""
    address = array.ctypes.data + array.nbytes // 2
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(maxsplit=1)[0]
        if "-" in head and not head.endswith(":"):
            start, end = (int(bound, 16) for bound in head.split("-"))
            inside = start <= address < end
        elif inside and head == "VmFlags:":
            return "hg" in line.split()[1:]
    msg = "the array's memory is not in /proc/self/smaps"
    raise AssertionError(msg)


@linux_only
def test_arrays_made_inside_carry_no_huge_page_advice() -> None:
    """A 64 MB array made inside `small_pages()` has no `hg` flag; one made outside has it
    where NumPy advises huge pages (a kernel with transparent huge pages).
    """
    with hugepages.small_pages():
        inside = np.ones(8 << 20)
    outside = np.ones(8 << 20)
    assert not _advised(inside)
    if Path("/sys/kernel/mm/transparent_hugepage/enabled").exists():
        assert _advised(outside)


@linux_only
def test_a_users_numpy_madvise_hugepage_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """With NUMPY_MADVISE_HUGEPAGE set, the user has chosen: NumPy's setting is not changed."""
    monkeypatch.setenv(hugepages.VARIABLE, "1")
    with hugepages.small_pages():
        assert _setting() is True
    hugepages.in_process()
    assert _setting() is True
    assert os.environ[hugepages.VARIABLE] == "1"


def test_numpy_is_put_back_after_nesting_an_error_and_threads() -> None:
    """The setting is off inside, put back after the outermost block, also after an error;
    two threads' overlapping blocks keep it off until the last one ends.
    """
    with hugepages.small_pages():
        with hugepages.small_pages():
            assert _setting() is False
        assert _setting() is False
    assert _setting() is True

    with pytest.raises(ZeroDivisionError), hugepages.small_pages():
        _ = 1 / 0
    assert _setting() is True

    entered, first_ended, seen = threading.Event(), threading.Event(), []

    def second() -> None:
        with hugepages.small_pages():
            entered.set()
            first_ended.wait(10)
            seen.append(_setting())  # the first thread's block has ended: still off

    thread = threading.Thread(target=second)
    with hugepages.small_pages():
        thread.start()
        entered.wait(10)
    first_ended.set()
    thread.join(10)
    assert seen == [False]
    assert _setting() is True


def test_every_stage_of_the_engine_runs_in_small_pages(
    demo_folder: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Reading, validation, matching, a view's figures (whole and in parts) and the cut each
    turn the advice off once and put it back when they end.
    """
    folder = demo_folder(today=date(2026, 2, 16), clients=8, fmt="parquet")
    calls: list[bool] = []

    def recorded(enabled: bool) -> bool:
        calls.append(enabled)
        return True

    monkeypatch.setattr(hugepages, "_set", recorded)
    dataset = load(folder)
    assert calls == [False, True] * 3  # read, validate, match
    request = Request(
        "agency", Period(date(2026, 1, 1), date(2026, 3, 31)), Filters(), date(2026, 2, 16)
    )
    calls.clear()
    views.build_view(dataset, request)
    parts, newest = views.view_parts(dataset, request)
    views.view_of_parts(dataset, request, [parts], [newest])
    (tmp_path / "work").mkdir()
    partitions.cut(folder, 2, tmp_path / "work")
    assert calls == [False, True] * 4


def test_a_command_turns_the_advice_off_for_itself_and_its_children(
    demo_folder: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`utilization validate` leaves NumPy without huge pages in its process and sets
    NUMPY_MADVISE_HUGEPAGE=0 for the processes it starts (kernels, workers).
    """
    folder = demo_folder(today=date(2026, 2, 16), clients=8)
    assert main(["validate", "--data", str(folder), "--out", str(tmp_path / "rejects.csv")]) == 0
    assert _setting() is False
    assert os.environ[hugepages.VARIABLE] == "0"
