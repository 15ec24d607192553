"""One vocabulary for the status of a run and of each of its steps.

The values are the words written to ``run.json`` and ``job_result.txt`` (Azure ML's own words
where it has one); :class:`RunStatus` is a ``StrEnum``, so a member equals its word and is
written as it. Attempt outcomes are :class:`tenantml.policy.Outcome`.
"""

from __future__ import annotations

import sys
from enum import Enum

if sys.version_info >= (3, 11):  # noqa: UP036  (see below)
    from enum import StrEnum
else:  # a parallel step's worker may run in a step environment with an older Python (3.8+)
    class StrEnum(str, Enum):
        def __str__(self) -> str:
            return str(self.value)


class RunStatus(StrEnum):
    NOT_STARTED = "NotStarted"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    INTERRUPTED = "Interrupted"  # Ctrl-C / SIGTERM: finish it with --resume
    SKIPPED = "Skipped"  # a step whose inputs were not produced, or the run was cancelled
    REUSED = "Reused"  # a step unchanged since a completed run: its outputs are linked
    CRASHED = "Crashed"  # shown, never written: the record says Running but no process writes the run


DONE = frozenset({RunStatus.COMPLETED, RunStatus.REUSED})  # a step whose outputs exist
RESUMABLE = frozenset({RunStatus.FAILED, RunStatus.INTERRUPTED, RunStatus.CRASHED})
