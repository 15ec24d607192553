"""Options shared by several commands."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from tenantml.locations import parse_datastore_option


def add_location_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--datastore", action="append", default=[], metavar="NAME=PATH",
                        help="map an Azure ML datastore to a local folder (repeatable)")


def datastores_from(args: argparse.Namespace) -> dict[str, Path]:
    return dict(parse_datastore_option(text) for text in args.datastore)


def chosen_backend(argv: Sequence[str], default: str | None = "local") -> str | None:
    """The value of ``--backend`` in a command line not parsed yet (its options depend on it)."""
    for i, arg in enumerate(argv):
        if arg == "--backend" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--backend="):
            return arg.split("=", 1)[1]
    return default
