"""``tenantml backends``: the backends installed (metadata only; none is imported)."""

from __future__ import annotations

import argparse

from tenantml.backends.registry import BackendRegistry


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def execute(args: argparse.Namespace) -> int:
    for name in BackendRegistry().names():
        print(name)
    return 0
