"""HTML tables and KPI cards: escaped values, stable markup, numbers right-aligned."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

Formatter = Callable[[object], str]
MISSING = "—"
KPI_CARDS: tuple[tuple[str, str, str], ...] = (
    # (key, label, kind): kind says how the value is shown
    ("units_approved", "Units approved", "units"),
    ("units_used", "Units used", "units"),
    ("units_remaining", "Units remaining", "units"),
    ("units_scheduled", "Units scheduled", "units"),
    ("amount_approved", "Amount approved", "money"),
    ("amount_used", "Amount used", "money"),
    ("amount_remaining", "Amount remaining", "money"),
    ("utilization", "Utilization", "percent"),
)


DIRECTION_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
"""Unicode's explicit direction controls (embeddings, overrides, isolates and their ends)."""


def plain_direction(text: str) -> str:
    """`text` without explicit direction controls. A name or description from the data that
    holds one (an override left open: U+202E) would turn the rest of its line around on the
    page, ids, dates and units included ("02" for 20); without them right-to-left scripts
    still read right to left (the bidirectional algorithm needs no control), and each value
    stays in its place. The page's own text holds none.
    """
    return text.translate(DIRECTION_CONTROLS)


def format_money(value: object) -> str:
    """Dollars rounded to cents once, here at the edge, half up: 2.675 -> "$2.68";
    1234.5 -> "$1,234.50"; -3 -> "-$3.00"; missing -> "—".
    """
    number = _number(value)
    if number is None:
        return MISSING
    cents = Decimal(repr(number)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents):,.2f}"


def format_units(value: object, decimals: int | None = None) -> str:
    """Units to `decimals` places; by default whole numbers as "1,234" and fractions
    (prorated units approved) to 1 place: 309.677 -> "309.7".
    """
    number = _number(value)
    if number is None:
        return MISSING
    if decimals is None:
        decimals = 0 if number.is_integer() else 1
    if round(number, decimals) == 0:
        number = 0.0  # what rounds to zero shows as 0, never "-0.0"
    return f"{number:,.{decimals}f}"


def format_percent(value: object) -> str:
    """A share as a percentage to 1 place: 0.1234 -> "12.3 %"; none -> "—"."""
    number = _number(value)
    if number is None:
        return MISSING
    return f"{number * 100:,.1f} %"


def kpi_cards(kpis: Mapping[str, Any]) -> str:
    """KPI cards for one period: units and amounts approved / used / remaining, scheduled,
    utilization. Remaining figures are approved - used when `kpis` does not give them.
    """
    values = dict(kpis)
    for kind in ("units", "amount"):
        key = f"{kind}_remaining"
        if key not in values:
            values[key] = _difference(values.get(f"{kind}_approved"), values.get(f"{kind}_used"))
    cards = [
        _card(key, label, _format(kind, values.get(key)))
        for key, label, kind in KPI_CARDS
        if key in values
    ]
    return f'<div class="kpi-cards">\n{"".join(cards)}</div>\n'


def cards(items: Sequence[tuple[str, str]]) -> str:
    """Cards of (label, value as shown), in order: the look of `kpi_cards` for any figures."""
    shown = [_card(f"card-{i}", label, value) for i, (label, value) in enumerate(items)]
    return f'<div class="kpi-cards">\n{"".join(shown)}</div>\n'


def table(
    frame: pd.DataFrame,
    columns: Sequence[str] | Mapping[str, str] | None = None,
    money: Sequence[str] = (),
    units: Sequence[str] = (),
    percent: Sequence[str] = (),
    caption: str | None = None,
) -> str:
    """An HTML table of `frame`, one <tr> per frame row (the frame's own grain).

    `columns`: names to show in order, or a mapping name -> header label (default: all
    columns, headers from the names). `money` columns show dollars to cents; `units`
    columns whole numbers, or 1 decimal place for the whole column when any value is
    fractional (prorated); `percent` columns a share as "12.3 %". Numbers are
    right-aligned; every value and header is HTML-escaped.
    """
    labels = _labels(frame, columns)
    _require(frame, [*labels, *money, *units, *percent])
    formats: dict[str, Formatter] = {c: format_money for c in money}
    formats.update({c: format_percent for c in percent})
    formats.update({c: _units_formatter(frame[c]) for c in units})
    classes = {c: _css_class(frame[c], c in formats) for c in labels}
    head = "".join(_th(label, classes[name]) for name, label in labels.items())
    body = "".join(_tr(frame, row, labels, classes, formats) for row in range(len(frame)))
    if not body:
        span = len(labels)
        body = f'<tr><td class="empty" colspan="{span}">No rows for this period</td></tr>'
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (
        f'<div class="table-wrap"><table class="report-table">{cap}'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody></table></div>\n"
    )


def display_html(*fragments: str) -> None:
    """Display HTML fragments (from this module) as one text/html output in a notebook."""
    from IPython.display import display

    display({"text/html": "".join(fragments)}, raw=True)


def _card(key: str, label: str, value: str) -> str:
    return (
        f'<div class="kpi-card kpi-{key.replace("_", "-")}">'
        f'<div class="kpi-label">{escape(label)}</div>'
        f'<div class="kpi-value">{escape(value)}</div></div>\n'
    )


def _format(kind: str, value: object) -> str:
    if kind == "money":
        return format_money(value)
    if kind == "percent":
        return format_percent(value)
    return format_units(value)


def _units_formatter(series: pd.Series) -> Formatter:
    """One number of decimals for a whole column, so that its figures line up."""
    values = pd.to_numeric(series, errors="coerce").dropna().to_numpy(dtype=float)
    decimals = 0 if all(v.is_integer() for v in values) else 1
    return lambda value: format_units(value, decimals)


def _tr(
    frame: pd.DataFrame,
    row: int,
    labels: Mapping[str, str],
    classes: Mapping[str, str],
    formats: Mapping[str, Formatter],
) -> str:
    cells = []
    for name in labels:
        text = formats.get(name, _text)(frame[name].iat[row])
        cls = f' class="{classes[name]}"' if classes[name] else ""
        cells.append(f"<td{cls}>{breakable(text)}</td>")
    return f"<tr>{''.join(cells)}</tr>\n"


LONG_WORD, WORD_PIECE = 32, 16
"""A run of more than `LONG_WORD` characters without a space (a name or code from the data)
gets a break opportunity every `WORD_PIECE` characters (`breakable`)."""
_LONG_RUN = re.compile(rf"\S{{{LONG_WORD + 1},}}")


def breakable(text: str) -> str:
    """`text` escaped for HTML, a long run without a space cut by `<wbr>` every `WORD_PIECE`
    characters: a table column holding one can be narrow, and a printed table keeps its
    numbers on the page, where the run alone would widen it past the edge. Shorter words
    are left whole (no column breaks them).
    """
    out, at = [], 0
    for found in _LONG_RUN.finditer(text):
        out.append(escape(text[at : found.start()]))
        run = found.group()
        out.append(
            "<wbr>".join(escape(run[i : i + WORD_PIECE]) for i in range(0, len(run), WORD_PIECE))
        )
        at = found.end()
    out.append(escape(text[at:]))
    return "".join(out)


def _th(label: str, css_class: str) -> str:
    cls = f' class="{css_class}"' if css_class else ""
    return f'<th scope="col"{cls}>{escape(label)}</th>'


def _text(value: object) -> str:
    """Any other value: dates as YYYY-MM-DD, whole floats without ".0", missing as "—"."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if value is pd.NA:
        return MISSING
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if _is_midnight(value) else value.isoformat()
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, Integral):
        return f"{int(value):,}"
    if isinstance(value, Real):
        return f"{float(value):,.4f}".rstrip("0").rstrip(".")
    return str(value)


def _is_midnight(value: pd.Timestamp) -> bool:
    return bool(value == value.normalize()) and value.tzinfo is None


def _number(value: object) -> float | None:
    if value is None or value is pd.NA or value is pd.NaT or isinstance(value, bool | np.bool_):
        return None
    if not isinstance(value, Real):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _difference(first: object, second: object) -> float | None:
    a, b = _number(first), _number(second)
    return None if a is None or b is None else a - b


def _labels(
    frame: pd.DataFrame, columns: Sequence[str] | Mapping[str, str] | None
) -> dict[str, str]:
    if columns is None:
        columns = [str(c) for c in frame.columns]
    if isinstance(columns, Mapping):
        return dict(columns)
    return {name: _header(name) for name in columns}


def _header(name: str) -> str:
    """Column name to header: "units_approved" -> "Units approved", "client_id" -> "Client ID"."""
    words = name.split("_")
    words = ["ID" if w == "id" else w for w in words]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _css_class(series: pd.Series, formatted: bool) -> str:
    """ "num" (right-aligned) for numbers, "date" (kept on one line) for dates, else none."""
    types = pd.api.types
    if formatted or (types.is_numeric_dtype(series) and not types.is_bool_dtype(series)):
        return "num"
    if types.is_datetime64_any_dtype(series):
        return "date"
    return ""


def _require(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in dict.fromkeys(columns) if c not in frame.columns]
    if missing:
        msg = (
            f"columns {missing} not in frame. Columns in frame: {list(frame.columns)}. "
            "Check the `columns`, `money` and `units` arguments."
        )
        raise ValueError(msg)
