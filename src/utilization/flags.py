"""Flags: visits and authorizations that put revenue or compliance at risk."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from utilization import balances as bal
from utilization.limits import LIMIT_WORDS
from utilization.period import iso_dates
from utilization.schedule import OVER, not_paid_rows
from utilization.selection import Selection, visit_keys
from utilization.totals import join

FLAG_COLUMNS = [
    "kind",
    "visit_id",
    "authorization_id",
    "client_id",
    "procedure_code",
    "service_date",
    "units",
    "detail",
]
AUTHORIZATION_KINDS = {
    bal.EXHAUSTED: "authorization_exhausted",
    bal.LIMIT_REACHED: "authorization_limit_reached",
    bal.AT_RISK: "authorization_at_risk",
    bal.EXPIRING: "authorization_expiring",
    bal.UNDER_USED: "authorization_under_used",
}


def _details(kind: str, chosen: pd.DataFrame, long_hours: float) -> list[str]:
    """The flag's reason in words, for each visit row of `chosen`."""
    if kind == "unauthorized_service":
        return [
            f"no authorization for {code} holds this date"
            for code in chosen["procedure_code"].tolist()
        ]
    units = chosen["units"].tolist()
    if kind == "over_authorization":
        over = chosen["units_over_authorization"].tolist()
        return [
            f"{o} of {u} units beyond the authorized units"
            for o, u in zip(over, units, strict=True)
        ]
    if kind == "rate_mismatch":
        billed, rate = chosen["amount_billed"].tolist(), chosen["rate"].tolist()
        return [
            f"billed ${b / u:,.2f}/unit, authorized ${r:,.2f}/unit"
            for b, u, r in zip(billed, units, rate, strict=True)
        ]
    if kind == "over_limit":
        over = chosen["units_over_authorization"].tolist()
        return [
            f"{o} of {u} units beyond a limit per day, week or month, with units left in total"
            for o, u in zip(over, units, strict=True)
        ]
    minutes = chosen["minutes"].tolist()
    if kind == "units_mismatch":
        recorded = chosen["units_recorded"].tolist()
        return [
            f"recorded {r:g} units; {m} minutes make {u}"
            for r, m, u in zip(recorded, minutes, units, strict=True)
        ]
    return [f"{m} minutes: longer than {long_hours:g} hours; check the times" for m in minutes]


VISIT_KINDS: dict[str, tuple[str, str]] = {
    # kind: (column that selects the visits, column whose value is the flag's units)
    "unauthorized_service": ("units_unauthorized", "units_unauthorized"),
    "over_authorization": ("units_over_authorization", "units_over_authorization"),
    "rate_mismatch": ("rate_mismatch", "units"),
    "units_mismatch": ("units_mismatch", "units"),
    "long_visit": ("long_visit", "units"),
    "over_limit": ("over_limit", "units_over_authorization"),
}
_FLAG_VISIT_COLUMNS = [
    "visit_id",
    "authorization_id",
    "client_id",
    "procedure_code",
    "service_date",
    "units",
    "minutes",
    "units_recorded",
    "amount_billed",
    "rate",
    *sorted({c for pair in VISIT_KINDS.values() for c in pair} - {"units"}),
]


def visit_flags(selection: Selection) -> pd.DataFrame:
    """Flagged visits in the period.

    Grain: one row per visit and kind: `unauthorized_service` and `over_authorization` (units
    = the units at risk), `rate_mismatch`, `units_mismatch` and `long_visit` (units = the
    visit's computed units); kind by kind, visits in the order of the source.
    """
    return visit_flags_of([visit_flag_rows(selection)])


ORDER = ["_kind", "_visit"]
"""Hidden columns of `visit_flag_rows`: the kind's place in `VISIT_KINDS`, the visit's key."""


def visit_flag_rows(selection: Selection) -> pd.DataFrame:
    """`visit_flags` with the columns `ORDER` that put the rows of several sets of clients
    back in order (`visit_flags_of`).
    """
    rows = selection.visits(billable_default=None, columns=_FLAG_VISIT_COLUMNS)
    keys = visit_keys(selection.dataset)[selection.mask(billable_default=None)]
    long_hours = selection.dataset.settings.long_visit_hours
    frames = []
    for number, (kind, (selector, units_column)) in enumerate(VISIT_KINDS.items()):
        picked = rows[selector].to_numpy(dtype=bool)
        chosen = rows[picked]
        frames.append(
            pd.DataFrame(
                {
                    "kind": pd.Series(kind, index=chosen.index, dtype="str"),
                    "visit_id": chosen["visit_id"],
                    "authorization_id": chosen["authorization_id"],
                    "client_id": chosen["client_id"],
                    "procedure_code": chosen["procedure_code"],
                    "service_date": chosen["service_date"],
                    "units": chosen[units_column].astype(np.int64),
                    "detail": pd.Series(
                        _details(kind, chosen, long_hours), index=chosen.index, dtype="str"
                    ),
                    "_kind": number,
                    "_visit": keys[picked],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def visit_flags_of(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The flagged visits of disjoint sets of clients (`visit_flag_rows`), kind by kind and in
    the order of the source: the frame `visit_flags` gives for all of them.
    """
    rows = join(parts)
    if len(parts) > 1:
        rows = rows.sort_values(ORDER, kind="stable")
    return rows.drop(columns=ORDER).reset_index(drop=True)


def scheduled_flags(schedule_table: pd.DataFrame) -> pd.DataFrame:
    """Scheduled visits that would not be paid, from a schedule table (data contract §11).

    Grain: one row per scheduled visit that is over (`scheduled_over_authorization`, units =
    units over) or unauthorized (`scheduled_unauthorized`, units = the visit's units).
    """
    chosen = not_paid_rows(schedule_table)
    over = (chosen["schedule_status"] == OVER).to_numpy()
    return pd.DataFrame(
        {
            "kind": pd.Series(
                np.where(over, "scheduled_over_authorization", "scheduled_unauthorized"),
                index=chosen.index,
                dtype="str",
            ),
            "visit_id": chosen["visit_id"],
            "authorization_id": chosen["authorization_id"],
            "client_id": chosen["client_id"],
            "procedure_code": chosen["procedure_code"],
            "service_date": chosen["service_date"],
            "units": chosen["units_not_paid"],
            "detail": chosen["reason"].astype("str"),
        }
    )


def authorization_flags(
    balance_table: pd.DataFrame, limit_rows: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Authorizations needing attention, from a balances table (and its limits, §10).

    Grain: one row per authorization whose status is exhausted, limit reached, at risk,
    expiring or under-used; units = units remaining (in total).
    """
    chosen = balance_table[balance_table["status"].isin(list(AUTHORIZATION_KINDS))]
    ends = iso_dates(chosen["end_date"])
    projected = [
        ""
        if d is None
        else f"; at the current pace they run out {d}"
        if end is None or d <= end
        else "; at the current pace they last until it ends"
        for d, end in zip(iso_dates(chosen["projected_exhaustion_date"]), ends, strict=True)
    ]
    reached = _limits_reached(limit_rows)
    detail = [
        f"all {approved:g} units used (ends {end})"
        if remaining <= 0
        else f"{reached.get(auth, '')}{remaining:g} of {approved:g} units left until {end}{pace}"
        for auth, approved, remaining, end, pace in zip(
            chosen["authorization_id"].tolist(),
            chosen["units_approved"].tolist(),
            chosen["units_remaining"].tolist(),
            ends,
            projected,
            strict=True,
        )
    ]
    return pd.DataFrame(
        {
            "kind": chosen["status"].map(AUTHORIZATION_KINDS),
            "visit_id": pd.Series(pd.NA, index=chosen.index, dtype="str"),
            "authorization_id": chosen["authorization_id"],
            "client_id": chosen["client_id"],
            "procedure_code": chosen["procedure_code"],
            "service_date": pd.Series(pd.NaT, index=chosen.index, dtype="datetime64[ns]"),
            "units": chosen["units_remaining"],
            "detail": pd.Series(detail, index=chosen.index, dtype="str"),
        }
    )


def _limits_reached(limit_rows: pd.DataFrame | None) -> dict[str, str]:
    """Per authorization with a period limit used up: `no units left of the monthly limit of
    100 (2026-03-01 to 2026-03-31); ` (the start of its flag's detail).
    """
    if limit_rows is None or limit_rows.empty:
        return {}
    full = limit_rows[limit_rows["units_remaining"] <= 0]
    starts, ends = iso_dates(full["period_start"]), iso_dates(full["period_end"])
    out: dict[str, str] = {}
    for each, start, end in zip(full.itertuples(index=False), starts, ends, strict=True):
        row: Any = each  # a row of the limits frame (data contract §10 columns)
        out.setdefault(
            str(row.authorization_id),
            f"no units left of the {LIMIT_WORDS[str(row.per)]} limit of {float(row.units_limit):g} "
            f"({start} to {end}); ",
        )
    return out


def flags(
    selection: Selection,
    balance_table: pd.DataFrame,
    schedule_table: pd.DataFrame | None = None,
    limit_rows: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every flag of the period: completed visits' kinds, scheduled visits' kinds (§11), then
    authorization kinds.
    """
    return flags_of(visit_flags(selection), schedule_table, balance_table, limit_rows)


def flags_of(
    visit_rows: pd.DataFrame,
    schedule_table: pd.DataFrame | None,
    balance_table: pd.DataFrame,
    limit_rows: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every flag from the flagged visits (`visit_flags`), the schedule and the balances."""
    parts = [visit_rows]
    if schedule_table is not None:
        parts.append(scheduled_flags(schedule_table))
    parts.append(authorization_flags(balance_table, limit_rows))
    return pd.concat(parts, ignore_index=True)[FLAG_COLUMNS]
