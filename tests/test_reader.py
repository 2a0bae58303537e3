"""The CSV and 835 readers on files an export, an editor or a payer gets slightly wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from remittance_data import march_835
from test_remittance_pipeline import CLIENTS, _folder
from utilization.cli import main
from utilization.pipeline import load
from utilization.remittance import read_835
from utilization.sources import LINES, ROW, read_csv


def _clients(folder: Path, text: str) -> None:
    (folder / "clients.csv").write_text(text, encoding="utf-8")


def test_blank_lines_are_skipped_and_still_count_in_row_numbers(tmp_path: Path) -> None:
    """A line of spaces, one of commas and an empty one hold no data: skipped, not counted as
    read; the rows after them keep their spreadsheet row numbers.
    """
    path = tmp_path / "clients.csv"
    path.write_text("client_id,client_name\nC1,Ann\n   \n,\n\nC2,Bo\n \t \n")
    frame = read_csv(path)
    assert frame[["client_id", ROW]].values.tolist() == [["C1", 2], ["C2", 6]]
    (tmp_path / "agency").mkdir()
    data = _folder(tmp_path / "agency")
    _clients(data, CLIENTS + "   \n")
    counts = load(data).row_counts.set_index("table")
    assert counts.loc["clients"].tolist() == [3, 3, 0]


def test_a_field_of_five_megabytes_is_read(tmp_path: Path) -> None:
    """A value longer than Arrow's block is read whole (the block grows), not refused."""
    path = tmp_path / "procedures.csv"
    long = "x" * 5_000_000
    path.write_text(f"procedure_code,description\nT1019,{long}\nS5125,Attendant care\n")
    frame = read_csv(path)
    assert frame["description"].str.len().tolist() == [5_000_000, 14]
    assert frame[ROW].tolist() == [2, 3]


def test_an_unclosed_quote_is_a_reject_and_the_lines_it_swallowed_are_counted(
    tmp_path: Path,
) -> None:
    """`C4,"Ann,...` swallows the three rows below it into one name: that row is rejected
    (line_break) and counts as the four lines it runs over, so rows read = 3 + 4 + 1 = 8 =
    rows used (4) + rows rejected (4); the row after it keeps Excel's row number.
    """
    data = _folder(tmp_path)
    _clients(data, CLIENTS + 'C4,"Ann,WA4\nC5,Bo,WA5\nC6,Cy,WA6\nC7,Di",WA7\nC8,Ed,WA8\n')
    dataset = load(data)
    rejects = dataset.rejects[dataset.rejects["table"] == "clients"]
    assert rejects[["row", "column", "reason", "code"]].values.tolist() == [
        [5, "client_name",
         "contains a line break: an unclosed quote? (the row runs over 4 lines of the file)",
         "line_break"],
    ]  # fmt: skip
    counts = dataset.row_counts.set_index("table").loc["clients"]
    assert counts.tolist() == [8, 4, 4]
    assert dataset.clients["client_id"].tolist() == ["C1", "C2", "C3", "C8"]


def test_line_breaks_are_free_in_descriptions_and_rejected_in_ids_and_dates(
    tmp_path: Path,
) -> None:
    """A quoted multi-line description is fine; a line break in an id or a date is not."""
    data = _folder(tmp_path)
    (data / "procedures.csv").write_text(
        'procedure_code,description,rate\nT1019,"Personal\ncare",15\n"T10\n05 U4",Respite,12\n'
        "S5125,Attendant care,13\n"
    )
    dataset = load(data)
    assert dataset.procedures["procedure_code"].tolist() == ["T1019", "S5125"]
    assert dataset.procedures["description"].tolist()[0] == "Personal\ncare"
    bad = dataset.rejects[dataset.rejects["code"] == "line_break"]
    assert bad[["table", "row", "column"]].values.tolist() == [["procedures", 3, "procedure_code"]]
    assert dataset.row_counts.set_index("table").loc["procedures"].tolist() == [4, 2, 2]


def test_an_irregular_file_reads_as_a_regular_one_would(tmp_path: Path) -> None:
    """The exact reader (used when Arrow finds a row of spaces) gives the same frame and row
    numbers as the fast one, multi-line values included.
    """
    body = 'visit_id,note\nV1,"two\nlines"\n\n,\nV2,x\nV3,"a ""quoted"" word"\n'
    (tmp_path / "fast.csv").write_text(body)
    (tmp_path / "exact.csv").write_text(body + "   \n")
    fast, exact = read_csv(tmp_path / "fast.csv"), read_csv(tmp_path / "exact.csv")
    pd.testing.assert_frame_equal(fast, exact)
    assert fast[ROW].tolist() == [2, 5, 6] and fast[LINES].tolist() == [2, 1, 1]
    assert fast["note"].tolist() == ["two\nlines", "x", 'a "quoted" word']


def test_a_row_with_too_many_fields_is_named_never_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The message names the file, the row and the counts; not the name or Medicaid id of the
    row, neither in the terminal nor in a batch's output.
    """
    data = _folder(tmp_path)
    _clients(data, CLIENTS + "C4,Jane Secret,WA444999,extra\n")
    assert main(["validate", "--data", str(data), "--out", str(tmp_path / "v")]) == 1
    err = capsys.readouterr().err
    assert "clients.csv: row 5 has 4 fields but the header row has 3" in err
    assert "Jane" not in err and "WA444999" not in err
    params = tmp_path / "q.yaml"
    params.write_text(
        yaml.safe_dump(
            {"name": "q", "view": "agency", "period": "2025-03", "data": str(data),
             "formats": ["html"], "out": str(tmp_path / "out")}
        )
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "utilization", "batch", str(params), "--no-progress"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "row 5 has 4 fields" in done.stderr
    written = "".join(p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert "Jane" not in done.stdout + done.stderr + written
    assert "WA444999" not in done.stdout + done.stderr + written


@pytest.mark.parametrize(
    ("element", "component", "terminator"),
    [("\x1d", "\x1f", "\x1c"), ("|", "\x1f", "\x1e"), ("\x1d", ":", "~")],
    ids=["gs-us-fs", "bar-us-rs", "gs-colon-tilde"],
)
def test_835_delimiters_may_be_control_characters(
    tmp_path: Path, element: str, component: str, terminator: str
) -> None:
    """X12 lets a file pick its separators, control characters included (GS, US, FS, RS):
    the March file written with them reads to the same lines.
    """
    text = march_835()
    plain = read_835(_write(tmp_path / "plain.835", text))
    isa_end = text.index("~")
    isa = text[:isa_end].replace("*", element)
    isa = isa[:-1] + component  # ISA16, the component separator
    body = text[isa_end + 1 :].replace("*", element).replace("HC:", f"HC{component}")
    body = body.replace(":U4", f"{component}U4").replace("~", terminator)
    odd = read_835(_write(tmp_path / "odd.835", isa + terminator + body))
    columns = ["procedure_code", "paid_amount", "service_date", "member_id", "remittance_key"]
    pd.testing.assert_frame_equal(odd[columns], plain[columns])


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
