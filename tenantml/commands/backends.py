"""``tenantml backends``: the backends installed (metadata only; none is imported)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from tenantml.backends.registry import BackendRegistry


def add_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] = ()) -> None:
    pass


def execute(args: argparse.Namespace) -> int:
    for name in BackendRegistry().names():
        print(name)
    return 0
