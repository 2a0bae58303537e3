"""Writing into shared folders: atomic files that never follow a planted link, locks, and
a clean-up that deletes only the product's own temporary files.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from test_remittance_pipeline import _folder
from utilization.cli import main
from utilization.exceptions import EnvironmentFault, UsageError
from utilization.files import (
    is_temporary,
    locked,
    process_running,
    remove_ended,
    run_folder,
    temporary_name,
    write_atomic,
)

SECRET = "the target's own content\n"


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """A file elsewhere that a planted link points at; it must never change."""
    path = tmp_path / "elsewhere" / "target.txt"
    path.parent.mkdir()
    path.write_text(SECRET)
    return path


def test_a_link_at_the_file_is_replaced_not_followed(tmp_path: Path, target: Path) -> None:
    """write_atomic renames a new file over a symbolic link: the link's target is untouched."""
    path = tmp_path / "payments.csv"
    path.symlink_to(target)
    write_atomic(path, "visit_id\n")
    assert not path.is_symlink() and path.read_text() == "visit_id\n"
    assert target.read_text() == SECRET


def test_a_pipe_or_a_link_to_one_is_left_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Renaming a file over a named pipe, or over a link to one (what `/dev/stdout` is when
    the output goes into a pipe), would take it away: refused, exit 2, the name and why.
    A dangling link is replaced.
    """
    pipe = tmp_path / "agency.json"
    os.mkfifo(pipe)
    link = tmp_path / "stdout"
    link.symlink_to(pipe)
    for path in (pipe, link):
        with pytest.raises(UsageError, match=f"^{path}: cannot write there: it is a pipe, not"):
            write_atomic(path, "{}")
    assert pipe.is_fifo() and link.is_symlink() and os.readlink(link) == str(pipe)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agency.json", "stdout"]
    export = ["export", "agency", "--data", "demo", "--from", "2026-01-01", "--to", "2026-03-31"]
    assert main([*export, "--format", "json", "--out", str(link)]) == 2
    assert f"{link}: cannot write there: it is a pipe" in capsys.readouterr().err
    dangling = tmp_path / "gone"
    dangling.symlink_to(tmp_path / "nothing")
    write_atomic(dangling, "ok\n")
    assert not dangling.is_symlink() and dangling.read_text() == "ok\n"


def test_temporary_names_are_fresh_and_recognizable(tmp_path: Path, target: Path) -> None:
    """A link planted at the old fixed temporary names is never written through: each write
    makes a new `.<name>.<16 random hex>.utilization.tmp` with O_EXCL and leaves none behind.
    """
    for name in ("payments.csv.tmp", ".agency.xlsx.tmp", ".payments.csv.tmp"):
        (tmp_path / name).symlink_to(target)
    write_atomic(tmp_path / "payments.csv", "a\n")
    write_atomic(tmp_path / "agency.xlsx", b"b")
    assert target.read_text() == SECRET
    names = {temporary_name("x.csv") for _ in range(100)}
    assert len(names) == 100 and all(is_temporary(n) for n in names)
    assert not is_temporary(".notes.tmp") and not is_temporary(".x.csv.tmp")
    mine, other = temporary_name("x.html"), temporary_name("x.html.pdf")  # job `x.html`, PDF
    assert is_temporary(mine, of="x.html") and not is_temporary(other, of="x.html")
    assert is_temporary(other, of="x.html.pdf") and not is_temporary(mine, of="x")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.is_symlink()) == [
        "agency.xlsx",
        "elsewhere",
        "payments.csv",
    ]


def test_inside_its_own_tree_no_folder_link_is_followed(tmp_path: Path, target: Path) -> None:
    """With `within`, a folder of the tree that is a link refuses the write, naming it."""
    (tmp_path / "set" / "2026-Q1").mkdir(parents=True)
    (tmp_path / "set" / "2026-Q1" / "client").symlink_to(target.parent)
    with pytest.raises(EnvironmentFault, match="symbolic link"):
        write_atomic(tmp_path / "set/2026-Q1/client/C1.html", "x", within=tmp_path / "set")
    assert sorted(p.name for p in target.parent.iterdir()) == ["target.txt"]
    write_atomic(tmp_path / "set/2026-Q1/agency/A.html", "x", within=tmp_path / "set")
    assert (tmp_path / "set/2026-Q1/agency/A.html").read_text() == "x"


def test_a_lock_is_never_truncated_nor_followed(tmp_path: Path, target: Path) -> None:
    """A second holder waits, then is refused with a message; a link at the lock is refused."""
    lock = tmp_path / ".lock"
    busy = r"another import-835 is writing into .*0.1 s"
    second = locked(lock, "another import-835", wait_seconds=0.1)
    with locked(lock, "x"), pytest.raises(EnvironmentFault, match=busy), second:
        pass
    with locked(lock, "x"):  # free again
        pass
    (tmp_path / ".other.lock").symlink_to(target)
    with (
        pytest.raises(EnvironmentFault, match="symbolic link"),
        locked(tmp_path / ".other.lock", "x"),
    ):
        pass
    assert target.read_text() == SECRET


@pytest.fixture
def batch_set(tmp_path: Path) -> tuple[Path, Path]:
    """A one-report batch on the remittance tests' agency, and its output set folder."""
    params = tmp_path / "q.yaml"
    out = tmp_path / "out"
    params.write_text(
        yaml.safe_dump(
            {"name": "q", "view": "client", "period": "2025-03", "data": str(_folder(tmp_path)),
             "clients": ["C1"], "formats": ["html"], "out": str(out)}
        )
    )  # fmt: skip
    folder = out / "q" / "2025-03"
    folder.mkdir(parents=True)
    return params, folder


@pytest.mark.parametrize("planted", [".batch.lock", "batch.log", "client"])
def test_a_batch_refuses_links_planted_in_its_output_set(
    batch_set: tuple[Path, Path],
    target: Path,
    planted: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A link at the lock, the log or the reports' folder stops the run with one message
    naming it (exit 1); the link's target is neither truncated, appended to nor filled.
    """
    params, folder = batch_set
    (folder / planted).symlink_to(target.parent if planted == "client" else target)
    assert main(["batch", str(params), "--workers", "1", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert planted in err and "symbolic link" in err and "Traceback" not in err
    assert target.read_text() == SECRET
    assert sorted(p.name for p in target.parent.iterdir()) == ["target.txt"]


def test_clean_up_deletes_only_the_products_temporary_files(
    batch_set: tuple[Path, Path], target: Path
) -> None:
    """A user's `.draft.tmp` and a link named like a temporary file stay; the product's own
    temporary file of a killed run goes (and the run's log says so).
    """
    params, folder = batch_set
    (folder / "client").mkdir()
    (folder / "client" / ".draft.tmp").write_text("mine")
    (folder / "client" / temporary_name("C1.html")).write_text("<html>half")
    (folder / temporary_name("index.html")).symlink_to(target)
    os.symlink(target.parent, folder / "linked")
    (target.parent / temporary_name("y.csv")).write_text("not in the set")
    assert main(["batch", str(params), "--workers", "1", "--no-progress"]) == 0
    assert sorted(p.name for p in (folder / "client").iterdir()) == [".draft.tmp", "C1.html"]
    assert (folder / temporary_name("index.html")).parent.exists()
    assert len(list(target.parent.iterdir())) == 2 and target.read_text() == SECRET
    assert "removed 1 temporary file(s)" in (folder / "batch.log").read_text()


def test_a_run_folder_removes_those_of_ended_runs_of_this_machine_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run's temporary folder (`run_folder`) is named for this machine and process; making
    one first removes the folders of the same kind left by ended processes of this machine
    (a run killed before it could remove its own), and nothing else: not one whose process
    runs, not another machine's (a shared TMPDIR), not another kind, not a link.
    """
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    host = socket.gethostname()
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    dead = int(ended.stdout)
    assert not process_running(dead)
    left = tmp_path / f"utilization-parts-{host}-{dead}-abc_123"
    (left / "part-00000").mkdir(parents=True)
    (left / "part-00000" / "visits.pickle").write_bytes(b"x" * 100)
    keep = [
        tmp_path / f"utilization-parts-{host}-{os.getpid()}-live0001",  # this process runs
        tmp_path / f"utilization-parts-elsewhere-{dead}-other001",  # another machine's
        tmp_path / f"utilization-batch-{host}-{dead}-otherkind",  # another kind
        tmp_path / "utilization-parts-oldname1",  # named before run folders
    ]
    for folder in keep:
        folder.mkdir()
    link = tmp_path / f"utilization-parts-{host}-{dead}-alink001"
    link.symlink_to(keep[0])

    made = run_folder("utilization-parts-")
    assert made.parent == tmp_path and made.is_dir()
    assert made.name.startswith(f"utilization-parts-{host}-{os.getpid()}-")
    assert oct(made.stat().st_mode & 0o777) == "0o700"
    assert not left.exists()
    assert all(folder.is_dir() for folder in keep) and link.is_symlink()
    assert remove_ended("utilization-parts-") == []  # this run's own folder stays
    assert made.is_dir()
