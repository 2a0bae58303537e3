"""The `utilization` command: validate, export, demo data and reports."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from utilization.errors import InputError

EXIT_OK = 0
EXIT_UNUSABLE = 1
EXIT_USAGE = 2


def _add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        default="demo",
        help="data folder, .xlsx workbook, SQL URL, or `demo` (built-in synthetic agency; default)",
    )
    parser.add_argument("--settings", help="settings file (TOML); default: utilization.toml in the data folder")


def _add_request(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")
    parser.add_argument("--client", action="append", default=[], help="client_id (repeatable)")
    parser.add_argument("--procedure", action="append", default=[], help="procedure code (repeatable)")
    parser.add_argument("--payer", action="append", default=[], help="payer_id (repeatable)")
    parser.add_argument("--provider", action="append", default=[], help="provider_id (repeatable)")
    parser.add_argument("--case-type", action="append", default=[], help="case type (repeatable)")
    parser.add_argument("--billable", choices=["yes", "no"], help="only billable or non-billable visits")
    parser.add_argument("--as-of", help="date of the authorization balances (default: --to)")
    parser.add_argument("--basis", default="prorated", choices=["prorated", "full"], help="units approved basis")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="utilization",
        description="Units utilization reports for home- and community-based-services agencies.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    validate = sub.add_parser("validate", help="check a data source; write the rejected rows as CSV")
    _add_data(validate)
    validate.add_argument("--out", default="reports/validation", help="folder for rejects.csv")

    export = sub.add_parser("export", help="figures of a view as JSON, CSV or Excel, without rendering")
    export.add_argument("view", help="agency, client, procedure, service-codes or authorizations")
    _add_data(export)
    _add_request(export)
    export.add_argument("--format", default="json", choices=["json", "csv", "xlsx"])
    export.add_argument("--out", help="output path (JSON: a file, standard output when absent; CSV: a folder; xlsx: a file)")

    demo = sub.add_parser("demo", help="write the synthetic demo agency as CSV or Parquet files")
    demo.add_argument("--out", default="demo-data", help="folder to write (default demo-data)")
    demo.add_argument("--format", default="csv", choices=["csv", "parquet"])
    demo.add_argument("--seed", type=int, default=2026)
    demo.add_argument("--clients", type=int, default=60)
    demo.add_argument("--months", type=int, default=15)
    demo.add_argument("--today", help="the day the demo is generated for, YYYY-MM-DD (default: today)")
    return parser


def _request(args: argparse.Namespace, view: str):  # type: ignore[no-untyped-def]
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


def _cmd_demo(args: argparse.Namespace) -> int:
    from utilization import demo
    from utilization.period import parse_date

    today = parse_date(args.today) if args.today else date.today()
    paths = demo.write_demo(
        Path(args.out), fmt=args.format, seed=args.seed, clients=args.clients, months=args.months, today=today
    )
    print(f"wrote {len(paths)} tables to {args.out}")
    return EXIT_OK


COMMANDS = {"validate": _cmd_validate, "export": _cmd_export, "demo": _cmd_demo}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (0 ok, 1 data unusable, 2 usage error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return COMMANDS[args.command](args)
    except InputError as exc:
        print(f"utilization {args.command}: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE


if __name__ == "__main__":
    raise SystemExit(main())
