"""``tenantml report [RUN_ID] [-o FILE]``: one self-contained HTML page of a run (see tenantml.report).

By default it is written into the run folder as ``report.html``; the path is printed. The page
needs no network: open it from a CI artifact, attach it to a ticket.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tenantml.locations import home
from tenantml.runfolder.runinfo import display_path, resolve_run

REPORT_NAME = "report.html"


def add_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] = ()) -> None:
    parser.add_argument("run_id", nargs="?", default=None, metavar="RUN_ID",
                        help="a run id or a unique prefix of one (default: the latest run)")
    parser.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                        help=f"where to write the page (default: {REPORT_NAME} in the run folder; - for stdout)")


def execute(args: argparse.Namespace) -> int:
    from tenantml.report import collect, render_parts, write_report

    where = home()
    run = resolve_run(where, args.run_id)
    if args.output == Path("-"):  # as curl -o -: the page on stdout (it wrote a file named '-')
        sys.stdout.writelines(render_parts(run, collect(run, where)))
        return 0
    target = (args.output or run.folder / REPORT_NAME).expanduser().absolute()
    write_report(run, target, where)
    print(display_path(target))
    return 0
