"""Reading ASC X12 835 remittance advice files into one row per paid service line.

An 835 (5010, 005010X221A1) tells the agency what a payer paid per claim and per service
line. This module reads the segments a payments table needs; `lines` matches the lines to
visits, `importer` writes `payments.csv` and `payments` adds a folder's files to a dataset.

Parser: a small reader of the segments actually needed, not pyx12. pyx12 4.0 was tried on
the public samples now kept under `tests/data/x12/`: its validating engine (`x12n_document`)
rejects seven of nine files for faults that do not touch payments (a missing payer PER
contact, an unknown state code), cannot find any SVC loop when a file declares `:` in ISA16
but writes `>` (the implementation-guide examples do), and fails inside while building its
999 report ("Cannot create AK2"); its tokenizer (`X12Reader`) reads a file cut in the middle
without a word. The reader below takes the separators the ISA declares (element at ISA
position 3, repetition ISA11, component ISA16, segment terminator after ISA16), numbers
segments from the ISA (= 1) so that messages point at the place to look, and raises
`RemittanceError` naming the file, the segment and what is wrong.

Real-world slips read anyway, each reported as a warning by `read_remittances`:
- ISA16 declares `:` but SVC01/SVC06 use `>` (and hold no `:`): the composite is split at `>`
  when `>` is not one of the other separators and gives a two-letter qualifier and a code.
- BPR16 (check/EFT date) missing with the date one element early in BPR15, on a check or
  non-payment (BPR04 `CHK`/`NON`, where BPR15, a bank account number, is not used).
A date that is not a date (e.g. BPR16 `20002316`), an SVC01 without a procedure code, a file
without ISA, a truncated file or a file that is not X12 are errors: nothing is guessed.

Grain of the lines frame (`read_835`): one row per service line (SVC, `line_kind` `service`);
plus one row per claim paid without service lines (`claim`: the claim's amounts, no
procedure code); plus one row per claim whose claim-level CAS adjustments change what the
service lines add up to (`claim_adjustment`: paid = CLP04 - sum of SVC03, so the rows of a
claim always add up to the claim payment CLP04). Provider-level adjustments (PLB) are not
payments for services and are not read.

Payer: N1*PR (name; id from N104, else REF*2U, else the TRN03 originator id). Check number:
TRN02 (check or EFT trace number). Member id: NM1*QC09, else NM1*IL09. Procedure code: the
code the agency billed (SVC06 when the payer changed it, else SVC01), modifiers joined by
one space (`T1005 U4`); the payer's code is kept as `adjudicated_procedure_code`. Units: SVC05,
1 when absent. Service date: DTM*472 of the line, else its DTM*150 (period start), else the
claim's DTM*232. `denied`: paid 0 on a positive charge with adjustments (a reversal, with its
negative charge, is not a denial).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from utilization.exceptions import RemittanceError
from utilization.schema import bound_of, highest

LINE_COLUMNS: list[str] = [
    "file",
    "interchange_control_number",
    "payer_id",
    "payer_name",
    "check_number",
    "paid_date",
    "patient_control_number",
    "claim_status",
    "payer_claim_control_number",
    "line_kind",
    "line_number",
    "segment_number",
    "line_control_number",
    "member_id",
    "patient_name",
    "procedure_code",
    "adjudicated_procedure_code",
    "units",
    "charge_amount",
    "paid_amount",
    "patient_responsibility_amount",
    "service_date",
    "adjustment_group_codes",
    "adjustment_reason_codes",
    "adjustment_amount",
    "denied",
    "remittance_key",
]
ERROR_COLUMNS: list[str] = ["file", "segment", "reason", "severity"]
PAYMENT_COLUMNS: list[str] = [
    "visit_id",
    "insurance_paid",
    "patient_paid",
    "paid_date",
    "check_number",
    "file",
    "patient_control_number",
    "line_control_number",
    "payer_id",
    "matched_by",
    "remittance_key",
    "denied",
    "adjustment_reason_codes",
]
UNMATCHED_COLUMNS: list[str] = [
    "file",
    "segment_number",
    "payer_id",
    "check_number",
    "paid_date",
    "patient_control_number",
    "claim_status",
    "line_kind",
    "line_control_number",
    "member_id",
    "patient_name",
    "procedure_code",
    "service_date",
    "charge_amount",
    "paid_amount",
    "adjustment_reason_codes",
    "reason",
    "candidates",
    "remittance_key",
]
PAYMENTS_FILE = "payments.csv"
UNMATCHED_FILE = "remittance_unmatched.csv"
PREDETERMINATION = "25"
ADJUSTMENT_GROUPS = frozenset({"CO", "CR", "OA", "PI", "PR"})
_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
_AMOUNT = re.compile(r"^-?(\d+\.?\d*|\.\d+)$")
_BALANCE_WARNINGS_PER_FILE = 5
_NOT_SEPARATORS = " \t\r\n"  # X12 allows any other character (FS, GS, RS, US: \x1c-\x1f)
_DATES = bound_of("date")
_MOST_MONEY = highest("money")
_MOST_UNITS = highest("units")
_FIRST_DAY, _LAST_DAY = date.fromisoformat(str(_DATES.low)), date.fromisoformat(str(_DATES.high))


@dataclass(frozen=True)
class _Delimiters:
    element: str
    component: str
    repetition: str | None
    segment: str


@dataclass
class _Segment:
    number: int
    elements: list[str]

    @property
    def id(self) -> str:
        return self.elements[0]

    def get(self, position: int) -> str:
        """The element at `position` (1-based, as in `SVC01`), stripped; '' when absent."""
        return self.elements[position].strip() if position < len(self.elements) else ""


@dataclass
class _Adjustment:
    group: str
    reason: str
    amount: Decimal


@dataclass
class _Line:
    segment: int
    procedure_code: str
    adjudicated_procedure_code: str
    charge: Decimal
    paid: Decimal
    units: float
    service_date: date | None = None
    period_start: date | None = None
    line_control_number: str | None = None
    adjustments: list[_Adjustment] = field(default_factory=list)


@dataclass
class _Claim:
    segment: int
    patient_control_number: str
    status: str
    charge: Decimal
    paid: Decimal
    payer_claim_control_number: str
    member_id: str | None = None
    patient_name: str | None = None
    statement_date: date | None = None
    adjustments: list[_Adjustment] = field(default_factory=list)
    lines: list[_Line] = field(default_factory=list)


@dataclass
class _Payment:
    """The header of one transaction set (ST..SE): who paid, with which check, when."""

    interchange_control_number: str
    payer_id: str | None = None
    payer_name: str | None = None
    check_number: str | None = None
    originator_id: str | None = None
    paid_date: date | None = None
    paid_date_segment: int = 0


class _Reader:
    """Reads one 835 file into line records, collecting warnings for tolerated slips."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path)
        self.warnings: list[tuple[int | None, str]] = []
        self.rows: list[dict[str, Any]] = []
        self.delimiters = _Delimiters("*", ":", None, "~")
        self._slip_warned = False
        self._balance_warnings = 0

    # ---- errors -------------------------------------------------------------------------
    def fail(self, segment: _Segment | int | None, reason: str) -> RemittanceError:
        if isinstance(segment, _Segment):  # its id only: elements may name a patient
            return RemittanceError(self.name, segment.number, reason, segment.id)
        return RemittanceError(self.name, segment, reason)

    def warn(self, segment: _Segment | None, reason: str) -> None:
        self.warnings.append((segment.number if segment else None, reason))

    # ---- tokens -------------------------------------------------------------------------
    def segments(self, text: str) -> list[_Segment]:
        """Split the interchange into segments using the separators the ISA declares."""
        text = text.lstrip("\ufeff \t\r\n")
        if not text:
            raise self.fail(None, "the file is empty; an 835 file begins with an ISA segment")
        if "\x00" in text:
            raise self.fail(None, "not an X12 file: it holds binary data (NUL bytes)")
        if not text.startswith("ISA"):
            head = re.split(r"[~'\r\n]", text, maxsplit=1)[0][:40]
            if re.match(r"^(GS|ST|BPR)[^A-Za-z0-9\s]", text):
                reason = (
                    f"no ISA interchange header: the file starts with {head!r}. An 835 file "
                    "begins with an ISA segment that declares its separators; ask the payer "
                    "or clearinghouse for the complete file"
                )
            else:
                reason = f"not an X12 file: it begins with {head!r}, not with an ISA segment"
            raise self.fail(None, reason)
        element = text[3] if len(text) > 3 else ""
        if not element or element.isalnum() or element in _NOT_SEPARATORS:
            raise self.fail(1, f"not an X12 file: no element separator after 'ISA' ({text[:20]!r})")
        fields = text.split(element, 16)
        if len(fields) < 17 or len(fields[16]) < 2:
            raise self.fail(1, "the ISA segment is cut short: the file looks truncated")
        component, terminator = fields[16][0], fields[16][1]
        if terminator in "\r\n":
            terminator = "\n"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        repetition = fields[11] if fields[12] >= "00501" else None
        if repetition is not None and (len(repetition) != 1 or repetition.isalnum()):
            repetition = None
        if (
            len({element, component, terminator}) < 3
            or component.isalnum()
            or component in _NOT_SEPARATORS
        ):
            raise self.fail(
                1,
                f"ISA declares unusable separators: element {element!r}, component "
                f"{component!r}, segment terminator {terminator!r} must be distinct symbols",
            )
        self.delimiters = _Delimiters(element, component, repetition, terminator)
        pieces = text.split(terminator)
        segments: list[_Segment] = []
        for piece in pieces[:-1]:
            piece = piece.strip("\r\n\t ")
            if not piece:
                continue
            segment = _Segment(len(segments) + 1, piece.split(element))
            if not _SEGMENT_ID.match(segment.id):
                raise self.fail(
                    segment.number,
                    f"segment does not start with a segment id: {piece[:12]!r}; the file is "
                    "not X12 or uses another segment terminator than the ISA declares "
                    f"({terminator!r})",
                )
            segments.append(segment)
        rest = pieces[-1].strip("\r\n\t ")
        if rest:
            raise self.fail(
                len(segments) + 1,
                f"the file ends in the middle of a segment ({rest[:12]!r}…) without the segment "
                f"terminator {terminator!r}: it looks truncated; ask for the file again",
            )
        if segments[-1].id != "IEA":
            last = segments[-1]
            raise self.fail(
                last.number,
                f"the file ends after {last.id} without the IEA trailer: it looks truncated; "
                "ask for the file again",
            )
        return segments

    # ---- values -------------------------------------------------------------------------
    def amount(self, segment: _Segment, position: int, *, required: bool = True) -> Decimal:
        value = segment.get(position)
        if not value:
            if required:
                raise self.fail(segment, f"{segment.id}{position:02d} (amount) is missing")
            return Decimal(0)
        if not _AMOUNT.match(value):
            raise self.fail(segment, f"{segment.id}{position:02d} {value!r} is not an amount")
        amount = Decimal(value)
        if abs(amount) > _MOST_MONEY:
            raise self.fail(
                segment,
                f"{segment.id}{position:02d} {value!r} is out of range: amounts run from "
                f"-${_MOST_MONEY:,} to ${_MOST_MONEY:,} (data contract §2)",
            )
        return amount

    def date_value(self, segment: _Segment, position: int, value: str | None = None) -> date:
        value = segment.get(position) if value is None else value
        try:
            day = datetime.strptime(value, "%Y%m%d").date()
        except ValueError:
            raise self.fail(
                segment, f"{segment.id}{position:02d} {value!r} is not a date (CCYYMMDD)"
            ) from None
        if not _FIRST_DAY <= day <= _LAST_DAY:
            raise self.fail(
                segment,
                f"{segment.id}{position:02d} {value!r} is out of range: dates run from "
                f"{_FIRST_DAY} to {_LAST_DAY} (data contract §2)",
            )
        return day

    def composite(self, segment: _Segment, position: int) -> list[str]:
        """Components of a composite element, reading `>` for a declared `:` if unambiguous."""
        value = segment.get(position)
        d = self.delimiters
        parts = value.split(d.component)
        if (
            len(parts) == 1
            and d.component != ">"
            and ">" in value
            and ">" not in (d.element, d.segment, d.repetition)
        ):
            slipped = value.split(">")
            if re.fullmatch(r"[A-Z0-9]{2}", slipped[0]) and slipped[1]:
                parts = slipped
                if not self._slip_warned:
                    self._slip_warned = True
                    self.warn(
                        segment,
                        f"ISA16 declares {d.component!r} as component separator but "
                        f"{segment.id}{position:02d} {value!r} uses '>': read with '>'",
                    )
        return [p.strip() for p in parts]

    def procedure(self, segment: _Segment, position: int) -> str:
        parts = self.composite(segment, position)
        if len(parts) < 2 or not parts[1] or not re.fullmatch(r"[A-Z0-9]{2}", parts[0]):
            raise self.fail(
                segment,
                f"{segment.id}{position:02d} {segment.get(position)!r} names no procedure code: "
                f"expected a qualifier and a code such as 'HC{self.delimiters.component}T1019'",
            )
        return " ".join(p for p in parts[1:6] if p)

    def adjustments(self, segment: _Segment) -> list[_Adjustment]:
        group = segment.get(1)
        if group not in ADJUSTMENT_GROUPS:
            raise self.fail(
                segment, f"CAS01 {group!r} is not an adjustment group ({sorted(ADJUSTMENT_GROUPS)})"
            )
        found: list[_Adjustment] = []
        for position in range(2, 20, 3):
            reason = segment.get(position)
            if not reason and not segment.get(position + 1):
                continue
            if not reason:
                raise self.fail(segment, f"CAS{position:02d} (reason code) is missing")
            found.append(_Adjustment(group, reason, self.amount(segment, position + 1)))
        if not found:
            raise self.fail(segment, "CAS holds no adjustment reason and amount")
        return found

    # ---- structure ----------------------------------------------------------------------
    def read(self) -> pd.DataFrame:
        try:
            mode = os.stat(self.path).st_mode
            if not stat.S_ISREG(mode):
                what = "a folder" if stat.S_ISDIR(mode) else "a FIFO, socket or device"
                reason = f"{what}, not an 835 file; put 835 files directly in the folder"
                raise RemittanceError(self.name, None, reason)
            raw = self.path.read_bytes()
        except OSError as error:
            raise RemittanceError(self.name, None, f"cannot be read: {error.strerror}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        segments = self.segments(text)
        interchange = ""
        transaction: list[_Segment] | None = None
        seen_835 = False
        for segment in segments:
            if segment.id == "ISA":
                interchange = segment.get(13)
            elif segment.id == "ST":
                if transaction is not None:
                    raise self.fail(segment, "ST starts a transaction set before the previous SE")
                if segment.get(1) != "835":
                    kind = " (claims)" if segment.get(1) == "837" else ""
                    raise self.fail(
                        segment,
                        f"ST01 is {segment.get(1)!r}{kind}, not '835' (remittance advice)",
                    )
                transaction = [segment]
            elif transaction is not None:
                transaction.append(segment)
                if segment.id == "SE":
                    self.check_count(transaction)
                    self.transaction(transaction, interchange)
                    seen_835 = True
                    transaction = None
        if transaction is not None:
            raise self.fail(
                transaction[0], "the ST transaction set has no SE trailer: the file looks truncated"
            )
        if not seen_835:
            raise self.fail(None, "holds no 835 transaction set (ST*835 ... SE)")
        return self.frame()

    def check_count(self, transaction: list[_Segment]) -> None:
        se = transaction[-1]
        count = se.get(1)
        if count != str(len(transaction)):
            raise self.fail(
                se,
                f"SE01 says {count!r} segments but the transaction set has {len(transaction)}: "
                "segments are missing or the file is damaged",
            )

    def transaction(self, segments: list[_Segment], interchange: str) -> None:
        payment = _Payment(interchange)
        claim: _Claim | None = None
        in_payer = False
        for segment in segments:
            sid, q = segment.id, segment.get(1)
            if sid == "BPR":
                self.paid_date(segment, payment)
            elif sid == "TRN":
                payment.check_number = segment.get(2) or None
                payment.originator_id = segment.get(3) or None
            elif sid == "N1":
                in_payer = q == "PR"
                if in_payer:
                    payment.payer_name = segment.get(2) or None
                    payment.payer_id = segment.get(4) or None
            elif sid == "REF" and in_payer and q == "2U" and not payment.payer_id:
                payment.payer_id = segment.get(2) or None
            elif sid in {"LX", "PLB", "SE"}:
                in_payer = False
                if claim is not None:
                    self.emit(payment, claim)
                    claim = None
            elif sid == "CLP":
                in_payer = False
                if claim is not None:
                    self.emit(payment, claim)
                claim = self.claim(segment)
            elif claim is not None:
                self.claim_segment(segment, claim)
        if payment.paid_date is None:
            raise self.fail(segments[0], "the transaction set has no BPR segment (check date)")

    def paid_date(self, segment: _Segment, payment: _Payment) -> None:
        payment.paid_date_segment = segment.number
        if segment.get(16):
            payment.paid_date = self.date_value(segment, 16)
            return
        method, bpr15 = segment.get(4), segment.get(15)
        if method in {"CHK", "NON"} and re.fullmatch(r"\d{8}", bpr15):
            payment.paid_date = self.date_value(segment, 15)
            self.warn(
                segment,
                f"BPR16 (check/EFT date) is missing and BPR15 holds the date {bpr15!r} (one "
                f"element separator short): read as the {method} date",
            )
            return
        raise self.fail(segment, "BPR16 (check/EFT date) is missing")

    def claim(self, segment: _Segment) -> _Claim:
        pcn = segment.get(1)
        if not pcn:
            raise self.fail(segment, "CLP01 (patient control number) is missing")
        status = segment.get(2)
        if not status:
            raise self.fail(segment, "CLP02 (claim status) is missing")
        return _Claim(
            segment=segment.number,
            patient_control_number=pcn,
            status=status,
            charge=self.amount(segment, 3),
            paid=self.amount(segment, 4),
            payer_claim_control_number=segment.get(7),
        )

    def claim_segment(self, segment: _Segment, claim: _Claim) -> None:
        sid, q = segment.id, segment.get(1)
        line = claim.lines[-1] if claim.lines else None
        if sid == "SVC":
            claim.lines.append(self.service(segment))
        elif sid == "CAS":
            (line.adjustments if line else claim.adjustments).extend(self.adjustments(segment))
        elif sid == "NM1" and line is None and q in {"QC", "IL"}:
            if q == "QC" or claim.member_id is None:
                claim.member_id = segment.get(9) or claim.member_id
            if q == "QC":
                last, first, middle = segment.get(3), segment.get(4), segment.get(5)
                name = f"{last}, {first}" if first else last
                claim.patient_name = (f"{name} {middle}" if middle else name) or None
        elif sid == "DTM" and line is None and q == "232":
            claim.statement_date = self.date_value(segment, 2)
        elif sid == "DTM" and line is not None and q == "472":
            line.service_date = self.date_value(segment, 2)
        elif sid == "DTM" and line is not None and q == "150":
            line.period_start = self.date_value(segment, 2)
        elif sid == "REF" and line is not None and q == "6R":
            line.line_control_number = segment.get(2) or None

    def service(self, segment: _Segment) -> _Line:
        adjudicated = self.procedure(segment, 1)
        submitted = self.procedure(segment, 6) if segment.get(6) else adjudicated
        units_text = segment.get(5)
        if units_text and not _AMOUNT.match(units_text):
            raise self.fail(segment, f"SVC05 {units_text!r} (units) is not a number")
        if units_text and abs(Decimal(units_text)) > _MOST_UNITS:
            raise self.fail(
                segment, f"SVC05 {units_text!r} (units) is out of range: at most {_MOST_UNITS:,}"
            )
        return _Line(
            segment=segment.number,
            procedure_code=submitted,
            adjudicated_procedure_code=adjudicated,
            charge=self.amount(segment, 2),
            paid=self.amount(segment, 3),
            units=float(units_text) if units_text else 1.0,
        )

    # ---- rows ---------------------------------------------------------------------------
    def emit(self, payment: _Payment, claim: _Claim) -> None:
        base = {
            "file": self.path.name,
            "interchange_control_number": payment.interchange_control_number,
            "payer_id": payment.payer_id or payment.originator_id,
            "payer_name": payment.payer_name,
            "check_number": payment.check_number,
            "paid_date": payment.paid_date,
            "patient_control_number": claim.patient_control_number,
            "claim_status": claim.status,
            "payer_claim_control_number": claim.payer_claim_control_number or None,
            "member_id": claim.member_id,
            "patient_name": claim.patient_name,
        }
        if not claim.lines:
            self.rows.append(
                base
                | _amounts(claim.charge, claim.paid, claim.adjustments)
                | {
                    "line_kind": "claim",
                    "line_number": 0,
                    "segment_number": claim.segment,
                    "line_control_number": None,
                    "procedure_code": None,
                    "adjudicated_procedure_code": None,
                    "units": float("nan"),
                    "service_date": claim.statement_date,
                }
            )
            return
        for number, line in enumerate(claim.lines, start=1):
            balance = line.charge - line.paid - sum(a.amount for a in line.adjustments)
            if balance and self._balance_warnings < _BALANCE_WARNINGS_PER_FILE:
                self._balance_warnings += 1
                self.warnings.append(
                    (line.segment, f"SVC does not balance: charge - paid - adjustments = {balance}")
                )
            self.rows.append(
                base
                | _amounts(line.charge, line.paid, line.adjustments)
                | {
                    "line_kind": "service",
                    "line_number": number,
                    "segment_number": line.segment,
                    "line_control_number": line.line_control_number,
                    "procedure_code": line.procedure_code,
                    "adjudicated_procedure_code": line.adjudicated_procedure_code,
                    "units": line.units,
                    "service_date": line.service_date or line.period_start or claim.statement_date,
                }
            )
        difference = claim.paid - sum(line.paid for line in claim.lines)
        if difference or claim.adjustments:
            expected = -sum(a.amount for a in claim.adjustments)
            if difference != expected:
                self.warnings.append(
                    (
                        claim.segment,
                        f"CLP claim {claim.patient_control_number!r} does not balance: CLP04 - "
                        f"sum of SVC03 = {difference}, claim-level CAS = {-expected}",
                    )
                )
            self.rows.append(
                base
                | _amounts(Decimal(0), difference, claim.adjustments)
                | {
                    "line_kind": "claim_adjustment",
                    "line_number": 0,
                    "segment_number": claim.segment,
                    "line_control_number": None,
                    "procedure_code": None,
                    "adjudicated_procedure_code": None,
                    "units": float("nan"),
                    "service_date": claim.statement_date,
                    "denied": False,
                }
            )

    def frame(self) -> pd.DataFrame:
        frame = _lines_frame(self.rows)
        frame["remittance_key"] = _keys(frame)
        return frame[LINE_COLUMNS]


def _amounts(charge: Decimal, paid: Decimal, adjustments: list[_Adjustment]) -> dict[str, Any]:
    """The money columns of one row and its denial flag."""
    codes: list[str] = []
    groups: list[str] = []
    for a in adjustments:
        if f"{a.group}-{a.reason}" not in codes:
            codes.append(f"{a.group}-{a.reason}")
        if a.group not in groups:
            groups.append(a.group)
    return {
        "charge_amount": float(charge),
        "paid_amount": float(paid),
        "patient_responsibility_amount": float(
            sum((a.amount for a in adjustments if a.group == "PR"), Decimal(0))
        ),
        "adjustment_group_codes": ";".join(groups) or None,
        "adjustment_reason_codes": ";".join(codes) or None,
        "adjustment_amount": float(sum((a.amount for a in adjustments), Decimal(0))),
        "denied": bool(paid == 0 and charge > 0 and adjustments),
    }


def _lines_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A lines frame with the declared dtypes, also when there are no rows."""
    frame = pd.DataFrame(rows, columns=[c for c in LINE_COLUMNS if c != "remittance_key"])
    text = [
        "file",
        "interchange_control_number",
        "payer_id",
        "payer_name",
        "check_number",
        "patient_control_number",
        "claim_status",
        "payer_claim_control_number",
        "line_kind",
        "line_control_number",
        "member_id",
        "patient_name",
        "procedure_code",
        "adjudicated_procedure_code",
        "adjustment_group_codes",
        "adjustment_reason_codes",
    ]
    for column in text:
        frame[column] = frame[column].astype("object").astype("str")
    for column in ["paid_date", "service_date"]:
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    for column in [
        "units",
        "charge_amount",
        "paid_amount",
        "patient_responsibility_amount",
        "adjustment_amount",
    ]:
        frame[column] = frame[column].astype("float64")
    for column in ["line_number", "segment_number"]:
        frame[column] = frame[column].astype("int64")
    frame["denied"] = frame["denied"].astype("bool")
    return frame


def _keys(lines: pd.DataFrame) -> list[str]:
    """Identity of each payment line, the same whenever the payer sends the same remittance.

    A remittance is identified by payer, check/EFT trace number (TRN02) and check date; a
    line inside it by its claim (CLP01, CLP02 status, CLP07 payer claim number), its kind and
    its position in the claim. A reversal (CLP02 22) or a later check therefore has other
    keys; the same claim twice in one file is told apart by its occurrence.
    """
    keys: list[str] = []
    seen: dict[str, int] = {}
    for row in lines.itertuples(index=False):
        day = _day(row.paid_date)
        paid = day.isoformat() if day else ""
        parts = [
            row.payer_id,
            row.check_number,
            paid,
            row.patient_control_number,
            row.claim_status,
            row.payer_claim_control_number,
            row.line_kind,
            str(row.line_number),
        ]
        basis = "|".join(_text(p) for p in parts)
        seen[basis] = seen.get(basis, 0) + 1
        basis = f"{basis}|{seen[basis]}"
        keys.append(hashlib.sha256(basis.encode()).hexdigest()[:20])
    return keys


def read_835(path: Path) -> pd.DataFrame:
    """Read one 835 file; grain: one row per service line (and per claim-level row, see above).

    Raises RemittanceError naming the file and segment when the file cannot be read.
    """
    return _Reader(Path(path)).read()


def _read_with_warnings(path: Path) -> tuple[pd.DataFrame, list[tuple[int | None, str]]]:
    reader = _Reader(Path(path))
    return reader.read(), reader.warnings


def empty_lines() -> pd.DataFrame:
    """A lines frame with no rows and the columns of `read_835`."""
    frame = _lines_frame([])
    frame["remittance_key"] = pd.Series(dtype="str")
    return frame[LINE_COLUMNS]


def read_remittances(paths: Iterable[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read several 835 files: the lines of all readable files, and what went wrong.

    The second frame has one row per problem: file, segment (number or NA), reason and
    severity, `error` (the file was not read; nothing of it is in the lines) or `warning`
    (a tolerated slip; the file was read). One bad file does not stop the others. Lines
    that repeat lines already read (the same remittance in two files: same `remittance_key`)
    are kept once, with a warning.
    """
    frames: list[pd.DataFrame] = []
    problems: list[dict[str, Any]] = []
    given: dict[str, str] = {}
    for path in paths:
        given.setdefault(Path(path).name, str(path))
        try:
            frame, warnings = _read_with_warnings(Path(path))
        except RemittanceError as error:
            problems.append(
                {
                    "file": str(path),
                    "segment": error.segment,
                    "reason": error.reason,
                    "severity": "error",
                }
            )
            continue
        frames.append(frame)
        for segment, reason in warnings:
            problems.append(
                {"file": str(path), "segment": segment, "reason": reason, "severity": "warning"}
            )
    lines = pd.concat(frames, ignore_index=True) if frames else empty_lines()
    repeated = lines["remittance_key"].duplicated()
    if repeated.any():
        first = lines.drop_duplicates("remittance_key").set_index("remittance_key")["file"]
        for (file, original), group in lines[repeated].groupby(
            [lines["file"], lines["remittance_key"].map(first)], sort=False
        ):
            problems.append(
                {
                    "file": given.get(str(file), str(file)),
                    "segment": None,
                    "reason": f"{len(group)} line(s) repeat those of {original} (same payer, "
                    "check and claims): counted once",
                    "severity": "warning",
                }
            )
        lines = lines[~repeated].reset_index(drop=True)
    errors = pd.DataFrame(problems, columns=ERROR_COLUMNS)
    errors["segment"] = errors["segment"].astype("Int64")
    for column in ["file", "reason", "severity"]:
        errors[column] = errors[column].astype("str")
    return lines, errors


def remittance_files(folder: Path) -> list[Path]:
    """The entries of a `remittances/` folder, by name; hidden ones are left out.

    Every other entry is offered to the reader, so a stray file, a folder or a FIFO is
    reported (the reader never opens what is not a regular file), not skipped.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


# ---- matching ---------------------------------------------------------------------------


def _missing(value: Any) -> bool:
    """True for None, NaN, NA and NaT."""
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _text(value: Any) -> str:
    return "" if _missing(value) else str(value).strip()


def _day(value: Any) -> date | None:
    return None if _missing(value) else pd.Timestamp(value).date()
