"""The package installs from its wheel and runs anywhere; optional parts say which extra."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

import utilization
from utilization.cli import main
from utilization.exceptions import MissingExtraError, require

ROOT = Path(__file__).resolve().parents[1]


def test_the_version_is_the_one_written_in_pyproject() -> None:
    """`utilization.__version__` comes from the package metadata, i.e. pyproject.toml."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert utilization.__version__ == project["version"]


def test_a_missing_optional_part_names_the_extra_to_install() -> None:
    """`require` of an absent module raises MissingExtraError with the pip command."""
    with pytest.raises(MissingExtraError) as caught:
        require("no_such_module_for_utilization", "pdf", "PDF reports")
    assert str(caught.value) == (
        "PDF reports needs the optional package 'no_such_module_for_utilization', which is not "
        "installed; install it with: pip install 'utilization[pdf]'"
    )
    require("pandas", "pdf", "never raised")  # an installed module passes


def test_the_report_command_says_which_extra_pdf_needs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Without WeasyPrint, `report --format pdf --pdf-engine weasyprint` stops before any
    work: exit 1 and the extra.
    """
    real = importlib.util.find_spec

    def without_weasyprint(name: str, *args: object) -> object:
        return None if name == "weasyprint" else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", without_weasyprint)
    request = ["client", "--client", "C0001", "--format", "pdf", "--out", str(tmp_path)]
    code = main(["report", *request, "--pdf-engine", "weasyprint"])
    assert code == 1
    assert "pip install 'utilization[pdf]'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_wheel_installs_with_its_templates_and_reports_from_another_folder(
    tmp_path: Path,
) -> None:
    """`pip wheel .`, then in a new virtual environment outside the checkout
    `pip install 'utilization[pdf]'` from that wheel, and `utilization report client` run from
    another folder writes the HTML and the PDF (the templates come from inside the wheel).
    """
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("utilization-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "utilization/report/templates/notebooks/client.ipynb" in names
    assert "utilization/report/templates/notebooks/dashboard.ipynb" in names
    assert "utilization/dashboard/dashboard.css" in names
    assert "utilization/dashboard/voila/templates/utilization/index.html.j2" in names
    assert "utilization/report/templates/report/index.html.j2" in names
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"{wheel}[pdf]"],
        capture_output=True,
        text=True,
        env=clean,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "x"
    command = ["report", "client", "--client", "C0001", "--format", "html,pdf", "--out", str(out)]
    done = subprocess.run(
        [str(env_dir / "bin" / "utilization"), *command],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=clean,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == [
        "client-C0001.html",
        "client-C0001.pdf",
        "rejects.csv",
    ]
    assert (out / "client-C0001.pdf").read_bytes().startswith(b"%PDF")
    where = subprocess.run(
        [str(python), "-c", "import utilization; print(utilization.__file__)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=clean,
        check=True,
    )
    assert where.stdout.startswith(str(env_dir))  # the wheel's copy, not the checkout
