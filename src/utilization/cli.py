"""The `utilization` command: validate, export, demo data and reports."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from utilization import hugepages, threads
from utilization.exceptions import InputError, UsageError, UtilizationError, require
from utilization.files import fault
from utilization.parameters import Request, whole_number
from utilization.period import parse_date
from utilization.report.pdf_engine import ENGINE_HELP, PDF_ENGINES
from utilization.views import VIEWS

if TYPE_CHECKING:
    import pandas as pd

    from utilization.dataset import PreparedView
    from utilization.partitions import PartRunner

T = TypeVar("T")
_PartsWork = Callable[[tuple[Path, int], "PartRunner | None"], T]
"""What a command does with a data folder cut into parts (`_in_parts`): the folder and the
number of parts, and what runs them (None: local processes)."""

EXIT_OK = 0
EXIT_UNUSABLE = 1
EXIT_USAGE = 2
EXIT_UNPAID_SCHEDULE = 3  # check-schedule: some scheduled visits would not be paid
CHECK_DAYS = 90  # check-schedule's default window: today and the 90 days after
VIEW_HELP = ", ".join(VIEWS)


def _add_parts(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--partitions",
        type=int,
        help="cut a data folder into this many parts by client, figures made part by part "
        "(0: in memory; default: in memory up to 2,000,000 visits, else 1 part per 1,000,000, "
        "as many as a multiple of the cores)",
    )
    parser.add_argument(
        "--scheduler",
        help="Dask scheduler address, e.g. tcp://10.0.0.5:8786: run the parts there (the "
        "workers read the parts from TMPDIR and the data folder: both shared with them)",
    )


def _add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        default="demo",
        help="data folder, .xlsx workbook, SQL URL, or `demo` (built-in synthetic agency; default)",
    )
    parser.add_argument(
        "--settings", help="settings file (TOML); default: utilization.toml in the data folder"
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
    validate.add_argument(
        "--out",
        default="reports/validation",
        help="folder for rejects.csv (default reports/validation)",
    )
    _add_parts(validate)

    export = sub.add_parser(
        "export", help="figures of a view as JSON, CSV or Excel, without rendering"
    )
    export.add_argument("view", help=VIEW_HELP)
    _add_data(export)
    Request.add_options(export)
    export.add_argument(
        "--format", default="json", choices=["json", "csv", "xlsx"], help="default json"
    )
    export.add_argument(
        "--out",
        help="output path (JSON: a file, standard output when absent; CSV: a folder; xlsx: a file)",
    )
    _add_parts(export)
    export.add_argument(
        "--plain-csv",
        action="store_true",
        help="CSV text exactly as in the data, for programs: no apostrophe before a cell "
        "starting with = + - @ (which keeps spreadsheets from running it)",
    )

    report = sub.add_parser(
        "report", help="render a view to offline HTML, PDF and the executed notebook"
    )
    report.add_argument("view", help=VIEW_HELP)
    _add_data(report)
    Request.add_options(report, period_required=False)
    report.add_argument(
        "--format", default="html,pdf", help="comma-separated: html, pdf, ipynb (default html,pdf)"
    )
    report.add_argument("--out", default="reports", help="output folder (default reports)")
    report.add_argument(
        "--name", help="file name without extension (default: the view and its subject)"
    )
    report.add_argument("--pdf-engine", choices=PDF_ENGINES, default="auto", help=ENGINE_HELP)
    _add_parts(report)

    demo = sub.add_parser("demo", help="write the synthetic demo agency as CSV or Parquet files")
    demo.add_argument("--out", default="demo-data", help="folder to write (default demo-data)")
    demo.add_argument("--format", default="csv", choices=["csv", "parquet"])
    demo.add_argument("--seed", type=int, default=2026)
    demo.add_argument("--clients", type=whole_number(1), default=60)
    demo.add_argument(
        "--months",
        type=whole_number(3, " (the window ends with today's quarter)"),
        default=15,
    )
    demo.add_argument(
        "--parts",
        type=whole_number(1),
        default=1,
        help="generate the clients in this many blocks, one in memory at a time (for data "
        "larger than memory: about 1 block per 5 million visits; default 1)",
    )
    demo.add_argument(
        "--today", help="the day the demo is generated for, YYYY-MM-DD (default: today)"
    )
    check = sub.add_parser(
        "check-schedule",
        help="scheduled visits that would not be paid (exit 3 when there are some)",
        description=(
            "Lists the scheduled billable visits that would be over an authorization's units "
            "or limits, or that no authorization holds, with the reason. Exit code 0: every "
            "scheduled visit fits; 3: some would not be paid; 1 and 2 as for other commands."
        ),
    )
    _add_data(check)
    Request.add_options(
        check, period_required=False, period_default=f"today and the {CHECK_DAYS} days after"
    )
    check.add_argument("--format", default="table", choices=["table", "csv", "json"])
    check.add_argument("--out", help="write to this file instead of standard output")
    _add_parts(check)
    remit = sub.add_parser(
        "import-835", help="add the payments of X12 835 remittance files to a data folder"
    )
    remit.add_argument("files", nargs="+", help="835 files")
    remit.add_argument("--data", required=True, help="the data folder whose payments.csv to update")

    from utilization.batch.options import add_batch_parser

    add_batch_parser(sub)

    dashboard = sub.add_parser(
        "dashboard",
        help="serve the units dashboard as a web page (Voilà), on 127.0.0.1 behind a token",
    )
    _add_data(dashboard)
    dashboard.add_argument("--port", type=int, default=8866, help="port (default 8866)")
    dashboard.add_argument(
        "--ip",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    dashboard.add_argument(
        "--token",
        help="the token the page asks for (default: a new random one, printed in the address)",
    )
    dashboard.add_argument(
        "--today", help="the day quick periods count from, YYYY-MM-DD (default: today)"
    )

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


def _cmd_validate(args: argparse.Namespace) -> int:
    from utilization.partitions import checked_in_parts
    from utilization.pipeline import load
    from utilization.rejects import summary_text, write_rejects

    checked = _in_parts(
        args, args.data, lambda chosen, run: checked_in_parts(chosen, args.settings, run)
    )
    dataset, long_visits = checked if checked else (load(args.data, args.settings), None)
    path = write_rejects(dataset, Path(args.out))
    print(summary_text(dataset, long_visits))
    print(f"rejected rows written to {path}")
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from utilization import export, views
    from utilization.pipeline import load

    request = Request.from_cli(args.view, args)
    made = _in_parts(args, args.data, _figures_of(args, request))
    view = made.figures if made else views.build_view(load(args.data, args.settings), request)
    out = Path(args.out) if args.out else None
    text = export.write(view, args.format, out, plain_csv=args.plain_csv)
    if text is not None:
        sys.stdout.write(text)
    return EXIT_OK


def _figures_of(args: argparse.Namespace, request: Request) -> _PartsWork[PreparedView]:
    """What `_in_parts` does with the parts for a view: the request's figures."""
    from utilization.partitions import prepared_views

    def made(chosen: tuple[Path, int], run: PartRunner | None) -> PreparedView:
        return prepared_views(chosen, [request], args.settings, run)[0]

    return made


def _not_paid_of(args: argparse.Namespace, request: Request) -> _PartsWork[pd.DataFrame]:
    """What `_in_parts` does with the parts for `check-schedule`: only the scheduled visits
    that would not be paid (`partitions.schedule_in_parts`), no other figure.
    """
    from utilization.partitions import schedule_in_parts

    def made(chosen: tuple[Path, int], run: PartRunner | None) -> pd.DataFrame:
        return schedule_in_parts(chosen, request, args.settings, run)

    return made


def _in_parts(args: argparse.Namespace, source: str, work: _PartsWork[T]) -> T | None:
    """`work` done on `source` cut into parts (`--partitions`, `--scheduler`, or large data:
    `partitions.parts_to_cut`), the parts run locally or on the cluster; None when the data
    is to be loaded in memory.
    """
    from utilization.partitions import cuttable, parts_to_cut

    if args.partitions is not None and args.partitions < 0:
        msg = f"--partitions must be 0 or more, not {args.partitions}"
        raise UsageError(msg)
    if args.scheduler and args.partitions == 0:
        msg = "--partitions 0 (in memory) and --scheduler (parts on a cluster): choose one"
        raise UsageError(msg)
    if not args.scheduler:
        chosen = parts_to_cut(source, args.partitions)
        return work(chosen, None) if chosen else None
    cuttable(source)  # before connecting: a source that cannot be cut is said first
    require("distributed", "dask", "Parts on a Dask cluster")
    from utilization.batch.cluster import connect, part_runner, worker_count

    with connect(args.scheduler) as client:
        workers = worker_count(client)  # parts as a multiple of the cluster's workers
        chosen = parts_to_cut(source, args.partitions, cluster=True, workers=workers)
        if chosen is None:  # parts_to_cut: never on a cluster
            msg = "internal error: no parts for a cluster"
            raise AssertionError(msg)
        return work(chosen, part_runner(client))


def _cmd_report(args: argparse.Namespace) -> int:
    from utilization.filenames import safe_name
    from utilization.pipeline import load
    from utilization.rejects import write_rejects
    from utilization.report.convert import Converter
    from utilization.report.pdf_engine import choose
    from utilization.report.runner import Renderer, parse_formats

    formats = parse_formats(args.format)
    engine = choose(args.pdf_engine) if "pdf" in formats else "none"  # before any work
    request = Request.from_cli(args.view, args)
    out = Path(args.out)
    named = request.subject or (request.filters.clients or request.filters.procedures or ("",))[0]
    name = args.name or "-".join(p for p in (args.view, named) if p)
    parameters = request.to_notebook() | {"rejects_href": "rejects.csv", "batch": True}
    converts = "html" in formats or "pdf" in formats
    # Large data: the figures made in parts, of the source as the template names it.
    made = _in_parts(args, request.data, _figures_of(args, request))
    # The HTML and PDF helper warms up on the other core while this process loads and runs.
    with (
        _figures_file(made) as figures_file,
        Converter(engine) if converts else nullcontext() as converter,
        Renderer(converter=converter) as renderer,
    ):
        if figures_file:
            parameters["data_slice"] = figures_file  # the template draws them as they are
        try:  # loaded as the template loads it: a template run in this process reuses it
            dataset = renderer.dataset(parameters)
        except UtilizationError:
            dataset = load(args.data, args.settings)  # the error, naming the source as given
        write_rejects(dataset, out)
        written = renderer.render(args.view, parameters, out, safe_name(name), formats)
    for path in written.values():
        print(path)
    return EXIT_OK


@contextmanager
def _figures_file(made: PreparedView | None) -> Iterator[str]:
    """A private file holding `made` for the template to read as its `data_slice` (removed
    afterwards); '' when there is none.
    """
    if made is None:
        yield ""
        return
    import tempfile

    from utilization.packing import write_packed

    with tempfile.TemporaryDirectory(prefix="utilization-report-") as folder:  # 0700
        path = Path(folder) / "figures.pickle"
        write_packed(path, made)
        yield str(path)


def _cmd_demo(args: argparse.Namespace) -> int:
    from utilization import demo
    from utilization.period import parse_date

    today = parse_date(args.today) if args.today else date.today()
    paths = demo.write_demo(
        Path(args.out),
        fmt=args.format,
        parts=args.parts,
        seed=args.seed,
        clients=args.clients,
        months=args.months,
        today=today,
    )
    print(f"wrote {len(paths)} tables to {args.out}")
    return EXIT_OK


def _cmd_demo_run(args: argparse.Namespace) -> int:
    from utilization.demo.job import run

    today = date.fromisoformat(args.today) if args.today else date.today()
    for line in run(Path(args.out), today, client_reports=args.clients):
        print(line)
    return EXIT_OK


def _cmd_import_835(args: argparse.Namespace) -> int:
    from utilization.pipeline import load
    from utilization.remittance import import_835

    folder = Path(args.data)
    if not folder.is_dir():
        msg = f"--data {folder} is not a data folder (import-835 updates its payments.csv)"
        raise InputError(msg)
    dataset = load(folder)
    files = [Path(f) for f in args.files]
    result = import_835(files, folder, visits=dataset.visits, clients=dataset.clients)
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


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from utilization.dashboard.server import serve
    from utilization.parameters import source_text
    from utilization.period import parse_date

    if args.today:
        parse_date(args.today)
    if not 0 < args.port < 65536:
        msg = f"--port {args.port} is not a port number (1-65535)"
        raise UsageError(msg)
    settings = str(Path(args.settings).resolve()) if args.settings else ""
    return serve(
        source_text(args.data),
        settings,
        ip=args.ip,
        port=args.port,
        token=args.token or "",
        today=args.today or "",
    )


def _cmd_batch(args: argparse.Namespace) -> int:
    from utilization.batch.run import cmd_batch

    return cmd_batch(args)


def _cmd_check_schedule(args: argparse.Namespace) -> int:
    from utilization import export
    from utilization.files import write_atomic
    from utilization.pipeline import load
    from utilization.schedule import not_paid, schedule_text
    from utilization.selection import Selection
    from utilization.spreadsheets import csv_text
    from utilization.views import checked

    today = date.today()
    start = parse_date(args.start) if args.start is not None else today
    args.start = start.isoformat()
    if args.end is None:
        args.end = (start + timedelta(days=CHECK_DAYS)).isoformat()
    request = Request.from_cli("agency", args, today)
    rows = _in_parts(args, args.data, _not_paid_of(args, request))
    if rows is None:
        dataset = load(args.data, args.settings)
        checked(dataset, request)  # the ids of its filters are in the data
        selection = Selection(dataset, request.period, request.filters, request.balance_date)
        rows = not_paid(selection)
    if args.format == "json":
        body = {
            "from": request.period.start.isoformat(),
            "to": request.period.end.isoformat(),
            "visits": export.rounded_records(rows, "schedule"),
        }
        text = json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    elif args.format == "csv":
        text = csv_text(export.rounded_frame(rows, "schedule"))  # formula-like cells quoted
    else:
        text = schedule_text(rows, request.period) + "\n"
    if args.out:
        write_atomic(Path(args.out), text)
    else:
        sys.stdout.write(text)
    return EXIT_UNPAID_SCHEDULE if len(rows) else EXIT_OK


COMMANDS = {
    "validate": _cmd_validate,
    "export": _cmd_export,
    "report": _cmd_report,
    "demo": _cmd_demo,
    "demo-run": _cmd_demo_run,
    "batch": _cmd_batch,
    "import-835": _cmd_import_835,
    "check-schedule": _cmd_check_schedule,
    "dashboard": _cmd_dashboard,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (0 ok, 1 data unusable, 2 usage error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        threads.threads()  # a bad UTILIZATION_THREADS is said before any work
        hugepages.in_process()
        return COMMANDS[args.command](args)
    except UtilizationError as exc:
        print(f"utilization {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # the machine refused somewhere no message was prepared for
        where = exc.filename if exc.filename is not None else "a file or folder"
        print(f"utilization {args.command}: {fault(exc, where, 'use')}", file=sys.stderr)
        return EXIT_UNUSABLE


if __name__ == "__main__":
    raise SystemExit(main())
