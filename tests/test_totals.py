"""Sums per key and client (`totals.per_client`), on random data against a plain reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from utilization.totals import _sorted_codes, per_client

INTEGERS = st.sampled_from([np.int64, np.int32, np.uint64, np.uint8])


@settings(max_examples=200, deadline=None)
@given(INTEGERS.flatmap(lambda t: hnp.arrays(t, st.integers(0, 300))), st.booleans())
def test_sorted_codes_are_those_of_factorize_sorted(values: np.ndarray, wide: bool) -> None:
    """Counting (a small range of whole numbers) or hashing, the same codes and values."""
    if wide and len(values) and values.dtype.kind == "i":
        values = values.astype(np.int64) * 1_000_003  # a range too wide to count
    code, found = _sorted_codes(values)
    want_code, want_found = pd.factorize(values, sort=True)
    assert np.array_equal(code, want_code)
    assert np.array_equal(np.asarray(found), np.asarray(want_found))
    assert np.asarray(found).dtype == np.asarray(want_found).dtype


def test_sorted_codes_of_whole_numbers_near_the_ends_of_their_type() -> None:
    """Unsigned ids past the signed range, and the most negative ones, counted exactly."""
    top = np.iinfo(np.uint64).max
    for values in (
        np.array([top, top - 2, top, top - 1], dtype=np.uint64),
        np.array([np.iinfo(np.int64).min + 1, np.iinfo(np.int64).min], dtype=np.int64),
    ):
        code, found = _sorted_codes(values)
        want_code, want_found = pd.factorize(values, sort=True)
        assert np.array_equal(code, want_code)
        assert np.array_equal(found, want_found) and found.dtype == want_found.dtype


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-3, 40),  # a month number
            st.sampled_from(["", "P1", "P10", "P2"]),
            st.integers(-1, 5),  # a client rank (-1: none)
            st.integers(0, 50),
        ),
        max_size=60,
    )
)
def test_per_client_sums_each_key_and_client(rows: list[tuple[int, str, int, int]]) -> None:
    """One row per (month, payer, client) present, in key order, each the sum of its rows."""
    frame = pd.DataFrame(rows, columns=["month", "payer", "client", "units"])
    got = per_client(
        {"month": frame["month"].to_numpy(), "payer": frame["payer"].astype("str")},
        frame["client"].to_numpy(),
        {"units": frame["units"].to_numpy()},
    )
    want = (
        frame.groupby(["month", "payer", "client"])["units"]
        .sum()
        .astype(np.float64)
        .reset_index()
        .rename(columns={"client": "_client"})
    )
    assert got["month"].tolist() == want["month"].tolist()
    assert got["payer"].tolist() == want["payer"].tolist()
    assert got["_client"].tolist() == want["_client"].tolist()
    assert got["units"].tolist() == want["units"].tolist()
