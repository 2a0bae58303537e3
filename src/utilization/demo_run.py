"""The main job on the demo data: generate, validate, export every view, render reports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from utilization import demo, export
from utilization.batch import run_batch
from utilization.dataset import Dataset
from utilization.parameter_sets import active_ids, parameter_set
from utilization.period import Filters
from utilization.pipeline import load
from utilization.runner import Renderer
from utilization.validation_report import summary_text, write_rejects
from utilization.views import current_quarter


def run(out: Path, today: date, client_reports: int | None = None) -> Iterator[str]:
    """Write the demo data, its rejects, JSON of every view and this quarter's reports into
    `out`; the client reports as a batch in `out/clients/<quarter>/` (index and manifest).
    """
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
    jobs: list[tuple[str, dict[str, str], str]] = [
        ("agency", {}, "agency"),
        ("service-codes", {}, "service-codes"),
        ("authorizations", {}, "authorizations"),
    ]
    first_code = dataset.procedures.loc[dataset.procedures["billable"], "procedure_code"].iloc[0]
    jobs.append(
        ("procedure", {"procedure": first_code}, "procedure-" + first_code.replace(" ", "_"))
    )
    with Renderer() as renderer:
        for view, extra, name in jobs:
            written = renderer.render(view, base | extra, out, name, ("html", "pdf"))
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
