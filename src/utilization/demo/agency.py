"""A deterministic synthetic agency, exported as the raw tables of data contract §1.

| table | what the demo holds (defaults: 60 clients, 15 months) |
|---|---|
| clients | synthetic names (small name lists, no real people); case managers; a few discharged |
| procedures | the seed services as HCPCS codes with modifiers (`T2021 U4`), $6-$30 a unit; |
| | `H2023 HQ` rounds complete, `T2025 U7` never_zero, the rest the default (left empty); |
| | `T1001` is per visit (unit_minutes 0); `NB TRAVEL` is not billable (no rate) |
| payers | DD Medicaid waiver, a managed-care plan (contracted rates 5 % lower), private pay |
| providers | fieldworkers: at least 24, about one per three clients |
| authorizations | per client and procedure: consecutive 3- or 6-month renewals, some early |
| | (overlapping), a few late (a gap); one-month supplements and holiday respite in one |
| | December (the approved-units spike); under-used and over-used plans; a few services |
| | without any authorization (unauthorized service) |
| visits | ~12 per client-month (VISITS_PER_CLIENT_MONTH) over whole months ending with the |
| | quarter of `today`: completed up to it, scheduled after, a few cancelled; mostly 30 |
| | min-4 h, some cut short, overnight respite, across the daylight-saving changes (a few |
| | times with their UTC offset); a few as service_date + minutes; staff-recorded units |
| | with hand-rounding errors both ways (rounded up, down, to whole hours); amount_billed |
| | on some, a few at a wrong rate; some insured visits without payer_id (the |
| | authorization's applies), a few without provider_id |
| payments | 2-8 weeks after service, none yet for recent visits; some denied (0); private pay |
| | as patient_paid, waiver clients' participation on some |

Intentional bad rows (data contract §2), one of each, appended after the good rows of their
table so that reports show the rejects pipeline:

- visits: a visit exported twice (the same `visit_id` on two rows);
- visits: a visit whose `end` is before its `start` (start and end swapped);
- visits: an unknown procedure code `T2012 U4` (transposed digits of `T2021 U4`);
- visits: a visit given as `service_date` + `minutes` whose minutes are `1h30`;
- authorizations: an authorization whose `end_date` is before its `start_date`.

The same arguments give the same tables and CSV bytes; only `today` defaults to the clock.
Everything per visit is vectorized, so 10 million visits take seconds, not minutes.
"""

from __future__ import annotations

import calendar
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from utilization.dataset import TABLES
from utilization.files import temporary_name, write_atomic
from utilization.units import units_array

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# -- knobs ------------------------------------------------------------------------------------

TIMEZONE = "America/Los_Angeles"  # the agency's time zone (the settings default)
VISITS_PER_CLIENT_MONTH = 12  # about; visits ~= clients x months x this (aim at 1M / 10M)
MIN_PROVIDERS = 24  # at least this many fieldworkers
CLIENTS_PER_PROVIDER = 3  # more clients than this per fieldworker adds fieldworkers
PLANS_PER_CLIENT = ((2, 0.35), (3, 0.45), (4, 0.20))  # billable services a client gets
NON_BILLABLE_SHARE = 0.5  # clients who also have non-billable travel/documentation entries
DISCHARGED_SHARE = 0.08  # clients discharged during the window
LATE_ADMISSION_SHARE = 0.15  # clients admitted during the window
CASE_MANAGER_SHARE = 0.7  # clients with a case manager
UNDER_USED_SHARE = 0.15  # plans authorized 2-4 times what is used
OVER_USED_SHARE = 0.12  # plans authorized 55-85 % of what is used
UNAUTHORIZED_SHARE = 0.03  # plans with no authorization at all
LAPSE_SHARE = 0.05  # plans with a renewal that starts late (a gap in authorization)
EARLY_RENEWAL_SHARE = 0.05  # renewals that start before the previous authorization ends
DECEMBER_BATCH_SHARE = 0.35  # plans given a one-month supplement in the batch December
PRIVATE_RESPITE_SHARE = 0.25  # waiver clients who pay respite privately
OVERNIGHT_RESPITE_SHARE = 0.2  # respite plans whose visits run overnight
SHORT_VISIT_SHARE = 0.01  # visits of 3-20 minutes (cut short)
SUBSTITUTE_SHARE = 0.12  # visits by another fieldworker than the plan's usual one
CANCELLED_SHARE = 0.03  # visits cancelled
MINUTES_ONLY_SHARE = 0.003  # completed visits given as service_date + minutes
OFFSET_SHARE = 0.002  # visits whose times carry their UTC offset
UNITS_RECORDED_SHARE = 0.9  # completed visits where staff recorded units
UNITS_ERROR_SHARE = 0.03  # recorded units that are hand-rounded wrong
AMOUNT_BILLED_SHARE = 0.35  # completed billable visits with an amount billed
RATE_MISMATCH_SHARE = 0.01  # of those, billed at a rate other than the contracted one
PAYER_GAP_SHARE = 0.1  # insured, authorized visits exported without payer_id (the authorization's)
PROVIDER_GAP_SHARE = 0.004  # visits exported without provider_id
PAYMENT_LAG_DAYS = (14, 56)  # payments arrive 2-8 weeks after service
UNPAID_SHARE = 0.02  # old visits still without payment
DENIED_SHARE = 0.04  # payments of 0 (denied claims)
PATIENT_SHARE_RATE = 0.1  # waiver visits where the client pays 10 % (participation)
VISIT_ID_START = 100_001  # EVV visit numbers start here
DAYS_PER_MONTH = 365.25 / 12
WEEKS_PER_MONTH = 365.25 / 12 / 7


@dataclass(frozen=True)
class Service:
    """One procedure of the catalog and how often and how long its visits are."""

    code: str
    description: str
    unit_minutes: int
    rate: float  # dollars per unit; NaN for none
    rounding: str | None  # None: the agency default
    billable: bool
    visits_per_week: float
    minutes: tuple[int, int]  # typical visit length range
    weight: float  # how often clients have it


SERVICES: tuple[Service, ...] = (
    Service("T1019 U3", "CBS Acuity Visit", 15, 7.00, None, True, 1.0, (45, 120), 3.0),
    Service(
        "H2023 U1", "Supported Employment Individual", 15, 14.50, None, True, 1.0, (60, 180), 2.0
    ),
    Service(
        "H2023 HQ", "Supported Employment Group", 15, 6.00, "complete", True, 1.0, (120, 240), 1.5
    ),
    Service("T2017", "Habilitation", 15, 12.25, None, True, 2.0, (120, 300), 3.0),
    Service("T2021 U4", "Community Engagement (CE)", 15, 13.80, None, True, 1.0, (90, 240), 2.5),
    Service(
        "H2014 HI", "Specialized Habilitation (SH)", 15, 16.40, None, True, 0.75, (60, 120), 1.5
    ),
    Service(
        "T2025 U7", "Staff-Family Consultation", 15, 22.00, "never_zero", True, 0.3, (20, 90), 1.5
    ),
    Service("T1005", "Respite", 15, 8.75, None, True, 0.75, (180, 480), 2.0),
    Service("T1001", "Nursing Assessment Visit", 0, 29.50, None, True, 0.25, (30, 75), 1.0),
    Service(
        "NB TRAVEL",
        "Travel and documentation (non-billable)",
        15,
        np.nan,
        None,
        False,
        0.5,
        (10, 45),
        0.0,
    ),
)
HABILITATION = 3  # index of Habilitation in SERVICES
RESPITE = 7  # index of Respite in SERVICES
NON_BILLABLE = 9  # index of the non-billable code
VISIT_RATE_SCALE = 0.94  # calibrates SERVICES' visits_per_week to VISITS_PER_CLIENT_MONTH


@dataclass(frozen=True)
class Payer:
    """One payer, the case type of its visits and how it pays."""

    payer_id: str
    payer_name: str
    case_type: str
    share: float  # of clients
    rate_factor: float  # contracted rate = procedure rate x this
    private: bool  # paid by the client (patient_paid), not insurance


PAYERS: tuple[Payer, ...] = (
    Payer("DDA", "State DD Medicaid Waiver (DDA)", "waiver", 0.60, 1.0, False),
    Payer(
        "MCO",
        "Cascade Community Health Plan (Medicaid managed care)",
        "managed_care",
        0.28,
        0.95,
        False,
    ),
    Payer("PVT", "Private pay", "private", 0.12, 1.0, True),
)
WAIVER = 0  # index of the DD waiver in PAYERS
PRIVATE = 2  # index of private pay in PAYERS

FIRST_NAMES = (
    "Avery", "Blake", "Carmen", "Dario", "Elena", "Felix", "Greta", "Hiro", "Imani", "Jonah",
    "Keiko", "Luis", "Marisol", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Samir", "Tessa",
    "Ulla", "Victor", "Wren", "Yusuf",
)  # fmt: skip
LAST_NAMES = (
    "Alderwood", "Birchfield", "Castellan", "Dunmore", "Ellery", "Fairbank", "Greerson",
    "Halvorsen", "Ibarrola", "Jessup", "Kowalczyk", "Lindqvist", "Marchetti", "Novakovic",
    "Okonkwo", "Pruitt", "Quintana", "Rasmussen", "Sakamoto", "Thornbury", "Underhill",
    "Vantongeren", "Whitlock", "Yardley",
)  # fmt: skip
CASE_MANAGERS = (
    "Dana Whitcombe", "Marco Ellingsen", "Ruth Abernathy", "Sunil Varga", "Leigh Ostrander",
    "Tomas Brightwater",
)  # fmt: skip

# Limits per period (data contract §10) on the Washington-DDCS-style services of the waiver:
# units per month on Community Engagement, Specialized Habilitation and Staff-Family
# Consultation; a few plans authorized below their usual month hit the monthly cap; one
# Respite plan has a weekly cap and one Habilitation plan a daily cap below its long visits.
MONTHLY_LIMITED = ("T2021 U4", "H2014 HI", "T2025 U7")
MONTHLY_HEADROOM = (1.25, 1.6)  # monthly limit / usual month's units
CAPPED_PLANS = 3  # plans whose monthly limit is below their usual month (they hit it)
CAPPED_HEADROOM = (0.7, 0.85)
WEEKLY_CAP = 0.8  # the weekly-capped Respite plan: limit / its usual week's units
DAILY_CAP_UNITS = 12  # the daily-capped Habilitation plan (3 hours a day)
RENEWAL_PENDING_PLANS = 2  # authorizations ending 1-3 weeks after today, renewal not in yet

# Intentional bad rows (see the module docstring).
BAD_PROCEDURE_CODE = "T2012 U4"
BAD_MINUTES = "1h30"


# -- public API -------------------------------------------------------------------------------


def generate(
    seed: int = 2026, clients: int = 60, months: int = 15, today: date | None = None
) -> dict[str, pd.DataFrame]:
    """The demo agency's raw export tables, by table name (data contract §1 columns).

    Visits cover `months` whole calendar months ending with the quarter holding `today`
    (default: the current date): completed up to `today`, scheduled after it. About
    `VISITS_PER_CLIENT_MONTH` visits per client and month. Same arguments, same tables.
    """
    if clients < 1:
        msg = f"clients must be 1 or more, not {clients}"
        raise ValueError(msg)
    if months < 3:
        msg = f"months must be 3 or more (the window ends with today's quarter), not {months}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    limits_rng = rng.spawn(1)[0]  # its own stream: the other tables do not depend on it
    days = _calendar(today or date.today(), months)
    people = _clients(rng, clients, days)
    plans = _plans(rng, people, days)
    auths = _with_limits(limits_rng, _authorizations(rng, plans, people, days), plans, days)
    visits = _visits(rng, plans, days)
    tables = {
        "clients": people.frame,
        "procedures": _procedures(),
        "payers": _payers(),
        "providers": _providers(rng, plans.providers),
        "authorizations": _with_bad_authorization(auths, days),
        "visits": _with_bad_visits(
            _with_gaps(_visit_frame(visits, plans, people), visits, plans, seed)
        ),
        "payments": _payments(rng, visits, plans, days),
    }
    return {name: tables[name] for name in TABLES}


def write_demo(out: Path, fmt: str = "csv", parts: int = 1, **generate_kwargs: Any) -> list[Path]:
    """Write the demo tables to `out` as `<table>.csv` or `<table>.parquet`; the paths written.

    CSV: UTF-8, `\\n` line ends, money with two decimals, so equal arguments give equal bytes.
    `parts` above 1: the clients generated in that many blocks, one block in memory at a time
    (`write_demo_parts`), for data sets larger than memory.
    """
    if fmt not in ("csv", "parquet"):
        msg = f"format {fmt!r} is not supported; use 'csv' or 'parquet'"
        raise ValueError(msg)
    if parts > 1:
        return write_demo_parts(Path(out), fmt, parts, **generate_kwargs)
    tables = generate(**generate_kwargs)
    out = Path(out)
    paths: list[Path] = []
    for name, frame in tables.items():
        path = out / f"{name}.{fmt}"
        write_atomic(path, _table_data(frame, fmt))
        paths.append(path)
    return paths


def write_demo_parts(
    out: Path,
    fmt: str,
    parts: int,
    seed: int = 2026,
    clients: int = 60,
    months: int = 15,
    today: date | None = None,
) -> list[Path]:
    """Write a demo agency of `clients` clients as `parts` blocks of whole clients, one block
    generated and appended at a time, so that memory holds one block (about 0.4 GB a million
    visits), not the agency; the paths written.

    Block k is `generate(seed=<seed and k>, clients=<its share>)` with its ids numbered on
    from the blocks before it (clients `C…`, providers `P…`, authorizations `A…`, visit ids),
    so the tables hold every block's rows, one agency with `parts` times the demo's bad rows;
    `procedures` and `payers` are written once. Not the tables `generate(clients=clients)`
    gives (another random stream), but the same arguments give the same bytes.
    """
    if parts < 1 or parts > clients:
        msg = f"parts must be between 1 and the number of clients ({clients}), not {parts}"
        raise ValueError(msg)
    day = today or date.today()
    shares = [len(block) for block in np.array_split(np.arange(clients), parts)]
    widths = {
        "client_id": max(4, len(str(clients))),
        "provider_id": max(3, len(str(clients + 24 * parts))),
        "authorization_id": max(5, len(str(clients * 100))),
    }
    prefixes = {"client_id": "C", "provider_id": "P", "authorization_id": "A"}
    next_number = dict.fromkeys(prefixes, 0)
    next_visit = 0
    writers = {name: _TableWriter(Path(out), name, fmt) for name in TABLES}
    try:
        for k, share in enumerate(shares):
            block_seed = int(np.random.SeedSequence([seed, k]).generate_state(1)[0])
            tables = generate(seed=block_seed, clients=share, months=months, today=day)
            counts = {
                "client_id": len(tables["clients"]),
                "provider_id": len(tables["providers"]),
                "authorization_id": len(tables["authorizations"]),
            }
            for name, frame in tables.items():
                if k > 0 and name in ("procedures", "payers"):
                    continue
                for column, prefix in prefixes.items():
                    if column in frame.columns:
                        frame[column] = _renumbered(
                            frame[column], prefix, next_number[column], widths[column]
                        )
                if "visit_id" in frame.columns:
                    frame["visit_id"] = frame["visit_id"] + next_visit
                writers[name].append(frame)
            for column, count in counts.items():
                next_number[column] += count
            next_visit += int(tables["visits"]["visit_id"].max()) + 1 - VISIT_ID_START
            del tables
        return [writer.close() for writer in writers.values()]
    finally:
        for writer in writers.values():
            writer.discard()


def _table_data(frame: pd.DataFrame, fmt: str) -> str | bytes:
    """One table's file as `write_demo` writes it."""
    if fmt == "csv":
        return frame.to_csv(index=False, lineterminator="\n", float_format="%.2f")
    return frame.to_parquet(None, index=False)


def _renumbered(column: pd.Series, prefix: str, offset: int, width: int) -> pd.Series:
    """Ids `prefix<number>` as `prefix<number + offset>` with `width` digits (missing stay)."""
    values = pa.array(column, type=pa.large_string())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = values.dictionary_encode()
    numbers = [int(text[len(prefix) :]) + offset for text in encoded.dictionary.to_pylist()]
    dictionary = pa.array([f"{prefix}{n:0{width}d}" for n in numbers], type=pa.large_string())
    renamed = pa.DictionaryArray.from_arrays(encoded.indices, dictionary)
    return pd.Series(renamed.cast(pa.large_string()).to_pandas(), dtype="str", index=column.index)


class _TableWriter:
    """One table written block by block into a temporary file, renamed into place at the end."""

    def __init__(self, out: Path, name: str, fmt: str) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.path = out / f"{name}.{fmt}"
        self.temporary = out / temporary_name(self.path.name)
        self.fmt = fmt
        self.parquet: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None
        self.started = False

    def append(self, frame: pd.DataFrame) -> None:
        """Add a block's rows (CSV: the header with the first block only)."""
        if self.fmt == "csv":
            text = frame.to_csv(
                index=False, header=not self.started, lineterminator="\n", float_format="%.2f"
            )
            with self.temporary.open("a", encoding="utf-8", newline="") as handle:
                handle.write(text)
        else:
            table = pa.Table.from_pandas(frame, preserve_index=False, schema=self.schema)
            if self.parquet is None:
                self.schema = table.schema
                self.parquet = pq.ParquetWriter(self.temporary, table.schema)
            self.parquet.write_table(table)
        self.started = True

    def close(self) -> Path:
        """Finish the file and rename it over `<table>.<fmt>`; its path."""
        if self.parquet is not None:
            self.parquet.close()
            self.parquet = None
        os.replace(self.temporary, self.path)
        return self.path

    def discard(self) -> None:
        """Remove the temporary file if it is still there (a block failed)."""
        if self.parquet is not None:
            self.parquet.close()
        self.temporary.unlink(missing_ok=True)


# -- calendar ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Calendar:
    """The demo's days, as day numbers (days since 1970-01-01)."""

    first: int  # first day of the visit window
    last: int  # last day of the window (end of today's quarter)
    today: int
    months: int
    december: int | None  # 1 December of the batch, if the window has one


def _day(d: date) -> int:
    """Day number of a date."""
    return (d - date(1970, 1, 1)).days


def _calendar(today: date, months: int) -> _Calendar:
    """The window of `months` calendar months ending with the quarter holding `today`."""
    last_month = (today.month - 1) // 3 * 3 + 3
    last = date(today.year, last_month, calendar.monthrange(today.year, last_month)[1])
    index = today.year * 12 + last_month - months
    first = date(index // 12, index % 12 + 1, 1)
    decembers = [date(y, 12, 1) for y in range(first.year, last.year + 1)]
    decembers = [d for d in decembers if first <= d <= last]
    past = [d for d in decembers if d <= today]
    batch = past[-1] if past else (decembers[-1] if decembers else None)
    return _Calendar(
        _day(first), _day(last), _day(today), months, None if batch is None else _day(batch)
    )


def _month_of(days: IntArray) -> IntArray:
    """Month number (months since 1970-01) of day numbers."""
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _month_start(month: IntArray) -> IntArray:
    """Day number of the first day of month numbers."""
    return month.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


# -- small helpers ----------------------------------------------------------------------------


def _choose(rng: np.random.Generator, eligible: BoolArray, share: float, least: int) -> BoolArray:
    """A random share of the eligible rows, and at least `least` of them where there are."""
    chosen = eligible & (rng.random(eligible.shape) < share)
    short = least - int(chosen.sum())
    if short > 0:
        rest = np.flatnonzero(eligible & ~chosen)
        chosen.flat[rng.choice(rest, size=min(short, rest.size), replace=False)] = True
    return chosen


def _ids(prefix: str, count: int, width: int) -> list[str]:
    """Identifiers `prefix0001`... of at least `width` digits."""
    width = max(width, len(str(count)))
    return [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]


def _names(rng: np.random.Generator, count: int) -> list[str]:
    """Synthetic person names drawn from the small name lists."""
    first = rng.integers(0, len(FIRST_NAMES), count)
    last = rng.integers(0, len(LAST_NAMES), count)
    return [f"{FIRST_NAMES[f]} {LAST_NAMES[la]}" for f, la in zip(first, last, strict=True)]


def _text(words: Sequence[str | None], codes: IntArray) -> pd.Series:
    """Text column of `words[codes]` (a negative code gives an empty value)."""
    dictionary = pa.array(list(words), type=pa.large_string())
    taken = dictionary.take(pa.array(codes, mask=codes < 0))
    return pd.Series(taken.to_pandas(), dtype="str")


def _fixed_text(rows: npt.NDArray[Any], valid: BoolArray | None) -> pd.Series:
    """Text column from a structured array of fixed-width byte fields (no padding)."""
    width = rows.dtype.itemsize
    offsets = np.arange(0, width * (rows.size + 1), width, dtype=np.int64)
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    array = pa.LargeStringArray.from_buffers(
        rows.size, pa.py_buffer(offsets), pa.py_buffer(rows.view(np.uint8)), bitmap
    )
    return pd.Series(array.to_pandas(), dtype="str")


def _day_bytes(days: IntArray, suffix: bytes = b"") -> npt.NDArray[Any]:
    """`YYYY-MM-DD` + suffix as bytes of each day number (looked up, not formatted per row)."""
    first = int(days.min()) if days.size else 0
    last = int(days.max()) if days.size else 0
    span = np.arange(first, last + 1).astype("datetime64[D]")
    table = np.char.add(np.datetime_as_string(span).astype("S10"), suffix)
    return table[days - first]


def _date_text(days: IntArray, valid: BoolArray | None = None) -> pd.Series:
    """`YYYY-MM-DD` text of day numbers."""
    rows = np.empty(days.size, dtype=[("d", "S10")])
    rows["d"] = _day_bytes(days)
    return _fixed_text(rows, valid)


_TIMES = np.array([f"{m // 60:02d}:{m % 60:02d}:00".encode() for m in range(1440)], dtype="S8")


def _datetime_text(minutes: IntArray, valid: BoolArray | None = None) -> pd.Series:
    """`YYYY-MM-DD HH:MM:00` text of local minute numbers (minutes since 1970-01-01 00:00)."""
    days = minutes // 1440
    rows = np.empty(minutes.size, dtype=[("d", "S11"), ("t", "S8")])
    rows["d"] = _day_bytes(days, b" ")
    rows["t"] = _TIMES[minutes - days * 1440]
    return _fixed_text(rows, valid)


def _with_offset(text: pd.Series, marked: BoolArray, offsets: IntArray) -> pd.Series:
    """`text` with its ISO 8601 UTC offset (minutes, -480 -> `-08:00`) appended where marked."""
    if not marked.any():
        return text
    kinds, inverse = np.unique(offsets[marked], return_inverse=True)
    codes = np.zeros(marked.size, dtype=np.int64)
    codes[marked] = inverse + 1
    words = [""] + [f"{'-' if o < 0 else '+'}{abs(o) // 60:02d}:{abs(o) % 60:02d}" for o in kinds]
    suffix = pa.array(words, type=pa.large_string()).take(pa.array(codes))
    joined = pc.binary_join_element_wise(
        pa.array(text.array), suffix, pa.scalar("", pa.large_string())
    )
    return pd.Series(joined.to_pandas(), dtype="str")


def _to_utc(local: IntArray) -> IntArray:
    """UTC minute numbers of local minute numbers (repeated hour: its first occurrence)."""
    index = pd.DatetimeIndex((local * 60).astype("datetime64[s]"))
    zoned = index.tz_localize(
        TIMEZONE, ambiguous=np.ones(local.size, dtype=bool), nonexistent="shift_forward"
    )
    return np.asarray(zoned.as_unit("s").asi8 // 60, dtype=np.int64)


def _to_local(utc: IntArray) -> IntArray:
    """Local minute numbers of UTC minute numbers."""
    index = pd.DatetimeIndex((utc * 60).astype("datetime64[s]")).tz_localize("UTC")
    local = index.tz_convert(TIMEZONE).tz_localize(None)
    return np.asarray(local.as_unit("s").asi8 // 60, dtype=np.int64)


def _second_occurrence(local: IntArray, utc: IntArray) -> BoolArray:
    """Local times that read as another instant without their offset (the repeated hour)."""
    early = np.flatnonzero(local % 1440 < 180)
    out = np.zeros(local.size, dtype=bool)
    if early.size:
        out[early] = _to_utc(local[early]) != utc[early]
    return out


def _unit_table() -> IntArray:
    """Units per visit by service and minutes (0-1440), by each procedure's rounding rule."""
    minutes = np.arange(1441)
    rows = [units_array(minutes, s.unit_minutes, s.rounding or "midpoint") for s in SERVICES]
    return np.vstack(rows)


# -- catalog tables ---------------------------------------------------------------------------


def _procedures() -> pd.DataFrame:
    """The service catalog; grain: one row per procedure code."""
    return pd.DataFrame(
        {
            "procedure_code": pd.Series([s.code for s in SERVICES], dtype="str"),
            "description": pd.Series([s.description for s in SERVICES], dtype="str"),
            "unit_minutes": np.array([s.unit_minutes for s in SERVICES], dtype=np.int64),
            "rate": np.array([s.rate for s in SERVICES], dtype=np.float64),
            "rounding": pd.Series([s.rounding for s in SERVICES], dtype="str"),
            "billable": np.array([s.billable for s in SERVICES], dtype=bool),
        }
    )


def _payers() -> pd.DataFrame:
    """The payers; grain: one row per payer."""
    return pd.DataFrame(
        {
            "payer_id": pd.Series([p.payer_id for p in PAYERS], dtype="str"),
            "payer_name": pd.Series([p.payer_name for p in PAYERS], dtype="str"),
        }
    )


def _providers(rng: np.random.Generator, count: int) -> pd.DataFrame:
    """The fieldworkers; grain: one row per provider."""
    return pd.DataFrame(
        {
            "provider_id": pd.Series(_ids("P", count, 3), dtype="str"),
            "provider_name": pd.Series(_names(rng, count), dtype="str"),
        }
    )


def _rate_cents(service: IntArray, payer: IntArray) -> IntArray:
    """Contracted rate in cents per unit for each (service, payer) pair."""
    table = np.array(
        [
            [round(0.0 if np.isnan(s.rate) else s.rate * p.rate_factor * 100) for p in PAYERS]
            for s in SERVICES
        ],
        dtype=np.int64,
    )
    return table[service, payer]


# -- clients and their plans ------------------------------------------------------------------


@dataclass(frozen=True)
class _Clients:
    """Clients: the exported frame and what the rest of the demo needs per client."""

    frame: pd.DataFrame
    payer: IntArray  # index into PAYERS
    first: IntArray  # first day served in the window
    last: IntArray  # last day served in the window


def _clients(rng: np.random.Generator, count: int, days: _Calendar) -> _Clients:
    """Clients with payer, admission and discharge; grain of the frame: one row per client."""
    payer = rng.choice(len(PAYERS), size=count, p=[p.share for p in PAYERS])
    order = rng.permutation(count)
    discharged = np.zeros(count, dtype=bool)
    discharged[order[: max(1, round(count * DISCHARGED_SHARE))]] = True
    late = np.zeros(count, dtype=bool)
    late[order[-max(1, round(count * LATE_ADMISSION_SHARE)) :]] = True
    late &= ~discharged
    first = np.full(count, days.first, dtype=np.int64)
    admitted_month = _month_of(np.array([days.first])) + rng.integers(
        1, max(2, days.months * 2 // 3), count
    )
    first[late] = (_month_start(admitted_month) + rng.integers(0, 28, count))[late]
    first = np.minimum(first, days.today)
    last = np.full(count, days.last, dtype=np.int64)
    served = min(days.today, days.last) - days.first
    leave = days.first + 60 + (rng.random(count) * max(1, served - 60)).astype(np.int64)
    last[discharged] = np.minimum(np.maximum(leave, first + 30), days.today)[discharged]
    medicaid = rng.integers(100_000_000, 1_000_000_000, count)
    manager = rng.integers(0, len(CASE_MANAGERS), count)
    has_manager = rng.random(count) < CASE_MANAGER_SHARE
    frame = pd.DataFrame(
        {
            "client_id": pd.Series(_ids("C", count, 4), dtype="str"),
            "client_name": pd.Series(_names(rng, count), dtype="str"),
            "medicaid_id": pd.Series(
                [None if payer[i] == PRIVATE else f"{medicaid[i]}WA" for i in range(count)],
                dtype="str",
            ),
            "case_manager": _text(CASE_MANAGERS, np.where(has_manager, manager, -1)),
            "status": _text(("active", "discharged"), discharged.astype(np.int64)),
        }
    )
    return _Clients(frame, payer, first, last)


@dataclass(frozen=True)
class _Plans:
    """Services a client receives (one per client and procedure); arrays are per plan."""

    client: IntArray
    service: IntArray
    payer: IntArray
    first: IntArray  # first day of service in the window
    last: IntArray  # last day of service in the window
    per_week: FloatArray  # visits a week
    minutes: IntArray  # typical visit length
    start_minute: IntArray  # usual start, minute of the day
    overnight: BoolArray
    provider: IntArray
    usage: FloatArray  # units approved / units expected
    span_months: IntArray  # months an authorization covers
    authorized: BoolArray  # False: no authorization at all
    late_client: BoolArray  # client admitted during the window
    lapsed: BoolArray  # one renewal starts late: a gap between two authorizations
    providers: int  # number of fieldworkers


def _pick_services(rng: np.random.Generator, count: int) -> tuple[IntArray, IntArray]:
    """(client, service) pairs: 2-4 billable services a client, weighted, plus travel for some."""
    billable = np.array([s.weight for s in SERVICES[:NON_BILLABLE]])
    sizes, shares = zip(*PLANS_PER_CLIENT, strict=True)
    size = rng.choice(np.array(sizes), size=count, p=np.array(shares))
    keys = np.log(rng.random((count, billable.size))) / billable  # weighted, no replacement
    rank = np.argsort(np.argsort(-keys, axis=1, kind="stable"), axis=1, kind="stable")
    chosen = rank < size[:, None]
    travel = rng.random(count) < NON_BILLABLE_SHARE
    chosen = np.hstack([chosen, travel[:, None]])
    client, service = np.nonzero(chosen)
    return client.astype(np.int64), service.astype(np.int64)


def _plans(rng: np.random.Generator, people: _Clients, days: _Calendar) -> _Plans:
    """Each client's services with how often, how long and how well authorized."""
    count = people.payer.size
    client, service = _pick_services(rng, count)
    n = client.size
    payer = people.payer[client].copy()
    private_respite = (
        (service == RESPITE) & (payer == WAIVER) & (rng.random(n) < PRIVATE_RESPITE_SHARE)
    )
    payer[private_respite] = PRIVATE
    low = np.array([s.minutes[0] for s in SERVICES])[service]
    high = np.array([s.minutes[1] for s in SERVICES])[service]
    overnight = (service == RESPITE) & (rng.random(n) < OVERNIGHT_RESPITE_SHARE)
    minutes = np.where(overnight, rng.integers(480, 661, n), rng.integers(low, high + 1))
    start = np.where(overnight, rng.integers(1200, 1351, n), rng.integers(84, 181, n) * 5)
    weekly = np.array([s.visits_per_week for s in SERVICES])[service]
    per_week = weekly * VISIT_RATE_SCALE * rng.lognormal(0.0, 0.3, n)
    providers = max(MIN_PROVIDERS, -(-count // CLIENTS_PER_PROVIDER))
    billable = service != NON_BILLABLE
    unauthorized = _choose(rng, billable, UNAUTHORIZED_SHARE, 1)
    lapsed = _choose(rng, billable & ~unauthorized, LAPSE_SHARE, 1)
    order = rng.permutation(n)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    under = rank < round(n * UNDER_USED_SHARE)
    over = ~under & (rank < round(n * (UNDER_USED_SHARE + OVER_USED_SHARE)))
    usage = np.where(
        under,
        rng.uniform(2.0, 4.0, n),
        np.where(over, rng.uniform(0.55, 0.85, n), rng.uniform(1.0, 1.3, n)),
    )
    return _Plans(
        client=client,
        service=service,
        payer=payer,
        first=people.first[client],
        last=people.last[client],
        per_week=per_week,
        minutes=minutes.astype(np.int64),
        start_minute=start.astype(np.int64),
        overnight=overnight,
        provider=rng.integers(0, providers, n),
        usage=usage,
        span_months=np.where(rng.random(n) < 0.6, 3, 6).astype(np.int64),
        authorized=billable & ~unauthorized,
        late_client=people.first[client] > days.first,
        lapsed=lapsed,
        providers=providers,
    )


# -- authorizations ---------------------------------------------------------------------------


def _chains(
    rng: np.random.Generator, plans: _Plans, days: _Calendar
) -> tuple[IntArray, IntArray, IntArray]:
    """Consecutive authorization spans per authorized plan: (plan, start day, end day)."""
    plan = np.flatnonzero(plans.authorized)
    span = plans.span_months[plan]
    late = plans.late_client[plan]
    first_month = _month_of(np.array([days.first]))[0]
    phase = (rng.random(plan.size) * span).astype(np.int64)
    month0 = np.where(late, _month_of(plans.first[plan]), first_month - phase)
    day0 = np.where(late, plans.first[plan] - _month_start(_month_of(plans.first[plan])), 0)
    k = np.arange(days.months // 3 + 3)
    start = _month_start(month0[:, None] + k * span[:, None]) + day0[:, None]
    end = _month_start(month0[:, None] + (k + 1) * span[:, None]) + day0[:, None] - 1
    valid = (k == 0) | (start <= plans.last[plan][:, None])
    renewal = valid & (k >= 1)
    early = _choose(rng, renewal, EARLY_RENEWAL_SHARE, 1)
    start = start - np.where(early, rng.integers(7, 29, start.shape), 0)
    lapse_rows = np.flatnonzero(plans.lapsed[plan] & renewal.any(axis=1))
    renewals = renewal.sum(axis=1)[lapse_rows]
    lapse_k = 1 + (rng.random(lapse_rows.size) * renewals).astype(np.int64)
    start[lapse_rows, lapse_k] += rng.integers(10, 46, lapse_rows.size)
    rows, cols = np.nonzero(valid)
    return plan[rows], start[rows, cols], end[rows, cols]


def _december_batch(
    rng: np.random.Generator, plans: _Plans, days: _Calendar
) -> tuple[IntArray, IntArray]:
    """One-month authorizations added in the batch December: (plan, units approved).

    Holiday respite for every client with respite that month, and a supplement for a share
    of the other plans; they overlap the authorizations already running.
    """
    dec = days.december
    if dec is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    eligible = plans.authorized & (plans.first <= dec) & (plans.last >= dec)
    respite = eligible & (plans.service == RESPITE)
    batch = np.flatnonzero(respite | _choose(rng, eligible & ~respite, DECEMBER_BATCH_SHARE, 1))
    supplement = np.rint(_expected_units(plans)[batch] * rng.uniform(1.0, 2.0, batch.size))
    holiday = rng.integers(4, 13, batch.size) * 8
    units = np.where(plans.service[batch] == RESPITE, holiday, np.maximum(supplement, 2))
    return batch, units.astype(np.int64)


def _expected_units(plans: _Plans) -> FloatArray:
    """Units a plan's visits need in a month at its usual visit length."""
    units = _unit_table()[plans.service, np.minimum(plans.minutes, 1440)]
    return plans.per_week * WEEKS_PER_MONTH * units


def _authorizations(
    rng: np.random.Generator, plans: _Plans, people: _Clients, days: _Calendar
) -> pd.DataFrame:
    """Authorizations per client and procedure; grain: one row per authorization."""
    plan, start, end = _chains(rng, plans, days)
    monthly = _expected_units(plans)[plan] * plans.usage[plan]
    units = np.maximum(1, np.rint(monthly * (end - start + 1) / DAYS_PER_MONTH)).astype(np.int64)
    batch, batch_units = _december_batch(rng, plans, days)
    dec = days.december or 0
    plan = np.concatenate([plan, batch])
    start = np.concatenate([start, np.full(batch.size, dec)])
    end = np.concatenate([end, np.full(batch.size, dec + 30)])
    units = np.concatenate([units, batch_units])
    client, service, payer = plans.client[plan], plans.service[plan], plans.payer[plan]
    order = np.lexsort((end, start, service, client))
    client, service, payer = client[order], service[order], payer[order]
    start, end, units, plan = start[order], end[order], units[order], plan[order]
    contracted = _rate_cents(service, payer) / 100
    own_rate = np.array([p.rate_factor != 1.0 for p in PAYERS])[payer]
    return pd.DataFrame(
        {
            "authorization_id": pd.Series(_ids("A", client.size, 5), dtype="str"),
            "client_id": _text(people.frame["client_id"].tolist(), client),
            "procedure_code": _text([s.code for s in SERVICES], service),
            "start_date": _date_text(start),
            "end_date": _date_text(end),
            "units_approved": units,
            "payer_id": _text([p.payer_id for p in PAYERS], payer),
            "rate": np.where(own_rate, contracted, np.nan),
            "status": _text(("approved",), np.zeros(client.size, dtype=np.int64)),
            "_plan": plan,  # for _with_limits; not exported
        }
    )


def _with_limits(
    rng: np.random.Generator, frame: pd.DataFrame, plans: _Plans, days: _Calendar
) -> pd.DataFrame:
    """Authorizations with their limits per day, week and month (empty: none) and a few
    ending soon after today with the renewal not in yet (see MONTHLY_LIMITED and below).
    """
    frame = frame.copy()
    plan = frame.pop("_plan").to_numpy()
    codes = np.array([s.code for s in SERVICES])
    monthly_plan = np.isin(codes[plans.service], MONTHLY_LIMITED) & (plans.payer == WAIVER)
    monthly_plan &= plans.authorized
    capped = np.zeros(plans.service.size, dtype=bool)
    candidates = np.flatnonzero(monthly_plan & (plans.usage >= 1.0) & (plans.usage < 2.0))
    capped[rng.permutation(candidates)[:CAPPED_PLANS]] = True
    usual_month = _expected_units(plans)
    headroom = np.where(
        capped,
        rng.uniform(*CAPPED_HEADROOM, capped.size),
        rng.uniform(*MONTHLY_HEADROOM, capped.size),
    )
    per_month = np.where(monthly_plan, np.maximum(1, np.ceil(usual_month * headroom)), np.nan)
    per_week = np.full(plans.service.size, np.nan)
    respite = np.flatnonzero(
        plans.authorized & (plans.service == RESPITE) & (plans.payer == WAIVER) & ~plans.overnight
    )
    if respite.size:
        chosen = respite[0]
        usual_week = usual_month[chosen] / WEEKS_PER_MONTH
        per_week[chosen] = max(1, int(usual_week * WEEKLY_CAP))
    per_day = np.full(plans.service.size, np.nan)
    habilitation = np.flatnonzero(plans.authorized & (plans.service == HABILITATION))
    if habilitation.size:
        per_day[habilitation[np.argmax(plans.minutes[habilitation])]] = DAILY_CAP_UNITS
    frame["units_per_day"] = pd.array(per_day[plan], dtype="Int64")
    frame["units_per_week"] = pd.array(per_week[plan], dtype="Int64")
    frame["units_per_month"] = pd.array(per_month[plan], dtype="Int64")
    return _renewals_pending(rng, frame, plan, days)


def _renewals_pending(
    rng: np.random.Generator, frame: pd.DataFrame, plan: IntArray, days: _Calendar
) -> pd.DataFrame:
    """A few authorizations holding today that are the last of their plan end 8-20 days
    after today instead: the visits scheduled after that have no authorization yet.
    """
    start = pd.to_datetime(frame["start_date"]).to_numpy().astype("datetime64[D]").astype(np.int64)
    end = pd.to_datetime(frame["end_date"]).to_numpy().astype("datetime64[D]").astype(np.int64)
    latest = pd.Series(end).groupby(plan).transform("max").to_numpy()
    holding = (start <= days.today) & (end >= days.today + 30) & (end == latest)
    chosen = rng.permutation(np.flatnonzero(holding))[:RENEWAL_PENDING_PLANS]
    new_end = days.today + rng.integers(8, 21, chosen.size)
    end[chosen] = new_end
    frame["end_date"] = _date_text(end)
    return frame


def _with_bad_authorization(frame: pd.DataFrame, days: _Calendar) -> pd.DataFrame:
    """Append the intentional bad authorization: end_date before start_date (dates swapped)."""
    bad = frame.iloc[[0]].copy()
    start = days.first + 90
    bad["authorization_id"] = f"A{len(frame) + 1:0{max(5, len(str(len(frame) + 1)))}d}"
    bad["start_date"] = _date_text(np.array([start + 180])).to_numpy()
    bad["end_date"] = _date_text(np.array([start])).to_numpy()
    return pd.concat([frame, bad], ignore_index=True)


# -- visits -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Visits:
    """Visits in time order, arrays per visit (before the intentional bad rows)."""

    plan: IntArray
    start_utc: IntArray  # minute numbers
    minutes: IntArray  # real elapsed minutes
    start: IntArray  # local minute numbers
    end: IntArray
    status: IntArray  # index into STATUSES
    units: IntArray  # by the procedure's rule
    recorded: IntArray  # units the staff recorded, -1 for none
    billed_cents: IntArray  # amount billed, -1 for none
    provider: IntArray  # index of the fieldworker
    minutes_only: BoolArray  # given as service_date + minutes
    start_offset: BoolArray  # start written with its UTC offset
    end_offset: BoolArray


STATUSES = ("completed", "scheduled", "cancelled")


def _visit_times(rng: np.random.Generator, plans: _Plans) -> tuple[IntArray, IntArray, IntArray]:
    """Random visits of every plan: (plan, local start minute number, minutes)."""
    active = plans.last - plans.first + 1
    counts = rng.poisson(np.maximum(active, 0) * plans.per_week / 7)
    plan = np.repeat(np.arange(plans.client.size), counts)
    n = plan.size
    day = plans.first[plan] + (rng.random(n) * active[plan]).astype(np.int64)
    overnight = plans.overnight[plan]
    jitter = np.rint(rng.normal(0.0, np.where(overnight, 15.0, 20.0))).astype(np.int64)
    clock = np.clip(
        plans.start_minute[plan] + jitter,
        np.where(overnight, 1140, 360),
        np.where(overnight, 1380, 1200),
    )
    length = np.rint(plans.minutes[plan] * (1 + 0.12 * rng.standard_normal(n))).astype(np.int64)
    short = rng.random(n) < SHORT_VISIT_SHARE
    length = np.where(short & ~overnight, rng.integers(3, 21, n), np.clip(length, 10, 720))
    return plan, day * 1440 + clock, length


def _dst_visits(
    rng: np.random.Generator, plans: _Plans, days: _Calendar
) -> tuple[IntArray, IntArray, IntArray]:
    """Visits across each daylight-saving change in the window: (plan, UTC start, minutes)."""
    day = np.arange(days.first - 1, days.last + 1)
    offset = day * 1440 + 720 - _to_utc(day * 1440 + 720)  # UTC offset at noon, minutes
    changes = np.flatnonzero(np.diff(offset)) + 1
    plan: list[int] = []
    start: list[int] = []
    length: list[int] = []
    for i in changes.tolist():
        change, before, after = int(day[i]), int(offset[i - 1]), int(offset[i])
        candidates = np.flatnonzero(
            plans.authorized & (plans.first < change) & (plans.last >= change)
        )
        respite = candidates[plans.service[candidates] == RESPITE]
        pool = respite if respite.size else candidates
        if pool.size == 0:
            continue
        # (local start minute number, its UTC offset, real minutes)
        if after < before:  # clocks fall back: 9 h overnight, into and inside the repeated hour
            rows = [((change - 1) * 1440 + 1320, before, 540), (change * 1440 + 45, before, 90)]
            rows.append((change * 1440 + 90, after, 150))
        else:  # clocks spring forward: 8 h overnight
            rows = [((change - 1) * 1440 + 1320, before, 480)]
        for local, utc_offset, minutes in rows:
            plan.append(int(pool[rng.integers(0, pool.size)]))
            start.append(local - utc_offset)
            length.append(minutes)
    return np.array(plan, np.int64), np.array(start, np.int64), np.array(length, np.int64)


def _visits(rng: np.random.Generator, plans: _Plans, days: _Calendar) -> _Visits:
    """All visits with status, units, recorded units and amounts, in time order."""
    plan, local, minutes = _visit_times(rng, plans)
    dst_plan, dst_start, dst_minutes = _dst_visits(rng, plans, days)
    injected = np.concatenate([np.zeros(plan.size, bool), np.ones(dst_plan.size, bool)])
    plan = np.concatenate([plan, dst_plan])
    start_utc = np.concatenate([_to_utc(local), dst_start])
    minutes = np.concatenate([minutes, dst_minutes])
    order = np.argsort(start_utc * (plans.client.size + 1) + plan, kind="stable")
    plan, start_utc, minutes, injected = (
        plan[order],
        start_utc[order],
        minutes[order],
        injected[order],
    )
    start = _to_local(start_utc)
    end = _to_local(start_utc + minutes)
    n = plan.size
    service = plans.service[plan]
    status = np.where(start // 1440 > days.today, 1, 0)
    status[_choose(rng, ~injected, CANCELLED_SHARE, 2)] = 2
    completed = status == 0
    units = _unit_table()[service, np.minimum(minutes, 1440)]
    recorded = _recorded_units(rng, service, minutes, units, completed)
    billed = _billed_cents(rng, plans, plan, units, completed)
    same_day = (start // 1440 == end // 1440) & ~plans.overnight[plan]
    minutes_only = _choose(rng, completed & same_day & ~injected, MINUTES_ONLY_SHARE, 3)
    with_offset = _choose(rng, ~minutes_only, OFFSET_SHARE, 2)
    start_offset = ~minutes_only & (with_offset | _second_occurrence(start, start_utc))
    end_offset = ~minutes_only & (with_offset | _second_occurrence(end, start_utc + minutes))
    substitute = rng.random(n) < SUBSTITUTE_SHARE
    provider = np.where(substitute, rng.integers(0, plans.providers, n), plans.provider[plan])
    return _Visits(
        plan, start_utc, minutes, start, end, status.astype(np.int64), units,
        recorded, billed, provider, minutes_only, start_offset, end_offset,
    )  # fmt: skip


def _recorded_units(
    rng: np.random.Generator,
    service: IntArray,
    minutes: IntArray,
    units: IntArray,
    completed: BoolArray,
) -> IntArray:
    """Units staff recorded on completed visits, some hand-rounded wrong; -1 for none."""
    n = service.size
    recorded = np.where(completed & (rng.random(n) < UNITS_RECORDED_SHARE), units, -1)
    timed = np.array([s.unit_minutes > 0 for s in SERVICES])[service]
    wrong = np.flatnonzero(_choose(rng, (recorded >= 0) & timed, UNITS_ERROR_SHARE, 3))
    m, right = minutes[wrong], units[wrong]
    kind = rng.integers(0, 4, wrong.size)
    by_hand = np.select(
        [kind == 0, kind == 1, kind == 2],
        [-(-m // 15), m // 15, np.rint(m / 60).astype(np.int64) * 4],
        m // 60 * 4,
    )  # rounded up, rounded down, nearest whole hour, whole hours only (missing partials)
    # A hand rounding that happens to agree with the rule is recorded one unit off instead:
    # one under for the kinds that round down, one over for the others.
    down = ((kind == 1) | (kind == 3)) & (right > 0)
    off = np.where(down, right - 1, right + 1)
    recorded[wrong] = np.where(by_hand == right, off, by_hand)
    return recorded.astype(np.int64)


def _billed_cents(
    rng: np.random.Generator, plans: _Plans, plan: IntArray, units: IntArray, completed: BoolArray
) -> IntArray:
    """Amount billed (cents) on some completed authorized visits, a few at a wrong rate; -1 else."""
    n = plan.size
    covered = plans.authorized[plan] & ~plans.lapsed[plan] & completed & (units > 0)
    billed = _choose(rng, covered, AMOUNT_BILLED_SHARE, 3)
    rate = _rate_cents(plans.service[plan], plans.payer[plan])
    wrong = _choose(rng, billed, RATE_MISMATCH_SHARE, 2)
    rate = rate + np.where(wrong, rng.choice(np.array([-50, 75, 125]), n), 0)
    return np.where(billed, units * rate, -1).astype(np.int64)


def _visit_frame(visits: _Visits, plans: _Plans, people: _Clients) -> pd.DataFrame:
    """The visits as exported; grain: one row per visit."""
    plan, n = visits.plan, visits.plan.size
    timed = ~visits.minutes_only
    start = _datetime_text(visits.start, timed)
    end = _datetime_text(visits.end, timed)
    start = _with_offset(start, visits.start_offset, visits.start - visits.start_utc)
    end_utc = visits.start_utc + visits.minutes
    end = _with_offset(end, visits.end_offset, visits.end - end_utc)
    minutes = pa.array(visits.minutes, mask=timed).cast(pa.large_string())
    recorded = visits.recorded
    billed = visits.billed_cents
    return pd.DataFrame(
        {
            "visit_id": VISIT_ID_START + np.arange(n, dtype=np.int64),
            "client_id": _text(people.frame["client_id"].tolist(), plans.client[plan]),
            "procedure_code": _text([s.code for s in SERVICES], plans.service[plan]),
            "start": start,
            "end": end,
            "service_date": _date_text(visits.start // 1440, visits.minutes_only),
            "minutes": pd.Series(minutes.to_pandas(), dtype="str"),
            "provider_id": _text(_ids("P", plans.providers, 3), visits.provider),
            "payer_id": _text([p.payer_id for p in PAYERS], plans.payer[plan]),
            "case_type": _text([p.case_type for p in PAYERS], plans.payer[plan]),
            "status": _text(STATUSES, visits.status),
            "units": pd.arrays.IntegerArray(np.maximum(recorded, 0), recorded < 0),
            "amount_billed": np.where(billed >= 0, billed / 100, np.nan),
        }
    )


def _with_gaps(frame: pd.DataFrame, visits: _Visits, plans: _Plans, seed: int) -> pd.DataFrame:
    """Blank `payer_id` on a share of the insured, authorized visits (the figures take the
    authorization's payer, §13) and `provider_id` on a few visits (the by-fieldworker row with
    an empty id). A generator of its own, so that every other value stays as it was.
    """
    rng = np.random.default_rng([seed, 13])
    insured = ~np.array([p.private for p in PAYERS])[plans.payer[visits.plan]]
    authorized = plans.authorized[visits.plan] & ~plans.lapsed[visits.plan]
    no_payer = (rng.random(visits.plan.size) < PAYER_GAP_SHARE) & insured & authorized
    no_provider = rng.random(visits.plan.size) < PROVIDER_GAP_SHARE
    frame = frame.copy()
    frame["payer_id"] = frame["payer_id"].mask(no_payer)
    frame["provider_id"] = frame["provider_id"].mask(no_provider)
    return frame


def _with_bad_visits(frame: pd.DataFrame) -> pd.DataFrame:
    """Append the intentional bad visits (duplicate id, end before start, code, minutes)."""
    usable = (frame["status"] == "completed") & frame["start"].notna()
    rows = np.flatnonzero(usable.to_numpy())[:4]
    if rows.size == 0:
        return frame
    timed = frame.iloc[rows]
    original = timed.iloc[[0]].copy()  # exported twice
    swapped = timed.iloc[[1 % len(timed)]].copy()
    swapped[["start", "end"]] = swapped[["end", "start"]].to_numpy()
    unknown = timed.iloc[[2 % len(timed)]].copy()
    unknown["procedure_code"] = BAD_PROCEDURE_CODE
    words = timed.iloc[[3 % len(timed)]].copy()
    words["service_date"] = words["start"].str.slice(0, 10).to_numpy()
    words[["start", "end"]] = None
    words["minutes"] = BAD_MINUTES
    bad = pd.concat([original, swapped, unknown, words], ignore_index=True)
    next_id = int(frame["visit_id"].max()) + 1
    bad.loc[1:, "visit_id"] = np.arange(next_id, next_id + 3)
    return pd.concat([frame, bad.astype(frame.dtypes.to_dict())], ignore_index=True)


# -- payments ---------------------------------------------------------------------------------


def _payments(
    rng: np.random.Generator, visits: _Visits, plans: _Plans, days: _Calendar
) -> pd.DataFrame:
    """Payments 2-8 weeks after service for older billable visits; grain: one row per payment."""
    billable = np.array([s.billable for s in SERVICES])[plans.service]
    due = visits.start // 1440 + PAYMENT_LAG_DAYS[0] <= days.today
    candidates = np.flatnonzero(due & (visits.status == 0) & (visits.units > 0))
    candidates = candidates[billable[visits.plan[candidates]]]
    lag = rng.integers(PAYMENT_LAG_DAYS[0], PAYMENT_LAG_DAYS[1] + 1, candidates.size)
    paid_day = visits.start[candidates] // 1440 + lag
    keep = (paid_day <= days.today) & (rng.random(candidates.size) >= UNPAID_SHARE)
    paid, paid_day = candidates[keep], paid_day[keep]
    plan = visits.plan[paid]
    payer = plans.payer[plan]
    amount = np.where(
        visits.billed_cents[paid] >= 0,
        visits.billed_cents[paid],
        visits.units[paid] * _rate_cents(plans.service[plan], payer),
    )
    denied = (rng.random(paid.size) < DENIED_SHARE) | ~plans.authorized[plan]
    private = np.array([p.private for p in PAYERS])[payer]
    share = (payer == WAIVER) & (rng.random(paid.size) < PATIENT_SHARE_RATE)
    patient = np.where(private, amount, np.where(share, np.rint(amount * 0.1), 0)).astype(np.int64)
    patient = np.where(denied, 0, patient)
    insurance = np.where(denied | private, 0, amount - patient)
    order = np.argsort(paid_day, kind="stable")  # by paid date, then visit
    # Denials as a remittance would give them: no authorization on file (CO-197) for services
    # without one, otherwise a timely-filing (CO-29) or documentation (CO-16) denial.
    reason = np.where(
        ~plans.authorized[plan],
        "CO-197",
        np.where(rng.random(paid.size) < 0.5, "CO-29", "CO-16"),
    )
    payer_denied = denied & ~private
    return pd.DataFrame(
        {
            "visit_id": VISIT_ID_START + paid[order],
            "insurance_paid": insurance[order] / 100,
            "patient_paid": patient[order] / 100,
            "paid_date": _date_text(paid_day[order]),
            "denied": payer_denied[order],
            "adjustment_reason_codes": np.where(payer_denied, reason, "")[order],
        }
    )
