"""A throwaway PostgreSQL 15 server for tests, one per test run, shared by its xdist workers.

`acquire` starts the server for its first user and counts the users in a state file;
`release` stops and removes it when the last one is done. A file lock in the run's folder
makes both atomic across the worker processes. The fixtures are in conftest.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

PG_BIN = Path(os.environ.get("UTILIZATION_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"
STATE = "postgres.json"  # in the run's folder: {"base", "port", "users"}


def url(port: int, database: str = "postgres") -> str:
    """The SQLAlchemy URL of `database` on the server listening on `port` of 127.0.0.1."""
    return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}/{database}"


def require_binaries() -> None:
    """Skip without initdb, pg_ctl and postgres; fail instead when the CI variable is set."""
    missing = [b for b in ("initdb", "pg_ctl", "postgres") if not (PG_BIN / b).is_file()]
    if missing:
        msg = f"PostgreSQL binaries {missing} not found in {PG_BIN} (apt-get install postgresql-15)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def acquire(run_folder: Path) -> int:
    """Port of the run's server: started here when no worker of the run has one running."""
    with _locked(run_folder):
        state = _read(run_folder)
        if state is None or not _running(Path(state["base"])):
            if state is not None:  # a server of this run that died: clear its folder
                _stop(Path(state["base"]))
            state = {**_start(), "users": 0}
        state["users"] += 1
        _write(run_folder, state)
    return int(state["port"])


def release(run_folder: Path) -> None:
    """One user fewer; the last one stops the server and removes its folder."""
    with _locked(run_folder):
        state = _read(run_folder)
        if state is None:
            return
        state["users"] -= 1
        if state["users"] > 0:
            _write(run_folder, state)
            return
        (run_folder / STATE).unlink()
        _stop(Path(state["base"]))


@contextmanager
def _locked(run_folder: Path) -> Iterator[None]:
    with (run_folder / "postgres.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _read(run_folder: Path) -> dict[str, Any] | None:
    path = run_folder / STATE
    return dict(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else None


def _write(run_folder: Path, state: dict[str, Any]) -> None:
    (run_folder / STATE).write_text(json.dumps(state), encoding="utf-8")


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user() -> list[str]:
    """The command prefix that runs a PostgreSQL binary as a user initdb accepts."""
    return ["runuser", "-u", PG_USER, "--"] if os.geteuid() == 0 else []


def _run(command: list[str], what: str) -> None:
    """Run a server command; fail the test with its output when it fails."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        pytest.fail(f"PostgreSQL {what} failed ({done.returncode}): {done.stderr or done.stdout}")


def _start() -> dict[str, Any]:
    """Start a server on a free port from a new folder of /tmp; its folder and port.

    It runs as the `postgres` user (initdb refuses root), so its folder is outside pytest's
    temporary folders, which only their owner may enter.
    """
    base = Path(tempfile.mkdtemp(prefix="utilization-pg-"))
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, user=PG_USER)
    port = _free_port()
    prefix = _as_server_user()
    _run(
        [
            *prefix,
            *(str(PG_BIN / "initdb"), "-D", str(data), "-U", PG_USER, "-A", "trust"),
            *("-E", "UTF8", "--no-sync", "--no-instructions"),
        ],
        "initdb",
    )
    options = f"-p {port} -h 127.0.0.1 -k {base} -F -c fsync=off -c full_page_writes=off"
    log = base / "server.log"
    _run(
        [
            *prefix,
            *(str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log)),
            *("-w", "-t", "60", "start"),
        ],
        "start",
    )
    return {"base": str(base), "port": port}


def _running(base: Path) -> bool:
    pg_ctl = [*_as_server_user(), str(PG_BIN / "pg_ctl"), "-D", str(base / "data")]
    return subprocess.run([*pg_ctl, "status"], capture_output=True, timeout=60).returncode == 0


def _stop(base: Path) -> None:
    pg_ctl = [*_as_server_user(), str(PG_BIN / "pg_ctl"), "-D", str(base / "data")]
    subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], capture_output=True, timeout=120)
    shutil.rmtree(base, ignore_errors=True)
