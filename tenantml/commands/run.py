"""``tenantml run PIPELINE``: run a pipeline and print a closing summary."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tenantml.commands.common import add_location_arguments, datastores_from, parse_bytes
from tenantml.commands.aml_options import add_aml_arguments
from tenantml.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, RunInterrupted, UserError
from tenantml.progress import Reporter
from tenantml.summary import render_summary
from tenantml.status import RunStatus


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pipeline", type=Path, help="the pipeline YAML (Azure ML CLI v2 format)")
    parser.add_argument("--backend", default="local", help="where to run it (default: local)")
    add_location_arguments(parser)
    parser.add_argument("--max-workers", type=int, default=None, metavar="N",
                        help="cap on local worker processes (default: CPU count)")
    parser.add_argument("--worker-memory-limit", default=None, metavar="SIZE",
                        help="replace a worker whose memory exceeds SIZE (e.g. 2GB); its attempt fails")
    parser.add_argument("--run-id", default=None, help="name the run (default: generated)")
    parser.add_argument("--resume", default=None, metavar="RUN_ID",
                        help="finish RUN_ID in place: completed steps are kept, only what did not succeed runs")
    parser.add_argument("--force", action="store_true", help="run every step, even unchanged ones (no reuse)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    add_aml_arguments(parser)


def execute(args: argparse.Namespace) -> int:
    from tenantml.api import Run, submit

    if args.backend == "aml":
        from tenantml.commands.aml_options import run_aml

        return run_aml(args)
    if args.max_workers is not None and args.max_workers < 1:
        raise UserError(f"--max-workers is {args.max_workers}; it must be 1 or more.", key="--max-workers")
    limit = parse_bytes(args.worker_memory_limit, "--worker-memory-limit") if args.worker_memory_limit else None
    reporter = Reporter(sys.stderr, quiet=args.quiet)
    handle = submit(args.pipeline, args.backend, datastores=datastores_from(args), max_workers=args.max_workers,
                    worker_memory_limit=limit, run_id=args.run_id, reporter=reporter,
                    overrides=tuple(getattr(args, "set", None) or ()), resume=args.resume, force=args.force)
    reporter.note(f"run {handle.run_id}: {handle.run_dir}")
    try:
        handle.wait()
    except RunInterrupted as exc:
        reporter.finish_line()
        print(render_summary(Run(handle)), file=sys.stdout)
        print(f"tenantml: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(render_summary(Run(handle)))
    return EXIT_OK if handle.status() == RunStatus.COMPLETED else EXIT_FAILED
