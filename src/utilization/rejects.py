"""What validation found, said plainly, and the rejected rows written as CSV."""

from __future__ import annotations

from pathlib import Path

from utilization.dataset import Dataset
from utilization.files import write_atomic
from utilization.spreadsheets import csv_text

TOP_REASONS = 10
"""How many reasons the summary lists, the most frequent first."""


def summary_text(dataset: Dataset, long_visits: int | None = None) -> str:
    """Rows read, used and rejected per table, then the most common reasons and the visits
    flagged long (`long_visits`, counted elsewhere when the dataset holds no visit: data
    validated in parts, `partitions.checked_in_parts`).
    """
    counts = dataset.row_counts
    # Each number column as wide as its largest number and a space (50,069,844 visits too).
    width = max([10, *(len(f"{int(n):,}") + 1 for n in counts["rows_read"])])
    head = f"{'table':<16}{'read':>{width}}{'used':>{width}}{'rejected':>{width}}"
    lines = [f"source: {dataset.source}", head]
    for row in counts.itertuples(index=False):
        lines.append(
            f"{row.table:<16}{row.rows_read:>{width},}{row.rows_used:>{width},}"
            f"{row.rows_rejected:>{width},}"
        )
    rejects = dataset.rejects
    total = int(dataset.row_counts["rows_rejected"].sum())
    lines.append(f"{total:,} row(s) rejected" if total else "no rows rejected")
    if len(rejects):
        reasons = rejects.groupby(["table", "column", "reason"]).size().reset_index(name="count")
        top = reasons.sort_values("count", ascending=False, kind="stable").head(TOP_REASONS)
        for row in top.itertuples(index=False):
            lines.append(f"  {row.count:>6,} × {row.table}.{row.column}: {row.reason}")
        if len(reasons) > len(top):
            more = reasons["count"].sum() - top["count"].sum()
            lines.append(
                f"  … and {len(reasons) - len(top):,} more reason(s), {more:,} in all: "
                "rejects.csv lists every one"
            )
    flagged = long_visits
    if flagged is None:
        visits = dataset.visits
        flagged = int(visits["long_visit"].sum()) if "long_visit" in visits else 0
    if flagged:
        lines.append(
            f"{flagged:,} visit(s) longer than {dataset.settings.long_visit_hours:g} hours flagged"
        )
    return "\n".join(lines)


def write_rejects(dataset: Dataset, folder: Path, within: Path | None = None) -> Path:
    """Write `rejects.csv` (table, row, column, value, reason, code) into `folder`; its path.

    Values are written as found, but for text a spreadsheet would run as a formula, which
    gets an apostrophe in front (`utilization.spreadsheets`). `within`: see
    `files.write_atomic`.
    """
    path = folder / "rejects.csv"
    write_atomic(path, csv_text(dataset.rejects), within=within)
    return path
