"""Flags: visits and authorizations that put revenue or compliance at risk."""

from __future__ import annotations

import numpy as np
import pandas as pd

from utilization import balances as bal
from utilization.selection import Selection

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
    visit's computed units).
    """
    visits = selection.visits(billable_default=None, columns=_FLAG_VISIT_COLUMNS)
    long_hours = selection.dataset.settings.long_visit_hours
    frames = []
    for kind, (selector, units_column) in VISIT_KINDS.items():
        chosen = visits[visits[selector].astype(bool).to_numpy()]
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
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def authorization_flags(balance_table: pd.DataFrame) -> pd.DataFrame:
    """Authorizations needing attention, from a balances table.

    Grain: one row per authorization whose status is exhausted, at risk, expiring or
    under-used; units = units remaining.
    """
    chosen = balance_table[balance_table["status"].isin(list(AUTHORIZATION_KINDS))]
    ends = _iso_dates(chosen["end_date"])
    projected = [
        ""
        if d is None
        else f"; at the current pace they run out {d}"
        if end is None or d <= end
        else "; at the current pace they last until it ends"
        for d, end in zip(_iso_dates(chosen["projected_exhaustion_date"]), ends, strict=True)
    ]
    detail = [
        f"all {approved:g} units used (ends {end})"
        if remaining <= 0
        else f"{remaining:g} of {approved:g} units left until {end}{pace}"
        for approved, remaining, end, pace in zip(
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


def _iso_dates(dates: pd.Series) -> list[str | None]:
    """Dates as `YYYY-MM-DD` (None for NaT), formatted at once rather than one by one."""
    days = np.asarray(dates.to_numpy()).astype("datetime64[D]")
    text: list[str | None] = np.datetime_as_string(days, unit="D").tolist()
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    odd = np.flatnonzero(np.isnat(days) | (years < 1000) | (years > 9999))
    for i in odd.tolist():  # as strftime writes them (no zero padding of the year)
        value = dates.iloc[i]
        text[i] = None if pd.isna(value) else f"{value:%Y-%m-%d}"
    return text


def flags(selection: Selection, balance_table: pd.DataFrame) -> pd.DataFrame:
    """Every flag of the period: visit kinds first, then authorization kinds."""
    return pd.concat(
        [visit_flags(selection), authorization_flags(balance_table)],
        ignore_index=True,
    )[FLAG_COLUMNS]
