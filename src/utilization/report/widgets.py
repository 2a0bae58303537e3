"""Filters as ipywidgets for analysts in JupyterLab: the same charts, redrawn."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from utilization.parameters import Request
from utilization.period import Filters, Period
from utilization.report.sections import Report
from utilization.views import build_view

if TYPE_CHECKING:
    from utilization.dataset import Dataset


def report_for(
    dataset: Dataset, client: str, procedure: str, start: date, end: date, rejects_href: str = ""
) -> Report:
    """The report the widgets ask for: client view with a client, procedure view with a code."""
    request = Request(
        "client" if client else "procedure" if procedure else "agency",
        Period(start, end),
        Filters(clients=(client,) if client else (), procedures=(procedure,) if procedure else ()),
    )
    request.check()
    return Report(dataset, request, build_view(dataset, request), rejects_href)


def explore(report: Report, batch: bool) -> None:
    """In JupyterLab, widgets that redraw the charts for another client, procedure or period.

    Batch runs (batch = True) show nothing: widget state does not render offline. A report
    whose figures were made in parts (data too large to load here) says why it has none.
    """
    if batch:
        return
    if report.in_parts:
        print(NO_WIDGETS)
        return
    explorer(report)


NO_WIDGETS = (
    "No filters here: these figures were made part by part from data too large to load in "
    "this kernel. For another client, procedure or period, run `utilization report` (or "
    "`utilization export`) with those options."
)


def explorer(report: Report) -> Any:
    """Dropdowns for client and procedure, date pickers for the period, and the redrawn charts."""
    import ipywidgets as w
    from IPython.display import display

    from utilization.report.charts import show
    from utilization.report.tables import display_html

    ds = report.dataset
    clients = w.Dropdown(
        description="Client",
        options=[
            ("All clients", ""),
            *sorted(zip(ds.clients["client_name"], ds.clients["client_id"], strict=True)),
        ],
        value=report.request.filters.clients[0] if len(report.request.filters.clients) == 1 else "",
    )
    procedures = w.Dropdown(
        description="Procedure",
        options=[("All procedures", "")]
        + [
            (f"{c} {d}", c)
            for c, d in zip(
                ds.procedures["procedure_code"], ds.procedures["description"], strict=True
            )
        ],
        value=report.request.filters.procedures[0]
        if len(report.request.filters.procedures) == 1
        else "",
    )
    start = w.DatePicker(description="From", value=report.request.period.start)
    end = w.DatePicker(description="To", value=report.request.period.end)
    out = w.Output()

    def redraw(_: object = None) -> None:
        with out:
            out.clear_output()
            if start.value is None or end.value is None or end.value < start.value:
                print("Choose a period whose end is on or after its start.")
                return
            chosen = report_for(ds, clients.value, procedures.value, start.value, end.value)
            display_html(chosen.kpis_html())
            show(
                chosen.chart_by_client()
                if procedures.value and not clients.value
                else chosen.chart_by_procedure()
            )
            show(chosen.chart_monthly())

    for control in (clients, procedures, start, end):
        control.observe(redraw, names="value")
    box = w.VBox([w.HBox([clients, procedures]), w.HBox([start, end]), out])
    display(box)
    redraw()
    return box
