"""Where a run's files are: names and relative paths of the run folder (see :mod:`tenantml.runfolder`).

Paths of a step's log tree are relative to its ``logs/`` folder; they mirror Azure ML's names, so
a cloud run fetched into a run folder is read by the same code as a local one.
"""

from __future__ import annotations

from pathlib import Path

RUN_RECORD = "run.json"
LOGS = "logs"
#: relative to a step's ``logs/``
LEDGER = Path("sys", "job_report", "processed_mini-batches.csv")
JOB_RESULT = Path("job_result.txt")
ERROR_DIR = Path("user", "error")
USER_DIR = Path("user")
STD_LOG = Path("user_logs", "std_log.txt")
#: relative to a step's folder: byte ranges of what each attempt printed (local runs only)
OUTPUT_INDEX = Path("state", "output_index")


def runs_dir(home: Path) -> Path:
    return home / "runs"
