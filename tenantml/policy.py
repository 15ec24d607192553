"""The failure rules of Azure ML's parallel job, as pure functions.

The local scheduler moves mini-batches between processes; every decision about what an
attempt's outcome *means* is asked here:

    attempt outcome --next_step()--> retry | succeeded | failed          (per mini-batch)
    final results   --Tally.add()--> counts
    counts          --breach()-----> threshold crossed? (checked after every final result)
    counts          --verdict()----> Completed | Failed (once all mini-batches are final)

Nothing here does I/O, so property-based tests drive it directly and use it as the reference
model the real runner is compared against. Decisions taken where sources disagree are in
``docs/semantics.md``; the short-return rule is the one most worth knowing: a ``run()`` that
returns fewer items than it was given is **not** retried and does not fail the mini-batch; the
missing items count toward ``error_threshold`` only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from tenantml.status import RunStatus


class Outcome(str, Enum):
    """What one attempt of one mini-batch came to."""

    SUCCEEDED = "succeeded"  # run() returned at least as many results as items
    SHORT = "short_return"  # run() returned fewer results than items (not retried)
    EMPTY = "empty"  # the mini-batch had no rows: run() is not called, 0 items succeed
    RAISED = "raised"  # run() raised (SystemExit included)
    WRONG_TYPE = "wrong_type"  # run() returned something that is not list/tuple/DataFrame
    TIMEOUT = "timeout"  # run() exceeded retry_settings.timeout; the process was killed
    CRASHED = "crashed"  # the worker process died during run()
    MEMORY = "memory_limit"  # the worker exceeded --worker-memory-limit and was killed
    INTERRUPTED = "interrupted"  # the run was stopped (Ctrl-C, early stop) mid-attempt

    @property
    def is_success(self) -> bool:
        return self in (Outcome.SUCCEEDED, Outcome.SHORT, Outcome.EMPTY)


class Step(str, Enum):
    RETRY = "retry"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Thresholds:
    """The settings that decide retries and the job verdict."""

    max_retries: int = 2
    mini_batch_error_threshold: int = -1  # failed mini-batches tolerated; -1 = all
    error_threshold: int = -1  # failed items tolerated; -1 = all
    allowed_failed_percent: float = 100.0  # judged once every mini-batch is final

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")


def next_step(attempts_made: int, outcome: Outcome, max_retries: int) -> Step:
    """What happens to a mini-batch after its ``attempts_made``-th attempt ended so.

    A mini-batch gets ``max_retries + 1`` attempts. An interrupted attempt is neither a
    success nor a failure: the caller does not consult the policy for it.
    """
    if outcome is Outcome.INTERRUPTED:
        raise ValueError("an interrupted attempt has no verdict")
    if outcome.is_success:
        return Step.SUCCEEDED
    return Step.RETRY if attempts_made <= max_retries else Step.FAILED


@dataclass(frozen=True)
class FinalResult:
    """The last attempt of a mini-batch, which alone is counted (exactly-once accounting)."""

    items: int
    succeeded_items: int  # min(len(returned), items) for a success, 0 for a failure
    failed: bool  # the mini-batch failed (all attempts failed)

    @property
    def failed_items(self) -> int:
        return self.items - self.succeeded_items


@dataclass(frozen=True)
class Tally:
    total_mini_batches: int  # scheduled
    processed: int = 0  # final (succeeded or failed)
    failed_mini_batches: int = 0
    items: int = 0
    succeeded_items: int = 0
    failed_items: int = 0

    def add(self, result: FinalResult) -> Tally:
        return replace(
            self,
            processed=self.processed + 1,
            failed_mini_batches=self.failed_mini_batches + int(result.failed),
            items=self.items + result.items,
            succeeded_items=self.succeeded_items + result.succeeded_items,
            failed_items=self.failed_items + result.failed_items,
        )

    @property
    def complete(self) -> bool:
        return self.processed >= self.total_mini_batches


@dataclass(frozen=True)
class Breach:
    """A threshold that the counts crossed."""

    setting: str
    limit: float
    count: float

    def describe(self) -> str:
        unit = {"mini_batch_error_threshold": "failed mini-batches",
                "error_threshold": "failed items",
                "allowed_failed_percent": "percent of mini-batches failed"}[self.setting]
        count = f"{self.count:g}"
        return f"{self.setting} is {self.limit:g} and {count} {unit} exceeded it"


def breach(thresholds: Thresholds, tally: Tally) -> Breach | None:
    """The count threshold the tally has exceeded, if any (thresholds combine with OR).

    Checked after every final result: once one is exceeded the job stops early.
    """
    mbt = thresholds.mini_batch_error_threshold
    if mbt >= 0 and tally.failed_mini_batches > mbt:
        return Breach("mini_batch_error_threshold", mbt, tally.failed_mini_batches)
    et = thresholds.error_threshold
    if et >= 0 and tally.failed_items > et:
        return Breach("error_threshold", et, tally.failed_items)
    return None


def percent_breach(thresholds: Thresholds, tally: Tally) -> Breach | None:
    """``--allowed_failed_percent``, judged once every mini-batch has been processed."""
    if tally.total_mini_batches == 0 or thresholds.allowed_failed_percent >= 100:
        return None
    percent = 100.0 * tally.failed_mini_batches / tally.total_mini_batches
    if percent > thresholds.allowed_failed_percent:
        return Breach("allowed_failed_percent", thresholds.allowed_failed_percent, round(percent, 2))
    return None


Status = RunStatus  # a parallel step's verdict is a run status: Completed or Failed


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str = ""


def verdict(thresholds: Thresholds, tally: Tally) -> Verdict:
    """The job's status once every mini-batch is final (or the job stopped early)."""
    found = breach(thresholds, tally) or (percent_breach(thresholds, tally) if tally.complete else None)
    if found is not None:
        return Verdict(Status.FAILED, found.describe())
    if not tally.complete:
        return Verdict(Status.FAILED, f"only {tally.processed} of {tally.total_mini_batches} mini-batches were processed")
    return Verdict(Status.COMPLETED)


def init_failure_limit(max_concurrency_per_instance: int) -> int:
    """After this many ``init()`` failures on one node, that node starts no more workers."""
    return 3 * max_concurrency_per_instance
