"""The Python API: ``tenantml.run(path, backend="local", ...) -> Run``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tenantml.backends.base import RunHandle, RunOptions, StepStatus
from tenantml.backends.registry import BackendRegistry
from tenantml.locations import home as default_home
from tenantml.progress import Reporter

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Run:
    """A finished (or interrupted) run: status, outputs, and the per-attempt ledger."""

    handle: RunHandle

    @property
    def run_id(self) -> str:
        return self.handle.run_id

    @property
    def run_dir(self) -> Path:
        return self.handle.run_dir

    @property
    def status(self) -> str:
        return self.handle.status()

    @property
    def steps(self) -> list[StepStatus]:
        return self.handle.steps()

    @property
    def outputs(self) -> dict[str, dict[str, Path]]:
        return self.handle.outputs()

    @property
    def ledger(self) -> "pd.DataFrame":
        return self.handle.ledger()


def submit(path: str | os.PathLike[str], backend: str = "local", *, home: str | os.PathLike[str] | None = None,
           datastores: dict[str, str | os.PathLike[str]] | None = None, max_workers: int | None = None,
           worker_memory_limit: int | None = None, run_id: str | None = None,
           reporter: Reporter | None = None, overrides: list[str] | tuple[str, ...] = (),
           resume: str | None = None, force: bool = False) -> RunHandle:
    """Validate and submit; the returned handle has not been waited on.

    ``overrides`` are ``--set`` strings (``"inputs.tenants=10"``); ``resume`` names a run whose
    unfinished steps (and, in a parallel step, unfinished mini-batches) are finished in place;
    ``force`` disables step reuse.
    """
    options = RunOptions(
        home=Path(home).absolute() if home else default_home(),
        datastores={k: Path(v).absolute() for k, v in (datastores or {}).items()},
        run_id=run_id, max_workers=max_workers, worker_memory_limit=worker_memory_limit, reporter=reporter,
        overrides=tuple(overrides), resume=resume, force=force)
    backend_cls = BackendRegistry().load(backend)
    return backend_cls().submit(Path(path), options)


def run(path: str | os.PathLike[str], backend: str = "local", **options) -> Run:
    """Run a pipeline to its end and return the :class:`Run` (whatever its status).

    Bad input raises :class:`tenantml.errors.UserError` before anything runs; Ctrl-C raises
    :class:`tenantml.errors.RunInterrupted` after every worker has ended.
    """
    handle = submit(path, backend, **options)
    handle.wait()
    return Run(handle)
