"""Tests of reading a data source: folders of CSV or Parquet, workbooks, SQL and the demo."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from utilization.cli import main
from utilization.exceptions import InputError
from utilization.settings import Settings
from utilization.sources import read_source
from utilization.validation import validate

FRAMES = ("clients", "procedures", "payers", "providers", "authorizations", "visits", "payments")

SMALL: dict[str, dict[str, list[str]]] = {
    "clients": {
        "client_id": ["C1", "C2", "C3"],
        "client_name": ["Ann Lee", "Bo Diaz", ""],
        "medicaid_id": ["007", "", "123"],
        "notes": ["extra column", "", ""],
    },
    "procedures": {
        "procedure_code": ["T1019", "S5125", "G0156", "X1"],
        "description": ["Personal care", "Attendant care", "Home health aide", "Bad rate"],
        "unit_minutes": ["15", "", "0", "15"],
        "rate": ["6.10", "", "30", "-1"],
    },
    "payers": {"payer_id": ["P1"], "payer_name": ["Medicaid"]},
    "providers": {"provider_id": ["E1"], "provider_name": ["Eve Moss"]},
    "authorizations": {
        "authorization_id": ["A1", "A2", "A3"],
        "client_id": ["C1", "C2", "C1"],
        "procedure_code": ["T1019", "S5125", "X1"],
        "start_date": ["2025-01-01", "2025-01-01", "2025-01-01"],
        "end_date": ["2025-06-30", "2025-12-31", "2025-12-31"],
        "units_approved": ["100", "50", "10"],
        "payer_id": ["P1", "", ""],
        "rate": ["", "4.25", ""],
    },
    "visits": {
        "visit_id": ["V1", "V2", "V3", "V4", "V5"],
        "client_id": ["C1", "C2", "C1", "C1", "C9"],
        "procedure_code": ["T1019", "S5125", "G0156", "T1019", "T1019"],
        "start": [
            "2025-01-06 09:00:00",
            "",
            "2025-01-08 22:00:00",
            "2025-01-10 12:00:00",
            "2025-01-11 09:00:00",
        ],
        "end": [
            "2025-01-06 10:07:00",
            "",
            "2025-01-09 02:00:00",
            "2025-01-10 11:00:00",
            "2025-01-11 10:00:00",
        ],
        "service_date": ["", "2025-01-07", "", "", ""],
        "minutes": ["", "45", "", "", ""],
        "provider_id": ["E1", "", "E1", "", ""],
        "payer_id": ["P1", "", "", "", ""],
        "status": ["Completed", "scheduled", "", "", ""],
        "billable": ["", "", "no", "", ""],
        "units": ["4", "", "", "", ""],
    },
    "payments": {
        "visit_id": ["V1", "V1", "V4"],
        "insurance_paid": ["55", "-55", "10"],
        "patient_paid": ["5", "", ""],
        "paid_date": ["2025-02-01", "2025-02-15", "2025-02-01"],
    },
}
"""A small export with one problem of each kind that must read the same from every form."""

NUMBERS = {
    "unit_minutes",
    "rate",
    "units_approved",
    "minutes",
    "units",
    "insurance_paid",
    "patient_paid",
}
DATES = {"start_date", "end_date", "service_date", "paid_date"}
INSTANTS = {"start", "end"}


def text_tables() -> dict[str, pd.DataFrame]:
    """SMALL as text frames, as a CSV export holds it."""
    return {name: pd.DataFrame(columns, dtype="str") for name, columns in SMALL.items()}


def typed_tables() -> dict[str, pd.DataFrame]:
    """SMALL with typed columns (numbers, dates, date-times), as Parquet or SQL hold it."""
    tables = {}
    for name, frame in text_tables().items():
        typed = pd.DataFrame(index=frame.index)
        for column in frame.columns:
            values = frame[column].replace("", None)
            if column in NUMBERS:
                typed[column] = pd.to_numeric(values)
            elif column in DATES:
                typed[column] = [None if pd.isna(v) else dt.date.fromisoformat(v) for v in values]
            elif column in INSTANTS:
                typed[column] = pd.to_datetime(values)
            else:
                typed[column] = frame[column]
        tables[name] = typed
    return tables


def write_csv(folder: Path, tables: dict[str, pd.DataFrame]) -> Path:
    """Write one CSV per table into `folder`."""
    folder.mkdir(exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def expected_dataset():
    """The validated SMALL dataset read from CSV, the reference for the other forms."""
    return validate(read_source(write_csv(Path.cwd() / "csv", text_tables())), Settings())


def assert_same_dataset(left, right) -> None:
    """Assert two datasets have identical canonical frames, rejects and row counts."""
    for name in (*FRAMES, "rejects", "row_counts"):
        pd.testing.assert_frame_equal(getattr(left, name), getattr(right, name), obj=name)


# -- one dataset, every form ----------------------------------------------------------------


def test_small_dataset_from_csv(tmp_path: Path) -> None:
    """It validates the small CSV export into the expected frames and rejects."""
    raw = read_source(write_csv(tmp_path / "csv", text_tables()))
    assert raw.kind == "folder"
    assert raw.data_dir == tmp_path / "csv"
    assert raw.origin["visits"] == str(tmp_path / "csv" / "visits.csv")
    ds = validate(raw, Settings())
    assert list(ds.rejects.itertuples(index=False, name=None)) == [
        ("clients", 4, "client_name", "", "required value is missing", "missing"),
        ("procedures", 5, "rate", "-1", "negative; must be 0 or more", "negative"),
        (
            "authorizations",
            4,
            "procedure_code",
            "X1",
            "found in procedures, but that row (row 5) was rejected",
            "rejected_reference",
        ),
        ("visits", 5, "end", "2025-01-10 11:00:00", "end is before start", "end_before_start"),
        ("visits", 6, "client_id", "C9", "not found in clients", "unknown_reference"),
        (
            "payments",
            4,
            "visit_id",
            "V4",
            "found in visits, but that row (row 5) was rejected",
            "rejected_reference",
        ),
    ]
    assert ds.row_counts["rows_used"].tolist() == [2, 3, 1, 1, 2, 3, 2]
    v = ds.visits
    assert v["visit_id"].tolist() == ["V1", "V2", "V3"]
    assert v["minutes"].tolist() == [67, 45, 240]
    assert v["units"].tolist() == [4, 3, 1]
    assert v["status"].tolist() == ["completed", "scheduled", "completed"]
    assert v["billable"].tolist() == [True, True, False]
    assert v["order"].tolist() == [0, 1, 2]
    assert ds.clients["medicaid_id"].tolist()[0] == "007"
    assert ds.authorizations["rate"].tolist() == [6.1, 4.25]
    assert ds.procedures["rounding"].tolist() == ["midpoint", "midpoint", "per_visit"]


def test_parquet_folder_gives_the_same_dataset(tmp_path: Path, monkeypatch) -> None:
    """It reads a folder of typed Parquet files into the same frames as the CSV folder."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "parquet"
    folder.mkdir()
    for name, frame in typed_tables().items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    raw = read_source(folder)
    assert raw.tables["visits"]["_row"].tolist() == [2, 3, 4, 5, 6]
    assert_same_dataset(validate(raw, Settings()), expected_dataset())


def test_workbook_gives_the_same_dataset(tmp_path: Path, monkeypatch) -> None:
    """It reads an .xlsx workbook, one typed sheet per table, into the same frames."""
    monkeypatch.chdir(tmp_path)
    book = tmp_path / "agency.xlsx"
    with pd.ExcelWriter(book, engine="openpyxl") as writer:
        for name, frame in typed_tables().items():
            frame.to_excel(writer, sheet_name=name, index=False)
    raw = read_source(book)
    assert (raw.kind, raw.origin["visits"]) == ("excel", f"{book}:visits")
    assert raw.tables["visits"]["start"][0] == "2025-01-06 09:00:00"
    assert_same_dataset(validate(raw, Settings()), expected_dataset())


def test_sqlite_gives_the_same_dataset(tmp_path: Path, monkeypatch) -> None:
    """It reads the tables of a SQLite database URL into the same frames."""
    monkeypatch.chdir(tmp_path)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'agency.db'}")
    with engine.begin() as connection:
        for name, frame in text_tables().items():
            frame.to_sql(name, connection, index=False)
        pd.DataFrame({"x": [1]}).to_sql("unrelated", connection, index=False)
    engine.dispose()
    raw = read_source(f"sqlite:///{tmp_path / 'agency.db'}")
    assert (raw.kind, raw.origin["visits"], raw.data_dir) == ("sql", "visits", None)
    assert "unrelated" not in raw.tables
    assert_same_dataset(validate(raw, Settings()), expected_dataset())


def test_sqlite_values_unlike_their_declared_types_are_rejects(tmp_path: Path) -> None:
    """SQLite keeps a value whatever its column's declared type: text that is not a
    date-time in a TIMESTAMP column, a number in a DATE one, bytes that are not UTF-8 in a
    TEXT one. Each is a reject naming its row, column and value (they stopped the read
    with a traceback), and the rows beside them read as before.
    """
    url = f"sqlite:///{tmp_path / 'agency.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        for name, frame in text_tables().items():
            if name not in ("visits", "authorizations"):
                frame.to_sql(name, connection, index=False)
        connection.exec_driver_sql(
            "create table visits (visit_id TEXT, client_id TEXT, procedure_code TEXT, "
            "start TIMESTAMP, end TIMESTAMP)"
        )
        connection.exec_driver_sql(
            "insert into visits values "
            "('V1', 'C1', 'T1019', '2025-01-06 09:00:00', '2025-01-06 10:07:00'), "
            "('V2', 'C1', 'T1019', 'not a time', '2025-01-06 10:07:00'), "
            "('V3', x'43ff', 'T1019', '2025-01-08 09:00:00', '2025-01-08 10:00:00')"
        )
        connection.exec_driver_sql(
            "create table authorizations (authorization_id TEXT, client_id TEXT, "
            "procedure_code TEXT, start_date DATE, end_date DATE, units_approved INTEGER)"
        )
        connection.exec_driver_sql(
            "insert into authorizations values "
            "('A1', 'C1', 'T1019', '2025-01-01', '2025-06-30', 100), "
            "('A2', 'C1', 'T1019', 46037, '2025-06-30', 100)"
        )
    engine.dispose()
    dataset = validate(read_source(url), Settings())
    assert dataset.visits["visit_id"].tolist() == ["V1"]
    assert dataset.authorizations["authorization_id"].tolist() == ["A1"]
    found = dataset.rejects[dataset.rejects["table"].isin(["visits", "authorizations"])]
    assert found[["table", "row", "column", "value", "reason"]].to_dict("records") == [
        {
            "table": "authorizations",
            "row": 3,
            "column": "start_date",
            "value": "46037",
            "reason": "not a date (expected YYYY-MM-DD)",
        },
        {
            "table": "visits",
            "row": 3,
            "column": "start",
            "value": "not a time",
            "reason": "not a date-time (expected YYYY-MM-DD HH:MM:SS, optionally with a UTC "
            "offset)",
        },
        {
            "table": "visits",
            "row": 4,
            "column": "client_id",
            "value": "C\\xff",
            "reason": "not found in clients",
        },
    ]


@pytest.mark.postgres
def test_postgresql_gives_the_same_dataset(tmp_path: Path, monkeypatch, postgres_url: str) -> None:
    """It reads typed tables (timestamp, date, numbers) of a PostgreSQL server the same way."""
    monkeypatch.chdir(tmp_path)
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        for name, frame in typed_tables().items():
            frame.to_sql(name, connection, index=False)
    engine.dispose()
    raw = read_source(postgres_url)
    assert raw.kind == "sql"
    assert pd.api.types.is_datetime64_any_dtype(raw.tables["visits"]["start"])
    assert_same_dataset(validate(raw, Settings()), expected_dataset())


@pytest.mark.postgres
def test_postgresql_missing_table_lists_tables_found(postgres_url: str) -> None:
    """It names the missing tables and the tables found in a PostgreSQL database."""
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE clients (client_id text)"))
    engine.dispose()
    with pytest.raises(InputError, match=r"required table\(s\) \[.*'visits'\] missing"):
        read_source(postgres_url)


# -- CSV details ----------------------------------------------------------------------------


def test_csv_is_read_as_text(tmp_path: Path) -> None:
    """It reads every CSV column as text: leading zeros kept, empty cells as ''."""
    (tmp_path / "visits.csv").write_bytes(b"\xef\xbb\xbf visit_id ,minutes,units\r\n0042,015,\r\n")
    frame = read_source_tables(tmp_path)["visits"]
    assert list(frame.columns) == ["visit_id", "minutes", "units", "_row"]
    assert frame.iloc[0].tolist() == ["0042", "015", "", 2]


def test_csv_row_numbers_are_spreadsheet_rows(tmp_path: Path) -> None:
    """It numbers rows as a spreadsheet does, counting blank lines and multi-line cells."""
    (tmp_path / "visits.csv").write_text(
        'visit_id,note\nV1,"two\nlines"\n\n,\nV2,x\nV3,y', encoding="utf-8"
    )
    frame = read_source_tables(tmp_path)["visits"]
    assert frame["visit_id"].tolist() == ["V1", "V2", "V3"]
    assert frame["_row"].tolist() == [2, 5, 6]
    assert frame["note"][0] == "two\nlines"


def test_csv_header_only(tmp_path: Path) -> None:
    """It reads a CSV holding only its header row as a table of no rows."""
    (tmp_path / "visits.csv").write_text("visit_id,client_id", encoding="utf-8")
    frame = read_source_tables(tmp_path)["visits"]
    assert list(frame.columns) == ["visit_id", "client_id", "_row"]
    assert frame.empty


def test_unnamed_empty_column_is_dropped(tmp_path: Path) -> None:
    """It drops a column with no name and no values (a trailing comma in every row)."""
    (tmp_path / "visits.csv").write_text("visit_id,\nV1,\n", encoding="utf-8")
    assert list(read_source_tables(tmp_path)["visits"].columns) == ["visit_id", "_row"]


# -- files that cannot be read as a table ---------------------------------------------------


def exactly(message: str) -> str:
    """A pattern for `pytest.raises(match=...)` that only the whole `message` matches."""
    return rf"\A{re.escape(message)}\Z"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param(
            "visits.csv",
            b"visit_id,\nV1,7\n",
            exactly(
                "visits.csv: column 2 has values but no name in the header row; "
                "name it or delete it"
            ),
            id="unnamed-column-with-values",
        ),
        pytest.param(
            "visits.csv",
            b"visit_id,visit_id \nV1,V2\n",
            r"visits\.csv: column name 'visit_id' appears more",
            id="repeated-column-name",
        ),
        pytest.param(
            "clients.csv",
            "client_id,client_name\nC1,José\n".encode("latin-1"),
            exactly(
                "clients.csv: not UTF-8 text (byte 0xe9 at offset 28, line 2); "
                "save it as UTF-8 (in Excel: Save As > CSV UTF-8)"
            ),
            id="latin-1",
        ),
        pytest.param(  # the byte is found beyond the header, in the body of a large file
            "clients.csv",
            ("client_id,client_name\n" + "C1,Ann\n" * 20_000 + "C2,Zoë\n").encode("latin-1"),
            r"byte 0xeb at offset 140027, line 20002",
            id="latin-1-byte-far-into-the-file",
        ),
        pytest.param(
            "visits.csv",
            "visit_id\nV1\n".encode("utf-16"),
            r"visits\.csv: UTF-16 text, not UTF-8",
            id="utf-16-excel-unicode-text",
        ),
        pytest.param(
            "clients.csv",
            "client_id,client_name\nC1,Ann Lee\n".encode("utf-16-le"),
            exactly(
                "clients.csv: UTF-16 text (without a byte-order mark), not UTF-8; save it as "
                "UTF-8 (in Excel: CSV UTF-8)"
            ),
            id="utf-16-without-a-byte-order-mark",
        ),
        pytest.param(
            "clients.csv",
            b"client_id,client_name\rC1,Ann Lee\rC2,Bo Diaz\r",
            exactly(
                "clients.csv: its lines end with a carriage return alone (an old Mac format), "
                "which CSV readers do not take as line ends; save it again as CSV UTF-8 (line "
                "ends CRLF or LF)"
            ),
            id="old-mac-line-ends",
        ),
        pytest.param(
            "visits.csv",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64),
            exactly(
                "visits.csv: not a CSV file (it is a PNG image); export the table as CSV UTF-8"
            ),
            id="png-renamed-csv",
        ),
        pytest.param(
            "payments.csv",
            b"",
            exactly("payments.csv: the file is empty; export the table again with its header row"),
            id="empty-file",
        ),
        pytest.param(
            "visits.csv",
            b"\nV1,C1\n",
            r"visits.csv: no header row \(row 1 is blank\)",
            id="no-header-row",
        ),
        pytest.param(  # a row with more fields than the header row: named, not shown
            "visits.csv",
            b"visit_id,client_id\nV1,C1\nV2,C2,x\n",
            exactly(
                "visits.csv: row 3 has 3 fields but the header row has 2; check that row for a "
                "comma in an unquoted value or a missing field (re-export the table if in doubt)"
            ),
            id="ragged-rows",
        ),
        pytest.param(  # the quote swallows the rows below it, to the end of the file
            "clients.csv",
            b'client_id,client_name,status\nC1,"Ann Lee,active\nC2,Bo Diaz,active\nC3,Cy,x\n',
            exactly(
                "clients.csv: row 2 has 2 fields but the header row has 3: a quote opened in "
                "it runs over lines 2 to 4 of the file; close the quote (or re-export the "
                "table)"
            ),
            id="unclosed-quote",
        ),
    ],
)
def test_a_file_that_cannot_be_read_as_a_table_stops_naming_it_and_what_to_do(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    """It stops on a file it cannot read as a table (its header row, encoding, format or
    rows), naming the file and what to do.
    """
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_source_tables(tmp_path)


def test_values_separated_by_semicolons_are_said_to_be(tmp_path: Path) -> None:
    """A visits file saved with semicolons (Excel in much of Europe): one column whose name
    holds them all; the message says so rather than list the columns missing.
    """
    folder = write_csv(tmp_path / "data", text_tables())
    (folder / "visits.csv").write_text("visit_id;client_id;procedure_code;start;end\nV1;C1\n")
    with pytest.raises(InputError) as stopped:
        validate(read_source(folder), Settings())
    assert str(stopped.value) == (
        "visits: the header row is one column, 'visit_id;client_id;procedure_code;start;end': "
        "its values are separated by ';', not commas; save the table as CSV with commas (in "
        f"Excel: CSV UTF-8). Source: {folder / 'visits.csv'}"
    )


def test_a_parquet_file_naming_a_column_twice_says_which(tmp_path: Path) -> None:
    """Arrow's reader stops on a Parquet column name given twice with its own schema dump;
    the message names the column instead.
    """
    folder = write_csv(tmp_path / "data", text_tables())
    (folder / "clients.csv").unlink()
    names = ["client_id", "client_name", "client_name"]
    table = pa.table([pa.array(["C1"]), pa.array(["Ann"]), pa.array(["Ann"])], names=names)
    pq.write_table(table, folder / "clients.parquet")
    with pytest.raises(InputError) as stopped:
        read_source(folder)
    assert str(stopped.value) == (
        "clients.parquet: column name 'client_name' appears more than once; export it again"
    )


def test_a_data_folder_that_cannot_be_looked_into_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The system refuses to look into the data folder (its permissions, as for a user who
    is not root): the message names the data folder, not the remittances/ it looked for.
    """
    folder = write_csv(tmp_path / "data", text_tables())
    is_dir = Path.is_dir

    def refused(path: Path) -> bool:
        if path.name == "remittances":
            raise PermissionError(13, "Permission denied", str(path))
        return is_dir(path)

    monkeypatch.setattr(Path, "is_dir", refused)
    assert main(["validate", "--data", str(folder), "--out", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == (
        f"utilization validate: {folder}: cannot look into the data folder: permission denied; "
        "check the permissions of the file and its folder\n"
    )


def test_a_file_named_remittances_is_not_passed_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """835 files go in a folder `remittances/`; a file of that name would leave its payments
    out without a word: the run stops, saying so.
    """
    folder = write_csv(tmp_path / "data", text_tables())
    (folder / "remittances").write_text("ISA*00*...")
    assert main(["validate", "--data", str(folder), "--out", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == (
        f"utilization validate: {folder / 'remittances'}: a file, not a folder; the 835 files "
        "go in a folder of that name in the data folder (move or rename the file)\n"
    )


def test_corrupt_parquet(tmp_path: Path) -> None:
    """It stops on a .parquet file that is not Parquet, naming it."""
    write_csv(tmp_path, text_tables())
    (tmp_path / "payments.csv").unlink()
    (tmp_path / "payments.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match=r"payments.parquet: cannot be read as a Parquet file"):
        read_source(tmp_path)


def _parquet_folder(folder: Path) -> Path:
    """SMALL as typed Parquet files written by pandas (each with its pandas description),
    the visits' units as nullable whole numbers (Int64) and their minutes as text.
    """
    folder.mkdir()
    tables = typed_tables()
    tables["visits"]["units"] = tables["visits"]["units"].astype("Int64")
    tables["visits"]["minutes"] = text_tables()["visits"]["minutes"]
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def _rewritten(path: Path, column: str, values: pa.Array) -> None:
    """Replace a column of a Parquet file as another tool would: the pandas description of
    the frame it was written from is kept, now wrong about that column.
    """
    table = pq.read_table(path)
    table = table.set_column(table.schema.get_field_index(column), column, values)
    assert table.schema.pandas_metadata is not None
    pq.write_table(table, path)


def test_a_parquet_column_stored_unlike_its_pandas_description_is_read_as_stored(
    tmp_path: Path,
) -> None:
    """`units` described as whole numbers (Int64) but stored as true/false, and `minutes`
    described as text but stored as a duration: each value is read as stored and rejected
    as not a number, naming the row and the value, instead of a traceback (units) or
    1800 minutes read from 30 (minutes).
    """
    folder = _parquet_folder(tmp_path / "parquet")
    _rewritten(folder / "visits.parquet", "units", pa.array([True, None, None, None, None]))
    thirty = pa.array([None, dt.timedelta(minutes=30), None, None, None], pa.duration("s"))
    _rewritten(folder / "visits.parquet", "minutes", thirty)
    rejects = validate(read_source(folder), Settings()).rejects
    mine = rejects[rejects["column"].isin(["units", "minutes"])]
    assert mine[["row", "column", "value", "reason"]].to_dict("records") == [
        {"row": 2, "column": "units", "value": "true", "reason": "not a number"},
        {"row": 3, "column": "minutes", "value": "0 days 00:30:00", "reason": "not a number"},
    ]


def test_parquet_visit_ids_beyond_signed_64_bits_are_looked_up(tmp_path: Path) -> None:
    """Visit ids stored as unsigned 64-bit numbers of 2^63 and more: payments that name them
    find their visits, those that name the small ids of before are rejected as not found
    (it stopped on an overflow).
    """
    folder = _parquet_folder(tmp_path / "parquet")
    big = [2**64 - 1 - i for i in range(5)]
    visits = pq.read_table(folder / "visits.parquet").replace_schema_metadata(None)
    big_ids = pa.array(big, pa.uint64())
    pq.write_table(visits.set_column(0, "visit_id", big_ids), folder / "visits.parquet")
    payments = pq.read_table(folder / "payments.parquet").replace_schema_metadata(None)
    ids = pa.array([big[0], 1, big[1]], pa.uint64())  # written by a tool other than pandas
    pq.write_table(payments.set_column(0, "visit_id", ids), folder / "payments.parquet")
    dataset = validate(read_source(folder), Settings())
    assert dataset.payments["visit_id"].tolist() == [str(big[0]), str(big[1])]
    (row,) = dataset.rejects[dataset.rejects["table"] == "payments"].to_dict("records")
    assert (row["row"], row["value"], row["reason"]) == (3, "1", "not found in visits")
    small = pa.array([1, 2, 3], pa.int64())  # signed: compared with the unsigned ids
    pq.write_table(payments.set_column(0, "visit_id", small), folder / "payments.parquet")
    dataset = validate(read_source(folder), Settings())
    assert dataset.payments.empty
    found = dataset.rejects[dataset.rejects["table"] == "payments"]
    assert found[["row", "value", "reason"]].to_dict("records") == [
        {"row": r, "value": str(r - 1), "reason": "not found in visits"} for r in (2, 3, 4)
    ]


# -- source structure -----------------------------------------------------------------------


def test_table_given_twice(tmp_path: Path) -> None:
    """It stops when a table is given both as CSV and as Parquet, naming both files."""
    write_csv(tmp_path, text_tables())
    text_tables()["visits"].to_parquet(tmp_path / "visits.parquet")
    with pytest.raises(InputError) as caught:
        read_source(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path}: table 'visits' is given twice, as visits.csv and visits.parquet; "
        "keep one of the two files"
    )


def test_missing_required_table_in_folder(tmp_path: Path) -> None:
    """It names the missing table and lists the files found in the folder."""
    write_csv(tmp_path, text_tables())
    (tmp_path / "visits.csv").rename(tmp_path / "Visits.CSV")
    with pytest.raises(InputError) as caught:
        read_source(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path}: required table(s) ['visits'] missing; add visits.csv (or .parquet). "
        "Files found: ['Visits.CSV', 'authorizations.csv', 'clients.csv', 'payers.csv', "
        "'payments.csv', 'procedures.csv', 'providers.csv']"
    )


def test_missing_sheet_lists_sheets_found(tmp_path: Path) -> None:
    """It names the missing sheet and lists the sheets found in a workbook."""
    book = tmp_path / "agency.xlsx"
    with pd.ExcelWriter(book, engine="openpyxl") as writer:
        for name in ("clients", "procedures", "Visits"):
            text_tables()[name if name != "Visits" else "visits"].to_excel(
                writer, sheet_name=name, index=False
            )
    with pytest.raises(InputError) as caught:
        read_source(book)
    assert str(caught.value) == (
        "agency.xlsx: required sheet(s) ['authorizations', 'visits'] missing; add one sheet "
        "per table named as the table. Sheets found: ['clients', 'procedures', 'Visits']"
    )


def test_missing_sql_table_lists_tables_found(tmp_path: Path) -> None:
    """It names the missing table and lists the tables found in a SQLite database."""
    url = f"sqlite:///{tmp_path / 'agency.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        for name in ("clients", "procedures", "visits"):
            text_tables()[name].to_sql(name, connection, index=False)
    engine.dispose()
    with pytest.raises(InputError) as caught:
        read_source(url)
    assert str(caught.value) == (
        f"{url}: required table(s) ['authorizations'] missing from the database. "
        "Tables found: ['clients', 'procedures', 'visits']"
    )


def test_workbook_row_numbers(tmp_path: Path) -> None:
    """It numbers workbook rows as Excel does, skipping blank rows but counting them."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "visits"
    for row in (["visit_id", "minutes"], ["V1", 30], [None, None], ["V2", 45.5]):
        sheet.append(row)
    for name in ("clients", "procedures", "authorizations"):
        book.create_sheet(name).append(["id"])
    book.save(tmp_path / "agency.xlsx")
    frame = read_source(tmp_path / "agency.xlsx").tables["visits"]
    assert frame.to_dict("list") == {
        "visit_id": ["V1", "V2"],
        "minutes": ["30", "45.5"],
        "_row": [2, 4],
    }


def test_unusable_paths(tmp_path: Path) -> None:
    """It explains what to give instead of a missing path, a single CSV file or an .xls."""
    with pytest.raises(InputError, match="does not exist"):
        read_source(tmp_path / "nowhere")
    write_csv(tmp_path, text_tables())
    with pytest.raises(InputError, match="give the folder that holds the table files"):
        read_source(tmp_path / "visits.csv")
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputError, match=r"old Excel format \(.xls\)"):
        read_source(tmp_path / "old.xls")
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    with pytest.raises(InputError, match=r"broken\.xlsx: cannot be read as an Excel workbook"):
        read_source(tmp_path / "broken.xlsx")


def test_bad_database_url() -> None:
    """It stops with one message on a URL whose database driver does not exist."""
    with pytest.raises(InputError, match="is not a usable database URL"):
        read_source("nosuchdb://user@host/db")


def test_demo_source() -> None:
    """It reads the built-in demo data as raw tables with row numbers."""
    raw = read_source("demo")
    assert raw.kind == "demo" and raw.data_dir is None
    assert {"clients", "procedures", "authorizations", "visits"} <= set(raw.tables)
    visits = raw.tables["visits"]
    assert visits["_row"].tolist()[:3] == [2, 3, 4]
    ds = validate(raw, Settings())
    counts = ds.row_counts.set_index("table")
    assert (counts["rows_read"] == counts["rows_used"] + counts["rows_rejected"]).all()
    assert counts.loc["visits", "rows_used"] > 0


def read_source_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """The tables read from `folder`, with any required table not written there added."""
    for name in ("clients", "procedures", "authorizations", "visits"):
        if not (folder / f"{name}.csv").exists() and not (folder / f"{name}.parquet").exists():
            text_tables()[name].to_csv(folder / f"{name}.csv", index=False)
    return read_source(folder).tables
