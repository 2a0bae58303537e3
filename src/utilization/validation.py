"""Validation: raw tables to the canonical frames, every unusable row to the rejects list."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from utilization import schema
from utilization.dataset import (
    REFERENCES,
    REJECT_COLUMNS,
    TABLES,
    Dataset,
    empty_rejects,
    is_among,
    rows_name,
)
from utilization.exceptions import InputError
from utilization.hugepages import in_small_pages
from utilization.schema import REQUIRED_TABLES, Code
from utilization.settings import Settings
from utilization.sources import LINES, ROW, RawSource, cell_text, may_hold_line_breaks
from utilization.threads import together, together_by_name
from utilization.units import PER_VISIT, RULES, units_array

TEXT: Literal["str"] = "str"
DATE = "datetime64[us]"
INSTANT = "datetime64[us, UTC]"
STATUSES: tuple[str, ...] = schema.VISITS.column("status").values
TRUE_WORDS: frozenset[str] = frozenset({"true", "yes", "y", "1"})
FALSE_WORDS: frozenset[str] = frozenset({"false", "no", "n", "0"})

COLUMNS: dict[str, list[str]] = {n: t.canonical_columns for n, t in schema.TABLES.items()}
"""The canonical columns of each frame, in order (declared in `utilization.schema`)."""

REQUIRED_COLUMNS: dict[str, list[str]] = {n: t.required_columns for n, t in schema.TABLES.items()}
"""Required columns; visits also need `start` and `end`, or `service_date` and `minutes`."""

MISSING = "required value is missing"
NOT_A_NUMBER = "not a number"
NEGATIVE = "negative; must be 0 or more"
NOT_A_DATE = "not a date (expected YYYY-MM-DD)"
NOT_A_DATETIME = "not a date-time (expected YYYY-MM-DD HH:MM:SS, optionally with a UTC offset)"
NOT_A_FLAG = "not true or false (use true/false, yes/no, y/n or 1/0)"
LINE_BREAK = "contains a line break: an unclosed quote?"

_OFFSET = re.compile(r"\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*(?:Z|[+-]\d\d(?::?\d\d)?)$")
_NAIVE_FORMATS: tuple[str, ...] = (
    "ISO8601",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
)
_DATE_FORMATS: tuple[str, ...] = ("%m/%d/%Y", "ISO8601")
_US_PER_MINUTE = 60_000_000
_US_PER_DAY = 86_400 * 1_000_000
IntArray = npt.NDArray[np.int64]


Repeats = tuple[npt.NDArray[np.int64], list[str]]
"""Rows (the user's row numbers) that repeat an id of an earlier row, and the reason of each."""


@in_small_pages
def validate(
    raw: RawSource,
    settings: Settings,
    *,
    repeats: dict[str, Repeats] | None = None,
    release: bool = False,
) -> Dataset:
    """Check every raw table against the input contract and build the canonical frames.

    Grain and columns of each frame as declared in `utilization.schema`; `rejects` has one
    row per problem found (table, row, column, value as text, reason, code) and `row_counts`
    one row per table with rows_read = rows_used + rows_rejected. Rules (data contract §1-2):

    - Ids and codes are text, stripped of surrounding spaces; an empty cell is missing.
    - A repeated id (client, procedure code, payer, provider, authorization, visit) keeps its
      first row; the repeats are rejected as "duplicate of row N", whatever happened to it.
    - A reference to a catalog row (client, procedure code, payer, provider, visit) that is
      missing or was itself rejected rejects the referring row, saying which.
    - Payments may be negative (reversals and recoupments from remittances are legitimate):
      a deliberate deviation from "negative amounts are rejected" for `insurance_paid` and
      `patient_paid` only.
    - Time rules: see `_instants` and `_visits`.

    `repeats`: for a table given in parts (`partitions`), its repeated ids found over the
    whole table (`repeated_ids`), which the part's own rows cannot show.

    `release`: the tables of `raw` are taken out of it (`raw.tables` keeps the others) and
    each column is let go as soon as the checks have read it, so that the tables as read and
    the canonical frames are not all in memory at once (`utilization.load`, which does not
    read the raw tables again).
    """
    tables = {name: frame for name, frame in raw.tables.items() if name in TABLES}
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if missing:
        msg = f"required table(s) {missing} missing. Tables found: {sorted(tables)}"
        raise InputError(msg)
    for name, frame in tables.items():
        _require_columns(name, frame, raw.origin.get(name, name))
    if release:
        for name in tables:
            del raw.tables[name]

    checked: dict[str, _Table] = {}
    frames: dict[str, pd.DataFrame] = {}
    found: dict[tuple[str, str], IntArray] = {}

    def table(name: str) -> _Table:
        frame = tables.pop(name, None) if release else tables.get(name)
        present = frame is not None
        checked[name] = _Table(name, frame if frame is not None else pd.DataFrame(), present)
        del frame
        checked[name].owned = release
        checked[name].repeats = (repeats or {}).get(name)
        checked[name].line_breaks()
        return checked[name]

    def done(name: str, frame: pd.DataFrame) -> None:
        """Keep what later tables and the dataset read of a checked table, let the rest go."""
        frames[name] = frame
        t = checked[name]
        key = schema.TABLES[name].key  # what a table referring to this one reads
        t.free(*[c for c in t.frame.columns if c not in (key, ROW, LINES)])
        keep = ~t.bad if t.bad.any() else slice(None)
        for column in list(t.found):  # the rows found checking its references, one by one
            found[(name, column)] = t.found.pop(column)[keep].astype(np.int64)

    done("clients", _clients(table("clients")))
    done("procedures", _procedures(table("procedures"), settings))
    done("payers", _named(table("payers"), "payer_id", "payer_name"))
    done("providers", _named(table("providers"), "provider_id", "provider_name"))
    catalogs = {name: _Catalog(checked[name]) for name in checked}
    done(
        "authorizations",
        _authorizations(table("authorizations"), catalogs, frames["procedures"], settings),
    )
    done("visits", _visits(table("visits"), catalogs, frames["procedures"], settings))
    done("payments", _payments(table("payments"), _Catalog(checked["visits"]), settings))

    rejects = rejects_of([part for name in TABLES for part in checked[name].parts])
    counts = pd.DataFrame(
        {
            "table": pd.Series(list(TABLES), dtype=TEXT),
            "rows_read": [checked[t].n + checked[t].swallowed for t in TABLES],
            "rows_used": [checked[t].n - int(checked[t].bad.sum()) for t in TABLES],
            "rows_rejected": [int(checked[t].bad.sum()) + checked[t].swallowed for t in TABLES],
        }
    ).astype({"rows_read": np.int64, "rows_used": np.int64, "rows_rejected": np.int64})
    dataset = Dataset(
        clients=frames["clients"],
        procedures=frames["procedures"],
        payers=frames["payers"],
        providers=frames["providers"],
        authorizations=frames["authorizations"],
        visits=frames["visits"],
        payments=frames["payments"],
        rejects=rejects,
        row_counts=counts,
        settings=settings,
        source=raw.description,
    )
    for (name, column), rows in found.items():  # the rows found checking the references
        target, _ = REFERENCES[(name, column)]
        dataset.derived(rows_name(name, column), (frames[name], frames[target]), _given(rows))
    return dataset


def _given(value: IntArray) -> Callable[[], IntArray]:
    return lambda: value


def rejects_of(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The rejects of tables (frames of rejects, each table's in the order its checks found
    them) by table, then row; a row's rejects in the order they were found.
    """
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_rejects()
    rejects = pd.concat(parts, ignore_index=True)
    rejects["_table"] = rejects["table"].map({t: i for i, t in enumerate(TABLES)})
    rejects = rejects.sort_values(["_table", "row"], kind="stable")
    rejects = rejects[REJECT_COLUMNS].reset_index(drop=True)
    rejects = rejects.astype({c: TEXT for c in REJECT_COLUMNS if c != "row"})
    rejects["row"] = rejects["row"].astype(np.int64)
    return rejects


def repeated_ids(name: str, column: str, values: pd.Series, rows: npt.NDArray[np.int64]) -> Repeats:
    """The rows of table `name` whose `column` repeats the value of an earlier row, and the
    reason of each ("duplicate of row N"), from the column as read over the whole table and
    each value's row number: what `validate` rejects as duplicates.
    """
    frame = pd.DataFrame({column: values.reset_index(drop=True), ROW: rows})
    table = _Table(name, frame, True)
    table.unique(column)
    if not table.parts:
        return np.zeros(0, dtype=np.int64), []
    found = pd.concat(table.parts, ignore_index=True)
    return found["row"].to_numpy(dtype=np.int64), found["reason"].astype(str).tolist()


def _require_columns(name: str, frame: pd.DataFrame, origin: str) -> None:
    """Raise InputError naming the table, the missing column(s) and the columns found."""
    found = [str(c) for c in frame.columns if c not in (ROW, LINES)]
    missing = [c for c in REQUIRED_COLUMNS[name] if c not in found]
    if missing and len(found) == 1:  # one column naming them all: another separator
        separator = next((s for s in (";", "\t", "|") if s in found[0]), None)
        if separator is not None:
            shown = {"\t": "a tab"}.get(separator, repr(separator))
            msg = (
                f"{name}: the header row is one column, {found[0]!r}: its values are "
                f"separated by {shown}, not commas; save the table as CSV with commas (in "
                f"Excel: CSV UTF-8). Source: {origin}"
            )
            raise InputError(msg)
    groups = schema.TABLES[name].alternatives  # visits: start + end, or service_date + minutes
    if groups and not any(all(c in found for c in group) for group in groups):
        begun = [group for group in groups if any(c in found for c in group)]
        if begun:
            missing += [c for c in begun[0] if c not in found]
        else:
            pairs = [" and ".join(repr(c) for c in group) for group in groups]
            msg = (
                f"{name}: columns {pairs[0]} (or {' or '.join(pairs[1:])}) are missing. "
                f"Columns found: {found}. Source: {origin}"
            )
            raise InputError(msg)
    if len(missing) == 1:
        msg = f"{name}: column {missing[0]!r} is missing. Columns found: {found}. Source: {origin}"
        raise InputError(msg)
    if missing:
        names = ", ".join(repr(c) for c in missing)
        msg = f"{name}: columns {names} are missing. Columns found: {found}. Source: {origin}"
        raise InputError(msg)


# -- one table under validation -------------------------------------------------------------


T = TypeVar("T")


class _Table:
    """One raw table under validation: parsed columns, rejected rows and their reasons."""

    def __init__(self, name: str, frame: pd.DataFrame, present: bool) -> None:
        self.name = name
        self.present = present
        self.frame = frame.reset_index(drop=True)
        self.n = len(self.frame)
        if ROW in self.frame:
            self.rows = self.frame[ROW].to_numpy(dtype=np.int64)
        else:
            self.rows = np.arange(2, self.n + 2, dtype=np.int64)
        self.bad = np.zeros(self.n, dtype=bool)
        self.parts: list[pd.DataFrame] = []
        declared = schema.TABLES.get(name)
        self._kinds = {c.name: c.kind for c in declared.columns} if declared else {}
        self.swallowed = 0  # lines of the file inside rejected rows, beyond one per row
        self._text: dict[str, pd.Series] = {}
        self.repeats: Repeats | None = None
        self.found: dict[str, npt.NDArray[np.signedinteger[Any]]] = {}
        """Per column checked by `references` that the dataset keeps (`REFERENCES`): the
        catalog's canonical row each row's value names (-1: missing or not found)."""
        self.owned = False  # whether validation holds the only reference to the raw frame
        self._ahead: dict[tuple[str, str], Any] = {}  # (check, column) -> its pure part

    def ahead(self, work: dict[tuple[str, str], Callable[[], Any]]) -> None:
        """Compute the parts of coming checks that read the table and write nothing (parsing,
        looking ids up) at once on threads (`threads.together`); each check then takes its
        part (`_part`) and rejects one after the other, in the order of one thread.
        """
        self._ahead.update(together_by_name(work, self.n))

    def _part(self, check: str, column: str, make: Callable[[], T]) -> T:
        """The pure part of a check: computed `ahead`, else now."""
        key = (check, column)
        if key in self._ahead:
            value: T = self._ahead.pop(key)
            return value
        return make()

    def free(self, *columns: str) -> None:
        """Let columns no check reads again go (when validation owns the raw frame)."""
        if not self.owned:
            return
        for column in columns:
            self._text.pop(column, None)
        gone = [c for c in columns if c in self.frame.columns]
        if gone:
            self.frame = self.frame.drop(columns=gone)

    def line_breaks(self) -> None:
        """Reject a line break in any column but free text (`Column.lines`): in a CSV file it
        is most often an unclosed quote that swallowed the rows below. Such a row counts as
        every line of the file it runs over, in rows read and rows rejected, so the rows it
        swallowed do not disappear from the counts.
        """
        declared = schema.TABLES.get(self.name)
        if declared is None or not self.n:
            return
        spans = self.frame[LINES].to_numpy(dtype=np.int64) if LINES in self.frame else None
        hit = np.zeros(self.n, dtype=bool)
        texts = [
            column.name
            for column in declared.columns
            if not column.lines
            and self.has(column.name)
            and (  # typed numbers and dates hold no line break
                self.frame[column.name].dtype == object
                or pd.api.types.is_string_dtype(self.frame[column.name].dtype)
            )
        ]
        # Each column's text (kept for the checks) and its line breaks, on threads.
        breaks = together([functools.partial(self._line_breaks, c) for c in texts], self.n)
        for name, found in zip(texts, breaks, strict=True):
            if not found.any():
                continue
            reasons = [
                LINE_BREAK + (f" (the row runs over {k} lines of the file)" if k > 1 else "")
                for k in (spans[found] if spans is not None else np.ones(found.sum(), np.int64))
            ]
            self.reject(found, name, reasons, "line_break")
            hit |= found
        if spans is not None and hit.any():
            self.swallowed = int((spans[hit] - 1).sum())

    def _line_breaks(self, column: str) -> npt.NDArray[np.bool_]:
        return _line_break(self.text(column))  # (a key of its own in the text cache)

    def visible(self, column: str) -> None:
        """Reject a value of `column` (a key other tables name) holding a character that
        does not show: a row naming the id as it looks would not find it.
        """
        if not self.has(column):
            return
        names = _invisible(self.text(column))
        found = names != ""
        if found.any():
            reasons = [f"holds an invisible character ({n}): retype it" for n in names[found]]
            self.reject(found, column, reasons, "invisible_character")

    def has(self, column: str) -> bool:
        """Whether the table has this column."""
        return column in self.frame.columns

    def reject(
        self,
        mask: npt.NDArray[np.bool_],
        column: str,
        reason: str | npt.NDArray[np.object_] | list[str],
        code: Code,
    ) -> None:
        """Reject the rows where `mask` holds, for `reason` (one text, or one per masked row).

        `code` is the reject code of them all (declared in `utilization.schema`).
        """
        where = np.flatnonzero(mask)
        if not len(where):
            return
        reasons = [reason] * len(where) if isinstance(reason, str) else list(reason)
        part = pd.DataFrame(
            {
                "table": self.name,
                "row": self.rows[where],
                "column": column,
                "value": self.shown(column, where),
                "reason": reasons,
                "code": code,
            }
        )
        self.parts.append(part)
        self.bad[where] = True

    def shown(self, column: str, where: npt.NDArray[np.intp]) -> list[str]:
        """The raw values of `column` at positions `where`, as text ('' when missing)."""
        if not self.has(column):
            return [""] * len(where)
        column_values = self.frame[column]
        if isinstance(column_values.dtype, np.dtype) and column_values.dtype.kind in "iufb":
            values = column_values.to_numpy()[where].tolist()  # the same Python numbers
        else:
            values = _rows(column_values, where).tolist()
        return ["" if _missing(v) else cell_text(v) for v in values]

    def text(self, column: str) -> pd.Series:
        """The column as stripped text, NaN where missing or empty (all NaN when absent)."""
        if column not in self._text:
            if self.has(column):
                self._text[column] = _as_text(self.frame[column])
            else:
                self._text[column] = pd.Series(np.nan, index=self.frame.index, dtype=TEXT)
        return self._text[column]

    def given(self, column: str) -> npt.NDArray[np.bool_]:
        """True where the column has a value."""
        if not self.has(column):
            return np.zeros(self.n, dtype=bool)
        raw = self.frame[column]
        if raw.dtype == object or isinstance(raw.dtype, pd.StringDtype):
            return self.text(column).notna().to_numpy()
        return raw.notna().to_numpy()

    def _typed_time(self, column: str) -> pd.Series | None:
        """The raw column when it holds typed date-times (Parquet, SQL), else None."""
        if self.has(column) and pd.api.types.is_datetime64_any_dtype(self.frame[column].dtype):
            return self.frame[column]
        return None

    def required(self, column: str) -> pd.Series:
        """The column as text, rejecting rows where it is missing."""
        values = self.text(column)
        self.reject(values.isna().to_numpy(), column, MISSING, "missing")
        return values

    def whole_numbers(self, column: str) -> npt.NDArray[np.integer[Any]] | None:
        """The raw column when it holds typed whole numbers (Parquet, SQL), else None.

        Such a column has no missing value and one text per number, so ids can be compared
        as numbers: the same answers as their text, without hashing millions of strings.
        """
        raw = self.frame[column] if self.has(column) else None
        if raw is not None and isinstance(raw.dtype, np.dtype) and raw.dtype.kind in "iu":
            values: npt.NDArray[np.integer[Any]] = raw.to_numpy()
            return values
        return None

    def unique(self, column: str) -> None:
        """Reject every repeat of a value of `column` as a duplicate of its first row."""
        if self.repeats is not None:  # found over the whole table, of which this is a part
            rows, reasons = self.repeats
            mine = np.isin(self.rows, rows)
            if mine.any():
                order = np.argsort(rows, kind="stable")
                at = order[np.searchsorted(rows[order], self.rows[mine])]
                self.reject(mine, column, [reasons[i] for i in at.tolist()], "duplicate")
            return
        numbers = self.whole_numbers(column)
        if numbers is not None:
            if not (numbers[1:] > numbers[:-1]).all():  # ids in rising order repeat none
                self._unique_numbers(column, numbers)
            return
        if _rising(self.text(column)):
            return
        codes, distinct = pd.factorize(self.text(column))  # missing: -1
        present = codes >= 0
        if len(distinct) == int(present.sum()):
            return
        repeat = present & pd.Series(codes).duplicated(keep="first").to_numpy()
        first = present & ~repeat
        first_row = np.empty(len(distinct), dtype=np.int64)
        first_row[codes[first]] = self.rows[first]
        rows = first_row[codes[repeat]]
        self.reject(repeat, column, [f"duplicate of row {r}" for r in rows], "duplicate")

    def _unique_numbers(self, column: str, values: npt.NDArray[np.integer[Any]]) -> None:
        """`unique` for a column of whole numbers, by a stable sort (fast on sorted ids) of
        the rows whose value repeats, found by counting each value when the ids are dense.
        """
        rows: IntArray | None = None  # the rows sorted: all of them
        low, high = int(values.min()), int(values.max())
        if high - low <= 4 * len(values) + 1024:
            places = (values - low).astype(np.intp)
            counts = np.bincount(places, minlength=high - low + 1)
            rows = np.flatnonzero(counts[places] > 1)  # rows whose value repeats
            del places
            del counts
            if not len(rows):
                return
            values = values[rows]
        order = np.argsort(values, kind="stable")
        ranked = values[order]
        same = ranked[1:] == ranked[:-1]
        if not same.any():
            return
        starts = np.flatnonzero(np.r_[True, ~same])  # first of each run of one value
        run = np.cumsum(np.r_[True, ~same]) - 1
        later = np.flatnonzero(np.r_[False, same])
        position, first = order[later], order[starts[run[later]]]
        if rows is not None:  # back to the table's rows (rising: the same order)
            position, first = rows[position], rows[first]
        by_position = np.argsort(position)
        position, first = position[by_position], first[by_position]
        repeat = np.zeros(self.n, dtype=bool)
        repeat[position] = True
        duplicates = [f"duplicate of row {r}" for r in self.rows[first]]
        self.reject(repeat, column, duplicates, "duplicate")

    def number(
        self, column: str, *, required: bool = False, negative: bool = False, whole: str = ""
    ) -> npt.NDArray[np.float64]:
        """The column as floats (NaN where missing or rejected).

        Rejects text that is not a number, negative values unless `negative`, and values
        that are not whole numbers when `whole` (the reason) is given.
        """
        values, given, ok = self._part(
            "number", column, functools.partial(self.parsed_numbers, column)
        )
        if required:
            self.reject(~given, column, MISSING, "missing")
        self.reject(given & ~ok, column, NOT_A_NUMBER, "not_a_number")
        values = np.where(ok, values, np.nan)
        if not negative:
            below = ok & (values < 0)
            self.reject(below, column, NEGATIVE, "negative")
            values = np.where(below, np.nan, values)
        if whole:
            fraction = ok & ~np.isnan(values) & (values != np.floor(values))
            self.reject(fraction, column, whole, "not_whole")
            values = np.where(fraction, np.nan, values)
        return self._bounded(column, values)

    def parsed_numbers(
        self, column: str
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """What `number` parses (`_numbers`), to compute `ahead`."""
        raw = self.frame[column] if self.has(column) else None
        typed = raw is not None and pd.api.types.is_numeric_dtype(raw.dtype)
        text = self.text(column) if raw is not None and not typed else None  # cached
        return _numbers(raw, self.n, text)

    def flag(self, column: str) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """The column as booleans and where it was given; rejects values that are not a flag."""
        if not self.has(column):
            return np.zeros(self.n, dtype=bool), np.zeros(self.n, dtype=bool)
        raw = self.frame[column]
        if pd.api.types.is_bool_dtype(raw.dtype):
            given = raw.notna().to_numpy()
            return raw.fillna(False).to_numpy(dtype=bool), given
        words = self.text(column).str.lower()
        given = words.notna().to_numpy()
        true = is_among(words, TRUE_WORDS)
        false = is_among(words, FALSE_WORDS)
        self.reject(given & ~true & ~false, column, NOT_A_FLAG, "not_a_flag")
        return true, given & (true | false)

    def date(self, column: str, settings: Settings, *, required: bool) -> npt.NDArray[np.int64]:
        """The column as local calendar dates (microseconds since 1970, NaT where not usable)."""
        values, given, ok = self._part(
            "date", column, functools.partial(self.parsed_dates, column, settings)
        )
        if required:
            self.reject(~given, column, MISSING, "missing")
        self.reject(given & ~ok, column, NOT_A_DATE, "not_a_date")
        return self._within_dates(column, values, values)

    def parsed_dates(
        self, column: str, settings: Settings
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """What `date` parses (`_dates`), to compute `ahead`."""
        typed = self._typed_time(column)
        text = self.text(column) if typed is None else None
        return _dates(typed, text, settings.timezone, self.n)

    def instant(
        self, column: str, settings: Settings
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The column as UTC instants and as local wall-clock times (microseconds since 1970).

        Both are NAT where the value is missing or rejected; the local time is also NAT
        where the value carried its own offset (compute it from the instant there).
        """
        parsed = self._part(
            "instant", column, functools.partial(self.parsed_instants, column, settings)
        )
        return self._checked(column, settings, *parsed)

    def parsed_instants(self, column: str, settings: Settings) -> _Parsed:
        """What `instant` parses (`_instants`), to compute `ahead`."""
        typed = self._typed_time(column)
        text = self.text(column) if typed is None else None  # (a key of its own in the cache)
        return _instants(typed, text, settings.timezone, self.n)

    def _checked(
        self,
        column: str,
        settings: Settings,
        values: npt.NDArray[np.int64],
        given: npt.NDArray[np.bool_],
        parsed: npt.NDArray[np.bool_],
        naive: npt.NDArray[np.int64],
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        self.reject(given & ~parsed, column, NOT_A_DATETIME, "not_a_datetime")
        checked = np.where(naive != NAT, naive, values)  # the local time, else the instant
        values = self._within_dates(column, values, checked)
        parsed &= (checked == NAT) | ((checked >= FIRST_DAY) & (checked < AFTER_LAST_DAY))
        gap = parsed & (values == NAT)
        if gap.any():
            where = np.flatnonzero(gap)
            reasons = [
                f"this local time does not exist on {pd.Timestamp(d).date()} in "
                f"{settings.timezone}: clocks spring forward that day (correct the time "
                "or give its UTC offset)"
                for d in naive[where].view(DATE)
            ]
            self.reject(gap, column, reasons, "nonexistent_local_time")
        return values, np.where(values != NAT, naive, NAT)

    def _within_dates(
        self, column: str, values: npt.NDArray[np.int64], checked: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """`values` with NAT where `checked` (microseconds) is outside the bound of dates
        (1900-01-01 to 2199-12-31, data contract §2); those rows rejected as out of range.
        """
        known = checked != NAT
        early = known & (checked < FIRST_DAY)
        late = known & (checked >= AFTER_LAST_DAY)
        if not (early.any() or late.any()):
            return values
        self.reject(early, column, f"out of range: before {DATES.low}", "out_of_range")
        self.reject(late, column, f"out of range: after {DATES.high}", "out_of_range")
        return np.where(early | late, NAT, values)

    def _bounded(self, column: str, values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """`values` with NaN where beyond the bound of the column's kind (data contract §2),
        those rows rejected as out of range.
        """
        kind = self._kinds.get(column)
        limit = schema.bound(kind) if kind else None
        if limit is None or not isinstance(limit.high, int | float):
            return values
        low, high = float(limit.low), float(limit.high)
        known = ~np.isnan(values)
        above = known & (values > high)
        below = known & (values < low)
        if not (above.any() or below.any()):
            return values
        self.reject(
            above, column, "out of range: more than " + _amount(kind, limit.high), "out_of_range"
        )
        self.reject(
            below, column, "out of range: less than " + _amount(kind, limit.low), "out_of_range"
        )
        return np.where(above | below, np.nan, values)

    def looked_up(
        self, column: str, catalog: _Catalog
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]] | None:
        """What `references` looks up: the accepted catalog row of each value (-1: none) and
        where a value given is not one; None when there is nothing to look up.
        """
        if not catalog.present or not self.given(column).any():
            return None
        mine = self.whole_numbers(column)
        ids = catalog.table.whole_numbers(catalog.key)
        if mine is not None and ids is not None:  # ids typed as numbers on both sides
            found = _number_positions(mine, ids[~catalog.table.bad])
            return found, found < 0
        values = self.text(column)
        found = _index_in(values, catalog.accepted)  # the accepted rows, in order
        return found, (found < 0) & values.notna().to_numpy()

    def references(self, column: str, catalog: _Catalog) -> None:
        """Reject rows whose `column` value is not an accepted row of `catalog`."""
        looked_up = self._part(
            "references", column, functools.partial(self.looked_up, column, catalog)
        )
        if looked_up is None:
            return
        found, unknown = looked_up
        if (self.name, column) in REFERENCES:  # int32 while checking: half the memory
            small = len(catalog.table.bad) < 2**31
            self.found[column] = found.astype(np.int32) if small else found
        if not unknown.any():
            return
        values = self.text(column)
        rows = catalog.rejected_rows(values[unknown])
        name = catalog.table.name
        where = np.flatnonzero(unknown)
        absent, rejected = np.zeros(self.n, dtype=bool), np.zeros(self.n, dtype=bool)
        absent[where[np.isnan(rows)]] = True
        rejected[where[~np.isnan(rows)]] = True
        hidden = _invisible(values[absent])  # what the eye cannot see in the id
        self.reject(
            absent,
            column,
            [
                f"not found in {name}" + (f" (it holds an invisible character, {n})" if n else "")
                for n in hidden
            ],
            "unknown_reference",
        )
        reasons = [
            f"found in {name}, but that row (row {int(r)}) was rejected"
            for r in rows[~np.isnan(rows)]
        ]
        self.reject(rejected, column, reasons, "rejected_reference")


NAT = np.iinfo(np.int64).min
"""Missing instant or date, as the int64 microsecond count numpy uses for NaT."""
DATES = schema.bound_of("date")
_MINUTES = schema.bound_of("minutes")
FIRST_DAY = int(np.datetime64(str(DATES.low), "us").astype(np.int64))
AFTER_LAST_DAY = int(
    (np.datetime64(str(DATES.high), "us") + np.timedelta64(1, "D")).astype(np.int64)
)
"""The bound of dates and date-times (data contract §2), as microseconds since 1970."""


def _amount(kind: str | None, value: float | str) -> str:
    """A bound as the reason shows it: `1,000,000 units`, `$1,000,000`, `-$1,000,000`."""
    number = float(value)
    if kind == "money":
        return f"{'-' if number < 0 else ''}${abs(number):,.0f}"
    return f"{number:,.0f} {kind}"


@dataclass
class _Catalog:
    """The ids a validated table accepted; the first row of each id it rejected outright."""

    table: _Table

    @property
    def present(self) -> bool:
        """Whether the source has this table at all."""
        return self.table.present

    @property
    def key(self) -> str:
        """The name of the id column (the table's key in the schema)."""
        key = schema.TABLES[self.table.name].key
        if key is None:
            msg = f"internal error: table {self.table.name!r} has no key to refer to"
            raise AssertionError(msg)
        return key

    @property
    def ids(self) -> pd.Series:
        """The id column as text."""
        return self.table.text(self.key)

    @property
    def accepted(self) -> pd.Index:
        """The accepted ids; unique, since repeats of an id are rejected as duplicates."""
        accepted: pd.Index = pd.Index(self.ids[~self.table.bad].dropna(), dtype=TEXT)
        return accepted

    def rejected_rows(self, ids: pd.Series) -> npt.NDArray[np.float64]:
        """For ids not accepted: the first row that gave the id and was rejected, else NaN;
        ids compared as they show (`C0003` finds a row rejected for its `\\ufeffC0003`).
        """
        t = self.table
        lost = t.bad & self.ids.notna().to_numpy()
        rows = pd.Series(t.rows[lost], index=pd.Index(_shown(self.ids[lost]), dtype=TEXT))
        rows = rows[~rows.index.duplicated(keep="first")]
        return rows.reindex(pd.Index(_shown(ids), dtype=TEXT)).to_numpy(dtype=np.float64)


# -- the tables -----------------------------------------------------------------------------


def _clients(t: _Table) -> pd.DataFrame:
    """Clients; grain: one row per client. Status is lower-cased, not checked."""
    t.required("client_id")
    t.visible("client_id")
    t.unique("client_id")
    t.required("client_name")
    return _frame(
        t,
        {
            "client_id": t.text("client_id"),
            "client_name": t.text("client_name"),
            "medicaid_id": t.text("medicaid_id"),
            "case_manager": t.text("case_manager"),
            "status": t.text("status").str.lower(),
        },
    )


def _named(t: _Table, key: str, name: str) -> pd.DataFrame:
    """Payers or providers; grain: one row per payer / provider."""
    t.required(key)
    t.visible(key)
    t.unique(key)
    t.required(name)
    return _frame(t, {key: t.text(key), name: t.text(name)})


def _procedures(t: _Table, settings: Settings) -> pd.DataFrame:
    """Procedures; grain: one row per procedure code.

    `unit_minutes` defaults to the agency's unit length and must be a whole number of 0 or
    more; `rounding` defaults to the agency's rule and is `per_visit` where unit_minutes = 0;
    `billable` defaults to true; `rate` may be missing (NaN).
    """
    t.required("procedure_code")
    t.visible("procedure_code")
    t.unique("procedure_code")
    t.required("description")
    minutes = t.number("unit_minutes", whole="not a whole number of minutes")
    minutes = np.where(np.isnan(minutes), settings.unit_minutes, minutes).astype(np.int64)
    rate = t.number("rate")
    rule = t.text("rounding").str.lower()
    unknown = (rule.notna() & ~is_among(rule, RULES)).to_numpy()
    rules = ", ".join(RULES)
    t.reject(
        unknown, "rounding", f"unknown rounding rule; use one of {rules}", "unknown_rounding_rule"
    )
    rule = rule.fillna(settings.rounding).where(minutes != 0, PER_VISIT)
    billable, given = t.flag("billable")
    billable = np.where(given, billable, True)
    return _frame(
        t,
        {
            "procedure_code": t.text("procedure_code"),
            "description": t.text("description"),
            "unit_minutes": minutes,
            "rate": rate,
            "rounding": rule,
            "billable": billable,
        },
    )


def _authorizations(
    t: _Table, catalogs: dict[str, _Catalog], procedures: pd.DataFrame, settings: Settings
) -> pd.DataFrame:
    """Authorizations; grain: one row per authorization.

    Dates are inclusive; `days` = end_date - start_date + 1. `units_approved` must be a whole
    number of 0 or more. `rate` defaults to the procedure's rate. Status is lower-cased.
    The limits `units_per_day`, `units_per_week`, `units_per_month` (data contract §10) are
    whole numbers of 0 or more, NaN when empty (no limit).
    """
    t.required("authorization_id")
    t.unique("authorization_id")
    t.required("client_id")
    t.references("client_id", catalogs["clients"])
    t.required("procedure_code")
    t.references("procedure_code", catalogs["procedures"])
    start = t.date("start_date", settings, required=True)
    end = t.date("end_date", settings, required=True)
    both = (start != NAT) & (end != NAT)
    t.reject(both & (end < start), "end_date", "end_date is before start_date", "end_before_start")
    units = t.number("units_approved", required=True, whole="not a whole number of units")
    t.references("payer_id", catalogs["payers"])
    rate = t.number("rate")
    fallback = np.full(t.n, np.nan)
    known = is_among(t.text("procedure_code"), procedures["procedure_code"])
    if known.any():
        codes = t.text("procedure_code")[known]
        fallback[known] = _lookup(procedures, "procedure_code", codes, ["rate"])["rate"]
    rate = np.where(np.isnan(rate), fallback, rate)
    days = np.where(both, (end - start) // _US_PER_DAY + 1, 0)
    limits = {
        column: t.number(column, whole="not a whole number of units")
        for column in ("units_per_day", "units_per_week", "units_per_month")
    }
    return _frame(
        t,
        {
            "authorization_id": t.text("authorization_id"),
            "client_id": t.text("client_id"),
            "procedure_code": t.text("procedure_code"),
            "start_date": start.view(DATE),
            "end_date": end.view(DATE),
            "units_approved": units,
            "payer_id": t.text("payer_id"),
            "rate": rate,
            "status": t.text("status").str.lower(),
            "days": days.astype(np.int64),
            **limits,
        },
    )


def _visits(
    t: _Table, catalogs: dict[str, _Catalog], procedures: pd.DataFrame, settings: Settings
) -> pd.DataFrame:
    """Visits; grain: one row per visit.

    A visit gives `start` and `end` (date-times), or `service_date` and `minutes`:

    - `minutes` is the real elapsed time from start to end in whole minutes, rounded down
      (floor of elapsed seconds / 60), so a visit across a daylight-saving change is
      measured correctly; `service_date` is the local date of the start, so a visit past
      midnight belongs to the day it started. A row giving both forms must agree.
    - `start`/`end` are NaT for visits given as service_date + minutes.
    - `order` is the visit's 0-based position in time order: start, then visit_id; a visit
      given as service_date + minutes counts as starting at local midnight of its date.
    - `units` follow the procedure's unit length and rounding rule; `units_recorded` is the
      optional `units` column (what staff recorded). `billable` defaults to the procedure's.
    - `status` is completed (default), scheduled or cancelled, in any case; the US
      spelling `canceled` is read as cancelled.
    - `long_visit` flags a visit longer than the `long_visit_hours` setting (not rejected).
    """
    references = {
        "client_id": "clients",
        "procedure_code": "procedures",
        "provider_id": "providers",
        "payer_id": "payers",
    }
    t.ahead(
        {
            **{
                ("instant", c): functools.partial(t.parsed_instants, c, settings)
                for c in ("start", "end")
            },
            ("date", "service_date"): functools.partial(t.parsed_dates, "service_date", settings),
            ("number", "minutes"): functools.partial(t.parsed_numbers, "minutes"),
            **{
                ("references", c): functools.partial(t.looked_up, c, catalogs[table])
                for c, table in references.items()
            },
        }
    )
    t.required("visit_id")
    t.unique("visit_id")
    t.required("client_id")
    t.references("client_id", catalogs["clients"])
    t.required("procedure_code")
    t.references("procedure_code", catalogs["procedures"])
    t.references("provider_id", catalogs["providers"])
    t.references("payer_id", catalogs["payers"])

    start, start_local = t.instant("start", settings)
    end = t.instant("end", settings)[0]
    day = t.date("service_date", settings, required=False)
    given_minutes = t.number("minutes", whole="not a whole number of minutes")
    has_start, has_end = t.given("start"), t.given("end")
    has_day, has_minutes = t.given("service_date"), t.given("minutes")
    half: Code = "incomplete_times"
    t.reject(has_start & ~has_end, "end", f"{MISSING} (start is given)", half)
    t.reject(has_end & ~has_start, "start", f"{MISSING} (end is given)", half)
    timed = has_start & has_end
    dated = ~timed & ~has_start & ~has_end
    t.reject(dated & has_day & ~has_minutes, "minutes", f"{MISSING} (service_date is given)", half)
    t.reject(dated & has_minutes & ~has_day, "service_date", f"{MISSING} (minutes is given)", half)
    if t.has("start") and t.has("service_date"):
        reason = f"{MISSING}: give start and end, or service_date and minutes"
    else:
        reason = MISSING
    first = "start" if t.has("start") else "service_date"
    t.reject(dated & ~has_day & ~has_minutes, first, reason, "missing")

    both = timed & (start != NAT) & (end != NAT)
    elapsed = end - start  # in place from here on: arrays of millions of visits
    elapsed[~both] = 0
    t.reject(both & (elapsed < 0), "end", "end is before start", "end_before_start")
    computed = elapsed // _US_PER_MINUTE
    computed[elapsed < 0] = 0
    longest = _MINUTES.high
    too_long = both & (computed > float(longest))
    after = f"out of range: more than {_amount('minutes', longest)} after start"
    t.reject(too_long, "end", after, "out_of_range")
    t.free("start", "end")  # no check reads their text again
    local_day = start_local // _US_PER_DAY
    local_day *= _US_PER_DAY
    local_day[start_local == NAT] = NAT
    offset_given = (start != NAT) & (start_local == NAT)
    if offset_given.any():
        local_day[offset_given] = _local_dates(start[offset_given], settings.timezone)
    wrong_day = both & (day != NAT) & (local_day != day)
    if wrong_day.any():
        shown = [str(pd.Timestamp(d).date()) for d in local_day[wrong_day].view(DATE)]
        reasons = [f"not the local date of start ({d})" for d in shown]
        t.reject(wrong_day, "service_date", reasons, "service_date_mismatch")
    wrong_minutes = both & (elapsed >= 0) & ~np.isnan(given_minutes)
    wrong_minutes &= computed != np.nan_to_num(given_minutes, nan=-1)
    if wrong_minutes.any():
        t.reject(
            wrong_minutes,
            "minutes",
            [f"does not match start to end ({m} minutes)" for m in computed[wrong_minutes]],
            "minutes_mismatch",
        )
    del start_local, elapsed, both, too_long, offset_given, wrong_day, wrong_minutes
    t.free("service_date", "minutes")

    status = _lower(t.text("status"))
    if _holds(status, "canceled"):
        status = status.replace("canceled", "cancelled")
    unknown = (status.notna() & ~is_among(status, STATUSES)).to_numpy()
    t.reject(unknown, "status", f"unknown status; use {', '.join(STATUSES)}", "unknown_status")
    billable, billable_given = t.flag("billable")
    recorded = t.number("units", whole="not a whole number of units (units are whole numbers)")
    amount = t.number("amount_billed")
    t.free("status", "billable", "units", "amount_billed")

    keep = ~t.bad
    kept: npt.NDArray[np.bool_] | slice = slice(None) if keep.all() else keep  # no copies
    codes = _kept(t.text("procedure_code"), keep)
    if "procedure_code" in t.found:  # the procedures' rows, found checking the references
        at = t.found["procedure_code"][kept]
        procedure = {"position": at, "billable": procedures["billable"].to_numpy()[at]}
    else:
        procedure = _lookup(procedures, "procedure_code", codes, ["position", "billable"])
    minutes = np.where(timed, computed, np.nan_to_num(given_minutes))[kept].astype(np.int64)
    del computed, given_minutes
    day = np.where(timed, local_day, day)[kept]
    del local_day
    start, end = start[kept], end[kept]
    key = order_keys(start, day, settings.timezone)
    ids = _kept(t.text("visit_id"), keep)
    numbers = t.whole_numbers("visit_id")

    def ranking(key: IntArray) -> IntArray:
        """Each visit's position in time order."""
        if numbers is not None and _text_ordered(numbers[kept]):  # ids as numbers, in order
            ranked = np.lexsort((numbers[kept], key))
        else:
            ranked = time_order(key, ids)
        order = np.empty(len(ranked), dtype=np.int64)
        order[ranked] = np.arange(len(ranked), dtype=np.int64)
        return order

    position = np.asarray(procedure["position"], dtype=np.int64)
    texts = ["client_id", "provider_id", "payer_id", "case_type"]
    work: list[Callable[[], Any]] = [
        functools.partial(ranking, key),
        lambda: _units(minutes, position, procedures),
        *(functools.partial(_kept, t.text(c), keep) for c in texts),
    ]
    order, units, *kept_texts = together(work, len(minutes))  # at once, on threads
    del key, work
    starts = pd.DatetimeIndex(start.view(DATE), tz="UTC")  # a copy: the array goes
    del start
    ends = pd.DatetimeIndex(end.view(DATE), tz="UTC")
    del end
    text = dict(zip(texts, kept_texts, strict=True))
    columns: dict[str, Any] = {
        "visit_id": ids,
        "client_id": text["client_id"],
        "procedure_code": codes,
        "service_date": day.view(DATE),
        "start": starts,
        "end": ends,
        "minutes": minutes,
        "provider_id": text["provider_id"],
        "payer_id": text["payer_id"],
        "case_type": text["case_type"],
        "billable": np.where(
            billable_given[kept], billable[kept], procedure["billable"].astype(bool)
        ),
        "status": _kept(status, keep).fillna("completed"),
        "units_recorded": recorded[kept],
        "amount_billed": amount[kept],
        "units": units,
        "long_visit": minutes > settings.long_visit_hours * 60,
        "order": order,
    }
    return _canonical("visits", columns, int(keep.sum()))


def _payments(t: _Table, visits: _Catalog, settings: Settings) -> pd.DataFrame:
    """Payments; grain: one row per payment line.

    Unlike other amounts, `insurance_paid` and `patient_paid` may be negative: remittances
    carry reversals and recoupments, which are legitimate. `patient_paid` defaults to 0.
    `denied` (default false) and `adjustment_reason_codes` (e.g. `CO-45;PR-2`) are written
    by `utilization import-835` for the service code usage report.
    """
    t.required("visit_id")
    t.references("visit_id", visits)
    insurance = t.number("insurance_paid", required=True, negative=True)
    patient = t.number("patient_paid", negative=True)
    paid = t.date("paid_date", settings, required=False)
    denied, _ = t.flag("denied")
    return _frame(
        t,
        {
            "visit_id": t.text("visit_id"),
            "insurance_paid": insurance,
            "patient_paid": np.where(t.given("patient_paid"), patient, 0.0),
            "paid_date": paid.view(DATE),
            "denied": denied,
            "adjustment_reason_codes": t.text("adjustment_reason_codes"),
        },
    )


def _lower(text: pd.Series) -> pd.Series:
    """Text in lower case: the column itself when no value has a letter to lower."""
    lowered = pc.utf8_is_lower(pa.array(text.array))
    if pc.all(pc.fill_null(lowered, True)).as_py() is not False:
        return text
    return text.str.lower()


def _holds(text: pd.Series, value: str) -> bool:
    """Whether some value of a text column is `value`."""
    return bool(pc.any(pc.equal(pa.array(text.array), value)).as_py())


def _kept(text: pd.Series, keep: npt.NDArray[np.bool_]) -> pd.Series:
    """A text column at the rows kept: the column itself when every row is kept, its runs of
    kept rows side by side (no copy) when there are few, else filtered by Arrow.
    """
    if keep.all():
        return text.reset_index(drop=True)
    array = pa.array(text.array)
    edges = np.flatnonzero(np.diff(np.r_[False, keep, False]))  # starts and ends of runs
    if len(edges) <= 2 * _RUNS:
        chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
        whole = pa.chunked_array(chunks, type=array.type)
        runs = [whole.slice(lo, hi - lo) for lo, hi in zip(edges[::2], edges[1::2], strict=True)]
        taken = pa.chunked_array([c for run in runs for c in run.chunks], type=array.type)
    else:
        taken = pc.filter(array, pa.array(keep))
    return pd.Series(pd.array(taken, dtype=TEXT), copy=False)


_RUNS = 64  # runs of kept rows taken as slices of the column, at most


def _frame(t: _Table, columns: dict[str, Any]) -> pd.DataFrame:
    """The canonical frame of `t` from full-length columns, keeping accepted rows only."""
    keep = ~t.bad
    kept = {
        name: (
            _kept(values, keep)
            if isinstance(values, pd.Series) and values.dtype == TEXT
            else values[keep]
            if isinstance(values, pd.Series)
            else np.asarray(values)[keep]
        )
        for name, values in columns.items()
    }
    return _canonical(t.name, kept, int(keep.sum()))


def _canonical(name: str, columns: dict[str, Any], n: int) -> pd.DataFrame:
    """A frame of the canonical columns of table `name`, text columns as `str`, index 0..n-1."""
    # No copies: the arrays are this frame's own (pandas would copy each and then stack
    # the columns of one dtype into a block, twice the memory of millions of visits).
    series = {
        column: values.reset_index(drop=True)
        if isinstance(values, pd.Series)
        else pd.Series(values, copy=False)
        for column, values in columns.items()
    }
    frame = pd.DataFrame(series, index=pd.RangeIndex(n), copy=False)
    text = [c for c in frame.columns if frame[c].dtype == object or frame[c].dtype == TEXT]
    if text:
        frame = frame.astype(dict.fromkeys(text, TEXT))
    return frame[COLUMNS[name]]


def _lookup(
    catalog: pd.DataFrame, key: str, values: pd.Series, columns: list[str]
) -> dict[str, npt.NDArray[np.generic]]:
    """The `columns` of the catalog row whose `key` equals each value (all values must match).

    Column `position` is the catalog row's position.
    """
    position = _index_in(values, catalog[key])
    if (position < 0).any():
        msg = f"internal error: {key} values not in the catalog"
        raise AssertionError(msg)
    return {c: position if c == "position" else catalog[c].to_numpy()[position] for c in columns}


def _units(
    minutes: npt.NDArray[np.int64], position: npt.NDArray[np.int64], procedures: pd.DataFrame
) -> npt.NDArray[np.int64]:
    """Units of each visit by the rule and unit length of its procedure (row `position`).

    Rounded once per distinct (unit length, rule) of the catalog, not rule name by visit.
    """
    unit_minutes = procedures["unit_minutes"].to_numpy(dtype=np.int64)
    rules = procedures["rounding"].astype(object).to_numpy()
    kinds, kind_of_procedure = np.unique(
        np.array([f"{m}\x1f{r}" for m, r in zip(unit_minutes, rules, strict=True)], dtype=object),
        return_inverse=True,
    )
    if len(kinds) == 1:
        return units_array(minutes, unit_minutes[0], rules[0])
    kind = kind_of_procedure.reshape(-1).astype(np.int32)[position]
    units = np.zeros(len(minutes), dtype=np.int64)
    for k in range(len(kinds)):
        chosen = kind == k
        if chosen.any():
            first = int(np.flatnonzero(kind_of_procedure.reshape(-1) == k)[0])
            units[chosen] = units_array(minutes[chosen], unit_minutes[first], rules[first])
    return units


# -- parsing --------------------------------------------------------------------------------


def _index_in(values: pd.Series, catalog: pd.Series | pd.Index) -> npt.NDArray[np.int64]:
    """The position in `catalog` of each text value (-1 where absent), computed by Arrow."""
    array = pa.array(values.astype(TEXT).array)
    pool = pa.array(catalog.astype(TEXT).array).cast(array.type)
    found = pc.fill_null(pc.index_in(array, value_set=pool, skip_nulls=True), -1)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


def _number_positions(
    values: npt.NDArray[np.integer[Any]], ids: npt.NDArray[np.integer[Any]]
) -> IntArray:
    """The position in `ids` (whole numbers, each once) of each value, -1 where absent: by a
    table over the span of the ids when they are dense, as they usually are, else by hash.
    """
    if not len(ids) or not len(values):
        return np.full(len(values), -1, dtype=np.int64)
    low, high = int(ids.min()), int(ids.max())
    wide = any(a.dtype == np.uint64 for a in (ids, values))  # beyond int64 arithmetic
    if wide or high - low > 4 * len(ids) + 1024:  # sparse ids: a hash table of them
        return np.asarray(pd.Index(ids).get_indexer(values), dtype=np.int64)
    table = np.full(high - low + 1, -1, dtype=np.int64)
    table[ids - low] = np.arange(len(ids), dtype=np.int64)
    inside = (values >= low) & (values <= high)
    found = np.full(len(values), -1, dtype=np.int64)
    found[inside] = table[values[inside] - low]
    return found


def _rising(text: pd.Series) -> bool:
    """Whether every value of a text column is given and greater than the one before (so no
    value repeats): one comparison per neighbour, by Arrow (byte order).
    """
    array = pa.array(text.array)
    if array.null_count:
        return False
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    previous = None
    for chunk in (c for c in chunks if len(c)):
        if previous is not None and not previous < chunk[0].as_py():
            return False
        if len(chunk) > 1 and not pc.all(pc.greater(chunk[1:], chunk[:-1])).as_py():
            return False
        previous = chunk[-1].as_py()
    return True


def _text_ordered(numbers: npt.NDArray[np.integer[Any]]) -> bool:
    """Whether whole numbers sort as their text does: none negative, all of as many digits."""
    if not len(numbers):
        return True
    low, high = int(numbers.min()), int(numbers.max())
    return low >= 0 and len(str(low)) == len(str(high))


def _rows(values: pd.Series, where: npt.NDArray[np.intp]) -> pd.Series:
    """`values.iloc[where]` (positions in rising order), for a column of several Arrow
    chunks taken chunk by chunk: Arrow's take of a chunked array first joins the chunks,
    a copy of millions of values to take a few.
    """
    array = values.array
    chunked = getattr(array, "_pa_array", None)
    if (
        not isinstance(chunked, pa.ChunkedArray)
        or chunked.num_chunks < 2
        or (len(where) > 1 and not (np.diff(where) > 0).all())
    ):
        return values.iloc[where]
    ends = np.cumsum([len(c) for c in chunked.chunks])
    chunk_of = np.searchsorted(ends, where, side="right")
    starts = ends - np.array([len(c) for c in chunked.chunks])
    parts = [
        chunked.chunk(int(c)).take(pa.array(where[chunk_of == c] - starts[c]))
        for c in np.unique(chunk_of)
    ]
    taken = pa.chunked_array(parts, type=chunked.type)
    taken_values: Any = pd.array(taken, dtype=values.dtype)
    return pd.Series(taken_values, index=values.index[where], name=values.name, copy=False)


def _missing(value: Any) -> bool:
    """Whether one cell is missing (None, NaN, NaT, NA)."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def as_text(values: pd.Series) -> pd.Series:
    """Any column as validation reads its text: stripped, NaN where missing or empty (typed
    values written as a spreadsheet shows them).
    """
    return _as_text(values)


def _as_text(values: pd.Series) -> pd.Series:
    """Any column as stripped text (`str` dtype), NaN where missing or empty.

    Typed columns (Parquet, SQL) are written as a spreadsheet would show them: whole floats
    without `.0`, booleans as true/false, date-times in ISO form.
    """
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype):
        text = values.astype(TEXT)
    elif pd.api.types.is_bool_dtype(dtype):
        text = values.map({True: "true", False: "false"}).astype(TEXT)
    elif pd.api.types.is_integer_dtype(dtype):  # Arrow writes whole numbers as Python does
        digits = pc.cast(pa.array(values.array), pa.large_string())
        return pd.Series(pd.array(digits, dtype=TEXT), index=values.index, copy=False)  # tidy
    elif pd.api.types.is_float_dtype(dtype):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        whole = np.isfinite(numbers) & (numbers == np.round(numbers))
        text = values.astype(TEXT)
        if whole.any():
            integers = pd.Series(np.where(whole, numbers, 0).astype(np.int64), index=values.index)
            text = text.mask(whole, integers.astype(TEXT))
    else:
        text = pd.Series(
            [np.nan if _missing(v) else cell_text(v) for v in values.tolist()],
            index=values.index,
            dtype=TEXT,
        )
    need = _tidying(text)
    if not need:  # the usual case: no copy of millions of values
        return text
    if need == "empty":  # only empty values: missing, the text itself not copied
        return _blank_to_missing(text)
    text = text.str.strip()
    result: pd.Series = text.where(text != "")
    return result


def _line_break(text: pd.Series) -> npt.NDArray[np.bool_]:
    """Where text values hold a line break (LF or CR), computed by Arrow."""
    array = pa.array(text.astype(TEXT).array)
    if not may_hold_line_breaks(array):
        return np.zeros(len(text), dtype=bool)
    found = pc.or_(pc.match_substring(array, "\n"), pc.match_substring(array, "\r"))
    return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)


_INVISIBLE = r"[\p{Cf}\x00-\x09\x0B\x0C\x0E-\x1F\x7F-\x9F]"
"""Characters that do not show: Unicode format characters (zero-width space, byte-order
mark, direction marks) and control characters but line breaks (`line_break` rejects those)."""


def _invisible(text: pd.Series) -> npt.NDArray[np.object_]:
    """For each text value, its first character that does not show, as `U+200B ZERO WIDTH
    SPACE`, else "": found by Arrow, named one value at a time for those that have one.
    """
    out = np.full(len(text), "", dtype=object)
    if not len(text):
        return out
    array = pa.array(text.astype(TEXT).array)
    hit = pc.fill_null(pc.match_substring_regex(array, _INVISIBLE), False)
    rows = np.flatnonzero(np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool))
    for row in rows.tolist():
        value = str(text.iloc[row])
        char = next(
            (c for c in value if unicodedata.category(c) in ("Cf", "Cc") and c not in "\r\n"),
            "",
        )
        if char:
            out[row] = f"U+{ord(char):04X} {unicodedata.name(char, 'CONTROL CHARACTER')}"
    return out


def _shown(text: pd.Series) -> pd.Series:
    """Text values as they show: without the characters `_invisible` finds."""
    if not len(text):
        return text
    array = pa.array(text.astype(TEXT).array)
    shown = pc.replace_substring_regex(array, pattern=_INVISIBLE, replacement="")
    return pd.Series(pd.array(shown, dtype=TEXT), index=text.index)


def _tidying(text: pd.Series) -> Literal["", "empty", "strip"]:
    """What a text column needs: nothing (""), its empty values made missing ("empty"), or
    its values stripped of white space too ("strip": some value may begin or end with it).

    Looks at the first and last byte of each value only: a byte up to 0x20 (space, control)
    or from 0x80 (non-ASCII, maybe Unicode white space) means strip, to be safe.
    """
    empty = False
    array = pa.array(text.array)
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    for chunk in chunks:
        chunk = chunk.cast(pa.large_string())
        for lo in range(0, len(chunk), _PARSE_CHUNK):
            part = chunk.slice(lo, _PARSE_CHUNK)
            offsets_buffer, data_buffer = part.buffers()[1:3]
            if offsets_buffer is None:
                continue
            n = len(part)
            offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[
                part.offset : part.offset + n + 1
            ]
            lengths = np.diff(offsets)
            present = lengths > 0
            if part.null_count:
                valid = np.asarray(part.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
                empty = empty or bool((valid & ~present).any())
            elif not present.all():
                empty = True
            if data_buffer is None or not present.any():
                continue
            data = np.frombuffer(data_buffer, dtype=np.uint8)
            first = data[offsets[:-1][present]]
            last = data[offsets[1:][present] - 1]
            if ((first <= 0x20) | (first >= 0x80) | (last <= 0x20) | (last >= 0x80)).any():
                return "strip"
    return "empty" if empty else ""


def _blank_to_missing(text: pd.Series) -> pd.Series:
    """A text column with its empty values missing: a new validity bitmap over the same
    offsets and bytes where Arrow allows it (no copy of the text).
    """
    array = pa.array(text.array)
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    out = []
    for chunk in chunks:
        given = pc.fill_null(pc.greater(pc.binary_length(chunk), 0), False)
        if chunk.offset == 0 and given.offset == 0:
            buffers = chunk.buffers()
            out.append(
                pa.Array.from_buffers(chunk.type, len(chunk), [given.buffers()[1], *buffers[1:]])
            )
        else:
            out.append(pc.if_else(given, chunk, pa.scalar(None, type=chunk.type)))
    taken = pa.chunked_array(out, type=array.type)
    return pd.Series(pd.array(taken, dtype=TEXT), index=text.index, copy=False)


def _numbers(
    raw: pd.Series | None, n: int, text: pd.Series | None = None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Values as floats, where a value was given, and where it is a usable finite number
    (`text`: the column as stripped text, when already made).
    """
    if raw is None:
        return np.full(n, np.nan), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    dtype = raw.dtype
    if pd.api.types.is_timedelta64_dtype(dtype):  # a duration (Parquet): a time, not a number
        return np.full(n, np.nan), raw.notna().to_numpy(), np.zeros(n, dtype=bool)
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        given = ~np.isnan(values)
        return values, given, given & np.isfinite(values)
    text = _as_text(raw) if text is None else text
    given = text.notna().to_numpy()
    values = np.full(n, np.nan)
    where: npt.NDArray[np.intp] | slice = np.flatnonzero(given)
    if given.all():
        where = slice(None)  # every value given: no copy to take them
    chosen = text.iloc[where] if isinstance(where, slice) else _rows(text, where)
    try:  # Arrow reads plain numbers; anything else in the column goes to pandas
        parsed = pc.cast(pa.array(chosen.array), pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        parsed = pd.to_numeric(chosen, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    values[where] = np.asarray(parsed, dtype=np.float64)
    return values, given, given & np.isfinite(values)


def _strptime(text: pd.Series, fmt: str) -> npt.NDArray[np.int64]:
    """Fast fixed-format parse of text to naive microseconds (NAT where it does not fit).

    `fmt` is `%Y-%m-%d` or `%Y-%m-%d %H:%M:%S`, read strictly: zero-padded fields, a real
    calendar date (no 2025-02-30), hours 00-23, minutes and seconds 00-59. What does not fit
    goes to the strict fallback parsers. Vectorized over the text's bytes, a block of values
    at a time: no parsing per value, no copy of the whole column.
    """
    if fmt not in _TEMPLATES:
        msg = f"internal error: no fast parser for {fmt!r}"
        raise AssertionError(msg)
    array = pa.array(text.array)
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    out = np.full(len(text), NAT, dtype=np.int64)
    done = 0
    for chunk in chunks:
        chunk = chunk.cast(pa.large_string())
        for lo in range(0, len(chunk), _PARSE_CHUNK):
            part = chunk.slice(lo, _PARSE_CHUNK)
            parsed = _parse_by_arrow(part, fmt)
            out[done + lo : done + lo + len(part)] = (
                _parse_fixed(part, fmt) if parsed is None else parsed
            )
        done += len(chunk)
    return out


def _parse_by_arrow(array: pa.LargeStringArray, fmt: str) -> npt.NDArray[np.int64] | None:
    """`_parse_fixed` by Arrow's ISO 8601 cast, about 5 times faster, or None when some
    value of the fixed form is not a real date-time (then `_parse_fixed` says which).

    Only values of the form's exact length with its separators in place go to the cast (the
    others are NAT): the cast then reads digits only, checks the calendar (no 2025-02-30)
    and the time of day (00:00:00 to 23:59:59), and raises on anything else.
    """
    low, _ = _TEMPLATES[fmt]
    width = len(low)
    n = len(array)
    offsets_buffer, data_buffer = array.buffers()[1:3]
    if n == 0 or offsets_buffer is None or data_buffer is None:
        return None
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[array.offset : array.offset + n + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    fits = np.diff(offsets) == width
    if array.null_count:
        fits &= np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    starts = offsets[:-1][fits] if not fits.all() else offsets[:-1]
    placed = np.ones(len(starts), dtype=bool)  # separators in place, for the values that fit
    for place in _SEPARATORS[fmt]:
        placed &= data[starts + place] == low[place]
    fits[fits] = placed
    out = np.full(n, NAT, dtype=np.int64)
    if not fits.any():
        return out
    chosen = array if fits.all() else array.filter(pa.array(fits))
    try:
        stamps = pc.cast(chosen, pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if stamps.null_count:  # cannot happen: every value chosen is given
        return None
    out[fits] = np.asarray(stamps.to_numpy(zero_copy_only=False)).view(np.int64)
    return out


def _parse_fixed(array: pa.LargeStringArray, fmt: str) -> npt.NDArray[np.int64]:
    """`_strptime` of one block of text values (Arrow large strings)."""
    low, high = _TEMPLATES[fmt]
    width = len(low)
    n = len(array)
    out = np.full(n, NAT, dtype=np.int64)
    offsets_buffer, data_buffer = array.buffers()[1:3]
    if n == 0 or offsets_buffer is None or data_buffer is None:
        return out
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[array.offset : array.offset + n + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    rows: npt.NDArray[np.intp] | None = None  # None: every value
    if not array.null_count and int(offsets[-1] - offsets[0]) == n * width:
        fits = np.diff(offsets) == width  # all of them, unless some are longer, some shorter
    else:
        fits = np.zeros(0, dtype=bool)
    if fits.all() and len(fits) == n:  # values side by side: the bytes are the matrix
        chars = data[offsets[0] : offsets[-1]].reshape(n, width)
    else:
        fits = np.diff(offsets) == width
        if array.null_count:
            fits &= np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        rows = np.flatnonzero(fits)
        if not len(rows) or len(data) < width:
            return out
        chars = np.lib.stride_tricks.sliding_window_view(data, width)[offsets[rows]]
    # Digits where digits, separators where separators: one unsigned comparison per byte.
    ok = ((chars - low) <= (high - low)).all(axis=1)
    digits = chars - np.uint8(48)

    def number(first: int, last: int) -> npt.NDArray[np.int32]:
        value = digits[:, first].astype(np.int32)
        for k in range(first + 1, last):
            value = value * 10 + digits[:, k]
        return value

    year, month, day = number(0, 4), number(5, 7), number(8, 10)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    length = _MONTH_DAYS[np.clip(month, 0, 12)] + ((month == 2) & leap)
    ok &= (month >= 1) & (month <= 12) & (day >= 1) & (day <= length)
    micros = _days_from_civil(year, month, day) * _US_PER_DAY
    if width > 10:
        hour, minute, second = number(11, 13), number(14, 16), number(17, 19)
        ok &= (hour <= 23) & (minute <= 59) & (second <= 59)
        micros += (hour * 3600 + minute * 60 + second).astype(np.int64) * 1_000_000
    if rows is None:
        return np.where(ok, micros, NAT)
    out[rows[ok]] = micros[ok]
    return out


_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int32)


def _days_from_civil(
    year: npt.NDArray[np.int32], month: npt.NDArray[np.int32], day: npt.NDArray[np.int32]
) -> npt.NDArray[np.int64]:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's `days_from_civil`)."""
    y = year.astype(np.int64) - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    result: npt.NDArray[np.int64] = era * 146097 + doe - 719468
    return result


def _template(pattern: str) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """Lowest and highest byte allowed at each place of a fixed form (`9` a digit)."""
    low = np.array([ord("0") if c == "9" else ord(c) for c in pattern], dtype=np.uint8)
    high = np.array([ord("9") if c == "9" else ord(c) for c in pattern], dtype=np.uint8)
    return low, high


_TEMPLATES = {
    "%Y-%m-%d": _template("9999-99-99"),
    "%Y-%m-%d %H:%M:%S": _template("9999-99-99 99:99:99"),
}
_PARSE_CHUNK = 1 << 17  # values parsed at a time: temporaries of a few MB, reused
_SEPARATORS = {
    fmt: [i for i, byte in enumerate(low) if byte != ord("0")]
    for fmt, (low, _) in _TEMPLATES.items()
}


def _parse_fallback(
    text: pd.Series,
    values: npt.NDArray[np.int64],
    todo: npt.NDArray[np.bool_],
    formats: tuple[str, ...],
) -> None:
    """Fill `values` where `todo` by trying `formats` in turn on the remaining texts."""
    for fmt in formats:
        if not todo.any():
            return
        where = np.flatnonzero(todo)
        try:
            parsed = pd.to_datetime(_rows(text, where), format=fmt, errors="coerce")
        except (ValueError, TypeError, OverflowError):
            continue
        if not pd.api.types.is_datetime64_dtype(parsed.dtype):  # offsets slipped in: not naive
            continue
        got = parsed.notna().to_numpy()
        values[where[got]] = _micros(parsed.to_numpy())[got]
        todo[where[got]] = False


def _dates(
    typed: pd.Series | None, text: pd.Series | None, timezone: str, n: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Calendar dates as microseconds at midnight, where given, and where usable.

    `typed` is a date-time column (Parquet, SQL), else `text` the stripped text. Accepts
    YYYY-MM-DD, MM/DD/YYYY and date-times at exactly midnight (as spreadsheets write dates);
    a date with another time of day is not a date.
    """
    if typed is not None:
        stamps = typed
        if isinstance(typed.dtype, pd.DatetimeTZDtype):
            stamps = typed.dt.tz_convert(timezone).dt.tz_localize(None)
        values = _micros(stamps.to_numpy())
        given = typed.notna().to_numpy()
    elif text is not None and n:
        given = text.notna().to_numpy()
        values = _strptime(text, "%Y-%m-%d")
        _parse_fallback(text, values, given & (values == NAT), _DATE_FORMATS)
    else:
        return np.full(n, NAT, dtype=np.int64), np.zeros(n, bool), np.zeros(n, bool)
    midnight = (values != NAT) & (values % _US_PER_DAY == 0)
    return np.where(midnight, values, NAT), given, given & midnight


_Parsed = tuple[
    npt.NDArray[np.int64], npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.int64]
]


def _instants(typed: pd.Series | None, text: pd.Series | None, timezone: str, n: int) -> _Parsed:
    """Date-times as UTC microseconds, where given, where parsed, and the naive values.

    Rules (data contract §1): a date-time with a UTC offset (`...-08:00`, `...Z`) is taken as
    given; one without is local time in `timezone`. A local time in the hour skipped when
    clocks spring forward does not exist (NAT although parsed); one in the hour repeated
    when they fall back is its first occurrence (daylight time). A date without a time of
    day is not a date-time. Text is parsed as `YYYY-MM-DD HH:MM:SS` first (fast), and what
    does not fit as a date-time with an offset, then as ISO 8601 and US
    `MM/DD/YYYY HH:MM[:SS] [AM/PM]` forms. `typed` is a date-time column (Parquet, SQL),
    naive (local) or with a time zone.
    """
    utc = np.full(n, NAT, dtype=np.int64)
    naive = np.full(n, NAT, dtype=np.int64)
    if typed is not None:
        given = typed.notna().to_numpy()
        if isinstance(typed.dtype, pd.DatetimeTZDtype):
            utc = _micros(typed.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy())
            return utc, given, given & (utc != NAT), naive
        naive = _micros(typed.to_numpy())
    elif text is not None and n:
        given = text.notna().to_numpy()
        naive = _strptime(text, "%Y-%m-%d %H:%M:%S")
        todo = given & (naive == NAT)
        if todo.any():
            where = np.flatnonzero(todo)
            rest = _rows(text, where)
            offset = rest.str.contains(_OFFSET.pattern, regex=True).to_numpy(dtype=bool)
            if offset.any():
                stamps = pd.to_datetime(rest[offset], format="ISO8601", utc=True, errors="coerce")
                utc[where[offset]] = _micros(stamps.dt.tz_localize(None).to_numpy())
            timeless = ~rest.str.contains(":", regex=False).to_numpy(dtype=bool)
            todo[where[offset | timeless]] = False
            _parse_fallback(text, naive, todo, _NAIVE_FORMATS)
    else:
        return utc, np.zeros(n, bool), np.zeros(n, bool), naive
    local = given & (naive != NAT) & (naive >= FIRST_DAY) & (naive < AFTER_LAST_DAY)
    if local.any():
        where = np.flatnonzero(local)
        utc[where] = _localize(naive[where], timezone, nonexistent="NaT")
    parsed = (given & (naive != NAT)) | (given & (utc != NAT))
    return utc, given, parsed, naive


def _micros(values: npt.NDArray[np.generic]) -> npt.NDArray[np.int64]:
    """Naive datetime64 values of any unit as int64 microseconds (NAT for NaT), a copy."""
    return np.asarray(values).astype("datetime64[us]").view(np.int64).copy()


def _local_dates(utc: npt.NDArray[np.int64], timezone: str) -> npt.NDArray[np.int64]:
    """The local calendar date (microseconds at midnight) of each UTC instant; NAT stays NAT."""
    out = np.full(len(utc), NAT, dtype=np.int64)
    known = utc != NAT
    if known.any():
        local = pd.DatetimeIndex(utc[known].view("datetime64[us]"), tz="UTC").tz_convert(timezone)
        out[known] = local.tz_localize(None).normalize().as_unit("us").asi8
    return out


def order_keys(
    start: npt.NDArray[np.int64], day: npt.NDArray[np.int64], timezone: str
) -> npt.NDArray[np.int64]:
    """The instant each visit counts as starting at, for putting visits in time order (data
    contract §4): its start (UTC microseconds), else local midnight of its service date.
    """
    key = start.copy()
    untimed = start == NAT
    if untimed.any():
        key[untimed] = _local_midnights(day[untimed], timezone)
    return key


def time_order(key: npt.NDArray[np.int64], visit_ids: pd.Series) -> npt.NDArray[np.int64]:
    """Positions of visits in time order: by `order_keys`, then visit_id."""
    ranked = pc.sort_indices(
        pa.table({"key": key, "visit_id": pa.array(visit_ids.array)}),
        sort_keys=[("key", "ascending"), ("visit_id", "ascending")],
    )
    return np.asarray(ranked.to_numpy(), dtype=np.int64)


def _local_midnights(days: npt.NDArray[np.int64], timezone: str) -> npt.NDArray[np.int64]:
    """The UTC instant of local midnight of each date (for ordering); NAT stays NAT."""
    out = np.full(len(days), NAT, dtype=np.int64)
    known = days != NAT
    if known.any():
        out[known] = _localize(days[known], timezone, nonexistent="shift_forward")
    return out


def _localize(
    naive: npt.NDArray[np.int64], timezone: str, nonexistent: Literal["NaT", "shift_forward"]
) -> npt.NDArray[np.int64]:
    """Local wall-clock times (microseconds, none NAT) as UTC microseconds.

    A time in the hour repeated when clocks fall back is its first occurrence (daylight
    time); one in the skipped hour follows `nonexistent`. The offset from UTC is found once
    per hour of the span the times cover: an hour whose first and last microsecond have the
    same offset has it throughout, and each time in it is shifted by it (no hashing of
    millions of values); the times of any other hour (a change of offset, a skipped hour)
    are localized one distinct value at a time.
    """
    if not len(naive):
        return np.zeros(0, dtype=np.int64)
    hours = naive // _US_PER_HOUR
    first = int(hours.min())
    span = int(hours.max()) - first + 1
    if span > max(len(naive), _HOUR_TABLE_MIN):  # a few times spread over centuries
        return _localize_each(naive, timezone, nonexistent)
    grid = (first + np.arange(span, dtype=np.int64)) * _US_PER_HOUR
    starts = _localize_each(grid, timezone, "NaT")
    ends = _localize_each(grid + (_US_PER_HOUR - 1), timezone, "NaT")
    offset = grid - starts
    uniform = (starts != NAT) & (ends != NAT) & (offset == grid + (_US_PER_HOUR - 1) - ends)
    at = hours - first
    utc: npt.NDArray[np.int64] = naive - offset[at]
    odd = ~uniform[at]
    if odd.any():
        utc[odd] = _localize_each(naive[odd], timezone, nonexistent)
    return utc


_US_PER_HOUR = 3_600_000_000
_HOUR_TABLE_MIN = 1 << 16  # hours always worth a table (about 7 years)


def _localize_each(
    naive: npt.NDArray[np.int64], timezone: str, nonexistent: Literal["NaT", "shift_forward"]
) -> npt.NDArray[np.int64]:
    """`_localize` by pandas, each distinct time once (NAT where it does not exist)."""
    codes, distinct = pd.factorize(naive)
    localized = pd.DatetimeIndex(np.asarray(distinct).view("datetime64[us]")).tz_localize(
        timezone, ambiguous=np.ones(len(distinct), dtype=bool), nonexistent=nonexistent
    )
    utc: npt.NDArray[np.int64] = localized.tz_convert("UTC").as_unit("us").asi8
    return utc[codes]
