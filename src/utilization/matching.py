"""Matching visits to authorizations: FIFO use of authorized units (DATA_MODEL §4)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from utilization.dataset import Dataset

IntArray = npt.NDArray[np.int64]
CHUNK = 1_000_000  # visits per block when building the candidate matrix

MATCH_COLUMNS = (
    "units_authorized",
    "units_over_authorization",
    "units_unauthorized",
    "authorization_id",
    "rate",
    "amount",
    "rate_mismatch",
    "units_mismatch",
)


def _days(dates: pd.Series) -> IntArray:
    """Calendar dates as whole days since 1970-01-01."""
    return np.asarray(
        dates.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]"), dtype=np.int64
    )


class _Candidates:
    """Authorizations per (client, procedure), ordered as they are used: end date, then id.

    Row k of group g is the k-th authorization to draw from; padding has index -1.
    """

    def __init__(self, authorizations: pd.DataFrame, visits: pd.DataFrame) -> None:
        keys = pd.concat(
            [
                authorizations["client_id"].astype(str)
                + "\x1f"
                + authorizations["procedure_code"].astype(str),
                visits["client_id"].astype(str) + "\x1f" + visits["procedure_code"].astype(str),
            ],
            ignore_index=True,
        )
        codes, _ = pd.factorize(keys)
        n_auth = len(authorizations)
        payer_codes, _ = pd.factorize(
            pd.concat([authorizations["payer_id"], visits["payer_id"]], ignore_index=True)
        )  # NaN -> -1
        self.auth_group = codes[:n_auth].astype(np.int64)
        self.visit_group = codes[n_auth:].astype(np.int64)
        self.auth_payer = payer_codes[:n_auth].astype(np.int64)
        self.visit_payer = payer_codes[n_auth:].astype(np.int64)

        order = np.lexsort(
            (
                authorizations["authorization_id"].astype(str).to_numpy(),
                _days(authorizations["end_date"]),
                self.auth_group,
            )
        )
        groups_sorted = self.auth_group[order]
        n_groups = int(codes.max()) + 1 if len(codes) else 0
        counts = np.bincount(groups_sorted, minlength=n_groups)
        width = max(int(counts.max()) if counts.size else 0, 1)
        first_of_group = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        rank = np.arange(len(order), dtype=np.int64) - first_of_group[groups_sorted]

        self.index = np.full((n_groups, width), -1, dtype=np.int64)
        self.index[groups_sorted, rank] = order
        # A sentinel at the end answers for the padding (index -1): a span holding no day.
        start = np.append(_days(authorizations["start_date"]), 0)
        end = np.append(_days(authorizations["end_date"]), -1)
        payer = np.append(self.auth_payer, -1)
        self.start = start[self.index]
        self.end = end[self.index]
        self.payer = payer[self.index]

    def mask(self, rows: IntArray, service_day: IntArray) -> npt.NDArray[np.bool_]:
        """Which candidate columns hold each visit's date and accept its payer."""
        g = self.visit_group[rows]
        d = service_day[rows][:, None]
        vp = self.visit_payer[rows][:, None]
        ap = self.payer[g]
        return (
            (self.index[g] >= 0)
            & (self.start[g] <= d)
            & (d <= self.end[g])
            & ((ap == -1) | (vp == -1) | (ap == vp))
        )


def match(dataset: Dataset) -> Dataset:
    """Return the dataset with visits matched to authorizations and the allocations made.

    Visits gain the columns of `MATCH_COLUMNS`; `allocations` has one row per visit and
    authorization it used units from (visit_id, authorization_id, units, service_date).
    """
    visits = dataset.visits
    auths = dataset.authorizations
    n = len(visits)
    units = visits["units"].to_numpy(dtype=np.int64)
    eligible = (visits["status"] == "completed").to_numpy() & visits["billable"].to_numpy(
        dtype=bool
    )
    service_day = _days(visits["service_date"])
    cands = _Candidates(auths, visits)
    approved = auths["units_approved"].to_numpy(dtype=np.float64)

    authorized = np.zeros(n, dtype=np.int64)
    rate_auth = np.full(n, -1, dtype=np.int64)  # authorization row whose rate applies
    holders = np.zeros(n, dtype=np.int64)  # how many authorizations hold the visit's date
    alloc_visit: list[IntArray] = []
    alloc_auth: list[IntArray] = []
    alloc_units: list[IntArray] = []

    billable = visits["billable"].to_numpy(dtype=bool)
    scheduled = (visits["status"] == "scheduled").to_numpy() & billable
    rows_all = np.flatnonzero(eligible | scheduled)
    first_holder = np.full(n, -1, dtype=np.int64)
    for lo in range(0, len(rows_all), CHUNK):
        rows = rows_all[lo : lo + CHUNK]
        m = cands.mask(rows, service_day)
        holders[rows] = m.sum(axis=1)
        col = m.argmax(axis=1)
        g = cands.visit_group[rows]
        first_holder[rows] = np.where(holders[rows] > 0, cands.index[g, col], -1)

    # A scheduled visit would draw on the authorization that ends first among those holding
    # its date: that is the one its units are counted against as scheduled.
    rate_auth[scheduled] = first_holder[scheduled]
    completed_rows = np.flatnonzero(eligible)
    multi_groups = np.unique(cands.visit_group[completed_rows[holders[completed_rows] > 1]])
    in_multi = np.isin(cands.visit_group, multi_groups) & eligible
    single = eligible & ~in_multi & (holders == 1)

    # Groups where no date is held by two authorizations: each authorization is used in visit
    # order, a running total per authorization decides where its units run out.
    srows = np.flatnonzero(single)
    if len(srows):
        auth = first_holder[srows]
        order = np.lexsort((visits["order"].to_numpy()[srows], auth))
        srows, auth = srows[order], auth[order]
        u = units[srows]
        cum = np.cumsum(u)
        starts = np.flatnonzero(np.r_[True, auth[1:] != auth[:-1]])
        base = np.repeat(cum[starts] - u[starts], np.diff(np.r_[starts, len(srows)]))
        before = cum - base - u
        fit = np.clip(np.floor(approved[auth]) - before, 0, u).astype(np.int64)
        authorized[srows] = fit
        rate_auth[srows] = auth
        used = fit > 0
        alloc_visit.append(srows[used])
        alloc_auth.append(auth[used])
        alloc_units.append(fit[used])

    # Groups with overlapping authorizations: visit by visit, ends-first with units left.
    mrows = np.flatnonzero(in_multi)
    if len(mrows):
        order = np.lexsort((visits["order"].to_numpy()[mrows], cands.visit_group[mrows]))
        mrows = mrows[order]
        remaining = np.floor(approved).astype(np.int64)
        masks = cands.mask(mrows, service_day)
        groups = cands.visit_group[mrows]
        loop_visit: list[int] = []
        loop_auth: list[int] = []
        loop_units: list[int] = []
        for i, row in enumerate(mrows.tolist()):
            need = int(units[row])
            first_used = -1
            for a in cands.index[groups[i]][masks[i]].tolist():
                if need == 0:
                    break
                take = min(need, int(remaining[a]))
                if take > 0:
                    remaining[a] -= take
                    need -= take
                    loop_visit.append(row)
                    loop_auth.append(a)
                    loop_units.append(take)
                    if first_used < 0:
                        first_used = a
            authorized[row] = units[row] - need
            rate_auth[row] = first_used if first_used >= 0 else first_holder[row]
        alloc_visit.append(np.array(loop_visit, dtype=np.int64))
        alloc_auth.append(np.array(loop_auth, dtype=np.int64))
        alloc_units.append(np.array(loop_units, dtype=np.int64))

    held = eligible & (holders > 0)
    over = np.where(held, units - authorized, 0)
    unauthorized = np.where(eligible & (holders == 0), units, 0)
    return replace(
        dataset,
        visits=_with_amounts(dataset, authorized, over, unauthorized, rate_auth),
        allocations=_allocations(visits, auths, alloc_visit, alloc_auth, alloc_units),
    )


def _with_amounts(
    dataset: Dataset,
    authorized: IntArray,
    over: IntArray,
    unauthorized: IntArray,
    rate_auth: IntArray,
) -> pd.DataFrame:
    """Visits with the matching columns: units split, rate source, amount and the two checks."""
    visits = dataset.visits.copy()
    auths = dataset.authorizations
    procedure_rate = (
        visits["procedure_code"]
        .map(dataset.procedures.set_index("procedure_code")["rate"])
        .to_numpy(dtype=np.float64)
    )
    has_auth = rate_auth >= 0
    safe = np.where(has_auth, rate_auth, 0)
    auth_rate = (
        auths["rate"].to_numpy(dtype=np.float64)[safe] if len(auths) else np.zeros(len(visits))
    )
    rate = np.where(has_auth, auth_rate, procedure_rate)
    auth_ids = auths["authorization_id"].to_numpy(dtype=object)[safe] if len(auths) else None
    units = visits["units"].to_numpy(dtype=np.int64)
    billed = visits["amount_billed"].to_numpy(dtype=np.float64)
    amount = np.where(np.isnan(billed), units * rate, billed)

    completed = (visits["status"] == "completed").to_numpy()
    tolerance = dataset.settings.rate_tolerance
    with np.errstate(divide="ignore", invalid="ignore"):
        billed_rate = billed / units
    rate_mismatch = (
        has_auth
        & ~np.isnan(billed)
        & (units > 0)
        & ~np.isnan(auth_rate)
        & (np.round(np.abs(billed_rate - auth_rate), 6) > tolerance)
    )
    recorded = visits["units_recorded"].to_numpy(dtype=np.float64)
    units_mismatch = completed & ~np.isnan(recorded) & (recorded != units)

    visits["units_authorized"] = authorized
    visits["units_over_authorization"] = over
    visits["units_unauthorized"] = unauthorized
    visits["authorization_id"] = pd.array(
        np.where(has_auth, auth_ids, None) if auth_ids is not None else [None] * len(visits),
        dtype="str",
    )
    auth_payer = auths["payer_id"].to_numpy(dtype=object)[safe] if len(auths) else None
    visits["payer_effective"] = visits["payer_id"].fillna(
        pd.Series(
            np.where(has_auth, auth_payer, None) if auth_payer is not None else None,
            index=visits.index,
            dtype="str",
        )
    )
    visits["rate"] = rate
    visits["amount"] = amount
    visits["rate_mismatch"] = rate_mismatch
    visits["units_mismatch"] = units_mismatch
    return visits


def _allocations(
    visits: pd.DataFrame,
    auths: pd.DataFrame,
    alloc_visit: list[IntArray],
    alloc_auth: list[IntArray],
    alloc_units: list[IntArray],
) -> pd.DataFrame:
    """One row per visit and authorization it used units from."""
    rows = np.concatenate(alloc_visit) if alloc_visit else np.array([], dtype=np.int64)
    auth = np.concatenate(alloc_auth) if alloc_auth else np.array([], dtype=np.int64)
    used = np.concatenate(alloc_units) if alloc_units else np.array([], dtype=np.int64)
    return pd.DataFrame(
        {
            "visit_id": visits["visit_id"].to_numpy()[rows],
            "authorization_id": auths["authorization_id"].to_numpy()[auth],
            "units": used.astype(np.int64),
            "service_date": visits["service_date"].to_numpy()[rows],
        }
    )
