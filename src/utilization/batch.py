"""Batch runs: many reports from one parameter set."""

from __future__ import annotations

import argparse
import hashlib
import re
import unicodedata

from utilization.errors import InputError

SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str) -> str:
    """A file name from an id: no path separators, no traversal, no clash between ids.

    Characters outside `A-Z a-z 0-9 . _ -` become `_`, and when anything had to change a short
    hash of the original id is appended, so `a/b` and `a?b` do not end up as the same file.
    """
    normal = unicodedata.normalize("NFC", text)
    cleaned = SAFE.sub("_", normal).strip("._") or "report"
    if cleaned != text:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
        cleaned = f"{cleaned[:80]}-{digest}"
    return cleaned


def add_batch_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `batch` subcommand's arguments."""
    parser = sub.add_parser("batch", help="run every report of a parameter set (params/*.yaml)")
    parser.add_argument("params", help="parameter set, YAML")


def cmd_batch(args: argparse.Namespace) -> int:
    """Run a parameter set; exit non-zero when any report failed."""
    msg = "batch runs are not built yet"
    raise InputError(msg)
