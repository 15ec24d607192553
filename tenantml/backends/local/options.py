"""Options of the local backend: a typed object, and the ``tenantml run`` flags that fill it."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tenantml.errors import UserError

if TYPE_CHECKING:
    from tenantml.backends.local.pool import Transport


@dataclass(frozen=True)
class LocalOptions:
    """How the local backend runs a pipeline's steps (typed, not a dict of magic keys)."""

    max_workers: int | None = None  # cap on real processes (and concurrent steps); default: CPU count
    worker_memory_limit: int | None = None  # bytes of RSS; a worker above it is replaced
    poll_interval: float = 0.5  # how often memory and resource snapshots are taken
    env: dict[str, str] = field(default_factory=dict)  # set in every worker (e.g. MLflow's tracking URI)
    transport: Callable[[], Transport] | None = None  # the worker pool of a parallel step (default: processes)
    environments: str | None = None  # "current" | "isolated"; None: tenantml.yml's, else current
    python: str | None = None  # the interpreter a parallel step's workers run (set per step when isolated)

    def __post_init__(self) -> None:
        if self.max_workers is not None and self.max_workers < 1:
            raise UserError(f"--max-workers is {self.max_workers}; it must be 1 or more.", key="--max-workers")
        if self.environments not in (None, "current", "isolated"):
            raise UserError(f"--environments is '{self.environments}'.", key="--environments",
                            fix="--environments isolated (each step in its own virtualenv) or current")

    @property
    def cap(self) -> int:
        return self.max_workers or os.cpu_count() or 1


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--max-workers", type=int, default=None, metavar="N",
                       help="cap on local worker processes (default: CPU count)")
    group.add_argument("--worker-memory-limit", default=None, metavar="SIZE",
                       help="replace a worker whose memory exceeds SIZE (e.g. 2GB); its attempt fails")
    group.add_argument("--environments", choices=("current", "isolated"), default=None,
                       help="isolated: each step runs in a virtualenv built (uv) from its environment's conda "
                            "file, cached; current (default): every step runs in this Python environment")


def options_from_args(args: argparse.Namespace) -> LocalOptions:
    limit = getattr(args, "worker_memory_limit", None)
    return LocalOptions(max_workers=getattr(args, "max_workers", None),
                        worker_memory_limit=parse_bytes(limit, "--worker-memory-limit") if limit else None,
                        environments=getattr(args, "environments", None))


_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}


def parse_bytes(text: str, option: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?b?)\s*", text.lower())
    if not match:
        raise UserError(f"{option} '{text}' is not a size.", key=option, fix="write e.g. 512MB or 2GB")
    return int(float(match[1]) * _UNITS[match[2]])
