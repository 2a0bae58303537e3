"""`utilization import-835`: the payments of 835 files added once each to a data folder's
payments.csv, unmatched lines to remittance_unmatched.csv.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from utilization.exceptions import InputError
from utilization.files import locked, write_atomic
from utilization.remittance.lines import match_lines
from utilization.remittance.x12 import (
    PAYMENT_COLUMNS,
    PAYMENTS_FILE,
    UNMATCHED_COLUMNS,
    UNMATCHED_FILE,
    read_remittances,
)
from utilization.schema import PAYMENTS
from utilization.spreadsheets import csv_text

READ_BACK: tuple[str, ...] = (
    *PAYMENTS.required_columns,
    *PAYMENTS.optional_columns,
    "remittance_key",
)
"""The columns of payments.csv the product reads back: written exactly, never neutralized
(a neutralized `visit_id` would no longer name its visit). The others (check number, file,
claim numbers, payer, how a line was matched, columns of the agency's own) are neutralized.
"""


LOCK = ".import-835.lock"
LOCK_WAIT_SECONDS = 600.0


@dataclass
class ImportResult:
    """What one `import-835` run did: counts, lines left unmatched and files not read."""

    lines_read: int
    lines_matched: int
    lines_unmatched: int
    lines_already_imported: int
    payments_added: int
    unmatched: pd.DataFrame
    errors: pd.DataFrame
    payments_path: Path
    unmatched_path: Path


def import_835(
    files: Sequence[Path],
    data_dir: Path,
    *,
    visits: pd.DataFrame,
    clients: pd.DataFrame,
) -> ImportResult:
    """Add the matched lines of 835 files to `data_dir/payments.csv`, once each.

    `visits` and `clients` are the data folder's (the command loads it first).
    payments.csv is created with the payments columns when absent; rows already in it are
    kept with their values (rows that came from elsewhere get the new columns empty). A line
    whose `remittance_key` is already in the file is not added again, so importing the same
    file twice changes nothing, while a reversal in a later file is added and nets out.
    Unmatched lines go to `data_dir/remittance_unmatched.csv`, which keeps earlier unmatched
    lines that were not read again and drops those that have since been matched.
    Files that cannot be read are listed in `errors` and the others are imported.

    One import at a time per data folder: the run holds `.import-835.lock` from reading
    payments.csv to writing it, and a second import waits for it (up to LOCK_WAIT_SECONDS),
    so two imports at once never lose or double a payment.
    """
    data_dir = Path(data_dir)
    with locked(data_dir / LOCK, "another import-835", wait_seconds=LOCK_WAIT_SECONDS):
        return _import(files, data_dir, visits=visits, clients=clients)


def _import(
    files: Sequence[Path], data_dir: Path, *, visits: pd.DataFrame, clients: pd.DataFrame
) -> ImportResult:
    """`import_835` once the data folder's lock is held."""
    payments_path = data_dir / PAYMENTS_FILE
    unmatched_path = data_dir / UNMATCHED_FILE
    for other in ("payments.parquet",):
        if (data_dir / other).exists():
            msg = (
                f"{data_dir / other} exists: import-835 writes {payments_path}, and the data "
                "folder would hold two payments tables. Convert it to payments.csv first."
            )
            raise InputError(msg)
    lines, errors = read_remittances(files)
    payments, unmatched = match_lines(lines, visits, clients)
    existing = _read_csv(payments_path, PAYMENT_COLUMNS)
    known = set(existing.get("remittance_key", pd.Series(dtype="str"))) - {""}
    already = payments["remittance_key"].isin(known)
    unmatched_known = unmatched["remittance_key"].isin(known)
    added = _as_text(payments[~already], PAYMENT_COLUMNS)
    if (
        len(added)
        or list(existing.columns) != _columns(existing, PAYMENT_COLUMNS)
        or not (payments_path.exists())
    ):
        columns = _columns(existing, PAYMENT_COLUMNS)
        table = pd.concat([existing.reindex(columns=columns, fill_value=""), added[columns]])
        _write_csv(table.fillna(""), payments_path, exempt=READ_BACK)

    earlier = _read_csv(unmatched_path, UNMATCHED_COLUMNS)
    read_now = set(lines["remittance_key"]) | set(added["remittance_key"]) | known
    earlier = earlier[~earlier["remittance_key"].isin(read_now)]
    still = _as_text(unmatched[~unmatched_known], UNMATCHED_COLUMNS)
    report = pd.concat([earlier.reindex(columns=UNMATCHED_COLUMNS, fill_value=""), still])
    _write_csv(report.fillna(""), unmatched_path)

    return ImportResult(
        lines_read=len(lines),
        lines_matched=len(payments) + int(unmatched_known.sum()),
        lines_unmatched=int((~unmatched_known).sum()),
        lines_already_imported=int(already.sum() + unmatched_known.sum()),
        payments_added=len(added),
        unmatched=unmatched[~unmatched_known].reset_index(drop=True),
        errors=errors,
        payments_path=payments_path,
        unmatched_path=unmatched_path,
    )


def _columns(existing: pd.DataFrame, wanted: list[str]) -> list[str]:
    """The existing columns in their order, then the wanted ones they lack."""
    return list(existing.columns) + [c for c in wanted if c not in existing.columns]


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    """A CSV as text exactly as written ('' for empty cells); an empty frame when absent."""
    if not path.exists():
        return pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        msg = f"{path} cannot be read as CSV ({error}); fix or move it and import again"
        raise InputError(msg) from None
    return frame


def _as_text(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Values as they are written to CSV: money to cents, dates as YYYY-MM-DD, '' if none."""
    out = pd.DataFrame(index=frame.index)
    for column in columns:
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            out[column] = series.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_float_dtype(series):
            out[column] = series.map(lambda x: "" if pd.isna(x) else f"{x:.2f}")
        else:
            out[column] = series.map(lambda x: "" if x is None or pd.isna(x) else str(x))
        out[column] = out[column].fillna("").astype(str)
    return out.reset_index(drop=True)


def _write_csv(frame: pd.DataFrame, path: Path, exempt: tuple[str, ...] = ()) -> None:
    """Write through the atomic writer, with `\\n` line ends; text cells a spreadsheet would
    run are neutralized (`utilization.spreadsheets`), but for the `exempt` columns.
    """
    write_atomic(path, csv_text(frame, exempt=exempt))
