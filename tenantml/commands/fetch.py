"""``tenantml fetch JOB_NAME``: download a finished Azure ML job's logs and outputs into a run folder
that ``tenantml show`` reads exactly as a local run."""

from __future__ import annotations

import argparse
import sys

from tenantml.commands.aml_options import add_workspace_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job_name", metavar="JOB_NAME", help="the Azure ML pipeline job's name (as 'run' printed it)")
    add_workspace_arguments(parser)


def execute(args: argparse.Namespace) -> int:
    from tenantml.backends.aml.fetch import fetch
    from tenantml.backends.aml.options import AmlOptions
    from tenantml.locations import home
    from tenantml.progress import Reporter

    options = AmlOptions(subscription=args.subscription, resource_group=args.resource_group, workspace=args.workspace)
    run_dir = fetch(args.job_name, options, home(), Reporter(sys.stderr))
    print(f"fetched {args.job_name} into {run_dir}")
    print(f"read it with: tenantml show {args.job_name}")
    return 0
