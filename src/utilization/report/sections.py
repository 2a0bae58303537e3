"""What each report view shows, section by section: the calls the template notebooks make."""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, fields
from html import escape
from pathlib import PurePath
from typing import Any, cast

import pandas as pd

from utilization import providers, views
from utilization.dataset import Dataset
from utilization.exceptions import InputError
from utilization.figures import ViewFigures
from utilization.parameters import Request
from utilization.pipeline import load_cached, prepared_slice
from utilization.report import charts, tables, words
from utilization.schedule import not_paid_rows
from utilization.views import build_view

DETAIL_COLUMNS = {
    "client_name": "Client",
    "client_id": "Client id",
    "procedure_code": "Procedure",
    "description": "Type",
    "units_approved": "Units approved",
    "units_used": "Units used",
    "units_scheduled": "Units scheduled",
    "units_remaining": "Units remaining",
    "amount_approved": "Amount approved",
    "amount_used": "Amount used",
    "utilization": "Utilization",
}
BALANCE_COLUMNS = {
    "authorization_id": "Authorization",
    "client_name": "Client",
    "procedure_code": "Procedure",
    "start_date": "Starts",
    "end_date": "Ends",
    "units_approved": "Units approved",
    "units_used": "Units used",
    "units_scheduled": "Units scheduled",
    "units_remaining": "Units remaining",
    "pace": "Pace",
    "projected_exhaustion_date": "Runs out (at pace)",
    "status": "Status",
}
FLAG_LABELS = {
    "unauthorized_service": "Unauthorized service",
    "over_authorization": "Over authorization",
    "rate_mismatch": "Rate mismatch",
    "units_mismatch": "Units recorded by hand differ from the rule",
    "long_visit": "Visit longer than 24 hours",
    "authorization_exhausted": "Authorization exhausted",
    "authorization_at_risk": "Authorization at risk",
    "authorization_expiring": "Authorization expiring",
    "authorization_under_used": "Authorization under-used",
    "over_limit": "Over a limit per day, week or month",
    "scheduled_over_authorization": "Scheduled visit over the authorization",
    "scheduled_unauthorized": "Scheduled visit without an authorization",
    "authorization_limit_reached": "Authorization limit reached this period",
}
FILTER_LABELS = {
    "client_id": "client",
    "procedure_code": "procedure code",
    "payer_id": "payer",
    "provider_id": "provider",
    "case_type": "case type",
}
SECTIONS: dict[str, tuple[str | None, str]] = {
    # section name (views.View.sections) -> (heading, the template cell's code)
    "kpis": ("Key figures", "display_html(report.kpis_html())"),
    "family": ("Where the authorized units stand", "display_html(report.family_summary_html())"),
    "by_procedure": (
        "Units approved and used by procedure code",
        "show(report.chart_by_procedure())",
    ),
    "by_client": ("Units approved and used by client", "show(report.chart_by_client())"),
    "monthly": ("Units over 12 months", "show(report.chart_monthly())"),
    "balances_chart": ("Authorization balances", "show(report.chart_balances())"),
    "detail": ("Detail", "display_html(report.detail_html())"),
    "per_client": ("Clients receiving this service", "display_html(report.per_client_html())"),
    "rate_check": ("Rate check", "display_html(report.rate_check_html())"),
    "balances": (
        "Authorization balances, as of the balance date",
        "display_html(report.balances_html())",
    ),
    "service_chart": ("Billed and paid by service code", "show(report.chart_service_codes())"),
    "service_table": ("Service code usage", "display_html(report.service_codes_html())"),
    "limits": (
        "Limits per day, week and month, this period",
        "display_html(report.limits_html())",
    ),
    "schedule": (
        "Scheduled visits that would not be paid",
        "display_html(report.schedule_html())",
    ),
    "schedule_summary": (
        "Scheduled visits that would not be paid",
        "display_html(report.schedule_summary_html())",
    ),
    "flags": ("Flags", "display_html(report.flags_html())"),
    "method": ("How these numbers were made", "display_html(report.method_html())"),
    "explore": (None, "explore(report, batch)"),
    "revenue_summary": (
        "Where the authorized dollars went",
        "display_html(report.revenue_summary_html())",
    ),
    "revenue_chart": (None, "show(report.chart_revenue())"),
    "revenue_table": ("Every revenue figure", "display_html(report.revenue_table_html())"),
    "revenue_clients": (
        "Largest losses by client",
        "display_html(report.revenue_clients_html())",
    ),
    "revenue_procedures": (
        "Largest losses by procedure code",
        "display_html(report.revenue_procedures_html())",
    ),
    "revenue_providers": (
        "Largest losses by fieldworker",
        "display_html(report.revenue_providers_html())",
    ),
    "by_provider": ("By fieldworker", "display_html(report.by_provider_html())"),
    "by_payer": ("By payer: approved, used and paid", "display_html(report.by_payer_html())"),
    "provider_summary": (
        "The fieldworker's figures",
        "display_html(report.provider_summary_html())",
    ),
    "provider_clients": ("Clients served", "display_html(report.provider_clients_html())"),
    "provider_procedures": (
        "Units delivered by procedure code",
        "display_html(report.provider_procedures_html())",
    ),
    "mismatches": (
        "Visits whose recorded units differ from the rule",
        "display_html(report.mismatches_html())",
    ),
}
"""Every section a view can list: its heading and the one call its template cell makes."""
FLAG_ROWS_PER_KIND = 10  # the report lists this many flags of each kind; the export has them all
CHART_AUTHORIZATIONS = 25  # the balances chart draws this many; the table lists them all
CHART_CLIENTS = 40  # the by-client chart draws the clients with the most units approved
TABLE_ROWS = 500
"""A table of one row per client, client and procedure code, authorization or limit lists at
most this many, in the order of the figures; every row is in a CSV beside the report
(`<report>.<figure>.csv`, `LONG_TABLES`): an agency of 70,000 clients gets a page a browser
opens and a printer prints, not 200,000 rows (50 MB of HTML)."""
LONG_TABLES = {
    "detail": "detail",
    "per_client": "by_client",
    "balances": "authorizations",
    "limits": "limits",
}
"""The sections showing a figure's rows up to `TABLE_ROWS`, and the figure each shows."""
STATUS_ORDER = ("exhausted", "limit reached", "at risk", "expiring", "under-used", "ok", "expired")
SCHEDULE_ROWS = 25  # the agency report lists this many scheduled visits; the export has all
PER_WORDS = {"day": "a day", "week": "a week", "month": "a month"}
LOSS_ROWS = 10  # the largest losses by client, procedure code and fieldworker listed
PROVIDER_ROWS = 20  # the agency's by-fieldworker table lists this many; the CSV has them all
MISMATCH_ROWS = 50  # visits whose recorded units differ, listed in the provider report
BY_PROVIDER_FILE = "by_provider.csv"
REVENUE_LABELS = {
    "approved": "Approved",
    "delivered": "Delivered",
    "not_delivered": "Not delivered",
    "cancelled": "Cancelled visits",
    "unauthorized": "Unauthorized services",
    "over_authorization": "Over authorization",
    "under_recorded": "Recorded under the rule (hand rounding, missing partials)",
    "over_recorded": "Recorded over the rule (overbilling risk)",
    "insurance_paid": "Insurance paid",
}
REVENUE_MEANINGS = {
    "approved": "authorized for the period",
    "delivered": "completed visits, all their units",
    "not_delivered": "approved but not delivered, per client and procedure code",
    "cancelled": "cancelled visits, by their planned times",
    "unauthorized": "delivered with no authorization holding the date",
    "over_authorization": "delivered beyond the authorized units",
    "under_recorded": "units staff recorded below the rule: lost if billed as recorded",
    "over_recorded": "units staff recorded above the rule: overbilled if billed as recorded",
    "insurance_paid": "paid by the payers for the delivered visits, so far",
}
LOSS_COLUMNS = {
    "not_delivered_amount": "Not delivered",
    "unauthorized_amount": "Unauthorized",
    "over_authorization_amount": "Over authorization",
    "under_recorded_amount": "Hand-rounded (under the rule)",
    "lost_amount": "Total lost",
    "cancelled_amount": "Cancelled visits",
}
"""The loss columns of the largest-losses tables; total lost = the first four."""
LOSS_NOTES = {
    "revenue_by_client": (
        "Total lost = not delivered + unauthorized + over authorization + hand-rounded; "
        "cancelled visits are shown beside it (their hours are part of what was not "
        "delivered unless they were made up)."
    ),
    "by_provider": (
        "Total lost = cancelled + unauthorized + over authorization + hand-rounded, of the "
        "fieldworker's visits; capacity not delivered belongs to no fieldworker."
    ),
}
LOSS_NOTES["revenue_by_procedure"] = LOSS_NOTES["revenue_by_client"]
PROVIDER_COLUMNS = {
    "provider_name": "Fieldworker",
    "provider_id": "Id",
    "clients": "Clients",
    "visits": "Visits",
    "units_used": "Units used",
    "amount_used": "Amount used",
    "visits_cancelled": "Visits cancelled",
    "units_cancelled": "Units cancelled",
    "units_unauthorized": "Units unauthorized",
    "units_over_authorization": "Units over authorization",
    "units_mismatch_visits": "Visits with recorded units off the rule",
}
VISIT_COLUMNS = {
    "delivered_units": "Units delivered",
    "delivered_amount": "Amount delivered",
    "cancelled_units": "Units cancelled",
    "unauthorized_units": "Units unauthorized",
    "over_authorization_units": "Units over authorization",
    "under_recorded_units": "Units recorded under the rule",
    "over_recorded_units": "Units recorded over the rule",
}
"""A fieldworker's figures per client or procedure code: their visits' categories (§12)."""


def open_report(
    view: str,
    data: str = "demo",
    settings: str = "",
    data_slice: str = "",
    rejects_href: str = "rejects.csv",
    report_name: str = "",
    **params: Any,
) -> Report:
    """The report a template's parameters ask for: the request, the data (loaded once per
    kernel, `pipeline.load_cached`) and every figure of the view. `report_name`: the report's
    file name without extension, which names the files written beside it (`files`).

    A `data_slice` holding the view's figures made in parts (`dataset.PreparedView`, as
    `utilization report` and batch runs make them of large data) gives them as they are;
    InputError when they were made for another request than these parameters make.
    """
    request = Request.from_notebook(view, data=data, settings=settings, **params)
    made = prepared_slice(data_slice)
    if made is not None:
        if made.request != request:
            differ = ", ".join(
                f"{f.name} {getattr(made.request, f.name)} (asked: {getattr(request, f.name)})"
                for f in fields(request)
                if getattr(made.request, f.name) != getattr(request, f.name)
            )
            msg = (
                f"{data_slice} holds the figures of another request than this report's: "
                f"{differ}; make the report again from the data"
            )
            raise InputError(msg)
        return Report(made.context, request, made.figures, rejects_href, report_name, True)
    dataset = load_cached(data, settings, data_slice)
    return Report(dataset, request, build_view(dataset, request), rejects_href, report_name)


@dataclass
class Report:
    """One view of one dataset: its figures, and the sections a template displays."""

    dataset: Dataset
    request: Request
    figures: ViewFigures
    rejects_href: str = "rejects.csv"
    report_name: str = ""
    in_parts: bool = False  # figures made in parts: `dataset` holds no visit (`PreparedView`)

    # Text -------------------------------------------------------------------------------
    @property
    def subject(self) -> str:
        """Who or what the report is about, in words."""
        f = self.request.filters
        if self.request.view == "client":
            names = self.dataset.clients.set_index("client_id")["client_name"]
            return f"{names.get(f.clients[0], f.clients[0])} ({f.clients[0]})"
        if self.request.view == "procedure":
            descriptions = self.dataset.procedures.set_index("procedure_code")["description"]
            return f"{f.procedures[0]} {descriptions.get(f.procedures[0], '')}".strip()
        if self.request.view == "provider":
            names = self.dataset.providers.set_index("provider_id")["provider_name"]
            return f"{names.get(f.providers[0], f.providers[0])} ({f.providers[0]})"
        return "All clients and services"

    @property
    def title(self) -> str:
        """The page title."""
        return views.get(self.request.view).title

    @property
    def period_text(self) -> str:
        """The period, e.g. `1 Jan 2026 – 31 Mar 2026`."""
        p = self.request.period
        return f"{words.day_words(p.start)} – {words.day_words(p.end)}"

    @property
    def running_header(self) -> str:
        """The text at the top of every PDF page."""
        return f"{self.title} · {self.subject} · {self.period_text}"

    def header_html(self) -> str:
        """Subject, period, filters in force, as-of date and newest payment included."""
        fig = self.figures
        shown = filters_text(fig.filters or {})
        newest = fig.newest_payment_date
        facts = [
            ("About", self.subject),
            ("Period", self.period_text),
            ("Filters", shown),
            ("Balances as of", words.day_words(fig.as_of)),
            ("Units approved basis", fig.basis),
            ("Newest payment included", words.day_words(newest) if newest else "none yet"),
            ("Data", fig.source),
        ]
        if self.request.view in ("service-codes", "provider"):  # no authorization shown
            facts = [f for f in facts if f[0] not in ("Balances as of", "Units approved basis")]
        cells = [(k, _source_html(str(v)) if k == "Data" else escape(str(v))) for k, v in facts]
        rows = "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in cells)
        return f'<dl class="report-facts">{rows}</dl>\n'

    def family_summary_html(self) -> str:
        """Plain sentences a family can follow, one per authorization of the period."""
        balances = self.figures.authorizations
        if balances.empty:
            return "<p>No authorizations cover this period.</p>\n"
        procedures = self.dataset.procedures.set_index("procedure_code")
        items = []
        for row in balances.itertuples(index=False):
            row = cast(Any, row)
            description = procedures["description"].get(row.procedure_code, row.procedure_code)
            minutes = int(procedures["unit_minutes"].get(row.procedure_code, 15))
            left = max(float(row.units_remaining), 0.0)
            text = (
                f"{_count(left)} of {_count(row.units_approved)} units of {description} left "
                f"until {words.day_words(row.end_date)}"
            )
            if minutes:
                text += f" (about {words.hours_words(left * minutes / 60)})"
            text += "."
            if row.status == "exhausted":
                text = (
                    f"All {_count(row.units_approved)} units of {description} are used "
                    f"(until {words.day_words(row.end_date)})."
                )
            elif row.status == "at risk" and not pd.isna(row.projected_exhaustion_date):
                runs_out = words.day_words(row.projected_exhaustion_date)
                text += f" At the current pace they run out around {runs_out}."
            elif row.status == "expired":
                text = (
                    f"The authorization for {description} ended on {words.day_words(row.end_date)}."
                )
            if row.status not in ("exhausted", "expired"):
                pace = words.pace_sentence(
                    row.units_per_week_needed, left, description, row.end_date, minutes, True
                )
                text += f" {pace}" if pace else ""
                if pace:
                    text += self._pace_beyond_limit(row.authorization_id, row.units_per_week_needed)
            items.append(f"<li>{escape(text)}</li>")
        items += [f"<li>{escape(t)}</li>" for t in self._family_limits_and_schedule()]
        return f'<ul class="family-summary">{"".join(items)}</ul>\n'

    def _pace_beyond_limit(self, authorization_id: str, per_week: float) -> str:
        """` Its limit of 9 units a week allows less, so not all of them can be used.` when
        the weekly pace needed is more than the authorization's limit per week (or seven
        times its limit per day) lets a week hold; else ''. A family told to use 205 units a
        week a few lines above "limited to 9 units a week" would not know which to follow.
        """
        limits = self.figures.limits  # those of the authorizations holding the balance date
        if limits is None or limits.empty or pd.isna(per_week):
            return ""
        mine = limits[limits["authorization_id"].astype(str).eq(str(authorization_id)).to_numpy()]
        for per, words_per, week in (("week", "a week", 1), ("day", "a day", 7)):
            limit = mine.loc[mine["per"].eq(per).to_numpy(), "units_limit"]
            if len(limit) and per_week > float(limit.iloc[0]) * week + 1e-9:
                return (
                    f" Its limit of {_count(float(limit.iloc[0]))} units {words_per} allows "
                    "less, so not all of them can be used."
                )
        return ""

    def _family_limits_and_schedule(self) -> list[str]:
        """Plain sentences on each limit's current period and on scheduled visits that
        would not be paid (data contract §10, §11).
        """
        texts = []
        procedures = self.dataset.procedures.set_index("procedure_code")["description"]
        balances = self.figures.authorizations.set_index("authorization_id")
        codes = balances["procedure_code"]
        limits = self.figures.limits
        rows = [] if limits is None else limits.to_dict("records")
        services = [codes.get(row["authorization_id"], "") for row in rows]
        for row, code in zip(rows, services, strict=True):
            service = procedures.get(code, code)
            if services.count(code) > 1:  # two authorizations of one service: which is which
                auth = balances.loc[row["authorization_id"]]
                start, end = words.day_words(auth["start_date"]), words.day_words(auth["end_date"])
                service = f"{service} (authorized {start} – {end})"
            limit = f"{_count(row['units_limit'])} units {PER_WORDS[row['per']]}"
            texts.append(f"{service}, limited to {limit}: {limit_sentence(row)}.")
        schedule = self.figures.schedule
        if schedule is not None:
            problems = not_paid_rows(schedule)
            for code, group in problems.groupby("procedure_code", sort=True):
                service = procedures.get(code, code)
                first, last = group["service_date"].min(), group["service_date"].max()
                when = (
                    words.day_words(first)
                    if first == last
                    else f"{words.day_words(first)} – {words.day_words(last)}"
                )
                visits = "visit" if len(group) == 1 else "visits"
                texts.append(
                    f"{len(group)} scheduled {service} {visits} ({when}) would not be paid "
                    f"for {_count(group['units_not_paid'].sum())} units: {group['reason'].iloc[0]}"
                    + (" (and others)." if group["reason"].nunique() > 1 else ".")
                )
        return texts

    def method_html(self) -> str:
        """How the numbers were made: rounding rules, approved basis, rows rejected."""
        rules = self.figures.rounding_rules
        counts = self.dataset.row_counts
        rejected = int(counts["rows_rejected"].sum()) if len(counts) else 0
        basis = self.figures.basis
        basis_text = (
            "each authorization counts in proportion to its days inside the period"
            if basis == "prorated"
            else "each authorization overlapping the period counts with all its units"
        )
        if self.rejects_href:
            where = (
                "The rejected rows, with table, row, column, value, reason and code: "
                f'<a href="{escape(self.rejects_href, quote=True)}">'
                f"{escape(self.rejects_href)}</a>.</p>"
            )
        else:  # the dashboard: no file beside the page
            where = (
                "The rejected rows, with table, row, column, value, reason and code, are in the "
                "Excel download (sheet rejects).</p>"
            )
        parts = [
            f"<p>Units approved basis: <b>{escape(basis)}</b>: {escape(basis_text)}. "
            "Units are whole numbers computed from the visit's real elapsed minutes by the rule of "
            "its procedure; amounts are rounded to cents once, when shown.</p>",
            tables.table(
                rules,
                columns={
                    "procedure_code": "Procedure",
                    "description": "Type",
                    "unit_minutes": "Minutes per unit",
                    "rounding": "Rounding rule",
                    "rate": "Rate",
                    "billable": "Billable",
                },
                money=["rate"],
            ),
            f"<p><b>{rejected:,}</b> input row(s) rejected. " + where,
            tables.table(
                counts,
                columns={
                    "table": "Table",
                    "rows_read": "Rows read",
                    "rows_used": "Rows used",
                    "rows_rejected": "Rows rejected",
                },
            ),
        ]
        return "".join(parts)

    def meta(self) -> dict[str, str]:
        """What the renderer needs to know about this report: title, subject, header text."""
        return {
            "view": self.request.view,
            "title": self.title,
            "subject": self.subject,
            "period": self.period_text,
            "subtitle": f"{self.subject} · {self.period_text}",
            "running_header": self.running_header,
        }

    def publish(self) -> None:
        """Display the report's facts; the output carries `meta()` for the renderer."""
        from IPython.display import display

        metadata: dict[str, Any] = {"utilization": self.meta()}
        files = self.files()
        if files:  # written beside the report by the renderer (`runner.report_files`)
            metadata["utilization_files"] = files
        display({"text/html": self.header_html()}, raw=True, metadata=metadata)

    def checks_text(self) -> str:
        """Invariants that must hold on any data: totals reconcile, row counts add up."""
        fig = self.figures
        kpis = fig.kpis
        lines = []
        for name in ("by_procedure", "by_client", "detail"):
            frame = getattr(fig, name)
            ok = all(
                abs(float(frame[c].sum()) - float(kpis[c] or 0.0)) < 0.005
                for c in ("units_approved", "units_used", "amount_approved", "amount_used")
            )
            lines.append(f"{name} adds up to the totals: {ok}")
        counts = self.dataset.row_counts
        balanced = bool(
            (counts["rows_read"] == counts["rows_used"] + counts["rows_rejected"]).all()
        )
        lines.append(f"rows read = rows used + rows rejected, every table: {balanced}")
        lines.append(f"monthly trend has 12 months: {len(fig.monthly) == 12}")
        return "\n".join(lines)

    # Tables -----------------------------------------------------------------------------
    def kpis_html(self) -> str:
        """KPI cards of the period."""
        return tables.kpi_cards(self.figures.kpis)

    def detail_html(self) -> str:
        """One row per client and procedure (the client view leaves out the client columns:
        every row is that client's).
        """
        columns = dict(DETAIL_COLUMNS)
        if self.request.view == "client":
            del columns["client_name"], columns["client_id"]
        shown, note = self._long("detail", self.figures.detail, "client and procedure rows")
        return note + tables.table(
            shown,
            columns=columns,
            money=["amount_approved", "amount_used"],
            units=["units_approved", "units_used", "units_scheduled", "units_remaining"],
            percent=["utilization"],
        )

    def per_client_html(self) -> str:
        """One row per client (procedure view)."""
        columns = {
            k: v for k, v in DETAIL_COLUMNS.items() if k not in ("procedure_code", "description")
        }
        shown, note = self._long("by_client", self.figures.by_client, "clients")
        return note + tables.table(
            shown,
            columns=columns,
            money=["amount_approved", "amount_used"],
            units=["units_approved", "units_used", "units_scheduled", "units_remaining"],
            percent=["utilization"],
        )

    def rate_check_html(self) -> str:
        """Procedure view: rate used (amount used / units used) beside the contracted rates,
        those of the authorizations of the period and filters (`ViewFigures.authorizations`).
        """
        frame = self.figures.by_procedure.copy()
        frame["rate_used"] = frame["amount_used"] / frame["units_used"].where(
            frame["units_used"] > 0
        )
        rates = self.figures.authorizations.groupby("procedure_code")["rate"].agg(
            lambda s: ", ".join(sorted({f"${v:,.2f}" for v in s.dropna()}))
        )
        frame["contracted"] = frame["procedure_code"].map(rates).fillna("—")
        return tables.table(
            frame,
            columns={
                "procedure_code": "Procedure",
                "units_used": "Units used",
                "amount_used": "Amount used",
                "rate_used": "Rate used (amount ÷ units)",
                "contracted": "Authorized rate(s)",
            },
            money=["amount_used", "rate_used"],
            units=["units_used"],
        )

    def flags_html(self) -> str:
        """Flags of the period: an exact count per kind, then at most `FLAG_ROWS_PER_KIND`
        rows of each kind (in date order), saying how many more the JSON/CSV export holds.
        """
        flags = self.figures.flags
        if self.request.view == "provider":  # the fieldworker's visits: no authorization flags
            flags = flags[flags["visit_id"].notna().to_numpy()]
        if flags.empty:
            return "<p>No flags for this period.</p>\n"
        counts = flags.groupby("kind").size()
        summary = "".join(
            f"<li>{escape(FLAG_LABELS.get(str(kind), str(kind)))}: <b>{count:,}</b></li>"
            for kind, count in counts.items()
        )
        shown = flags.groupby("kind", sort=True, group_keys=False).head(FLAG_ROWS_PER_KIND)
        more = len(flags) - len(shown)
        note = ""
        if more:
            note = (
                f'<p class="flag-note">Listed: the first {FLAG_ROWS_PER_KIND} flags of each kind, '
                f"{len(shown):,} of {len(flags):,}. The other {more:,} are in the export "
                f"(<code>utilization export {escape(self.request.view)} --format csv</code>, "
                "file flags.csv; or the JSON export).</p>"
            )
        frame = shown.assign(kind=shown["kind"].map(FLAG_LABELS).fillna(shown["kind"]))
        return (
            f'<ul class="flag-counts">{summary}</ul>\n'
            + note
            + tables.table(
                frame,
                columns={
                    "kind": "Flag",
                    "visit_id": "Visit",
                    "authorization_id": "Authorization",
                    "client_id": "Client",
                    "procedure_code": "Procedure",
                    "service_date": "Date",
                    "units": "Units",
                    "detail": "Detail",
                },
                units=["units"],
            )
        )

    def limits_html(self) -> str:
        """Each limit of the authorizations holding the balance date, for the calendar period
        holding it: "March: 82 of 100 units used, 18 left until 31 Mar" (§10).
        """
        limits = self.figures.limits
        if limits is None or limits.empty:
            return "<p>No limit per day, week or month applies on the balance date.</p>\n"
        procedures = self.figures.authorizations.set_index("authorization_id")["procedure_code"]
        limits, note = self._long("limits", limits, "limits")
        frame = limits.assign(
            procedure_code=limits["authorization_id"].map(procedures),
            limit=[
                f"{_count(u)} {PER_WORDS[p]}"
                for u, p in zip(limits["units_limit"], limits["per"], strict=True)
            ],
            this_period=[limit_sentence(r) for r in limits.to_dict("records")],
        )
        return note + tables.table(
            frame,
            columns={
                "authorization_id": "Authorization",
                "procedure_code": "Procedure",
                "limit": "Limit",
                "this_period": "This period",
                "units_scheduled": "Units scheduled after the balance date",
            },
            units=["units_scheduled"],
        )

    def schedule_html(self) -> str:
        """Scheduled visits of the period that would not be paid in full, with the reason
        (§11); the client view leaves out the client column.
        """
        schedule = self.figures.schedule
        problems = None if schedule is None else not_paid_rows(schedule)
        if problems is None or problems.empty:
            return "<p>Every scheduled visit of this period would be paid.</p>\n"
        names = self.dataset.clients.set_index("client_id")["client_name"]
        frame = problems.assign(client_name=problems["client_id"].map(names))
        columns = {
            "service_date": "Date",
            "client_name": "Client",
            "procedure_code": "Procedure",
            "units": "Units",
            "units_not_paid": "Units not paid",
            "reason": "Why",
        }
        if self.request.view == "client":
            del columns["client_name"]
        shown = frame.head(SCHEDULE_ROWS if self.request.view == "agency" else TABLE_ROWS)
        note = ""
        if len(shown) < len(frame):
            note = (
                f'<p class="flag-note">Listed: the first {len(shown):,} of {len(frame):,}. '
                "All are in <code>utilization check-schedule</code> and the export "
                "(<code>schedule</code>).</p>"
            )
        return note + tables.table(shown, columns=columns, units=["units", "units_not_paid"])

    def schedule_summary_html(self) -> str:
        """Agency view: how many scheduled visits of the period would not be paid, then the
        first of them.
        """
        schedule = self.figures.schedule
        if schedule is None or schedule.empty:
            return "<p>No scheduled visits in this period.</p>\n"
        over = schedule[schedule["schedule_status"] == "over"]
        unauthorized = schedule[schedule["schedule_status"] == "unauthorized"]
        text = (
            f"<p>{len(over) + len(unauthorized):,} of {len(schedule):,} scheduled visits would "
            f"not be paid in full: <b>{len(over):,}</b> over an authorization's units or limits "
            f"({_count(over['units_over'].sum())} units), <b>{len(unauthorized):,}</b> without "
            f"an authorization ({_count(unauthorized['units'].sum())} units).</p>\n"
        )
        if len(over) + len(unauthorized) == 0:
            return text
        return text + self.schedule_html()

    def balances_html(self) -> str:
        """Authorization balances as of the as-of date (the client view leaves out the
        client column: every row is that client's).
        """
        columns = dict(BALANCE_COLUMNS)
        if self.request.view == "client":
            del columns["client_name"]
        frame = self.figures.authorizations
        shown, note = self._long("authorizations", frame, "authorizations")
        return note + tables.table(
            balances_shown(shown),
            columns=columns,
            units=["units_approved", "units_used", "units_scheduled", "units_remaining"],
            percent=["pace"],
        )

    def service_codes_html(self) -> str:
        """Service code usage: units billed, visits, total billed, insurance paid."""
        return tables.table(
            self._service_codes(),
            columns={
                "procedure_code": "Service code",
                "description": "Description",
                "billable": "Billable",
                "units_billed": "Units billed",
                "visits": "Visits",
                "total_billed": "Total billed",
                "insurance_paid": "Insurance paid",
                "paid_share": "Paid share of billed",
                "denied_lines": "Denied lines",
                "denial_reasons": "Denial reasons",
            },
            money=["total_billed", "insurance_paid"],
            units=["units_billed", "visits", "denied_lines"],
            percent=["paid_share"],
        ) + (
            "<p>Insurance paid counts the payer's payments for these visits whatever the day they "
            "were paid, so it grows as payments arrive; patient payments are not included. "
            "Denial reasons are the adjustment reason codes of the denied 835 lines.</p>\n"
        )

    # Charts -----------------------------------------------------------------------------
    def chart_by_procedure(self) -> charts.ChartLike:
        """Units approved vs used per procedure code."""
        return charts.approved_vs_used(self.figures.by_procedure, by="procedure_code")

    def chart_by_client(self) -> charts.ChartLike:
        """Units approved vs used per client; with more than `CHART_CLIENTS`, those with the
        most units approved (ties by name), so the chart stays readable on a page.
        """
        frame = self.figures.by_client
        if len(frame) <= CHART_CLIENTS:
            return charts.approved_vs_used(frame, by="client_name")
        chosen = frame.sort_values(
            ["units_approved", "client_name", "client_id"], ascending=[False, True, True]
        ).head(CHART_CLIENTS)
        title = (
            f"Units approved and units used: the {CHART_CLIENTS} clients with the most units "
            f"approved, of {len(frame):,}"
        )
        return charts.approved_vs_used(chosen, by="client_name", title=title)

    def chart_monthly(self) -> charts.ChartLike:
        """Units approved vs used over the 12 months ending with the period."""
        return charts.monthly_trend(self.figures.monthly)

    def chart_balances(self) -> charts.ChartLike:
        """Used, scheduled and remaining units per authorization; with more than
        `CHART_AUTHORIZATIONS`, those nearest to running out (exhausted, at risk, expiring,
        under-used, then the rest), so the chart stays readable on a page.
        """
        frame = self.figures.authorizations
        limits = self.figures.limits
        marks: dict[str, str] = {}
        if limits is not None:
            for row in limits.to_dict("records"):
                mark = f"{_count(row['units_limit'])} {PER_WORDS[row['per']]}"
                auth = str(row["authorization_id"])
                marks[auth] = f"{marks[auth]}, {mark}" if auth in marks else mark
        if len(frame) <= CHART_AUTHORIZATIONS:
            return charts.authorization_balances(frame, limits=marks)
        rank = frame["status"].map({s: i for i, s in enumerate(STATUS_ORDER)})
        chosen = (
            frame.assign(_rank=rank.fillna(len(STATUS_ORDER)))
            .sort_values(["_rank", "used_share", "authorization_id"], ascending=[True, False, True])
            .head(CHART_AUTHORIZATIONS)
            .drop(columns="_rank")
        )
        title = (
            f"Authorization balances: the {CHART_AUTHORIZATIONS} nearest to running out, "
            f"of {len(frame):,} (all in the table)"
        )
        return charts.authorization_balances(chosen, title=title, limits=marks)

    def chart_service_codes(self) -> charts.ChartLike:
        """Billed vs paid per service code."""
        return charts.service_codes(self._service_codes())

    def _service_codes(self) -> pd.DataFrame:
        """The service code usage frame, which only the service-codes view computes."""
        frame = self.figures.service_codes
        if frame is None:
            msg = f"the {self.request.view} view has no service code usage section"
            raise ValueError(msg)
        return frame

    # Revenue, fieldworkers, payers (data contract §12, §13) ------------------------------
    @property
    def by_provider_href(self) -> str:
        """The link to the full by-fieldworker table, a CSV written beside the report."""
        return f"{self.report_name}.{BY_PROVIDER_FILE}" if self.report_name else BY_PROVIDER_FILE

    def _frame(self, key: str) -> pd.DataFrame:
        """A revenue, fieldworker or payer frame, which every view but service-codes has."""
        frame = getattr(self.figures, key)
        if frame is None:
            msg = f"the {self.request.view} view has no {key} figures"
            raise ValueError(msg)
        result: pd.DataFrame = frame
        return result

    def _visit_filters(self) -> bool:
        """Whether a filter that describes visits only (provider, case type, billable) is set."""
        f = self.request.filters
        return bool(f.providers or f.case_types or f.billable is not None)

    def revenue_summary_html(self) -> str:
        """Where the authorized dollars went, in words (`words.revenue_paragraph`)."""
        text = words.revenue_paragraph(
            self._frame("revenue"),
            self._frame("revenue_by_procedure"),
            self.request.period,
            self.figures.newest_payment_date,
        )
        note = ""
        if self._visit_filters():
            note = (
                '<p class="revenue-note">Approved and not delivered are those of every visit: '
                "the provider, case type and billable filters narrow the other figures only.</p>"
            )
        return f'<p class="revenue-summary">{escape(text)}</p>\n{note}'

    def chart_revenue(self) -> charts.ChartLike:
        """The waterfall from dollars approved to dollars delivered to dollars paid."""
        steps = charts.revenue_steps(self._frame("revenue"), self._visit_filters())
        return charts.revenue_waterfall(steps)

    def revenue_table_html(self) -> str:
        """Every category of §12 with its units and dollars, and what it means."""
        frame = self._frame("revenue").copy()
        frame["meaning"] = frame["category"].map(REVENUE_MEANINGS)
        frame["category"] = frame["category"].map(REVENUE_LABELS)
        return tables.table(
            frame,
            columns={"category": "Category", "units": "Units", "amount": "Amount", "meaning": ""},
            money=["amount"],
            units=["units"],
        )

    def revenue_clients_html(self) -> str:
        """The clients with the largest losses (`LOSS_ROWS`), their losses by category."""
        frame = _with_losses(self._frame("revenue_by_client"))
        columns = {"client_name": "Client", "client_id": "Client id", **LOSS_COLUMNS}
        return self._losses_table(frame, "client_id", columns, "clients", "revenue_by_client")

    def revenue_procedures_html(self) -> str:
        """The procedure codes with the largest losses, their losses by category."""
        frame = _with_losses(self._frame("revenue_by_procedure"))
        columns = {"procedure_code": "Procedure", "description": "Type", **LOSS_COLUMNS}
        return self._losses_table(
            frame, "procedure_code", columns, "procedure codes", "revenue_by_procedure"
        )

    def revenue_providers_html(self) -> str:
        """The fieldworkers with the largest losses: cancelled, unauthorized, over
        authorization and hand-rounded units of their visits (undelivered capacity belongs
        to no fieldworker).
        """
        frame = self._frame("by_provider").copy()
        frame["lost_amount"] = frame[
            [
                "amount_cancelled",
                "amount_unauthorized",
                "amount_over_authorization",
                "amount_under_recorded",
            ]
        ].sum(axis=1)
        frame["provider_name"] = _no_provider(frame["provider_name"], frame["provider_id"])
        columns = {
            "provider_name": "Fieldworker",
            "provider_id": "Id",
            "amount_cancelled": "Cancelled",
            "amount_unauthorized": "Unauthorized",
            "amount_over_authorization": "Over authorization",
            "amount_under_recorded": "Hand-rounded (under the rule)",
            "lost_amount": "Total lost",
            "amount_over_recorded": "Recorded over the rule (risk)",
        }
        return self._losses_table(frame, "provider_id", columns, "fieldworkers", "by_provider")

    def _losses_table(
        self,
        frame: pd.DataFrame,
        key: str,
        columns: dict[str, str],
        noun: str,
        export_key: str,
    ) -> str:
        """The `LOSS_ROWS` rows with the largest `lost_amount` (ties by `key`), and a note
        saying how many there are and where all of them are.
        """
        lost = frame[frame["lost_amount"] >= words.CENT]
        shown = lost.sort_values(["lost_amount", key], ascending=[False, True]).head(LOSS_ROWS)
        money = [c for c in columns if c.endswith("_amount") or c.startswith("amount_")]
        note = (
            f'<p class="table-note">{len(shown):,} of the {len(lost):,} {noun} with a loss, '
            f"largest first. {LOSS_NOTES[export_key]} Every row: "
            f"<code>{escape(export_key)}</code> in the export "
            f"(<code>utilization export {escape(self.request.view)} --format csv</code>).</p>\n"
        )
        return note + tables.table(shown, columns=columns, money=money)

    def by_provider_html(self) -> str:
        """The `PROVIDER_ROWS` fieldworkers with the most units used, and a link to every row
        (`<report name>.by_provider.csv`, written beside the report; `files`).
        """
        frame = self._frame("by_provider")
        shown = providers.top_by_units(frame, PROVIDER_ROWS).copy()
        shown["provider_name"] = _no_provider(shown["provider_name"], shown["provider_id"])
        href = escape(self.by_provider_href, quote=True)
        note = (
            f'<p class="table-note">The {len(shown):,} fieldworkers with the most units used, '
            f'of {len(frame):,}. All of them: <a href="{href}">{escape(self.by_provider_href)}'
            "</a>.</p>\n"
        )
        table = tables.table(
            shown,
            columns=PROVIDER_COLUMNS,
            money=["amount_used"],
            units=[
                c for c in PROVIDER_COLUMNS if c.startswith(("units_", "visits")) or c == "clients"
            ],
        )
        return note + table

    def files(self) -> dict[str, str]:
        """Files a renderer writes beside this report, by name suffix: the full
        by-fieldworker table when the view shows its top rows, and each figure of more than
        `TABLE_ROWS` rows that a section of the view shows (`LONG_TABLES`), as exported.
        """
        from utilization.export import rounded_frame
        from utilization.spreadsheets import csv_text

        sections = views.get(self.request.view).sections
        files: dict[str, str] = {}
        if "by_provider" in sections:
            frame = rounded_frame(self._frame("by_provider"), "by_provider")
            files[BY_PROVIDER_FILE] = csv_text(frame)  # fieldworker names never run in Excel
        for section, key in LONG_TABLES.items():
            figure = getattr(self.figures, key)
            if section in sections and figure is not None and len(figure) > TABLE_ROWS:
                files[f"{key}.csv"] = csv_text(rounded_frame(figure, key))
        return files

    def _long(self, key: str, frame: pd.DataFrame, noun: str) -> tuple[pd.DataFrame, str]:
        """The rows of figure `key` a table shows (at most `TABLE_ROWS`) and, when that is
        not all of them, a note linking the CSV beside the report that has them all (`files`).
        """
        if len(frame) <= TABLE_ROWS:
            return frame, ""
        name = f"{key}.csv"
        href = f"{self.report_name}.{name}" if self.report_name else name
        note = (
            f'<p class="table-note">The first {TABLE_ROWS:,} of {len(frame):,} {noun}, in the '
            f'order of the export. All of them: <a href="{escape(href, quote=True)}">'
            f"{escape(href)}</a>.</p>\n"
        )
        return frame.head(TABLE_ROWS), note

    def by_payer_html(self) -> str:
        """Approved, used and paid per payer."""
        frame = self._frame("by_payer").copy()
        frame["payer_name"] = frame["payer_name"].where(
            frame["payer_id"] != "", "No payer (neither the visit nor an authorization names one)"
        )
        return tables.table(
            frame,
            columns={
                "payer_name": "Payer",
                "payer_id": "Id",
                "units_approved": "Units approved",
                "units_used": "Units used",
                "amount_approved": "Amount approved",
                "amount_used": "Amount used",
                "insurance_paid": "Insurance paid",
            },
            money=["amount_approved", "amount_used", "insurance_paid"],
            units=["units_approved", "units_used"],
        ) + (
            "<p>Approved goes to the authorization's payer; used to the visit's own payer, "
            "else to that of the authorization whose rate it takes. Insurance paid counts the "
            "payer's payments for the visits used, whatever the day they were paid.</p>\n"
        )

    def _provider_row(self) -> dict[str, Any]:
        """The fieldworker's `by_provider` row (zeros when they have no visit in the period)."""
        frame = self._frame("by_provider")
        chosen = frame[frame["provider_id"].isin(self.request.filters.providers)]
        if chosen.empty:
            return dict.fromkeys(providers.COLUMNS, 0)
        return {
            c: chosen[c].sum()
            for c in providers.COLUMNS
            if c not in ("provider_id", "provider_name")
        }

    def provider_summary_html(self) -> str:
        """The fieldworker's figures as cards: clients, visits, units and dollars, and what
        their visits put at risk.
        """
        row = self._provider_row()
        items = [
            ("Clients", tables.format_units(row["clients"])),
            ("Visits", tables.format_units(row["visits"])),
            ("Units used", tables.format_units(row["units_used"])),
            ("Amount used", tables.format_money(row["amount_used"])),
            ("Visits cancelled", tables.format_units(row["visits_cancelled"])),
            ("Units cancelled", tables.format_units(row["units_cancelled"])),
            ("Units unauthorized", tables.format_units(row["units_unauthorized"])),
            ("Units over authorization", tables.format_units(row["units_over_authorization"])),
            (
                "Visits: recorded units off the rule",
                tables.format_units(row["units_mismatch_visits"]),
            ),
            ("Hand-rounded units cost", tables.format_money(row["amount_under_recorded"])),
        ]
        return tables.cards(items)

    def provider_clients_html(self) -> str:
        """The fieldworker's clients: what their visits delivered, cancelled and put at risk."""
        frame = _visited(self._frame("revenue_by_client"))
        columns = {"client_name": "Client", "client_id": "Client id", **VISIT_COLUMNS}
        return tables.table(
            frame,
            columns=columns,
            money=["delivered_amount"],
            units=list(VISIT_COLUMNS)[:1] + list(VISIT_COLUMNS)[2:],
        )

    def provider_procedures_html(self) -> str:
        """Units the fieldworker delivered per procedure code, with cancellations and risks."""
        frame = _visited(self._frame("revenue_by_procedure"))
        columns = {"procedure_code": "Procedure", "description": "Type", **VISIT_COLUMNS}
        return tables.table(
            frame,
            columns=columns,
            money=["delivered_amount"],
            units=list(VISIT_COLUMNS)[:1] + list(VISIT_COLUMNS)[2:],
        )

    def mismatches_html(self) -> str:
        """The visits of the period whose staff-recorded units differ from the rule's."""
        flags = self.figures.flags
        chosen = flags[flags["kind"] == "units_mismatch"]
        if chosen.empty:
            return "<p>Every recorded unit of the period follows the rounding rule.</p>\n"
        shown = chosen.head(MISMATCH_ROWS)
        note = ""
        if len(chosen) > len(shown):
            note = (
                f'<p class="table-note">The first {len(shown):,} of {len(chosen):,}; all in the '
                "export's flags (kind units_mismatch).</p>\n"
            )
        return note + tables.table(
            shown,
            columns={
                "visit_id": "Visit",
                "client_id": "Client",
                "procedure_code": "Procedure",
                "service_date": "Date",
                "units": "Units by the rule",
                "detail": "Detail",
            },
            units=["units"],
        )


def limit_sentence(row: Mapping[Hashable, Any]) -> str:
    """One limit's period in words: "March: 82 of 100 units used, 18 left until 31 Mar"
    (a week: "Week of 1 Mar: ..."; a day: "3 Mar: ... left that day").
    """
    start, end = pd.Timestamp(row["period_start"]), pd.Timestamp(row["period_end"])
    per = row["per"]
    if per == "month":
        name = f"{start:%B}"
    elif per == "week":
        name = f"Week of {start.day} {start:%b}"
    else:
        name = f"{start.day} {start:%b}"
    used, limit = row["units_used"], row["units_limit"]
    left = max(float(limit) - float(used), 0.0)
    until = "that day" if per == "day" else f"until {end.day} {end:%b}"
    text = f"{name}: {_count(used)} of {_count(limit)} units used, {_count(left)} left {until}"
    if row.get("units_scheduled"):
        text += f", {_count(row['units_scheduled'])} more scheduled"
    return text


def filters_text(filters: dict[str, Any]) -> str:
    """The filters in force in words: `client C0001; payer DDA, MCO; billable visits only`."""
    parts = []
    for key, value in filters.items():
        if key == "billable":
            parts.append("billable visits only" if value else "non-billable visits only")
        elif isinstance(value, list | tuple):
            parts.append(f"{FILTER_LABELS.get(key, key)} {', '.join(map(str, value))}")
        else:
            parts.append(f"{FILTER_LABELS.get(key, key)} {value}")
    return "; ".join(parts) or "none"


SOURCE = re.compile(r"^(folder|workbook|database) (.+?): (.*)$", re.DOTALL)
NOT_BEFORE_END = "not before it ends"


def source_name(source: str) -> str:
    """A data source by its name only, for pages a family or a dashboard viewer reads:
    `folder /srv/agency/export-2026-03: clients (60 rows), …` -> `export-2026-03 (folder)`;
    a workbook by its file name, a database by its name (no host, user or password).
    """
    match = SOURCE.match(source)
    if match is None:
        return source.split(":", 1)[0]  # `demo data: …` -> `demo data`
    kind, where, _ = match.groups()
    if kind == "database":
        name = where.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or where.split("://")[0]
    else:
        name = PurePath(where).name or where
    return f"{name} ({kind})"


def _source_html(source: str) -> str:
    """The source in full (with its path) on screen, by its name only in print (the PDF)."""
    return (
        f'<span class="source-full">{escape(source)}</span>'
        f'<span class="source-name">{escape(source_name(source))}</span>'
    )


def balances_shown(frame: pd.DataFrame) -> pd.DataFrame:
    """The balances as the table shows them: the date an authorization runs out at its pace
    only where it can still run out, before its end; `not before it ends` where the pace
    does not reach its end; a dash once it has expired, before it starts, or when used up.
    """
    shown = frame.copy()
    if shown.empty or "projected_exhaustion_date" not in shown:
        return shown
    projected = pd.to_datetime(shown["projected_exhaustion_date"])
    ends = pd.to_datetime(shown["end_date"])
    live = ~shown["status"].isin(["expired", "not started", "exhausted"])
    text = projected.dt.strftime("%Y-%m-%d").astype(object)
    text = text.where(projected <= ends, NOT_BEFORE_END)
    shown["projected_exhaustion_date"] = text.where(live & projected.notna(), None)
    return shown


def _count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _with_losses(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (revenue by client or procedure) with `lost_amount`: not delivered,
    unauthorized, over authorization and hand-rounded units (cancelled visits are already
    inside not delivered; units recorded over the rule are a risk, not a loss).
    """
    lost = [c for c in LOSS_COLUMNS if c not in ("lost_amount", "cancelled_amount")]
    return frame.assign(lost_amount=frame[lost].sum(axis=1))


def _visited(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of a revenue frame with a visit of the request (delivered or cancelled)."""
    return frame[(frame["delivered_units"] > 0) | (frame["cancelled_units"] > 0)]


def _no_provider(names: pd.Series, ids: pd.Series) -> pd.Series:
    """Provider names, with the row of visits without a provider named so."""
    return names.where(ids != "", "No fieldworker recorded")
