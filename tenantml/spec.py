"""Typed model of the parts of an Azure ML CLI v2 job that tenantml executes.

These are plain frozen dataclasses built by :mod:`tenantml.loader` from the YAML, after every
``${{...}}`` binding that can be resolved statically has been resolved. Nothing here reads
files or starts processes.

Paths depend on what the pipeline was loaded for (``LoadContext.local``). Loaded for a local
run, every path is an absolute local path. Loaded for a backend that runs elsewhere (or for
validation without a run), data that lives in Azure is not resolved on this machine: its
input or output keeps the URI as written in ``remote`` (``path`` is then only that text and
must not be opened), and an output with no path gets the relative ``<job>/outputs/<name>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Union

DATA_TYPES: tuple[str, ...] = ("uri_file", "uri_folder", "mltable")
# Azure ML's model types (azure.ai.ml.constants.AssetTypes MLFLOW_MODEL, CUSTOM_MODEL, TRITON_MODEL): locally a folder
MODEL_TYPES: tuple[str, ...] = ("mlflow_model", "custom_model", "triton_model")
LITERAL_TYPES: tuple[str, ...] = ("string", "integer", "number", "boolean")
INPUT_MODES: tuple[str, ...] = ("ro_mount", "download", "direct", "eval_mount", "eval_download")
OUTPUT_MODES: tuple[str, ...] = ("rw_mount", "upload", "direct")
LOGGING_LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING")  # azure-ai-ml ParameterizedParallelSchema


@dataclass(frozen=True)
class Where:
    """Where a value came from in the user's YAML, for error messages."""

    file: Path
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else str(self.file)


@dataclass(frozen=True)
class DataInput:
    """An input that is data: a local file or folder (or, loaded for elsewhere, a URI in ``remote``)."""

    name: str
    type: str  # one of DATA_TYPES
    path: Path
    mode: str | None = None
    where: Where | None = None
    producer: str | None = None  # "job.output" when bound to ${{parent.jobs.job.outputs.output}}
    remote: str | None = None  # the URI of data in Azure, when not loaded for a local run


@dataclass(frozen=True)
class LiteralInput:
    """An input that is a value (string, number, boolean)."""

    name: str
    value: Any
    where: Where | None = None


Input = Union[DataInput, LiteralInput]  # noqa: UP007  (a worker may run on Python 3.8: see environments/kit.py)


@dataclass(frozen=True)
class DataOutput:
    name: str
    type: str  # one of DATA_TYPES
    path: Path  # local path the job writes to (folder, or the file for uri_file)
    mode: str | None = None
    where: Where | None = None
    remote: str | None = None  # the URI of data in Azure, when not loaded for a local run


@dataclass(frozen=True)
class RetrySettings:
    max_retries: int = 2
    timeout: float = 60.0


@dataclass(frozen=True)
class RunnerArguments:
    """The runner's own flags that Azure ML reads from ``program_arguments``."""

    error_threshold: int | None = None
    allowed_failed_percent: float = 100.0
    task_overhead_timeout: float = 600.0
    progress_update_timeout: float | None = None
    first_task_creation_timeout: float = 600.0
    resource_monitor_interval: float = 0.0


@dataclass(frozen=True)
class ParallelJob:
    """One ``type: parallel`` job, resolved for local execution."""

    name: str
    source: Path  # the YAML file that defines it
    code: Path  # task.code, absolute
    entry_script: str  # task.entry_script, relative to code
    inputs: dict[str, Input]
    outputs: dict[str, DataOutput]
    input_data: str  # name of the input that is divided into mini-batches
    mini_batch_size: str | None = None  # raw YAML value, e.g. "1", "10kb"
    partition_keys: tuple[str, ...] = ()
    instance_count: int = 1
    max_concurrency_per_instance: int = 1
    retry_settings: RetrySettings = field(default_factory=RetrySettings)
    mini_batch_error_threshold: int = -1
    error_threshold: int = -1
    logging_level: str = "INFO"
    program_arguments: tuple[str, ...] = ()  # shell-split, bindings resolved
    runner_arguments: RunnerArguments = field(default_factory=RunnerArguments)
    append_row_to: str | None = None  # output name
    environment_variables: dict[str, str] = field(default_factory=dict)
    where: Where | None = None
    depends_on: tuple[str, ...] = ()
    definition: dict[str, Any] = field(default_factory=dict)  # plain data: what step reuse fingerprints
    is_deterministic: bool = True

    type: ClassVar[str] = "parallel"

    @property
    def entry_script_path(self) -> Path:
        return self.code / self.entry_script

    @property
    def data_input(self) -> DataInput:
        value = self.inputs[self.input_data]
        assert isinstance(value, DataInput)
        return value

    @property
    def total_workers(self) -> int:
        return self.instance_count * self.max_concurrency_per_instance


@dataclass(frozen=True)
class CommandJob:
    """One ``type: command`` job: ``command`` run with bash in ``code``."""

    name: str
    source: Path
    code: Path  # working directory: the ``code`` folder, else the YAML's folder
    command: str  # bindings substituted: data paths shell-quoted, literal values verbatim
    inputs: dict[str, Input]
    outputs: dict[str, DataOutput]
    environment_variables: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None  # limits.timeout
    where: Where | None = None
    depends_on: tuple[str, ...] = ()
    definition: dict[str, Any] = field(default_factory=dict)
    is_deterministic: bool = True
    has_code: bool = True  # False: no ``code`` snapshot (as on Azure ML); reuse ignores the folder
    # ``mode: upload`` folder outputs on a path of their own (a datastore): the empty folder the command
    # writes, copied onto the output when the step completes (Azure ML uploads a local folder at job end)
    staged: dict[str, Path] = field(default_factory=dict)

    type: ClassVar[str] = "command"


Job = Union[ParallelJob, CommandJob]  # noqa: UP007  (as Input)
