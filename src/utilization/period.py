"""Report periods and filters: what a report covers."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from utilization.exceptions import InputError


@dataclass(frozen=True)
class Period:
    """Inclusive calendar dates `start`..`end`."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            msg = f"period ends ({self.end}) before it starts ({self.start})"
            raise InputError(msg)

    @classmethod
    def parse(cls, text: str, also: str = "") -> Period:
        """A period from `2026-Q1`, `2026-03`, `2026`, or `2026-01-01..2026-03-31`; `also`:
        other forms the caller takes, named in the error when `text` is none of them.
        """
        text = text.strip()
        if m := re.fullmatch(r"(\d{4})-?Q([1-4])", text, flags=re.IGNORECASE):
            year, quarter = int(m[1]), int(m[2])
            start = date(year, 3 * quarter - 2, 1)
            return cls(start, _month_end(year, 3 * quarter))
        if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
            year, month = int(m[1]), int(m[2])
            return cls(date(year, month, 1), _month_end(year, month))
        if m := re.fullmatch(r"(\d{4})", text):
            return cls(date(int(m[1]), 1, 1), date(int(m[1]), 12, 31))
        if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\s*(?:\.\.|/|to)\s*(\d{4}-\d{2}-\d{2})", text):
            return cls(parse_date(m[1]), parse_date(m[2]))
        forms = "2026-Q1, 2026-03, 2026, 2026-01-01..2026-03-31" + (f", {also}" if also else "")
        msg = f"period {text!r} is not one of {forms}"
        raise InputError(msg)

    @property
    def label(self) -> str:
        """A short name for file paths: `2026-Q1`, `2026-03`, `2026` or `from_to`."""
        s, e = self.start, self.end
        if s.day == 1 and e == _month_end(e.year, e.month) and s.year == e.year:
            if s.month == e.month:
                return f"{s:%Y-%m}"
            if e.month - s.month == 2 and s.month % 3 == 1:
                return f"{s.year}-Q{(s.month + 2) // 3}"
            if s.month == 1 and e.month == 12:
                return str(s.year)
        return f"{s.isoformat()}_{e.isoformat()}"

    @property
    def days(self) -> int:
        """Number of days in the period."""
        return (self.end - self.start).days + 1


def _month_end(year: int, month: int) -> date:
    """The last day of a month."""
    first_next = date(year + (month == 12), month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def parse_date(text: str) -> date:
    """A `YYYY-MM-DD` date, or InputError saying what was given."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        msg = f"{text!r} is not a date (YYYY-MM-DD)"
        raise InputError(msg) from None


def current_quarter(today: date | None = None) -> Period:
    """The calendar quarter holding `today`."""
    today = today or date.today()
    return Period.parse(f"{today.year}-Q{(today.month - 1) // 3 + 1}")


RELATIVE = {f"{w}-{u}" for w in ("current", "previous") for u in ("month", "quarter", "year")}
"""Periods named relative to the day a batch runs, e.g. `previous-quarter`."""


def parse_period(value: object, today: date | None = None) -> Period:
    """`2026-Q1`, `2026-03`, `2026`, `a..b`, {from, to}, or relative to today:
    `current-` / `previous-` + `month`, `quarter` or `year` (e.g. `previous-quarter`).
    """
    if isinstance(value, dict):
        if set(value) != {"from", "to"}:
            msg = f"period as a mapping needs exactly `from:` and `to:`, not {sorted(value)}"
            raise InputError(msg)
        return Period(parse_date(str(value["from"])), parse_date(str(value["to"])))
    text = str(value).strip().lower()
    if text in RELATIVE:
        return relative_period(text, today or date.today())
    relative = ", ".join(sorted(RELATIVE, key=lambda r: (r.split("-")[1], r)))
    return Period.parse(str(value), also=relative)


def relative_period(text: str, today: date) -> Period:
    """The calendar month, quarter or year holding `today` (`current-`) or before it."""
    which, unit = text.split("-")
    labels = {
        "month": f"{today:%Y-%m}",
        "quarter": f"{today.year}-Q{(today.month - 1) // 3 + 1}",
        "year": str(today.year),
    }
    period = Period.parse(labels[unit])
    if which == "previous":
        return relative_period(f"current-{unit}", period.start - timedelta(days=1))
    return period


def trend_months(end: date, count: int = 12) -> list[date]:
    """First days of the `count` whole calendar months ending with the month of `end`."""
    months = []
    year, month = end.year, end.month
    for _ in range(count):
        months.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


@dataclass(frozen=True)
class Filters:
    """What a report is narrowed to; an empty tuple means no filter on that column."""

    clients: tuple[str, ...] = ()
    procedures: tuple[str, ...] = ()
    payers: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    case_types: tuple[str, ...] = ()
    billable: bool | None = None

    def with_ids(self, attribute: str, ids: tuple[str, ...]) -> Filters:
        """The same filters with the list filter `attribute` (e.g. `clients`) set to `ids`."""
        if attribute not in ("clients", "procedures", "payers", "providers", "case_types"):
            msg = f"{attribute!r} is not a list filter"
            raise ValueError(msg)
        changed: dict[str, Any] = {attribute: ids}
        return replace(self, **changed)

    def describe(self) -> dict[str, object]:
        """The filters in force, for report headers and JSON."""
        shown: dict[str, object] = {
            "client_id": list(self.clients),
            "procedure_code": list(self.procedures),
            "payer_id": list(self.payers),
            "provider_id": list(self.providers),
            "case_type": list(self.case_types),
            "billable": self.billable,
        }
        return {k: v for k, v in shown.items() if v not in ([], None)}

    def visit_mask(self, visits: pd.DataFrame, payer: pd.Series | None = None) -> np.ndarray:
        """Visits that pass every filter; `payer` is the effective payer of each visit."""
        mask = np.ones(len(visits), dtype=bool)
        for column, wanted in (
            ("client_id", self.clients),
            ("procedure_code", self.procedures),
            ("provider_id", self.providers),
            ("case_type", self.case_types),
        ):
            if wanted:
                mask &= visits[column].isin(wanted).to_numpy()
        if self.payers:
            series = payer if payer is not None else visits["payer_id"]
            mask &= series.isin(self.payers).to_numpy()
        return mask

    def authorization_mask(self, authorizations: pd.DataFrame) -> np.ndarray:
        """Authorizations that pass the client, procedure and payer filters.

        Provider, case type and billable describe visits, not authorizations, so they do
        not narrow the units approved.
        """
        mask = np.ones(len(authorizations), dtype=bool)
        for column, wanted in (
            ("client_id", self.clients),
            ("procedure_code", self.procedures),
            ("payer_id", self.payers),
        ):
            if wanted:
                mask &= authorizations[column].isin(wanted).to_numpy()
        return mask


def day_words(value: Any) -> str:
    """A date as `31 Mar 2026` (reports, reasons and flags in words)."""
    return pd.Timestamp(value).strftime("%-d %b %Y")


def days_in_words(days: npt.NDArray[Any], form: str = "%d %b %Y") -> npt.NDArray[np.object_]:
    """Dates (datetime64, or days since 1970-01-01; none missing) as `day_words` writes them
    (`31 Mar 2026`, the day without a leading zero), or in `form`; all at once in Arrow.
    """
    values = np.asarray(days)
    if values.dtype.kind != "M":
        values = values.astype("datetime64[D]")
    stamps = pa.array(values.astype("datetime64[s]"))
    text = pc.strftime(stamps, format=form, locale="C")
    if form.startswith("%d"):
        text = pc.replace_substring_regex(text, pattern="^0", replacement="")
    return np.asarray(text.to_pylist(), dtype=object)


def iso_dates(dates: pd.Series) -> list[str | None]:
    """Dates as `YYYY-MM-DD` (None for NaT), formatted at once rather than one by one."""
    days = np.asarray(dates.to_numpy()).astype("datetime64[D]")
    text: list[str | None] = np.datetime_as_string(days, unit="D").tolist()
    missing = np.isnat(days)
    for i in np.flatnonzero(missing).tolist():
        text[i] = None
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    odd = np.flatnonzero(~missing & ((years < 1000) | (years > 9999)))
    for i in odd.tolist():  # as strftime writes them (no zero padding of the year)
        text[i] = f"{dates.iloc[i]:%Y-%m-%d}"
    return text
