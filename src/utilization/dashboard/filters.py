"""What the dashboard's filters ask for: quick date ranges, the filter model, and the request.

Pure functions and frozen types, tested without a browser: the page (`dashboard.page`) only
shows `DashboardFilters` as controls and draws the request they make.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal, cast
from urllib.parse import parse_qs

import pandas as pd

from utilization.dataset import Dataset
from utilization.exceptions import InputError, UsageError
from utilization.metrics import BASES, Basis
from utilization.parameters import Request
from utilization.period import Filters, Period, parse_date, relative_period

QUICK_RANGES: dict[str, str] = {
    # name -> label, in the order the period list shows them
    "this-month": "This month",
    "last-month": "Last month",
    "this-quarter": "This quarter",
    "last-quarter": "Last quarter",
    "year-to-date": "Year to date",
    "last-12-months": "Last 12 months",
    "custom": "Custom dates",
}
"""The period choices of the dashboard; `custom` takes its From and To dates."""
DEFAULT_RANGE = "this-quarter"
DashboardView = Literal["agency", "client", "procedure"]
QUERY_KEYS = ("client", "procedure", "payer", "provider", "range", "from", "to", "basis")
"""The keys a dashboard address may carry (`?client=C0001&range=last-quarter`)."""


class FilterError(UsageError):
    """A filter value the dashboard cannot use; the message says what to choose instead."""


def quick_range(name: str, today: date) -> Period:
    """The calendar dates of a quick choice on `today`.

    This / last month and quarter are whole calendar months and quarters (the current one
    runs to its last day, like a report's default period); year to date is 1 January to
    `today`; the last 12 months are the 365 or 366 days ending with `today` (from the day
    after the same date a year earlier).
    """
    if name == "this-month":
        return relative_period("current-month", today)
    if name == "last-month":
        return relative_period("previous-month", today)
    if name == "this-quarter":
        return relative_period("current-quarter", today)
    if name == "last-quarter":
        return relative_period("previous-quarter", today)
    if name == "year-to-date":
        return Period(date(today.year, 1, 1), today)
    if name == "last-12-months":
        try:
            year_ago = today.replace(year=today.year - 1)
        except ValueError:  # 29 February: a year earlier has no such day
            year_ago = date(today.year - 1, 2, 28)
        return Period(year_ago + timedelta(days=1), today)
    choices = ", ".join(k for k in QUICK_RANGES if k != "custom")
    msg = f"unknown period {name!r}; choose one of {choices}, or custom dates"
    raise FilterError(msg)


@dataclass(frozen=True)
class DashboardFilters:
    """The dashboard's global filters: one client, procedure code, payer and fieldworker
    (empty: all), a quick period or custom dates, and the units approved basis.

    A client makes the page the client's view, else a procedure code the procedure's view,
    else the agency's; payer and fieldworker narrow any of them.
    """

    client: str = ""
    procedure: str = ""
    payer: str = ""
    provider: str = ""
    range: str = DEFAULT_RANGE
    date_from: date | None = None
    date_to: date | None = None
    basis: str = "prorated"

    @property
    def view(self) -> DashboardView:
        """The view these filters show: client, procedure or agency."""
        if self.client:
            return "client"
        return "procedure" if self.procedure else "agency"

    def period(self, today: date) -> Period:
        """The period of the quick choice on `today`, or the custom dates."""
        if self.range != "custom":
            return quick_range(self.range, today)
        if self.date_from is None or self.date_to is None:
            msg = "Choose both a From and a To date for custom dates."
            raise FilterError(msg)
        if self.date_to < self.date_from:
            msg = (
                f"The period ends ({self.date_to:%-d %b %Y}) before it starts "
                f"({self.date_from:%-d %b %Y}): choose a To date on or after the From date."
            )
            raise FilterError(msg)
        return Period(self.date_from, self.date_to)

    def request(
        self,
        dataset: Dataset,
        today: date,
        offered: dict[str, list[tuple[str, str]]] | None = None,
    ) -> Request:
        """The report request of these filters on `today`; FilterError names a value the data
        does not have. Balances are as of `today` when it falls in the period, else as of
        the period's last day (as `utilization report` without --to). `offered`: the
        `choices` of the dataset, when the caller has them already.
        """
        check(self, offered if offered is not None else choices(dataset))
        if self.basis not in BASES:
            msg = f"Unknown units approved basis {self.basis!r}: choose prorated or full."
            raise FilterError(msg)
        period = self.period(today)
        filters = Filters(
            clients=_one(self.client),
            procedures=_one(self.procedure),
            payers=_one(self.payer),
            providers=_one(self.provider),
        )
        as_of = today if period.start <= today <= period.end else None
        request = Request(self.view, period, filters, as_of, cast("Basis", self.basis))
        request.check()
        return request

    def drill(self, kind: Literal["client", "procedure"], ident: str) -> DashboardFilters:
        """The same filters about one client (any procedure) or one procedure (any client)."""
        if kind == "client":
            return replace(self, client=ident, procedure="")
        return replace(self, client="", procedure=ident)

    def to_query(self) -> str:
        """The filters as an address query (`client=C0001&range=last-quarter`), defaults left
        out; `from_query` reads it back.
        """
        from urllib.parse import urlencode

        pairs = [
            (key, value)
            for key, value in (
                ("client", self.client),
                ("procedure", self.procedure),
                ("payer", self.payer),
                ("provider", self.provider),
            )
            if value
        ]
        if self.range != DEFAULT_RANGE:
            pairs.append(("range", self.range))
        if self.range == "custom":
            pairs += [
                (key, value.isoformat())
                for key, value in (("from", self.date_from), ("to", self.date_to))
                if value
            ]
        if self.basis != "prorated":
            pairs.append(("basis", self.basis))
        return urlencode(pairs)

    @classmethod
    def from_query(cls, query: str) -> DashboardFilters:
        """Filters from an address query; other keys (the server's `token`) are ignored.

        Dates given without `range` mean custom dates. FilterError for a date that does
        not parse or an unknown period name.
        """
        values = {k: v[-1].strip() for k, v in parse_qs(query).items() if k in QUERY_KEYS}
        try:
            start = parse_date(values["from"]) if values.get("from") else None
            end = parse_date(values["to"]) if values.get("to") else None
        except InputError as exc:
            msg = f"The address has a date that is not a date: {exc}."
            raise FilterError(msg) from None
        chosen = values.get("range") or ("custom" if start or end else DEFAULT_RANGE)
        if chosen not in QUICK_RANGES:
            msg = f"The address asks for period {chosen!r}; choose one from the Period list."
            raise FilterError(msg)
        return cls(
            client=values.get("client", ""),
            procedure=values.get("procedure", ""),
            payer=values.get("payer", ""),
            provider=values.get("provider", ""),
            range=chosen,
            date_from=start,
            date_to=end,
            basis=values.get("basis") or "prorated",
        )


def choices(dataset: Dataset) -> dict[str, list[tuple[str, str]]]:
    """The values each list filter offers, as (label, id), sorted by label: clients by name
    (`Quinn Whitlock (C0002)`), procedure codes with their description, payers and
    fieldworkers by name (ids found in authorizations and visits but in no table by id).
    """

    def listed(
        table: pd.DataFrame, key: str, name: str, *extra: pd.Series
    ) -> list[tuple[str, str]]:
        names = dict(zip(table[key].astype(str), table[name].astype(str), strict=True))
        ids = set(names)
        for series in extra:
            ids |= {str(v) for v in series.dropna().unique()}

        def label(i: str) -> str:  # the id once: not after a name that ends with it
            name = names.get(i, i)
            return name if name == i or name.endswith(f"({i})") else f"{name} ({i})"

        return sorted((label(i), i) for i in ids)

    procedures = dataset.procedures
    return {
        "client": listed(dataset.clients, "client_id", "client_name"),
        "procedure": sorted(
            (f"{code} {text}".strip(), code)
            for code, text in zip(
                procedures["procedure_code"].astype(str),
                procedures["description"].fillna("").astype(str),
                strict=True,
            )
        ),
        "payer": listed(
            dataset.payers,
            "payer_id",
            "payer_name",
            dataset.authorizations["payer_id"],
            dataset.visits["payer_id"],
        ),
        "provider": listed(
            dataset.providers, "provider_id", "provider_name", dataset.visits["provider_id"]
        ),
    }


NOUNS = {
    "client": "client",
    "procedure": "procedure code",
    "payer": "payer",
    "provider": "fieldworker",
}


def check(filters: DashboardFilters, offered: dict[str, list[tuple[str, str]]]) -> None:
    """FilterError when a chosen client, procedure code, payer or fieldworker is not among
    the `choices` of the data, saying which and what to do.
    """
    for key, noun in NOUNS.items():
        value = getattr(filters, key)
        if value and value not in {ident for _, ident in offered[key]}:
            msg = f"There is no {noun} {value!r} in the data: choose a {noun} from the list."
            raise FilterError(msg)


def _one(value: str) -> tuple[str, ...]:
    return (value,) if value else ()
