"""The Python API: ``tenantml.run(path_or_job, backend="local", ...) -> Run``."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenantml.backends.base import Backend, RunHandle, RunOptions, StepStatus
from tenantml.backends.registry import BackendRegistry
from tenantml.errors import RunInterrupted, UserError
from tenantml.locations import home as default_home
from tenantml.progress import Reporter
from tenantml.status import RunStatus

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
    def status(self) -> RunStatus:
        return self.handle.status()

    @property
    def steps(self) -> list[StepStatus]:
        return self.handle.steps()

    @property
    def outputs(self) -> dict[str, dict[str, Path]]:
        return self.handle.outputs()

    @property
    def ledger(self) -> pd.DataFrame:
        return self.handle.ledger()


def submit(path: str | os.PathLike[str] | Any, backend: str = "local", *, home: str | os.PathLike[str] | None = None,
           datastores: Mapping[str, str | os.PathLike[str]] | None = None, run_id: str | None = None,
           reporter: Reporter | None = None, overrides: list[str] | tuple[str, ...] = (),
           resume: str | None = None, force: bool = False, retry_failed: bool = False,
           allow_changes: bool = False, options: object | None = None,
           registry: BackendRegistry | None = None, config: str | os.PathLike[str] | None = None,
           **backend_options: Any) -> RunHandle:
    """Validate and submit; the returned handle has not been waited on.

    ``overrides`` are ``--set`` strings (``"inputs.tenants=10"``); ``resume`` names a run whose
    unfinished steps (and, in a parallel step, unfinished mini-batches) are finished in place;
    ``force`` disables step reuse. With ``resume``, ``retry_failed`` also re-runs the failed
    mini-batches of steps that completed within their error threshold (and the steps after them),
    and the run's own recorded ``--set`` values are used: different ones are refused unless
    ``allow_changes``. The backend's own options are its typed ``options`` object
    (``LocalOptions(max_workers=2)``), or its fields as keywords (``max_workers=2``). ``registry``
    finds the backend (default: the installed ones, ``tenantml.backends`` entry points).

    ``path`` may also be an azure-ai-ml job object (a ``@dsl.pipeline`` PipelineJob, a ``command()``
    or parallel job; docs/sdk.md): ``config`` then names its tenantml.yml (default: where the job
    was built, else beside the ``__main__`` script).
    """
    if not isinstance(path, (str, os.PathLike)):
        from tenantml.sdk import is_sdk_job

        if not is_sdk_job(path):
            raise UserError(f"cannot run a {type(path).__name__}; give a pipeline YAML path or an azure-ai-ml job.",
                            key="pipeline")
        from tenantml.sdk.submit import submit_job

        return submit_job(path, backend, config=config, home=home, datastores=datastores, run_id=run_id,
                          reporter=reporter, overrides=overrides, resume=resume, force=force,
                          retry_failed=retry_failed, allow_changes=allow_changes, options=options,
                          registry=registry, **backend_options)
    if config is not None:
        raise TypeError("config= is for an azure-ai-ml job object; a YAML's tenantml.yml is the one beside it")
    backend_cls = (registry or BackendRegistry()).load(backend)
    run_options = run_options_for(backend_cls, backend, home=home, datastores=datastores, run_id=run_id,
                                  reporter=reporter, overrides=overrides, resume=resume, force=force,
                                  retry_failed=retry_failed, allow_changes=allow_changes, options=options,
                                  **backend_options)
    return backend_cls().submit(Path(path), run_options)


def run_options_for(backend_cls: type[Backend], backend: str, *, home: str | os.PathLike[str] | None = None,
                    datastores: Mapping[str, str | os.PathLike[str]] | None = None, run_id: str | None = None,
                    reporter: Reporter | None = None, overrides: list[str] | tuple[str, ...] = (),
                    resume: str | None = None, force: bool = False, retry_failed: bool = False,
                    allow_changes: bool = False, options: object | None = None,
                    **backend_options: Any) -> RunOptions:
    """The RunOptions of :func:`submit` for a loaded backend class (its options typed)."""
    if backend_options:
        if options is not None:
            raise TypeError("pass the backend's options as an object or as keywords, not both")
        try:
            options = backend_cls.options_type(**backend_options)
        except TypeError:
            known = [f.name for f in dataclasses.fields(backend_cls.options_type)] \
                if dataclasses.is_dataclass(backend_cls.options_type) else []
            raise UserError(f"backend '{backend}' has no option {', '.join(sorted(backend_options))}; "
                            f"its options are: {', '.join(known) or 'none'}.", key="options") from None
    if (retry_failed or allow_changes) and not resume:
        raise UserError("--retry-failed and --allow-changes go with --resume RUN_ID.", key="--retry-failed",
                        fix="add --resume RUN_ID (the run to finish)")
    if run_id is not None or resume is not None:  # '' too: an empty id must not quietly become a new one
        from tenantml.runfolder.names import check_run_id

        if run_id is not None:
            check_run_id(run_id)
        if resume is not None:
            check_run_id(resume, "--resume")
    if resume and not backend_cls.supports_resume:
        raise UserError(f"backend '{backend}' cannot resume a run.", key="--resume",
                        fix="run the pipeline again without --resume")
    return RunOptions(
        home=Path(home).absolute() if home else default_home(),
        datastores={k: Path(v).absolute() for k, v in (datastores or {}).items()},
        run_id=run_id, reporter=reporter, overrides=tuple(overrides), resume=resume, force=force,
        retry_failed=retry_failed, allow_changes=allow_changes, backend=options)


def wait(handle: RunHandle) -> RunStatus:
    """Wait for a run: the one interrupt contract, the same for every backend.

    Ctrl-C (or SIGTERM, which the CLI turns into KeyboardInterrupt) while waiting calls
    ``handle.interrupted()`` -- the backend stops (or detaches from) the run and records it as
    Interrupted -- and raises :class:`RunInterrupted` (exit code 130) with its one-line account.
    """
    try:
        return RunStatus(handle.wait())
    except (KeyboardInterrupt, RunInterrupted):
        message = handle.interrupted()
        raise RunInterrupted(message) from None


def run(path: str | os.PathLike[str] | Any, backend: str = "local", **options: Any) -> Run:
    """Run a pipeline to its end and return the :class:`Run` (whatever its status).

    Bad input raises :class:`tenantml.errors.UserError` before anything runs; Ctrl-C raises
    :class:`tenantml.errors.RunInterrupted` after every worker has ended.
    """
    handle = submit(path, backend, **options)
    wait(handle)
    return Run(handle)
