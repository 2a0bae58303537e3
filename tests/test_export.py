"""The JSON export is written in pieces, with the same characters as one `json.dumps`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from utilization import export, views
from utilization.dataset import Dataset
from utilization.parameters import Request
from utilization.period import Filters, Period
from utilization.pipeline import load

QUARTER = Period(date(2026, 1, 1), date(2026, 3, 31))


@pytest.fixture(scope="module")
def demo() -> Dataset:
    """The built-in demo agency, read, checked and matched."""
    return load("demo")


@pytest.mark.parametrize(
    ("view", "filters", "period"),
    [
        ("agency", Filters(), QUARTER),
        ("client", Filters(clients=("C0007",)), QUARTER),
        ("revenue", Filters(), QUARTER),
        ("authorizations", Filters(), Period(date(1990, 1, 1), date(1990, 3, 31))),  # no rows
    ],
)
def test_json_in_pieces_is_json_dumps_to_the_character(
    demo: Dataset, view: str, filters: Filters, period: Period, tmp_path: Path
) -> None:
    """Pieces of 7 rows, joined, are `json.dumps(to_jsonable(view), indent=2)`; the file
    written and the text for standard output are that text and a line end.
    """
    figures = views.build_view(demo, Request(view, period, filters))  # type: ignore[arg-type]
    whole = json.dumps(export.to_jsonable(figures), indent=2, ensure_ascii=False)
    assert "".join(export.json_pieces(figures, rows=7)) == whole
    assert export.write(figures, "json", None) == whole + "\n"
    export.write(figures, "json", tmp_path / "view.json")
    assert (tmp_path / "view.json").read_text(encoding="utf-8") == whole + "\n"
