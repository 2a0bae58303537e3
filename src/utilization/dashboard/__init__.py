"""The units dashboard: global filters, summary cards, charts, drill-down and downloads in a
web page (Voilà) or a JupyterLab notebook.

`filters` (the filter model and quick date ranges), `navigation` (drill-down and back),
`downloads` (CSV, Excel and PDF of what is on screen), `page` (the widgets) and `server`
(`utilization dashboard`: Voilà on 127.0.0.1 behind a token). The template notebook
`dashboard.ipynb` is a parameters cell and one call of `show_dashboard`.
"""

from utilization.dashboard.filters import QUICK_RANGES, DashboardFilters, quick_range
from utilization.dashboard.navigation import Navigation
from utilization.dashboard.page import Dashboard, show_dashboard

__all__ = [
    "QUICK_RANGES",
    "Dashboard",
    "DashboardFilters",
    "Navigation",
    "quick_range",
    "show_dashboard",
]
