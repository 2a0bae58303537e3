"""Insurance payments from X12 835 remittances matched to visits, and their import.

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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, cast

import pandas as pd

from utilization.errors import InputError
from utilization.x12 import (
    ERROR_COLUMNS,
    LINE_COLUMNS,
    PAYMENT_COLUMNS,
    PAYMENTS_FILE,
    PREDETERMINATION,
    UNMATCHED_COLUMNS,
    UNMATCHED_FILE,
    Remittance835Error,
    _day,
    _missing,
    _text,
    empty_lines,
    read_835,
    read_remittances,
    remittance_files,
)

__all__ = [
    "ERROR_COLUMNS",
    "LINE_COLUMNS",
    "PAYMENT_COLUMNS",
    "ImportResult",
    "Remittance835Error",
    "empty_lines",
    "import_835",
    "match_lines",
    "payments_from_remittances",
    "read_835",
    "read_remittances",
    "remittance_files",
    "service_code_payments",
]


def _code(value: Any) -> str:
    """A procedure code compared as agencies write it: upper case, single spaces."""
    return "" if _missing(value) else " ".join(str(value).upper().split())


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
