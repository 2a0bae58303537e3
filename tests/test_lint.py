"""The house style holds: ruff (lint and format) and strict mypy are clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PATHS = ["src", "tests", "scripts", "benchmarks"]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_finds_nothing() -> None:
    """`ruff check` passes on the package, tests, scripts and benchmarks."""
    done = _run(str(BIN / "ruff"), "check", *PATHS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_code_is_formatted() -> None:
    """`ruff format --check` finds nothing to reformat."""
    done = _run(str(BIN / "ruff"), "format", "--check", *PATHS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_is_clean() -> None:
    """Strict mypy passes on the package (configured in pyproject.toml)."""
    done = _run(str(BIN / "mypy"))
    assert done.returncode == 0, done.stdout + done.stderr
