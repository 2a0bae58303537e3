"""The main job on the demo data: generate, validate, export every view, render reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

from utilization import demo, export
from utilization.period import Filters
from utilization.pipeline import load
from utilization.runner import Renderer
from utilization.validation_report import summary_text, write_rejects
from utilization.views import current_quarter


def run(out: Path, today: date, client_reports: int = 3) -> Iterator[str]:
    """Write the demo data, its rejects, JSON of every view and this quarter's reports into `out`."""
    data = out / "data"
    demo.write_demo(data, fmt="csv", today=today)
    yield f"demo data: {data}"
    dataset = load(data)
    yield summary_text(dataset)
    yield f"rejects: {write_rejects(dataset, out)}"
    period = current_quarter(today)
    as_of = min(today, period.end)
    for view in ("agency", "service-codes", "authorizations"):
        request = export.ViewRequest(view, period, Filters(), as_of)
        path = out / f"{view}.json"
        export.write(export.build_view(dataset, request), "json", path)
        yield f"figures: {path}"
    base = {
        "data": str(data.resolve()),
        "date_from": period.start.isoformat(),
        "date_to": period.end.isoformat(),
        "as_of": as_of.isoformat(),
        "rejects_href": "rejects.csv",
        "batch": True,
    }
    jobs = [
        ("agency", {}, "agency"),
        ("service-codes", {}, "service-codes"),
        ("authorizations", {}, "authorizations"),
    ]
    active = dataset.clients[dataset.clients["status"].fillna("active") != "discharged"]
    for client_id in active["client_id"].head(client_reports):
        jobs.append(("client", {"client": client_id}, f"client-{client_id}"))
    first_code = dataset.procedures.loc[dataset.procedures["billable"], "procedure_code"].iloc[0]
    jobs.append(
        ("procedure", {"procedure": first_code}, "procedure-" + first_code.replace(" ", "_"))
    )
    with Renderer() as renderer:
        for view, extra, name in jobs:
            written = renderer.render(view, base | extra, out, name, ("html", "pdf"))
            yield "report: " + ", ".join(str(p) for p in written.values())
