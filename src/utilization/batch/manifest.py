"""The batch manifest: fingerprints of inputs, templates, package and outputs; job keys."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import utilization
from utilization.dataset import TABLES, Dataset
from utilization.files import sha256_file, write_atomic
from utilization.sources import masked_source, on_disk

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1


@dataclass
class ReportRecord:
    """What the manifest keeps about one report: its key, outputs with SHA-256, key figures."""

    name: str
    view: str
    subject: str
    key: str
    status: str  # ok | failed
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # ext -> {path, sha256}
    figures: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0
    rendered: bool = True  # False when an earlier run's outputs were up to date

    def as_json(self) -> dict[str, Any]:
        """The record as plain JSON values (`rendered` is a fact of this run only)."""
        return {
            "name": self.name,
            "view": self.view,
            "subject": self.subject,
            "key": self.key,
            "status": self.status,
            "outputs": self.outputs,
            "figures": self.figures,
            "error": self.error,
            "seconds": round(self.seconds, 3),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReportRecord:
        """A record read back from a manifest; marked as not rendered by this run.

        ValueError when it is not a record: keys missing or of the wrong type.
        """
        if not isinstance(data, dict):
            msg = f"a report record is {type(data).__name__}, not a mapping"
            raise ValueError(msg)
        texts = ("name", "view", "subject", "key", "status")
        missing = [k for k in texts if not isinstance(data.get(k), str)]
        outputs = data.get("outputs", {})
        if (
            missing
            or not isinstance(outputs, dict)
            or not all(
                isinstance(o, dict)
                and isinstance(o.get("path"), str)
                and isinstance(o.get("sha256"), str)
                for o in outputs.values()
            )
        ):
            msg = f"a report record lacks {missing or ['outputs']}"
            raise ValueError(msg)
        figures = data.get("figures", {})
        return cls(
            **{k: data[k] for k in texts},
            outputs=outputs,
            figures=figures if isinstance(figures, dict) else {},
            error=str(data.get("error", "")),
            rendered=False,
        )


def sha256_text(text: str) -> str:
    """The SHA-256 of text (UTF-8), as hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the bytes a key is hashed from."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def package_fingerprint() -> dict[str, str]:
    """The package version and the SHA-256 of its code and HTML templates (name + bytes)."""
    root = Path(utilization.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix not in (".pyc",) and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return {"name": "utilization", "version": utilization.__version__, "sha256": digest.hexdigest()}


def input_fingerprints(data: str, settings: str, dataset: Dataset) -> dict[str, str]:
    """SHA-256 of every input file: every file `load` reads (`pipeline.source_files`: a
    folder's files, a workbook, `utilization.toml`, the 835 files of `remittances/`, the
    settings file), so a new remittance or a changed setting makes the reports out of date.

    Sources without files (`demo`, a database) are fingerprinted by the content of the tables
    as read: `<source>#<table>` -> SHA-256 of the table's row hashes.
    """
    from utilization.pipeline import source_files

    prints = {str(f.resolve()): sha256_file(f) for f in source_files(data, settings or None)}
    if on_disk(data) is None:
        shown = masked_source(data)
        for table in (*TABLES, "rejects"):
            frame: pd.DataFrame = getattr(dataset, table)
            rows = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()
            content = canonical_json(list(frame.columns)).encode() + rows.tobytes()
            prints[f"{shown}#{table}"] = hashlib.sha256(content).hexdigest()
    return prints


def job_key(
    parameters: dict[str, Any], inputs: dict[str, str], template: str, package: dict[str, str]
) -> str:
    """The SHA-256 that changes when a report's parameters, inputs, template or code change."""
    payload = {"parameters": parameters, "inputs": inputs, "template": template, "package": package}
    return sha256_text(canonical_json(payload))


def read_manifest(
    folder: Path, note: Callable[[str], None] = lambda _: None
) -> dict[str, ReportRecord]:
    """The records of an earlier run in `folder`, by report name; empty when there is none.

    A manifest that cannot be used (not JSON, another shape, a record without its keys, as a
    hand edit or a damaged disk leaves it) counts as none: every report is made again and
    the new run writes a sound one. `note` is told why.
    """
    path = folder / MANIFEST
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            msg = f"not a manifest of format {MANIFEST_FORMAT}"
            raise ValueError(msg)
        records = [ReportRecord.from_json(r) for r in data.get("reports", [])]
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        why = f"{type(exc).__name__}: {exc}"
        note(f"{MANIFEST} of the earlier run cannot be used ({why}); every report is made again")
        return {}
    return {r.name: r for r in records}


def up_to_date(
    record: ReportRecord | None, key: str, formats: tuple[str, ...], folder: Path
) -> bool:
    """True when an earlier run made this report with the same key and every requested output
    is still there with the SHA-256 the manifest recorded.
    """
    if record is None or record.status != "ok" or record.key != key:
        return False
    for fmt in formats:
        output = record.outputs.get(fmt)
        if output is None:
            return False
        path = folder / output["path"]
        if ".." in Path(output["path"]).parts or not _regular(path):
            return False  # only a report of the set's own, never a link, FIFO or folder
        if sha256_file(path) != output["sha256"]:
            return False
    return True


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def write_manifest(folder: Path, header: dict[str, Any], records: list[ReportRecord]) -> Path:
    """Write `manifest.json` atomically: the header, counts and one record per report."""
    ordered = sorted(records, key=lambda r: (r.view, r.subject, r.name))
    body = {
        "format": MANIFEST_FORMAT,
        **header,
        "counts": {
            "reports": len(records),
            "ok": sum(r.status == "ok" for r in records),
            "failed": sum(r.status == "failed" for r in records),
            "rendered": sum(r.rendered for r in records),
        },
        "reports": [r.as_json() for r in ordered],
    }
    path = folder / MANIFEST
    write_atomic(path, json.dumps(body, indent=1, ensure_ascii=False) + "\n", within=folder)
    return path
