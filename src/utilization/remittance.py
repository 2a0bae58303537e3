"""Insurance payments read from ASC X12 835 remittance advice files and matched to visits.

An 835 (5010, 005010X221A1) tells the agency what a payer paid per claim and per service
line. This module reads the segments a payments table needs, matches each service line to a
visit and writes `payments.csv` so that service code usage can show insurance paid.

Parser: a small reader of the segments actually needed, not pyx12. pyx12 4.0 was tried on
the public samples under `shared/realdata/x12/`: its validating engine (`x12n_document`)
rejects seven of nine files for faults that do not touch payments (a missing payer PER
contact, an unknown state code), cannot find any SVC loop when a file declares `:` in ISA16
but writes `>` (the implementation-guide examples do), and fails inside while building its
999 report ("Cannot create AK2"); its tokenizer (`X12Reader`) reads a file cut in the middle
without a word. The reader below takes the separators the ISA declares (element at ISA
position 3, repetition ISA11, component ISA16, segment terminator after ISA16), numbers
segments from the ISA (= 1) so that messages point at the place to look, and raises
`Remittance835Error` naming the file, the segment and what is wrong.

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

Agencies should put the visit_id on each claim line as its line item control number
(837P loop 2400 REF*6R); payers return it in the 835 (REF*6R) and the match is then exact.
Lines without it are matched by client (member id, else patient name), service date and
procedure code; lines that match no visit, or several, are reported, never dropped or guessed.

Amounts are dollars as sent (floats, not rounded); reversals (CLP02 22) keep their negative
amounts, so an original, its reversal and the corrected claim add up to the corrected payment.
`patient_paid` is 0: an 835 reports what the payer paid; the PR adjustment group is the
patient's responsibility (deductible, co-insurance), not a payment received.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pandas as pd

from utilization.errors import InputError

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


class Remittance835Error(InputError):
    """An 835 file cannot be read; the message names the file, the segment and the fault."""

    def __init__(self, file: str, segment: int | None, reason: str, text: str = "") -> None:
        self.file = file
        self.segment = segment
        self.reason = reason
        where = f"segment {segment} ({text}): " if text else f"segment {segment}: "
        super().__init__(f"{file}: {where if segment else ''}{reason}")


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

    def text(self, delimiters: _Delimiters) -> str:
        joined = delimiters.element.join(self.elements)
        return joined if len(joined) <= 80 else joined[:77] + "..."


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
    def fail(self, segment: _Segment | int | None, reason: str) -> Remittance835Error:
        if isinstance(segment, _Segment):
            text = segment.text(self.delimiters)
            return Remittance835Error(self.name, segment.number, reason, text)
        return Remittance835Error(self.name, segment, reason)

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
        if not element or element.isalnum() or element.isspace():
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
        if len({element, component, terminator}) < 3 or component.isalnum():
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
                    f"segment does not start with a segment id: {piece[:60]!r}; the file is "
                    "not X12 or uses another segment terminator than the ISA declares "
                    f"({terminator!r})",
                )
            segments.append(segment)
        rest = pieces[-1].strip("\r\n\t ")
        if rest:
            raise self.fail(
                len(segments) + 1,
                f"the file ends in the middle of a segment ({rest[:40]!r}) without the segment "
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
        return Decimal(value)

    def date_value(self, segment: _Segment, position: int, value: str | None = None) -> date:
        value = segment.get(position) if value is None else value
        try:
            return datetime.strptime(value, "%Y%m%d").date()
        except ValueError:
            raise self.fail(
                segment, f"{segment.id}{position:02d} {value!r} is not a date (CCYYMMDD)"
            ) from None

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
            raw = self.path.read_bytes()
        except OSError as error:
            raise Remittance835Error(self.name, None, f"cannot be read: {error.strerror}") from None
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

    Raises Remittance835Error naming the file and segment when the file cannot be read.
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
        except Remittance835Error as error:
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
    """The files of a `remittances/` folder, by name; hidden files are left out.

    Every other file is offered to the reader, so a stray file is reported, not skipped.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


# ---- matching ---------------------------------------------------------------------------
def _missing(value: Any) -> bool:
    """True for None, NaN, NA and NaT."""
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _code(value: Any) -> str:
    """A procedure code compared as agencies write it: upper case, single spaces."""
    return "" if _missing(value) else " ".join(str(value).upper().split())


def _text(value: Any) -> str:
    return "" if _missing(value) else str(value).strip()


def _name_key(value: Any) -> tuple[str, str] | None:
    """(last, first) of 'LAST, FIRST M' or 'FIRST M LAST', case-folded; None if one word."""
    text = _text(value).casefold().replace(".", " ")
    if not text:
        return None
    if "," in text:
        last, _, rest = text.partition(",")
        words = rest.split()
        return (" ".join(last.split()), words[0]) if words and last.strip() else None
    words = text.split()
    return (words[-1], words[0]) if len(words) >= 2 else None


def _day(value: Any) -> date | None:
    return None if _missing(value) else pd.Timestamp(value).date()


def match_lines(
    lines: pd.DataFrame, visits: pd.DataFrame, clients: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Match 835 lines to visits: (payments, unmatched lines with the reason).

    Payments: one row per matched line, in the `payments` columns (visit_id, insurance_paid,
    patient_paid = 0, paid_date) plus where it came from (check_number, file,
    patient_control_number, line_control_number, payer_id, matched_by, remittance_key).
    A service line matches the visit whose visit_id is its line item control number (REF*6R),
    whatever the visit's status; otherwise the one completed visit of the client (member id =
    medicaid_id, else patient name, 'LAST, FIRST' or 'FIRST LAST', case-insensitive) on the
    service date with the same procedure code (modifiers included, in the same order).
    No such visit, or several (listed in `candidates`), leaves the line unmatched. A
    claim-level adjustment goes with its claim's service lines when they all matched one visit.
    Claims paid without service lines and predeterminations (CLP02 25) stay unmatched.
    """
    visit_ids = {_text(v) for v in visits["visit_id"]}
    status = visits["status"] if "status" in visits else pd.Series("completed", visits.index)
    completed = visits[status.fillna("completed").astype(str) == "completed"]
    by_day: dict[tuple[str, date | None, str], list[str]] = {}
    for row in completed.itertuples(index=False):
        key = (_text(row.client_id), _day(row.service_date), _code(row.procedure_code))
        by_day.setdefault(key, []).append(_text(row.visit_id))
    by_member: dict[str, list[str]] = {}
    by_name: dict[tuple[str, str], list[str]] = {}
    for row in clients.itertuples(index=False):
        member = _text(getattr(row, "medicaid_id", None)).upper()
        if member:
            by_member.setdefault(member, []).append(_text(row.client_id))
        name = _name_key(row.client_name)
        if name:
            by_name.setdefault(name, []).append(_text(row.client_id))

    visit_of: list[str | None] = [None] * len(lines)
    how: list[str] = [""] * len(lines)
    reason: list[str] = [""] * len(lines)
    candidates: list[str] = [""] * len(lines)
    records = cast(list[dict[str, Any]], lines.to_dict("records"))
    for i, line in enumerate(records):
        if line["claim_status"] == PREDETERMINATION:
            reason[i] = "predetermination of benefits (CLP02 25) is not a payment"
        elif line["line_kind"] == "claim":
            reason[i] = "claim paid without service lines: no procedure code to match a visit"
        elif line["line_kind"] == "service":
            visit_of[i], how[i], reason[i], candidates[i] = _match_one(
                line, visit_ids, by_day, by_member, by_name
            )
    claims: dict[tuple[str, ...], list[int]] = {}
    for i, line in enumerate(records):
        claims.setdefault(_claim_id(line), []).append(i)
    for i, line in enumerate(records):
        if line["line_kind"] != "claim_adjustment":
            continue
        siblings = [j for j in claims[_claim_id(line)] if records[j]["line_kind"] == "service"]
        matched = {visit_of[j] for j in siblings}
        if len(matched) == 1 and None not in matched:
            visit_of[i], how[i] = matched.pop(), "claim"
        else:
            reason[i] = (
                f"claim-level adjustment of a claim with {len(siblings)} service lines not all "
                "matched to one visit: it cannot be given to one visit"
            )

    hit = pd.Series([v is not None for v in visit_of], index=lines.index, dtype=bool)
    matched_lines = lines[hit]
    payments = pd.DataFrame(
        {
            "visit_id": pd.Series([v for v in visit_of if v is not None], dtype="str"),
            "insurance_paid": matched_lines["paid_amount"].to_numpy(dtype="float64"),
            "patient_paid": 0.0,
            "paid_date": matched_lines["paid_date"].to_numpy(),
            "check_number": matched_lines["check_number"].to_numpy(),
            "file": matched_lines["file"].to_numpy(),
            "patient_control_number": matched_lines["patient_control_number"].to_numpy(),
            "line_control_number": matched_lines["line_control_number"].to_numpy(),
            "payer_id": matched_lines["payer_id"].to_numpy(),
            "matched_by": pd.Series(
                [h for h, v in zip(how, visit_of, strict=True) if v], dtype="str"
            ),
            "remittance_key": matched_lines["remittance_key"].to_numpy(),
            "denied": matched_lines["denied"].to_numpy(dtype=bool),
            "adjustment_reason_codes": matched_lines["adjustment_reason_codes"].to_numpy(),
        },
        columns=PAYMENT_COLUMNS,
    )
    payments["patient_paid"] = payments["patient_paid"].astype("float64")
    unmatched = lines[~hit].copy()
    unmatched["reason"] = pd.Series(
        [r for r, v in zip(reason, visit_of, strict=True) if v is None],
        index=unmatched.index,
        dtype="str",
    )
    unmatched["candidates"] = pd.Series(
        [c or pd.NA for c, v in zip(candidates, visit_of, strict=True) if v is None],
        index=unmatched.index,
        dtype="str",
    )
    return payments.reset_index(drop=True), unmatched[UNMATCHED_COLUMNS].reset_index(drop=True)


def _claim_id(line: dict[str, Any]) -> tuple[str, ...]:
    return tuple(
        _text(line[c])
        for c in [
            "file",
            "check_number",
            "patient_control_number",
            "claim_status",
            "payer_claim_control_number",
            "interchange_control_number",
        ]
    )


def _match_one(
    line: dict[str, Any],
    visit_ids: set[str],
    by_day: dict[tuple[str, date | None, str], list[str]],
    by_member: dict[str, list[str]],
    by_name: dict[tuple[str, str], list[str]],
) -> tuple[str | None, str, str, str]:
    """(visit_id or None, matched_by, reason, candidates) for one service line."""
    control = _text(line["line_control_number"])
    if control and control in visit_ids:
        return control, "line_control_number", "", ""
    notes = [f"line control number {control!r} is no visit_id"] if control else []
    member = _text(line["member_id"]).upper()
    clients, how = by_member.get(member, []), "member_id"
    if not clients:
        name = _name_key(line["patient_name"])
        clients, how = (by_name.get(name, []) if name else []), "patient_name"
    if not clients:
        notes.append(
            f"no client with medicaid_id {member!r} or name {_text(line['patient_name'])!r}"
        )
        return None, "", "; ".join(notes), ""
    day = _day(line["service_date"])
    if day is None:
        return None, "", "; ".join([*notes, "the line has no service date"]), ""
    code = _code(line["procedure_code"])
    found = sorted({v for c in clients for v in by_day.get((c, day, code), [])})
    if len(found) == 1:
        return found[0], how, "", ""
    who = ", ".join(sorted(set(clients)))
    if not found:
        notes.append(f"no completed visit of client {who} on {day} with procedure code {code!r}")
        return None, "", "; ".join(notes), ""
    notes.append(
        f"{len(found)} completed visits of client {who} on {day} with procedure code "
        f"{code!r}: not guessed"
    )
    return None, "", "; ".join(notes), ";".join(found)


# ---- import -----------------------------------------------------------------------------
@dataclass
class ImportResult:
    """What one `import-835` run did: counts, lines left unmatched and files not read."""

    lines_read: int
    lines_matched: int
    lines_unmatched: int
    lines_already_imported: int
    payments_added: int
    unmatched: pd.DataFrame
    errors: pd.DataFrame
    payments_path: Path
    unmatched_path: Path


def import_835(
    files: Sequence[Path],
    data_dir: Path,
    *,
    visits: pd.DataFrame | None = None,
    clients: pd.DataFrame | None = None,
) -> ImportResult:
    """Add the matched lines of 835 files to `data_dir/payments.csv`, once each.

    Visits and clients come from the data folder (`utilization.load`) unless given.
    payments.csv is created with the payments columns when absent; rows already in it are
    kept with their values (rows that came from elsewhere get the new columns empty). A line
    whose `remittance_key` is already in the file is not added again, so importing the same
    file twice changes nothing, while a reversal in a later file is added and nets out.
    Unmatched lines go to `data_dir/remittance_unmatched.csv`, which keeps earlier unmatched
    lines that were not read again and drops those that have since been matched.
    Files that cannot be read are listed in `errors` and the others are imported.
    """
    data_dir = Path(data_dir)
    payments_path = data_dir / PAYMENTS_FILE
    unmatched_path = data_dir / UNMATCHED_FILE
    for other in ("payments.parquet",):
        if (data_dir / other).exists():
            msg = (
                f"{data_dir / other} exists: import-835 writes {payments_path}, and the data "
                "folder would hold two payments tables. Convert it to payments.csv first."
            )
            raise InputError(msg)
    if visits is None or clients is None:
        from utilization.pipeline import load

        dataset = load(data_dir)
        visits = dataset.visits if visits is None else visits
        clients = dataset.clients if clients is None else clients

    lines, errors = read_remittances(files)
    payments, unmatched = match_lines(lines, visits, clients)
    existing = _read_csv(payments_path, PAYMENT_COLUMNS)
    known = set(existing.get("remittance_key", pd.Series(dtype="str"))) - {""}
    already = payments["remittance_key"].isin(known)
    unmatched_known = unmatched["remittance_key"].isin(known)
    added = _as_text(payments[~already], PAYMENT_COLUMNS)
    if (
        len(added)
        or list(existing.columns) != _columns(existing, PAYMENT_COLUMNS)
        or not (payments_path.exists())
    ):
        columns = _columns(existing, PAYMENT_COLUMNS)
        table = pd.concat([existing.reindex(columns=columns, fill_value=""), added[columns]])
        _write_csv(table.fillna(""), payments_path)

    earlier = _read_csv(unmatched_path, UNMATCHED_COLUMNS)
    read_now = set(lines["remittance_key"]) | set(added["remittance_key"]) | known
    earlier = earlier[~earlier["remittance_key"].isin(read_now)]
    still = _as_text(unmatched[~unmatched_known], UNMATCHED_COLUMNS)
    report = pd.concat([earlier.reindex(columns=UNMATCHED_COLUMNS, fill_value=""), still])
    _write_csv(report.fillna(""), unmatched_path)

    return ImportResult(
        lines_read=len(lines),
        lines_matched=len(payments) + int(unmatched_known.sum()),
        lines_unmatched=int((~unmatched_known).sum()),
        lines_already_imported=int(already.sum() + unmatched_known.sum()),
        payments_added=len(added),
        unmatched=unmatched[~unmatched_known].reset_index(drop=True),
        errors=errors,
        payments_path=payments_path,
        unmatched_path=unmatched_path,
    )


def payments_from_remittances(
    paths: Iterable[Path],
    visits: pd.DataFrame,
    clients: pd.DataFrame,
    existing: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Payments from 835 files read in place (a data source's `remittances/` folder).

    Returns (payments, unmatched, errors) as `match_lines` and `read_remittances` do, leaving
    out lines whose `remittance_key` is already among `existing` payments (those imported
    into payments.csv), so a file both imported and left in the folder counts once.
    """
    lines, errors = read_remittances(paths)
    payments, unmatched = match_lines(lines, visits, clients)
    if existing is not None and "remittance_key" in existing:
        known = set(existing["remittance_key"].dropna().astype(str)) - {""}
        payments = payments[~payments["remittance_key"].isin(known)].reset_index(drop=True)
        unmatched = unmatched[~unmatched["remittance_key"].isin(known)].reset_index(drop=True)
    return payments, unmatched, errors


def _columns(existing: pd.DataFrame, wanted: list[str]) -> list[str]:
    """The existing columns in their order, then the wanted ones they lack."""
    return list(existing.columns) + [c for c in wanted if c not in existing.columns]


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    """A CSV as text exactly as written ('' for empty cells); an empty frame when absent."""
    if not path.exists():
        return pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        msg = f"{path} cannot be read as CSV ({error}); fix or move it and import again"
        raise InputError(msg) from None
    return frame


def _as_text(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Values as they are written to CSV: money to cents, dates as YYYY-MM-DD, '' if none."""
    out = pd.DataFrame(index=frame.index)
    for column in columns:
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            out[column] = series.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_float_dtype(series):
            out[column] = series.map(lambda x: "" if pd.isna(x) else f"{x:.2f}")
        else:
            out[column] = series.map(lambda x: "" if x is None or pd.isna(x) else str(x))
        out[column] = out[column].fillna("").astype(str)
    return out.reset_index(drop=True)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write atomically (a temporary file renamed), with `\\n` line ends."""
    temporary = path.with_name(path.name + ".tmp")
    frame.to_csv(temporary, index=False, lineterminator="\n")
    temporary.replace(path)


# ---- service code usage -----------------------------------------------------------------
def service_code_payments(lines: pd.DataFrame) -> pd.DataFrame:
    """Per procedure code: lines, charge, paid, paid share of charge, denials, newest payment.

    Grain: one row per procedure_code (claim-level rows, which have none, under NA).
    Columns: procedure_code, lines, charge_amount, paid_amount, paid_share (paid / charge,
    NaN when nothing was charged), denied_lines, denied_reason_codes (the adjustment codes
    of denied lines, sorted, `;`-joined), newest_paid_date. Amounts are not rounded.
    """
    columns = [
        "procedure_code",
        "lines",
        "charge_amount",
        "paid_amount",
        "paid_share",
        "denied_lines",
        "denied_reason_codes",
        "newest_paid_date",
    ]
    if lines.empty:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    grouped = lines.groupby("procedure_code", dropna=False, sort=True)
    table = grouped.agg(
        lines=("paid_amount", "size"),
        charge_amount=("charge_amount", "sum"),
        paid_amount=("paid_amount", "sum"),
        denied_lines=("denied", "sum"),
        newest_paid_date=("paid_date", "max"),
    ).reset_index()
    charge = table["charge_amount"].where(table["charge_amount"] != 0)
    table["paid_share"] = table["paid_amount"] / charge
    table["denied_lines"] = table["denied_lines"].astype("int64")

    def reasons(frame: pd.DataFrame) -> str:
        codes = {c for value in frame["adjustment_reason_codes"].dropna() for c in value.split(";")}
        return ";".join(sorted(codes))

    denied = lines[lines["denied"]]
    by_code = {
        code: reasons(group)
        for code, group in denied.groupby("procedure_code", dropna=False, sort=True)
    }
    table["denied_reason_codes"] = [by_code.get(c, "") for c in table["procedure_code"]]
    return table[columns]
