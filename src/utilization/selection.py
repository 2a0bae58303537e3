"""The visits one request covers: service date in the period and every filter, chosen once."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from utilization.dataset import VISIT_KEYS, Dataset, has_status
from utilization.period import Filters, Period

Basis = Literal["prorated", "full"]
BASES: tuple[str, ...] = ("prorated", "full")

BoolArray = npt.NDArray[np.bool_]


@dataclass
class Selection:
    """One request's period and filters over a dataset, with the visits they cover.

    The mask of visits whose service date is in the period and that pass the client,
    procedure, payer, provider and case type filters is computed once, on first use; each
    figure then narrows it by status and billable (`visits`) without scanning the filters
    again. `as_of` is the balance date (data contract §6), `basis` that of units approved (§5).
    """

    dataset: Dataset
    period: Period
    filters: Filters
    as_of: date
    basis: Basis = "prorated"
    _in_period: BoolArray | None = field(default=None, repr=False)
    _status: dict[str, BoolArray] = field(default_factory=dict, repr=False)
    memo: dict[str, Any] = field(default_factory=dict, repr=False)
    """Figures more than one figure function reads, computed once (`figures.once`)."""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    """Held while `memo` is looked up (figures are computed on several threads)."""

    @property
    def in_period(self) -> BoolArray:
        """Visits (any status) in the period passing every filter but `billable`."""
        if self._in_period is None:
            self._in_period = period_mask(self.dataset, self.period, self.filters)
        return self._in_period

    def mask(self, status: str = "completed", billable_default: bool | None = True) -> BoolArray:
        """Visits of one status in the period passing the filters, as a boolean array.

        `filters.billable` chooses billable or non-billable visits; when it is not set,
        `billable_default` does (None: both).
        """
        visits = self.dataset.visits
        if status not in self._status:
            self._status[status] = has_status(self.dataset, status)
        mask = self.in_period & self._status[status]
        wanted = self.filters.billable if self.filters.billable is not None else billable_default
        if wanted is not None:
            billable = visits["billable"].to_numpy(dtype=bool)
            mask = mask & (billable if wanted else ~billable)
        return mask

    def visits(
        self,
        status: str = "completed",
        billable_default: bool | None = True,
        columns: list[str] | None = None,
    ) -> pd.DataFrame:
        """The visits of `mask`. Grain: one row per visit. `columns`: only these columns
        (default all), so that no other column of millions of visits is copied.
        """
        visits = self.dataset.visits
        if columns is not None:
            visits = visits[columns]
        return filtered(visits, self.mask(status, billable_default))


def filtered(frame: pd.DataFrame, mask: BoolArray) -> pd.DataFrame:
    """`frame[mask]`, column by column: a text column of several Arrow chunks is filtered
    chunk by chunk (pandas takes rows of it by position, for which Arrow first joins the
    chunks: a copy of millions of values per column).
    """
    index = frame.index[mask]
    columns = {
        name: pd.Series(frame[name].array[mask], index=index, name=name, copy=False)
        for name in frame.columns
    }
    return pd.DataFrame(columns, index=index, copy=False)


def period_mask(dataset: Dataset, period: Period, filters: Filters) -> BoolArray:
    """Visits whose service date is in `period` and that pass the filters (but `billable`)."""
    visits = dataset.visits
    day = visits["service_date"].to_numpy()  # datetime64, compared as it is: no copy
    mask = (day >= np.datetime64(period.start)) & (day <= np.datetime64(period.end))
    mask &= filters.visit_mask(visits, visits["payer_effective"])
    result: BoolArray = np.asarray(mask, dtype=bool)
    return result


def without_visit_filters(selection: Selection) -> Selection:
    """The same request without the filters that describe visits only (provider, case type,
    billable): what authorized capacity and its use are measured on (data contract §12).

    The client, procedure and payer filters stay; the selection is `selection` itself when
    none of the three is set.
    """
    filters = selection.filters
    if not (filters.providers or filters.case_types or filters.billable is not None):
        return selection
    cleared = Filters(clients=filters.clients, procedures=filters.procedures, payers=filters.payers)
    return Selection(selection.dataset, selection.period, cleared, selection.as_of, selection.basis)


def visit_keys(dataset: Dataset) -> npt.NDArray[np.int64]:
    """Where each visit comes in the order of the source (rising with the frame's rows): what
    puts the visits of several sets of clients back in order. The visits' positions unless
    the dataset says otherwise (`partitions` gives each part's visits their source rows).
    """
    visits = dataset.visits
    return dataset.derived(VISIT_KEYS, (visits,), lambda: np.arange(len(visits), dtype=np.int64))
