"""CSV and Excel files as billing staff open them: no text cell is ever run as a formula.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (and, after a tab or a line
break, what follows): a client name `=HYPERLINK("http://…","click")` in an export would be a
live link, `=cmd|…` a command (OWASP, "CSV injection"). Every CSV and Excel file the product
writes goes through this module:

- CSV: a text cell that a spreadsheet would run gets an apostrophe in front (`'=1+1`), as
  OWASP recommends; Excel and LibreOffice then show it as text. Text that is a plain number
  (`-12.5`, an id `-5`) is left alone: a spreadsheet reads it as that number, which runs
  nothing. `neutralize=False` writes text exactly as it is (for programs; `export --plain-csv`).
- Excel: numbers are numeric cells and text is a text cell, never a formula; a text cell that
  starts like a formula is also marked as typed text (Excel's `'` prefix, `quotePrefix`), so
  editing it does not turn it into one. Its value is kept exactly. Control characters, which
  an .xlsx file cannot hold, are written as their visible symbols (U+0007 as `␇`).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

TRIGGERS = "=+-@\uff1d\uff0b\uff0d\uff20"
"""Characters that make a spreadsheet read a cell as a formula (with their full-width forms)."""
_RUNS = re.compile(r"^(?:[\t\r\n]|\s*[" + re.escape(TRIGGERS) + "])")
_NUMBER = re.compile(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
PREFIX = "'"
_INF = float("inf")


def runs_as_formula(text: str) -> bool:
    """Whether a spreadsheet would run this text cell: it starts with = + - @ (after spaces,
    full-width forms too), a tab or a line break, and is not a plain number.
    """
    return bool(_RUNS.match(text)) and not _NUMBER.match(text)


def neutralize(value: Any) -> Any:
    """The text with `'` in front when a spreadsheet would run it; anything else unchanged.

    Idempotent: a neutralized text starts with `'` and is left as it is.
    """
    if isinstance(value, str) and runs_as_formula(value):
        return PREFIX + value
    return value


def neutralized(frame: pd.DataFrame, exempt: Iterable[str] = ()) -> pd.DataFrame:
    """The frame with every text cell neutralized (columns in `exempt` kept exactly).

    Grain: that of `frame`. Numeric, boolean and date columns are not touched; only text
    cells that start with a trigger are changed (one vectorized test per text column).
    """
    skip = set(exempt)
    out: pd.DataFrame | None = None
    for column in frame.columns:
        values = frame[column]
        if column in skip or not _is_text(values):
            continue
        text = values.astype("str")
        starts = text.str.match(_RUNS.pattern).fillna(False).to_numpy(dtype=bool)
        if not starts.any():
            continue
        number = text[starts].str.match(_NUMBER.pattern).fillna(False).to_numpy(dtype=bool)
        where = np.flatnonzero(starts)[~number]
        where = where[[isinstance(v, str) for v in values.iloc[where].tolist()]]
        if not len(where):
            continue
        if out is None:
            out = frame.copy()
        changed = values.astype(object).copy()
        changed.iloc[where] = [PREFIX + v for v in values.iloc[where].tolist()]
        out[column] = changed
    return frame if out is None else out


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or pd.api.types.is_string_dtype(values.dtype)


def csv_text(frame: pd.DataFrame, *, neutralize: bool = True, exempt: Iterable[str] = ()) -> str:
    """The frame as CSV (no index, `\\n` line ends), text cells neutralized unless told not."""
    if neutralize:
        frame = neutralized(frame, exempt)
    text: str = frame.to_csv(index=False, lineterminator="\n")
    return text


def visible_controls(text: str) -> str:
    """Control characters an .xlsx cell cannot hold, as their visible symbols (U+2400 block)."""
    return _CONTROL.sub(_symbol, text)


def _symbol(match: re.Match[str]) -> str:
    code = ord(match.group())
    return chr(0x2421 if code == 0x7F else 0x2400 + code)


def workbook_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """An .xlsx workbook, one sheet per frame (name cut to Excel's 31 characters).

    Numbers are numeric cells, booleans boolean cells, text text cells: never a formula.
    Missing values (None, NaN, NaT) are empty cells.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    for name, frame in sheets.items():
        sheet = book.create_sheet(title=visible_controls(name)[:31])
        sheet.append([_cell(sheet, str(c), WriteOnlyCell) for c in frame.columns])
        columns = [frame[c].tolist() for c in frame.columns]
        for row in zip(*columns, strict=True):
            sheet.append([_cell(sheet, v, WriteOnlyCell) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(sheet: Any, value: Any, text_cell: Any) -> Any:
    """One value as a write-only cell: a number, a boolean, None, or a text cell
    (`text_cell`: openpyxl's WriteOnlyCell, imported once per workbook).
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, bool | int) or (isinstance(value, float) and abs(value) < _INF):
        return value
    text = visible_controls(str(value))
    written = text_cell(sheet, value=text)
    written.data_type = "s"  # a text cell, whatever it starts with
    if runs_as_formula(text):
        written.quotePrefix = True
    return written
