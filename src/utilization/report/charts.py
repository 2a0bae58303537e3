"""Altair charts of the export frames, rendered offline to SVG."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, cast

import altair as alt
import pandas as pd
import vl_convert as vlc

from utilization.export import round_money
from utilization.report.tables import format_money, plain_direction

FONT = "Liberation Sans, Arial, Helvetica, sans-serif"
THEME_NAME = "utilization"
NO_DATA = "No data for this period"
WIDTH = 520
ROW_STEP = 34  # pixels per row of a bar chart: its height grows with the rows
LABEL_CHARS = 48  # longer row labels are shortened here: Vega's own truncation is slow

APPROVED_COLOUR = "#9ecae1"
USED_COLOUR = "#1f4e8c"
SCHEDULED_COLOUR = "#5b9bd5"
UNSCHEDULED_COLOUR = "#dde3ea"
PAID_COLOUR = "#2e7d32"
STATUS_COLOURS = {
    "exhausted": "#b71c1c",
    "limit reached": "#ad1457",
    "at risk": "#d35400",
    "under-used": "#6a1b9a",
    "expiring": "#b7791f",
    "expired": "#616161",
    "ok": "#2e7d32",
}

ChartLike = alt.Chart | alt.LayerChart | alt.HConcatChart | alt.VConcatChart
By = Literal["procedure_code", "client_name"]


def theme_config() -> dict[str, Any]:
    """Return the chart configuration: explicit font, quiet axes, legend on top."""
    return {
        "config": {
            "font": FONT,
            "background": "white",
            "padding": 8,
            "view": {"stroke": None, "continuousWidth": WIDTH, "continuousHeight": 260},
            "title": {
                "font": FONT,
                "fontSize": 14,
                "anchor": "start",
                "color": "#1b1f24",
                "subtitleFont": FONT,
                "subtitleColor": "#5f6670",
            },
            "axis": {
                "labelFont": FONT,
                "titleFont": FONT,
                "labelFontSize": 11,
                "titleFontSize": 11,
                "labelColor": "#33383d",
                "titleColor": "#33383d",
                "gridColor": "#e6e9ed",
                "domainColor": "#9aa1a9",
                "tickColor": "#9aa1a9",
            },
            "legend": {
                "labelFont": FONT,
                "titleFont": FONT,
                "labelFontSize": 11,
                "orient": "top",
                "direction": "horizontal",
                "title": None,
                "labelLimit": 0,
            },
            "text": {"font": FONT, "fontSize": 11},
        }
    }


def use_theme() -> None:
    """Register the package's Altair theme (explicit font) and enable it."""
    _register_theme()
    alt.theme.enable(THEME_NAME)


_registered: list[bool] = []


def _register_theme() -> None:
    """Register the theme once per process: `alt.theme.names()` reads every installed
    package's entry points (about 8 ms a call, three calls a report).
    """
    if not _registered:
        if THEME_NAME not in alt.theme.names():
            alt.theme.register(THEME_NAME, enable=False)(_theme)
        _registered.append(True)


def _theme() -> alt.theme.ThemeConfig:
    return cast("alt.theme.ThemeConfig", theme_config())


def _tips(*fields: str | alt.Tooltip) -> list[alt.Tooltip]:
    """Tooltip channels: a shorthand given as text becomes `alt.Tooltip` here, which Altair
    would otherwise build through `from_dict`, hashing its whole schema on every call.
    """
    return [alt.Tooltip(f) if isinstance(f, str) else f for f in fields]


def _spec(chart: ChartLike) -> dict[str, Any]:
    """The chart's Vega-Lite spec made under the package theme, whatever theme is enabled.

    Another theme (Altair's default adds its own `view` config) would otherwise decide
    details such as the view's border, and the same chart would render differently
    depending on what ran before in the process.
    """
    _register_theme()
    with alt.theme.enable(THEME_NAME):
        return chart.to_dict(validate=False)  # validated by the tests (test_charts)


def to_svg(chart: ChartLike) -> str:
    """Render a chart to SVG with vl-convert: no JavaScript, no network, same bytes each run."""
    return _spec_to_svg(_spec(chart))


def show(chart: ChartLike) -> None:
    """Display a chart in a notebook as SVG only (never the Vega mimetype)."""
    from IPython.display import display

    spec = _spec(chart)
    bundle = {"image/svg+xml": _spec_to_svg(spec), "text/plain": _title_text(spec)}
    display(bundle, raw=True)


def _spec_to_svg(spec: dict[str, Any]) -> str:
    """The theme's config fills in whatever the spec does not set (theme enabled or not)."""
    spec = {**spec, "config": {**theme_config()["config"], **spec.get("config", {})}}
    svg: str = vlc.vegalite_to_svg(spec, allowed_base_urls=[])
    return plain_direction(svg)  # labels from the data: no override turns one around


def approved_vs_used(
    frame: pd.DataFrame, by: By = "procedure_code", title: str | None = None
) -> ChartLike:
    """Horizontal grouped bars of units approved (light) and used (dark) per row.

    `frame`: one row per procedure code (`by_procedure`) or per client (`by_client`),
    with `by`, `units_approved`, `units_used` (and `description`, shown after the code
    when present). The chart grows `ROW_STEP` pixels a row.
    """
    label = "procedure code" if by == "procedure_code" else "client"
    title = title or f"Units approved and units used by {label}"
    _require(frame, [by, "units_approved", "units_used"])
    if frame.empty:
        return no_data(title)
    rows = frame[[by, "units_approved", "units_used"]].copy()
    rows[by] = _row_labels(frame, by)
    rows = rows.fillna({"units_approved": 0.0, "units_used": 0.0})
    order = rows.sort_values(["units_approved", by], ascending=[False, True])[by].tolist()
    long = _long(rows, by, {"units_approved": "Units approved", "units_used": "Units used"})
    y = alt.Y(f"{by}:N", sort=order, title=None, axis=_label_axis())
    colour = _colour(["Units approved", "Units used"], [APPROVED_COLOUR, USED_COLOUR])
    base = alt.Chart(long).encode(
        y=y, yOffset=alt.YOffset("measure:N", sort=["Units approved", "Units used"])
    )
    bars = base.mark_bar(height={"band": 0.9}).encode(
        x=alt.X("units:Q", title="Units", axis=alt.Axis(tickMinStep=1), scale=_zero_based(long)),
        color=colour,
        tooltip=_tips(f"{by}:N", "measure:N", alt.Tooltip("units:Q", format=",.1f")),
    )
    text = base.mark_text(align="left", dx=3, fontSize=10, color="#33383d").encode(
        x=alt.X("units:Q"), text=alt.Text("units:Q", format=",.1~f")
    )
    chart: alt.LayerChart = (bars + text).properties(title=title, width=WIDTH, height=_height(rows))
    return chart


def monthly_trend(frame: pd.DataFrame, title: str = "Units over 12 months") -> ChartLike:
    """Two lines, units approved and units used per month.

    `frame`: one row per calendar month (`monthly`): `month` (YYYY-MM),
    `units_approved`, `units_used`.
    """
    _require(frame, ["month", "units_approved", "units_used"])
    if frame.empty:
        return no_data(title)
    if "partial" in frame.columns and frame["partial"].fillna(False).astype(bool).any():
        return _trend_to_date(frame, title)
    rows = frame[["month", "units_approved", "units_used"]].sort_values("month").copy()
    rows = rows.fillna({"units_approved": 0.0, "units_used": 0.0})
    rows["label"] = pd.to_datetime(rows["month"], format="%Y-%m").dt.strftime("%b %Y")
    long = _long(rows, "label", {"units_approved": "Units approved", "units_used": "Units used"})
    x = alt.X("label:O", sort=rows["label"].tolist(), title=None, axis=alt.Axis(labelAngle=-40))
    colour = _colour(["Units approved", "Units used"], [APPROVED_COLOUR, USED_COLOUR])
    y = alt.Y("units:Q", title="Units", scale=_zero_based(long), axis=alt.Axis(tickMinStep=1))
    base = alt.Chart(long).encode(x=x, y=y, color=colour)
    lines = base.mark_line(strokeWidth=2.5, point=alt.OverlayMarkDef(size=45, filled=True))
    tips = base.mark_point(opacity=0).encode(
        tooltip=_tips("label:N", "measure:N", alt.Tooltip("units:Q", format=",.1f"))
    )
    chart: alt.LayerChart = (lines + tips).properties(title=title, width=WIDTH, height=240)
    return chart


USED_TO_DATE = "Units used so far"
USED_AND_SCHEDULED = "Units used + scheduled"


def _trend_to_date(frame: pd.DataFrame, title: str) -> ChartLike:
    """The trend when its last month(s) are partial (`partial`, with `units_scheduled`): the
    partial months are labelled "to date", their units used so far are drawn dashed, and a
    dashed line in the scheduled colour goes to units used + scheduled, so the month that has
    only begun reads as what is booked, not as a drop to zero.
    """
    columns = ["month", "units_approved", "units_used", "units_scheduled", "partial"]
    rows = frame.reindex(columns=columns).sort_values("month").reset_index(drop=True)
    rows = rows.fillna({"units_approved": 0.0, "units_used": 0.0, "units_scheduled": 0.0})
    partial = rows["partial"].fillna(False).astype(bool)
    label = pd.to_datetime(rows["month"], format="%Y-%m").dt.strftime("%b %Y")
    rows["label"] = label.where(~partial, label + " (to date)")
    complete = rows[~partial]
    bridge = complete.tail(1)  # the dashed lines start at the last complete month
    pieces = [
        pd.DataFrame(
            {"label": rows["label"], "measure": "Units approved", "units": rows["units_approved"]}
        ),
        pd.DataFrame(
            {"label": complete["label"], "measure": "Units used", "units": complete["units_used"]}
        ),
        pd.DataFrame(  # points only: no line down from the last whole month
            {
                "label": rows.loc[partial, "label"],
                "measure": USED_TO_DATE,
                "units": rows.loc[partial, "units_used"],
            }
        ),
        pd.DataFrame(
            {
                "label": pd.concat([bridge["label"], rows.loc[partial, "label"]]),
                "measure": USED_AND_SCHEDULED,
                "units": pd.concat(
                    [
                        bridge["units_used"],
                        rows.loc[partial, "units_used"] + rows.loc[partial, "units_scheduled"],
                    ]
                ),
            }
        ),
    ]
    long = pd.concat(pieces, ignore_index=True)
    long["units"] = long["units"].astype(float)
    domain = ["Units approved", "Units used", USED_TO_DATE, USED_AND_SCHEDULED]
    colour = _colour(domain, [APPROVED_COLOUR, USED_COLOUR, USED_COLOUR, SCHEDULED_COLOUR])
    dash = alt.StrokeDash(
        "measure:N",
        scale=alt.Scale(domain=domain, range=[[1, 0], [1, 0], [1, 0], [2, 2]]),
        sort=domain,
        legend=alt.Legend(symbolStrokeWidth=2.5, symbolType="stroke"),
    )
    x = alt.X("label:O", sort=rows["label"].tolist(), title=None, axis=alt.Axis(labelAngle=-40))
    y = alt.Y("units:Q", title="Units", scale=_zero_based(long), axis=alt.Axis(tickMinStep=1))
    base = alt.Chart(long).encode(
        x=x, y=y, color=colour, strokeDash=dash, detail=alt.Detail("measure:N")
    )
    lines = base.mark_line(strokeWidth=2.5, point=alt.OverlayMarkDef(size=45, filled=True))
    tips = base.mark_point(opacity=0).encode(
        tooltip=_tips("label:N", "measure:N", alt.Tooltip("units:Q", format=",.1f"))
    )
    heading = alt.TitleParams(
        title,
        subtitle="A month marked (to date) has not ended: its units used so far, and dotted, "
        "its units used + scheduled.",
    )
    chart: alt.LayerChart = (lines + tips).properties(title=heading, width=WIDTH, height=240)
    return chart


def authorization_balances(
    frame: pd.DataFrame,
    title: str = "Authorization balances",
    limits: dict[str, str] | None = None,
) -> ChartLike:
    """Stacked bars per authorization: units used, scheduled and unscheduled, with status.

    `frame`: one row per authorization (`authorizations`): `authorization_id`,
    `procedure_code`, `units_approved`, `units_used`, `units_scheduled`,
    `units_remaining`, `status`. Units unscheduled = remaining - scheduled (not below 0),
    so a bar's length is the units approved unless units were used over it.
    """
    columns = ["authorization_id", "procedure_code", "units_approved", "units_used"]
    columns += ["units_scheduled", "units_remaining", "status"]
    _require(frame, columns)
    if frame.empty:
        return no_data(title)
    rows = frame[columns].copy().fillna({c: 0.0 for c in columns[2:6]})
    label = rows["authorization_id"].astype(str) + " · " + rows["procedure_code"]
    if limits:  # each limit per period after the label: "A0012 · T2017 (100 a month)"
        marks = rows["authorization_id"].astype(str).map(limits)
        label = label.where(marks.isna(), label + " (" + marks.fillna("") + ")")
    rows["label"] = shorten(label)
    rows["units_unscheduled"] = (rows["units_remaining"] - rows["units_scheduled"]).clip(lower=0)
    rows["status"] = rows["status"].fillna("").astype(str)
    rows["status_colour"] = rows["status"].map(STATUS_COLOURS).fillna("#33383d")
    stacked = rows["units_used"] + rows["units_scheduled"] + rows["units_unscheduled"]
    rows["end"] = stacked.where(stacked > rows["units_approved"], rows["units_approved"])
    order = rows["label"].tolist()
    names = {
        "units_used": "Units used",
        "units_scheduled": "Units scheduled",
        "units_unscheduled": "Units unscheduled",
    }
    long = _long(rows, "label", names)
    long["order"] = long["measure"].map({v: i for i, v in enumerate(names.values())})
    y = alt.Y("label:N", sort=order, title=None, axis=_label_axis())
    colours = [USED_COLOUR, SCHEDULED_COLOUR, UNSCHEDULED_COLOUR]
    bars = (
        alt.Chart(long)
        .mark_bar(height={"band": 0.7})
        .encode(
            y=y,
            x=alt.X("sum(units):Q", title="Units", stack="zero", scale=_zero_based(rows["end"])),
            color=_colour(list(names.values()), colours),
            order=alt.Order("order:Q"),
            tooltip=_tips("label:N", "measure:N", alt.Tooltip("units:Q", format=",.1f")),
        )
    )
    ceiling = (
        alt.Chart(rows)
        .mark_tick(color="#1b1f24", thickness=2, size=ROW_STEP * 0.8)
        .encode(y=y, x=alt.X("units_approved:Q"), tooltip=_tips("label:N", "units_approved:Q"))
    )
    status = (
        alt.Chart(rows)
        .mark_text(align="left", dx=6, fontWeight="bold")
        .encode(
            y=y,
            x=alt.X("end:Q"),
            text=alt.Text("status:N"),
            color=alt.Color("status_colour:N", scale=None),
        )
    )
    heading = alt.TitleParams(title, subtitle="The black mark is the units approved.")
    chart: alt.LayerChart = (bars + ceiling + status).properties(
        title=heading, width=WIDTH, height=_height(rows)
    )
    return chart


def service_codes(frame: pd.DataFrame, title: str = "Service code usage") -> ChartLike:
    """Units billed, and total billed vs. insurance paid, per procedure code.

    `frame`: one row per procedure code (`service_codes`): `procedure_code`,
    `units_billed`, `total_billed`, `insurance_paid` (dollars).
    """
    columns = ["procedure_code", "units_billed", "total_billed", "insurance_paid"]
    _require(frame, columns)
    if frame.empty:
        return no_data(title)
    rows = frame[columns].copy().fillna({c: 0.0 for c in columns[1:]})
    rows["procedure_code"] = shorten(rows["procedure_code"].astype(str))
    order = rows.sort_values(["total_billed", "procedure_code"], ascending=[False, True])
    codes = order["procedure_code"].tolist()
    height = _height(rows)
    units = (
        alt.Chart(rows)
        .mark_bar(color=USED_COLOUR, height={"band": 0.7})
        .encode(
            y=alt.Y("procedure_code:N", sort=codes, title=None, axis=_label_axis()),
            x=alt.X(
                "units_billed:Q", title="Units billed", scale=_zero_based(rows["units_billed"])
            ),
            tooltip=_tips("procedure_code:N", alt.Tooltip("units_billed:Q", format=",.1f")),
        )
        .properties(width=200, height=height)
    )
    money = {"total_billed": "Total billed", "insurance_paid": "Insurance paid"}
    long = _long(rows, "procedure_code", money)
    dollars = (
        alt.Chart(long)
        .mark_bar(height={"band": 0.9})
        .encode(
            y=alt.Y("procedure_code:N", sort=codes, title=None, axis=None),
            yOffset=alt.YOffset("measure:N", sort=list(money.values())),
            x=alt.X(
                "units:Q",
                title="Dollars",
                axis=alt.Axis(format="$,.0f", tickCount=5),  # 300 px: wider labels collide
                scale=_zero_based(long),
            ),
            color=_colour(list(money.values()), [USED_COLOUR, PAID_COLOUR]).legend(
                orient="right", direction="vertical"
            ),
            tooltip=_tips("procedure_code:N", "measure:N", alt.Tooltip("units:Q", format="$,.2f")),
        )
        .properties(width=300, height=height)
    )
    chart: alt.HConcatChart = alt.hconcat(units, dollars, spacing=16).properties(title=title)
    return chart


def no_data(title: str, message: str = NO_DATA) -> alt.Chart:
    """A chart that says there is nothing to draw (used for empty frames)."""
    frame = pd.DataFrame({"message": [message]})
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_text(fontSize=14, color="#5f6670")
        .encode(text=alt.Text("message:N"))
        .properties(title=title, width=WIDTH, height=60)
    )
    return chart


def _row_labels(frame: pd.DataFrame, by: str) -> pd.Series:
    """Row labels: the code, with its description when the frame has one; shortened."""
    labels = frame[by].astype(str)
    if by == "procedure_code" and "description" in frame.columns:
        described = frame["description"].notna() & (frame["description"].astype(str) != "")
        labels = labels.where(~described, labels + " " + frame["description"].astype(str))
    return _unique(shorten(labels), frame)


def _unique(labels: pd.Series, frame: pd.DataFrame) -> pd.Series:
    """Two rows never share a bar: repeated labels (two clients of one name) gain their id."""
    repeated = labels.duplicated(keep=False)
    if not repeated.any():
        return labels
    key = frame["client_id"].astype(str) if "client_id" in frame.columns else None
    suffix = key if key is not None else pd.Series(range(1, len(frame) + 1), index=frame.index)
    return labels.where(~repeated, labels + " (" + suffix.astype(str) + ")")


def shorten(labels: pd.Series, limit: int = LABEL_CHARS) -> pd.Series:
    """Labels longer than `limit` characters cut to `limit` - 1 and an ellipsis."""
    long = labels.str.len() > limit
    return labels.where(~long, labels.str.slice(0, limit - 1).str.rstrip() + "…")


def _height(rows: pd.DataFrame) -> int:
    """Chart height in pixels: `ROW_STEP` a row, so 1 row and 60 rows both read well."""
    return max(len(rows), 2) * ROW_STEP + 10


def _zero_based(values: pd.DataFrame | pd.Series) -> alt.Scale:
    """A scale from 0; from 0 to 10 when every value is 0, so the axis is not a single point."""
    series = values["units"] if isinstance(values, pd.DataFrame) else values
    if float(series.max()) > 0:
        return alt.Scale(domainMin=0, nice=True)
    return alt.Scale(domain=[0, 10])


def _long(frame: pd.DataFrame, key: str, measures: dict[str, str]) -> pd.DataFrame:
    """Melt `measures` to rows of `key`, `measure`, `units`: one row per key and measure."""
    long = frame.melt(
        id_vars=[key], value_vars=list(measures), var_name="measure", value_name="units"
    )
    long["measure"] = long["measure"].map(measures)
    long["units"] = long["units"].astype(float)
    return long


def _label_axis() -> alt.Axis:
    return alt.Axis(labelLimit=0, labelPadding=6)


def _colour(domain: list[str], colours: list[str]) -> alt.Color:
    return alt.Color("measure:N", scale=alt.Scale(domain=domain, range=colours), sort=domain)


def _require(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        msg = (
            f"columns {missing} not in frame. Columns in frame: {list(frame.columns)}. "
            "Pass the export frame described in data contract §8."
        )
        raise ValueError(msg)


def _title_text(spec: dict[str, Any]) -> str:
    title = spec.get("title", "chart")
    if isinstance(title, dict):
        return str(title.get("text", "chart"))
    return str(title)


LOSS_COLOUR = "#b03a2e"
GAIN_COLOUR = "#5b9bd5"
WATERFALL_TOTALS = {
    "approved": APPROVED_COLOUR,
    "delivered": USED_COLOUR,
    "insurance_paid": PAID_COLOUR,
}
WATERFALL_LABELS = {
    "approved": "Approved",
    "not_delivered": "Not delivered",
    "beyond_approved": "Delivered beyond approved",
    "delivered": "Delivered",
    "unauthorized": "Unauthorized services",
    "over_authorization": "Over authorization",
    "not_paid": "Not paid (yet)",
    "insurance_paid": "Insurance paid",
}
"""The waterfall's steps, top to bottom, and their names on the chart."""
FILTERED_BEYOND = "Beyond approved, less visits outside the filters"


def revenue_steps(revenue: pd.DataFrame, visit_filters: bool = False) -> pd.DataFrame:
    """The waterfall of the `revenue` export rows, from dollars approved to dollars paid.

    Grain: one row per bar, in `WATERFALL_LABELS` order: step, label, kind (`total`,
    `loss`, `gain`), amount (a total's value, or the step's signed change), start, end
    (where the bar begins and ends on the dollar axis). Every category amount is first
    rounded to cents, as the export shows it, so that the chart adds up to the cent:
    approved − not delivered + beyond approved = delivered; delivered − unauthorized −
    over authorization − not paid = insurance paid. "Beyond approved" (delivered − (approved
    − not delivered)) is what pairs used beyond their approved capacity; with a filter that
    describes visits only (provider, case type, billable), delivered counts only the visits
    that pass it while approved and not delivered do not (data contract §12), and the step is
    named `FILTERED_BEYOND`. "Not paid (yet)" is what the payers have not paid of the rest
    (denied, pending, the patient's share); negative when they paid more.
    """
    _require(revenue, ["category", "amount"])
    cents = {str(c): _cents(a) for c, a in zip(revenue["category"], revenue["amount"], strict=True)}
    approved, delivered, paid = cents["approved"], cents["delivered"], cents["insurance_paid"]
    not_delivered = cents["not_delivered"]
    unauthorized, over = cents["unauthorized"], cents["over_authorization"]
    reimbursable = delivered - unauthorized - over
    changes = [
        ("approved", "total", approved, 0, approved),
        ("not_delivered", "loss", -not_delivered, approved, approved - not_delivered),
        ("beyond_approved", "gain", 0, approved - not_delivered, delivered),
        ("delivered", "total", delivered, 0, delivered),
        ("unauthorized", "loss", -unauthorized, delivered, delivered - unauthorized),
        ("over_authorization", "loss", -over, delivered - unauthorized, reimbursable),
        ("not_paid", "loss", 0, reimbursable, paid),
        ("insurance_paid", "total", paid, 0, paid),
    ]  # fmt: skip
    rows = []
    for step, kind, amount, start, end in changes:
        if kind != "total":
            amount = end - start
            kind = "gain" if amount > 0 else "loss"
        label = WATERFALL_LABELS[step]
        if step == "beyond_approved" and visit_filters:
            label = FILTERED_BEYOND
        rows.append(
            {
                "step": step,
                "label": label,
                "kind": kind,
                "amount": amount / 100,
                "start": start / 100,
                "end": end / 100,
            }
        )
    return pd.DataFrame(rows)


def _cents(value: float) -> int:
    """Dollars as whole cents, rounded half up as the export rounds them; none is 0."""
    number = float(value)
    return 0 if math.isnan(number) else round(round_money(number) * 100)


def revenue_waterfall(
    steps: pd.DataFrame, title: str = "Where the authorized dollars went"
) -> ChartLike:
    """Horizontal waterfall of `revenue_steps`: totals from 0, each change from where the
    last bar ended, every bar labelled with its dollars (totals as they are, changes signed).
    """
    _require(steps, ["step", "label", "kind", "amount", "start", "end"])
    rows = steps.copy()
    rows["text"] = [
        format_money(a) if k == "total" else ("+" if a > 0 else "") + format_money(a)
        for a, k in zip(rows["amount"], rows["kind"], strict=True)
    ]
    rows["colour"] = [
        WATERFALL_TOTALS.get(s, GAIN_COLOUR if k == "gain" else LOSS_COLOUR)
        for s, k in zip(rows["step"], rows["kind"], strict=True)
    ]
    rows["low"] = rows[["start", "end"]].min(axis=1)
    rows["high"] = rows[["start", "end"]].max(axis=1)
    order = rows["label"].tolist()
    y = alt.Y("label:N", sort=order, title=None, axis=_label_axis())
    top = float(rows["high"].max()) if len(rows) else 0.0
    scale = alt.Scale(domain=[min(0.0, float(rows["low"].min())), top * 1.22 or 10])
    bars = (
        alt.Chart(rows)
        .mark_bar(height={"band": 0.7})
        .encode(
            y=y,
            x=alt.X("low:Q", title="Dollars", scale=scale, axis=alt.Axis(format="$,.0f")),
            x2=alt.X2("high:Q"),
            color=alt.Color("colour:N", scale=None),
            tooltip=_tips("label:N", alt.Tooltip("text:N", title="dollars")),
        )
    )
    labels = (
        alt.Chart(rows)
        .mark_text(align="left", dx=4, fontSize=11, color="#1b1f24")
        .encode(y=y, x=alt.X("high:Q"), text=alt.Text("text:N"))
    )
    heading = alt.TitleParams(
        title,
        subtitle="Totals in colour from $0; each step in red (a loss) or blue (a gain).",
    )
    chart: alt.LayerChart = (bars + labels).properties(
        title=heading, width=WIDTH, height=_height(rows)
    )
    return chart
