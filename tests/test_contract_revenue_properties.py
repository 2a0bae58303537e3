"""Properties of revenue (§12), fieldworkers and payers (§13) that hold for any agency.

Random small agencies (the strategy of test_contract_properties, with fieldworkers and
staff-recorded units added to the visits) are exported through the CLI: the revenue rows
must reconcile with their breakdowns, with the period's KPIs and across filters.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract_data import export, write_data
from test_contract_properties import FIRST_DAY, LAST_DAY, PROPERTY_SETTINGS, agencies

PROVIDER_IDS = [None, "P1", "P2"]
Agency = tuple[list[dict[str, Any]], list[dict[str, Any]]]


@st.composite
def staffed_agencies(draw: st.DrawFn) -> Agency:
    """An agency of `agencies()` whose visits have a fieldworker (or none) and, on some,
    units recorded by staff.
    """
    authorizations, visits = draw(agencies())
    for visit in visits:
        visit["provider_id"] = draw(st.sampled_from(PROVIDER_IDS))
        visit["units"] = draw(st.one_of(st.none(), st.integers(0, 25)))
    return authorizations, visits


def _exports(agency: Agency, *views: tuple[str, list[str]]) -> list[dict[str, Any]]:
    authorizations, visits = agency
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_data(Path(tmp) / "data", authorizations=authorizations, visits=visits)
        frm, to = FIRST_DAY.isoformat(), LAST_DAY.isoformat()
        return [export(folder, view, *options, frm=frm, to=to) for view, options in views]


def _by_category(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["category"]: row for row in data["revenue"]}


@PROPERTY_SETTINGS
@given(staffed_agencies())
def test_revenue_by_client_and_by_procedure_each_add_up_to_revenue(agency: Agency) -> None:
    """Each `<category>_units` / `_amount` column of revenue_by_client and revenue_by_procedure
    sums to its `revenue` row; delivered is used and approved is approved (§5); nothing is
    negative; the provider rows add up to the units and amounts used.
    """
    (data,) = _exports(agency, ("agency", []))
    revenue = _by_category(data)
    for key in ("revenue_by_client", "revenue_by_procedure"):
        rows = data[key]
        for category, row in revenue.items():
            # Every row is rounded on its own: n rows drift by at most n half-cents.
            slack = 0.005 * (len(rows) + 1)
            total = sum(float(r[f"{category}_amount"]) for r in rows)
            assert total == pytest.approx(float(row["amount"]), abs=slack), (key, category)
            if row["units"] is not None:
                total = sum(float(r[f"{category}_units"]) for r in rows)
                assert total == pytest.approx(float(row["units"]), abs=0.0001 * (len(rows) + 1))
    kpis = data["kpis"]
    assert revenue["delivered"]["units"] == pytest.approx(kpis["units_used"])
    assert revenue["delivered"]["amount"] == pytest.approx(kpis["amount_used"], abs=0.005)
    assert revenue["approved"]["units"] == pytest.approx(kpis["units_approved"], abs=0.0001)
    assert all(float(r["amount"]) >= 0 for r in data["revenue"])
    providers = data["by_provider"]
    assert sum(r["units_used"] for r in providers) == kpis["units_used"]
    assert sum(float(r["amount_used"]) for r in providers) == pytest.approx(
        float(kpis["amount_used"]), abs=0.005 * (len(providers) + 1)
    )
    payers = data["by_payer"]
    assert sum(r["units_used"] for r in payers) == kpis["units_used"]
    assert sum(float(r["units_approved"]) for r in payers) == pytest.approx(
        float(kpis["units_approved"]), abs=0.0001 * (len(payers) + 1)
    )


@PROPERTY_SETTINGS
@given(staffed_agencies(), st.sampled_from(["P1", "P2"]))
def test_a_provider_filter_keeps_capacity_and_splits_the_visits(
    agency: Agency, provider: str
) -> None:
    """`--provider`: approved and not delivered are the unfiltered request's; the units
    delivered by the fieldworkers add up to the agency's; the provider view's one row is the
    agency's row of that fieldworker.
    """
    whole, one, view = _exports(
        agency,
        ("agency", []),
        ("agency", ["--provider", provider]),
        ("provider", ["--provider", provider]),
    )
    everything, filtered = _by_category(whole), _by_category(one)
    for category in ("approved", "not_delivered"):
        assert filtered[category] == everything[category], category
    rows = {r["provider_id"]: r for r in whole["by_provider"]}
    mine = rows.get(provider)
    assert filtered["delivered"]["units"] == (mine["units_used"] if mine else 0)
    assert view["by_provider"] == ([mine] if mine else [])
    for category in ("delivered", "cancelled", "unauthorized", "over_authorization"):
        assert float(filtered[category]["units"]) <= float(everything[category]["units"])
