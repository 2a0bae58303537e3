"""Pieces of the engine run at once on threads give the figures of one thread, to the byte.

`threads.together` runs the view's figures, matching's steps after the completed visits and
the parsing of start and end on threads when the data is large (`MIN_ROWS`). Here the
threshold is lowered so that small data sets take the threaded paths, and each export is
compared with the one made on one thread.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract_data import CLIENTS, auth, run, timed, write_data
from test_partitions import agencies, agency_folder, requests
from utilization import export, figures, partitions, threads, views
from utilization.exceptions import UsageError
from utilization.parameters import Request
from utilization.period import Filters, Period
from utilization.pipeline import load
from utilization.selection import Selection


def _exports(folder: Path, count: int, requests_: list[Request]) -> list[str]:
    """Every request's JSON export of the data in `folder`, loaded and made on `count`
    threads, every step threaded whatever its size.
    """
    with (
        mock.patch.dict(os.environ, {threads.VARIABLE: str(count)}),
        mock.patch.object(threads, "MIN_ROWS", 0),
        mock.patch.object(threads.threading, "Thread", wraps=threading.Thread) as started,
    ):
        dataset = load(folder)
        texts = [export.write(views.build_view(dataset, r), "json", None) for r in requests_]
    assert all(text is not None for text in texts)
    assert (started.call_count > 0) == (count > 1)  # the threaded paths were taken
    return [text for text in texts if text is not None]


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(agencies(), st.sampled_from([2, 3]))
def test_any_agency_exports_the_same_bytes_on_threads(agency: dict[str, Any], count: int) -> None:
    """Every view of any agency (repeated ids, rejects, limits, overlapping authorizations,
    scheduled visits over) exports the same bytes on 2 or 3 threads as on one.
    """
    with tempfile.TemporaryDirectory() as tmp:
        folder = agency_folder(agency, Path(tmp) / "data")
        asked = requests()
        assert _exports(folder, count, asked) == _exports(folder, 1, asked)


def test_the_demo_agency_exports_the_same_bytes_on_threads(demo_folder: Any) -> None:
    """The demo agency (its bad rows rejected, limits, a quarter with scheduled visits)."""
    today = date(2026, 2, 16)
    folder = demo_folder(today=today, clients=30)
    asked = [
        Request(name, Period(date(2026, 1, 1), date(2026, 3, 31)), filters, today)  # type: ignore[arg-type]
        for name, filters in [
            ("agency", Filters()),
            ("client", Filters(clients=("C0003",))),
            ("authorizations", Filters()),
            ("revenue", Filters()),
            ("service-codes", Filters()),
        ]
    ]
    threaded = _exports(folder, 2, asked)
    assert threaded == _exports(folder, 1, asked)
    assert '"rejects"' in threaded[0]  # the demo's bad rows are in what was compared


def test_pieces_run_at_once_and_their_results_come_in_order() -> None:
    """Two pieces that each wait for the other can only end when they run at the same time."""
    meet = threading.Barrier(2, timeout=10)
    seen: list[int] = []

    def piece(value: int) -> int:
        meet.wait()
        seen.append(threading.get_ident())
        return value

    with mock.patch.dict(os.environ, {threads.VARIABLE: "2"}):
        got = threads.together([lambda: piece(1), lambda: piece(2)], threads.MIN_ROWS)
    assert got == [1, 2]
    assert len(set(seen)) == 2
    assert threading.get_ident() in seen  # the calling thread took a piece


@pytest.mark.parametrize(
    ("count", "rows"), [("1", 10**9), ("2", threads.MIN_ROWS - 1)], ids=["one", "small"]
)
def test_one_thread_or_small_data_runs_the_pieces_in_the_calling_thread(
    count: str, rows: int
) -> None:
    """`UTILIZATION_THREADS=1`, or fewer rows than `MIN_ROWS`: no thread is started."""
    seen: list[int] = []
    work = [lambda: seen.append(threading.get_ident()) or "a", lambda: "b"]
    with mock.patch.dict(os.environ, {threads.VARIABLE: count}):
        assert threads.together(work, rows) == ["a", "b"]
    assert seen == [threading.get_ident()]


def test_the_first_error_in_order_is_raised_once_every_piece_has_ended() -> None:
    ended: list[str] = []

    def slow_failure() -> None:
        time.sleep(0.2)
        ended.append("slow")
        raise ValueError("first")

    def quick_failure() -> None:
        ended.append("quick")
        raise KeyError("second")

    def fine() -> str:
        time.sleep(0.3)
        ended.append("fine")
        return "ok"

    with (
        mock.patch.dict(os.environ, {threads.VARIABLE: "3"}),
        pytest.raises(ValueError, match="first"),
    ):
        threads.together([slow_failure, quick_failure, fine], threads.MIN_ROWS)
    assert sorted(ended) == ["fine", "quick", "slow"]


@pytest.mark.parametrize("given_value", ["0", "two", "-1"])
def test_a_bad_thread_count_is_said_in_words(given_value: str) -> None:
    with (
        mock.patch.dict(os.environ, {threads.VARIABLE: given_value}),
        pytest.raises(UsageError) as raised,
    ):
        threads.threads()
    assert str(raised.value) == (
        f"UTILIZATION_THREADS must be a whole number of threads, 1 or more, not {given_value!r}"
    )


def _quarter_of_small_demo(demo_folder: Any) -> Selection:
    """The first quarter of 2026 of a 5-client demo agency, as of 2026-02-16."""
    today = date(2026, 2, 16)
    dataset = load(demo_folder(today=today, clients=5))
    return Selection(dataset, Period(date(2026, 1, 1), date(2026, 3, 31)), Filters(), today)


def test_a_figure_two_threads_ask_for_is_computed_once(demo_folder: Any) -> None:
    """`figures.once`: the thread that comes second waits for the first one's result."""
    selection = _quarter_of_small_demo(demo_folder)
    calls: list[int] = []

    def make() -> list[int]:
        calls.append(1)
        time.sleep(0.2)
        return [len(calls)]

    with mock.patch.dict(os.environ, {threads.VARIABLE: "2"}):
        first, second = threads.together(
            [lambda: figures.once(selection, "k", make)] * 2, threads.MIN_ROWS
        )
    assert calls == [1]
    assert first is second


def test_a_failed_figure_is_raised_to_every_thread_that_asked_for_it(demo_folder: Any) -> None:
    selection = _quarter_of_small_demo(demo_folder)
    calls: list[int] = []

    def make() -> None:
        calls.append(1)
        time.sleep(0.2)
        raise RuntimeError("no figure")

    def ask() -> str:
        try:
            figures.once(selection, "bad", make)
        except RuntimeError as error:
            return str(error)
        return "no error"

    with mock.patch.dict(os.environ, {threads.VARIABLE: "2"}):
        assert threads.together([ask, ask], threads.MIN_ROWS) == ["no figure", "no figure"]
    assert ask() == "no figure"  # and later: the error is kept, not computed again
    assert calls == [1]


def test_an_interruption_goes_up_at_once_and_starts_no_other_piece() -> None:
    """Ctrl-C reaches the calling thread only: it is raised without waiting for the pieces
    other threads run, and the pieces not yet started never start.
    """
    began, release, finished = threading.Event(), threading.Event(), threading.Event()
    ran: list[str] = []

    def interrupted() -> None:
        assert began.wait(10)  # the other thread is in its piece
        raise KeyboardInterrupt

    def long_piece() -> None:
        began.set()
        assert release.wait(10)
        ran.append("long")
        finished.set()

    def later() -> None:
        ran.append("later")

    with mock.patch.dict(os.environ, {threads.VARIABLE: "2"}), pytest.raises(KeyboardInterrupt):
        threads.together([interrupted, long_piece, later, later], threads.MIN_ROWS)
    assert ran == []  # raised while the long piece was still running
    release.set()
    assert finished.wait(10)
    time.sleep(0.2)
    assert ran == ["long"]


def test_a_piece_that_exits_on_another_thread_is_raised_not_lost() -> None:
    """A piece raising SystemExit on a helper thread: its result is not silently missing."""

    def leaves() -> None:
        raise SystemExit(3)

    with mock.patch.dict(os.environ, {threads.VARIABLE: "2"}), pytest.raises(SystemExit):
        threads.together([lambda: time.sleep(0.2), leaves], threads.MIN_ROWS)


def test_rejects_found_on_threads_keep_their_order(tmp_path: Path) -> None:
    """Rows with several problems (line breaks in two columns, so two unknown references; a
    start that is no date-time; an end before its start) give their rejects in the order of
    one thread: the columns' checks run at once, their rejects are written one column after
    the other.
    """
    visits = [
        timed("V1", "C1\nX", "T1019", "2024-05-02", 60, provider_id="P\r1"),
        timed("V2", "C1", "T1019", "2024-05-03", 60),
        {**timed("V3", "C2", "T1019", "2024-05-04", 60), "end": "2024-05-04 08:00:00"},
        timed("V4", "C2", "T1019", "2024-05-05", 45),
    ]
    visits[1]["start"] = "not a time"
    folder = write_data(
        tmp_path / "data",
        clients=CLIENTS,
        authorizations=[auth("A1", "C1", "T1019", "2024-05-01", "2024-06-30", 100)],
        visits=visits,
    )
    request = Request(
        "agency", Period(date(2024, 5, 1), date(2024, 5, 31)), Filters(), date(2024, 5, 31)
    )
    threaded = _exports(folder, 2, [request])
    assert threaded == _exports(folder, 1, [request])
    with (
        mock.patch.dict(os.environ, {threads.VARIABLE: "2"}),
        mock.patch.object(threads, "MIN_ROWS", 0),
    ):
        rejects = load(folder).rejects
    mine = rejects[rejects["table"] == "visits"]
    assert list(zip(mine["row"], mine["column"], mine["code"], strict=True)) == [
        (2, "client_id", "line_break"),
        (2, "provider_id", "line_break"),
        (2, "client_id", "unknown_reference"),
        (2, "provider_id", "unknown_reference"),
        (3, "start", "not_a_datetime"),
        (4, "end", "end_before_start"),
    ]


def test_an_interruption_stops_the_pieces_of_pieces_too() -> None:
    """A piece that runs pieces of its own on threads starts none of them once the call it
    runs within was interrupted (a view's figures inside the view, in a notebook's Ctrl-C).
    """
    inner_began = threading.Barrier(3, timeout=10)  # the two inner pieces and the caller
    release, inner_done = threading.Event(), threading.Event()
    ran: list[str] = []

    def blocked(name: str) -> None:
        inner_began.wait()
        assert release.wait(10)
        ran.append(name)
        if len(ran) == 2:
            inner_done.set()

    def later() -> None:
        ran.append("later")

    def pieces_of_its_own() -> None:
        threads.together(
            [lambda: blocked("a"), lambda: blocked("b"), later, later], threads.MIN_ROWS
        )

    def interrupted() -> None:
        inner_began.wait()  # both inner pieces are running
        raise KeyboardInterrupt

    with mock.patch.dict(os.environ, {threads.VARIABLE: "2"}), pytest.raises(KeyboardInterrupt):
        threads.together([interrupted, pieces_of_its_own], threads.MIN_ROWS)
    release.set()
    assert inner_done.wait(10)
    time.sleep(0.2)
    assert sorted(ran) == ["a", "b"]


def test_an_interrupted_figure_is_computed_again_next_time(demo_folder: Any) -> None:
    selection = _quarter_of_small_demo(demo_folder)
    answers: list[str] = []

    def make() -> str:
        if not answers:
            answers.append("interrupted")
            raise KeyboardInterrupt
        return "computed"

    with pytest.raises(KeyboardInterrupt):
        figures.once(selection, "k", make)
    assert figures.once(selection, "k", make) == "computed"


def test_a_bad_thread_count_stops_a_command_before_any_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(threads.VARIABLE, "many")
    code, out, err = run(["validate"])
    assert (code, out) == (2, "")
    assert err == (
        "utilization validate: UTILIZATION_THREADS must be a whole number of threads, "
        "1 or more, not 'many'\n"
    )


def _threads_in_part_worker(job: object) -> str:
    return os.environ.get(threads.VARIABLE, "")


def test_part_workers_use_one_thread_each(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(threads.VARIABLE, raising=False)
    found = list(partitions.local_runner(2)(_threads_in_part_worker, [1, 2]))  # type: ignore[list-item]
    assert found == ["1", "1"]


def test_the_parts_of_the_demo_agency_are_put_together_on_threads_to_the_same_bytes(
    demo_folder: Any,
) -> None:
    """The figures of parts are put together (`views.view_of_parts`) a figure function per
    thread when the whole data set has `MIN_ROWS` visits or more, as `build_view` would make
    them: every view exports the bytes of one thread.
    """
    today = date(2026, 2, 16)
    folder = demo_folder(today=today, clients=24)
    counts = load(folder).row_counts
    visits = int(counts.loc[counts["table"] == "visits", "rows_read"].iloc[0])
    asked = [
        Request(name, Period(date(2026, 1, 1), date(2026, 3, 31)), Filters(), today)  # type: ignore[arg-type]
        for name in ("agency", "authorizations", "revenue", "service-codes")
    ]

    def exported(count: int, min_rows: int) -> tuple[list[str | None], list[int]]:
        """The exports, and the threads started while each was put together."""
        of_parts = views.view_of_parts
        started_while_put_together: list[int] = []
        with (
            mock.patch.dict(os.environ, {threads.VARIABLE: str(count)}),
            mock.patch.object(threads, "MIN_ROWS", min_rows),
            mock.patch.object(threads.threading, "Thread", wraps=threading.Thread) as started,
        ):

            def counted(*args: Any, **kwargs: Any) -> Any:
                before = started.call_count
                figures_ = of_parts(*args, **kwargs)
                started_while_put_together.append(started.call_count - before)
                return figures_

            with mock.patch.object(partitions.views, "view_of_parts", counted):
                texts = [
                    export.write(
                        partitions.view_figures(folder, r, parts=3, workers=1), "json", None
                    )
                    for r in asked
                ]
        return texts, started_while_put_together

    alone, none_started = exported(1, 0)
    threaded, started = exported(2, visits)  # the whole data set's visits: on threads
    below, not_started = exported(2, visits + 1)
    assert threaded == alone
    assert below == alone
    assert len(started) == len(asked)
    assert all(started)
    assert not any(none_started) and not any(not_started)
