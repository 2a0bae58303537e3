"""The synthetic demo agency: deterministic, complete and shaped like a real export."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from utilization import schema
from utilization.demo import agency as demo

TODAY = date(2026, 11, 22)
TZ = "America/Los_Angeles"
CONTRACT_COLUMNS = {
    "clients": ["client_id", "client_name", "medicaid_id", "case_manager", "status"],
    "procedures": ["procedure_code", "description", "unit_minutes", "rate", "rounding", "billable"],
    "payers": ["payer_id", "payer_name"],
    "providers": ["provider_id", "provider_name"],
    "authorizations": [
        "authorization_id", "client_id", "procedure_code", "start_date", "end_date",
        "units_approved", "payer_id", "rate", "status", "units_per_day", "units_per_week",
        "units_per_month",
    ],
    "visits": [
        "visit_id", "client_id", "procedure_code", "start", "end", "service_date", "minutes",
        "provider_id", "payer_id", "case_type", "status", "units", "amount_billed",
    ],
    "payments": [
        "visit_id",
        "insurance_paid",
        "patient_paid",
        "paid_date",
        "denied",
        "adjustment_reason_codes",
    ],
}  # fmt: skip
SEED_SERVICES = [
    "CBS Acuity Visit",
    "Supported Employment Individual",
    "Supported Employment Group",
    "Habilitation",
    "Community Engagement (CE)",
    "Specialized Habilitation (SH)",
    "Staff-Family Consultation",
    "Respite",
]


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    """The default demo agency as of TODAY."""
    return demo.generate(today=TODAY)


def _instants(text: pd.Series) -> pd.Series:
    """UTC instants of export date-times: with an offset as given, else local (first occurrence)."""
    text = text.dropna()
    zoned = text.str.len() > 19
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    local = pd.to_datetime(text[~zoned], format="%Y-%m-%d %H:%M:%S")
    out[~zoned] = local.dt.tz_localize(TZ, ambiguous=True).dt.tz_convert("UTC")
    out[zoned] = pd.to_datetime(text[zoned], utc=True, format="ISO8601")
    return out


def _timed(visits: pd.DataFrame) -> pd.DataFrame:
    """Visits given by start and end, with their UTC instants, minutes and service date."""
    rows = visits[visits["start"].notna()].copy()
    rows["start_utc"] = _instants(rows["start"])
    rows["end_utc"] = _instants(rows["end"])
    rows["real_minutes"] = (rows["end_utc"] - rows["start_utc"]).dt.total_seconds() // 60
    rows["day"] = rows["start_utc"].dt.tz_convert(TZ).dt.tz_localize(None).dt.normalize()
    return rows


def _service_days(visits: pd.DataFrame) -> pd.Series:
    """Service date of every visit: the local start date, or the given service_date."""
    timed = _timed(visits)["day"]
    given = pd.to_datetime(visits["service_date"].dropna(), format="%Y-%m-%d")
    return pd.concat([timed, given]).sort_index()


def _good_visits(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Visits without the intentional bad rows."""
    visits = tables["visits"]
    known = visits["procedure_code"].isin(tables["procedures"]["procedure_code"])
    numeric = visits["minutes"].isna() | pd.to_numeric(visits["minutes"], errors="coerce").notna()
    good = visits[known & numeric & ~visits["visit_id"].duplicated()]
    timed = _timed(good)
    backwards = timed.index[timed["real_minutes"] < 0]
    return good.drop(index=backwards)


def test_same_arguments_write_the_same_csv_bytes(tmp_path: Path) -> None:
    """Writing the demo twice with the same seed and today gives byte-identical CSV files."""
    first = demo.write_demo(tmp_path / "a", seed=7, clients=60, today=TODAY)
    second = demo.write_demo(tmp_path / "b", seed=7, clients=60, today=TODAY)
    assert [p.name for p in first] == [f"{t}.csv" for t in CONTRACT_COLUMNS]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert b"\r\n" not in first[5].read_bytes()


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    """A different seed gives different visits."""
    one = demo.write_demo(tmp_path / "a", seed=1, today=TODAY)[5].read_bytes()
    two = demo.write_demo(tmp_path / "b", seed=2, today=TODAY)[5].read_bytes()
    assert one != two


def test_parquet_holds_the_same_tables(tmp_path: Path, tables: dict[str, pd.DataFrame]) -> None:
    """Parquet files hold the same rows and columns as the generated tables."""
    paths = demo.write_demo(tmp_path, fmt="parquet", today=TODAY)
    for path in paths:
        read = pd.read_parquet(path)
        assert list(read.columns) == CONTRACT_COLUMNS[path.stem]
        assert len(read) == len(tables[path.stem])


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    """Only csv and parquet can be written, and the message says so."""
    with pytest.raises(ValueError, match="use 'csv' or 'parquet'"):
        demo.write_demo(tmp_path, fmt="xlsx", today=TODAY)


def test_fewer_than_three_months_is_refused() -> None:
    """The window must hold today's quarter, so it has at least three months."""
    with pytest.raises(ValueError, match="months must be 3 or more"):
        demo.generate(months=2, today=TODAY)


def test_tables_have_exactly_the_contract_columns(tables: dict[str, pd.DataFrame]) -> None:
    """Every table of data contract §1 is there with its columns, in contract order."""
    assert {name: list(frame.columns) for name, frame in tables.items()} == CONTRACT_COLUMNS


def test_demo_columns_are_input_columns_of_the_schema(tables: dict[str, pd.DataFrame]) -> None:
    """The demo writes only columns the schema declares, in the schema's order."""
    for name, frame in tables.items():
        declared = declared_names(name)
        assert list(frame.columns) == [c for c in declared if c in frame.columns], name
    assert [c for c in declared_names("visits") if c not in tables["visits"]] == ["billable"]


def declared_names(table: str) -> list[str]:
    """The input columns the schema declares for `table`."""
    return [c.name for c in schema.TABLES[table].columns]


def test_agency_size(tables: dict[str, pd.DataFrame]) -> None:
    """The default agency has 60 clients, 3 payers and at least 20 fieldworkers."""
    assert len(tables["clients"]) == 60
    assert tables["clients"]["client_id"].is_unique
    assert len(tables["payers"]) == 3
    assert len(tables["providers"]) >= 20


def test_clients_include_discharges_and_case_managers(tables: dict[str, pd.DataFrame]) -> None:
    """Some clients are discharged, most have a case manager and some do not."""
    clients = tables["clients"]
    assert set(clients["status"]) == {"active", "discharged"}
    assert 1 <= (clients["status"] == "discharged").sum() <= 10
    assert 0 < clients["case_manager"].isna().sum() < clients["case_manager"].notna().sum()


def test_catalog_has_the_seed_services(tables: dict[str, pd.DataFrame]) -> None:
    """The catalog names every service of the seeds, with HCPCS codes and modifiers."""
    procedures = tables["procedures"].set_index("description")
    assert set(SEED_SERVICES) <= set(procedures.index)
    assert procedures.loc["Community Engagement (CE)", "procedure_code"] == "T2021 U4"
    assert procedures["procedure_code"].str.contains(" ").sum() >= 5


def test_catalog_has_each_rounding_kind(tables: dict[str, pd.DataFrame]) -> None:
    """One code rounds complete, one never_zero, one is per visit, one is not billable."""
    procedures = tables["procedures"]
    assert procedures["rounding"].dropna().sort_values().tolist() == ["complete", "never_zero"]
    assert (procedures["unit_minutes"] == 0).sum() == 1
    assert (~procedures["billable"]).sum() == 1
    billable_rates = procedures.loc[procedures["billable"], "rate"]
    assert billable_rates.between(6, 30).all()


def test_visits_span_fifteen_months_ending_with_todays_quarter(
    tables: dict[str, pd.DataFrame],
) -> None:
    """Service dates fill October 2025 to December 2026, the 15 months ending with Q4 2026."""
    days = _service_days(_good_visits(tables))
    months = sorted(days.dt.strftime("%Y-%m").unique())
    expected = [str(p) for p in pd.period_range("2025-10", "2026-12", freq="M")]
    assert months == expected
    assert days.min() >= pd.Timestamp("2025-10-01")
    assert days.max() <= pd.Timestamp("2026-12-31")


def test_scheduled_after_today_completed_up_to_today(tables: dict[str, pd.DataFrame]) -> None:
    """Scheduled visits are after today, completed ones on or before it; some are cancelled."""
    visits = _good_visits(tables)
    days = _service_days(visits)
    today = pd.Timestamp(TODAY)
    assert (days[visits["status"] == "scheduled"] > today).all()
    assert (days[visits["status"] == "completed"] <= today).all()
    assert set(visits["status"]) == {"completed", "scheduled", "cancelled"}
    assert (visits["status"] == "cancelled").mean() < 0.06


def test_visit_lengths_are_realistic(tables: dict[str, pd.DataFrame]) -> None:
    """Most visits last 30 minutes to 4 hours, and minutes are not all multiples of 15."""
    minutes = _timed(_good_visits(tables))["real_minutes"]
    assert minutes.between(30, 240).mean() > 0.7
    assert (minutes % 15 != 0).mean() > 0.8
    assert (minutes < 8).any()  # visits cut short: 0 units under midpoint
    assert minutes.max() <= 24 * 60


def test_some_visits_cross_a_daylight_saving_change(tables: dict[str, pd.DataFrame]) -> None:
    """A visit starts under one UTC offset and ends under another (clocks changed meanwhile)."""
    timed = _timed(_good_visits(tables))
    start = timed["start_utc"].dt.tz_convert(TZ)
    end = timed["end_utc"].dt.tz_convert(TZ)
    start_offsets = np.array([t.utcoffset() for t in start])
    end_offsets = np.array([t.utcoffset() for t in end])
    crossing = timed[start_offsets != end_offsets]
    assert len(crossing) >= 2
    overnight = start.dt.date != end.dt.date
    assert overnight.sum() >= 10


def test_repeated_hour_times_carry_their_offset(tables: dict[str, pd.DataFrame]) -> None:
    """Times in the repeated hour of November are written with their UTC offset."""
    visits = tables["visits"]
    assert "2025-11-02 01:30:00-08:00" in set(visits["start"].dropna())
    assert "2025-11-02 01:15:00-08:00" in set(visits["end"].dropna())


def test_some_visits_are_given_as_date_and_minutes(tables: dict[str, pd.DataFrame]) -> None:
    """A few visits have service_date and minutes instead of start and end."""
    visits = _good_visits(tables)
    given = visits[visits["service_date"].notna()]
    assert 3 <= len(given) <= 0.01 * len(visits)
    assert given["start"].isna().all() and given["end"].isna().all()
    assert pd.to_numeric(given["minutes"]).gt(0).all()
    assert visits.loc[visits["start"].notna(), "minutes"].isna().all()


def test_recorded_units_include_hand_rounding_errors(tables: dict[str, pd.DataFrame]) -> None:
    """Staff-recorded units mostly follow the midpoint rule, but some differ from it.

    data contract §3: midpoint units for 15-minute units are (minutes + 7) // 15.
    """
    procedures = tables["procedures"]
    midpoint = procedures.loc[
        procedures["rounding"].isna() & (procedures["unit_minutes"] == 15), "procedure_code"
    ]
    timed = _timed(_good_visits(tables))
    rows = timed[
        (timed["status"] == "completed")
        & timed["procedure_code"].isin(midpoint)
        & timed["units"].notna()
    ]
    computed = (rows["real_minutes"].astype(int) + 7) // 15
    differ = (computed != rows["units"].astype(int)).sum()
    assert 1 <= differ <= 0.06 * len(rows)
    # Both ways, so that revenue shows units recorded under the rule (lost) and over it.
    assert (rows["units"].astype(int) < computed).sum() >= 3
    assert (rows["units"].astype(int) > computed).sum() >= 3


def test_authorizations_renew_and_some_overlap(tables: dict[str, pd.DataFrame]) -> None:
    """Authorizations renew for the same client and procedure, and some overlap the previous."""
    auths = tables["authorizations"]
    auths = auths[auths["end_date"] >= auths["start_date"]].sort_values(
        ["client_id", "procedure_code", "start_date", "end_date"]
    )
    previous_end = auths.groupby(["client_id", "procedure_code"])["end_date"].shift()
    assert (auths["start_date"] <= previous_end).sum() >= 1
    per_plan = auths.groupby(["client_id", "procedure_code"]).size()
    assert per_plan.max() >= 4


def test_a_december_has_the_most_authorizations_starting(
    tables: dict[str, pd.DataFrame],
) -> None:
    """More authorizations start in one December than in any other month (the seed's spike)."""
    starts = tables["authorizations"]["start_date"].str.slice(0, 7).value_counts()
    assert starts.index[0].endswith("-12")
    assert starts.iloc[0] > starts.iloc[1]


def test_some_services_have_no_authorization(tables: dict[str, pd.DataFrame]) -> None:
    """Some client's billable service was delivered without any authorization."""
    visits = _good_visits(tables)
    billable = tables["procedures"].loc[tables["procedures"]["billable"], "procedure_code"]
    served = visits.loc[visits["procedure_code"].isin(billable), ["client_id", "procedure_code"]]
    authorized = tables["authorizations"][["client_id", "procedure_code"]].drop_duplicates()
    pairs = served.drop_duplicates().merge(authorized, how="left", indicator=True)
    assert (pairs["_merge"] == "left_only").sum() >= 1


def test_some_amounts_are_billed_at_another_rate(tables: dict[str, pd.DataFrame]) -> None:
    """Most billed amounts are units x the contracted rate; a few are not (rate mismatch)."""
    procedures = tables["procedures"].set_index("procedure_code")
    timed = _timed(_good_visits(tables))
    billed = timed[timed["amount_billed"].notna()].copy()
    units = (billed["real_minutes"].astype(int) + 7) // 15
    midpoint = billed["procedure_code"].map(procedures["rounding"]).isna() & billed[
        "procedure_code"
    ].map(procedures["unit_minutes"]).eq(15)
    auths = tables["authorizations"].dropna(subset=["rate"])
    contracted = auths.groupby(["procedure_code", "payer_id"])["rate"].first()
    keys = pd.MultiIndex.from_frame(billed[["procedure_code", "payer_id"]])
    own = pd.Series(contracted.reindex(keys).to_numpy(), index=billed.index)
    rate = own.fillna(billed["procedure_code"].map(procedures["rate"]))
    off = ((billed["amount_billed"] / units - rate).abs() > 0.01)[midpoint]
    assert len(billed) > 100
    assert 1 <= off.sum() <= 0.05 * len(off)


def test_payments_arrive_two_to_eight_weeks_after_service(
    tables: dict[str, pd.DataFrame],
) -> None:
    """Payments are dated 14-56 days after service, none for recent visits; some are denied."""
    visits = _good_visits(tables)
    days = _service_days(visits).set_axis(visits["visit_id"].to_numpy())
    payments = tables["payments"]
    paid = pd.to_datetime(payments["paid_date"], format="%Y-%m-%d")
    lag = (paid.to_numpy() - days.loc[payments["visit_id"]].to_numpy()).astype("timedelta64[D]")
    assert lag.min() >= np.timedelta64(14, "D") and lag.max() <= np.timedelta64(56, "D")
    assert (paid <= pd.Timestamp(TODAY)).all()
    assert payments["visit_id"].is_unique
    insured = payments["visit_id"].map(visits.set_index("visit_id")["payer_id"]) != "PVT"
    assert ((payments["insurance_paid"] == 0) & insured).sum() >= 5
    assert (payments.loc[~insured, "patient_paid"] > 0).any()


def test_visits_carry_case_types_and_payers(tables: dict[str, pd.DataFrame]) -> None:
    """Visits name their case type (waiver, managed care or private) and mostly their payer
    and fieldworker; some insured visits leave the payer to their authorization (never a
    private-pay one), a few have no fieldworker.
    """
    visits = _good_visits(tables)
    assert set(visits["case_type"]) == {"waiver", "managed_care", "private"}
    assert set(visits["payer_id"].dropna()) == set(tables["payers"]["payer_id"])
    assert set(visits["provider_id"].dropna()) <= set(tables["providers"]["provider_id"])
    no_payer = visits["payer_id"].isna()
    assert 0.05 * len(visits) < no_payer.sum() < 0.15 * len(visits)
    assert set(visits.loc[no_payer, "case_type"]) == {"waiver", "managed_care"}
    assert 1 <= visits["provider_id"].isna().sum() < 0.01 * len(visits)


def test_intentional_bad_rows_are_present(tables: dict[str, pd.DataFrame]) -> None:
    """The demo holds one row of each documented error of data contract §2, and no others."""
    visits = tables["visits"]
    assert visits["visit_id"].duplicated().sum() == 1
    unknown = ~visits["procedure_code"].isin(tables["procedures"]["procedure_code"])
    assert visits.loc[unknown, "procedure_code"].tolist() == [demo.BAD_PROCEDURE_CODE]
    minutes = visits["minutes"].dropna()
    assert minutes[pd.to_numeric(minutes, errors="coerce").isna()].tolist() == [demo.BAD_MINUTES]
    timed = _timed(visits)
    assert (timed["real_minutes"] < 0).sum() == 1
    auths = tables["authorizations"]
    assert (auths["end_date"] < auths["start_date"]).sum() == 1
    assert auths["authorization_id"].is_unique
    assert set(visits["client_id"]) <= set(tables["clients"]["client_id"])


def test_visit_count_scales_with_clients_and_months() -> None:
    """2,000 clients over 12 months give about 12 visits per client-month (speed: benchmarks/)."""
    visits = demo.generate(clients=2000, months=12, today=TODAY)["visits"]
    per_client_month = len(visits) / (2000 * 12)
    assert 200_000 <= len(visits) <= 400_000
    assert abs(per_client_month - demo.VISITS_PER_CLIENT_MONTH) < 1.0


def test_denied_payments_carry_their_reason_codes(tables: dict[str, pd.DataFrame]) -> None:
    """Denied payer lines pay nothing and name a reason: CO-197, CO-29 or CO-16."""
    payments = tables["payments"]
    denied = payments[payments["denied"]]
    assert len(denied) > 0
    assert (denied["insurance_paid"] == 0).all()
    assert set(denied["adjustment_reason_codes"]) <= {"CO-197", "CO-29", "CO-16"}
    assert (payments.loc[~payments["denied"], "adjustment_reason_codes"] == "").all()


def test_the_demo_has_limits_that_bind_and_renewals_not_in_yet(
    tables: dict[str, pd.DataFrame],
) -> None:
    """Monthly limits on the waiver's Community Engagement, Specialized Habilitation and
    Staff-Family Consultation plans only; one weekly-capped Respite plan and one daily-capped
    Habilitation plan; after matching, limits stop some visits (`over_limit`) and some
    scheduled visits would not be paid, over a limit or past an authorization's end.
    """
    from utilization.limits import LIMIT_COLUMNS

    auths = tables["authorizations"]
    monthly = auths[auths["units_per_month"].notna()]
    assert set(monthly["procedure_code"]) == set(demo.MONTHLY_LIMITED)
    assert set(monthly["payer_id"]) == {"DDA"}
    weekly = auths[auths["units_per_week"].notna()]
    daily = auths[auths["units_per_day"].notna()]
    assert set(weekly["procedure_code"]) == {"T1005"}
    assert set(daily["procedure_code"]) == {"T2017"} and set(daily["units_per_day"]) == {12}
    assert len(set(weekly["client_id"])) == 1 and len(set(daily["client_id"])) == 1
    assert list(LIMIT_COLUMNS.values()) == ["units_per_day", "units_per_week", "units_per_month"]


def test_the_matched_demo_shows_every_limit_and_scheduling_problem(tmp_path: Path) -> None:
    """On the demo as of its `today`, limits bind (over_limit visits under monthly, weekly and
    daily limits) and the projection finds scheduled visits over a limit, over the units left
    and past an authorization's end.
    """
    from utilization import load
    from utilization.parameters import Request
    from utilization.period import Period
    from utilization.views import build_view

    folder = tmp_path / "data"
    demo.write_demo(folder, today=TODAY)
    dataset = load(folder)
    visits = dataset.visits
    stopped = visits[visits["over_limit"]]
    auths = dataset.authorizations.set_index("authorization_id")
    limited = {
        per: auths[column].notna()
        for per, column in (
            ("day", "units_per_day"),
            ("week", "units_per_week"),
            ("month", "units_per_month"),
        )
    }
    holders = stopped["authorization_id"].map(lambda a: a in auths.index)
    assert holders.all() and len(stopped) > 0
    for per, mask in limited.items():
        ids = set(auths.index[mask])
        assert (stopped["authorization_id"].isin(ids)).any(), per
    figures = build_view(dataset, Request("agency", Period.parse("2026-Q4"), as_of=TODAY))
    schedule = figures.schedule
    assert schedule is not None
    reasons = schedule.loc[schedule["schedule_status"] != "fits", "reason"]
    assert reasons.str.contains("monthly limit").any()
    assert reasons.str.contains("daily limit").any()
    assert reasons.str.contains("units approved of").any()
    assert reasons.str.contains(r"ended \d{4}-\d{2}-\d{2}", regex=True).any()


def test_parts_write_one_agency_of_whole_client_blocks(tmp_path: Path) -> None:
    """`parts=3` writes three blocks of 10 clients, ids numbered on across the blocks: each
    table holds the three blocks' rows, ids are unique but for the demo's one duplicate visit
    per block, and the data is read with three times the demo's five bad rows.
    """
    from utilization import load

    paths = demo.write_demo_parts(
        tmp_path / "csv", "csv", 3, seed=7, clients=30, months=6, today=TODAY
    )
    assert [p.name for p in paths] == [f"{t}.csv" for t in CONTRACT_COLUMNS]
    blocks = [
        demo.generate(
            seed=int(np.random.SeedSequence([7, k]).generate_state(1)[0]),
            clients=10,
            months=6,
            today=TODAY,
        )
        for k in range(3)
    ]
    written = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in paths}
    for name, frame in written.items():
        rows = len(blocks[0][name]) if name in ("procedures", "payers") else None
        assert len(frame) == (rows or sum(len(b[name]) for b in blocks)), name
    assert written["clients"]["client_id"].tolist() == [f"C{i:04d}" for i in range(1, 31)]
    assert written["providers"]["provider_id"].is_unique
    assert written["authorizations"]["authorization_id"].is_unique
    assert written["visits"]["visit_id"].duplicated().sum() == 3
    dataset = load(tmp_path / "csv")
    rejected = dataset.rejects.groupby("table").size().to_dict()
    assert rejected == {"authorizations": 3, "visits": 12}


def test_parts_give_the_same_bytes_and_the_same_rows_as_parquet(tmp_path: Path) -> None:
    """The same arguments write the same CSV bytes, and Parquet holds the same rows."""
    arguments = {"seed": 3, "clients": 12, "months": 4, "today": TODAY}
    first = demo.write_demo(tmp_path / "a", parts=2, **arguments)
    second = demo.write_demo(tmp_path / "b", parts=2, **arguments)
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    parquet = demo.write_demo(tmp_path / "p", fmt="parquet", parts=2, **arguments)
    for csv, table in zip(first, parquet, strict=True):
        read = pd.read_parquet(table)
        assert list(read.columns) == CONTRACT_COLUMNS[table.stem]
        assert len(read) == len(pd.read_csv(csv)), table.name
    assert not [p for p in (tmp_path / "p").iterdir() if p.name.startswith(".")]
