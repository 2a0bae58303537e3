"""The `utilization batch` command's options: here, apart from the run, so that building the
command line's parser imports nothing of the report stack.
"""

from __future__ import annotations

import argparse
import os

from utilization.parameters import whole_number
from utilization.report.pdf_engine import ENGINE_HELP, PDF_ENGINES


def add_batch_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `batch` subcommand's arguments."""
    parser = sub.add_parser(
        "batch",
        help="run every report of a parameter set (params/*.yaml); only what is out of date",
    )
    parser.add_argument("params", help="parameter set, YAML (see params/README.md)")
    parser.add_argument("--out", help="output folder (default: the set's `out:`, else reports)")
    parser.add_argument("--period", help="period instead of the set's, e.g. 2026-Q1")
    parser.add_argument(
        "--workers",
        type=whole_number(1),
        default=os.cpu_count() or 1,
        help="local worker processes (cores)",
    )
    parser.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786")
    parser.add_argument(
        "--partitions",
        type=int,
        help="cut the data folder into K parts by client, read by the workers (0: the whole "
        "data in this process; default: in parts on a cluster or above 2M visits)",
    )
    parser.add_argument("--force", action="store_true", help="render every report again")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--pdf-engine", choices=PDF_ENGINES, default="auto", help=ENGINE_HELP)
