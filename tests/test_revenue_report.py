"""The revenue waterfall, the revenue paragraph and the pace sentence (data contract §12, §13).

The hand-worked agency of test_contract_revenue (Q1 2025): approved 1,526.00, not delivered
1,114.50, delivered 511.50, unauthorized 98.00, over authorization 20.00, insurance paid
250.00.
"""

from __future__ import annotations

import re
from datetime import date
from html import unescape
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from contract_data import write_data
from test_contract_revenue import AUTHORIZATIONS, PAYMENTS, VISITS
from utilization import export
from utilization.demo import write_demo
from utilization.figures import ViewFigures
from utilization.parameters import Request
from utilization.period import Filters, Period
from utilization.pipeline import load
from utilization.report import charts
from utilization.report.tables import format_money
from utilization.report.words import pace_sentence, period_words, revenue_paragraph
from utilization.views import build_view

Q1 = Period(date(2025, 1, 1), date(2025, 3, 31))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_data(
        tmp_path_factory.mktemp("revenue-report") / "data",
        authorizations=AUTHORIZATIONS,
        visits=VISITS,
        payments=PAYMENTS,
    )


def figures(data: Path, period: Period = Q1, filters: Filters | None = None) -> ViewFigures:
    dataset = load(str(data))
    return build_view(dataset, Request("revenue", period, filters or Filters(), data=str(data)))


def svg_texts(svg: str) -> list[str]:
    """The text of every <text> element of an SVG, in document order."""
    return [unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def waterfall_labels(view: ViewFigures, visit_filters: bool = False) -> list[str]:
    """The dollar labels of the waterfall as drawn (SVG text that starts with $, - or +)."""
    assert view.revenue is not None
    svg = charts.to_svg(charts.revenue_waterfall(charts.revenue_steps(view.revenue, visit_filters)))
    return [t for t in svg_texts(svg) if re.fullmatch(r"[+-]?\$[\d,]+\.\d\d", t)]


def expected_labels(plain: dict[str, Any]) -> list[str]:
    """The waterfall's labels from the JSON export's revenue rows, by the arithmetic the chart
    states: approved, −not delivered, +beyond (delivered − approved + not delivered),
    delivered, −unauthorized, −over authorization, −not paid (delivered − unauthorized − over
    − paid), paid.
    """
    amount = {row["category"]: row["amount"] for row in plain["revenue"]}

    def change(value: float) -> str:
        cents = round(value * 100)
        return ("+" if cents > 0 else "") + format_money(cents / 100)

    approved, delivered, paid = amount["approved"], amount["delivered"], amount["insurance_paid"]
    missing, unauthorized = amount["not_delivered"], amount["unauthorized"]
    over = amount["over_authorization"]
    return [
        format_money(approved),
        change(-missing),
        change(delivered - (approved - missing)),
        format_money(delivered),
        change(-unauthorized),
        change(-over),
        change(paid - (delivered - unauthorized - over)),
        format_money(paid),
    ]


def test_the_waterfall_labels_are_the_json_figures(folder: Path) -> None:
    """Each bar's label in the SVG is the exported figure (totals, losses signed), and the
    two steps between them are the exported figures' differences.
    """
    view = figures(folder)
    plain = export.to_jsonable(view)
    labels = waterfall_labels(view)
    assert labels == expected_labels(plain)
    assert labels == [
        "$1,526.00", "-$1,114.50", "+$100.00", "$511.50", "-$98.00", "-$20.00", "-$143.50",
        "$250.00",
    ]  # fmt: skip


def test_the_waterfall_labels_are_the_json_figures_on_the_demo(tmp_path: Path) -> None:
    """The same on the demo agency's first quarter of 2026, with fractional approved dollars."""
    write_demo(tmp_path / "demo", clients=20, today=date(2026, 3, 20))
    view = figures(tmp_path / "demo", Period(date(2026, 1, 1), date(2026, 3, 31)))
    plain = export.to_jsonable(view)
    assert waterfall_labels(view) == expected_labels(plain)
    steps = charts.revenue_steps(view.revenue)  # type: ignore[arg-type]
    assert (steps["amount"].abs() > 0).all(), "every step of the demo's waterfall is visible"


def test_the_waterfall_adds_up_and_names_its_steps(folder: Path) -> None:
    """Each step starts where the previous bar ended; totals start at 0."""
    steps = charts.revenue_steps(figures(folder).revenue)  # type: ignore[arg-type]
    assert steps["label"].tolist() == list(charts.WATERFALL_LABELS.values())
    for before, after in zip(
        steps.iloc[:-1].itertuples(), steps.iloc[1:].itertuples(), strict=True
    ):
        if after.kind == "total":
            assert (after.start, after.end) == (0, before.end)
        else:
            assert after.start == before.end
            assert after.end - after.start == pytest.approx(after.amount)
    filtered = charts.revenue_steps(figures(folder).revenue, visit_filters=True)  # type: ignore[arg-type]
    assert filtered["label"].iloc[2] == charts.FILTERED_BEYOND


def test_the_revenue_paragraph_says_where_the_dollars_went(folder: Path) -> None:
    """Amounts to the cent; T2021 U4 (Day habilitation) holds 792.00 of the 1,114.50 not
    delivered, more than half, for one client (C2).
    """
    view = figures(folder)
    assert view.revenue is not None and view.revenue_by_procedure is not None
    text = revenue_paragraph(view.revenue, view.revenue_by_procedure, Q1, view.newest_payment_date)
    assert text == (
        "In Q1 2025, $1,526.00 of services were authorized and $511.50 delivered. "
        "$1,114.50 of authorized services were not delivered, most of it Day habilitation "
        "for 1 client. Visits worth $120.00 were cancelled. $98.00 was delivered without an "
        "authorization and $20.00 beyond the authorized units: payers may deny it. "
        "Hand-rounded units cost $11.50; units recorded above the rule would overbill $6.50. "
        "Insurance has paid $250.00 so far (newest payment 1 May 2025)."
    )


def test_the_revenue_paragraph_leaves_out_what_is_zero() -> None:
    """Only the figures that are not $0.00 are said; the largest share is named as such."""
    revenue = pd.DataFrame(
        {
            "category": ["approved", "delivered", "not_delivered", "cancelled", "unauthorized",
                         "over_authorization", "under_recorded", "over_recorded",
                         "insurance_paid"],
            "units": [10.0, 4.0, 6.0, 0.0, 0.0, 0.0, 0.0, 0.0, None],
            "amount": [100.0, 40.0, 60.0, 0.0, 0.0, 0.0, 0.004, 0.0, 0.0],
        }
    )  # fmt: skip
    by_procedure = pd.DataFrame(
        {
            "procedure_code": ["A", "B", "C"],
            "description": ["Respite", "Habilitation", None],
            "not_delivered_amount": [20.0, 25.0, 15.0],
            "not_delivered_clients": [1, 3, 1],
        }
    )
    text = revenue_paragraph(revenue, by_procedure, Period(date(2026, 3, 1), date(2026, 3, 31)))
    assert text == (
        "In March 2026, $100.00 of services were authorized and $40.00 delivered. $60.00 of "
        "authorized services were not delivered, the largest part Habilitation ($25.00 for 3 "
        "clients). Insurance has paid $0.00 so far."
    )
    nothing = revenue.assign(amount=0.0)
    assert revenue_paragraph(nothing, by_procedure, Q1) == (
        "Nothing was authorized or delivered in Q1 2025."
    )


@pytest.mark.parametrize(
    ("period", "words"),
    [
        (Period(date(2026, 1, 1), date(2026, 3, 31)), "Q1 2026"),
        (Period(date(2026, 3, 1), date(2026, 3, 31)), "March 2026"),
        (Period(date(2026, 1, 1), date(2026, 12, 31)), "2026"),
        (Period(date(2026, 1, 5), date(2026, 2, 20)), "5 Jan 2026 – 20 Feb 2026"),
    ],
)
def test_periods_in_words(period: Period, words: str) -> None:
    """A quarter, a month and a year by name; other periods by their days."""
    assert period_words(period) == words


@pytest.mark.parametrize(
    ("per_week", "remaining", "minutes", "sentence"),
    [
        # 48 units over 12 weeks: 4 a week, 4 x 15 min = 1 h.
        (4.0, 48, 15, "about 4 units (1 h) a week"),
        # 7.5 rounds half up to 8 units: 8 x 15 min = 2 h.
        (7.5, 30, 15, "about 8 units (2 h) a week"),
        (7.4, 30, 15, "about 7 units (1 h 45 min) a week"),
        (0.6, 3, 15, "about 1 unit (15 min) a week"),
        (0.49, 1, 15, "less than 1 unit a week"),
        # One unit per visit: visits, no time.
        (2.0, 8, 0, "about 2 visits a week"),
    ],
)
def test_the_pace_sentence_rounds_to_whole_units(
    per_week: float, remaining: float, minutes: int, sentence: str
) -> None:
    """Units a week rounded half up to whole units, and the time of those whole units."""
    text = pace_sentence(per_week, remaining, "Respite", date(2026, 3, 31), minutes)
    assert text.endswith(f", {sentence}.")
    assert text.startswith("To use the remaining ")
    assert "of Respite by 31 Mar 2026" in text


def test_the_pace_sentence_of_the_seed() -> None:
    """The issue's example, word for word."""
    assert pace_sentence(4.0, 48, "Respite", date(2026, 3, 31), 15) == (
        "To use the remaining 48 units of Respite by 31 Mar 2026, about 4 units (1 h) a week."
    )
    assert pace_sentence(float("nan"), 0, "Respite", date(2026, 3, 31), 15) == ""
    assert pace_sentence(4.0, 48, "Respite", date(2026, 3, 31), 15, after_balance=True) == (
        "To use them by 31 Mar 2026, about 4 units (1 h) a week."
    )
