"""Reports of data too large to load whole: the figures made in parts, the report drawn from them.

`utilization report VIEW` on a data folder above `partitions.AUTOMATIC_ROWS` visits, or told
`--partitions K` or `--scheduler`, makes the view's figures part by part (`partitions`) and
hands them to the template as its `data_slice` (`dataset.PreparedView`): the process never
holds the visits, and the report is the one the whole data gives (issue 11).
"""

from __future__ import annotations

import pickle
import re
from datetime import date
from pathlib import Path

import pytest

from contract_data import CLIENTS, PROCEDURES, auth, run, timed, write_data
from utilization import partitions, pipeline, views
from utilization.dataset import PreparedView
from utilization.exceptions import InputError
from utilization.parameters import Request
from utilization.period import Filters, Period
from utilization.report.sections import Report, open_report
from utilization.report.widgets import NO_WIDGETS, explore

PERIOD = ["--from", "2026-01-01", "--to", "2026-03-31", "--as-of", "2026-02-16"]
CELL_ID = re.compile(r'id="cell-id=[0-9a-f]+"')  # papermill names the parameters cell anew


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo") / "data"
    rc, _, err = run(["demo", "--out", str(folder), "--today", "2026-02-16"])
    assert rc == 0, err
    return folder


def _report(folder: Path, out: Path, view: list[str], parts: str) -> str:
    options = ["--data", str(folder), *PERIOD, "--format", "html", "--out", str(out)]
    rc, printed, err = run(["report", *view, *options, "--partitions", parts])
    assert rc == 0, err
    (html,) = (Path(p) for p in printed.split() if p.endswith(".html"))
    return CELL_ID.sub('id="cell-id="', html.read_text(encoding="utf-8"))


VIEWS = {
    "agency": ["agency"],
    "client": ["client", "--client", "C0001"],
    "procedure": ["procedure", "--procedure", "T2017"],
    "service-codes": ["service-codes"],
    "authorizations": ["authorizations"],
    "revenue": ["revenue"],
    "provider": ["provider", "--provider", "P001"],
}


@pytest.mark.parametrize("view", VIEWS.values(), ids=VIEWS.keys())
def test_a_report_made_in_parts_is_the_report_of_the_whole_data(
    demo_folder: Path, tmp_path: Path, view: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The HTML of `--partitions 3` is that of `--partitions 0` (in memory), and so is the
    rejects file beside it; in parts, this process never loads the data set.
    """
    whole = _report(demo_folder, tmp_path / "whole", view, "0")

    def no_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("the data set was loaded whole")

    monkeypatch.setattr(pipeline, "load", no_load)
    monkeypatch.setattr(pipeline, "_cached_load", no_load)
    monkeypatch.setattr(partitions, "load", no_load)
    in_parts = _report(demo_folder, tmp_path / "parts", view, "3")
    assert in_parts == whole
    assert f"<title>{views.get(view[0]).title}" in whole  # rendered, not an error page
    if view[0] == "procedure":  # contracted rates of the period's authorizations (T2017)
        assert "Authorized rate(s)" in whole
        assert "$11.64, $12.25" in whole
    rejects = [(tmp_path / f / "rejects.csv").read_bytes() for f in ("whole", "parts")]
    assert rejects[0] == rejects[1]
    assert rejects[0].count(b"\n") > 1  # the demo's bad rows are there


@pytest.mark.slow
def test_a_report_made_on_a_dask_cluster_is_the_report_of_the_whole_data(
    demo_folder: Path, tmp_path: Path
) -> None:
    """`utilization report agency --scheduler ADDRESS --partitions 3`: the parts run on a
    LocalCluster's two workers; the page is that of the data loaded whole.
    """
    from distributed import LocalCluster

    whole = _report(demo_folder, tmp_path / "whole", ["agency"], "0")
    options = ["--data", str(demo_folder), *PERIOD, "--format", "html"]
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        out = tmp_path / "cluster"
        args = ["report", "agency", *options, "--out", str(out)]
        rc, _, err = run([*args, "--scheduler", cluster.scheduler_address, "--partitions", "3"])
    assert rc == 0, err
    page = (out / "agency.html").read_text(encoding="utf-8")
    assert CELL_ID.sub('id="cell-id="', page) == whole


QUARTER = Period(date(2026, 1, 1), date(2026, 3, 31))


def _quarter_in_parts(folder: Path) -> tuple[Path, Report]:
    """The agency's figures of 2026-Q1 made in 2 parts, written as a template's data slice,
    and the report a template with those parameters opens from it.
    """
    request = Request("agency", QUARTER, Filters(), date(2026, 2, 16), data=str(folder))
    made = partitions.prepared_views((folder, 2), [request], None, partitions.local_runner(1))
    (view,) = made
    assert isinstance(view, PreparedView)
    path = folder.parent / "figures.pickle"
    path.write_bytes(pickle.dumps(view))
    report = open_report(
        "agency", data=str(folder), data_slice=str(path), date_from="2026-01-01",
        date_to="2026-03-31", as_of="2026-02-16",
    )  # fmt: skip
    return path, report


def test_figures_made_for_another_request_are_refused(demo_folder: Path) -> None:
    """A template given figures of the first quarter, while its parameters ask for April,
    says so (InputError naming what differs) instead of showing the quarter's figures.
    """
    path, report = _quarter_in_parts(demo_folder)
    assert (report.figures.kpis["units_used"] or 0) > 0
    assert report.dataset.visits.empty  # the context: no visit held
    with pytest.raises(InputError) as caught:
        open_report(
            "agency", data=str(demo_folder), data_slice=str(path), date_from="2026-04-01",
            date_to="2026-04-30", as_of="2026-02-16",
        )  # fmt: skip
    assert str(caught.value) == (
        f"{path} holds the figures of another request than this report's: period "
        f"{QUARTER} (asked: {Period(date(2026, 4, 1), date(2026, 4, 30))}); make the report "
        "again from the data"
    )


def test_an_analyst_given_figures_made_in_parts_is_told_why_there_are_no_filters(
    demo_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In JupyterLab (batch False) the template's widgets would filter the visits, which a
    report drawn from figures made in parts does not hold: it says so instead.
    """
    _, report = _quarter_in_parts(demo_folder)
    assert report.in_parts
    explore(report, batch=False)
    assert capsys.readouterr().out == NO_WIDGETS + "\n"
    explore(report, batch=True)
    assert capsys.readouterr().out == ""


def test_the_contracted_rates_are_those_of_the_periods_authorizations(tmp_path: Path) -> None:
    """The procedure report's rate check lists the rates of the authorizations overlapping
    the period (the view's `authorizations`), not of one that ended before it.
    """
    folder = write_data(
        tmp_path / "data",
        clients=CLIENTS,
        procedures=PROCEDURES,
        authorizations=[
            auth("A-OLD", "C1", "T1019", "2024-01-01", "2024-12-31", 400, rate="5.50"),
            auth("A-NEW", "C1", "T1019", "2025-01-01", "2025-12-31", 400, rate="6.25"),
            auth("A-TWO", "C2", "T1019", "2025-02-01", "2025-06-30", 100, rate="6.00"),
        ],
        visits=[timed("V1", "C1", "T1019", "2025-01-10", 60)],
    )
    report = open_report(
        "procedure", data=str(folder), date_from="2025-01-01", date_to="2025-03-31",
        procedure="T1019",
    )  # fmt: skip
    html = report.rate_check_html()
    assert "$6.00, $6.25" in html
    assert "$5.50" not in html
    assert "$25.00" in html  # 4 units used at $6.25: the rate used
