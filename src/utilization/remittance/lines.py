"""Matching X12 835 service lines to visits: by line item control number, else by client,
service date and procedure code; never guessed between candidates.
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast

import pandas as pd

from utilization.remittance.x12 import (
    PAYMENT_COLUMNS,
    PREDETERMINATION,
    UNMATCHED_COLUMNS,
    _day,
    _missing,
    _text,
)


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
