"""The seam between what a job means (``tenantml``) and where it runs (a backend).

A backend turns a pipeline YAML into a :class:`RunHandle`. Waiting, Ctrl-C and summaries live
once, in the caller (``tenantml.api``); backends only ``submit``. Backends declare what they can
do with capability flags rather than being told apart by type.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import pandas as pd

    from tenantml.backends.aml.options import AmlOptions
    from tenantml.progress import Reporter


@dataclass(frozen=True)
class RunOptions:
    """Options every backend understands; backend-specific ones are typed fields too."""

    home: Path
    datastores: dict[str, Path] = field(default_factory=dict)
    run_id: str | None = None
    max_workers: int | None = None
    worker_memory_limit: int | None = None
    reporter: "Reporter | None" = None
    aml: "AmlOptions | None" = None  # options of --backend aml (workspace, experiment, wait, --set...)
    overrides: tuple[str, ...] = ()  # --set KEY=VALUE
    resume: str | None = None  # run id whose unfinished work is finished in place
    force: bool = False  # no step reuse


@dataclass(frozen=True)
class StepStatus:
    name: str
    type: str
    status: str  # NotStarted, Running, Completed, Failed, Interrupted, Skipped
    reason: str = ""
    detail: Any = None  # backend-specific report (e.g. the local StepReport)


class RunHandle(abc.ABC):
    """A submitted run. ``wait`` returns the final status: Completed, Failed or Interrupted."""

    run_id: str
    run_dir: Path

    @abc.abstractmethod
    def status(self) -> str: ...

    @abc.abstractmethod
    def wait(self) -> str: ...

    @abc.abstractmethod
    def cancel(self) -> None: ...

    @abc.abstractmethod
    def steps(self) -> list[StepStatus]: ...

    @abc.abstractmethod
    def outputs(self) -> dict[str, dict[str, Path]]:
        """job name -> output name -> local path."""

    @abc.abstractmethod
    def ledger(self) -> "pd.DataFrame":
        """One row per mini-batch attempt of every parallel step, with a ``job`` column."""


class Backend(abc.ABC):
    name: ClassVar[str]
    supports_resume: ClassVar[bool] = False
    supports_log_download: ClassVar[bool] = False

    @abc.abstractmethod
    def submit(self, pipeline: Path, options: RunOptions) -> RunHandle: ...
