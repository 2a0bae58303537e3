"""Figures said in words: the revenue paragraph and the family's weekly pace sentence."""

from __future__ import annotations

import math
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd

from utilization.period import Period
from utilization.period import day_words as day_words  # the reports call it words.day_words
from utilization.report.tables import format_money

CENT = 0.005  # an amount below half a cent shows as $0.00: not worth a sentence


def period_words(period: Period) -> str:
    """The period as a reader says it: `Q1 2026`, `March 2026`, `2026`, or
    `1 Jan 2026 – 20 Feb 2026`.
    """
    label = period.label
    if "_" not in label:
        if "-Q" in label:
            year, quarter = label.split("-")
            return f"{quarter} {year}"
        if "-" in label:
            return f"{period.start:%B %Y}"
        return label
    return f"{day_words(period.start)} – {day_words(period.end)}"


def revenue_paragraph(
    revenue: pd.DataFrame,
    by_procedure: pd.DataFrame,
    period: Period,
    newest_payment: date | None = None,
) -> str:
    """Where the authorized dollars went, in a few plain sentences (data contract §12).

    `revenue`: the export's `revenue` rows (category, units, amount); `by_procedure`: its
    `revenue_by_procedure` rows (procedure_code, description, not_delivered_amount,
    not_delivered_clients). Sentences whose figures are $0.00 are left out. The service
    named is the procedure code with the most dollars not delivered: "most of it" when it
    holds more than half of them, "all of it" when all, else "the largest part".
    """
    amount = dict(zip(revenue["category"], revenue["amount"].astype(float), strict=True))
    approved, delivered = amount["approved"], amount["delivered"]
    when = period_words(period)
    if approved < CENT and delivered < CENT:
        return f"Nothing was authorized or delivered in {when}."
    sentences = [
        f"In {when}, {format_money(approved)} of services were authorized and "
        f"{format_money(delivered)} delivered."
    ]
    missing = amount["not_delivered"]
    if missing >= CENT:
        text = f"{format_money(missing)} of authorized services were not delivered"
        text += _largest_share(by_procedure, missing)
        sentences.append(text + ".")
    if amount["cancelled"] >= CENT:
        sentences.append(f"Visits worth {format_money(amount['cancelled'])} were cancelled.")
    risky = [
        f"{format_money(amount['unauthorized'])} was delivered without an authorization"
        if amount["unauthorized"] >= CENT
        else "",
        f"{format_money(amount['over_authorization'])} beyond the authorized units"
        if amount["over_authorization"] >= CENT
        else "",
    ]
    risky = [r for r in risky if r]
    if risky:
        sentences.append(" and ".join(risky) + ": payers may deny it.")
    recorded = []
    if amount["under_recorded"] >= CENT:
        recorded.append(f"Hand-rounded units cost {format_money(amount['under_recorded'])}")
    if amount["over_recorded"] >= CENT:
        over = format_money(amount["over_recorded"])
        recorded.append(
            f"{'u' if recorded else 'U'}nits recorded above the rule would overbill {over}"
        )
    if recorded:
        sentences.append("; ".join(recorded) + ".")
    paid = f"Insurance has paid {format_money(amount['insurance_paid'])} so far"
    if newest_payment is not None:
        paid += f" (newest payment {day_words(newest_payment)})"
    sentences.append(paid + ".")
    return " ".join(sentences)


def _largest_share(by_procedure: pd.DataFrame, missing: float) -> str:
    """`, most of it Habilitation for 6 clients` (see `revenue_paragraph`), or ''."""
    if by_procedure.empty:
        return ""
    ranked = by_procedure.sort_values(
        ["not_delivered_amount", "procedure_code"], ascending=[False, True]
    )
    top = ranked.iloc[0]
    amount = float(top["not_delivered_amount"])
    if amount < CENT:
        return ""
    name = top["description"] if isinstance(top["description"], str) else top["procedure_code"]
    clients = int(top["not_delivered_clients"])
    whom = f"{clients} client{'s' if clients != 1 else ''}"
    share = amount / missing
    if share > 1 - 1e-9:
        return f", all of it {name} for {whom}"
    if share > 0.5:
        return f", most of it {name} for {whom}"
    return f", the largest part {name} ({format_money(amount)} for {whom})"


def pace_sentence(
    units_per_week: float,
    remaining: float,
    description: str,
    end: Any,
    unit_minutes: int,
    after_balance: bool = False,
) -> str:
    """The weekly pace that uses an authorization's remaining units by its end date, e.g.
    `To use the remaining 48 units of Respite by 31 Mar 2026, about 4 units (1 h) a week.`
    `after_balance`: the sentence follows one that gave the units left, so it says `To use
    them by 31 Mar 2026, about 4 units (1 h) a week.`

    Units a week are rounded half up to whole units (below half a unit: "less than 1 unit
    a week"); the time beside them is those whole units × the unit's minutes. One unit per
    visit (unit_minutes 0) reads as visits. '' when there is no pace (none needed).
    """
    if units_per_week is None or math.isnan(units_per_week):
        return ""
    noun = "visit" if unit_minutes == 0 else "unit"
    whole = int(Decimal(repr(float(units_per_week))).quantize(Decimal("1"), ROUND_HALF_UP))
    if whole == 0:
        pace = f"less than 1 {noun} a week"
    else:
        time = f" ({hours_words(whole * unit_minutes / 60)})" if unit_minutes else ""
        pace = f"about {whole} {noun}{'s' if whole != 1 else ''}{time} a week"
    if after_balance:
        return f"To use them by {day_words(end)}, {pace}."
    left = f"{remaining:,.0f}" if float(remaining).is_integer() else f"{remaining:,.1f}"
    plural = "s" if remaining != 1 else ""
    what = f"the remaining {left} {noun}{plural} of {description}"
    return f"To use {what} by {day_words(end)}, {pace}."


def hours_words(hours: float) -> str:
    """Hours as `1 h`, `1 h 30 min`, `45 min`."""
    whole = int(hours)
    minutes = round((hours - whole) * 60)
    if minutes == 60:
        whole, minutes = whole + 1, 0
    if whole and minutes:
        return f"{whole} h {minutes} min"
    return f"{whole} h" if whole else f"{minutes} min"
