"""Parameter sets (params/*.yaml): which reports a batch run makes, and the jobs they become."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from utilization.dataset import Dataset
from utilization.errors import InputError, UsageError
from utilization.export import VIEWS
from utilization.filenames import safe_name, unique_names
from utilization.metrics import BASES
from utilization.period import Period, parse_date
from utilization.runner import parse_formats

KEYS = (
    "name", "view", "period", "data", "settings", "clients", "procedures", "filters", "as_of",
    "basis", "formats", "out",
)  # fmt: skip
FILTER_KEYS = ("payer", "provider", "case_type", "billable")
SELECTIONS = ("all", "active")
RELATIVE = {f"{w}-{u}" for w in ("current", "previous") for u in ("month", "quarter", "year")}
ITERATED = {"client": "clients", "procedure": "procedures"}  # view -> the key it makes a report per


@dataclass(frozen=True)
class ParameterSet:
    """One batch: a view, a period, who or what it covers, the filters, formats and folder."""

    name: str
    view: str
    period: Period
    data: str = "demo"
    settings: str = ""
    clients: str | tuple[str, ...] = "active"
    procedures: str | tuple[str, ...] = "active"
    filters: dict[str, str] = field(default_factory=dict)
    as_of: date | None = None
    basis: str = "prorated"
    formats: tuple[str, ...] = ("html", "pdf")
    out: Path = Path("reports")

    @property
    def folder(self) -> Path:
        """`<out>/<set>/<period>`: the run's index, manifest, log and view folders."""
        return self.out / self.name / self.period.label

    def describe(self) -> dict[str, Any]:
        """The set as plain JSON values, for the manifest."""
        return {
            "name": self.name,
            "view": self.view,
            "period": {
                "label": self.period.label,
                "from": self.period.start.isoformat(),
                "to": self.period.end.isoformat(),
            },
            "data": self.data,
            "settings": self.settings,
            "clients": _plain_selection(self.clients),
            "procedures": _plain_selection(self.procedures),
            "filters": dict(self.filters),
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "basis": self.basis,
            "formats": list(self.formats),
        }


@dataclass(frozen=True)
class Job:
    """One report of a batch: the view, its subject, the file stem and the notebook parameters."""

    view: str
    subject: str
    name: str
    parameters: dict[str, Any]


def read_parameter_set(
    path: Path, out: Path | None = None, period: str | None = None, today: date | None = None
) -> ParameterSet:
    """Read and check a YAML parameter set; `out` and `period` override the file's values."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        msg = f"cannot read parameter set {path}: {exc}"
        raise InputError(msg) from None
    if not isinstance(raw, dict):
        msg = f"parameter set {path} must be a YAML mapping of {list(KEYS)}"
        raise UsageError(msg)
    raw = dict(raw)
    if period is not None:
        raw["period"] = period
    if out is not None:
        raw["out"] = str(out)
    raw.setdefault("name", path.stem)
    return parameter_set(raw, today)


def parameter_set(raw: dict[str, Any], today: date | None = None) -> ParameterSet:
    """A ParameterSet from a mapping as YAML gives it; errors (UsageError, exit code 2) say which
    key and what is allowed.
    """
    try:
        return _parameter_set(raw, today)
    except UsageError:
        raise
    except InputError as exc:  # a period, date or format that does not parse
        raise UsageError(str(exc)) from None


def _parameter_set(raw: dict[str, Any], today: date | None) -> ParameterSet:
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        msg = f"unknown key(s) {unknown} in the parameter set; allowed keys: {list(KEYS)}"
        raise UsageError(msg)
    for required in ("name", "view", "period"):
        if raw.get(required) in (None, ""):
            msg = f"the parameter set needs `{required}:` (see params/README.md)"
            raise UsageError(msg)
    view = str(raw["view"])
    if view not in VIEWS:
        msg = f"view {view!r} not known; choose one of {list(VIEWS)}"
        raise UsageError(msg)
    basis = str(raw.get("basis", "prorated"))
    if basis not in BASES:
        msg = f"basis {basis!r} not known; choose one of {list(BASES)}"
        raise UsageError(msg)
    formats = raw.get("formats", ["html", "pdf"])
    formats_text = ",".join(formats) if isinstance(formats, list) else str(formats)
    as_of = raw.get("as_of")
    return ParameterSet(
        name=_set_name(str(raw["name"])),
        view=view,
        period=parse_period(raw["period"], today),
        data=str(raw.get("data", "demo")),
        settings=str(raw.get("settings") or ""),
        clients=_selection(raw.get("clients", "active"), "clients", view),
        procedures=_selection(raw.get("procedures", "active"), "procedures", view),
        filters=_filters(raw.get("filters") or {}),
        as_of=parse_date(str(as_of)) if as_of else None,
        basis=basis,
        formats=parse_formats(formats_text),
        out=Path(str(raw.get("out", "reports"))),
    )


def parse_period(value: Any, today: date | None = None) -> Period:
    """`2026-Q1`, `2026-03`, `2026`, `a..b`, {from, to}, or relative to today:
    `current-` / `previous-` + `month`, `quarter` or `year` (e.g. `previous-quarter`).
    """
    if isinstance(value, dict):
        if set(value) != {"from", "to"}:
            msg = f"period as a mapping needs exactly `from:` and `to:`, not {sorted(value)}"
            raise UsageError(msg)
        return Period(parse_date(str(value["from"])), parse_date(str(value["to"])))
    text = str(value).strip().lower()
    if text in RELATIVE:
        return relative_period(text, today or date.today())
    return Period.parse(str(value))


def relative_period(text: str, today: date) -> Period:
    """The calendar month, quarter or year holding `today` (`current-`) or before it."""
    which, unit = text.split("-")
    labels = {
        "month": f"{today:%Y-%m}",
        "quarter": f"{today.year}-Q{(today.month - 1) // 3 + 1}",
        "year": str(today.year),
    }
    period = Period.parse(labels[unit])
    if which == "previous":
        return relative_period(f"current-{unit}", period.start - timedelta(days=1))
    return period


def _set_name(text: str) -> str:
    if safe_name(text) != text:
        msg = f"set name {text!r} must use only letters, digits, `.`, `_` and `-`"
        raise UsageError(msg)
    return text


def _selection(value: Any, key: str, view: str) -> str | tuple[str, ...]:
    """`all`, `active` or a list of ids; only the view's own subject may be `active`/`all`-run."""
    if isinstance(value, list | tuple):
        ids = tuple(str(v).strip() for v in value)
        if not ids or any(not i for i in ids):
            msg = f"`{key}:` lists an empty id; give ids, `all` or `active`"
            raise UsageError(msg)
        return tuple(dict.fromkeys(ids))
    text = str(value).strip().lower()
    if text not in SELECTIONS:
        msg = f"`{key}:` must be all, active or a list of ids, not {value!r}"
        raise UsageError(msg)
    if text == "active" and ITERATED.get(view) != key:
        return "all"  # as a filter, `active` is the default and means no filter
    return text


def _filters(value: Any) -> dict[str, str]:
    """The `filters:` mapping as comma-joined notebook parameters."""
    if not isinstance(value, dict):
        msg = f"`filters:` must be a mapping of {list(FILTER_KEYS)}"
        raise UsageError(msg)
    unknown = sorted(set(value) - set(FILTER_KEYS))
    if unknown:
        msg = f"unknown filter(s) {unknown}; allowed filters: {list(FILTER_KEYS)}"
        raise UsageError(msg)
    filters: dict[str, str] = {}
    for key, given in value.items():
        items = given if isinstance(given, list) else [given]
        if key == "billable":
            text = {True: "yes", False: "no"}.get(given, str(given).strip().lower())
            if text not in ("yes", "no"):
                msg = f"filter billable must be yes or no, not {given!r}"
                raise UsageError(msg)
            filters[key] = text
        else:
            filters[key] = ",".join(str(i).strip() for i in items)
    return filters


def _plain_selection(value: str | tuple[str, ...]) -> str | list[str]:
    return value if isinstance(value, str) else list(value)


# -- jobs ----------------------------------------------------------------------------------


def active_ids(dataset: Dataset, period: Period, column: str) -> list[str]:
    """Clients or procedure codes active in the period: an authorization overlapping it or a
    visit (completed or scheduled) on one of its days. Sorted.
    """
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    auth = dataset.authorizations
    overlapping = auth.loc[(auth["start_date"] <= end) & (auth["end_date"] >= start), column]
    visits = dataset.visits
    visited = visits.loc[(visits["service_date"] >= start) & (visits["service_date"] <= end)]
    return sorted(set(overlapping) | set(visited[column]))


def subjects(spec: ParameterSet, dataset: Dataset) -> list[str]:
    """The client ids or procedure codes that get a report each; [""] for one-report views."""
    key = ITERATED.get(spec.view)
    if key is None:
        return [""]
    selection = getattr(spec, key)
    column = "client_id" if key == "clients" else "procedure_code"
    if selection == "all":
        table = dataset.clients if key == "clients" else dataset.procedures
        return sorted(table[column])
    if selection == "active":
        return active_ids(dataset, spec.period, column)
    return list(selection)


def base_parameters(spec: ParameterSet, rejects_href: str) -> dict[str, Any]:
    """The notebook parameters every report of the set shares."""
    data = spec.data
    if data != "demo" and "://" not in data and Path(data).exists():
        data = str(Path(data).resolve())
    as_of = spec.as_of or spec.period.end
    parameters: dict[str, Any] = {
        "data": data,
        "settings": str(Path(spec.settings).resolve()) if spec.settings else "",
        "date_from": spec.period.start.isoformat(),
        "date_to": spec.period.end.isoformat(),
        "client": "" if isinstance(spec.clients, str) else ",".join(spec.clients),
        "procedure": "" if isinstance(spec.procedures, str) else ",".join(spec.procedures),
        "payer": spec.filters.get("payer", ""),
        "provider": spec.filters.get("provider", ""),
        "case_type": spec.filters.get("case_type", ""),
        "billable": spec.filters.get("billable", ""),
        "as_of": as_of.isoformat(),
        "basis": spec.basis,
        "rejects_href": rejects_href,
        "batch": True,
    }
    return parameters


def jobs(spec: ParameterSet, dataset: Dataset) -> list[Job]:
    """Every report of the set, in subject order, with distinct safe file names."""
    base = base_parameters(spec, "../rejects.csv")
    ids = subjects(spec, dataset)
    if ids == [""]:
        return [Job(spec.view, "", spec.view, base)]
    names = unique_names(ids)
    parameter = "client" if spec.view == "client" else "procedure"
    return [Job(spec.view, i, names[i], base | {parameter: i}) for i in ids]


def unknown_subject(job: Job, dataset: Dataset) -> str:
    """Why a job's client id or procedure code cannot be reported on; empty when it can."""
    if job.view == "client" and job.subject not in set(dataset.clients["client_id"]):
        return f"client_id {job.subject!r} not found in the data (clients table); check the id"
    if job.view == "procedure" and job.subject not in set(dataset.procedures["procedure_code"]):
        return (
            f"procedure_code {job.subject!r} not found in the data (procedures table); "
            "check the code"
        )
    return ""
