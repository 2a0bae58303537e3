"""The view registry: one declaration per report view, and the figures of a request.

A view is declared once, here: its name, title, template notebook, the subject it needs
(a client, a procedure code, a fieldworker, or none), the report sections in page order,
the function adding its own figures to those every view has, and how a batch slices the
data for it. The command line, the notebooks, parameter sets, batches and exports all read
this table; adding a view is one entry here, one figures function and its template
(written from `sections` by `python -m utilization.report.notebooks`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, get_args

from utilization import figures
from utilization.exceptions import InputError, UsageError
from utilization.figures import Figures, FiguresFunction, ViewFigures
from utilization.hugepages import small_pages
from utilization.selection import Selection
from utilization.threads import together

if TYPE_CHECKING:
    from utilization.dataset import Dataset
    from utilization.parameters import Request
    from utilization.period import Filters

ViewName = Literal[
    "agency", "client", "procedure", "service-codes", "authorizations", "provider", "revenue"
]
Subject = Literal["client", "procedure", "provider"]

SUBJECT_COLUMNS: dict[Subject, str] = {
    "client": "client_id",
    "procedure": "procedure_code",
    "provider": "provider_id",
}
"""The id column of each subject: what a subject's filter, batch slice and catalog key on."""


@dataclass(frozen=True)
class View:
    """One report view.

    `subject`: the filter that must name exactly one id (`--client`, `--procedure`,
    `--provider`), or None for a view of everything that passes the filters; a batch of a
    view with a subject makes one report per subject id, a view without one is one report.
    `batch_slice`: the column whose values are a worker's subjects when a batch runs on a
    cluster: the worker gets only the rows of those values (`batch.slices`); None gives
    the whole dataset (a view whose figures read beyond its subject's rows).
    `figures`: the functions whose results make the view's `ViewFigures` (each gives some
    fields by name). `example`: the subject the template's parameters cell names (an id of
    the demo data).
    """

    name: ViewName
    title: str
    template: str
    subject: Subject | None
    sections: tuple[str, ...]
    figures: tuple[FiguresFunction, ...] = (
        figures.usage,
        figures.limits_and_schedule,
        figures.revenue,
    )
    example: str = ""
    batch_slice: str | None = None


VIEWS: dict[str, View] = {
    view.name: view
    for view in (
        View(
            "agency",
            "Units utilization: agency",
            "agency.ipynb",
            None,
            (
                "kpis",
                "by_procedure",
                "monthly",
                "revenue_summary",
                "revenue_chart",
                "by_provider",
                "by_payer",
                "detail",
                "schedule_summary",
                "flags",
                "method",
                "explore",
            ),
        ),
        View(
            "client",
            "Units utilization: client",
            "client.ipynb",
            "client",
            (
                "family",
                "kpis",
                "by_procedure",
                "monthly",
                "balances_chart",
                "detail",
                "balances",
                "limits",
                "schedule",
                "flags",
                "method",
                "explore",
            ),
            example="C0001",
            batch_slice="client_id",
        ),
        View(
            "procedure",
            "Units utilization: procedure",
            "procedure.ipynb",
            "procedure",
            (
                "kpis",
                "by_client",
                "monthly",
                "rate_check",
                "per_client",
                "flags",
                "method",
                "explore",
            ),
            example="T1019 U3",
            batch_slice="procedure_code",
        ),
        View(
            "service-codes",
            "Service code usage",
            "service_codes.ipynb",
            None,
            ("service_chart", "service_table", "method", "explore"),
            (figures.usage, figures.service_code_usage),
        ),
        View(
            "authorizations",
            "Authorization balances",
            "authorizations.ipynb",
            None,
            (
                "kpis",
                "balances_chart",
                "balances",
                "limits",
                "schedule",
                "flags",
                "method",
                "explore",
            ),
        ),
        View(
            "provider",
            "Units delivered: fieldworker",
            "provider.ipynb",
            "provider",
            (
                "provider_summary",
                "provider_clients",
                "provider_procedures",
                "mismatches",
                "flags",
                "method",
                "explore",
            ),
            example="P001",
            batch_slice=None,  # approved units and balances read beyond the fieldworker's visits
        ),
        View(
            "revenue",
            "Revenue: where the authorized dollars went",
            "revenue.ipynb",
            None,
            (
                "revenue_summary",
                "revenue_chart",
                "revenue_table",
                "revenue_clients",
                "revenue_procedures",
                "revenue_providers",
                "by_payer",
                "method",
                "explore",
            ),
        ),
    )
}
"""Every view, by name, in the order the command line lists them."""

VIEW_NAMES: tuple[ViewName, ...] = get_args(ViewName)
if tuple(VIEWS) != VIEW_NAMES:  # the Literal (checked by mypy) and the table agree
    msg = f"views {list(VIEWS)} and the ViewName literal {list(VIEW_NAMES)} differ"
    raise AssertionError(msg)


def get(name: str) -> View:
    """The view called `name`, or UsageError listing the views."""
    try:
        return VIEWS[name]
    except KeyError:
        msg = f"unknown view {name!r}; choose one of {list(VIEWS)}"
        raise UsageError(msg) from None


def build_view(dataset: Dataset, request: Request) -> ViewFigures:
    """Every figure of the request's view, unrounded, as one typed result.

    The period's visits are chosen once (`Selection`) and every figure reads that choice.
    """
    view = checked(dataset, request)
    selection = Selection(
        dataset, request.period, request.filters, request.balance_date, request.basis
    )
    work = [functools.partial(function, selection) for function in view.figures]
    computed = _merged(work, len(dataset.visits))
    return _view_figures(
        view, request, dataset, computed, figures.newest_payment_included(selection)
    )


FOUND = "_filter_ids_found"
"""The key of `view_parts` holding what `filter_ids_found` found in the part."""
_DATA_FILTERS = (("payers", "payer_id"), ("providers", "provider_id"), ("case_types", "case_type"))
"""The list filters whose ids need not be in a catalog: payers and fieldworkers may appear
in the authorizations and visits only (their catalogs are optional), case types have none."""


def filter_ids_found(dataset: Dataset, filters: Filters) -> dict[str, set[str]]:
    """Of the payer, fieldworker and case type ids the filters name, those in the data set:
    in its payers or providers table, else in its authorizations' (payers) or visits' rows
    (looked for only when some id is in no table); by column. What `checked` finds of a set
    of clients (a part, with the whole tables).
    """
    found: dict[str, set[str]] = {}
    for attribute, column in _DATA_FILTERS:
        asked = set(getattr(filters, attribute))
        if not asked:
            continue
        found[column] = asked & _catalog_ids(dataset, column)
        wanted = sorted(asked - found[column])
        frames = [dataset.visits, dataset.authorizations if column == "payer_id" else None]
        for frame in frames if wanted else []:
            if frame is not None and column in frame:
                values = frame[column]
                found[column] |= {str(v) for v in values[values.isin(wanted)].unique()}
    return found


def _catalog_ids(dataset: Dataset, column: str) -> set[str]:
    """The ids of the payers or providers table (`column`), none for case types."""
    catalog = {"payer_id": dataset.payers, "provider_id": dataset.providers}.get(column)
    if catalog is None or column not in catalog:
        return set()
    return {str(v) for v in catalog[column].dropna()}


def checked(
    dataset: Dataset, request: Request, found: Mapping[str, set[str]] | None = None
) -> View:
    """The request's view, once the request is checked and the ids of its filters are found
    in the data (InputError naming those that are not): clients and procedure codes in their
    catalogs; payers, fieldworkers and case types in their catalogs or in the rows
    (`filter_ids_found` of the data set, or `found`: what its parts found). A mistyped id
    would otherwise give a report of nothing that looks like one of a quiet fieldworker.
    """
    request.check()
    view = get(request.view)
    filters = request.filters
    for column, wanted, table in (
        ("client_id", filters.clients, dataset.clients),
        ("procedure_code", filters.procedures, dataset.procedures),
    ):
        unknown = sorted(set(wanted) - set(table[column]))
        if unknown:
            raise InputError(_not_found(column, unknown))
    if found is None:
        found = filter_ids_found(dataset, filters)
    for attribute, column in _DATA_FILTERS:
        asked = set(getattr(filters, attribute))
        if not asked:
            continue
        unknown = sorted(asked - found.get(column, set()))  # found: tables included
        if unknown:
            raise InputError(_not_found(column, unknown))
    return view


def _not_found(column: str, unknown: list[str]) -> str:
    """`client_id 'C9999' not found in the data; check the id` (the ids, each quoted)."""
    ids = ", ".join(repr(i) for i in unknown)
    return f"{column} {ids} not found in the data; check the id" + ("s" if len(unknown) > 1 else "")


def found_in_parts(parts: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    """What the parts of a data set found of the filters' ids (`filter_ids_found`), together."""
    together_found: dict[str, set[str]] = {}
    for part in parts:
        for column, ids in part.get(FOUND, {}).items():
            together_found.setdefault(column, set()).update(ids)
    return together_found


def view_parts(dataset: Dataset, request: Request) -> tuple[dict[str, Any], date | None]:
    """What the clients of `dataset` (a set of whole clients of a larger data set, with its
    catalogs whole) give the request's view: the parts of each of its figures (`Figures.parts`,
    by name) and the newest payment date included.
    """
    view = get(request.view)
    selection = Selection(
        dataset, request.period, request.filters, request.balance_date, request.basis
    )
    work = [functools.partial(_figures(function).parts, selection) for function in view.figures]
    made = _merged(work, len(dataset.visits))
    made[FOUND] = filter_ids_found(dataset, request.filters)
    return made, figures.newest_payment_included(selection)


def view_of_parts(
    dataset: Dataset, request: Request, parts: list[dict[str, Any]], newest: list[date | None]
) -> ViewFigures:
    """The request's view from the `view_parts` of disjoint sets of clients that make up a
    data set: `dataset` has its catalogs, rejects, row counts, settings and source (its other
    frames are not read). The same figures as `build_view` of the whole data set.
    """
    view = checked(dataset, request, found_in_parts(parts))
    selection = Selection(
        dataset, request.period, request.filters, request.balance_date, request.basis
    )
    work = [
        functools.partial(_figures(function).finish, selection, parts) for function in view.figures
    ]
    counts = dataset.row_counts
    visits = int(counts.loc[counts["table"].eq("visits").to_numpy(), "rows_read"].sum())
    computed = _merged(work, visits)  # on threads as `build_view` would on the whole data set
    dates = [d for d in newest if d is not None]
    return _view_figures(view, request, dataset, computed, max(dates) if dates else None)


def _merged(work: Sequence[Callable[[], dict[str, Any]]], rows: int) -> dict[str, Any]:
    """The figures of the figure functions in `work`, made at once on threads for `rows`
    visits (`threads.together`), by name in the order of `work`.
    """
    with small_pages():
        return {name: value for some in together(work, rows) for name, value in some.items()}


def _figures(function: FiguresFunction) -> Figures:
    if not isinstance(function, Figures):
        msg = f"internal error: {function!r} is not made in parts (figures.Figures)"
        raise AssertionError(msg)
    return function


def _view_figures(
    view: View,
    request: Request,
    dataset: Dataset,
    computed: dict[str, Any],
    newest: date | None,
) -> ViewFigures:
    return ViewFigures(
        view=view.name,
        period=request.period,
        as_of=request.balance_date,
        basis=request.basis,
        filters=request.filters.describe(),
        source=dataset.source,
        newest_payment_date=newest,
        **computed,
    )
