"""The main job on the demo data: generate, validate, export every view, render reports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

from utilization import export
from utilization.batch.plan import active_ids, parameter_set
from utilization.batch.run import run_batch
from utilization.dataset import Dataset
from utilization.demo.agency import write_demo
from utilization.parameters import Request
from utilization.period import Filters, current_quarter
from utilization.pipeline import load
from utilization.rejects import summary_text, write_rejects
from utilization.report.runner import Renderer
from utilization.views import build_view


def run(out: Path, today: date, client_reports: int | None = None) -> Iterator[str]:
    """Write the demo data, its rejects, JSON of every view and this quarter's reports into
    `out`; the client reports as a batch in `out/clients/<quarter>/` (index and manifest).
    """
    data = out / "data"
    write_demo(data, fmt="csv", today=today)
    yield f"demo data: {data}"
    dataset = load(data)
    yield summary_text(dataset)
    yield f"rejects: {write_rejects(dataset, out)}"
    period = current_quarter(today)
    as_of = min(today, period.end)
    base = Request("agency", period, as_of=as_of, data=str(data.resolve()))
    for view in ("agency", "service-codes", "authorizations", "revenue"):
        path = out / f"{view}.json"
        export.write(build_view(dataset, replace(base, view=view)), "json", path)
        yield f"figures: {path}"
    first_code = dataset.procedures.loc[dataset.procedures["billable"], "procedure_code"].iloc[0]
    jobs: list[tuple[Request, str]] = [
        (replace(base, view="agency"), "agency"),
        (replace(base, view="service-codes"), "service-codes"),
        (replace(base, view="authorizations"), "authorizations"),
        (replace(base, view="revenue"), "revenue"),
        (
            replace(base, view="procedure", filters=Filters(procedures=(first_code,))),
            "procedure-" + first_code.replace(" ", "_"),
        ),
    ]
    with Renderer() as renderer:
        for request, name in jobs:
            parameters = request.to_notebook() | {"rejects_href": "rejects.csv", "batch": True}
            written = renderer.render(request.view, parameters, out, name, ("html", "pdf"))
            yield "report: " + ", ".join(str(p) for p in written.values())
    yield from _client_reports(out, data, today, dataset, client_reports)


def _client_reports(
    out: Path, data: Path, today: date, dataset: Dataset, count: int | None
) -> Iterator[str]:
    """This quarter's client reports as a batch: `out/clients/<quarter>/` with its index."""
    period = current_quarter(today)
    active = active_ids(dataset, period, "client_id")[:count]  # count None: every active client
    if not active:
        return
    spec = parameter_set(
        {
            "name": "clients",
            "view": "client",
            "period": period.label,
            "data": str(data.resolve()),
            "clients": active,
            "as_of": min(today, period.end).isoformat(),
            "formats": ["html", "pdf"],
            "out": str(out),
        }
    )
    result = run_batch(spec, workers=min(os.cpu_count() or 1, len(active)))
    yield "client reports: " + result.summary()
