"""Fixtures several test files need: demo data folders, PostgreSQL, chromium, shared builds.

Helpers that are plain functions stay importable from their modules: contract_data.py (the
contract tests' data builders), canonical.py, browser.py (offline pages, PDF text), and
pg_server.py (the server these fixtures start).
"""

from __future__ import annotations

import fcntl
import inspect
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import pg_server
from browser import chromium
from utilization.demo import generate, write_demo

# A test that uses one of these fixtures gets the marker, so `-m "not browser"` and
# `-m "not postgres"` leave out every test that needs chromium or a PostgreSQL server.
FIXTURE_MARKERS = {"browser": "browser", "postgres_url": "postgres"}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


# -- the test run -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder shared by every xdist worker of this test run (pytest's base temporary folder
    without xdist); a new one each run, so concurrent runs never meet.
    """
    root = tmp_path_factory.getbasetemp()
    return root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root


@pytest.fixture(scope="session")
def made_once(run_folder: Path) -> Callable[[str, Callable[[Path], None]], Path]:
    """`made_once(name, make)`: the folder `name` of the run folder, filled by `make(folder)`
    once per test run: the first worker makes it while the others wait on a file lock, then
    all read the same files. Tests must only read it.
    """

    def made(name: str, make: Callable[[Path], None]) -> Path:
        folder = run_folder / name
        with (run_folder / f"{name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (folder / ".done").exists():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                make(folder)
                (folder / ".done").touch()
        return folder

    return made


# -- demo data --------------------------------------------------------------------------------


def _fingerprint(folder: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file below `folder`."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Path]]:
    """`demo_folder(today=date, clients=60, seed=2026, months=15, fmt="csv")`: a folder of the
    synthetic demo agency (`utilization.demo.write_demo`), written once per worker for each
    distinct set of arguments (defaults are those of `generate`). `today` is required, so the
    data never depends on the day the tests run.

    The folder is shared: a test that changes or adds files copies it first
    (`shutil.copytree`). At the end of the session a changed folder is an error.
    """
    made: dict[tuple[Any, ...], Path] = {}
    prints: dict[Path, dict[str, tuple[int, int]]] = {}
    parameters = inspect.signature(generate)

    def folder(*, today: Any, fmt: str = "csv", **kwargs: Any) -> Path:
        arguments = parameters.bind(today=today, **kwargs)
        arguments.apply_defaults()
        key = (fmt, *sorted(arguments.arguments.items()))
        if key not in made:
            path = tmp_path_factory.mktemp(f"demo-{arguments.arguments['clients']}-{today}")
            write_demo(path, fmt=fmt, **arguments.arguments)
            made[key] = path
            prints[path] = _fingerprint(path)
        return made[key]

    yield folder
    changed = [str(path) for path, before in prints.items() if _fingerprint(path) != before]
    if changed:
        pytest.fail(f"a test changed the shared demo folder(s) {changed}: copy it first")


# -- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server(run_folder: Path) -> Iterator[int]:
    """The port of a local PostgreSQL 15 server on 127.0.0.1 (user `postgres`, trust login).

    One server per test run, shared by the xdist workers: the first to ask starts it, the last
    to finish stops it (pg_server.py; a file lock and a user count in the run folder). Without
    the binaries the tests are skipped, or fail when the CI environment variable is set.
    """
    pg_server.require_binaries()
    port = pg_server.acquire(run_folder)
    try:
        yield port
    finally:
        pg_server.release(run_folder)


@pytest.fixture
def postgres_url(postgres_server: int) -> Iterator[str]:
    """The SQLAlchemy URL of a new empty database of its own on the test run's server,
    dropped after the test: tests never see each other's tables.
    """
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_server.url(postgres_server), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield pg_server.url(postgres_server, name)
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# -- chromium ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Debian chromium (playwright) per worker, closed at the end of the session;
    open pages in it with browser.py's `open_offline` / `page_text`. Skips without chromium or
    playwright, or fails when the CI environment variable is set.
    """
    with chromium() as started:
        yield started
