"""The `utilization` command: validate, export, demo data and reports."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from utilization.errors import InputError, UsageError

if TYPE_CHECKING:
    from utilization.export import ViewRequest

EXIT_OK = 0
EXIT_UNUSABLE = 1
EXIT_USAGE = 2


def _add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        default="demo",
        help="data folder, .xlsx workbook, SQL URL, or `demo` (built-in synthetic agency; default)",
    )
    parser.add_argument(
        "--settings", help="settings file (TOML); default: utilization.toml in the data folder"
    )


def _add_request(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")
    parser.add_argument("--client", action="append", default=[], help="client_id (repeatable)")
    parser.add_argument(
        "--procedure", action="append", default=[], help="procedure code (repeatable)"
    )
    parser.add_argument("--payer", action="append", default=[], help="payer_id (repeatable)")
    parser.add_argument("--provider", action="append", default=[], help="provider_id (repeatable)")
    parser.add_argument("--case-type", action="append", default=[], help="case type (repeatable)")
    parser.add_argument(
        "--billable", choices=["yes", "no"], help="only billable or non-billable visits"
    )
    parser.add_argument("--as-of", help="date of the authorization balances (default: --to)")
    parser.add_argument(
        "--basis", default="prorated", choices=["prorated", "full"], help="units approved basis"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="utilization",
        description="Units utilization reports for home- and community-based-services agencies.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    validate = sub.add_parser(
        "validate", help="check a data source; write the rejected rows as CSV"
    )
    _add_data(validate)
    validate.add_argument("--out", default="reports/validation", help="folder for rejects.csv")

    export = sub.add_parser(
        "export", help="figures of a view as JSON, CSV or Excel, without rendering"
    )
    export.add_argument("view", help="agency, client, procedure, service-codes or authorizations")
    _add_data(export)
    _add_request(export)
    export.add_argument("--format", default="json", choices=["json", "csv", "xlsx"])
    export.add_argument(
        "--out",
        help="output path (JSON: a file, standard output when absent; CSV: a folder; xlsx: a file)",
    )

    report = sub.add_parser(
        "report", help="render a view to offline HTML, PDF and the executed notebook"
    )
    report.add_argument("view", help="agency, client, procedure, service-codes or authorizations")
    _add_data(report)
    _add_request(report)
    report.add_argument(
        "--format", default="html,pdf", help="comma-separated: html, pdf, ipynb (default html,pdf)"
    )
    report.add_argument("--out", default="reports", help="output folder (default reports)")
    report.add_argument(
        "--name", help="file name without extension (default: the view and its subject)"
    )

    demo = sub.add_parser("demo", help="write the synthetic demo agency as CSV or Parquet files")
    demo.add_argument("--out", default="demo-data", help="folder to write (default demo-data)")
    demo.add_argument("--format", default="csv", choices=["csv", "parquet"])
    demo.add_argument("--seed", type=int, default=2026)
    demo.add_argument("--clients", type=int, default=60)
    demo.add_argument("--months", type=int, default=15)
    demo.add_argument(
        "--today", help="the day the demo is generated for, YYYY-MM-DD (default: today)"
    )
    remit = sub.add_parser(
        "import-835", help="add the payments of X12 835 remittance files to a data folder"
    )
    remit.add_argument("files", nargs="+", help="835 files")
    remit.add_argument("--data", required=True, help="the data folder whose payments.csv to update")

    from utilization.batch import add_batch_parser

    add_batch_parser(sub)

    main_job = sub.add_parser(
        "demo-run", help="the main job on the demo data: validate, export, reports"
    )
    main_job.add_argument(
        "--out", default="reports/demo", help="output folder (default reports/demo)"
    )
    main_job.add_argument("--today", help="the day to run as, YYYY-MM-DD (default: today)")
    main_job.add_argument(
        "--clients", type=int, help="render only the first N active clients' reports (default: all)"
    )
    return parser


def _request(args: argparse.Namespace, view: str) -> ViewRequest:
    from utilization.export import ViewRequest
    from utilization.period import Filters, Period, parse_date

    period = Period(parse_date(args.start), parse_date(args.end))
    filters = Filters(
        clients=tuple(args.client),
        procedures=tuple(args.procedure),
        payers=tuple(args.payer),
        providers=tuple(args.provider),
        case_types=tuple(args.case_type),
        billable=None if args.billable is None else args.billable == "yes",
    )
    as_of = parse_date(args.as_of) if args.as_of else period.end
    return ViewRequest(view=view, period=period, filters=filters, as_of=as_of, basis=args.basis)


def _cmd_validate(args: argparse.Namespace) -> int:
    from utilization.pipeline import load
    from utilization.validation_report import summary_text, write_rejects

    dataset = load(args.data, args.settings)
    path = write_rejects(dataset, Path(args.out))
    print(summary_text(dataset))
    print(f"rejected rows written to {path}")
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from utilization import export
    from utilization.pipeline import load

    request = _request(args, args.view)
    request.check()
    dataset = load(args.data, args.settings)
    view = export.build_view(dataset, request)
    text = export.write(view, args.format, Path(args.out) if args.out else None)
    if text is not None:
        sys.stdout.write(text)
    return EXIT_OK


def notebook_parameters(args: argparse.Namespace, rejects_href: str) -> dict[str, object]:
    """The template parameters for a request given on the command line."""
    data = args.data
    if data != "demo" and "://" not in data and Path(data).exists():
        data = str(Path(data).resolve())
    return {
        "data": data,
        "settings": str(Path(args.settings).resolve()) if args.settings else "",
        "date_from": args.start,
        "date_to": args.end,
        "client": ",".join(args.client),
        "procedure": ",".join(args.procedure),
        "payer": ",".join(args.payer),
        "provider": ",".join(args.provider),
        "case_type": ",".join(args.case_type),
        "billable": args.billable or "",
        "as_of": args.as_of or "",
        "basis": args.basis,
        "rejects_href": rejects_href,
        "batch": True,
    }


def _cmd_report(args: argparse.Namespace) -> int:
    from utilization.runner import Renderer, parse_formats
    from utilization.validation_report import write_rejects
    from utilization.views import load_cached

    formats = parse_formats(args.format)
    request = _request(args, args.view)
    request.check()
    out = Path(args.out)
    dataset = load_cached(args.data, args.settings or "")
    write_rejects(dataset, out)
    subject = (request.filters.clients or request.filters.procedures or ("",))[0]
    name = args.name or "-".join(p for p in (args.view, subject) if p)
    from utilization.filenames import safe_name

    with Renderer() as renderer:
        written = renderer.render(
            args.view, notebook_parameters(args, "rejects.csv"), out, safe_name(name), formats
        )
    for path in written.values():
        print(path)
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from utilization import demo
    from utilization.period import parse_date

    today = parse_date(args.today) if args.today else date.today()
    paths = demo.write_demo(
        Path(args.out),
        fmt=args.format,
        seed=args.seed,
        clients=args.clients,
        months=args.months,
        today=today,
    )
    print(f"wrote {len(paths)} tables to {args.out}")
    return EXIT_OK


def _cmd_demo_run(args: argparse.Namespace) -> int:
    from utilization.demo_run import run

    today = date.fromisoformat(args.today) if args.today else date.today()
    for line in run(Path(args.out), today, client_reports=args.clients):
        print(line)
    return EXIT_OK


def _cmd_import_835(args: argparse.Namespace) -> int:
    from utilization.remittance import import_835

    folder = Path(args.data)
    if not folder.is_dir():
        msg = f"--data {folder} is not a data folder (import-835 updates its payments.csv)"
        raise InputError(msg)
    result = import_835([Path(f) for f in args.files], folder)
    print(
        f"{result.lines_read} line(s) read: {result.lines_matched} matched, "
        f"{result.lines_unmatched} unmatched, {result.lines_already_imported} already imported; "
        f"{result.payments_added} payment(s) added to {result.payments_path}"
    )
    if result.lines_unmatched:
        print(f"unmatched lines, with the reason: {result.unmatched_path}")
    for error in result.errors.itertuples(index=False):
        print(f"{error.severity}: {error.file}: {error.reason}", file=sys.stderr)
    failed = (result.errors["severity"] == "error").any() if len(result.errors) else False
    return EXIT_UNUSABLE if failed else EXIT_OK


def _cmd_batch(args: argparse.Namespace) -> int:
    from utilization.batch import cmd_batch

    return cmd_batch(args)


COMMANDS = {
    "validate": _cmd_validate,
    "export": _cmd_export,
    "report": _cmd_report,
    "demo": _cmd_demo,
    "demo-run": _cmd_demo_run,
    "batch": _cmd_batch,
    "import-835": _cmd_import_835,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (0 ok, 1 data unusable, 2 usage error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"utilization {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except InputError as exc:
        print(f"utilization {args.command}: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE


if __name__ == "__main__":
    raise SystemExit(main())
