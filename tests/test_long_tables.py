"""Reports of large agencies stay readable: long tables list their first rows and link a CSV.

A table of one row per client, client and procedure code, authorization or limit lists at most
`TABLE_ROWS` rows; every row is in `<report>.<figure>.csv` beside the report, the same bytes
as the figure's CSV in `utilization export --format csv`. The by-client chart draws the
`CHART_CLIENTS` clients with the most units approved. Here the limits are lowered so that
the small demo agency crosses them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from contract_data import run
from utilization.report import sections
from utilization.report.sections import open_report

TODAY = date(2026, 2, 16)
PERIOD = {"date_from": "2026-01-01", "date_to": "2026-03-31", "as_of": "2026-02-16"}
PERIOD_OPTIONS = ["--from", "2026-01-01", "--to", "2026-03-31", "--as-of", "2026-02-16"]


@pytest.fixture(scope="module")
def data(demo_folder: Callable[..., Path]) -> Path:
    return demo_folder(today=TODAY)


@pytest.fixture(scope="module")
def exported(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The CSV files of `utilization export` of the agency and procedure T2017 views."""
    folders = {}
    for view, extra in (("agency", []), ("procedure", ["--procedure", "T2017"])):
        out = tmp_path_factory.mktemp(f"export-{view}")
        args = ["export", view, "--data", str(data), *PERIOD_OPTIONS, *extra]
        rc, _, err = run([*args, "--format", "csv", "--out", str(out)])
        assert rc == 0, err
        folders[view] = out
    return folders


def _rows(html: str) -> int:
    """Body rows of the one table in `html`."""
    return html.count("<tr") - 1


def test_long_tables_list_their_first_rows_and_link_every_row(
    data: Path, exported: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `TABLE_ROWS` at 5, the agency report's detail lists its first 5 rows, says of
    how many, and links `agency.detail.csv`, whose bytes are the export's detail.csv.
    """
    monkeypatch.setattr(sections, "TABLE_ROWS", 5)
    report = open_report("agency", data=str(data), report_name="agency", **PERIOD)
    detail = exported["agency"] / "detail.csv"
    total = len(detail.read_text(encoding="utf-8").splitlines()) - 1
    assert total > 100
    html = report.detail_html()
    assert html.startswith(
        f'<p class="table-note">The first 5 of {total:,} client and procedure rows, in the order '
        'of the export. All of them: <a href="agency.detail.csv">agency.detail.csv</a>.</p>\n'
    )
    assert _rows(html) == 5
    first = detail.read_text(encoding="utf-8").splitlines()[1].split(",")
    assert re.search(rf"<td>{first[1]}</td>\s*<td>{first[0]}</td>", html)  # name, then id
    files = report.files()
    assert sorted(files) == ["by_provider.csv", "detail.csv"]
    assert files["detail.csv"] == detail.read_text(encoding="utf-8")


def test_a_table_at_the_limit_is_whole_and_writes_no_file(
    data: Path, exported: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A procedure report whose clients are exactly `TABLE_ROWS` lists them all, without a
    note or a file; one fewer allowed, it lists that many and links `by_client.csv`.
    """
    by_client = exported["procedure"] / "by_client.csv"
    clients = len(by_client.read_text(encoding="utf-8").splitlines()) - 1
    assert clients > 2
    monkeypatch.setattr(sections, "TABLE_ROWS", clients)
    report = open_report("procedure", data=str(data), procedure="T2017", **PERIOD)
    html = report.per_client_html()
    assert "table-note" not in html
    assert _rows(html) == clients
    assert "by_client.csv" not in report.files()
    monkeypatch.setattr(sections, "TABLE_ROWS", clients - 1)
    html = report.per_client_html()
    assert f"The first {clients - 1:,} of {clients:,} clients" in html
    assert 'href="by_client.csv"' in html
    assert _rows(html) == clients - 1
    assert report.files() == {"by_client.csv": by_client.read_text(encoding="utf-8")}


def test_the_by_client_chart_draws_the_clients_with_the_most_units_approved(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `CHART_CLIENTS` at 3, the procedure report's chart draws the 3 clients with the
    most units approved (ties by name), and its title says of how many.
    """
    monkeypatch.setattr(sections, "CHART_CLIENTS", 3)
    report = open_report("procedure", data=str(data), procedure="T2017", **PERIOD)
    frame = report.figures.by_client
    expected = frame.sort_values(["units_approved", "client_name"], ascending=[False, True])
    spec = report.chart_by_client().to_dict()
    drawn = {row["client_name"] for row in next(iter(spec["datasets"].values()))}
    assert drawn == set(expected["client_name"].head(3))
    assert spec["title"] == (
        "Units approved and units used: the 3 clients with the most units approved, "
        f"of {len(frame):,}"
    )


def test_the_report_command_writes_the_whole_table_beside_the_report(
    data: Path, exported: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`utilization report agency` with a long detail writes `agency.detail.csv` beside
    `agency.html`, the export's detail.csv.
    """
    monkeypatch.setattr(sections, "TABLE_ROWS", 5)
    out = tmp_path / "out"
    args = ["report", "agency", "--data", str(data), *PERIOD_OPTIONS, "--format", "html"]
    rc, printed, err = run([*args, "--out", str(out)])
    assert rc == 0, err
    assert (out / "agency.detail.csv").read_bytes() == (
        exported["agency"] / "detail.csv"
    ).read_bytes()
    assert str(out / "agency.detail.csv") in printed.split()
    assert 'href="agency.detail.csv"' in (out / "agency.html").read_text(encoding="utf-8")
