"""Parameter sets (params/*.yaml): which reports a batch run makes, and the jobs they become."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from utilization import views
from utilization.dataset import Dataset
from utilization.exceptions import InputError, UsageError
from utilization.filenames import safe_name, unique_names
from utilization.parameters import FILTERS, Request
from utilization.period import Period
from utilization.report.runner import parse_formats
from utilization.sources import masked_source

KEYS = (
    "name", "view", "period", "data", "settings", "clients", "procedures", "providers",
    "filters", "as_of", "basis", "formats", "out",
)  # fmt: skip
SELECTIONS = ("all", "active")
CATALOGS = {"client": "clients", "procedure": "procedures", "provider": "providers"}
"""The table holding each subject's ids."""


@dataclass(frozen=True)
class ParameterSet:
    """One batch: the request every report shares, whose subjects get a report each, the
    formats and the output folder.

    `subjects`: for a view with a subject (client, procedure, provider), `active` (an
    authorization or a visit in the period), `all` or a list of ids; "" for other views.
    """

    name: str
    request: Request
    subjects: str | tuple[str, ...] = ""
    formats: tuple[str, ...] = ("html", "pdf")
    out: Path = Path("reports")

    @property
    def view(self) -> str:
        """The view of every report of the set."""
        return self.request.view

    @property
    def period(self) -> Period:
        """The period of every report of the set."""
        return self.request.period

    @property
    def data(self) -> str:
        """The data source."""
        return self.request.data

    @property
    def settings(self) -> str:
        """The settings file, or '' for the data folder's own."""
        return self.request.settings

    @property
    def folder(self) -> Path:
        """`<out>/<set>/<period>`: the run's index, manifest, log and view folders."""
        return self.out / self.name / self.period.label

    def describe(self) -> dict[str, Any]:
        """The set as plain JSON values, for the manifest."""
        request = self.request.to_yaml()
        period = request.pop("period")
        subject = views.get(self.view).subject
        if subject is not None:
            selection = self.subjects
            request[CATALOGS[subject]] = (
                selection if isinstance(selection, str) else list(selection)
            )
        request["data"] = masked_source(request["data"])  # a database password never written
        return {
            "name": self.name,
            **request,
            "period": {"label": self.period.label, **period},
            "formats": list(self.formats),
        }


@dataclass(frozen=True)
class Job:
    """One report of a batch: the view, its subject, the file stem and the notebook parameters."""

    view: str
    subject: str
    name: str
    parameters: dict[str, Any]


class _UniqueKeys(yaml.SafeLoader):
    """YAML's safe loader refusing a key given twice in one mapping (which it would let the
    last one win without a word: `view: agency` then `view: client` makes client reports).
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                msg = f"key {key!r} is given twice (lines {seen[key]} and {line}); keep one"
                raise yaml.constructor.ConstructorError(None, None, msg, key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_parameter_set(
    path: Path, out: Path | None = None, period: str | None = None, today: date | None = None
) -> ParameterSet:
    """Read and check a YAML parameter set; `out` and `period` override the file's values."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeys)  # a safe loader
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
    if str(raw["view"]) not in views.VIEWS:
        msg = f"view {raw['view']!r} not known; choose one of {list(views.VIEWS)}"
        raise UsageError(msg)
    view = views.get(str(raw["view"]))
    for kind, key in CATALOGS.items():
        _check_selection(raw.get(key, "active"), key, kind == view.subject)
    request = Request.from_yaml(raw, today)
    subjects: str | tuple[str, ...] = ""
    if view.subject is not None:
        attribute = FILTERS[view.subject]
        chosen: tuple[str, ...] = getattr(request.filters, attribute)
        given = raw.get(CATALOGS[view.subject], "active")
        subjects = chosen if chosen else str(given).strip().lower()
        request = replace(request, filters=request.filters.with_ids(attribute, ()))
    formats = raw.get("formats", ["html", "pdf"])
    formats_text = ",".join(formats) if isinstance(formats, list) else str(formats)
    return ParameterSet(
        name=_set_name(str(raw["name"])),
        request=request,
        subjects=subjects,
        formats=parse_formats(formats_text),
        out=Path(str(raw.get("out", "reports"))),
    )


def _set_name(text: str) -> str:
    if safe_name(text) != text:
        msg = f"set name {text!r} must use only letters, digits, `.`, `_` and `-`"
        raise UsageError(msg)
    return text


def _check_selection(value: Any, key: str, iterated: bool) -> None:
    """`all`, `active` or a list of ids; a list of ids filters the other views."""
    if isinstance(value, list | tuple):
        ids = [str(v).strip() for v in value]
        if not ids or any(not i for i in ids):
            msg = f"`{key}:` lists an empty id; give ids, `all` or `active`"
            raise UsageError(msg)
        return
    if str(value).strip().lower() not in SELECTIONS:
        msg = f"`{key}:` must be all, active or a list of ids, not {value!r}"
        raise UsageError(msg)


# -- jobs ----------------------------------------------------------------------------------


def active_ids(dataset: Dataset, period: Period, column: str) -> list[str]:
    """Clients, procedure codes or providers active in the period: an authorization
    overlapping it or a visit on one of its days, whatever its status (a cancelled visit
    too: the report shows it among the cancellations). Sorted.
    """
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    found: set[str] = set()
    auth = dataset.authorizations
    if column in auth.columns:
        found |= set(auth.loc[(auth["start_date"] <= end) & (auth["end_date"] >= start), column])
    visits = dataset.visits
    visited = visits.loc[(visits["service_date"] >= start) & (visits["service_date"] <= end)]
    found |= set(visited[column].dropna())
    return sorted(found)


def subjects(spec: ParameterSet, dataset: Dataset, active: list[str] | None = None) -> list[str]:
    """The subject ids that get a report each; [""] for views without a subject. `active`:
    the subjects active in the period when the dataset does not hold the rows that say it
    (a run in parts, `batch.parts`).
    """
    kind = views.get(spec.view).subject
    if kind is None:
        return [""]
    column = views.SUBJECT_COLUMNS[kind]
    if spec.subjects == "all":
        return sorted(getattr(dataset, CATALOGS[kind])[column])
    if spec.subjects == "active":
        return active if active is not None else active_ids(dataset, spec.period, column)
    return list(spec.subjects)


def jobs(spec: ParameterSet, dataset: Dataset, active: list[str] | None = None) -> list[Job]:
    """Every report of the set, in subject order, with distinct safe file names (`active`:
    see `subjects`).
    """
    base = {"rejects_href": "../rejects.csv", "batch": True}
    ids = subjects(spec, dataset, active)
    if ids == [""]:
        return [Job(spec.view, "", spec.view, spec.request.to_notebook() | base)]
    names = unique_names(ids)
    return [
        Job(spec.view, i, names[i], spec.request.with_subject(i).to_notebook() | base) for i in ids
    ]


def unknown_subject(job: Job, dataset: Dataset) -> str:
    """Why a job's subject id cannot be reported on; empty when it can."""
    kind = views.get(job.view).subject
    if kind is None:
        return ""
    column, table = views.SUBJECT_COLUMNS[kind], CATALOGS[kind]
    if job.subject in set(getattr(dataset, table)[column]):
        return ""
    noun = "code" if kind == "procedure" else "id"
    return f"{column} {job.subject!r} not found in the data ({table} table); check the {noun}"
