"""The JSON export written by column (`export.json_pieces`) is, to the character, the JSON of
the rows rounded value by value (`export._plain`) as `json.dumps(indent=2)` writes it.
"""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from utilization import export
from utilization.figures import ViewFigures
from utilization.period import Period

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.sampled_from(
    [0.005, 0.015, 2.675, 1.0000499999, 1.00005, -0.0, 12.0, 1e16, 1e-7, 0.125]
)
MONEY = st.floats(-1e7, 1e7) | st.sampled_from([math.nan, math.inf, 0.005, 2.675, -0.015])
"""Amounts: validation bounds them to $1,000,000 (data contract §2); sums stay far below 1e26,
where cents no longer fit a Decimal's precision."""


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    """A frame with a column of each kind the views give: money, units, shares, counts,
    flags, dates (with NaT), text (with missing values, quotes, line breaks, non-ASCII) and
    mixed Python objects.
    """
    n = draw(st.integers(0, 7))
    floats = st.lists(FLOATS, min_size=n, max_size=n)
    days = st.lists(
        st.none() | st.dates(date(1900, 1, 1), date(2199, 12, 31)), min_size=n, max_size=n
    )
    objects = st.lists(
        st.none() | TEXT | st.integers(-(10**6), 10**6) | FLOATS | st.dates(), min_size=n,
        max_size=n,
    )  # fmt: skip
    texts = st.lists(st.none() | TEXT, min_size=n, max_size=n)
    return pd.DataFrame(
        {
            "amount_used": pd.Series(
                draw(st.lists(MONEY, min_size=n, max_size=n)), dtype="float64"
            ),
            "units_used": pd.Series(draw(floats), dtype="float64"),
            "used_share": pd.Series(draw(floats), dtype="float64"),
            "visits": pd.Series(
                draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n)),
                dtype="int64",
            ),
            "partial": pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool),
            "service_date": pd.to_datetime(pd.Series(draw(days), dtype="object")),
            "client_name": pd.Series(draw(texts), dtype="str"),
            "detail": pd.Series(draw(objects), dtype="object"),
        }
    )


def _reference(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows rounded value by value, the definition the column code must match."""
    columns = list(frame.columns)
    values = [frame[c].tolist() for c in columns]
    return [
        {c: export._plain(v, c) for c, v in zip(columns, row, strict=True)}
        for row in zip(*values, strict=True)
    ]


def _view(flags: pd.DataFrame) -> ViewFigures:
    empty = pd.DataFrame()
    return ViewFigures(
        view="agency",
        period=Period(date(2026, 1, 1), date(2026, 3, 31)),
        as_of=date(2026, 2, 16),
        basis="prorated",
        filters={},
        source="test",
        newest_payment_date=None,
        kpis={"units_used": 1.5},
        by_procedure=empty,
        by_client=empty,
        monthly=empty,
        detail=empty,
        authorizations=empty,
        flags=flags,
        rounding_rules=empty,
        rejects=empty,
        row_counts=empty,
    )


@settings(max_examples=300, deadline=None)
@given(frames(), st.integers(1, 4))
def test_json_by_column_is_the_json_of_the_rounded_rows(frame: pd.DataFrame, rows: int) -> None:
    """Any frame, in blocks of any size: the same text as `json.dumps` of the rows rounded
    one value at a time, and `rounded_records` gives those rows.
    """
    view = _view(frame)
    expected = json.dumps(
        {k: _reference(v) if k == "flags" else export._jsonable(k, v) for k, v in view.items()},
        indent=2,
        ensure_ascii=False,
    )
    assert "".join(export.json_pieces(view, rows=rows)) == expected
    assert json.dumps(export.rounded_records(frame, "flags")) == json.dumps(_reference(frame))


def test_rounding_at_the_edges_of_each_kind() -> None:
    """Money half up to cents (2.675 -> 2.68, 0.005 -> 0.01), units whole when whole (12.0
    -> 12) else to 4 decimals (1.00005 -> 1.0001), shares to 4 decimals, NaN and NaT as null,
    infinity as JSON's Infinity, dates as YYYY-MM-DD.
    """
    frame = pd.DataFrame(
        {
            "amount_used": [2.675, 0.005, math.nan],
            "units_used": [12.0, 1.00005, math.inf],
            "used_share": [0.33333, -0.0, 1.0],
            "service_date": pd.to_datetime(["2026-02-16 13:45", None, "1900-01-01 00:00"]),
            "client_name": pd.Series(['Ana "A"', None, "Zoë\n"], dtype="str"),
        }
    )
    text = export._records_json(frame, "flags")
    rows = json.loads("[" + text.replace("Infinity", '"inf"') + "]")
    assert [list(r.values()) for r in rows] == [
        [2.68, 12, 0.3333, "2026-02-16", 'Ana "A"'],
        [0.01, 1.0001, -0.0, None, None],
        [None, "inf", 1.0, "1900-01-01", "Zoë\n"],
    ]
    assert '"units_used": 12,' in text and '"units_used": Infinity' in text
