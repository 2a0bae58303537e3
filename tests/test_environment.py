"""Faults of the environment: each is one message naming the file and what to do, exit 1.

Permission faults are real: the command runs as root without the capabilities that let root
ignore file permissions (`setpriv --bounding-set -dac_override,-dac_read_search`), so the
kernel refuses it exactly as it refuses any user. A full disk is a small tmpfs, filled.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import openpyxl
import pytest
import yaml

from contract_data import run
from test_remittance_pipeline import _folder
from utilization import files
from utilization.cli import main
from utilization.files import is_temporary

PERIOD = ["--from", "2025-03-01", "--to", "2025-03-31"]


def restricted(*args: str) -> subprocess.CompletedProcess[str]:
    """`utilization ARGS` as root without the capabilities to override file permissions."""
    command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
    return subprocess.run(
        [*command, sys.executable, "-m", "utilization", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def one_message(done: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit code 1, no traceback, and every word in standard error."""
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


def test_a_data_folder_without_read_permission(tmp_path: Path) -> None:
    """Folder mode 000, then one table file mode 000: the message names it."""
    data = _folder(tmp_path)
    data.chmod(0)
    try:
        done = restricted("validate", "--data", str(data), "--out", str(tmp_path / "v"))
        one_message(done, str(data), "permission denied")
    finally:
        data.chmod(0o755)
    (data / "visits.csv").chmod(0)
    done = restricted("validate", "--data", str(data), "--out", str(tmp_path / "v"))
    one_message(done, "visits.csv", "permission denied")


@pytest.mark.parametrize("command", ["validate", "export-csv", "export-xlsx", "batch"])
def test_a_read_only_output_folder(tmp_path: Path, command: str) -> None:
    """Every command that writes says which folder refused and why."""
    data = _folder(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    args = {
        "validate": ["validate", "--data", str(data), "--out", str(out / "v")],
        "export-csv": ["export", "agency", "--data", str(data), *PERIOD, "--format", "csv",
                       "--out", str(out / "csv")],
        "export-xlsx": ["export", "agency", "--data", str(data), *PERIOD, "--format", "xlsx",
                        "--out", str(out / "agency.xlsx")],
    }  # fmt: skip
    if command == "batch":
        params = tmp_path / "q.yaml"
        params.write_text(
            yaml.safe_dump(
                {"name": "q", "view": "agency", "period": "2025-03", "data": str(data),
                 "formats": ["html"], "out": str(out)}
            )
        )  # fmt: skip
        args["batch"] = ["batch", str(params), "--workers", "1", "--no-progress"]
    done = restricted(*args[command])
    one_message(done, str(out), "permission denied")


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A folder on a 1 MB tmpfs, filled up: the next write gets ENOSPC from the kernel."""
    folder = tmp_path / "disk"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], check=True)
    try:
        with (folder / "filler").open("wb") as handle:
            try:
                while True:
                    handle.write(b"\0" * 65536)
                    handle.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def test_a_full_disk_is_one_message_and_leaves_no_temporary_file(
    full_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Export and validate into a full disk: exit 1, "the disk is full", nothing half-written."""
    data = _folder(tmp_path)
    out = full_disk / "out"
    out.mkdir()
    assert main(["export", "agency", "--data", str(data), *PERIOD, "--format", "csv",
                 "--out", str(out)]) == 1  # fmt: skip
    assert main(["validate", "--data", str(data), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("the disk is full") == 2 and "Traceback" not in err
    assert "summary.csv: cannot write" in err and "rejects.csv: cannot write" in err
    assert [p.name for p in out.iterdir()] == []


def test_the_disk_filling_up_while_the_manifest_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ENOSPC on syncing manifest.json (the disk fills during the run): one message naming
    it, exit 1, the earlier manifest intact and no temporary file left.
    """
    data = _folder(tmp_path)
    params = tmp_path / "q.yaml"
    params.write_text(
        yaml.safe_dump(
            {"name": "q", "view": "agency", "period": "2025-03", "data": str(data),
             "formats": ["html"], "out": str(tmp_path / "out")}
        )
    )  # fmt: skip
    folder = tmp_path / "out" / "q" / "2025-03"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text('{"format": 1, "reports": []}\n')
    sync = os.fsync

    def full(handle: int) -> None:
        if "manifest.json" in os.readlink(f"/proc/self/fd/{handle}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        sync(handle)

    monkeypatch.setattr(files.os, "fsync", full)
    assert main(["batch", str(params), "--workers", "1", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"{folder / 'manifest.json'}: cannot write: the disk is full" in err
    assert "Traceback" not in err
    assert (folder / "manifest.json").read_text() == '{"format": 1, "reports": []}\n'
    assert [p.name for p in folder.rglob("*") if is_temporary(p.name)] == []


@pytest.mark.parametrize(
    "manifest",
    ["[]", '{"format": 1, "reports": [{"name": "agency"}]}', '{"format": 1, "reports": 7}', "{"],
    ids=["list", "record-without-keys", "reports-not-a-list", "not-json"],
)
def test_a_manifest_of_the_wrong_shape_is_made_again(tmp_path: Path, manifest: str) -> None:
    """The run renders every report again, says why in the log, and writes a sound manifest."""
    data = _folder(tmp_path)
    params = tmp_path / "q.yaml"
    params.write_text(
        yaml.safe_dump(
            {"name": "q", "view": "agency", "period": "2025-03", "data": str(data),
             "formats": ["html"], "out": str(tmp_path / "out")}
        )
    )  # fmt: skip
    folder = tmp_path / "out" / "q" / "2025-03"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(manifest)
    assert main(["batch", str(params), "--workers", "1", "--no-progress"]) == 0
    assert "manifest.json of the earlier run cannot be used" in (folder / "batch.log").read_text()
    written = json.loads((folder / "manifest.json").read_text())
    assert written["counts"] == {"reports": 1, "ok": 1, "failed": 0, "rendered": 1}


@pytest.mark.parametrize(
    ("setting", "reason"),
    [
        ("unit_minutes = 1e400", "setting 'unit_minutes' = inf is not a finite number"),
        ("unit_minutes = nan", "setting 'unit_minutes' = nan is not a finite number"),
        ("unit_minutes = 15.5", "setting 'unit_minutes' = 15.5 is not a whole number"),
        ("unit_minutes = true", "setting 'unit_minutes' = True is not a finite number"),
        ("unit_minutes = 527041", "unit_minutes must be from 0 to 527,040, not 527,041"),
        ("expiring_days = 1e18", "expiring_days must be from 0 to 36,500, not 1e+18"),
        ("at_risk_remaining_share = 2", "at_risk_remaining_share must be from 0 to 1, not 2"),
        (
            "at_risk_remaining_share = 1.0000001",
            "at_risk_remaining_share must be from 0 to 1, not 1.0000001",
        ),
        (
            "rate_tolerance = 1000000.5",
            "rate_tolerance must be from 0 to 1,000,000, not 1,000,000.5",
        ),
        ("timezone = 5", "setting 'timezone' = 5 is not text"),
        (
            '[agency]\ntimezone = "UTC"\n[alerts]\ntimezone = "America/Chicago"',
            "setting 'timezone' is given twice (in [agency] and in [alerts]); keep one",
        ),
        (
            'week_start = "monday"\n[agency]\nweek_start = "monday"',
            "setting 'week_start' is given twice (at the top and in [agency]); keep one",
        ),
    ],
)
def test_a_setting_that_cannot_be_used_is_one_message(
    tmp_path: Path, setting: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Settings are checked when read: infinite, fractional or out-of-range values stop the
    run with the setting's name and what is allowed.
    """
    data = _folder(tmp_path)
    (data / "utilization.toml").write_text(setting + "\n")
    assert main(["validate", "--data", str(data), "--out", str(tmp_path / "v")]) == 1
    err = capsys.readouterr().err
    assert reason in err and "Traceback" not in err


def test_a_settings_file_that_is_a_folder_is_said_to_be_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder named utilization.toml in the data folder is not passed over for defaults."""
    data = _folder(tmp_path)
    (data / "utilization.toml").mkdir()
    assert main(["validate", "--data", str(data), "--out", str(tmp_path / "v")]) == 1
    assert capsys.readouterr().err == (
        f"utilization validate: {data / 'utilization.toml'}: cannot read the settings file: "
        "it is a folder, not a file\n"
    )


def test_a_control_character_in_a_name_exports_to_excel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A client name holding BEL: the workbook is written (the character shown as ␇), the
    terminal shows no name, and no temporary file is left.
    """
    data = _folder(tmp_path)
    clients = (data / "clients.csv").read_text().replace("Grace Hopper", "Grace\x07Hopper")
    (data / "clients.csv").write_text(clients)
    out = tmp_path / "x" / "agency.xlsx"
    assert main(["export", "agency", "--data", str(data), *PERIOD, "--format", "xlsx",
                 "--out", str(out)]) == 0  # fmt: skip
    captured = capsys.readouterr()
    assert "Grace" not in captured.out + captured.err
    names = [c.value for c in openpyxl.load_workbook(out)["by_client"]["B"]]
    assert "Grace␇Hopper" in names
    assert [p.name for p in out.parent.iterdir()] == ["agency.xlsx"]


def test_an_unforeseen_refusal_of_the_machine_is_still_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An OSError where no message was prepared: the command names the file, exit 1."""
    import utilization.pipeline

    def refused(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO), "/mnt/share/visits.csv")

    monkeypatch.setattr(utilization.pipeline, "load", refused)
    data = _folder(tmp_path)  # small: loaded in memory, by `load`
    assert main(["validate", "--data", str(data)]) == 1
    err = capsys.readouterr().err
    assert err == "utilization validate: /mnt/share/visits.csv: cannot use: Input/output error\n"


def test_table_files_that_are_not_files_are_named_as_such(tmp_path: Path) -> None:
    """A folder, a FIFO, a link to nothing and a loop of links, each in place of a table."""
    cases = {
        "folder": (lambda p: p.mkdir(), "a folder, not a table file"),
        "fifo": (lambda p: os.mkfifo(p), "not a regular file (a FIFO, socket or device)"),
        "dangling": (lambda p: p.symlink_to(p.parent / "gone.csv"), "which does not exist"),
        "loop": (lambda p: p.symlink_to(p), "a loop of symbolic links"),
    }
    for name, (make, reason) in cases.items():
        (tmp_path / name).mkdir()
        data = _folder(tmp_path / name)
        (data / "visits.csv").unlink()
        make(data / "visits.csv")
        done = subprocess.run(
            [sys.executable, "-m", "utilization", "validate", "--data", str(data)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        one_message(done, "visits.csv", reason)


def test_a_sqlite_url_to_a_missing_file_is_an_error_not_a_new_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sqlite:///missing.db names the file; no empty database is created."""
    path = tmp_path / f"{uuid.uuid4().hex}.db"
    assert main(["validate", "--data", f"sqlite:///{path}"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert not path.exists()


def test_a_fifo_or_a_folder_in_remittances_is_reported_never_opened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reading a FIFO would wait forever: it and a folder are unreadable_835 rejects."""
    data = _folder(tmp_path)
    (data / "remittances").mkdir()
    os.mkfifo(data / "remittances" / "pipe.835")
    (data / "remittances" / "2024").mkdir()
    assert main(["export", "agency", "--data", str(data), *PERIOD]) == 0
    found = json.loads(capsys.readouterr().out)["rejects"]
    assert [(Path(r["value"]).name, r["code"], r["reason"]) for r in found] == [
        ("2024", "unreadable_835",
         "835 file not read: a folder, not an 835 file; put 835 files directly in the folder"),
        ("pipe.835", "unreadable_835",
         "835 file not read: a FIFO, socket or device, not an 835 file; put 835 files directly "
         "in the folder"),
    ]  # fmt: skip


def test_a_folder_too_large_for_memory_is_refused_before_it_is_read(
    demo_folder: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading a data folder whole when its visits need more memory than the machine has
    available (`pipeline.check_fits`): one message with the figures and what to do, exit 1,
    instead of the system ending the process; exactly as much as is available is enough.
    """
    import pandas as pd

    from utilization import load, pipeline
    from utilization.exceptions import EnvironmentFault

    folder = demo_folder(today=date(2026, 2, 16), fmt="parquet")
    visits = len(pd.read_parquet(folder / "visits.parquet"))
    monkeypatch.setattr(pipeline, "BYTES_PER_VISIT", 1_000_000)  # 1 MB a visit
    monkeypatch.setattr(pipeline, "_available_memory", lambda: visits * 1_000_000 - 1)
    reads: list[object] = []
    monkeypatch.setattr(pipeline.sources, "read_source", lambda *a: reads.append(a))
    expected = (
        f"{folder / 'visits.parquet'}: about {visits:,} visits; held whole in memory they need "
        f"about {visits / 1000:.1f} GB and this machine has {visits / 1000:.1f} GB available. "
        "The commands `export`, `report`, `batch`, `validate` and `check-schedule` cut such a "
        "folder into parts by client by themselves (do not give --partitions 0); the dashboard "
        "and `utilization.load` hold it whole: give them a smaller extract (fewer months or "
        "clients)"
    )
    rc, out, err = run(["export", "agency", "--data", str(folder), *PERIOD, "--partitions", "0"])
    assert (rc, out) == (1, "")
    assert err == f"utilization export: {expected}\n"
    with pytest.raises(EnvironmentFault) as caught:
        load(folder)
    assert str(caught.value) == expected
    assert reads == []  # refused before any table was read
    monkeypatch.setattr(pipeline, "_available_memory", lambda: visits * 1_000_000)
    pipeline.check_fits(folder)  # just enough
    monkeypatch.undo()  # the real figures: the demo folder fits this machine
    counts = load(folder).row_counts.set_index("table")
    assert counts.loc["visits", "rows_read"] == visits


def test_the_memory_available_is_read_from_the_system() -> None:
    """`MemAvailable` of /proc/meminfo, within the machine's total memory."""
    from utilization.pipeline import _available_memory

    available = _available_memory()
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert available is not None
    assert 0 < available <= total
