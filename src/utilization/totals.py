"""Totals over clients: each client's sum first, then the clients' sums in client order.

A figure that adds up rows of several clients (units used per month, amounts per fieldworker
or payer) is summed in two steps: `per_client` sums each client's rows (in the order of the
frame) into one row per key and client; `over_clients` adds those rows up per key, clients in
`client_id` order. Floating-point addition depends on its order, and this order does not
depend on how the clients are split: the figures of a data set cut into parts by client
(`partitions`) are the figures of the whole, to the last bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from utilization.dataset import Dataset, catalog_rows, positions

IntArray = npt.NDArray[np.int64]
ArrayLike = npt.ArrayLike | pd.Series
CLIENT = "_client"
"""The column of a per-client frame holding the client's rank (its place in client_id order)."""


def client_ranks(dataset: Dataset, table: str) -> IntArray:
    """The rank of the client of each row of `table` ("visits" or "authorizations") among
    the catalog's clients in `client_id` order (computed once per dataset).
    """
    frame: pd.DataFrame = getattr(dataset, table)
    return dataset.derived(
        f"client_ranks:{table}",
        (frame, dataset.clients),
        lambda: _catalog_ranks(dataset)[catalog_rows(dataset, table, "client_id")],
    )


def ranks_of(dataset: Dataset, client_ids: pd.Series) -> IntArray:
    """The rank of each client id among the catalog's clients in `client_id` order (-1: an id
    the catalog does not have).
    """
    return _catalog_ranks(dataset)[positions(client_ids, dataset.clients["client_id"])]


def _catalog_ranks(dataset: Dataset) -> IntArray:
    """The rank of each catalog client in `client_id` order, then -1 (read at row -1)."""
    catalog = dataset.clients

    def rank() -> IntArray:
        order = np.argsort(np.asarray(catalog["client_id"].to_numpy(dtype=object), dtype=str))
        ranks = np.empty(len(catalog) + 1, dtype=np.int64)
        ranks[order] = np.arange(len(catalog), dtype=np.int64)
        ranks[-1] = -1  # where positions answers -1
        return ranks

    return dataset.derived("client_ranks", (catalog,), rank)


def per_client(
    keys: dict[str, ArrayLike], clients: IntArray, values: dict[str, ArrayLike]
) -> pd.DataFrame:
    """Sums of `values` per key and client: one row per (keys..., client) that has rows.

    `keys` and `values` are columns of equal length (arrays or Series; keys without missing
    values), `clients` the rank of each row's client (`client_ranks`). Each group's values
    are added one after the other in row order, whatever the number of groups. Grain: one row
    per combination of the keys and the client, in key order; columns: the keys, `_client`,
    the values (float64; whole numbers stay exact up to 2**53).
    """
    clients = np.asarray(clients, dtype=np.int64)
    width = int(clients.max()) + 2 if len(clients) else 1  # ranks from -1
    combined = clients + 1
    size = width
    uniques: list[npt.NDArray[Any]] = []
    for column in keys.values():  # the first key varies slowest
        code, found = _sorted_codes(_plain(column))
        uniques.append(np.asarray(found))
        combined = combined + code.astype(np.int64) * size
        size *= max(len(found), 1)
    if size <= max(4 * len(combined), 1 << 20):  # few combinations: a bin for each
        group, present = combined, None
        bins = size
    else:  # a bin per combination present, numbered as met (the rows are sorted below)
        group, present = pd.factorize(combined)
        bins = len(present)
    used = np.flatnonzero(np.bincount(group, minlength=bins))
    rows = used if present is None else present[used]
    out: dict[str, object] = {}
    place = width
    for name, found in zip(keys, uniques, strict=True):
        count = max(len(found), 1)
        out[name] = found[(rows // place) % count] if len(found) else found
        place *= count
    out[CLIENT] = rows % width - 1
    for name, column in values.items():
        weights = np.asarray(_plain(column), dtype=np.float64)
        out[name] = np.bincount(group, weights=weights, minlength=bins)[used].astype(np.float64)
    frame = pd.DataFrame(out)
    return frame.sort_values([*keys, CLIENT], kind="stable", ignore_index=True)


def _sorted_codes(values: Any) -> tuple[npt.NDArray[np.intp], Any]:
    """`pd.factorize(values, sort=True)`: each value's place among the distinct values in
    order, and those values. Whole numbers within a small range (months, days) are placed
    by counting, without hashing and sorting millions of them.
    """
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu" and len(values):
        low = int(values.min())
        span = int(values.max()) - low + 1
        if span <= max(len(values), 1 << 16):
            base = values.dtype.type(low)
            offset = (values - base).astype(np.intp)  # in the values' own type: no overflow
            present = np.zeros(span, dtype=bool)
            present[offset] = True
            place = np.cumsum(present) - 1
            found = np.flatnonzero(present).astype(values.dtype) + base
            return place[offset], found
    return pd.factorize(values, sort=True)


def over_clients(parts: list[pd.DataFrame], keys: list[str], values: list[str]) -> pd.DataFrame:
    """The per-client sums of `parts` (frames of `per_client` over disjoint sets of clients)
    added up per key, clients in `client_id` order. Grain: one row per key; columns: the keys,
    then the values.
    """
    rows = join(parts)
    rows = rows.sort_values([*keys, CLIENT], kind="stable")
    return rows.groupby(keys, sort=True, dropna=False)[values].sum().reset_index()


def join(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The rows of frames made alike (same columns), one after the other; the first frame
    itself when only one has rows (no copy, its dtypes kept).
    """
    full = [p for p in parts if len(p)]
    if not full:
        return parts[0]
    if len(full) == 1:
        return full[0]
    return pd.concat(full, ignore_index=True)


def _plain(values: Any) -> Any:
    """A column as given, without its index (so that the frame lines up by position)."""
    if isinstance(values, pd.Series):
        return values.to_numpy() if values.dtype != "str" else values.reset_index(drop=True)
    return values
