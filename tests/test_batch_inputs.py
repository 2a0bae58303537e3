"""Every input a batch reads counts in its fingerprint: remittances/ and settings too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from remittance_data import april_835, march_835
from test_remittance_pipeline import _folder
from utilization.cli import main
from utilization.files import sha256_file
from utilization.pipeline import load_cached, source_files


def _run(params: Path) -> dict:
    assert main(["batch", str(params), "--workers", "1", "--no-progress"]) == 0
    folder = params.parent / "out" / "q" / "2025-03"
    return json.loads((folder / "manifest.json").read_text())


def test_a_new_835_or_a_changed_setting_makes_the_reports_out_of_date(tmp_path: Path) -> None:
    """Batch, then a new file in remittances/: the report is rendered again with the new
    payments and the manifest lists the 835 files among its inputs; then a changed
    utilization.toml: rendered again; then nothing changed: up to date.
    """
    data = _folder(tmp_path)
    (data / "remittances").mkdir()
    (data / "remittances" / "march.835").write_text(march_835())
    params = tmp_path / "q.yaml"
    params.write_text(
        yaml.safe_dump(
            {"name": "q", "view": "client", "period": "2025-03", "data": str(data),
             "clients": ["C1"], "formats": ["html"], "out": str(tmp_path / "out")}
        )
    )  # fmt: skip
    first = _run(params)
    march = str((data / "remittances" / "march.835").resolve())
    assert first["inputs"][march] == sha256_file(data / "remittances" / "march.835")
    (data / "remittances" / "april.835").write_text(april_835())
    second = _run(params)
    assert second["counts"]["rendered"] == 1
    assert str((data / "remittances" / "april.835").resolve()) in second["inputs"]
    assert second["reports"][0]["key"] != first["reports"][0]["key"]
    (data / "utilization.toml").write_text("rate_tolerance = 0.02\n")
    third = _run(params)
    assert third["counts"]["rendered"] == 1
    assert str((data / "utilization.toml").resolve()) in third["inputs"]
    assert _run(params)["counts"]["rendered"] == 0


def test_source_files_are_what_load_reads(tmp_path: Path) -> None:
    """A folder: its files and remittances/ (hidden files aside); a workbook: itself, the
    utilization.toml and remittances/ beside it; a settings file given: that one.
    """
    data = _folder(tmp_path)
    (data / "remittances").mkdir()
    (data / "remittances" / "march.835").write_text(march_835())
    (data / "remittances" / ".hidden").write_text("x")
    (data / ".import-835.lock").write_text("")
    names = [p.relative_to(data).as_posix() for p in source_files(data)]
    assert names == [
        "authorizations.csv", "clients.csv", "procedures.csv", "remittances/march.835",
        "visits.csv",
    ]  # fmt: skip
    book = tmp_path / "book" / "agency.xlsx"
    book.parent.mkdir()
    book.write_bytes(b"")
    shutil.copytree(data / "remittances", book.parent / "remittances")
    (book.parent / "utilization.toml").write_text("")
    settings = tmp_path / "other.toml"
    assert [p.name for p in source_files(book)] == ["agency.xlsx", "march.835", "utilization.toml"]
    assert [p.name for p in source_files(book, settings)] == [
        "agency.xlsx",
        "march.835",
        "other.toml",
    ]
    assert source_files("sqlite:///agency.db", settings) == [settings]


def test_a_kernel_loads_again_after_a_new_835_or_a_changed_settings_file(tmp_path: Path) -> None:
    """The kernel cache's stamp covers remittances/ and the settings file given."""
    data = _folder(tmp_path)
    settings = tmp_path / "agency.toml"
    settings.write_text("long_visit_hours = 24\n")
    before = load_cached(str(data), str(settings))
    assert load_cached(str(data), str(settings)) is before
    settings.write_text("long_visit_hours = 1\n")
    changed = load_cached(str(data), str(settings))
    assert changed is not before and changed.settings.long_visit_hours == 1
    (data / "remittances").mkdir()
    (data / "remittances" / "march.835").write_text(march_835())
    paid = load_cached(str(data), str(settings))
    assert paid is not changed and len(paid.payments) == 4
