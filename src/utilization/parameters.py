"""What one report or export covers, as one frozen type, to and from the three places it is
written: notebook parameters (papermill), command-line options and parameter-set YAML.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, cast

from utilization import views
from utilization.exceptions import InputError, UsageError
from utilization.metrics import BASES, Basis
from utilization.period import Filters, Period, current_quarter, parse_date, parse_period
from utilization.sources import on_disk
from utilization.views import SUBJECT_COLUMNS, ViewName

FILTERS: dict[str, str] = {
    # notebook parameter / CLI option stem -> Filters field
    "client": "clients",
    "procedure": "procedures",
    "payer": "payers",
    "provider": "providers",
    "case_type": "case_types",
}
"""The list filters; `billable` (yes, no or empty) is the one flag."""
YAML_FILTERS = ("payer", "provider", "case_type", "billable")
"""Keys of a parameter set's `filters:` (clients and procedures are keys of their own)."""


def source_text(data: str) -> str:
    """A data source as a notebook kernel can open it: a folder or file made absolute."""
    path = on_disk(data)
    return data if path is None else str(path.resolve())


def whole_number(minimum: int, why: str = "") -> Callable[[str], int]:
    """A command-line option's type: a whole number of at least `minimum` (argparse says
    which option and what was given, then `why`, and exits 2).
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            msg = f"{text!r} is not a whole number"
            raise argparse.ArgumentTypeError(msg) from None
        if value < minimum:
            msg = f"{value} is less than {minimum}{why}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return parse


@dataclass(frozen=True)
class Request:
    """A view, its period and filters, the balance date, the approved basis and the source.

    `as_of` None means the period's last day. Frozen: a batch derives one request per
    subject with `with_subject`.
    """

    view: ViewName
    period: Period
    filters: Filters = field(default_factory=Filters)
    as_of: date | None = None
    basis: Basis = "prorated"
    data: str = "demo"
    settings: str = ""

    @property
    def balance_date(self) -> date:
        """The date of the authorization balances: `as_of`, else the period's last day."""
        return self.as_of or self.period.end

    @property
    def subject(self) -> str:
        """The one id the view is about (client, procedure code, fieldworker), else ''."""
        kind = views.get(self.view).subject
        if kind is None:
            return ""
        chosen: tuple[str, ...] = getattr(self.filters, FILTERS[kind])
        return chosen[0] if len(chosen) == 1 else ""

    def check(self) -> None:
        """Raise UsageError where the request cannot be answered."""
        view = views.get(self.view)
        if self.basis not in BASES:
            msg = f"unknown basis {self.basis!r}; choose one of {list(BASES)}"
            raise UsageError(msg)
        if view.subject is not None:
            chosen = getattr(self.filters, FILTERS[view.subject])
            if len(chosen) != 1:
                noun = SUBJECT_COLUMNS[view.subject].replace("_id", "").replace("_", " ")
                noun = "procedure code" if view.subject == "procedure" else noun
                msg = (
                    f"the {view.name} view needs exactly one {noun}: add "
                    f"--{view.subject} {'CODE' if view.subject == 'procedure' else 'ID'}"
                )
                raise UsageError(msg)

    def with_subject(self, subject: str) -> Request:
        """The same request about one subject id of its view (a batch's report)."""
        kind = views.get(self.view).subject
        if kind is None:
            return self
        return replace(self, filters=self.filters.with_ids(FILTERS[kind], (subject,)))

    # -- notebook parameters -------------------------------------------------------------
    def to_notebook(self) -> dict[str, str]:
        """The template's parameters (text, as papermill passes them)."""
        params = {
            "data": self.data,
            "settings": self.settings,
            "date_from": self.period.start.isoformat(),
            "date_to": self.period.end.isoformat(),
        }
        for name, attribute in FILTERS.items():
            params[name] = ",".join(getattr(self.filters, attribute))
        billable = self.filters.billable
        params["billable"] = "" if billable is None else "yes" if billable else "no"
        params["as_of"] = self.as_of.isoformat() if self.as_of else ""
        params["basis"] = self.basis
        return params

    @classmethod
    def from_notebook(cls, view: str, today: date | None = None, **params: Any) -> Request:
        """A request from a template's parameters; empty dates mean the current quarter."""
        default = current_quarter(today)
        start, end = params.get("date_from", ""), params.get("date_to", "")
        billable = str(params.get("billable", "")).strip().lower()
        if billable not in ("", "yes", "no"):
            msg = f"billable must be yes, no or empty, not {billable!r}"
            raise UsageError(msg)
        lists = {attr: _split(str(params.get(name, ""))) for name, attr in FILTERS.items()}
        filters = Filters(billable=None if not billable else billable == "yes", **lists)
        as_of = str(params.get("as_of", "")).strip()
        request = cls(
            view=views.get(view).name,
            period=Period(
                parse_date(start) if start else default.start,
                parse_date(end) if end else default.end,
            ),
            filters=filters,
            as_of=parse_date(as_of) if as_of else None,
            basis=cast("Basis", params.get("basis") or "prorated"),
            data=str(params.get("data") or "demo"),
            settings=str(params.get("settings") or ""),
        )
        request.check()
        return request

    # -- command line --------------------------------------------------------------------
    @staticmethod
    def add_options(
        parser: argparse.ArgumentParser,
        period_required: bool = True,
        period_default: str = "the current quarter",
    ) -> None:
        """The request's options: period, filters, balance date, basis. Without
        `period_required`, no --from/--to means `period_default` (in the help text; the
        command fills it in; `from_cli` takes the current quarter, balances as of today).
        """
        default = "" if period_required else f" (default: {period_default})"
        parser.add_argument(
            "--from",
            dest="start",
            required=period_required,
            help=f"first day, YYYY-MM-DD{default}",
        )
        parser.add_argument("--to", dest="end", required=period_required, help=f"last day{default}")
        helps = {
            "client": "client_id",
            "procedure": "procedure code",
            "payer": "payer_id",
            "provider": "provider_id",
            "case_type": "case type",
        }
        for name, text in helps.items():
            parser.add_argument(
                f"--{name.replace('_', '-')}",
                dest=name,
                action="append",
                default=[],
                help=f"{text} (repeatable)",
            )
        parser.add_argument(
            "--billable", choices=["yes", "no"], help="only billable or non-billable visits"
        )
        as_of = "--to" if period_required else "--to; without --to, today if in the period"
        parser.add_argument(
            "--as-of", help=f"date of the authorization balances (default: {as_of})"
        )
        parser.add_argument(
            "--basis",
            default="prorated",
            choices=list(BASES),
            help="units approved basis (default: prorated)",
        )

    @classmethod
    def from_cli(cls, view: str, args: argparse.Namespace, today: date | None = None) -> Request:
        """A request from the options `add_options` declared (and `--data`, `--settings`).

        A missing --from or --to is the current quarter's first or last day; with neither
        --to nor --as-of, balances are as of today when today is inside the period.
        """
        filters = Filters(
            billable=None if args.billable is None else args.billable == "yes",
            **{attr: tuple(getattr(args, name)) for name, attr in FILTERS.items()},
        )
        settings = getattr(args, "settings", None)
        today = today or date.today()
        quarter = current_quarter(today)
        period = Period(
            parse_date(args.start) if args.start is not None else quarter.start,
            parse_date(args.end) if args.end is not None else quarter.end,
        )
        as_of = parse_date(args.as_of) if args.as_of is not None else None
        if as_of is None and not args.end and period.start <= today <= period.end:
            as_of = today
        request = cls(
            view=views.get(view).name,
            period=period,
            filters=filters,
            as_of=as_of,
            basis=cast("Basis", args.basis),
            data=source_text(getattr(args, "data", "demo")),
            settings=str(Path(settings).resolve()) if settings else "",
        )
        request.check()
        return request

    # -- parameter-set YAML --------------------------------------------------------------
    def to_yaml(self) -> dict[str, Any]:
        """The request as parameter-set keys (`from_yaml` reads it back)."""
        out: dict[str, Any] = {
            "view": self.view,
            "period": {"from": self.period.start.isoformat(), "to": self.period.end.isoformat()},
            "data": self.data,
        }
        if self.settings:
            out["settings"] = self.settings
        if self.filters.clients:
            out["clients"] = list(self.filters.clients)
        if self.filters.procedures:
            out["procedures"] = list(self.filters.procedures)
        if self.filters.providers:
            out["providers"] = list(self.filters.providers)
        filters: dict[str, Any] = {}
        for name in ("payer", "case_type"):
            chosen = getattr(self.filters, FILTERS[name])
            if chosen:
                filters[name] = list(chosen)
        if self.filters.billable is not None:
            filters["billable"] = "yes" if self.filters.billable else "no"
        if filters:
            out["filters"] = filters
        if self.as_of:
            out["as_of"] = self.as_of.isoformat()
        out["basis"] = self.basis
        return out

    @classmethod
    def from_yaml(cls, raw: Mapping[str, Any], today: date | None = None) -> Request:
        """A request from parameter-set keys: view, period (also relative, e.g.
        `previous-quarter`), data, settings, clients, procedures and providers (lists filter;
        `all` and `active` do not), filters {payer, provider, case_type, billable}, as_of,
        basis.
        Errors are UsageError naming the key and what is allowed.
        """
        try:
            return cls._from_yaml(raw, today)
        except UsageError:
            raise
        except InputError as exc:  # a period or date that does not parse
            raise UsageError(str(exc)) from None

    @classmethod
    def _from_yaml(cls, raw: Mapping[str, Any], today: date | None) -> Request:
        view = views.get(str(raw.get("view")))
        basis = str(raw.get("basis", "prorated"))
        if basis not in BASES:
            msg = f"basis {basis!r} not known; choose one of {list(BASES)}"
            raise UsageError(msg)
        given = raw.get("filters") or {}
        if not isinstance(given, Mapping):
            msg = f"`filters:` must be a mapping of {list(YAML_FILTERS)}"
            raise UsageError(msg)
        unknown = sorted(set(given) - set(YAML_FILTERS))
        if unknown:
            msg = f"unknown filter(s) {unknown}; allowed filters: {list(YAML_FILTERS)}"
            raise UsageError(msg)
        lists: dict[str, tuple[str, ...]] = {}
        for key in ("clients", "procedures", "providers"):
            value = raw.get(key)
            if isinstance(value, list | tuple):
                lists[key] = tuple(dict.fromkeys(str(v).strip() for v in value))
        for name in ("payer", "provider", "case_type"):
            if name in given:
                value = given[name]
                items = value if isinstance(value, list | tuple) else str(value).split(",")
                lists[FILTERS[name]] = tuple(str(i).strip() for i in items if str(i).strip())
        billable: bool | None = None
        if "billable" in given:
            value = given["billable"]
            text = {True: "yes", False: "no"}.get(value, str(value).strip().lower())
            if text not in ("yes", "no"):
                msg = f"filter billable must be yes or no, not {value!r}"
                raise UsageError(msg)
            billable = text == "yes"
        as_of = raw.get("as_of")
        settings = str(raw.get("settings") or "")
        return cls(
            view=view.name,
            period=parse_period(raw.get("period"), today),
            filters=Filters(billable=billable, **lists),
            as_of=parse_date(str(as_of)) if as_of else None,
            basis=cast("Basis", basis),
            data=source_text(str(raw.get("data", "demo"))),
            settings=str(Path(settings).resolve()) if settings else "",
        )


def _split(text: str) -> tuple[str, ...]:
    """Comma-separated parameter values as a tuple; empty text means no filter."""
    return tuple(part.strip() for part in text.split(",") if part.strip())
