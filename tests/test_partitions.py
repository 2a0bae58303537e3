"""Data cut into parts by client gives the export of the whole, byte for byte (issue 11).

Every figure is a sum over clients or belongs to one client, and matching never crosses
clients: `partitions` cuts a data folder by client, makes each part's figures and puts them
together. What is not per client is checked here on purpose: ids repeated in rows of two
clients (the first row in file order is kept), payments of such ids, rejects in table and
row order, row counts, the time order of scheduled visits, and sums over clients (by month,
fieldworker, payer, procedure code).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import socket
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract_data import CLIENTS, PROCEDURES, PROVIDERS, auth, run, timed, write_data
from utilization import export, packing, partitions, pipeline, schedule, views
from utilization.exceptions import EnvironmentFault, InputError
from utilization.parameters import Request
from utilization.period import Filters, Period
from utilization.pipeline import load
from utilization.selection import Selection
from utilization.settings import load_settings

FIRST_DAY = date(2024, 4, 1)
SPAN_DAYS = 365
PERIOD = Period(date(2024, 10, 1), date(2025, 3, 31))
AS_OF = date(2025, 1, 15)
CLIENT_IDS = ["C1", "C2", "C3", "C4", "C5", "C6"]
MORE_CLIENTS = [
    {"client_id": "C4", "client_name": "Dee Dunn", "status": "active"},
    {"client_id": "C5", "client_name": "Eve East", "status": "discharged"},
    {"client_id": "C6", "client_name": "Fay Fox", "status": "active"},
]
CODES = ["T1019", "S5125", "S9123", "G0156"]
PAYER_IDS = [None, "MCD", "PVT"]
PROVIDER_IDS = [None, "P1", "P2", "P9"]  # P9 is unknown: its visits are rejected


def _day(offset: int) -> str:
    return (FIRST_DAY + timedelta(days=offset)).isoformat()


@st.composite
def agencies(draw: st.DrawFn) -> dict[str, Any]:
    """A small agency with what crosses clients: ids repeated in rows of other clients,
    payments of those ids, unknown clients, rejected rows, visits without times.
    """
    authorizations = []
    for i in range(draw(st.integers(0, 8))):
        start = draw(st.integers(0, SPAN_DAYS - 1))
        limits = draw(st.sampled_from([{}, {"units_per_week": 6}, {"units_per_month": 20}]))
        authorizations.append(
            auth(
                f"A{draw(st.integers(0, max(i, 1))):02d}",  # sometimes an id given before
                draw(st.sampled_from([*CLIENT_IDS, "C9", ""])),
                draw(st.sampled_from(CODES)),
                _day(start),
                _day(start + draw(st.integers(0, 200))),
                draw(st.integers(0, 60)),
                payer_id=draw(st.sampled_from(PAYER_IDS)),
                rate=draw(st.sampled_from([None, "7.25", "12.10"])),
                **limits,
            )
        )
    visits = []
    for i in range(draw(st.integers(0, 30))):
        visit_id = f"V{draw(st.integers(0, max(i, 1))):03d}"  # repeats across clients
        client = draw(st.sampled_from([*CLIENT_IDS, "C9", ""]))
        code = draw(st.sampled_from(CODES))
        day = _day(draw(st.integers(0, SPAN_DAYS - 1)))
        minutes = draw(st.integers(0, 300))
        extra = {
            "status": draw(st.sampled_from(["completed", "completed", "scheduled", "cancelled"])),
            "billable": draw(st.sampled_from([None, "true", "false"])),
            "payer_id": draw(st.sampled_from(PAYER_IDS)),
            "provider_id": draw(st.sampled_from(PROVIDER_IDS)),
            "units": draw(st.sampled_from([None, "3", "8"])),
            "amount_billed": draw(st.sampled_from([None, "40.00", "13.37"])),
        }
        if draw(st.booleans()):
            start = f"{draw(st.integers(6, 17)):02d}:{draw(st.sampled_from([0, 15, 30])):02d}"
            visits.append(timed(visit_id, client, code, day, minutes, start=start, **extra))
        else:
            visits.append(
                {
                    "visit_id": visit_id,
                    "client_id": client,
                    "procedure_code": code,
                    "service_date": day,
                    "minutes": minutes,
                    **extra,
                }
            )
    payments = [
        {
            "visit_id": f"V{draw(st.integers(0, 32)):03d}",
            "insurance_paid": draw(st.sampled_from(["10.00", "-5.50", "33.33"])),
            "patient_paid": draw(st.sampled_from([None, "1.25"])),
            "paid_date": _day(draw(st.integers(0, SPAN_DAYS - 1))),
            "denied": draw(st.sampled_from([None, "true"])),
            "adjustment_reason_codes": draw(st.sampled_from([None, "CO-45", "CO-45;PR-2"])),
        }
        for _ in range(draw(st.integers(0, 12)))
    ]
    clients = [*CLIENTS, *MORE_CLIENTS]
    if draw(st.booleans()):
        clients = [*clients, {"client_id": "C2", "client_name": "Bob Twice"}]  # rejected repeat
    return {
        "clients": clients,
        "authorizations": authorizations,
        "visits": visits,
        "payments": payments,
        "parts": draw(st.integers(2, 5)),
    }


def agency_folder(agency: dict[str, Any], folder: Path) -> Path:
    """The data folder of an agency drawn by `agencies`, written in `folder`."""
    return write_data(
        folder,
        clients=agency["clients"],
        procedures=PROCEDURES,
        providers=PROVIDERS,
        authorizations=agency["authorizations"],
        visits=agency["visits"],
        payments=agency["payments"],
    )


def requests() -> list[Request]:
    """One request of every view (a subject for those that need one), and a filtered one."""
    subjects = {"client": "C2", "procedure": "T1019", "provider": "P1"}
    found = []
    for name, view in views.VIEWS.items():
        filters = Filters()
        if view.subject is not None:
            filters = filters.with_ids(f"{view.subject}s", (subjects[view.subject],))
        found.append(Request(name, PERIOD, filters, AS_OF))  # type: ignore[arg-type]
    found.append(Request("agency", PERIOD, Filters(payers=("MCD",)), AS_OF, basis="full"))
    return found


AGENCIES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""How many random agencies a property test of parts tries, and without a time limit."""


def in_memory(folder: Path, request: Request) -> str:
    text = export.write(views.build_view(load(folder), request), "json", None)
    assert text is not None
    return text


def in_parts(folder: Path, request: Request, parts: int) -> str:
    """The export of `request` with the data cut into `parts` parts, run in this process."""
    text = export.write(
        partitions.view_figures(folder, request, parts=parts, workers=1), "json", None
    )
    assert text is not None
    return text


@AGENCIES
@given(agencies())
def test_any_agency_cut_into_parts_exports_the_same_bytes(agency: dict[str, Any]) -> None:
    """It exports every view of any agency cut into 2 to 5 parts byte for byte as in memory."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = agency_folder(agency, Path(tmp) / "data")
        settings_ = load_settings(None, folder)
        with partitions.work_folder() as work:
            cut = partitions.cut(folder, agency["parts"], work)
            dataset = load(folder)
            for request in requests():
                whole = export.write(views.build_view(dataset, request), "json", None)
                parts = partitions.figures_of_cut(
                    cut, settings_, request, partitions.local_runner(1)
                )
                assert export.write(parts, "json", None) == whole, request.view


@AGENCIES
@given(agencies())
def test_any_agency_checked_in_parts_lists_the_same_scheduled_visits(
    agency: dict[str, Any],
) -> None:
    """`check-schedule` in parts (`partitions.schedule_in_parts`) lists for any agency cut
    into 2 to 5 parts the scheduled visits that would not be paid that it lists in memory
    (`schedule.not_paid`), in the same order, with and without filters (over the whole span
    of the visits: about a third of the examples list one visit or more, up to five).
    """
    with tempfile.TemporaryDirectory() as tmp:
        folder = agency_folder(agency, Path(tmp) / "data")
        dataset = load(folder)
        span = Period(FIRST_DAY, FIRST_DAY + timedelta(days=SPAN_DAYS))  # every visit
        for filters in (Filters(), Filters(clients=("C2",)), Filters(payers=("MCD",))):
            request = Request("agency", span, filters, AS_OF)
            selection = Selection(dataset, request.period, filters, request.balance_date)
            expected = schedule.not_paid(selection)
            found = partitions.schedule_in_parts((folder, agency["parts"]), request, workers=1)
            pd.testing.assert_frame_equal(found, expected)


def test_the_demo_agency_as_parquet_cut_into_parts_exports_the_same_bytes(
    tmp_path: Path,
) -> None:
    """It gives the in-memory export of every view of the demo agency (Parquet, typed ids)."""
    from utilization.demo import write_demo

    folder = tmp_path / "demo"
    write_demo(folder, fmt="parquet", seed=7, clients=40, months=6, today=date(2025, 2, 10))
    _same_in_parts_as_in_memory(folder)


def _same_in_parts_as_in_memory(demo: Path) -> None:
    """Every view of the demo agency written with seed 7 (its subjects C0002, T1019 U3, P001;
    its payer DDA for the filtered request) exports the same bytes in 3 parts as in memory.
    """
    subject = {"client": "C0002", "procedure": "T1019 U3", "provider": "P001"}
    for request in requests():
        view = views.get(request.view)
        if view.subject is not None:
            request = Request(
                request.view,
                request.period,
                Filters().with_ids(f"{view.subject}s", (subject[view.subject],)),
                request.as_of,
            )
        elif request.filters.payers:
            request = replace(request, filters=Filters(payers=("DDA",)))
        assert in_parts(demo, request, 3) == in_memory(demo, request), request.view


def test_a_payment_goes_to_the_part_of_the_first_row_of_its_visit(tmp_path: Path) -> None:
    """It keeps the first row of a visit_id given for two clients (in two parts), rejects the
    second as its duplicate, and counts the visit's payment with the first.
    """
    folder = write_data(
        tmp_path / "data",
        clients=[*CLIENTS, *MORE_CLIENTS],
        authorizations=[auth("A1", "C6", "T1019", "2025-01-01", "2025-03-31", 40)],
        visits=[
            timed("V1", "C6", "T1019", "2025-01-06", 60),
            timed("V1", "C1", "T1019", "2025-01-07", 60),  # another client, another part
        ],
        payments=[{"visit_id": "V1", "insurance_paid": "24.00", "paid_date": "2025-02-01"}],
    )
    request = Request("agency", Period(date(2025, 1, 1), date(2025, 3, 31)), Filters())
    data = json.loads(in_parts(folder, request, 6))
    assert data == json.loads(in_memory(folder, request))
    assert [(r["table"], r["row"], r["code"]) for r in data["rejects"]] == [
        ("visits", 3, "duplicate")
    ]
    assert data["revenue"][-1] == {"category": "insurance_paid", "units": None, "amount": 24.0}


def test_a_payment_without_any_visit_goes_to_part_0(tmp_path: Path) -> None:
    """With no visit rows at all, a payment goes to part 0 and is rejected there as in
    memory (the lookup of visit parts is empty).
    """
    folder = write_data(
        tmp_path / "data",
        clients=CLIENTS,
        authorizations=[],
        visits=[],
        payments=[{"visit_id": "V000", "insurance_paid": "10.00", "paid_date": "2024-04-01"}],
    )
    request = Request("agency", Period(date(2024, 4, 1), date(2024, 6, 30)), Filters())
    data = json.loads(in_parts(folder, request, 2))
    assert data == json.loads(in_memory(folder, request))
    assert [(r["table"], r["code"]) for r in data["rejects"]] == [("payments", "unknown_reference")]


def test_export_cuts_the_data_into_parts_on_worker_processes(tmp_path: Path) -> None:
    """`utilization export --partitions 3` (parts on local worker processes) writes the JSON
    of `--partitions 0` (in memory).
    """
    folder = write_data(
        tmp_path / "data",
        clients=[*CLIENTS, *MORE_CLIENTS],
        authorizations=[
            auth(f"A{i}", c, "T1019", "2025-01-01", "2025-03-31", 30)
            for i, c in enumerate(CLIENT_IDS)
        ],
        visits=[
            timed(f"V{i}", CLIENT_IDS[i % 6], "T1019", f"2025-02-{i % 27 + 1:02d}", 45 + i)
            for i in range(40)
        ],
    )
    assert _exported(folder, "0", tmp_path)[0] == _exported(folder, "3", tmp_path)[0]


def _exported(folder: Path, parts: str, tmp_path: Path) -> tuple[bytes, str]:
    """`utilization export agency` of 2025-Q1 with `--partitions parts`: the JSON and what
    was said on standard error.
    """
    out = tmp_path / f"agency-{parts}.json"
    rc, _, err = run(
        ["export", "agency", "--data", str(folder), "--from", "2025-01-01", "--to",
         "2025-03-31", "--partitions", parts, "--out", str(out)]
    )  # fmt: skip
    assert rc == 0, err
    return out.read_bytes(), err


def test_a_csv_file_that_cannot_be_streamed_is_cut_whole_and_said(tmp_path: Path) -> None:
    """A line of spaces in visits.csv stops Arrow's streaming reader (a row of 1 field): the
    file is read whole to cut it (the same JSON as in memory: the line is skipped as blank,
    counted in the row numbers) and standard error says so, naming the file and why.
    """
    folder = write_data(
        tmp_path / "data",
        clients=[*CLIENTS, *MORE_CLIENTS],
        authorizations=[auth("A1", "C6", "T1019", "2025-01-01", "2025-03-31", 40)],
        visits=[timed(f"V{i}", ("C1", "C6")[i % 2], "T1019", "2025-01-06", 60) for i in range(4)],
    )
    visits = folder / "visits.csv"
    lines = visits.read_text(encoding="utf-8").splitlines(keepends=True)
    visits.write_text("".join([*lines[:3], "   \n", *lines[3:]]), encoding="utf-8")
    (whole, said), (cut, note) = _exported(folder, "0", tmp_path), _exported(folder, "2", tmp_path)
    texts, errors = [whole, cut], [said, note]
    assert texts[0] == texts[1]
    assert json.loads(texts[1])["kpis"]["units_used"] == 16  # 4 visits of 4 units
    assert errors[0] == ""
    assert errors[1] == (
        "utilization: note: visits.csv: a row of 1 field(s) where the header has "
        f"{len(lines[0].split(','))} (a blank line); the file is read whole to cut it, so "
        "memory grows with it (save it without blank lines, or as Parquet, to keep memory "
        "bounded)\n"
    )


def test_parts_are_one_per_million_visits_as_a_multiple_of_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2.5M visits make 3 parts of at most 1M visits, rounded up to a multiple of the
    workers (4 on 2 or 4 workers, 3 on 1 or 3); up to 1M visits, one part.
    """
    folder = write_data(tmp_path / "data", clients=CLIENTS, authorizations=[], visits=[])
    monkeypatch.setattr(partitions.sources, "table_rows", lambda path: 2_500_000)
    assert [partitions.parts_for(folder, w) for w in (1, 2, 3, 4)] == [3, 4, 3, 4]
    monkeypatch.setattr(partitions.sources, "table_rows", lambda path: 1_000_000)
    assert [partitions.parts_for(folder, w) for w in (1, 2)] == [1, 1]


def test_a_source_that_is_not_a_folder_is_not_cut(tmp_path: Path) -> None:
    """It says that only a folder of CSV or Parquet files can be cut (exit code 2)."""
    period = ["--from", "2025-01-01", "--to", "2025-03-31"]
    rc, _, err = run(["export", "agency", "--data", "demo", *period, "--partitions", "2"])
    assert rc == 2
    assert "only a folder of CSV or Parquet files" in err


@pytest.mark.slow
def test_the_parts_run_on_a_dask_cluster(tmp_path: Path) -> None:
    """With --scheduler, the parts run on a LocalCluster's workers: the same JSON."""
    from distributed import LocalCluster

    from utilization.demo import write_demo

    folder = tmp_path / "demo"
    write_demo(folder, fmt="csv", seed=3, clients=30, months=6, today=date(2025, 2, 10))
    common = ["export", "agency", "--data", str(folder), "--from", "2025-01-01", "--to"]
    common.append("2025-03-31")
    local = tmp_path / "local.json"
    rc, _, err = run([*common, "--partitions", "0", "--out", str(local)])
    assert rc == 0, err
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        remote = tmp_path / "cluster.json"
        rc, _, err = run(
            [*common, "--scheduler", cluster.scheduler_address, "--partitions", "4", "--out",
             str(remote)]
        )  # fmt: skip
        assert rc == 0, err
    assert remote.read_bytes() == local.read_bytes()
    assert pd.read_json(remote, typ="series")["view"] == "agency"


def test_unsigned_visit_ids_past_int64_find_their_visits_part() -> None:
    """Visit ids read as unsigned 64-bit numbers of 2^63 and more (Parquet `uint64`) are
    looked up by their text, so a payment of such a visit goes to the visit's part (as int64
    they would wrap, miss, and the payment would go to part 0 and be rejected there).
    """
    big = 2**63 + 5
    ids = pd.Series(np.array([big, 7], dtype=np.uint64))
    lookup = partitions._Lookup.of([ids], [np.array([3, 1], dtype=np.int64)])
    payments = pd.Series([str(big), "7", "8"], dtype="str")
    assert lookup.part_of(payments).tolist() == [3, 1, 0]  # 8: no such visit, part 0


def test_no_more_parts_than_clients(tmp_path: Path) -> None:
    """Asked for 50 parts of an agency of 6 clients, it cuts 6 (a part per client; no empty
    part costs a worker's reading of the catalogs), and exports the bytes of the whole.
    """
    folder = write_data(
        tmp_path / "data",
        clients=[*CLIENTS, *MORE_CLIENTS],
        authorizations=[auth("A1", "C2", "T1019", "2025-01-01", "2025-03-31", 40)],
        visits=[timed(f"V{i}", c, "T1019", "2025-01-06", 60) for i, c in enumerate(CLIENT_IDS)],
    )
    with partitions.work_folder() as work:
        assert partitions.cut(folder, 50, work).parts == 6
    request = Request("agency", Period(date(2025, 1, 1), date(2025, 3, 31)), Filters())
    assert in_parts(folder, request, 50) == in_memory(folder, request)


def _dies(job: partitions.PartJob) -> partitions.PartFigures:
    os._exit(137)  # as the kernel's out-of-memory killer ends a worker


def test_a_worker_process_that_dies_is_said_in_words() -> None:
    """A part's worker process killed (out of memory) ends the run with an EnvironmentFault
    that says what to do, not a traceback of the process pool.
    """
    run_parts = partitions.local_runner(workers=2)
    with pytest.raises(EnvironmentFault, match=r"more parts \(--partitions\)"):
        list(run_parts(_dies, [None, None, None]))  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("options", "code", "said"),
    [
        (["--scheduler", "http//bad:x"], 1, "cannot reach the Dask scheduler at 'http//bad:x'"),
        (["--scheduler", "tcp://127.0.0.1:1", "--partitions", "0"], 2, "choose one"),
        (["--scheduler", "tcp://127.0.0.1:1", "--data", "demo"], 2, "only a folder of CSV"),
    ],
)
def test_scheduler_options_that_cannot_work_are_said_before_connecting(
    tmp_path: Path, options: list[str], code: int, said: str
) -> None:
    """A scheduler address that is not one (exit code 1, as one that does not answer),
    `--partitions 0` with a scheduler, or a source that cannot be cut (usage errors, 2): one
    line naming the fault, no traceback; the last two said without trying to connect.
    """
    folder = write_data(tmp_path / "data", clients=CLIENTS, authorizations=[], visits=[])
    period = ["--from", "2025-01-01", "--to", "2025-03-31"]
    data = [] if "--data" in options else ["--data", str(folder)]
    rc, out, err = run(["export", "agency", *data, *period, *options])
    assert (rc, out) == (code, "")
    assert said in err
    assert "Traceback" not in err


def test_an_address_where_something_else_answers_is_said_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Something that is not a Dask scheduler at the address (an HTTP server, the scheduler's
    dashboard port): Dask's client read its "HTTP/1.1 400" as a message of exabytes (a
    traceback of numpy's memory error), or waited past its own timeout; now one message,
    within the deadline, whichever it is.
    """
    from utilization.batch import cluster

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def answer() -> None:
        with suppress(OSError):
            while True:
                peer, _ = listener.accept()
                peer.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=answer, daemon=True).start()
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "2s")
    monkeypatch.setattr(cluster, "CONNECT_DEADLINE", 4.0, raising=False)
    started = time.monotonic()
    try:
        with pytest.raises(InputError) as stopped:
            cluster.connect(f"tcp://127.0.0.1:{port}")
    finally:
        listener.close()
    assert time.monotonic() - started < 8
    said = str(stopped.value)
    assert said.startswith(f"cannot reach the Dask scheduler at 'tcp://127.0.0.1:{port}' (")
    assert said.endswith("and give its address (tcp://HOST:8786, not the dashboard's port)")
    assert "\n" not in said


@pytest.mark.slow
def test_on_a_cluster_the_parts_are_a_multiple_of_its_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --partitions, data of 2.5M visits (as counted) on a cluster of 3 workers is
    cut into 3 parts, a multiple of the cluster's workers, not of this machine's cores; the
    JSON is that of the whole.
    """
    from distributed import LocalCluster

    from utilization.demo import write_demo

    folder = tmp_path / "demo"
    write_demo(folder, fmt="csv", seed=5, clients=12, months=4, today=date(2025, 2, 10))
    common = ["export", "agency", "--data", str(folder), "--from", "2025-01-01", "--to"]
    common.append("2025-03-31")
    local = tmp_path / "local.json"
    assert run([*common, "--partitions", "0", "--out", str(local)])[0] == 0
    monkeypatch.setattr(partitions.sources, "table_rows", lambda path: 2_500_000)
    monkeypatch.setattr(partitions.os, "cpu_count", lambda: 2)  # this machine: 2 cores
    cuts: list[int] = []
    cut = partitions.cut
    monkeypatch.setattr(
        partitions, "cut", lambda f, parts, work: cuts.append(parts) or cut(f, parts, work)
    )
    with LocalCluster(
        n_workers=3, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        remote = tmp_path / "cluster.json"
        rc, _, err = run([*common, "--scheduler", cluster.scheduler_address, "--out", str(remote)])
        assert rc == 0, err
    assert cuts == [3]  # on the 2 local cores it would be 4
    assert remote.read_bytes() == local.read_bytes()


def test_a_part_file_that_cannot_be_written_stops_the_cut_with_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches are written by a thread while the next is read: its error still stops the
    cut, and no writing thread is left behind.
    """
    folder = write_data(
        tmp_path / "data",
        clients=CLIENTS,
        procedures=PROCEDURES,
        providers=PROVIDERS,
        authorizations=[auth("A1", "C1", "T1019", _day(0), _day(90), 100)],
        visits=[timed("V1", "C1", "T1019", _day(3), 60), timed("V2", "C2", "T1019", _day(4), 30)],
    )
    written: list[int] = []
    real_open = Path.open

    class FullDisk:
        """A part file whose second write finds the disk full."""

        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def write(self, data: bytes) -> int:
            written.append(len(data))
            if len(written) > 1:
                raise OSError(28, "No space left on device")
            return int(self.handle.write(data))

        def __getattr__(self, name: str) -> Any:
            return getattr(self.handle, name)

    def opened(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, mode, *args, **kwargs)
        return FullDisk(handle) if mode == "wb" else handle

    monkeypatch.setattr(Path, "open", opened)
    with pytest.raises(OSError, match="No space left on device"):
        partitions.cut(folder, 2, tmp_path / "work")
    assert len(written) == 2
    assert not [t for t in threading.enumerate() if t.name.startswith("cut-writer")]


def test_part_files_that_cannot_be_opened_leave_none_open(tmp_path: Path) -> None:
    """A part folder the cut cannot create stops it; the files opened before are closed."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "part-00002").write_text("a file where the third part's folder goes")
    opened: list[Any] = []
    real_open = Path.open

    def counted(self: Path, *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, *args, **kwargs)
        opened.append(handle)
        return handle

    with (
        mock.patch.object(Path, "open", counted),
        pytest.raises(OSError),
        partitions._Writers(work, "visits", 4),
    ):
        pass
    assert len(opened) == 2
    assert all(handle.closed for handle in opened)


def _every_dtype(rows: int, seed: int) -> pd.DataFrame:
    """A frame with a column of each kind a table read from CSV or Parquet can have."""
    rng = np.random.default_rng(seed)
    codes = rng.choice(["T1019", "S5125", "H2015", None], rows)
    return pd.DataFrame(
        {
            "visit_id": np.arange(seed * 1000, seed * 1000 + rows, dtype=np.int64),
            "procedure_code": pd.array(codes, dtype="str"),
            "minutes": rng.random(rows).round(2),
            "units": pd.array(rng.integers(0, 9, rows), dtype="Int64"),
            "paid": rng.random(rows) < 0.5,
            "start": pd.date_range("2026-01-01", periods=rows, freq="37min", tz="America/Chicago"),
            "status": pd.Categorical(rng.choice(["completed", "scheduled"], rows)),
            "note": pd.Series(rng.choice(["a", 1, None, 2.5], rows), dtype=object),
            "_row": np.arange(2, rows + 2, dtype=np.int64),
        }
    )


@pytest.mark.parametrize("on_threads", [False, True])
def test_part_files_give_back_each_parts_rows_in_order_with_their_dtypes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on_threads: bool
) -> None:
    """The cut's part files are compressed (a text column repeated shrinks several times) and
    read back as exactly the rows written: every dtype kept, batches joined in order, a part
    that got no row is the table's columns with no rows.
    """
    if on_threads:
        monkeypatch.setattr(partitions.threads, "MIN_ROWS", 0)
        monkeypatch.setenv("UTILIZATION_THREADS", "3")
    batches = [_every_dtype(5000, 1), _every_dtype(3000, 2)]
    parts = [np.arange(5000) % 3, np.where(np.arange(3000) < 1000, 2, 0)]  # part 3: no row
    with partitions._Writers(tmp_path, "visits", 4) as writers:
        for frame, part in zip(batches, parts, strict=True):
            writers.write(frame, part.astype(np.int64))
    for index in range(4):
        read = partitions._read_part(partitions.part_file(tmp_path, "visits", index))
        expected = pd.concat(
            [f[p == index] for f, p in zip(batches, parts, strict=True)], ignore_index=True
        )
        pd.testing.assert_frame_equal(read, expected, check_exact=True)
        assert read.dtypes.equals(batches[0].dtypes)
        if len(read):  # values that can be changed in place, as the checks do
            read.loc[0, "minutes"] = 9.5
            read.iloc[0, 0] = -1
            assert (read.loc[0, "minutes"], read.iloc[0, 0]) == (9.5, -1)
    assert len(partitions._read_part(partitions.part_file(tmp_path, "visits", 3))) == 0
    written = partitions.part_file(tmp_path, "visits", 0).stat().st_size
    rows = [f[p == 0].reset_index(drop=True) for f, p in zip(batches, parts, strict=True)]
    assert written * 3 < sum(len(pickle.dumps(f, protocol=5)) for f in rows)


def test_a_part_file_not_as_the_cut_wrote_it_is_said_with_its_path(tmp_path: Path) -> None:
    """A part file that lost its end (a work folder cleaned during the run, a shared folder
    showing a worker an old copy), even at the end of a batch, or whose bytes changed, is an
    InputError naming it, never a traceback or a part with rows missing.
    """
    with partitions._Writers(tmp_path, "visits", 1) as writers:
        writers.write(_every_dtype(100, 1), np.zeros(100, dtype=np.int64))
        writers.write(_every_dtype(50, 2), np.zeros(50, dtype=np.int64))
    path = partitions.part_file(tmp_path, "visits", 0)
    whole = path.read_bytes()
    assert len(partitions._read_part(path, 150)) == 150
    first = packing.HEADER.size + packing.HEADER.unpack_from(whole)[0]  # one batch
    flipped = bytearray(whole)
    flipped[first // 2] ^= 0xFF
    for damaged, why in [
        (whole[:-1], "it is cut short"),
        (whole[:5], "it is cut short"),
        (whole[:first], "it holds 100 of the 150 rows written"),
        (b"", "it is empty"),
        (bytes(flipped), "its bytes changed"),
        (packing.HEADER.pack(4, zlib.crc32(b"junk")) + b"junk", "it cannot be read back"),
    ]:
        path.write_bytes(damaged)
        said = f"the part {path} is not as the cut wrote it: was the work folder changed? ({why})"
        with pytest.raises(InputError, match=re.escape(said)):
            partitions._read_part(path, 150)


def test_parquet_with_categorical_columns_cut_in_small_batches_exports_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parquet files a pandas user saved with categorical columns (Arrow dictionaries, several
    row groups), cut a few rows at a time: every view exports what the data in memory gives.
    """
    from utilization.demo import write_demo

    folder = tmp_path / "demo"
    write_demo(folder, fmt="parquet", seed=7, clients=40, months=6, today=date(2025, 2, 10))
    categorical = {
        "visits": ["client_id", "procedure_code", "status", "case_type", "payer_id", "provider_id"],
        "authorizations": ["client_id", "procedure_code", "payer_id"],
    }
    for table, columns in categorical.items():
        frame = pd.read_parquet(folder / f"{table}.parquet")
        frame = frame.sort_values("client_id", kind="stable", ignore_index=True)
        frame[columns] = frame[columns].astype("category")
        frame.to_parquet(folder / f"{table}.parquet", row_group_size=300)
    assert isinstance(
        pd.read_parquet(folder / "visits.parquet")["status"].dtype, pd.CategoricalDtype
    )
    monkeypatch.setattr(partitions, "BATCH_ROWS", 211)
    _same_in_parts_as_in_memory(folder)


def test_validate_in_parts_says_what_validating_the_whole_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`utilization validate --partitions 3`: the same counts, reasons, visits flagged long
    (one in each of two clients' parts) and rejects.csv as in memory, without loading the
    data set in this process.
    """
    folder = write_data(
        tmp_path / "data",
        clients=CLIENTS,
        procedures=PROCEDURES,
        authorizations=[
            auth("A1", "C1", "T1019", "2025-01-01", "2025-12-31", 400),
            auth("A2", "C3", "T1019", "2025-01-01", "2024-12-31", 10),  # ends before it starts
        ],
        visits=[
            timed("V1", "C1", "T1019", "2025-01-10", 25 * 60),  # long: over 24 hours
            timed("V2", "C2", "T1019", "2025-01-11", 60),
            timed("V3", "C3", "T1019", "2025-01-12", 26 * 60),  # long
            timed("V2", "C3", "T1019", "2025-01-13", 30),  # a repeated visit id
            timed("V4", "C9", "T1019", "2025-01-14", 30),  # no such client
        ],
    )
    printed = {}
    for parts in ("0", "3"):
        out = tmp_path / f"out-{parts}"
        args = ["validate", "--data", str(folder), "--out", str(out), "--partitions", parts]
        rc, text, err = run(args)
        assert rc == 0, err
        printed[parts] = text.replace(str(out), "OUT")
        monkeypatch.setattr(pipeline, "load", _refused)  # in parts, after the run in memory
    assert printed["3"] == printed["0"]
    assert "2 visit(s) longer than 24 hours flagged" in printed["0"]
    assert "3 row(s) rejected" in printed["0"]
    assert "1 × visits.visit_id: duplicate of row 3" in printed["0"]  # V2 on line 3
    rejects = [(tmp_path / f"out-{p}" / "rejects.csv").read_bytes() for p in ("0", "3")]
    assert rejects[0] == rejects[1]


def test_check_schedule_in_parts_lists_what_the_whole_data_lists(
    demo_folder: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`utilization check-schedule --partitions 3`: the same scheduled visits that would not
    be paid (JSON and the terminal's table), the same exit code 3, without loading the data
    set in this process.
    """
    folder = demo_folder(today=date(2026, 2, 16))
    window = ["--from", "2026-02-17", "--to", "2026-03-31"]
    printed: dict[str, list[str]] = {}
    for parts in ("0", "3"):
        texts = []
        for fmt in ("json", "table"):
            args = ["check-schedule", "--data", str(folder), *window, "--format", fmt]
            rc, text, err = run([*args, "--partitions", parts])
            assert rc == 3, err
            texts.append(text)
        printed[parts] = texts
        monkeypatch.setattr(pipeline, "load", _refused)
    assert printed["3"] == printed["0"]
    listed = json.loads(printed["0"][0])["visits"]
    assert len(listed) > 10
    assert printed["0"][1].startswith(
        f"{len(listed):,} scheduled visit(s) from 2026-02-17 to 2026-03-31 would not be paid"
    )


def test_check_schedule_in_parts_makes_only_the_schedule(
    demo_folder: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In parts, `check-schedule` makes no figure of a view besides the scheduled visits
    (`partitions.schedule_in_parts`): the rows are those of the whole data set, with a
    client's filter too; a client not in the catalog is refused as the views refuse it.
    """
    folder = demo_folder(today=date(2026, 2, 16))
    period = Period(date(2026, 2, 17), date(2026, 3, 31))
    dataset = load(folder)
    whole = views.build_view(dataset, Request("agency", period, Filters(), date(2026, 2, 16)))
    assert whole.schedule is not None
    expected = schedule.not_paid_named(whole.schedule, dataset.clients)
    one = str(expected["client_id"].iloc[0])
    of_one = expected[expected["client_id"].eq(one).to_numpy()].reset_index(drop=True)
    monkeypatch.setattr(views, "view_parts", _refused)  # the parts run in this process
    monkeypatch.setattr(views, "view_of_parts", _refused)
    found = partitions.schedule_in_parts(
        (folder, 3), Request("agency", period, Filters(), date(2026, 2, 16)), workers=1
    )
    assert len(found) > 10
    pd.testing.assert_frame_equal(found, expected)
    filtered = Request("agency", period, Filters(clients=(one,)), date(2026, 2, 16))
    found = partitions.schedule_in_parts((folder, 3), filtered, workers=1)
    assert 0 < len(found) < len(expected)
    pd.testing.assert_frame_equal(found, of_one)
    unknown = Request("agency", period, Filters(clients=("NOBODY",)), date(2026, 2, 16))
    with pytest.raises(InputError, match="NOBODY"):
        partitions.schedule_in_parts((folder, 3), unknown, workers=1)


def _refused(*args: object, **kwargs: object) -> None:
    raise AssertionError("the data set was loaded whole")
