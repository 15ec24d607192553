"""``tenantml fetch RUN``: bring a run that ran elsewhere (e.g. an Azure ML job) into a run folder
that ``tenantml show`` reads exactly as a local run. Offered by backends with ``supports_fetch``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tenantml.backends.base import Backend
from tenantml.backends.registry import BackendRegistry
from tenantml.commands.common import chosen_backend
from tenantml.errors import UserError


def _fetching_backend(name: str | None) -> type[Backend]:
    registry = BackendRegistry()
    if name is not None:
        cls = registry.load(name)
        if not cls.supports_fetch:
            raise UserError(f"backend '{name}' runs nothing elsewhere, so there is nothing to fetch.",
                            key="--backend", fix="name a backend that can fetch (see 'tenantml backends')")
        return cls
    able = []
    for candidate in registry.names():
        try:
            cls = registry.load(candidate)
        except UserError:
            continue  # a broken third-party backend does not stop fetching from a working one
        if cls.supports_fetch:
            able.append(cls)
    if len(able) != 1:
        raise UserError("name the backend the run ran on: "
                        + (", ".join(c.name for c in able) if able else "no installed backend can fetch") + ".",
                        key="--backend", fix="tenantml fetch RUN --backend NAME")
    return able[0]


def add_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] = ()) -> None:
    parser.add_argument("job_name", metavar="JOB_NAME", help="the run's name where it ran (as 'run' printed it)")
    parser.add_argument("--backend", default=None,
                        help="the backend it ran on (default: the one installed backend that can fetch)")
    try:
        backend_cls = _fetching_backend(chosen_backend(argv, default=None))
    except UserError:
        return  # execute() reports it
    backend_cls.add_fetch_arguments(parser)


def execute(args: argparse.Namespace) -> int:
    from tenantml.backends.base import RunOptions
    from tenantml.locations import home
    from tenantml.progress import Reporter

    backend_cls = _fetching_backend(args.backend)
    options = RunOptions(home=home(), reporter=Reporter(sys.stderr), backend=backend_cls.options_from_args(args))
    run_dir = backend_cls().fetch(args.job_name, options)
    print(f"fetched {args.job_name} into {run_dir}")
    print(f"read it with: tenantml show {args.job_name}")
    return 0
