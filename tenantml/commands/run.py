"""``tenantml run PIPELINE [--backend NAME]``: run a pipeline and print a closing summary.

The same path for every backend: the chosen backend adds its own options to this command,
declares what it can do (``supports_plan`` for ``--dry-run``, ``supports_resume``,
``supports_log_download``), and :func:`tenantml.api.wait` holds the one interrupt contract.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tenantml.backends.registry import BackendRegistry
from tenantml.commands.common import add_location_arguments, chosen_backend, datastores_from
from tenantml.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, RunInterrupted, UserError
from tenantml.progress import Reporter
from tenantml.status import RunStatus
from tenantml.summary import render_summary


def add_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] = ()) -> None:
    registry = BackendRegistry()
    parser.add_argument("pipeline", type=Path, help="the pipeline YAML (Azure ML CLI v2 format)")
    parser.add_argument("--backend", default="local",
                        help="where to run it: " + ", ".join(registry.names()) + " (default: local); "
                             "'tenantml run --backend NAME --help' lists that backend's own options")
    add_location_arguments(parser)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change one value of the YAML before it is validated, e.g. "
                             "jobs.score.mini_batch_size=2 (repeatable; as az ml job create --set)")
    parser.add_argument("--run-id", default=None, help="name the run (default: generated)")
    parser.add_argument("--resume", default=None, metavar="RUN_ID",
                        help="finish RUN_ID in place: completed steps are kept, only what did not succeed runs")
    parser.add_argument("--retry-failed", action="store_true",
                        help="with --resume: also re-run the failed mini-batches of steps that completed within "
                             "their error threshold (and the steps after them)")
    parser.add_argument("--allow-changes", action="store_true",
                        help="with --resume: accept --set values that differ from the run's own")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when any mini-batch failed, even in a run that completed within its thresholds")
    parser.add_argument("--force", action="store_true", help="run every step, even unchanged ones (no reuse)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate and print what each step will receive; nothing runs or is sent "
                             "(backends that can plan: see 'tenantml backends')")
    name = chosen_backend(argv) or "local"
    try:
        backend_cls = registry.load(name)
    except UserError:
        return  # execute() reports it, with the nearest name
    backend_cls.add_arguments(parser.add_argument_group(f"--backend {name}"))


def execute(args: argparse.Namespace) -> int:
    from tenantml.api import Run, submit, wait
    from tenantml.backends.base import RunOptions
    from tenantml.locations import home

    backend_cls = BackendRegistry().load(args.backend)
    options = backend_cls.options_from_args(args)
    reporter = Reporter(sys.stderr, quiet=args.quiet)
    if args.dry_run:
        if not backend_cls.supports_plan:
            raise UserError(f"backend '{args.backend}' has no dry run.", key="--dry-run",
                            fix="check the YAML without running it: tenantml validate PIPELINE")
        plan = backend_cls().plan(args.pipeline, RunOptions(
            home=home(), datastores=datastores_from(args), run_id=args.run_id, reporter=reporter,
            overrides=tuple(args.set or ()), resume=args.resume, force=args.force, backend=options))
        for warning in plan.warnings:
            reporter.note("warning: " + warning)
        print("\n".join(plan.lines()))
        return EXIT_OK
    handle = submit(args.pipeline, args.backend, datastores=dict(datastores_from(args)), run_id=args.run_id,
                    reporter=reporter, overrides=tuple(args.set or ()), resume=args.resume, force=args.force,
                    retry_failed=args.retry_failed, allow_changes=args.allow_changes, options=options)
    if handle.detached:
        print("\n".join(handle.describe()))
        return EXIT_OK
    for line in handle.describe():
        reporter.note(line)
    fetch_first = backend_cls.supports_log_download
    try:
        status = wait(handle)
    except (RunInterrupted, KeyboardInterrupt) as exc:
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a further Ctrl-C must not cut the summary short
        reporter.finish_line()
        print(render_summary(Run(handle), fetch_first=fetch_first), file=sys.stdout)
        print(f"tenantml: {exc or 'interrupted'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    reporter.finish_line()
    print(render_summary(Run(handle), fetch_first=fetch_first))
    print(f"  Report: {write_run_report(handle.run_dir)}")
    if status is RunStatus.COMPLETED and args.strict:
        failed = failed_tenants(handle.run_dir)
        if failed:
            print(f"tenantml: --strict: {failed} mini-batch(es) failed, so the run counts as failed "
                  f"(retry them: tenantml run {args.pipeline} --resume {handle.run_id} --retry-failed)",
                  file=sys.stderr)
            return EXIT_FAILED
    return EXIT_OK if status is RunStatus.COMPLETED else EXIT_FAILED


def write_run_report(run_dir: Path) -> str:
    """``report.html`` in the run folder (what ``tenantml report`` writes), as a path to print."""
    from tenantml.report import write_report
    from tenantml.runfolder.runinfo import display_path, read_run

    return display_path(write_report(read_run(run_dir), run_dir / "report.html", run_dir.parent.parent))


def failed_tenants(run_dir: Path) -> int:
    """Failed mini-batches over the run's parallel steps, read from its folder as ``show`` reads it."""
    from tenantml.runfolder.runinfo import read_run
    from tenantml.runfolder.stepview import failed_mini_batches

    return failed_mini_batches(read_run(run_dir), run_dir.parent.parent)
