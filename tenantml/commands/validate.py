"""``tenantml validate PIPELINE [--backend NAME]``: every check that needs no run, reported as
file:line: key: message. It is the backend's plan (``supports_plan``), printed."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from tenantml.commands.common import add_location_arguments, datastores_from


def add_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] = ()) -> None:
    parser.add_argument("pipeline", type=Path, help="the pipeline YAML")
    parser.add_argument("--backend", default="local", help="validate for this backend (default: local)")
    add_location_arguments(parser)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change one value of the YAML first, as tenantml run --set does")


def execute(args: argparse.Namespace) -> int:
    from tenantml.backends.base import RunOptions
    from tenantml.backends.registry import BackendRegistry
    from tenantml.errors import UserError
    from tenantml.locations import home

    backend_cls = BackendRegistry().load(args.backend)
    if not backend_cls.supports_plan:
        raise UserError(f"backend '{args.backend}' cannot validate without running.", key="--backend",
                        fix="validate for the local backend: tenantml validate PIPELINE")
    plan = backend_cls().plan(args.pipeline, RunOptions(home=home(), datastores=datastores_from(args),
                                                        overrides=tuple(args.set or ())))
    for warning in plan.warnings:
        print(f"warning: {warning}")
    print("\n".join(plan.lines()))
    return 0
