"""The units dashboard as ipywidgets: global filters, the view's sections, drill-down, downloads.

One `Dashboard` per page (a Voilà kernel, or a JupyterLab notebook): the data is loaded once
(`pipeline.load_cached`), and a change of a filter redraws the sections of the view those
filters make (`views.build_view`, `report.sections.Report`), so its cards are the figures of
`utilization export` for the same request. Nothing here shows a traceback or a file path: a
filter the data cannot answer is a sentence on the page.
"""

from __future__ import annotations

import base64
import functools
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from html import escape
from importlib import resources
from typing import Any, Literal

import numpy as np
import pandas as pd

from utilization.dashboard import downloads
from utilization.dashboard.filters import (
    QUICK_RANGES,
    DashboardFilters,
    FilterError,
    check,
    choices,
)
from utilization.dashboard.navigation import Navigation
from utilization.dataset import Dataset
from utilization.exceptions import UtilizationError
from utilization.pipeline import load_cached
from utilization.report import charts, tables
from utilization.report.sections import Report, filters_text, source_name
from utilization.views import build_view

log = logging.getLogger(__name__)

ROWS_PER_PAGE = 25  # rows of the detail table on one screen; the CSV download has them all
OPEN_BALANCES = 25  # the balances table starts open when it has at most this many rows
FAILED = (
    "This view could not be drawn. Choose other filters, or ask whoever runs the dashboard "
    "to look at its log."
)
PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[/\\](?:[^/\\\s'\"]+[/\\])+")

Kind = Literal["client", "procedure", "text", "units", "money", "percent"]


@dataclass(frozen=True)
class Column:
    """One column of the detail table: the frame's column, its header and how it shows."""

    key: str
    label: str
    kind: Kind


NUMBERS = (
    Column("units_approved", "Units approved", "units"),
    Column("units_used", "Units used", "units"),
    Column("units_scheduled", "Units scheduled", "units"),
    Column("units_remaining", "Units remaining", "units"),
    Column("amount_approved", "Amount approved", "money"),
    Column("amount_used", "Amount used", "money"),
    Column("utilization", "Utilization", "percent"),
)
DETAIL_COLUMNS: dict[str, tuple[Column, ...]] = {
    "agency": (
        Column("client_name", "Client", "client"),
        Column("procedure_code", "Procedure", "procedure"),
        Column("description", "Type", "text"),
        *NUMBERS,
    ),
    "client": (
        Column("procedure_code", "Procedure", "procedure"),
        Column("description", "Type", "text"),
        *NUMBERS,
    ),
    "procedure": (Column("client_name", "Client", "client"), *NUMBERS),
}
"""The detail table of each view: client and procedure cells open that client's or
procedure's page."""
PAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "agency": ("kpis", "by_procedure", "monthly", "detail", "balances", "flags"),
    "client": (
        "family",
        "kpis",
        "by_procedure",
        "monthly",
        "balances_chart",
        "detail",
        "balances",
        "flags",
    ),
    "procedure": ("kpis", "by_client", "monthly", "detail", "rate_check", "balances", "flags"),
}
"""The sections each page shows, top to bottom (`detail` is the clickable table)."""
HEADINGS = {
    "family": "Where the authorized units stand",
    "kpis": "Key figures",
    "by_procedure": "Units approved and used by procedure code",
    "by_client": "Units approved and used by client",
    "monthly": "Units over 12 months",
    "balances_chart": "Authorization balances",
    "detail": "Detail",
    "rate_check": "Rate check",
    "balances": "Authorization balances, as of the balance date",
    "flags": "Flags",
}


def plain_message(error: BaseException) -> str:
    """An error as a sentence for the page: no directories of the server's files."""
    text = str(error).strip() or FAILED
    text = PATH.sub("", text)
    return text[:1].upper() + text[1:]


def dashboard_css() -> str:
    """The report's stylesheet and the dashboard's own rules, as one <style> element."""
    report_css = (
        resources.files("utilization.report") / "templates" / "report" / "static" / "report.css"
    ).read_text(encoding="utf-8")
    own = (resources.files("utilization.dashboard") / "dashboard.css").read_text(encoding="utf-8")
    return f"<style>{report_css}\n{own}</style>"


def _img(svg: str, title: str) -> str:
    encoded = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (
        f'<div class="jp-RenderedSVG dashboard-chart"><img alt="{escape(title, quote=True)}" '
        f'src="data:image/svg+xml;base64,{encoded}"></div>'
    )


def _decimals(series: pd.Series) -> int:
    values = pd.to_numeric(series, errors="coerce").dropna().to_numpy(dtype=float)
    return 0 if np.all(np.mod(values, 1) == 0) else 1


class DetailTable:
    """The detail table as widgets: client and procedure cells are buttons that open that
    page; `ROWS_PER_PAGE` rows at a time with Previous / Next. Cell widgets are made once
    and reused, so a redraw only sends the values that changed.
    """

    def __init__(self, on_open: Callable[[Literal["client", "procedure"], str], None]) -> None:
        import ipywidgets as w

        self._w = w
        self._on_open = on_open
        self.grid = w.GridBox(layout=w.Layout(width="100%"))
        self.grid.add_class("dashboard-detail")
        self.previous = w.Button(description="‹ Previous", layout=w.Layout(width="auto"))
        self.next = w.Button(description="Next ›", layout=w.Layout(width="auto"))
        self.position = w.HTML()
        self.previous.on_click(lambda _: self._turn(-1))
        self.next.on_click(lambda _: self._turn(1))
        self.pager = w.HBox([self.previous, self.position, self.next])
        self.pager.add_class("dashboard-pager")
        self.box = w.VBox([self.grid, self.pager])
        self.frame = pd.DataFrame()
        self.columns: tuple[Column, ...] = ()
        self.page = 0
        self._cells: dict[tuple[Column, ...], list[list[Any]]] = {}
        self._headers: dict[tuple[Column, ...], list[Any]] = {}

    def show(self, frame: pd.DataFrame, columns: tuple[Column, ...]) -> None:
        """Show `frame` (its own grain, one row per table row) from its first page."""
        self.frame = frame.reset_index(drop=True)
        self.columns = columns
        self.page = 0
        self._draw()

    @property
    def pages(self) -> int:
        """Number of pages of rows."""
        return max(1, -(-len(self.frame) // ROWS_PER_PAGE))

    def _turn(self, step: int) -> None:
        self.page = min(max(self.page + step, 0), self.pages - 1)
        self._draw()

    def _header(self) -> list[Any]:
        if self.columns not in self._headers:
            cells = []
            for column in self.columns:
                cell = self._w.HTML(escape(column.label))
                cell.add_class("dashboard-th")
                if column.kind in ("units", "money", "percent"):
                    cell.add_class("dashboard-num")
                cells.append(cell)
            self._headers[self.columns] = cells
        return self._headers[self.columns]

    def _row(self, index: int) -> list[Any]:
        pool = self._cells.setdefault(self.columns, [])
        while len(pool) <= index:
            cells = []
            for column in self.columns:
                if column.kind in ("client", "procedure"):
                    cell = self._w.Button(layout=self._w.Layout(width="auto"))
                    cell.add_class("dashboard-link")
                    cell.add_class(f"dashboard-open-{column.kind}")
                    cell.on_click(self._opener(column.kind))
                else:
                    cell = self._w.HTML()
                    cell.add_class("dashboard-td")
                    if column.kind in ("units", "money", "percent"):
                        cell.add_class("dashboard-num")
                cells.append(cell)
            pool.append(cells)
        return pool[index]

    def _opener(self, kind: Literal["client", "procedure"]) -> Callable[[Any], None]:
        def opened(button: Any) -> None:
            self._on_open(kind, button.ident)

        return opened

    def _draw(self) -> None:
        frame, columns = self.frame, self.columns
        first = self.page * ROWS_PER_PAGE
        shown = frame.iloc[first : first + ROWS_PER_PAGE]
        formats: dict[str, Callable[[object], str]] = {}
        for column in columns:
            if column.kind == "units":
                places = _decimals(frame[column.key]) if len(frame) else 0
                formats[column.key] = functools.partial(_units, places=places)
            elif column.kind == "money":
                formats[column.key] = tables.format_money
            elif column.kind == "percent":
                formats[column.key] = tables.format_percent
        children = list(self._header())
        for index, row in enumerate(shown.to_dict("records")):
            for column, cell in zip(columns, self._row(index), strict=True):
                value = row.get(column.key)
                if column.kind == "client":
                    cell.ident = str(row["client_id"])
                    cell.description = str(value if isinstance(value, str) else row["client_id"])
                    cell.tooltip = f"Open the page of client {cell.description} ({cell.ident})"
                elif column.kind == "procedure":
                    cell.ident = str(value)
                    cell.description = str(value)
                    cell.tooltip = f"Open the page of procedure code {value}"
                else:
                    text = formats[column.key](value) if column.key in formats else _text(value)
                    cell.value = escape(text)
            children += self._row(index)
        if shown.empty:
            empty = self._w.HTML("No rows for this period")
            empty.add_class("dashboard-empty")
            children.append(empty)
        widths = " ".join(
            "minmax(9em, 2fr)" if c.kind in ("client", "text") else "minmax(5.5em, 1fr)"
            for c in columns
        )
        self.grid.layout.grid_template_columns = widths
        self.grid.children = tuple(children)
        last = min(first + ROWS_PER_PAGE, len(frame))
        self.position.value = (
            f"Rows {first + 1:,}–{last:,} of {len(frame):,}" if len(frame) else "No rows"
        )
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1
        self.pager.layout.display = "flex" if len(frame) > ROWS_PER_PAGE else "none"


def _units(value: object, places: int) -> str:
    return tables.format_units(value, places)


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return tables.MISSING
    return str(value)


class Dashboard:
    """The dashboard of one dataset: controls, the sections of the view, drill-down, back."""

    def __init__(
        self, dataset: Dataset, today: date, filters: DashboardFilters | None = None
    ) -> None:
        import ipywidgets as w

        self.dataset = dataset
        self.today = today
        self.offered = choices(dataset)
        self.nav = Navigation(filters or DashboardFilters())
        self.report: Report | None = None
        self.redraw_seconds = 0.0
        self._syncing = False

        def dropdown(key: str, everything: str, description: str) -> Any:
            control = w.Dropdown(
                description=description,
                options=[(everything, ""), *self.offered[key]],
                value="",
                layout=w.Layout(width="270px"),
            )
            control.add_class(f"dashboard-filter-{key}")
            return control

        self.client = dropdown("client", "All clients", "Client")
        self.procedure = dropdown("procedure", "All procedure codes", "Procedure")
        self.payer = dropdown("payer", "All payers", "Payer")
        self.provider = dropdown("provider", "All fieldworkers", "Fieldworker")
        self.range = w.Dropdown(
            description="Period",
            options=[(label, key) for key, label in QUICK_RANGES.items()],
            value=self.nav.current.range,
            layout=w.Layout(width="auto"),
        )
        self.range.add_class("dashboard-filter-range")
        self.date_from = w.DatePicker(description="From", layout=w.Layout(width="auto"))
        self.date_to = w.DatePicker(description="To", layout=w.Layout(width="auto"))
        self.date_from.add_class("dashboard-filter-from")
        self.date_to.add_class("dashboard-filter-to")
        self.basis = w.ToggleButtons(
            description="Units approved",
            options=[("Prorated", "prorated"), ("Full", "full")],
            value="prorated",
            tooltips=[
                "Each authorization counts in proportion to its days inside the period",
                "Each authorization overlapping the period counts with all its units",
            ],
            style={"button_width": "auto", "description_width": "auto"},
        )
        self.basis.add_class("dashboard-filter-basis")
        for control in (self.client, self.procedure, self.payer, self.provider, self.range):
            control.style.description_width = "auto"
            control.observe(self._changed, names="value")
        for control in (self.date_from, self.date_to):
            control.style.description_width = "auto"
            control.observe(self._dates_changed, names="value")
        self.basis.observe(self._changed, names="value")

        self.back_button = w.Button(description="← Back", layout=w.Layout(width="auto"))
        self.back_button.add_class("dashboard-back")
        self.back_button.on_click(lambda _: self.back())
        self.home_button = w.Button(description="Agency overview", layout=w.Layout(width="auto"))
        self.home_button.add_class("dashboard-home")
        self.home_button.on_click(lambda _: self.home())
        self.title = w.HTML()
        self.facts = w.HTML()
        self.message = w.HTML()
        self.message.add_class("dashboard-message")
        self.sections = {name: w.HTML() for name in HEADINGS if name != "detail"}
        self.detail = DetailTable(self.open)
        self.headings = {
            name: w.HTML(f"<h2>{escape(text)}</h2>") for name, text in HEADINGS.items()
        }
        self.download_buttons = {}
        for fmt, (label, _) in downloads.FORMATS.items():
            button = w.Button(description=label, layout=w.Layout(width="auto"))
            button.add_class(f"dashboard-download-{fmt}")
            button.tooltip = f"Make a {label} file of what is on screen"
            button.on_click(lambda _, chosen=fmt: self.download(chosen))
            self.download_buttons[fmt] = button
        self.download_link = w.HTML()
        self.download_link.add_class("dashboard-download-link")
        self.content = w.VBox()
        controls = w.VBox(
            [
                w.HBox([self.client, self.procedure, self.payer, self.provider]),
                w.HBox([self.range, self.date_from, self.date_to, self.basis]),
            ]
        )
        controls.add_class("dashboard-filters")
        downloads_row = w.HBox(
            [w.HTML("Download what is on screen:"), *self.download_buttons.values()]
        )
        downloads_row.add_class("dashboard-downloads")
        navigation = w.HBox([self.back_button, self.home_button, self.title])
        navigation.add_class("dashboard-navigation")
        self.widget = w.VBox(
            [
                w.HTML(dashboard_css()),
                controls,
                navigation,
                self.message,
                self.facts,
                w.VBox([downloads_row, self.download_link]),
                self.content,
            ]
        )
        self.widget.add_class("dashboard")

    # Moves ---------------------------------------------------------------------------------
    def choose(self, filters: DashboardFilters) -> None:
        """Show `filters` (Back returns to the page before)."""
        self.show(self.nav.go(filters))

    def open(self, kind: Literal["client", "procedure"], ident: str) -> None:
        """Drill down to one client's or one procedure's page."""
        self.show(self.nav.drill(kind, ident))

    def back(self) -> None:
        """Return to the page before."""
        self.show(self.nav.back())

    def home(self) -> None:
        """The agency's page with the same period, payer, fieldworker and basis."""
        current = self.nav.current
        self.choose(
            DashboardFilters(
                payer=current.payer,
                provider=current.provider,
                range=current.range,
                date_from=current.date_from,
                date_to=current.date_to,
                basis=current.basis,
            )
        )

    def _changed(self, _: object = None) -> None:
        if not self._syncing:
            self.choose(self._from_controls())

    def _dates_changed(self, _: object = None) -> None:
        """A date typed or picked makes the period custom dates."""
        if self._syncing:
            return
        self._syncing = True
        try:
            self.range.value = "custom"
        finally:
            self._syncing = False
        self.choose(self._from_controls())

    def _from_controls(self) -> DashboardFilters:
        custom = self.range.value == "custom"
        return DashboardFilters(
            client=self.client.value,
            procedure=self.procedure.value,
            payer=self.payer.value,
            provider=self.provider.value,
            range=self.range.value,
            date_from=self.date_from.value if custom else None,
            date_to=self.date_to.value if custom else None,
            basis=self.basis.value,
        )

    def _sync(self, filters: DashboardFilters) -> None:
        """Set the controls to `filters` without redrawing for each."""
        self._syncing = True
        try:
            for key in ("client", "procedure", "payer", "provider"):
                getattr(self, key).value = getattr(filters, key)
            self.range.value = filters.range
            self.basis.value = filters.basis
            if filters.range == "custom":
                self.date_from.value, self.date_to.value = filters.date_from, filters.date_to
            else:
                period = filters.period(self.today)
                self.date_from.value, self.date_to.value = period.start, period.end
        finally:
            self._syncing = False

    # Drawing -------------------------------------------------------------------------------
    def show(self, nav: Navigation) -> None:
        """Draw the page of `nav.current`; a filter the data cannot answer is a message."""
        started = time.perf_counter()
        self.nav = nav
        self._sync(nav.current)
        self.back_button.disabled = not nav.can_go_back
        self.home_button.disabled = nav.current.view == "agency"
        self.download_link.value = ""
        try:
            request = nav.current.request(self.dataset, self.today, self.offered)
            self.report = Report(
                self.dataset, request, build_view(self.dataset, request), rejects_href=""
            )
            self._draw(self.report)
            self.message.value = ""
        except UtilizationError as exc:
            self._fail(plain_message(exc))
        except Exception:
            log.exception("the dashboard could not draw %s", nav.current)
            self._fail(FAILED)
        self.redraw_seconds = time.perf_counter() - started

    def _fail(self, text: str) -> None:
        self.report = None
        self.message.value = f'<p class="dashboard-error" role="alert">{escape(text)}</p>'
        self.title.value = ""
        self.facts.value = ""
        self.content.children = ()
        for button in self.download_buttons.values():
            button.disabled = True

    def _draw(self, report: Report) -> None:
        view = report.request.view
        self.facts.value = facts_html(report)
        children: list[Any] = []
        for name in PAGE_SECTIONS[view]:
            children.append(self.headings[name])
            if name == "detail":
                frame = report.figures.by_client if view == "procedure" else report.figures.detail
                self.detail.show(frame, DETAIL_COLUMNS[view])
                children.append(self.detail.box)
            else:
                self.sections[name].value = section_html(report, name)
                children.append(self.sections[name])
        self.content.children = tuple(children)
        for button in self.download_buttons.values():
            button.disabled = False
        # Last: a page that shows the new title has received every section before it.
        self.title.value = f'<h1 class="dashboard-title">{escape(page_title(report))}</h1>'

    def download(self, fmt: downloads.Format) -> None:
        """Make the file of `fmt` for what is on screen and offer it as a link."""
        if self.report is None:
            return
        label = downloads.FORMATS[fmt][0]
        self.download_link.value = f"<p>Making the {escape(label)} file…</p>"
        try:
            made = downloads.build(self.report, fmt)
        except UtilizationError as exc:
            self.download_link.value = (
                f'<p class="dashboard-error">{escape(plain_message(exc))}</p>'
            )
            return
        except Exception:
            log.exception("the dashboard could not make the %s file", fmt)
            self.download_link.value = (
                f'<p class="dashboard-error">The {escape(label)} file could not be made.</p>'
            )
            return
        self.download_link.value = made.link_html()


def page_title(report: Report) -> str:
    """`Agency: all clients and services`, `Client: Quinn Whitlock (C0002)`, `Procedure: …`."""
    view = report.request.view
    if view == "agency":
        return "Agency: all clients and services"
    return f"{view.capitalize()}: {report.subject}"


def facts_html(report: Report) -> str:
    """One line under the title: period, filters, balance date, basis and the data's name
    (never its path).
    """
    figures = report.figures
    facts = [
        report.period_text,
        f"filters: {filters_text(dict(figures.filters or {}))}",
        f"balances as of {pd.Timestamp(figures.as_of):%-d %b %Y}",
        f"units approved {figures.basis}",
        f"data: {source_name(figures.source)}",
    ]
    return f'<p class="dashboard-facts">{escape(" · ".join(facts))}</p>'


def section_html(report: Report, name: str) -> str:
    """The HTML of one section of the page (not the detail table, which is widgets)."""
    if name == "family":
        return report.family_summary_html()
    if name == "kpis":
        return report.kpis_html()
    if name == "by_procedure":
        return _img(charts.to_svg(report.chart_by_procedure()), HEADINGS[name])
    if name == "by_client":
        return _img(charts.to_svg(report.chart_by_client()), HEADINGS[name])
    if name == "monthly":
        return _img(charts.to_svg(report.chart_monthly()), HEADINGS[name])
    if name == "balances_chart":
        return _img(charts.to_svg(report.chart_balances()), HEADINGS[name])
    if name == "rate_check":
        return report.rate_check_html()
    if name == "flags":
        return report.flags_html()
    if name == "balances":
        count = len(report.figures.authorizations)
        opened = " open" if count <= OPEN_BALANCES else ""
        return (
            f'<details class="dashboard-balances"{opened}><summary>{count:,} '
            f"authorization(s) overlapping the period</summary>{report.balances_html()}</details>"
        )
    msg = f"no section {name!r} on the dashboard; sections: {list(HEADINGS)}"
    raise ValueError(msg)


def show_dashboard(
    data: str = "demo",
    settings: str = "",
    data_slice: str = "",
    today: str = "",
    query: str | None = None,
) -> Dashboard:
    """Load the data (once per kernel), display the dashboard and return it.

    `query`: the page address's query (`client=C0001&range=last-quarter`); None reads the
    one Voilà passes to the kernel (`QUERY_STRING`). A value the data does not have is a
    message on the page above the agency's figures.
    """
    from IPython.display import display

    day = date.fromisoformat(today) if today else date.today()
    dataset = load_cached(data, settings, data_slice)
    text = os.environ.get("QUERY_STRING", "") if query is None else query
    problem = ""
    try:
        filters = DashboardFilters.from_query(text)
        check(filters, choices(dataset))
        filters.period(day)
    except FilterError as exc:
        filters, problem = DashboardFilters(), plain_message(exc)
    board = Dashboard(dataset, day, filters)
    board.show(board.nav)
    if problem:
        board.message.value = f'<p class="dashboard-error" role="alert">{escape(problem)}</p>'
    display(board.widget)
    return board
