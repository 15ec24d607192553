"""Options of ``tenantml run`` for ``--backend aml``, and the aml path of its execution.

Importing this module imports nothing from Azure; ``run_aml`` loads the backend when called.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tenantml.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UserError


def add_aml_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change one value of the YAML before it is validated, e.g. "
                             "jobs.score.mini_batch_size=2 (repeatable; as az ml job create --set)")
    group = parser.add_argument_group("--backend aml (Azure ML)")
    add_workspace_arguments(group)
    group.add_argument("--experiment", default=None,
                       help="experiment name (default: the YAML's experiment_name, else its folder's name)")
    group.add_argument("--wait", dest="wait", action="store_true", default=None,
                       help="stream the job's status until it ends; exit 0 Completed, 1 otherwise "
                            "(default on a terminal)")
    group.add_argument("--no-wait", dest="wait", action="store_false", help="submit, print the job name and exit")
    group.add_argument("--cancel-on-interrupt", action="store_true", default=None,
                       help="Ctrl-C while waiting cancels the cloud job without asking (for scripts)")
    group.add_argument("--dry-run", action="store_true",
                       help="no network: validate with tenantml and the Azure ML SDK and print what each "
                            "parallel step will receive; exit 0 when submittable")


def add_workspace_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--subscription", default=None, help="Azure subscription id of the workspace")
    parser.add_argument("--resource-group", default=None, help="resource group of the workspace")
    parser.add_argument("--workspace", default=None,
                        help="Azure ML workspace name (else AZUREML_ARM_* variables, else config.json)")


def aml_options_from(args: argparse.Namespace, resume: Path | None = None):
    from tenantml.backends.aml.options import AmlOptions

    wait = args.wait if getattr(args, "wait", None) is not None else sys.stdout.isatty()
    return AmlOptions(subscription=args.subscription, resource_group=args.resource_group, workspace=args.workspace,
                      experiment=getattr(args, "experiment", None), wait=wait,
                      cancel_on_interrupt=getattr(args, "cancel_on_interrupt", None),
                      dry_run=bool(getattr(args, "dry_run", False)), overrides=tuple(getattr(args, "set", []) or ()),
                      resume=resume)


def run_aml(args: argparse.Namespace) -> int:
    """``tenantml run PIPELINE --backend aml``: dry run, or submit (and wait)."""
    from tenantml.backends.aml import AmlBackend
    from tenantml.backends.base import RunOptions
    from tenantml.backends.registry import BackendRegistry
    from tenantml.locations import home
    from tenantml.progress import Reporter

    backend_cls = BackendRegistry().load("aml")
    root = home()
    resume = None
    if getattr(args, "resume", None):
        resume = root / "runs" / str(args.resume)
    reporter = Reporter(sys.stderr, quiet=getattr(args, "quiet", False))
    options = RunOptions(home=root, run_id=getattr(args, "run_id", None), reporter=reporter,
                         aml=aml_options_from(args, resume))
    backend = backend_cls()
    assert isinstance(backend, AmlBackend)
    prepared = backend.plan(args.pipeline, options)
    for warning in prepared.warnings:
        reporter.note("warning: " + warning)
    for line in getattr(prepared, "resume_notes", []):
        print(line)
    if options.aml.dry_run:
        print(f"{args.pipeline}: submittable to Azure ML (experiment {prepared.experiment}); "
              f"{len(prepared.steps)} parallel step(s). Nothing was sent (--dry-run).")
        for step in prepared.steps:
            print("\n".join(step.lines()))
        return EXIT_OK
    handle = backend.submit_prepared(prepared, options)
    print(f"job {handle.run_id} submitted")
    if handle.aml.studio_url:
        print(f"studio: {handle.aml.studio_url}")
    print(f"run folder: {handle.run_dir}")
    if not options.aml.wait:
        print(f"follow it with: tenantml fetch {handle.run_id} (once it has ended)")
        return EXIT_OK
    try:
        status = handle.wait()
    except KeyboardInterrupt:
        reporter.finish_line()
        return _interrupted(handle, options.aml.cancel_on_interrupt)
    print(f"job {handle.run_id}: {handle.azure_status()}")
    if status != "Completed":
        print(f"see the logs: tenantml fetch {handle.run_id} && tenantml show {handle.run_id} --failed",
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _interrupted(handle, cancel: bool | None) -> int:
    handle.mark_interrupted()
    if cancel is None and sys.stdin.isatty():
        try:
            answer = input(f"\nCancel the Azure ML job {handle.run_id} too? [y/N] ")
        except (EOFError, KeyboardInterrupt):
            answer = ""
        cancel = answer.strip().lower() in ("y", "yes")
    if cancel:
        handle.cancel()
        print(f"tenantml: interrupted; cancel requested for Azure ML job {handle.run_id}", file=sys.stderr)
    else:
        print(f"tenantml: stopped waiting; the Azure ML job {handle.run_id} goes on"
              + (f" ({handle.aml.studio_url})" if handle.aml.studio_url else ""), file=sys.stderr)
    return EXIT_INTERRUPTED


__all__ = ["add_aml_arguments", "add_workspace_arguments", "run_aml", "EXIT_BAD_INPUT", "UserError"]
