"""The ledger (``logs/sys/job_report/processed_mini-batches.csv``, one row per attempt, appended)
folded to one :class:`MiniBatchState` per mini-batch.

The ledger is read as a stream: the **last** row of a mini-batch decides its state (a resumed
run appends rows with higher attempt numbers), so memory grows with mini-batches, not attempts.
A torn last line (a killed writer) is dropped. Nothing here imports pandas.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from sys import intern

from tenantml.policy import Outcome
from tenantml.runfolder.values import int_or, number

SUCCESS_OUTCOMES = frozenset(o.value for o in Outcome if o.is_success)


class Verdict(StrEnum):
    """Where a mini-batch stands once its attempts are folded (``show``/``logs`` group by it)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"  # decided, no success
    UNFINISHED = "unfinished"  # retry pending, interrupted


@dataclass(slots=True)
class MiniBatchState:
    """One mini-batch as its attempts left it; the last ledger row decides ``outcome``/``final``.

    A run's summary and report hold one per mini-batch (10,000 tenants: 10,000 of them), so the
    words every row repeats (outcome, node, process, attempt) are interned and there is no
    ``__dict__``: ~200 bytes each instead of ~500."""

    mini_batch: str
    label: str = ""
    items: int = 0
    attempts: int = 0  # ledger rows of this mini-batch (interrupted attempts included)
    last_attempt: str = ""
    outcome: str = ""
    final: bool = False
    succeeded_items: int = 0
    failed_items: int = 0
    node: str = ""
    process: str = ""
    error_type: str = ""  # of the last attempt that reported an error
    last_error: str = ""
    error_attempt: str = ""
    error_node: str = ""
    error_process: str = ""
    seconds: float = 0.0  # the durations of all its attempts

    @property
    def state(self) -> Verdict:
        if not self.final or self.outcome == Outcome.INTERRUPTED:
            return Verdict.UNFINISHED
        return Verdict.SUCCEEDED if self.outcome in SUCCESS_OUTCOMES else Verdict.FAILED

    @property
    def ok(self) -> bool:
        """Succeeded with every item: what ``--failed`` leaves out (a short return lost items)."""
        return self.state is Verdict.SUCCEEDED and self.failed_items == 0

    def sort_key(self) -> tuple[int, int | str]:
        return (0, int(self.mini_batch)) if self.mini_batch.isdigit() else (1, self.mini_batch)

    def add(self, row: dict[str, str]) -> None:
        self.attempts += 1
        self.label = row.get("label") or self.label
        self.items = int_or(row.get("items"), self.items)
        self.last_attempt = intern(row.get("attempt") or str(self.attempts))
        self.outcome = intern((row.get("outcome") or "").strip())
        self.final = (row.get("final") or "").strip().lower() in ("true", "1", "yes")
        self.succeeded_items = int_or(row.get("succeeded"), 0)
        self.failed_items = int_or(row.get("failed"), 0)
        self.node = intern(row.get("node") or "")
        self.process = intern(row.get("process") or "")
        seconds = number(row.get("duration_s"))
        if seconds is not None and math.isfinite(seconds) and seconds > 0:
            self.seconds += seconds
        message = (row.get("error_message") or "").strip()
        kind = intern((row.get("error_type") or "").strip())
        if message or kind:
            self.error_type, self.last_error = kind, message or kind
            self.error_attempt, self.error_node, self.error_process = self.last_attempt, self.node, self.process


def iter_ledger(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a ledger as dicts, streamed; a torn last line (killed writer) is dropped."""
    try:
        handle = open(path, encoding="utf-8", newline="")
    except OSError:
        return
    with handle:
        def whole_lines() -> Iterator[str]:
            for line in handle:
                if not line.endswith("\n"):
                    return
                yield line

        from tenantml.ledger_columns import normalize

        reader = csv.reader(whole_lines())
        header = normalize(next(reader, []))
        for row in reader:
            yield dict(zip(header, row))


def fold_ledger(path: Path) -> list[MiniBatchState]:
    states: dict[str, MiniBatchState] = {}
    for row in iter_ledger(path):
        index = (row.get("mini_batch") or "").strip()
        if not index:
            continue
        states.setdefault(index, MiniBatchState(index)).add(row)
    return sorted(states.values(), key=MiniBatchState.sort_key)

