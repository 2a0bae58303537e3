"""A throwaway PostgreSQL server for tests, started once per test session (or xdist worker)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("UTILIZATION_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user() -> list[str]:
    """The command prefix that runs a PostgreSQL binary as a user initdb accepts."""
    return ["runuser", "-u", PG_USER, "--"] if os.geteuid() == 0 else []


def _run(command: list[str], what: str) -> None:
    """Run a server command; fail the test session with its output when it fails."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        pytest.fail(f"PostgreSQL {what} failed ({done.returncode}): {done.stderr or done.stdout}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL of an empty database on a fresh local PostgreSQL 15 server.

    The server runs as the `postgres` user (initdb refuses root) from a temporary folder, on
    a free port of 127.0.0.1, and is stopped and removed at the end of the session. Without
    the binaries the tests are skipped, or fail when the CI environment variable is set.
    """
    missing = [b for b in ("initdb", "pg_ctl", "postgres") if not (PG_BIN / b).is_file()]
    if missing:
        msg = f"PostgreSQL binaries {missing} not found in {PG_BIN} (apt-get install postgresql-15)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    base = Path(tempfile.mkdtemp(prefix="utilization-pg-"))
    data = base / "data"
    log = base / "server.log"
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
    _run(
        [
            *prefix,
            *(str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log)),
            *("-w", "-t", "60", "start"),
        ],
        "start",
    )
    try:
        yield f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=120,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)
