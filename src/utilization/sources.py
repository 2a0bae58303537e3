"""Reading a data source (folder, Excel workbook, SQL database or demo) into raw tables."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import errno
import io
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from utilization.dataset import TABLES
from utilization.exceptions import InputError, require
from utilization.files import fault
from utilization.hugepages import in_small_pages
from utilization.schema import REQUIRED_TABLES

ROW = "_row"
"""Column holding each row's number as the user sees it (header = row 1, first data row = 2)."""


def _arrow_memory() -> None:
    """Arrow allocates from its jemalloc pool, unless `ARROW_DEFAULT_MEMORY_POOL` chooses one.

    jemalloc gives the memory of freed buffers back to the system soon; mimalloc (pyarrow's
    default) keeps it for Arrow, where numpy and pandas, which allocate with the C library,
    cannot use it. Text columns read and let go during validation (millions of date-times)
    are then room for the checked frames: at 10M visits the peak while validating went from
    4.3 GB to 3.7 GB, and the whole run's from 5.8 GB to 5.3 GB.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc (ArrowNotImplementedError)
        return
    pa.set_memory_pool(pool)


_arrow_memory()

_SNIFF_BYTES = 64 * 1024
_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "an Excel workbook or a zip file"),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) workbook"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF", "a PDF document"),
    (b"PAR1", "a Parquet file"),
    (b"GIF8", "a GIF image"),
    (b"SQLite format 3", "a SQLite database"),
)


@dataclass
class RawSource:
    """The tables of one data source as read, before validation.

    `tables` maps a table name to its frame (one row per source row, columns as read, plus
    `_row`, the row number as the user sees it); `origin` maps a table name to the file,
    `workbook.xlsx:sheet` or SQL table it came from.
    """

    tables: dict[str, pd.DataFrame]
    origin: dict[str, str]
    description: str
    data_dir: Path | None
    kind: str


def on_disk(source: str | Path) -> Path | None:
    """The file or folder `source` names when it is one that exists: not `demo`, not a
    database URL (told apart as `read_source` does); else None.
    """
    text = str(source)
    if text.strip() == "demo" or "://" in text:
        return None
    path = Path(source)
    return path if path.exists() else None


@in_small_pages
def read_source(source: str | Path) -> RawSource:
    """Read the known tables of a folder, `.xlsx` workbook, SQLAlchemy URL or `demo`.

    Tables other than those of the input contract are ignored. A missing required table or a
    file that cannot be read raises InputError with one message saying what to do.
    """
    text = str(source)
    if isinstance(source, str) and text.strip() == "demo":
        return _read_demo()
    if isinstance(source, str) and "://" in text:
        return _read_sql(text)
    path = Path(source)
    try:
        return _read_path(path, text)
    except OSError as exc:  # the machine refused: permissions, a device error
        raise fault(exc, exc.filename or path, "read") from None


def _read_path(path: Path, text: str) -> RawSource:
    """`read_source` of a folder or a workbook."""
    if path.is_dir():
        return _read_folder(path)
    if not path.exists():
        msg = (
            f"data source {text!r} does not exist; give a folder of CSV/Parquet files, "
            "an .xlsx workbook, a database URL (e.g. sqlite:///agency.db) or 'demo'"
        )
        raise InputError(msg)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_workbook(path)
    if suffix in (".csv", ".parquet"):
        msg = f"{path}: give the folder that holds the table files, not one file: {path.parent}"
    elif suffix == ".xls":
        msg = f"{path}: old Excel format (.xls); open it in Excel and save it as .xlsx"
    else:
        msg = (
            f"{path}: not a data source; give a folder of CSV/Parquet files, an .xlsx "
            "workbook, a database URL (e.g. sqlite:///agency.db) or 'demo'"
        )
    raise InputError(msg)


# -- folder ---------------------------------------------------------------------------------


def _read_folder(folder: Path) -> RawSource:
    """Read `<table>.csv` or `<table>.parquet` for every known table in `folder`."""
    tables: dict[str, pd.DataFrame] = {}
    origin: dict[str, str] = {}
    missing: list[str] = []
    for table in TABLES:
        file = _file_of(folder, table)
        if file is None:
            if table in REQUIRED_TABLES:
                missing.append(table)
            continue
        tables[table] = read_table(file)
        origin[table] = str(file)
    _check_missing(folder, missing)
    described = ", ".join(f"{t} ({len(f)} rows)" for t, f in tables.items())
    return RawSource(tables, origin, f"folder {folder}: {described}", folder, "folder")


def read_table(file: Path) -> pd.DataFrame:
    """One table file, `<table>.csv` or `<table>.parquet` (see `read_csv`, `read_parquet`)."""
    return read_csv(file) if file.suffix == ".csv" else read_parquet(file)


def folder_tables(folder: Path) -> dict[str, Path]:
    """The file of every known table in a data folder, in table order, checked as
    `read_source` checks them (InputError for a table given twice, a required one missing,
    a name taken by something that is not a file), without reading them.
    """
    files = {table: _file_of(folder, table) for table in TABLES}
    _check_missing(folder, [t for t in REQUIRED_TABLES if files[t] is None])
    return {table: file for table, file in files.items() if file is not None}


def _file_of(folder: Path, table: str) -> Path | None:
    """The file of `table` in `folder` (None: there is none); InputError when given twice."""
    candidates = [folder / f"{table}.csv", folder / f"{table}.parquet"]
    present = [p for p in candidates if _table_file(p)]
    if len(present) == 2:
        msg = (
            f"{folder}: table '{table}' is given twice, as {present[0].name} and "
            f"{present[1].name}; keep one of the two files"
        )
        raise InputError(msg)
    return present[0] if present else None


def _check_missing(folder: Path, missing: list[str]) -> None:
    """InputError naming the required tables missing from `folder`, if any."""
    if missing:
        found = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
        expected = ", ".join(f"{t}.csv" for t in missing)
        msg = (
            f"{folder}: required table(s) {missing} missing; add {expected} (or .parquet). "
            f"Files found: {found}"
        )
        raise InputError(msg)


def _table_file(path: Path) -> bool:
    """Whether a table file is there (a link to a file counts); InputError when the name is
    taken by something that is not a file: a folder, a FIFO or device (which would block or
    mislead the reader), a link to nothing or a loop of links.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            msg = (
                f"{path}: a symbolic link to {os.readlink(path)!r}, which does not exist; "
                "point it at the table file or replace it with the file"
            )
            raise InputError(msg) from None
        return False
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            msg = f"{path}: a loop of symbolic links; replace it with the table file"
            raise InputError(msg) from None
        raise
    if stat.S_ISREG(info.st_mode):
        return True
    what = (
        "a folder"
        if stat.S_ISDIR(info.st_mode)
        else "not a regular file (a FIFO, socket or device)"
    )
    msg = f"{path}: {what}, not a table file; export the table as {path.name} or rename it"
    raise InputError(msg)


def read_csv(path: Path) -> pd.DataFrame:
    """One CSV file as text columns (empty cells as ''), with `_row`, the spreadsheet row
    (header = row 1, as Excel numbers the rows of this file) and, when some row spans several
    lines of the file (a value holding a line break), `_lines`: how many lines each spans.

    Every column is read as text so that ids keep their leading zeros; what counts as missing
    or as a number is decided by validation. Blank lines (empty, or only spaces and commas)
    hold no data and are skipped (the row numbers of the other rows still count them); a
    field of any size is read. A well-formed file is read by Arrow in parallel; a file Arrow
    finds irregular is read again line by line to say exactly what and where (a row with too
    many or too few fields is named by its line and counts, never by its values, which may
    be client data). A file that cannot be read raises InputError naming the file.
    """
    name = path.name
    header = _checked_header(path)
    table = _arrow_csv(path, header)
    if table is None:
        frame = _exact_csv(path, header)
    else:
        if table.num_columns != len(header):
            found, width = table.num_columns, len(header)
            msg = f"{name}: rows have {found} columns but the header row has {width}"
            raise InputError(msg)
        lines = _record_lines(table)
        frame = table.slice(1).to_pandas()
        frame.columns = pd.Index([h.strip() for h in header])
        frame[ROW] = np.arange(2, len(frame) + 2, dtype=np.int64)
        if lines is not None and (lines[1:] > 1).any():
            frame[LINES] = lines[1:]
    return _tidy(frame, name)


LINES = "_lines"
"""Column holding how many lines of the file a row spans, when some row spans more than one."""
_BLOCK = 1 << 20  # Arrow's default block; a row longer than a block is read with a larger one
_FIELD_LIMIT = (1 << 31) - 1


def _checked_header(path: Path) -> list[str]:
    """The header of a CSV file, after its first bytes are checked as text (`_check_text`)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError as exc:
        raise fault(exc, path, "open the file") from None
    _check_text(path, head)
    return _csv_header(path, head)


def _csv_options(width: int, block: int, on_invalid: Callable[[Any], str]) -> dict[str, Any]:
    """Arrow's options for a CSV file of `width` columns, read as it is: every column text
    under its position's name (`f0`, `f1`, ...; the header is a row), blank lines kept (they
    count in row numbers), rows of another width handed to `on_invalid`.
    """
    return {
        "read_options": pacsv.ReadOptions(autogenerate_column_names=True, block_size=block),
        "parse_options": pacsv.ParseOptions(
            newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=on_invalid
        ),
        "convert_options": pacsv.ConvertOptions(
            column_types={f"f{i}": pa.string() for i in range(width)}
        ),
    }


def _arrow_csv(path: Path, header: list[str]) -> pa.Table | None:
    """The file as Arrow text columns, the header as row 0; None when Arrow finds it irregular
    (a row with another number of fields, even of spaces only), to be read by `_exact_csv`.
    """
    width = len(header)
    irregular: list[int] = []

    def on_invalid(row: Any) -> str:
        irregular.append(row.actual_columns)
        return "skip"

    block = _BLOCK
    while True:
        try:
            table = pacsv.read_csv(path, **_csv_options(width, block, on_invalid))
        except pa.ArrowInvalid as exc:
            text = str(exc)
            if "UTF8" in text or "UTF-8" in text:
                raise InputError(_not_utf8(path)) from None
            if "Empty CSV" in text:  # header only, no line break after it
                return pa.table({f"f{i}": pa.array([header[i]], pa.string()) for i in range(width)})
            size = path.stat().st_size
            if "straddl" in text and block <= size and block < _FIELD_LIMIT // 2:
                block = min(max(block * 16, size + 1), _FIELD_LIMIT)  # a field longer than a block
                continue
            return None
        return None if irregular else table


def _record_lines(table: pa.Table) -> npt.NDArray[np.int64] | None:
    """How many lines of the file each record spans (1 + the line breaks in its values), or
    None when no value holds a line break (the usual case: one pass over the text, no copy).
    """
    breaks: npt.NDArray[np.int64] | None = None
    for column in table.columns:
        if not may_hold_line_breaks(column):
            continue
        newlines = pc.count_substring(column, "\n").to_numpy(zero_copy_only=False)
        returns = pc.count_substring(column, "\r").to_numpy(zero_copy_only=False)
        pairs = pc.count_substring(column, "\r\n").to_numpy(zero_copy_only=False)
        count = np.asarray(newlines + returns - pairs, dtype=np.int64)
        breaks = count if breaks is None else breaks + count
    return None if breaks is None else breaks + 1


def may_hold_line_breaks(values: pa.Array | pa.ChunkedArray) -> bool:
    """False when no text value can hold a line break: a scan of the text's bytes for CR and
    LF (memchr speed, a few MB at a time), no per-value work; True means look closer.
    """
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    for chunk in chunks:
        buffers = chunk.buffers()
        if len(chunk) == 0 or len(buffers) < 3 or buffers[1] is None or buffers[2] is None:
            continue
        wide = pa.types.is_large_string(chunk.type) or pa.types.is_large_binary(chunk.type)
        offsets = np.frombuffer(buffers[1], dtype=np.int64 if wide else np.int32)
        first, last = int(offsets[chunk.offset]), int(offsets[chunk.offset + len(chunk)])
        view = memoryview(buffers[2])[first:last]  # this chunk's bytes only
        for start in range(0, len(view), _SCAN_BYTES):
            window = bytes(view[start : start + _SCAN_BYTES])
            if b"\n" in window or b"\r" in window:
                return True
    return False


_SCAN_BYTES = 1 << 24


def _exact_csv(path: Path, header: list[str]) -> pd.DataFrame:
    """An irregular CSV file read record by record (Python's csv): blank lines skipped (but
    counted in the row numbers, as a spreadsheet counts them), and a row with another number
    of fields than the header named by its row and line (its values are not shown: they may
    be client data).
    """
    name = path.name
    width = len(header)
    columns: list[list[str]] = [[] for _ in range(width)]
    starts: list[int] = []
    spans: list[int] = []
    limit = csv.field_size_limit()
    csv.field_size_limit(_FIELD_LIMIT)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=False)
            previous = 0
            for row, record in enumerate(reader, start=1):
                line, previous = previous + 1, reader.line_num
                if row == 1:
                    continue  # the header row, read by _csv_header
                if len(record) != width:
                    if all(not field.strip() for field in record):
                        continue  # a blank line, perhaps of spaces
                    where = f"row {row}" + (f" (line {line} of the file)" if line != row else "")
                    msg = (
                        f"{name}: {where} has {len(record)} fields but the header row has "
                        f"{width}; check that row for a comma in an unquoted value or a "
                        "missing field (re-export the table if in doubt)"
                    )
                    if previous > line:  # the row ran over lines: a quote left open
                        msg = (
                            f"{name}: {where} has {len(record)} fields but the header row "
                            f"has {width}: a quote opened in it runs over lines {line} to "
                            f"{previous} of the file; close the quote (or re-export the table)"
                        )
                    raise InputError(msg)
                for column, value in zip(columns, record, strict=True):
                    column.append(value)
                starts.append(row)
                spans.append(previous - line + 1)
    except UnicodeDecodeError:
        raise InputError(_not_utf8(path)) from None
    except csv.Error as exc:
        msg = f"{name}: cannot be read as CSV at line {previous + 1} ({exc})"
        raise InputError(msg) from None
    finally:
        csv.field_size_limit(limit)
    frame = pd.DataFrame(
        {f"c{i}": pd.Series(columns[i], dtype="str") for i in range(width)},
        index=pd.RangeIndex(len(starts)),
    )
    frame.columns = pd.Index([h.strip() for h in header])
    frame[ROW] = np.asarray(starts, dtype=np.int64)
    if any(span > 1 for span in spans):
        frame[LINES] = np.asarray(spans, dtype=np.int64)
    return frame


def _check_text(path: Path, head: bytes) -> None:
    """Raise InputError when the start of a file shows it is not UTF-8 CSV text."""
    name = path.name
    if not head.strip():
        msg = f"{name}: the file is empty; export the table again with its header row"
        raise InputError(msg)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        msg = f"{name}: UTF-16 text, not UTF-8; save it as UTF-8 (in Excel: CSV UTF-8)"
        raise InputError(msg)
    for signature, what in _BINARY_SIGNATURES:
        if head.startswith(signature):
            msg = f"{name}: not a CSV file (it is {what}); export the table as CSV UTF-8"
            raise InputError(msg)
    if b"\x00" in head:
        if head[1::2].count(0) > len(head) // 4 or head[0::2].count(0) > len(head) // 4:
            msg = (  # every other byte 0: ASCII text in two bytes a character
                f"{name}: UTF-16 text (without a byte-order mark), not UTF-8; save it as "
                "UTF-8 (in Excel: CSV UTF-8)"
            )
            raise InputError(msg)
        msg = f"{name}: not a CSV file (it holds binary data); export the table as CSV UTF-8"
        raise InputError(msg)
    if b"\r" in head and b"\n" not in head:
        msg = (
            f"{name}: its lines end with a carriage return alone (an old Mac format), which "
            "CSV readers do not take as line ends; save it again as CSV UTF-8 (line ends CRLF "
            "or LF)"
        )
        raise InputError(msg)


def _csv_header(path: Path, head: bytes) -> list[str]:
    """The names in the header row (row 1) of a CSV file whose first bytes are `head`."""
    name = path.name
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        text = decoder.decode(head, final=False)
    except UnicodeDecodeError:
        raise InputError(_not_utf8(path)) from None
    try:
        header = next(csv.reader(io.StringIO(text)), [])
    except csv.Error as exc:
        msg = f"{name}: the header row cannot be read as CSV ({exc})"
        raise InputError(msg) from None
    if not any(h.strip() for h in header):
        msg = (
            f"{name}: no header row (row 1 is blank); the first row must name the columns, "
            "e.g. visit_id,client_id,..."
        )
        raise InputError(msg)
    return header


def _not_utf8(path: Path) -> str:
    """The message for a file that is not UTF-8 text, with the first offending byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    lines = 1
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk, final=False)
            except UnicodeDecodeError as exc:
                position = offset + exc.start
                lines += chunk[: exc.start].count(b"\n")
                byte = chunk[exc.start] if exc.start < len(chunk) else 0
                return (
                    f"{path.name}: not UTF-8 text (byte 0x{byte:02x} at offset {position}, "
                    f"line {lines}); save it as UTF-8 (in Excel: Save As > CSV UTF-8)"
                )
            offset += len(chunk)
            lines += chunk.count(b"\n")
    return f"{path.name}: not UTF-8 text; save it as UTF-8 (in Excel: Save As > CSV UTF-8)"


def read_parquet(path: Path) -> pd.DataFrame:
    """One Parquet file with its stored column types, with `_row` (position + 1, from 2)."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        _check_names(path)  # Arrow's reader stops on a name given twice, saying it its way
        raise InputError(_not_parquet(path, exc)) from None
    return _parquet_frame(table, path, 0)


def _check_names(path: Path) -> None:
    """InputError when a Parquet file names a column twice (a file it can describe)."""
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except (pa.ArrowException, OSError):
        return
    repeated = next((n for n in names if names.count(n) > 1), None)
    if repeated is not None:
        msg = f"{path.name}: column name {repeated!r} appears more than once; export it again"
        raise InputError(msg)


def _parquet_frame(table: pa.Table, path: Path, first: int) -> pd.DataFrame:
    """Rows of a Parquet file from position `first` on, as `read_parquet` gives them."""
    try:
        # One block per column and the Arrow buffers freed as they are converted: no
        # consolidating copy, about half the peak memory of a table of millions of rows.
        # pandas' own description of the columns, when the file's types say otherwise (a
        # column replaced by another tool), is left out: the values are read as stored.
        frame = table.to_pandas(
            split_blocks=True, self_destruct=True, ignore_metadata=not _pandas_types_fit(table)
        )
    except (pa.ArrowException, OSError) as exc:
        raise InputError(_not_parquet(path, exc)) from None
    if not isinstance(frame.index, pd.RangeIndex) or any(n is not None for n in frame.index.names):
        frame = frame.reset_index()
    frame = frame.reset_index(drop=True)
    frame.columns = pd.Index([str(c).strip() for c in frame.columns])
    frame[ROW] = np.arange(first + 2, first + len(frame) + 2, dtype=np.int64)
    return _tidy(frame, path.name)


_TEXT_TYPES = {"unicode", "object", "string", "str", "bytes"}


def _pandas_types_fit(table: pa.Table) -> bool:
    """Whether the pandas description a Parquet file may carry (written with the frame)
    agrees with the type of each column stored: a column written again by another tool
    keeps the old description (`units` said to be whole numbers, stored as true/false;
    `minutes` said to be text, stored as a duration), which pandas would follow to an
    error or a wrong value.
    """
    described = table.schema.pandas_metadata
    if not described:
        return True
    from pyarrow.pandas_compat import get_logical_type

    for column in described.get("columns", []):
        name = column.get("field_name", column.get("name"))
        if not isinstance(name, str) or name not in table.column_names:
            continue  # the index, or a column no longer stored
        kind = table.schema.field(name).type
        text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        stored = "unicode" if text or pa.types.is_string_view(kind) else get_logical_type(kind)
        if stored == "object":  # a type pandas has no name for (a duration): its own
            stored = str(kind)
        said = column.get("pandas_type")
        if stored != said and not {stored, said} <= _TEXT_TYPES:
            return False
    return True


def _not_parquet(path: Path, exc: Exception) -> str:
    return f"{path.name}: cannot be read as a Parquet file ({exc}); export the table again"


class IrregularCsv(Exception):
    """A CSV file `table_batches` cannot stream: read it whole with `read_csv`. Its text
    says why, in words for the user (`partitions.cut` tells them).
    """


def table_rows(path: Path) -> int:
    """About how many rows a table file holds: exact for Parquet (its metadata), estimated
    from the first bytes' lines for CSV. For choosing how to read it, never for a figure.
    """
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return int(pq.ParquetFile(path).metadata.num_rows)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(_not_parquet(path, exc)) from None
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    lines = max(head.count(b"\n"), 1)
    return int(size / max(len(head), 1) * lines)


def table_batches(path: Path, rows: int = 1 << 20) -> Iterator[pd.DataFrame]:
    """A table file (`<table>.csv` or `.parquet`) in frames of at most about `rows` rows, in
    file order: together the frame `read_csv` / `read_parquet` gives, `_row` numbered over
    the whole file (a CSV frame always has `_lines`). Memory holds one batch at a time.

    A CSV file Arrow finds irregular (blank lines, ragged rows, a header only) raises
    IrregularCsv, perhaps after some batches: read it with `read_csv` instead.
    """
    if path.suffix == ".parquet":
        yield from _parquet_batches(path, rows)
    else:
        yield from _csv_batches(path, rows)


def _parquet_batches(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
        schema = source.schema_arrow
        batches = source.iter_batches(batch_size=rows)
        first = 0
        for batch in batches:
            table = pa.Table.from_batches([batch]).replace_schema_metadata(schema.metadata)
            frame = _parquet_frame(table, path, first)
            first += batch.num_rows
            yield frame
        if first == 0:
            yield _parquet_frame(schema.empty_table(), path, 0)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(_not_parquet(path, exc)) from None


def _csv_batches(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    name = path.name
    header = _checked_header(path)
    width = len(header)
    names = pd.Index([h.strip() for h in header])
    irregular: list[int] = []

    def on_invalid(row: Any) -> str:
        irregular.append(row.actual_columns)
        return "skip"

    try:
        reader = pacsv.open_csv(path, **_csv_options(width, _BLOCK, on_invalid))
        if len(reader.schema) != width:
            msg = f"{name}: Arrow reads {len(reader.schema)} columns where the header has {width}"
            raise IrregularCsv(msg)
        pending: list[pa.RecordBatch] = []
        count = 0
        first = 0  # records read before the pending ones, the header included
        for batch in reader:
            if irregular:
                raise IrregularCsv(_ragged(name, irregular, width))
            pending.append(batch)
            count += batch.num_rows
            if count >= rows:
                yield _csv_frame(pa.Table.from_batches(pending), names, first, name)
                first += count
                pending, count = [], 0
        if irregular:
            raise IrregularCsv(_ragged(name, irregular, width))
        if pending or first == 0:
            table = pa.Table.from_batches(pending, schema=reader.schema)
            if first == 0 and table.num_rows == 0:
                raise IrregularCsv(f"{name}: no header")  # as read_csv says it
            yield _csv_frame(table, names, first, name)
    except pa.ArrowInvalid as exc:
        text = str(exc)
        if "UTF8" in text or "UTF-8" in text:
            raise InputError(_not_utf8(path)) from None
        raise IrregularCsv(f"{name}: {text.strip()}") from None


def _ragged(name: str, fields: list[int], width: int) -> str:
    """Why a CSV file with rows of another width than its header cannot be streamed."""
    blank = " (a blank line)" if fields[0] <= 1 else ""
    return f"{name}: a row of {fields[0]} field(s) where the header has {width}{blank}"


def _csv_frame(table: pa.Table, names: pd.Index, first: int, where: str) -> pd.DataFrame:
    """Records of a CSV file (from record `first`, the header being record 0) as `read_csv`
    gives them, with `_lines` always.
    """
    lines = _record_lines(table)
    skip = 1 if first == 0 else 0
    frame = table.slice(skip).to_pandas()
    frame.columns = names
    start = max(first, 1) + 1
    frame[ROW] = np.arange(start, start + len(frame), dtype=np.int64)
    spans = lines[skip:] if lines is not None else np.ones(len(frame), dtype=np.int64)
    frame[LINES] = spans
    return _tidy(frame, where)


def _tidy(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """Drop unnamed empty columns and blank rows; raise on unnamed or repeated columns."""
    columns = [c for c in frame.columns if c not in (ROW, LINES)]
    blank = {c: _blank(frame[c]) for c in columns if c == ""}
    for position, column in enumerate(columns, start=1):
        if column == "" and not blank[column].all():
            msg = (
                f"{where}: column {position} has values but no name in the header row; "
                "name it or delete it"
            )
            raise InputError(msg)
    if blank:
        frame = frame.loc[:, [c for c in frame.columns if c != ""]]
        columns = [c for c in columns if c != ""]
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            msg = f"{where}: column name {column!r} appears more than once in the header row"
            raise InputError(msg)
        seen.add(column)
    if columns and len(frame):
        candidates = _blank(frame[columns[0]])
        if candidates.any():
            empty = candidates.copy()
            for column in columns[1:]:
                empty[empty] = _blank(frame.loc[empty, column])
            if empty.any():
                frame = frame.loc[~empty]
    return frame.reset_index(drop=True)


def _blank(values: pd.Series) -> np.ndarray:
    """True where a cell is missing or only whitespace."""
    missing = values.isna().to_numpy()
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        text = values.astype("str").str.strip()
        missing = missing | (text == "").to_numpy(dtype=bool, na_value=True)
    return np.asarray(missing, dtype=bool)


# -- Excel ----------------------------------------------------------------------------------


def _read_workbook(path: Path) -> RawSource:
    """Read one sheet per known table of an `.xlsx` workbook, every cell as text."""
    import zipfile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        msg = f"{path.name}: cannot be read as an Excel workbook ({exc}); save it as .xlsx"
        raise InputError(msg) from None
    try:
        sheets = list(book.sheetnames)
        missing = [t for t in REQUIRED_TABLES if t not in sheets]
        if missing:
            msg = (
                f"{path.name}: required sheet(s) {missing} missing; add one sheet per table "
                f"named as the table. Sheets found: {sheets}"
            )
            raise InputError(msg)
        tables: dict[str, pd.DataFrame] = {}
        origin: dict[str, str] = {}
        for table in TABLES:
            if table in sheets:
                where = f"{path.name}:{table}"
                rows = book[table].iter_rows(min_row=1, min_col=1, values_only=True)
                tables[table] = _sheet_frame(rows, where)
                origin[table] = f"{path}:{table}"
    finally:
        book.close()
    described = ", ".join(f"{t} ({len(f)} rows)" for t, f in tables.items())
    return RawSource(tables, origin, f"workbook {path}: {described}", path.parent, "excel")


def _sheet_frame(rows: Iterable[tuple[Any, ...]], where: str) -> pd.DataFrame:
    """A sheet's rows (row 1 = header) as a frame of text columns with `_row`."""
    iterator = iter(rows)
    header = next(iterator, None)
    if header is None or all(cell_text(v) == "" for v in header):
        msg = f"{where}: no header row (row 1 is blank); the first row must name the columns"
        raise InputError(msg)
    names = [cell_text(v).strip() for v in header]
    width = len(names)
    data: list[list[str]] = [[] for _ in range(width)]
    numbers: list[int] = []
    for number, row in enumerate(iterator, start=2):
        cells = [cell_text(v) for v in row[:width]]
        if not any(c.strip() for c in cells):
            continue
        cells += [""] * (width - len(cells))
        for column, cell in zip(data, cells, strict=True):
            column.append(cell)
        numbers.append(number)
    frame = pd.DataFrame(
        {f"c{i}": pd.Series(data[i], dtype="str") for i in range(width)},
        index=pd.RangeIndex(len(numbers)),
    )
    frame.columns = pd.Index(names)
    frame[ROW] = np.asarray(numbers, dtype=np.int64)
    return _tidy(frame, where)


def cell_text(value: Any) -> str:
    """A spreadsheet cell as text: whole numbers without `.0`, date-times in ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


# -- SQL ------------------------------------------------------------------------------------


PASSWORD_ENV = "UTILIZATION_DB_PASSWORD"
"""The environment variable a database URL without a password takes its password from."""


def masked_source(source: str) -> str:
    """A data source as it may be shown or written: a database URL's password as `***`."""
    return _PASSWORD.sub(r"\1:***@", source)


def split_password(source: str) -> tuple[str, str]:
    """A data source without its database URL's password, and that password (decoded from
    the URL's %-escapes; '' when there is none). `postgresql://u:pw@host/db` gives
    (`postgresql://u@host/db`, `pw`).
    """
    match = _PASSWORD.search(source)
    if match is None:
        return source, ""
    bare = source[: match.start()] + match.group(1) + "@" + source[match.end() :]
    return bare, unquote(match.group(2))


_PASSWORD = re.compile(r"(://[^:/@\s]*):([^@\s]*)@")


def _read_sql(url: str) -> RawSource:
    """Read the known tables of a SQLAlchemy database URL with their column types."""
    require("sqlalchemy", "sql", "Reading a database")
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    shown = masked_source(url)
    _check_sqlite_file(url, shown)
    try:
        engine = sa.create_engine(_with_password(url))
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        reason = masked_source(str(exc)).replace(url, shown)
        msg = f"{shown!r} is not a usable database URL ({reason}); e.g. sqlite:///agency.db"
        raise InputError(msg) from None
    except ImportError as exc:  # the URL names a driver that is not installed
        msg = (
            f"{shown}: the database driver {exc.name or 'for this URL'!r} is not installed; "
            "install it (PostgreSQL: pip install 'utilization[sql]') or use another URL"
        )
        raise InputError(msg) from None
    try:
        with engine.connect() as connection:
            found = sa.inspect(connection).get_table_names()
            missing = [t for t in REQUIRED_TABLES if t not in found]
            if missing:
                msg = (
                    f"{shown}: required table(s) {missing} missing from the database. "
                    f"Tables found: {sorted(found)}"
                )
                raise InputError(msg)
            tables: dict[str, pd.DataFrame] = {}
            for table in TABLES:
                if table in found:
                    frame = _sql_table(connection, table)
                    frame.columns = pd.Index([str(c).strip() for c in frame.columns])
                    frame[ROW] = np.arange(2, len(frame) + 2, dtype=np.int64)
                    tables[table] = _tidy(frame, f"table {table}")
    except SQLAlchemyError as exc:
        msg = f"{shown}: cannot read the database ({exc.__class__.__name__}: {exc})"
        raise InputError(msg.splitlines()[0]) from None
    finally:
        engine.dispose()
    origin = {t: t for t in tables}
    described = ", ".join(f"{t} ({len(f)} rows)" for t, f in tables.items())
    return RawSource(tables, origin, f"database {shown}: {described}", None, "sql")


def _sql_table(connection: Any, table: str) -> pd.DataFrame:
    """A database table with its column types; where a value does not fit its column's
    declared type (SQLite stores it anyway: text in a TIMESTAMP column, a number in a DATE
    one, bytes in a TEXT one), the whole table as the database holds it, each value then
    checked by validation like a CSV cell (a value in bytes as its UTF-8 text, a byte that
    is not UTF-8 written as an escape: `\\xff`).
    """
    import sqlalchemy as sa

    try:
        return pd.read_sql_table(table, connection)
    except (ValueError, TypeError, UnicodeDecodeError):
        pass
    query: Any = sa.select(sa.literal_column("*")).select_from(sa.table(table))
    frame = pd.read_sql_query(query, connection, coerce_float=False)
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object and values.map(lambda v: isinstance(v, bytes)).any():
            frame[column] = values.map(
                lambda v: v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else v
            )
    return frame


def _check_sqlite_file(url: str, shown: str) -> None:
    """InputError when a SQLite URL names a file that does not exist (SQLite would create an
    empty database there, and report every table missing).
    """
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = sa.engine.make_url(url)
    except (ArgumentError, ValueError):
        return  # create_engine says what is wrong
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return
    if database.startswith("file:") or parsed.query.get("uri"):
        return  # a URI filename: SQLite's own options (e.g. mode=ro) decide
    if not Path(database).is_file():
        what = "is not a file" if Path(database).exists() else "does not exist"
        msg = f"{shown}: the database file {database} {what}; check the path"
        raise InputError(msg)


def _with_password(url: str) -> Any:
    """The URL to connect with: given a password, as it is; without one, with the password of
    the environment variable UTILIZATION_DB_PASSWORD when set (else the driver's own way,
    e.g. PostgreSQL's ~/.pgpass or PGPASSWORD).
    """
    import sqlalchemy as sa

    password = os.environ.get(PASSWORD_ENV, "")
    if not password or split_password(url)[1]:
        return url
    parsed = sa.engine.make_url(url)
    return parsed if parsed.get_backend_name() == "sqlite" else parsed.set(password=password)


# -- demo -----------------------------------------------------------------------------------


def _read_demo() -> RawSource:
    """The built-in demo data (utilization.demo.agency.generate), as raw tables."""
    from utilization.demo.agency import generate

    generated = generate()
    missing = [t for t in REQUIRED_TABLES if t not in generated]
    if missing:
        msg = f"demo data: required table(s) {missing} missing. Tables found: {list(generated)}"
        raise InputError(msg)
    tables: dict[str, pd.DataFrame] = {}
    for table in TABLES:
        if table in generated:
            frame = generated[table].reset_index(drop=True).copy()
            frame.columns = pd.Index([str(c).strip() for c in frame.columns])
            frame[ROW] = np.arange(2, len(frame) + 2, dtype=np.int64)
            tables[table] = frame
    origin = {t: f"demo:{t}" for t in tables}
    described = ", ".join(f"{t} ({len(f)} rows)" for t, f in tables.items())
    return RawSource(tables, origin, f"demo data: {described}", None, "demo")
