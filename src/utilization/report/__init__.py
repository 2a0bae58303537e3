"""Report rendering: sections of a view (`sections`), charts and tables, the widget explorer,
template notebooks run by papermill (`runner`, `notebooks`) and offline HTML / PDF (`render`).

The template notebooks import what they call from here.
"""

from utilization.report.charts import show
from utilization.report.sections import Report, open_report
from utilization.report.tables import display_html
from utilization.report.widgets import explore

__all__ = ["Report", "display_html", "explore", "open_report", "show"]
