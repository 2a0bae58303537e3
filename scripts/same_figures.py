"""Prove that every view's JSON export is byte-identical between a base commit and this code.

Usage: ``make same-figures BASE=COMMIT`` or ``python scripts/same_figures.py --base COMMIT
[--out DIR] [--keep] [--allow-added KEY.FIELD ...] [--new-src DIR]``. The base commit's ``src/``
is extracted with ``git archive`` into a temporary folder; the new code is the working tree's
``src/`` (or ``--new-src``). Two demo data sets are generated once, with the base code, under
``DIR/data``; both versions export every view of both as JSON (``DIR/base``, ``DIR/new``) and
each pair of files is compared: byte-identical is "same"; fields that exist only in the new
output and are named with ``--allow-added`` (``rejects.code`` = field ``code`` of every row of
the list ``rejects``; ``limits`` = a whole top-level key) are tolerated; anything else is
"DIFFERENT", with the first differences. Exit code 0 when every export passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 20
SHOW_CHARS = 80
SETTINGS_SECOND = (
    "# Written by scripts/same_figures.py: a second settings path and another rounding rule.\n"
    'timezone = "America/New_York"\n'
    'rounding = "never_zero"\n'
)


# ---------------------------------------------------------------- comparison (pure functions)


@dataclass(frozen=True)
class Difference:
    """One difference between two JSON documents, at a key path such as ``rejects[3].code``."""

    path: str
    kind: str  # "changed", "added" (only in new), "removed" (only in base), "rows", "order"
    text: str

    @property
    def field(self) -> str:
        """Return the path without row numbers: ``rejects[3].code`` gives ``rejects.code``."""
        return re.sub(r"\[\d+\]", "", self.path)


def show(value: Any) -> str:
    """Return a JSON value as short readable text (cut at SHOW_CHARS characters)."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= SHOW_CHARS else text[: SHOW_CHARS - 3] + "..."


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _same_scalar(base: Any, new: Any) -> bool:
    # Through json.dumps: 1 and 1.0, or 1 and true, are different; NaN equals NaN.
    return json.dumps(base) == json.dumps(new)


def differences(base: Any, new: Any, path: str = "") -> Iterator[Difference]:
    """Yield every difference between two loaded JSON values, in document order."""
    if isinstance(base, dict) and isinstance(new, dict):
        yield from _dict_differences(base, new, path)
    elif isinstance(base, list) and isinstance(new, list):
        yield from _list_differences(base, new, path)
    elif not _same_scalar(base, new):
        where = path or "(document)"
        yield Difference(path, "changed", f"{where}: base {show(base)}, new {show(new)}")


def _dict_differences(base: dict[str, Any], new: dict[str, Any], path: str) -> Iterator[Difference]:
    for key, value in base.items():
        sub = _join(path, key)
        if key in new:
            yield from differences(value, new[key], sub)
        else:
            yield Difference(sub, "removed", f"{sub}: only in base ({show(value)})")
    for key, value in new.items():
        if key not in base:
            sub = _join(path, key)
            yield Difference(sub, "added", f"{sub}: only in new ({show(value)})")
    base_order = [key for key in base if key in new]
    new_order = [key for key in new if key in base]
    if base_order != new_order:
        where = path or "(document)"
        yield Difference(
            path, "order", f"{where}: keys in another order: base {base_order}, new {new_order}"
        )


def _list_differences(base: list[Any], new: list[Any], path: str) -> Iterator[Difference]:
    if len(base) == len(new):
        for index, (old_row, new_row) in enumerate(zip(base, new, strict=True)):
            yield from differences(old_row, new_row, f"{path}[{index}]")
        return
    yield Difference(path, "rows", f"{path}: {len(base)} rows in base, {len(new)} in new")
    # Line the rows up so that one missing row reads as one missing row, not as every row after
    # it changed.
    matcher = difflib.SequenceMatcher(
        None, [show_full(row) for row in base], [show_full(row) for row in new], autojunk=False
    )
    for tag, b1, b2, n1, n2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        paired = min(b2 - b1, n2 - n1)
        for offset in range(paired):
            yield from differences(base[b1 + offset], new[n1 + offset], f"{path}[{b1 + offset}]")
        for index in range(b1 + paired, b2):
            sub = f"{path}[{index}]"
            yield Difference(sub, "rows", f"{sub}: row only in base: {show(base[index])}")
        for index in range(n1 + paired, n2):
            sub = f"{path}[{index}]"
            yield Difference(sub, "rows", f"{sub} (new): row only in new: {show(new[index])}")


def show_full(value: Any) -> str:
    """Return a JSON value as canonical text (sorted keys), for lining up list rows."""
    return json.dumps(value, sort_keys=True)


def compare(base: dict[str, Any], new: dict[str, Any], allowed_added: set[str]) -> list[str]:
    """Return the difference lines between two exports; empty when they hold the same figures.

    A field only in the new export whose row-free path (``rejects.code``, ``limits``) is in
    ``allowed_added`` is not a difference. A field added to (or removed from) many rows of a list
    is one line, with the number of rows.
    """
    lines: list[str] = []
    grouped: dict[tuple[str, str], int] = {}
    first_line: dict[tuple[str, str], int] = {}
    for difference in differences(base, new):
        if difference.kind == "added" and difference.field in allowed_added:
            continue
        if difference.kind in ("added", "removed"):
            key = (difference.kind, difference.field)
            grouped[key] = grouped.get(key, 0) + 1
            if key in first_line:
                continue
            first_line[key] = len(lines)
        lines.append(difference.text)
    for key, count in grouped.items():
        if count > 1:
            lines[first_line[key]] += f" [and in {count - 1} more rows]"
    return lines


def added_fields(base: dict[str, Any], new: dict[str, Any], allowed_added: set[str]) -> list[str]:
    """Return the sorted allowed fields that the new export adds (what "same apart from" names)."""
    return sorted(
        {d.field for d in differences(base, new) if d.kind == "added"} & set(allowed_added)
    )


@dataclass(frozen=True)
class Verdict:
    """The result of comparing one pair of export files."""

    passed: bool
    result: str
    lines: list[str] = field(default_factory=list)


def judge(
    base_bytes: bytes, new_bytes: bytes, allowed_added: set[str], max_lines: int = MAX_LINES
) -> Verdict:
    """Return the verdict on two export files' bytes: same, same apart from added, or DIFFERENT.

    At most ``max_lines`` difference lines are kept (the last one says how many were left out).
    """
    if base_bytes == new_bytes:
        return Verdict(True, "same")
    try:
        base, new = json.loads(base_bytes), json.loads(new_bytes)
    except ValueError as exc:
        return Verdict(False, "DIFFERENT", [f"not JSON: {exc}"])
    lines = compare(base, new, allowed_added)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], f"... and {len(lines) - max_lines + 1} more"]
    if lines:
        return Verdict(False, "DIFFERENT", lines)
    added = added_fields(base, new, allowed_added)
    if added:
        return Verdict(True, "same apart from added: " + ", ".join(added))
    return Verdict(
        False, "DIFFERENT", ["same values, other bytes (number format, spacing or escaping)"]
    )


# ---------------------------------------------------------------- subjects (pure functions)


def first_authorized_client(clients: pd.DataFrame, authorizations: pd.DataFrame) -> str:
    """Return the first client_id (sorted) of the clients table that has an authorization."""
    authorized = set(authorizations["client_id"].dropna())
    ids = clients["client_id"].dropna().unique()
    candidates = sorted(str(c) for c in ids if c and c in authorized)
    if not candidates:
        msg = "no client has an authorization"
        raise ValueError(msg)
    return str(candidates[0])


def most_frequent(values: pd.Series) -> str:
    """Return the most frequent non-empty value (the smallest one on a tie)."""
    counts = values.dropna().astype(str).value_counts()
    counts = counts[counts.index != ""]
    if counts.empty:
        msg = f"no {values.name} values"
        raise ValueError(msg)
    top = counts.max()
    return str(min(counts[counts == top].index))


# ---------------------------------------------------------------- running the two versions


@dataclass(frozen=True)
class Version:
    """One version of the code: its name in the report and its ``src`` folder."""

    name: str
    src: Path
    write_bytecode: bool


@dataclass(frozen=True)
class Export:
    """One export command: its data set, label (file name) and view arguments."""

    dataset: str
    label: str
    view: str
    args: tuple[str, ...]
    optional: bool = False


def run_cli(version: Version, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Return the finished ``python -m utilization ARGS`` run with that version's code."""
    env = {**os.environ, "PYTHONPATH": str(version.src)}
    if not version.write_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "utilization", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def check_version(version: Version) -> str | None:
    """Return why this version cannot run (imports from elsewhere, or fails to start), or None."""
    env = {**os.environ, "PYTHONPATH": str(version.src), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", "import utilization; print(utilization.__file__)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return f"cannot import utilization: {_last_line(done.stderr)}"
    imported = Path(done.stdout.strip()).resolve()
    if not imported.is_relative_to(version.src.resolve()):
        return f"utilization is imported from {imported}, not from {version.src}"
    done = run_cli(version, ["export", "--help"])
    if done.returncode != 0:
        return f"`export --help` exits with {done.returncode}: {_last_line(done.stderr)}"
    return None


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no message)"


def resolve(commit: str) -> str:
    """Return the full hash of a commit name (``HEAD``, a branch, a short hash)."""
    done = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        msg = f"{commit!r} is not a commit of {ROOT}"
        raise RuntimeError(msg)
    return done.stdout.strip()


def extract_base(commit: str, into: Path) -> None:
    """Extract the commit's ``src/`` into the folder (``git archive COMMIT src | tar -x``)."""
    archive = subprocess.Popen(["git", "archive", commit, "src"], cwd=ROOT, stdout=subprocess.PIPE)
    assert archive.stdout is not None
    untar = subprocess.run(["tar", "-x", "-C", str(into)], stdin=archive.stdout, check=False)
    archive.stdout.close()
    if archive.wait() != 0 or untar.returncode != 0:
        msg = f"cannot extract src/ of {commit!r} (git archive | tar -x failed)"
        raise RuntimeError(msg)


def make_data(base: Version, data: Path) -> dict[str, Path]:
    """Write the two data sets with the base code; return their folders by name."""
    folders = {"demo": data / "demo", "second": data / "second"}
    commands = {
        "demo": ["demo", "--out", str(folders["demo"]), "--today", "2026-02-16"],
        "second": [
            *("demo", "--out", str(folders["second"]), "--seed", "11", "--clients", "30"),
            *("--months", "9", "--today", "2025-11-20", "--format", "parquet"),
        ],
    }
    for name, command in commands.items():
        done = run_cli(base, command)
        if done.returncode != 0:
            msg = f"data set {name}: {base.name} demo exits with {done.returncode}: {done.stderr}"
            raise RuntimeError(msg)
    (folders["second"] / "utilization.toml").write_text(SETTINGS_SECOND, encoding="utf-8")
    return folders


def read_table(folder: Path, table: str) -> pd.DataFrame:
    """Return one table of a data folder (CSV or Parquet), every column as text."""
    csv = folder / f"{table}.csv"
    if csv.exists():
        return pd.read_csv(csv, dtype=str, keep_default_na=False)
    return pd.read_parquet(folder / f"{table}.parquet").astype("string")


def plan(name: str, folder: Path, period: tuple[str, str, str], full_agency: bool) -> list[Export]:
    """Return the exports of one data set over the period (from, to, as-of)."""
    clients, authorizations = read_table(folder, "clients"), read_table(folder, "authorizations")
    visits = read_table(folder, "visits")
    client = first_authorized_client(clients, authorizations)
    procedure = most_frequent(visits["procedure_code"])
    provider = most_frequent(visits["provider_id"])
    start, end, as_of = period
    common = ("--data", str(folder), "--from", start, "--to", end, "--as-of", as_of)
    exports = [
        Export(name, "agency", "agency", common),
        Export(name, "service-codes", "service-codes", common),
        Export(name, "authorizations", "authorizations", common),
        Export(name, f"client {client}", "client", (*common, "--client", client)),
        Export(name, f"procedure {procedure}", "procedure", (*common, "--procedure", procedure)),
        Export(name, f"provider {provider}", "provider", (*common, "--provider", provider), True),
        Export(name, "revenue", "revenue", common, True),
    ]
    if full_agency:
        wide = ("--data", str(folder), "--from", "2025-04-01", "--to", "2026-03-31")
        filters = ("--as-of", as_of, "--basis", "full", "--payer", "MCO")
        exports.append(Export(name, "agency 2025-04..2026-03 full MCO", "agency", wide + filters))
    return exports


def file_name(label: str) -> str:
    """Return the JSON file name for an export label (letters, digits, dots and dashes)."""
    return re.sub(r"[^A-Za-z0-9.]+", "-", label).strip("-") + ".json"


def _unknown_view(done: subprocess.CompletedProcess[str]) -> bool:
    return done.returncode == 2 and "unknown view" in done.stderr


def run_export(
    export: Export, versions: Sequence[Version], out: Path, allowed_added: set[str]
) -> Verdict:
    """Export one view with both versions and return the verdict on the two files."""
    files: list[Path] = []
    missing: list[str] = []
    errors: list[str] = []
    for version in versions:
        path = out / version.name.lower() / export.dataset / file_name(export.label)
        path.parent.mkdir(parents=True, exist_ok=True)
        args = ["export", export.view, *export.args, "--format", "json", "--out", str(path)]
        done = run_cli(version, args)
        if export.optional and _unknown_view(done):
            missing.append(version.name)
        elif done.returncode != 0:
            errors.append(f"{version.name} exits with {done.returncode}: {_last_line(done.stderr)}")
        files.append(path)
    if missing:
        return Verdict(True, "skipped: view not in " + " and ".join(missing), errors)
    if errors:
        return Verdict(False, "ERROR", errors)
    return judge(files[0].read_bytes(), files[1].read_bytes(), allowed_added)


def print_table(rows: Sequence[tuple[str, str, str]]) -> None:
    """Print the rows (data set, view, result) as an aligned table."""
    header = ("data set", "view", "result")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(2)]
    for row in (header, *rows):
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison; return 0 when every export passes, 1 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit to compare against")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    parser.add_argument(
        "--out",
        default="benchmarks/out/same-figures",
        help="output folder, relative to the repository (default benchmarks/out/same-figures)",
    )
    parser.add_argument(
        "--allow-added",
        action="append",
        default=[],
        metavar="KEY.FIELD",
        help="a field the new export may add (rejects.code, or a top-level key; repeatable)",
    )
    parser.add_argument(
        "--new-src", default=str(ROOT / "src"), help="the new code's src folder (default: src/)"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    out = (ROOT / args.out).resolve()
    for sub in ("data", "base", "new"):
        shutil.rmtree(out / sub, ignore_errors=True)
    temporary = Path(tempfile.mkdtemp(prefix="same-figures-"))
    try:
        return _compare_all(args, out, temporary, started)
    finally:
        if args.keep:
            print(f"kept the base code in {temporary}")
        else:
            shutil.rmtree(temporary, ignore_errors=True)


def _compare_all(args: argparse.Namespace, out: Path, temporary: Path, started: float) -> int:
    try:
        commit = resolve(args.base)
        extract_base(commit, temporary)
    except RuntimeError as exc:
        print(f"same-figures: {exc}", file=sys.stderr)
        return 1
    new_src = Path(args.new_src).resolve()
    versions = (
        Version("BASE", temporary / "src", write_bytecode=True),
        Version("new", new_src, write_bytecode=not new_src.is_relative_to(ROOT)),
    )
    for version in versions:
        problem = check_version(version)
        if problem:
            print(f"same-figures: the {version.name} code ({version.src}): {problem}")
            if version.name == "new":
                print("same-figures: compare other code with --new-src DIR (make: NEW_SRC=DIR)")
            return 1
    try:
        folders = make_data(versions[0], out / "data")
        exports = [
            *plan("demo", folders["demo"], ("2026-01-01", "2026-03-31", "2026-02-16"), True),
            *plan("second", folders["second"], ("2025-07-01", "2025-09-30", "2025-09-30"), False),
        ]
    except (RuntimeError, ValueError) as exc:
        print(f"same-figures: {exc}", file=sys.stderr)
        return 1
    allowed = set(args.allow_added)
    rows: list[tuple[str, str, str]] = []
    details: list[str] = []
    failed = 0
    for export in exports:
        verdict = run_export(export, versions, out, allowed)
        rows.append((export.dataset, export.label, verdict.result))
        failed += not verdict.passed
        if verdict.lines:
            details += [f"{export.dataset} / {export.label}:", *(f"  {x}" for x in verdict.lines)]
    print(f"BASE {args.base} = {commit} against new = {versions[1].src}")
    print_table(rows)
    if details:
        print("\n" + "\n".join(details))
    summary = f"{failed} of {len(rows)} exports FAIL" if failed else "every export passes"
    print(f"\n{summary}; files in {out}; took {time.perf_counter() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
