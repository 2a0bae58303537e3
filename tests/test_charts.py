"""Charts of the export frames, rendered to SVG offline."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import altair as alt
import pandas as pd
import pytest

from utilization.report import charts
from utilization.report.sections import open_report
from utilization.views import VIEWS


def by_procedure() -> pd.DataFrame:
    """Grain: one row per procedure code (export `by_procedure`)."""
    return pd.DataFrame(
        {
            "procedure_code": ["T2021", "T2019", "H2015"],
            "description": ["CBS Acuity Visit", "Supported Employment - Group", None],
            "units_approved": [28.0, 12.5, 269.1774],
            "units_used": [10, 7, 0],
            "amount_approved": [196.0, 75.0, 2205.5],
            "amount_used": [250.0, 350.0, 0.0],
        }
    )


def by_client(rows: int) -> pd.DataFrame:
    """Grain: one row per client (export `by_client`)."""
    return pd.DataFrame(
        {
            "client_id": [f"C{i:03d}" for i in range(rows)],
            "client_name": [f"Client {i:02d} Mandana-Maya" for i in range(rows)],
            "units_approved": [float(10 + i) for i in range(rows)],
            "units_used": [i for i in range(rows)],
        }
    )


def monthly() -> pd.DataFrame:
    """Grain: one row per calendar month (export `monthly`)."""
    months = pd.period_range("2025-04", "2026-03", freq="M").astype(str)
    approved = [10, 12, 14, 20, 30, 60, 100, 155, 80, 40, 30, 20]
    return pd.DataFrame({"month": months, "units_approved": approved, "units_used": [5] * 12})


def authorizations() -> pd.DataFrame:
    """Grain: one row per authorization (export `authorizations`)."""
    return pd.DataFrame(
        {
            "authorization_id": ["A-1", "A-2", "A-3"],
            "client_id": ["C1", "C1", "C2"],
            "procedure_code": ["T2021", "H2015", "S5125"],
            "units_approved": [28.0, 310.0, 70.0],
            "units_used": [10, 14, 75],
            "units_scheduled": [4, 20, 0],
            "units_remaining": [18.0, 296.0, -5.0],
            "status": ["ok", "under-used", "exhausted"],
        }
    )


def service_code_usage() -> pd.DataFrame:
    """Grain: one row per procedure code (export `service_codes`)."""
    return pd.DataFrame(
        {
            "procedure_code": ["T2021", "H2015"],
            "units_billed": [10, 14],
            "visits": [4, 6],
            "total_billed": [250.0, 675.0],
            "insurance_paid": [200.0, 600.0],
        }
    )


def svg_height(svg: str) -> float:
    match = re.search(r'<svg[^>]*\sheight="([\d.]+)"', svg)
    assert match, svg[:300]
    return float(match.group(1))


def texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_the_theme_is_registered_and_enabled_with_an_explicit_font() -> None:
    """use_theme() makes every chart's text Liberation Sans (Arial metrics), not sans-serif."""
    charts.use_theme()
    assert alt.theme.active == charts.THEME_NAME
    assert charts.approved_vs_used(by_procedure()).to_dict()["config"]["font"] == charts.FONT
    svg = charts.to_svg(charts.approved_vs_used(by_procedure()))
    assert 'font-family="Liberation Sans, Arial, Helvetica, sans-serif"' in svg


def test_svg_bytes_are_the_same_run_to_run() -> None:
    """Two renderings of one chart give identical SVG, so stored outputs do not churn."""
    chart = charts.monthly_trend(monthly())
    assert charts.to_svg(chart) == charts.to_svg(chart)


def test_approved_and_used_bars_use_the_seed_colours_and_full_labels() -> None:
    """Units approved is light blue, units used dark blue; codes carry their description."""
    svg = charts.to_svg(charts.approved_vs_used(by_procedure()))
    assert f'fill="{charts.APPROVED_COLOUR}"' in svg
    assert f'fill="{charts.USED_COLOUR}"' in svg
    labels = texts(svg)
    assert "T2021 CBS Acuity Visit" in labels
    assert "T2019 Supported Employment - Group" in labels
    assert "H2015" in labels  # no description: the code alone
    assert "12.5" in labels and "269.2" in labels  # prorated units to 1 place


def test_the_chart_grows_with_its_rows() -> None:
    """One row and sixty rows both get ROW_STEP pixels a row; no label is shortened."""
    one = charts.to_svg(charts.approved_vs_used(by_client(1), by="client_name"))
    sixty = charts.to_svg(charts.approved_vs_used(by_client(60), by="client_name"))
    assert svg_height(sixty) - svg_height(one) >= 58 * charts.ROW_STEP
    labels = texts(sixty)
    assert all(f"Client {i:02d} Mandana-Maya" in labels for i in range(60))
    assert not any(label.endswith("…") for label in labels)


def test_long_labels_are_shortened_and_same_names_kept_apart() -> None:
    """A label over 48 characters ends in an ellipsis; two clients of one name get their ids."""
    frame = by_client(3)
    frame.loc[0, "client_name"] = "A" * 60
    frame.loc[[1, 2], "client_name"] = "Jo Smith"
    labels = texts(charts.to_svg(charts.approved_vs_used(frame, by="client_name")))
    assert "A" * 47 + "…" in labels
    assert "Jo Smith (C001)" in labels and "Jo Smith (C002)" in labels


def test_a_client_name_with_markup_is_text_in_the_svg() -> None:
    """`<script>` in a name is escaped inside the SVG, never markup."""
    frame = by_client(1)
    frame.loc[0, "client_name"] = "<script>alert(1)</script>"
    svg = charts.to_svg(charts.approved_vs_used(frame, by="client_name"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert "<script" not in svg


def test_monthly_trend_shows_the_twelve_months_in_order() -> None:
    """Month labels run Apr 2025 ... Mar 2026 left to right, with both lines' legend."""
    labels = texts(charts.to_svg(charts.monthly_trend(monthly().sample(frac=1, random_state=1))))
    months = [label for label in labels if re.fullmatch(r"[A-Z][a-z]{2} \d{4}", label)]
    assert months[0] == "Apr 2025" and months[-1] == "Mar 2026" and len(months) == 12
    assert "Units approved" in labels and "Units used" in labels


def test_a_month_to_date_is_marked_partial_with_its_scheduled_units() -> None:
    """The partial last month reads "Mar 2026 (to date)"; the legend adds units used so far
    and units used + scheduled; without a partial month the chart is the two lines as before.
    """
    frame = monthly().assign(units_scheduled=0, partial=False)
    plain = charts.to_svg(charts.monthly_trend(frame))
    assert plain == charts.to_svg(charts.monthly_trend(monthly()))
    frame.loc[frame.index[-1], ["units_scheduled", "partial"]] = [30, True]
    labels = texts(charts.to_svg(charts.monthly_trend(frame)))
    assert "Mar 2026 (to date)" in labels and "Feb 2026" in labels
    assert {"Units approved", "Units used", "Units used so far", "Units used + scheduled"} <= set(
        labels
    )
    spec = charts.monthly_trend(frame).to_dict()
    values = spec["datasets"][next(iter(spec["datasets"]))]
    booked = [(v["label"], v["units"]) for v in values if v["measure"] == "Units used + scheduled"]
    last_used = float(frame["units_used"].iloc[-2])
    assert booked == [
        ("Feb 2026", last_used),
        ("Mar 2026 (to date)", float(frame["units_used"].iloc[-1]) + 30),
    ]


def test_authorization_balances_show_the_status_in_its_colour() -> None:
    """Each authorization's status is written beside its bar, exhausted in red."""
    svg = charts.to_svg(charts.authorization_balances(authorizations()))
    labels = texts(svg)
    assert {"ok", "under-used", "exhausted"} <= set(labels)
    assert "A-3 · S5125" in labels
    assert f'fill="{charts.STATUS_COLOURS["exhausted"]}"' in svg
    assert {"Units used", "Units scheduled", "Units unscheduled"} <= set(labels)


def test_service_codes_compare_total_billed_and_insurance_paid() -> None:
    """Units billed on the left, dollars billed and paid on the right."""
    labels = texts(charts.to_svg(charts.service_codes(service_code_usage())))
    assert {"Units billed", "Total billed", "Insurance paid", "T2021", "H2015"} <= set(labels)
    assert "$600" in labels


@pytest.mark.parametrize(
    ("make", "frame"),
    [
        (charts.approved_vs_used, by_procedure()),
        (charts.monthly_trend, monthly()),
        (charts.authorization_balances, authorizations()),
        (charts.service_codes, service_code_usage()),
    ],
)
def test_an_empty_frame_gives_a_chart_that_says_so(make: object, frame: pd.DataFrame) -> None:
    """No rows is not an error: the chart says "No data for this period"."""
    svg = charts.to_svg(make(frame.iloc[:0]))  # type: ignore[operator]
    assert "No data for this period" in texts(svg)


def test_all_zero_figures_still_draw_an_axis() -> None:
    """A client with nothing approved or used gets an axis from 0 to 10, not a point."""
    frame = by_client(1).assign(units_approved=0.0, units_used=0)
    labels = texts(charts.to_svg(charts.approved_vs_used(frame, by="client_name")))
    assert "10" in labels


def test_a_missing_column_is_named_with_the_columns_present() -> None:
    """The error names the missing column and lists what the frame has."""
    with pytest.raises(ValueError, match=r"\['units_used'\] not in frame.*'units_approved'"):
        charts.approved_vs_used(by_procedure().drop(columns="units_used"))


def test_svg_does_not_depend_on_the_enabled_theme() -> None:
    """A chart renders to the same SVG whether Altair's default theme or ours is enabled."""

    frame = pd.DataFrame(
        {"procedure_code": ["A", "B"], "units_approved": [3.0, 4.0], "units_used": [1, 2]}
    )
    alt.theme.enable("default")
    under_default = charts.to_svg(charts.approved_vs_used(frame))
    charts.use_theme()
    under_ours = charts.to_svg(charts.approved_vs_used(frame))
    assert under_default == under_ours
    assert 'stroke="#ddd"' not in under_ours  # the theme's borderless view, not Vega's default


@pytest.mark.parametrize("view", list(VIEWS))
def test_every_chart_of_every_view_is_valid_vega_lite(
    view: str, demo_folder: Callable[..., Path]
) -> None:
    """Reports make their specs without Altair's schema check (`charts._spec`, to save its
    cost in every report): here every chart each view draws on the demo is checked against
    the Vega-Lite schema, so a spec the renderer would misread fails a test, not a report.
    """
    data = demo_folder(today=date(2026, 2, 16), clients=12)
    spec = VIEWS[view]
    subject = {spec.subject: spec.example} if spec.subject else {}
    report = open_report(
        view, data=str(data), date_from="2026-01-01", date_to="2026-03-31", **subject
    )
    made = []
    for name in sorted(n for n in dir(report) if n.startswith("chart_")):
        try:
            made.append(getattr(report, name)())
        except ValueError as exc:  # a chart of a section this view does not have
            assert "has no" in str(exc), exc
    assert made
    for chart in made:
        chart.to_dict(validate=True)  # raises on any spec the schema rejects
