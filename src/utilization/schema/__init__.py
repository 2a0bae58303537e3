"""The schema, declared once: every table's columns, types and grain, and the reject codes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, get_args

Kind = Literal[
    "id", "code", "text", "choice", "date", "datetime", "minutes", "units", "money", "flag"
]  # fmt: skip
"""What an input column holds: an identifier, a code (procedure, case type, adjustment
reasons), free text, a word from a short list, a calendar date, a date-time, whole minutes,
whole units, dollars, or true/false."""

Dtype = Literal["str", "int64", "float64", "bool", "datetime64[us]", "datetime64[us, UTC]"]
"""The pandas dtype of a column of a validated (canonical) frame."""


@dataclass(frozen=True)
class Column:
    """One column of the input contract (data contract §1): what an agency's export gives.

    `description` and `default` are the words of the contract's column table; `values` are
    the only words validation accepts (empty: any). `lines`: the value may hold line breaks
    (free text such as a description); in any other column a line break is a reject
    (`line_break`: in a CSV file, most often an unclosed quote that swallowed the rows below).
    """

    name: str
    kind: Kind
    required: bool = False
    description: str = ""
    default: str = ""
    values: tuple[str, ...] = ()
    lines: bool = False


@dataclass(frozen=True)
class Field:
    """One column of a validated (canonical) frame: its dtype and what to know about it."""

    name: str
    dtype: Dtype
    note: str = ""


@dataclass(frozen=True)
class Table:
    """One table: its grain, its input columns and the columns of its validated frame.

    `alternatives` are sets of columns of which a row must give one set in full (visits:
    `start` and `end`, or `service_date` and `minutes`); their columns are in `columns` as
    not required. `key` is the column that identifies a row (unique), if any; `description`
    what agencies call the table (e.g. service catalog).
    """

    name: str
    grain: str
    required: bool
    key: str | None
    columns: tuple[Column, ...]
    canonical: tuple[Field, ...]
    alternatives: tuple[tuple[str, ...], ...] = ()
    description: str = ""

    @property
    def required_columns(self) -> list[str]:
        """The input columns every source of this table must have, in contract order."""
        return [c.name for c in self.columns if c.required]

    @property
    def optional_columns(self) -> list[str]:
        """The input columns that may be left out, alternatives excepted, in contract order."""
        either = {name for group in self.alternatives for name in group}
        return [c.name for c in self.columns if not c.required and c.name not in either]

    @property
    def canonical_columns(self) -> list[str]:
        """The columns of the validated frame, in order."""
        return [f.name for f in self.canonical]

    @property
    def dtypes(self) -> dict[str, str]:
        """The dtype of each column of the validated frame."""
        return {f.name: f.dtype for f in self.canonical}

    def column(self, name: str) -> Column:
        """The input column called `name`."""
        for column in self.columns:
            if column.name == name:
                return column
        msg = f"table {self.name!r} has no input column {name!r}"
        raise KeyError(msg)


def _id(name: str, required: bool = False, description: str = "") -> Column:
    """An identifier column."""
    return Column(name, "id", required, description)


def _text(name: str, required: bool = False, description: str = "") -> Column:
    """A free-text column."""
    return Column(name, "text", required, description)


_TEXT: Dtype = "str"
STATUSES: tuple[str, ...] = ("completed", "scheduled", "cancelled")
"""The statuses of a visit (read case-insensitively; `canceled` is cancelled)."""

CLIENTS = Table(
    "clients",
    grain="one row per client",
    required=True,
    key="client_id",
    columns=(
        _id("client_id", required=True),
        _text("client_name", required=True),
        _id("medicaid_id", description="the member id on 835 remittances"),
        _text("case_manager"),
        Column("status", "choice", description="active, discharged"),
    ),
    canonical=(
        Field("client_id", _TEXT),
        Field("client_name", _TEXT),
        Field("medicaid_id", _TEXT),
        Field("case_manager", _TEXT),
        Field("status", _TEXT, "lower-cased, not checked"),
    ),
)
PROCEDURES = Table(
    "procedures",
    grain="one row per procedure code",
    required=True,
    key="procedure_code",
    description="service catalog",
    columns=(
        Column(
            "procedure_code",
            "code",
            required=True,
            description="as the agency writes it, modifiers included: `T2021 U4`",
        ),
        Column("description", "text", required=True, lines=True),
        Column(
            "unit_minutes",
            "minutes",
            description="minutes per unit, `0` = one unit per visit",
            default="15",
        ),
        Column("rate", "money", description="$/unit"),
        Column("rounding", "choice", description="rule name", default="the agency default"),
        Column("billable", "flag", default="true"),
    ),
    canonical=(
        Field("procedure_code", _TEXT),
        Field("description", _TEXT),
        Field("unit_minutes", "int64", "filled with the agency default"),
        Field("rate", "float64", "NaN if none"),
        Field(
            "rounding",
            _TEXT,
            "filled with the agency default; `per_visit` where unit_minutes = 0",
        ),
        Field("billable", "bool"),
    ),
)
PAYERS = Table(
    "payers",
    grain="one row per payer",
    required=False,
    key="payer_id",
    columns=(_id("payer_id", required=True), _text("payer_name", required=True)),
    canonical=(Field("payer_id", _TEXT), Field("payer_name", _TEXT)),
)
PROVIDERS = Table(
    "providers",
    grain="one row per provider",
    required=False,
    key="provider_id",
    description="fieldworkers, staff",
    columns=(_id("provider_id", required=True), _text("provider_name", required=True)),
    canonical=(Field("provider_id", _TEXT), Field("provider_name", _TEXT)),
)
AUTHORIZATIONS = Table(
    "authorizations",
    grain="one row per authorization",
    required=True,
    key="authorization_id",
    columns=(
        _id("authorization_id", required=True),
        _id("client_id", required=True),
        Column("procedure_code", "code", required=True),
        Column("start_date", "date", required=True),
        Column("end_date", "date", required=True, description="inclusive"),
        Column("units_approved", "units", required=True, description="for the whole span"),
        _id("payer_id"),
        Column("rate", "money", default="the procedure's"),
        Column("status", "choice"),
        Column("units_per_day", "units", description="limit per calendar day", default="none"),
        Column("units_per_week", "units", description="limit per week", default="none"),
        Column("units_per_month", "units", description="limit per calendar month", default="none"),
    ),
    canonical=(
        Field("authorization_id", _TEXT),
        Field("client_id", _TEXT),
        Field("procedure_code", _TEXT),
        Field("start_date", "datetime64[us]"),
        Field("end_date", "datetime64[us]", "inclusive"),
        Field("units_approved", "float64", "whole numbers"),
        Field("payer_id", _TEXT),
        Field("rate", "float64", "filled from the procedure"),
        Field("status", _TEXT, "lower-cased, not checked"),
        Field("days", "int64", "end_date - start_date + 1"),
        Field("units_per_day", "float64", "whole numbers, NaN: no limit"),
        Field("units_per_week", "float64", "whole numbers, NaN: no limit"),
        Field("units_per_month", "float64", "whole numbers, NaN: no limit"),
    ),
)
VISITS = Table(
    "visits",
    grain="one row per visit",
    required=True,
    key="visit_id",
    description="service entries, EVV records",
    columns=(
        _id("visit_id", required=True),
        _id("client_id", required=True),
        Column("procedure_code", "code", required=True),
        Column("start", "datetime"),
        Column("end", "datetime"),
        Column("service_date", "date"),
        Column("minutes", "minutes"),
        _id("provider_id"),
        _id("payer_id"),
        Column("case_type", "code"),
        Column("billable", "flag", default="the procedure's"),
        Column("status", "choice", default="completed", values=STATUSES),
        Column("units", "units", description="recorded by staff"),
        Column("amount_billed", "money"),
    ),
    alternatives=(("start", "end"), ("service_date", "minutes")),
    canonical=(
        Field("visit_id", _TEXT),
        Field("client_id", _TEXT),
        Field("procedure_code", _TEXT),
        Field("service_date", "datetime64[us]", "the local date of the start"),
        Field("start", "datetime64[us, UTC]", "NaT when given as service_date + minutes"),
        Field("end", "datetime64[us, UTC]", "NaT when given as service_date + minutes"),
        Field("minutes", "int64", "real elapsed time, whole minutes rounded down"),
        Field("provider_id", _TEXT),
        Field("payer_id", _TEXT),
        Field("case_type", _TEXT),
        Field("billable", "bool", "filled from the procedure"),
        Field("status", _TEXT, " / ".join(STATUSES)),
        Field("units_recorded", "float64", "the input column `units`; NaN if none"),
        Field("amount_billed", "float64", "NaN if none"),
        Field("units", "int64", "by the procedure's unit length and rounding rule"),
        Field("long_visit", "bool", "longer than the `long_visit_hours` setting"),
        Field("order", "int64", "position in time order: start, then visit_id"),
    ),
)
PAYMENTS = Table(
    "payments",
    grain="one row per payment line",
    required=False,
    key=None,
    columns=(
        _id("visit_id", required=True),
        Column("insurance_paid", "money", required=True, description="may be negative"),
        Column("patient_paid", "money", description="may be negative", default="0"),
        Column("paid_date", "date"),
        Column("denied", "flag", default="false"),
        Column("adjustment_reason_codes", "code", description="`;`-joined, e.g. `CO-45;PR-2`"),
    ),
    canonical=(
        Field("visit_id", _TEXT),
        Field("insurance_paid", "float64"),
        Field("patient_paid", "float64", "0 if none"),
        Field("paid_date", "datetime64[us]", "NaT if none"),
        Field("denied", "bool", "false if none"),
        Field("adjustment_reason_codes", _TEXT),
    ),
)

TABLES: Mapping[str, Table] = MappingProxyType(
    {t.name: t for t in (CLIENTS, PROCEDURES, PAYERS, PROVIDERS, AUTHORIZATIONS, VISITS, PAYMENTS)}
)
"""The tables of the input contract by name, in table order (reports and rejects follow it)."""

REQUIRED_TABLES: tuple[str, ...] = tuple(name for name, t in TABLES.items() if t.required)
"""The tables every data source must have."""

REJECTS = Table(
    "rejects",
    grain="one row per rejected value",
    required=False,
    key=None,
    columns=(),
    canonical=(
        Field("table", _TEXT, "an input table, or `remittances` for 835 files"),
        Field("row", "int64", "the spreadsheet row: header = 1, first data row = 2"),
        Field("column", _TEXT),
        Field("value", _TEXT, "as written; empty when missing"),
        Field("reason", _TEXT, "in words"),
        Field("code", _TEXT, "stable, for filtering: see data contract §2"),
    ),
)
ROW_COUNTS = Table(
    "row_counts",
    grain="one row per table",
    required=False,
    key=None,
    columns=(),
    canonical=(
        Field("table", _TEXT),
        Field("rows_read", "int64"),
        Field("rows_used", "int64"),
        Field("rows_rejected", "int64"),
    ),
)

# -- bounds ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    """The range a value of one kind must lie in (data contract §2), and why.

    Beyond it a value is rejected (`out_of_range`): no real agency reaches it, and inside
    it every figure stays exact and every date in the range the engine computes with.
    """

    kinds: tuple[Kind, ...]
    low: float | str
    high: float | str
    shown: str
    why: str


BOUNDS: tuple[Bound, ...] = (
    Bound(
        ("minutes",),
        0,
        527_040,
        "0 to 527,040 minutes (366 days)",
        "a year of round-the-clock care, longer than any visit, stay or unit (a facility stay "
        "entered as one service included); the minutes of ten million visits add up exactly",
    ),
    Bound(
        ("units",),
        0,
        1_000_000,
        "0 to 1,000,000 units",
        "far above any authorization (a year of 15-minute units day and night is 35,040); "
        "sums of ten million rows stay exact whole numbers",
    ),
    Bound(
        ("money",),
        -1_000_000,
        1_000_000,
        "-$1,000,000 to $1,000,000 (below 0 for payments only)",
        "far above any rate, visit's bill or payment line; each amount is exact to the cent, "
        "and so is a sum of ten million of them (2⁵³ cents is about $90 trillion)",
    ),
    Bound(
        ("date", "datetime"),
        "1900-01-01",
        "2199-12-31",
        "1900-01-01 to 2199-12-31",
        "no service, authorization or payment falls outside; the engine's date arithmetic "
        "(nanosecond dates end in 2262) stays in range",
    ),
)
"""The bound of each kind of value that has one."""


def bound(kind: Kind) -> Bound | None:
    """The bound of values of `kind`, if any."""
    return next((b for b in BOUNDS if kind in b.kinds), None)


def bound_of(kind: Kind) -> Bound:
    """The bound of values of `kind`, which has one (LookupError otherwise: a mistake in
    the code, not in the data).
    """
    found = bound(kind)
    if found is None:
        msg = f"values of kind {kind!r} have no bound"
        raise LookupError(msg)
    return found


def highest(kind: Kind) -> int:
    """The highest value of `kind` (a number bound), as a whole number."""
    return int(bound_of(kind).high)


# -- reject codes ---------------------------------------------------------------------------

Code = Literal[
    "line_break",
    "missing",
    "incomplete_times",
    "not_a_number",
    "negative",
    "not_whole",
    "out_of_range",
    "not_a_date",
    "not_a_datetime",
    "nonexistent_local_time",
    "not_a_flag",
    "unknown_status",
    "unknown_rounding_rule",
    "duplicate",
    "invisible_character",
    "unknown_reference",
    "rejected_reference",
    "end_before_start",
    "service_date_mismatch",
    "minutes_mismatch",
    "unmatched_payment",
    "unreadable_835",
]
"""The stable code of a reject: what billing staff filter `rejects.csv` by."""


@dataclass(frozen=True)
class RejectCode:
    """One reject code: what it means, and a reason validation writes with it."""

    code: Code
    meaning: str
    example: str


REJECT_CODES: tuple[RejectCode, ...] = (
    RejectCode(
        "line_break",
        "a line break in an id, code, name, date, number or flag (in a CSV file most often an "
        "unclosed quote; the row counts as every line of the file it runs over)",
        "contains a line break: an unclosed quote? (the row runs over 4 lines of the file)",
    ),
    RejectCode("missing", "a required value is empty or only spaces", "required value is missing"),
    RejectCode(
        "incomplete_times",
        "a visit gives half a pair: `start` without `end`, `service_date` without `minutes`, "
        "or the reverse",
        "required value is missing (start is given)",
    ),
    RejectCode(
        "not_a_number",
        "not a plain number (`$4.50` and `1,000` are not cleaned up)",
        "not a number",
    ),
    RejectCode(
        "negative",
        "below 0 where only 0 or more makes sense (payments may be negative)",
        "negative; must be 0 or more",
    ),
    RejectCode(
        "not_whole",
        "a fraction where whole units or minutes are needed",
        "not a whole number of units",
    ),
    RejectCode(
        "out_of_range",
        "beyond the bounds of its kind (minutes, units, dollars, dates; see the table below)",
        "out of range: more than 1,000,000 units",
    ),
    RejectCode("not_a_date", "not a calendar date", "not a date (expected YYYY-MM-DD)"),
    RejectCode(
        "not_a_datetime",
        "not a date-time (a date alone is not one)",
        "not a date-time (expected YYYY-MM-DD HH:MM:SS, optionally with a UTC offset)",
    ),
    RejectCode(
        "nonexistent_local_time",
        "a local time in the hour skipped when clocks spring forward",
        "this local time does not exist on 2025-03-09 in America/Los_Angeles: clocks spring "
        "forward that day (correct the time or give its UTC offset)",
    ),
    RejectCode(
        "not_a_flag",
        "not true or false",
        "not true or false (use true/false, yes/no, y/n or 1/0)",
    ),
    RejectCode(
        "unknown_status",
        "a visit status that is not one of " + ", ".join(STATUSES),
        "unknown status; use " + ", ".join(STATUSES),
    ),
    RejectCode(
        "unknown_rounding_rule",
        "a rounding rule name that does not exist (section 3)",
        "unknown rounding rule; use one of midpoint, complete, never_zero, per_visit",
    ),
    RejectCode(
        "duplicate",
        "an id already given by an earlier row, which is kept",
        "duplicate of row 2",
    ),
    RejectCode(
        "invisible_character",
        "an id or code of clients, procedures, payers or providers holding a character that "
        "does not show (a zero-width space, a byte-order mark from files joined together, a "
        "control character): the id on screen is not the id the rows name; a row naming an "
        "id not found that holds one says so in its reason",
        "holds an invisible character (U+200B ZERO WIDTH SPACE): retype it",
    ),
    RejectCode(
        "unknown_reference",
        "an id that is not in the table it refers to",
        "not found in clients",
    ),
    RejectCode(
        "rejected_reference",
        "an id whose row in the table it refers to was itself rejected",
        "found in clients, but that row (row 2) was rejected",
    ),
    RejectCode(
        "end_before_start",
        "a visit's `end` before its `start`, or an authorization's `end_date` before its "
        "`start_date`",
        "end is before start",
    ),
    RejectCode(
        "service_date_mismatch",
        "a visit's `service_date` that is not the local date of its `start`",
        "not the local date of start (2025-01-06)",
    ),
    RejectCode(
        "minutes_mismatch",
        "a visit's `minutes` that differ from its `start` to `end`",
        "does not match start to end (60 minutes)",
    ),
    RejectCode(
        "unmatched_payment",
        "an 835 payment line matched to no visit, or to several (table `remittances`)",
        "payment line not matched to a visit: 2 completed visits of client C3 on 2025-03-05 "
        "with procedure code 'S5125': not guessed",
    ),
    RejectCode(
        "unreadable_835",
        "an 835 file that cannot be read; none of its lines count (table `remittances`)",
        "835 file not read: not an X12 file: it begins with 'hello, this is not a remittance', "
        "not with an ISA segment",
    ),
)
"""Every reject code, in the order validation checks a row."""

CODES: tuple[Code, ...] = get_args(Code)


# -- the docs' tables, rendered from the declarations ---------------------------------------


def contract_table() -> str:
    """The column table of data contract §1, as Markdown (★ = required)."""
    lines = ["| table | columns |", "|---|---|"]
    for table in TABLES.values():
        name = f"`{table.name}`" + (" ★" if table.required else "")
        if table.description:
            name += f" ({table.description})"
        required = [_contract_column(table.column(c)) for c in table.required_columns]
        optional = [_contract_column(table.column(c)) for c in table.optional_columns]
        if table.alternatives:  # required; either pair; optional, as three groups
            pairs = [
                " and ".join(_contract_column(table.column(c), starred=True) for c in group)
                for group in table.alternatives
            ]
            columns = "; ".join([", ".join(required), ", or ".join(pairs), ", ".join(optional)])
        else:
            columns = ", ".join(required + optional)
        lines.append(f"| {name} | {columns} |")
    return "\n".join(lines) + "\n"


def _contract_column(column: Column, *, starred: bool = False) -> str:
    """One column as the contract writes it: ★`name` (values or description; default)."""
    text = ("★" if column.required or starred else "") + f"`{column.name}`"
    words = [", ".join(column.values) or column.description]
    if column.default:
        words.append(f"default {column.default}")
    said = "; ".join(w for w in words if w)
    return f"{text} ({said})" if said else text


def readme_table() -> str:
    """The short table of README.md: required tables first, then the optional ones."""
    lines = ["| table | required columns | optional columns |", "|---|---|---|"]
    ordered = sorted(TABLES.values(), key=lambda t: not t.required)  # stable: table order
    for table in ordered:
        name = f"`{table.name}`" + ("" if table.required else " (optional)")
        required = ", ".join(table.required_columns)
        if table.alternatives:
            required += ", and " + ", or ".join(" + ".join(g) for g in table.alternatives)
        lines.append(_row([name, required, ", ".join(table.optional_columns)]))
    return "\n".join(lines) + "\n"


def _row(cells: list[str]) -> str:
    """One Markdown table row; an empty cell is a single space."""
    return "|" + "|".join(f" {c} " if c else " " for c in cells) + "|"


def codes_table() -> str:
    """The table of reject codes of data contract §2: code, meaning, example reason."""
    lines = ["| code | meaning | example reason |", "|---|---|---|"]
    lines += [f"| `{c.code}` | {c.meaning} | {c.example} |" for c in REJECT_CODES]
    return "\n".join(lines) + "\n"


def bounds_table() -> str:
    """The table of bounds of data contract §2: kind, the columns of that kind, range, why."""
    lines = ["| values | columns | range | why |", "|---|---|---|---|"]
    for b in BOUNDS:
        names = dict.fromkeys(
            f"`{c.name}`" for t in TABLES.values() for c in t.columns if c.kind in b.kinds
        )
        lines.append(f"| {', '.join(b.kinds)} | {', '.join(names)} | {b.shown} | {b.why} |")
    return "\n".join(lines) + "\n"


_DTYPE_WORDS: dict[str, str] = {
    "str": "",
    "int64": "int",
    "float64": "float",
    "bool": "bool",
    "datetime64[us]": "date",
    "datetime64[us, UTC]": "UTC instant",
}


def frames_table() -> str:
    """The table of canonical frames of docs/design.md: frame, grain, columns with types."""
    lines = ["| frame | grain | columns |", "|---|---|---|"]
    for table in (*TABLES.values(), REJECTS, ROW_COUNTS):
        columns = ", ".join(_frame_column(f) for f in table.canonical)
        lines.append(f"| `{table.name}` | {table.grain} | {columns} |")
    return "\n".join(lines) + "\n"


def _frame_column(field: Field) -> str:
    """One canonical column: name (type, note); text columns without a note are bare."""
    said = ", ".join(w for w in (_DTYPE_WORDS[field.dtype], field.note) if w)
    return f"{field.name} ({said})" if said else field.name


def table_details(tables: Iterable[Table] = TABLES.values()) -> str:
    """Every input column of `tables` with its kind, for maintainers."""
    lines = [_row(["table", "column", "kind", "required", "description", "default"])]
    lines.append("|---|---|---|---|---|---|")
    for table in tables:
        either = {name for group in table.alternatives for name in group}
        for c in table.columns:
            required = "yes" if c.required else "one pair" if c.name in either else ""
            described = ", ".join(c.values) or c.description
            lines.append(_row([table.name, c.name, c.kind, required, described, c.default]))
    return "\n".join(lines) + "\n"


DOC_TABLES: tuple[tuple[str, Callable[[], str]], ...] = (
    ("docs/data-contract.md", contract_table),
    ("docs/data-contract.md", codes_table),
    ("docs/data-contract.md", bounds_table),
    ("README.md", readme_table),
    ("docs/design.md", frames_table),
)
"""Where each rendered table stands in the repository's docs (scripts/schema_docs.py writes
them there; tests/test_schema.py checks they are the same)."""
