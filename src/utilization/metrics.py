"""Period metrics: units and amounts approved, used and scheduled (data contract §5)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from utilization.dataset import Dataset, catalog_rows
from utilization.period import Filters, Period, trend_months
from utilization.selection import BASES, Basis, Selection
from utilization.totals import CLIENT, client_ranks, join, over_clients, per_client

__all__ = ["BASES", "Basis", "by_client", "by_procedure", "detail", "kpis", "monthly"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
FIGURES = ["units_approved", "units_used", "amount_approved", "amount_used"]


def _day(value: date) -> np.datetime64:
    return np.datetime64(value, "D")


def _day_numbers(series: pd.Series) -> np.ndarray:
    return series.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")


def approved_shares(
    dataset: Dataset, period: Period, filters: Filters, basis: Basis = "prorated"
) -> pd.DataFrame:
    """The part of each authorization that falls in the period.

    Grain: one row per authorization overlapping the period. `units_approved` and
    `amount_approved` are the authorization's figures times overlap_days / days (basis
    `prorated`), or its whole figures (basis `full`); not rounded. `_authorization_row`
    (`AUTHORIZATION_ROW`) is the authorization's row in `dataset.authorizations`.
    """
    chosen = np.flatnonzero(dataset.authorizations.pipe(filters.authorization_mask))
    auths = dataset.authorizations.iloc[chosen]
    overlap, units, amount = _shares(auths, period, basis)
    keep = np.flatnonzero(overlap > 0)
    out = pd.DataFrame(
        {
            "authorization_id": _text_at(auths["authorization_id"], keep),
            "client_id": _text_at(auths["client_id"], keep),
            "procedure_code": _text_at(auths["procedure_code"], keep),
            "overlap_days": overlap[keep],
            "units_approved": units[keep],
            "amount_approved": amount[keep],
            AUTHORIZATION_ROW: chosen[keep].astype(np.int64),
        }
    )
    return out


AUTHORIZATION_ROW = "_authorization_row"
"""The column of `approved_shares` holding each share's row in the authorizations frame."""


def _text_at(column: pd.Series, rows: npt.NDArray[np.intp]) -> Any:
    """The values of a text column at `rows` (an empty column stays as its empty array)."""
    return column.array.take(rows) if len(column) else column.to_numpy()


def _shares(
    auths: pd.DataFrame, period: Period, basis: Basis = "prorated"
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per authorization: days overlapping the period, units and amount approved in it."""
    return _Spans.of(auths).shares(period, basis)


@dataclass(frozen=True)
class _Spans:
    """What the shares of authorizations in a period are computed from (`_shares`), read
    from the frame once for any number of periods."""

    start: npt.NDArray[np.datetime64]
    end: npt.NDArray[np.datetime64]
    days: FloatArray
    units: FloatArray
    rate: FloatArray

    @classmethod
    def of(cls, auths: pd.DataFrame) -> _Spans:
        return cls(
            _day_numbers(auths["start_date"]),
            _day_numbers(auths["end_date"]),
            auths["days"].to_numpy(dtype=np.float64),
            auths["units_approved"].to_numpy(dtype=np.float64),
            np.nan_to_num(auths["rate"].to_numpy(dtype=np.float64)),
        )

    def shares(
        self, period: Period, basis: Basis = "prorated"
    ) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray]:
        lo = np.maximum(self.start, _day(period.start))
        hi = np.minimum(self.end, _day(period.end))
        overlap = np.maximum((hi - lo).astype(np.int64) + 1, 0)
        share = overlap / self.days
        if basis == "full":
            share = np.where(overlap > 0, 1.0, 0.0)
        units = self.units * share
        amount = units * self.rate
        return overlap, units, amount


def detail(selection: Selection) -> pd.DataFrame:
    """Approved, used and scheduled figures per client and procedure code.

    Grain: one row per (client_id, procedure_code) with anything approved, used or scheduled
    in the period. Columns: client_id, client_name, procedure_code, description,
    units_approved, units_used, units_scheduled, amount_approved, amount_used, units_remaining,
    amount_remaining, utilization. Not rounded.
    """
    dataset, period, filters = selection.dataset, selection.period, selection.filters
    table = _sums_per_pair(selection, approved_shares(dataset, period, filters, selection.basis))
    for column in (
        "units_approved",
        "units_used",
        "units_scheduled",
        "amount_approved",
        "amount_used",
    ):
        if column not in table:
            table[column] = 0.0
    table["units_used"] = table["units_used"].astype(np.int64)
    table["units_scheduled"] = table["units_scheduled"].astype(np.int64)
    names = dataset.clients.set_index("client_id")["client_name"]
    descriptions = dataset.procedures.set_index("procedure_code")["description"]
    table.insert(1, "client_name", table["client_id"].map(names))
    table.insert(3, "description", table["procedure_code"].map(descriptions))
    return detail_of([_with_remaining(table)])


def _sums_per_pair(selection: Selection, shares: pd.DataFrame) -> pd.DataFrame:
    """Units and amounts approved (`shares`), used and scheduled (the selection's completed
    and scheduled visits) per (client_id, procedure_code), 0 where a pair has none.
    """
    dataset = selection.dataset
    visits = dataset.visits
    done = np.flatnonzero(selection.mask("completed"))
    planned = np.flatnonzero(selection.mask("scheduled"))
    units, amount = visits["units"].to_numpy(), visits["amount"].to_numpy()
    approved = {c: c for c in ("units_approved", "amount_approved")}
    return sums_per_pair(
        dataset,
        [
            approved_sums(dataset, shares, approved),
            visit_sums(dataset, done, {"units_used": units[done], "amount_used": amount[done]}),
            visit_sums(dataset, planned, {"units_scheduled": units[planned]}),
        ],
    )


@dataclass(frozen=True)
class PairSums:
    """Values to add up per (client_id, procedure_code) (`sums_per_pair`): columns of equal
    length by name; the row of each value's client and procedure code in the catalogs (-1:
    not there); and, asked only when some key is not there, the keys' texts.
    """

    values: dict[str, Any]
    client: IntArray
    code: IntArray
    texts: Callable[[], tuple[pd.Series, pd.Series]]


def approved_sums(dataset: Dataset, shares: pd.DataFrame, names: dict[str, str]) -> PairSums:
    """The columns of `approved_shares` (`names`: the sum's name, its column) to add up."""
    row = shares[AUTHORIZATION_ROW].to_numpy()
    return PairSums(
        {name: shares[column] for name, column in names.items()},
        catalog_rows(dataset, "authorizations", "client_id")[row],
        catalog_rows(dataset, "authorizations", "procedure_code")[row],
        lambda: (shares["client_id"], shares["procedure_code"]),
    )


def visit_sums(dataset: Dataset, rows: npt.NDArray[np.intp], values: dict[str, Any]) -> PairSums:
    """Values of the visits at `rows` (one per row, in the same order) to add up."""
    visits = dataset.visits

    def texts() -> tuple[pd.Series, pd.Series]:
        client, code = (visits[c].array.take(rows) for c in ("client_id", "procedure_code"))
        return pd.Series(client, name="client_id"), pd.Series(code, name="procedure_code")

    return PairSums(
        values,
        catalog_rows(dataset, "visits", "client_id")[rows],
        catalog_rows(dataset, "visits", "procedure_code")[rows],
        texts,
    )


def sums_per_pair(dataset: Dataset, parts: list[PairSums]) -> pd.DataFrame:
    """The sums of each of `parts` per (client_id, procedure_code), joined: one row per pair
    any part has, 0.0 where a part has none of it. Columns: client_id, procedure_code, then
    the parts' sums in order. Rows in no order to rely on (callers sort them).

    Grouped by the rows of the clients and procedures catalogs the keys refer to, not by
    millions of texts; each group's values are added in row order as pandas adds them, so
    the sums are those of grouping by the texts, to the last bit. When a key is missing from
    its catalog (a dataset not validated), every part is grouped by the texts.
    """
    clients, codes = dataset.clients["client_id"], dataset.procedures["procedure_code"]
    by_rows = all(bool((p.client >= 0).all() and (p.code >= 0).all()) for p in parts)
    width = max(len(codes), 1)
    grouped = []
    for part in parts:
        frame = pd.DataFrame({k: np.asarray(v) for k, v in part.values.items()}, copy=False)
        if by_rows:  # one whole number per pair
            grouped.append(frame.groupby(part.client.astype(np.int64) * width + part.code).sum())
        else:
            keys = [pd.Series(t.array, name=t.name) for t in part.texts()]  # rows in order
            grouped.append(frame.groupby(keys).sum())
    table = grouped[0]
    for more in grouped[1:]:
        table = table.join(more, how="outer")
    table = table.fillna(0.0)
    if by_rows:
        pair = table.index.to_numpy(dtype=np.int64)
        client_id, code_id = clients.array.take(pair // width), codes.array.take(pair % width)
    else:
        client_id, code_id = (table.index.get_level_values(n) for n in (0, 1))
    table = table.reset_index(drop=True)
    table.insert(0, "client_id", pd.Series(client_id, dtype="str"))
    table.insert(1, "procedure_code", pd.Series(code_id, dtype="str"))
    return table


def detail_of(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The `detail` rows of disjoint sets of clients, by client name, client_id and code."""
    return (
        join(parts)
        .sort_values(["client_name", "client_id", "procedure_code"])
        .reset_index(drop=True)
    )


def _with_remaining(table: pd.DataFrame) -> pd.DataFrame:
    """Add units/amount remaining and utilization (none where nothing is approved)."""
    table = table.copy()
    table["units_remaining"] = table["units_approved"] - table["units_used"]
    table["amount_remaining"] = table["amount_approved"] - table["amount_used"]
    approved = table["units_approved"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["utilization"] = np.where(approved > 0, table["units_used"] / approved, np.nan)
    return table


def by_procedure(table: pd.DataFrame) -> pd.DataFrame:
    """Figures per procedure code, from `detail`. Grain: one row per procedure_code."""
    grouped = table.groupby(["procedure_code", "description"], dropna=False)[
        ["units_approved", "units_used", "units_scheduled", "amount_approved", "amount_used"]
    ].sum()
    return (
        _with_remaining(grouped.reset_index()).sort_values("procedure_code").reset_index(drop=True)
    )


def by_client(table: pd.DataFrame) -> pd.DataFrame:
    """Figures per client, from `detail`. Grain: one row per client_id."""
    grouped = table.groupby(["client_id", "client_name"], dropna=False)[
        ["units_approved", "units_used", "units_scheduled", "amount_approved", "amount_used"]
    ].sum()
    return (
        _with_remaining(grouped.reset_index())
        .sort_values(["client_name", "client_id"])
        .reset_index(drop=True)
    )


def kpis(table: pd.DataFrame) -> dict[str, float | None]:
    """Period totals from `detail`: approved, used, scheduled, remaining, utilization."""
    total = {
        name: float(table[name].sum())
        for name in (
            "units_approved",
            "units_used",
            "units_scheduled",
            "amount_approved",
            "amount_used",
        )
    }
    total["units_remaining"] = total["units_approved"] - total["units_used"]
    total["amount_remaining"] = total["amount_approved"] - total["amount_used"]
    approved = total["units_approved"]
    result: dict[str, float | None] = dict(total)
    result["utilization"] = total["units_used"] / approved if approved > 0 else None
    return result


def monthly(
    dataset: Dataset, end: date, filters: Filters, as_of: date | None = None
) -> pd.DataFrame:
    """Units approved (prorated) and used in each of the 12 months ending with `end`'s month,
    with the units of scheduled visits and whether the month is partial.

    Grain: one row per calendar month (`month` as YYYY-MM), oldest first. `units_scheduled`:
    scheduled billable visits with a service date in the month. `partial`: the month had not
    ended on the balance date `as_of` (default `end`): its units used are those so far.
    Each month's figures add up each client's first (`totals`).
    """
    return monthly_table([monthly_parts(dataset, end, filters)], end, as_of)


MONTHLY_SUMS = ["units_approved", "amount_approved", "units_used", "amount_used", "units_scheduled"]


def monthly_parts(dataset: Dataset, end: date, filters: Filters) -> pd.DataFrame:
    """Each client's share of the 12-month trend ending with `end`'s month.

    Grain: one row per month (`month`: months since 1970-01) and client (`_client`, its rank)
    with anything approved, used or scheduled in it; columns `MONTHLY_SUMS`, not rounded.
    """
    months = trend_months(end)
    window = Period(months[0], (pd.Timestamp(months[-1]) + pd.offsets.MonthEnd(0)).date())
    selection = Selection(dataset, window, filters, end)
    visits = dataset.visits
    ranks = client_ranks(dataset, "visits")
    day = visits["service_date"].to_numpy()

    def month_number(rows: npt.NDArray[np.intp]) -> IntArray:
        """The month (since 1970-01) of the visits at `rows`: the days converted to
        months once each, not millions of dates through the calendar."""
        days = day[rows].astype("datetime64[D]").astype(np.int64)
        if not len(days):
            return days
        first = int(days.min())
        span = np.arange(first, int(days.max()) + 1).astype("datetime64[D]")
        months: IntArray = span.astype("datetime64[M]").astype(np.int64)[days - first]
        return months

    done = np.flatnonzero(selection.mask())
    planned = np.flatnonzero(selection.mask("scheduled"))
    used = per_client(
        {"month": month_number(done)},
        ranks[done],
        {
            "units_used": visits["units"].to_numpy()[done],
            "amount_used": visits["amount"].to_numpy(dtype=np.float64)[done],
        },
    )
    scheduled = per_client(
        {"month": month_number(planned)},
        ranks[planned],
        {"units_scheduled": visits["units"].to_numpy()[planned]},
    )
    chosen = filters.authorization_mask(dataset.authorizations)
    spans = _Spans.of(dataset.authorizations[chosen])
    auth_ranks = client_ranks(dataset, "authorizations")[chosen]
    shares: list[tuple[int, IntArray, FloatArray, FloatArray]] = []
    for first in months:
        last = (pd.Timestamp(first) + pd.offsets.MonthEnd(0)).date()
        overlap, units, amount = spans.shares(Period(first, last))
        keep = overlap > 0
        number = int(np.datetime64(first, "M").astype(np.int64))
        shares.append((number, auth_ranks[keep], units[keep], amount[keep]))
    approved = per_client(
        {"month": np.concatenate([np.full(len(r), m, dtype=np.int64) for m, r, _, _ in shares])},
        np.concatenate([r for _, r, _, _ in shares]),
        {
            "units_approved": np.concatenate([u for _, _, u, _ in shares]),
            "amount_approved": np.concatenate([a for _, _, _, a in shares]),
        },
    )
    keys = ["month", CLIENT]
    table = approved.merge(used, on=keys, how="outer").merge(scheduled, on=keys, how="outer")
    table = table.sort_values(keys, ignore_index=True)
    return table[[*keys, *MONTHLY_SUMS]].fillna(0.0)


def monthly_table(parts: list[pd.DataFrame], end: date, as_of: date | None = None) -> pd.DataFrame:
    """The 12-month trend (see `monthly`) from the clients' shares (`monthly_parts` of
    disjoint sets of clients).
    """
    sums = over_clients(parts, ["month"], MONTHLY_SUMS)
    by_month = {
        column: dict(zip(sums["month"].tolist(), sums[column].tolist(), strict=True))
        for column in MONTHLY_SUMS
    }
    balance_day = as_of or end
    rows = []
    for first in trend_months(end):
        number = int(np.datetime64(first, "M").astype(np.int64))
        last = (pd.Timestamp(first) + pd.offsets.MonthEnd(0)).date()
        rows.append(
            {
                "month": f"{first:%Y-%m}",
                "units_approved": float(by_month["units_approved"].get(number, 0.0)),
                "units_used": int(by_month["units_used"].get(number, 0)),
                "amount_approved": float(by_month["amount_approved"].get(number, 0.0)),
                "amount_used": float(by_month["amount_used"].get(number, 0.0)),
                "units_scheduled": int(by_month["units_scheduled"].get(number, 0)),
                "partial": last > balance_day,
            }
        )
    return pd.DataFrame(rows)
