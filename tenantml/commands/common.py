"""Options shared by several commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from tenantml.errors import UserError
from tenantml.locations import parse_datastore_option


def add_location_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--datastore", action="append", default=[], metavar="NAME=PATH",
                        help="map an Azure ML datastore to a local folder (repeatable)")


def datastores_from(args: argparse.Namespace) -> dict[str, Path]:
    return dict(parse_datastore_option(text) for text in args.datastore)


_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}


def parse_bytes(text: str, option: str) -> int:
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?b?)\s*", text.lower())
    if not match:
        raise UserError(f"{option} '{text}' is not a size.", key=option, fix="write e.g. 512MB or 2GB")
    return int(float(match[1]) * _UNITS[match[2]])
