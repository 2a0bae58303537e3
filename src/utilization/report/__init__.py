"""Report rendering: sections of a view (`sections`), charts and tables, the widget explorer,
template notebooks run by papermill or in this process (`runner`, `inprocess`, `notebooks`)
and offline HTML / PDF (`render`, `convert`).

The template notebooks import what they call from here. These names are imported when first
used, so a module of this package (the runner, the renderer) comes without the chart stack.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from utilization.report.charts import show
    from utilization.report.sections import Report, open_report
    from utilization.report.tables import display_html
    from utilization.report.widgets import explore

__all__ = ["Report", "display_html", "explore", "open_report", "show"]
_HOMES = {
    "Report": "sections",
    "display_html": "tables",
    "explore": "widgets",
    "open_report": "sections",
    "show": "charts",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        msg = f"module 'utilization.report' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(import_module(f"utilization.report.{_HOMES[name]}"), name)
    globals()[name] = value
    return value
