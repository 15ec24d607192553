"""``tenantml validate PIPELINE``: every check that needs no run, reported as file:line: key: message."""

from __future__ import annotations

import argparse
from pathlib import Path

from tenantml.commands.common import add_location_arguments, datastores_from
from tenantml.loader import LoadContext, load_pipeline
from tenantml.local_config import datastores_for
from tenantml.locations import home


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pipeline", type=Path, help="the pipeline YAML")
    add_location_arguments(parser)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change one value of the YAML first, as tenantml run --set does")


def execute(args: argparse.Namespace) -> int:
    root = home()
    datastores, assets = datastores_for(args.pipeline, root, datastores_from(args))
    pipeline = load_pipeline(args.pipeline, LoadContext(root / "runs" / "<run-id>", "<run-id>", datastores,
                                                        tuple(getattr(args, "set", None) or ()), assets))
    for warning in pipeline.warnings:
        print(f"warning: {warning}")
    print(f"{args.pipeline}: valid ({len(pipeline.jobs)} job(s): {', '.join(pipeline.jobs)})")
    return 0
