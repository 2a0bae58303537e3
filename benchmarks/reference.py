"""The DuckDB reference of the engine benchmark: the same files, parsing, rounding and group-bys.

`reference(folder)` reads the Parquet tables of one benchmark data folder with DuckDB and
computes what the engine's agency view computes from them, the way a data engineer would
write it in SQL: the visits' times parsed (a date-time without offset is local time in the
agency's zone, one with an offset as given), minutes as real elapsed whole minutes, the
service date as the local date of the start, units by each procedure's unit length and
rounding rule (midpoint, complete, never_zero, per_visit), then the quarter's figures by
procedure code, by client and in total, and the 12-month trend (approved prorated by days,
used, scheduled).

It does NOT validate (no rejects, no duplicate or reference checks) and does NOT match visits
to authorizations (amounts use `amount_billed`, else units x the procedure's rate): the ratio
printed next to it compares the engine's full work with DuckDB doing the parsing, rounding
and aggregation only. DuckDB uses every core; the engine mostly one.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

TIMEZONE = "America/Los_Angeles"
UNIT_MINUTES = 15  # the agency defaults (settings): unit length and rounding rule
ROUNDING = "midpoint"


def reference(folder: Path, start: date, end: date, months: list[date]) -> dict[str, Any]:
    """Time DuckDB on one data folder: load + units, then the agency view's group-bys."""
    import duckdb

    begin = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{TIMEZONE}'")
    con.execute("SET enable_progress_bar = false")
    p = {t: str(folder / f"{t}.parquet") for t in ("visits", "authorizations", "procedures")}
    p["clients"] = str(folder / "clients.parquet")
    con.execute(
        f"""
        CREATE TEMP TABLE procedures AS
        SELECT trim(procedure_code) AS procedure_code, description,
               coalesce(unit_minutes, {UNIT_MINUTES}) AS unit_minutes, rate,
               CASE WHEN coalesce(unit_minutes, {UNIT_MINUTES}) = 0 THEN 'per_visit'
                    ELSE lower(coalesce(rounding, '{ROUNDING}')) END AS rounding,
               coalesce(billable, true) AS billable
        FROM read_parquet('{p["procedures"]}')
        """
    )
    con.execute(
        f"""
        CREATE TEMP TABLE visits AS
        WITH raw AS (
            SELECT visit_id, trim(client_id) AS client_id,
                   trim(procedure_code) AS procedure_code,
                   lower(coalesce(status, 'completed')) AS status, amount_billed,
                   CASE WHEN start IS NULL THEN NULL
                        WHEN length(start) > 19 THEN TRY_CAST(start AS TIMESTAMPTZ)
                        ELSE timezone('{TIMEZONE}', TRY_CAST(start AS TIMESTAMP)) END AS s,
                   CASE WHEN "end" IS NULL THEN NULL
                        WHEN length("end") > 19 THEN TRY_CAST("end" AS TIMESTAMPTZ)
                        ELSE timezone('{TIMEZONE}', TRY_CAST("end" AS TIMESTAMP)) END AS e,
                   TRY_CAST(service_date AS DATE) AS given_date,
                   TRY_CAST(minutes AS BIGINT) AS given_minutes
            FROM read_parquet('{p["visits"]}')
        ), timed AS (
            SELECT *,
                   coalesce(CAST(floor(epoch(e) - epoch(s)) // 60 AS BIGINT), given_minutes)
                       AS minutes,
                   coalesce(CAST(s AS DATE), given_date) AS service_date
            FROM raw
        )
        SELECT t.visit_id, t.client_id, t.procedure_code, t.status, t.service_date,
               t.minutes, p.billable, p.rate,
               CASE p.rounding
                   WHEN 'per_visit' THEN 1
                   WHEN 'complete' THEN t.minutes // p.unit_minutes
                   WHEN 'never_zero' THEN CASE WHEN t.minutes >= 1 THEN greatest(1,
                       (t.minutes + (p.unit_minutes + 1) // 2 - 1) // p.unit_minutes) ELSE 0 END
                   ELSE (t.minutes + (p.unit_minutes + 1) // 2 - 1) // p.unit_minutes
               END AS units,
               t.amount_billed
        FROM timed t JOIN procedures p USING (procedure_code)
        """
    )
    con.execute(
        f"""
        CREATE TEMP TABLE authorizations AS
        SELECT a.authorization_id, trim(a.client_id) AS client_id,
               trim(a.procedure_code) AS procedure_code,
               TRY_CAST(a.start_date AS DATE) AS start_date,
               TRY_CAST(a.end_date AS DATE) AS end_date,
               CAST(a.units_approved AS DOUBLE) AS units_approved,
               coalesce(a.rate, p.rate) AS rate
        FROM read_parquet('{p["authorizations"]}') a
        LEFT JOIN procedures p ON trim(a.procedure_code) = p.procedure_code
        """
    )
    loaded = time.perf_counter() - begin
    clock = time.perf_counter()
    first, last = start.isoformat(), end.isoformat()
    approved = f"""
        SELECT client_id, procedure_code,
               sum(units_approved * overlap / days) AS units_approved,
               sum(units_approved * overlap / days * coalesce(rate, 0)) AS amount_approved
        FROM (SELECT *, datediff('day', start_date, end_date) + 1 AS days,
                     greatest(datediff('day', greatest(start_date, DATE '{first}'),
                                       least(end_date, DATE '{last}')) + 1, 0) AS overlap
              FROM authorizations)
        WHERE overlap > 0
        GROUP BY ALL
    """
    used = f"""
        SELECT client_id, procedure_code,
               sum(CASE WHEN status = 'completed' THEN units ELSE 0 END) AS units_used,
               sum(CASE WHEN status = 'completed'
                        THEN coalesce(amount_billed, units * coalesce(rate, 0)) ELSE 0 END)
                   AS amount_used,
               sum(CASE WHEN status = 'scheduled' THEN units ELSE 0 END) AS units_scheduled
        FROM visits
        WHERE billable AND service_date BETWEEN DATE '{first}' AND DATE '{last}'
        GROUP BY ALL
    """
    con.execute(
        f"""
        CREATE TEMP TABLE detail AS
        SELECT coalesce(a.client_id, u.client_id) AS client_id,
               coalesce(a.procedure_code, u.procedure_code) AS procedure_code,
               coalesce(a.units_approved, 0) AS units_approved,
               coalesce(u.units_used, 0) AS units_used,
               coalesce(u.units_scheduled, 0) AS units_scheduled,
               coalesce(a.amount_approved, 0) AS amount_approved,
               coalesce(u.amount_used, 0) AS amount_used
        FROM ({approved}) a FULL OUTER JOIN ({used}) u
          ON a.client_id = u.client_id AND a.procedure_code = u.procedure_code
        """
    )
    figures = """sum(units_approved) AS units_approved, sum(units_used) AS units_used,
                 sum(units_scheduled) AS units_scheduled,
                 sum(amount_approved) AS amount_approved, sum(amount_used) AS amount_used"""
    kpis = con.execute(f"SELECT {figures} FROM detail").fetchall()
    by_procedure = con.execute(
        f"""SELECT d.procedure_code, p.description, {figures}
            FROM detail d LEFT JOIN procedures p USING (procedure_code)
            GROUP BY ALL ORDER BY 1"""
    ).fetchdf()
    by_client = con.execute(
        f"""SELECT d.client_id, c.client_name, {figures}
            FROM detail d LEFT JOIN read_parquet('{p["clients"]}') c
              ON d.client_id = trim(c.client_id)
            GROUP BY ALL ORDER BY 2, 1"""
    ).fetchdf()
    month_rows = ", ".join(f"(DATE '{m.isoformat()}')" for m in months)
    monthly = con.execute(
        f"""
        WITH months(first) AS (VALUES {month_rows}),
        bounds AS (SELECT first, CAST(first + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE) AS last
                   FROM months),
        approved AS (
            SELECT b.first, sum(a.units_approved * (datediff('day',
                       greatest(a.start_date, b.first), least(a.end_date, b.last)) + 1)
                       / (datediff('day', a.start_date, a.end_date) + 1)) AS units_approved
            FROM bounds b JOIN authorizations a
              ON a.start_date <= b.last AND a.end_date >= b.first
            GROUP BY ALL),
        used AS (
            SELECT date_trunc('month', service_date) AS first,
                   sum(CASE WHEN status = 'completed' THEN units ELSE 0 END) AS units_used,
                   sum(CASE WHEN status = 'scheduled' THEN units ELSE 0 END) AS units_scheduled
            FROM visits WHERE billable GROUP BY ALL)
        SELECT b.first, a.units_approved, u.units_used, u.units_scheduled
        FROM bounds b LEFT JOIN approved a USING (first) LEFT JOIN used u USING (first)
        ORDER BY 1
        """
    ).fetchdf()
    grouped = time.perf_counter() - clock
    visits = con.execute("SELECT count(*) FROM visits").fetchone()
    read = con.execute(f"SELECT count(*) FROM read_parquet('{p['visits']}')").fetchone()
    con.close()
    return {
        "times": {"load_units": loaded, "figures": grouped},
        "visits_read": int(read[0]) if read else 0,
        "visits": int(visits[0]) if visits else 0,
        "units_used": float(kpis[0][1] or 0),
        "rows": len(by_procedure) + len(by_client) + len(monthly),
    }
