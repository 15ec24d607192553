"""Messages between the coordinator and one worker, named by direction.

Each worker has its own duplex pipe (a socketpair), so a worker killed mid-write can never
corrupt what another worker sends::

    coordinator --WorkerConfig--> worker          (once, first message)
    coordinator <--Ready | StartupFailed-- worker  (after import + init())
    coordinator --Call--> worker                   (one mini-batch attempt)
    coordinator <--Result-- worker
    coordinator --Stop--> worker                   (no work left: shutdown() and exit)
    coordinator <--Stopped-- worker

All messages are frozen dataclasses; errors travel as text (type, message, traceback), never
as exception objects, so nothing the user raises can fail to unpickle on the other side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class WorkerConfig:
    job_name: str
    node: str  # "0": Azure ML v2 names node folders by integer index
    agent: str  # "process000"
    logs_dir: str
    code_dir: str
    entry_script: str  # absolute path
    argv: tuple[str, ...]  # sys.argv for the entry script (argv[0] = the entry script)
    logging_level: str
    output_dir: str  # AZUREML_BI_OUTPUT_PATH
    rows_dir: str  # the step's state/rows folder (append_row_to journals)
    append_row: bool
    to_csv_options: dict[str, Any] = field(default_factory=dict)
    mltable_log_dir: str = ""
    cwd: str = ""  # the worker's working directory: a temp folder, as on Azure ML
    guarded_inputs: tuple[tuple[str, str, str], ...] = ()  # (local path, input name, mode) not to be written
    rows_journal: str = ""  # this worker's own append-only rows journal (runfolder.rows.RowsJournal)


@dataclass(frozen=True)
class Call:
    mini_batch: str  # MiniBatch.to_json(): the plan's line
    attempt: int  # 1-based
    seq: int = 0  # the coordinator's count of calls sent in this session (names the journal record)


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class ErrorInfo:
    type: str
    message: str
    traceback: str

    def one_line(self, limit: int = 300) -> str:
        text = f"{self.type}: {self.message}" if self.message else self.type
        text = " ".join(text.split())
        return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Ready:
    pid: int


@dataclass(frozen=True)
class StartupFailed:
    stage: str  # "import" (the entry script failed to import), "no_run", "init"
    error: ErrorInfo


@dataclass(frozen=True)
class Result:
    index: int
    attempt: int
    outcome: str  # policy.Outcome value
    items: int
    returned: int  # len() of what run() returned (0 on failure)
    duration: float
    error: ErrorInfo | None = None
    warning: str = ""
    rows: tuple[str, int, int] | None = None  # the attempt's rows: (journal name, offset, length)
    started: float = 0.0  # wall clock when the worker began the call (calls queue up at a worker)
    cpu: float = -1.0  # user + system CPU seconds of the worker process after the call (-1: unknown)


@dataclass(frozen=True)
class Stopped:
    error: ErrorInfo | None = None  # shutdown() raised
