"""The seam between what a job means (``tenantml``) and where it runs (a backend).

A backend is a folder plus an entry point. It turns a pipeline YAML into a :class:`RunHandle`
and declares, as class attributes the command line *reads* (never ``isinstance``):

- its own options: ``options_type`` (a typed, frozen object), ``add_arguments(group)`` for
  ``tenantml run --backend NAME`` and ``options_from_args(args)`` to build the object;
- its optional capabilities: ``supports_resume`` (``--resume``), ``supports_plan``
  (``--dry-run``: :meth:`Backend.plan`), ``supports_fetch`` (``tenantml fetch``:
  :meth:`Backend.fetch`) and ``supports_log_download`` (its run folders get their logs by
  fetching, so the next useful command after a failure is ``tenantml fetch``).

Waiting, Ctrl-C and summaries live once, in the caller (:func:`tenantml.api.wait`)::

    handle = backend.submit(pipeline, options)      # validated; the run folder exists
    handle.wait()          --> Completed | Failed
      Ctrl-C / SIGTERM     --> handle.interrupted() (stop, or detach, and record Interrupted)
                           --> RunInterrupted      --> exit 130
"""

from __future__ import annotations

import abc
import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from tenantml.errors import UserError
from tenantml.status import RunStatus

if TYPE_CHECKING:
    import pandas as pd

    from tenantml.progress import Reporter

BackendOptionsT = TypeVar("BackendOptionsT")


@dataclass(frozen=True)
class RunOptions:
    """What every backend understands; a backend's own options travel typed in ``backend``."""

    home: Path
    datastores: dict[str, Path] = field(default_factory=dict)
    run_id: str | None = None
    reporter: Reporter | None = None
    overrides: tuple[str, ...] = ()  # --set KEY=VALUE
    resume: str | None = None  # run id whose unfinished work is finished (needs supports_resume)
    force: bool = False  # no step reuse
    retry_failed: bool = False  # with resume: also re-run the failed mini-batches of completed steps
    allow_changes: bool = False  # with resume: accept --set values that differ from the run's own
    backend: object | None = None  # an instance of the chosen backend's ``options_type``

    def backend_options(self, kind: type[BackendOptionsT]) -> BackendOptionsT:
        """The backend's own options, or its defaults; a wrong type is a programming error."""
        if self.backend is None:
            return kind()
        if not isinstance(self.backend, kind):
            raise TypeError(f"options for this backend must be {kind.__name__}, not {type(self.backend).__name__}")
        return self.backend


@dataclass(frozen=True)
class NoOptions:
    """The options of a backend that has none."""


@dataclass(frozen=True)
class StepStatus:
    name: str
    type: str
    status: RunStatus
    reason: str = ""
    detail: Any = None  # backend-specific report (e.g. the local StepReport), for programs
    summary: tuple[str, ...] = ()  # lines the closing summary prints under the step, rendered by the backend


class RunHandle(abc.ABC):
    """A submitted run. ``wait`` returns the final status: Completed or Failed."""

    run_id: str
    run_dir: Path
    source: Path | None = None  # the pipeline YAML, for the next useful command after a failure
    detached: bool = False  # True: the caller should not wait (e.g. ``--no-wait`` of a remote backend)

    @abc.abstractmethod
    def status(self) -> RunStatus: ...

    @abc.abstractmethod
    def wait(self) -> RunStatus:
        """Until the run ends. Ctrl-C (KeyboardInterrupt or RunInterrupted) propagates to the caller."""

    @abc.abstractmethod
    def cancel(self) -> None: ...

    def interrupted(self) -> str:
        """Ctrl-C reached the caller while it waited: stop (or detach), record Interrupted, say what
        happened in one line. The default cancels the run."""
        self.cancel()
        return f"run {self.run_id} was interrupted"

    def describe(self) -> list[str]:
        """Lines the command line prints once the run is submitted (where it is, how to follow it)."""
        return [f"run {self.run_id}: {self.run_dir}"]

    @abc.abstractmethod
    def steps(self) -> list[StepStatus]: ...

    @abc.abstractmethod
    def outputs(self) -> dict[str, dict[str, Path]]:
        """job name -> output name -> local path."""

    @abc.abstractmethod
    def ledger(self) -> pd.DataFrame:
        """One row per mini-batch attempt of every parallel step, with a ``job`` column."""


class Plan(abc.ABC):
    """What a dry run found: printable, nothing sent anywhere."""

    warnings: list[str]

    @abc.abstractmethod
    def lines(self) -> list[str]: ...


class Backend(abc.ABC):
    name: ClassVar[str]
    options_type: ClassVar[type[Any]] = NoOptions
    supports_resume: ClassVar[bool] = False
    supports_plan: ClassVar[bool] = False
    supports_fetch: ClassVar[bool] = False
    supports_log_download: ClassVar[bool] = False

    @classmethod
    def add_arguments(cls, group: argparse._ArgumentGroup) -> None:
        """Add this backend's own options to ``tenantml run`` (none by default)."""

    @classmethod
    def options_from_args(cls, args: argparse.Namespace) -> Any:
        """This backend's typed options from the parsed command line."""
        return cls.options_type()

    @abc.abstractmethod
    def submit(self, pipeline: Path, options: RunOptions) -> RunHandle:
        """Validate everything, make the run folder, start (or hand over) the run; do not wait."""

    def plan(self, pipeline: Path, options: RunOptions) -> Plan:
        """Validate and describe what would run, with no side effect (``supports_plan``)."""
        raise UserError(f"backend '{self.name}' has no dry run.", key="--dry-run",
                        fix="drop --dry-run, or check the YAML with: tenantml validate PIPELINE")

    @classmethod
    def add_fetch_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Options of ``tenantml fetch`` for this backend (``supports_fetch``)."""

    def fetch(self, run_name: str, options: RunOptions) -> Path:
        """Bring a run that ran elsewhere into a local run folder under ``options.home``
        (``supports_fetch``); ``options.backend`` comes from :meth:`options_from_args`."""
        raise UserError(f"backend '{self.name}' runs nothing elsewhere, so there is nothing to fetch.",
                        key="--backend")
