"""The failure rules of Azure ML's parallel job, as pure functions.

The local scheduler moves mini-batches between processes; every decision about what an
attempt's outcome *means* is asked here:

    attempt outcome --next_step()--> retry | succeeded | failed          (per mini-batch)
    final results   --Tally.add()--> counts
    counts + mini-batches awaiting a retry
                    --breach()-----> threshold crossed? (checked after every attempt)
    counts          --verdict()----> Completed | Failed (once all mini-batches are final)
    init failures, time
                    --init_breach()/init_stuck()--> the job-level init rules

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

    @property
    def can_stop(self) -> bool:
        """Whether failures can stop the job early (some threshold is set)."""
        return (self.mini_batch_error_threshold >= 0 or self.error_threshold >= 0
                or self.allowed_failed_percent < 100)


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


@dataclass(frozen=True)
class Pending:
    """Mini-batches whose latest attempt failed and that wait for a retry, and their items.

    Azure ML keeps the latest status of each mini-batch and checks the thresholds periodically:
    "A mini batch may fail on the first time it's processed and then succeed on the second try.
    Checking between the first and second time will count it as failed." (azureml-pipeline-core
    ``ParallelRunConfig`` docstring). The v2 YAML reference says a mini-batch is counted once all
    its retries failed. Decision (docs/semantics.md): the runtime's owners describe the runtime,
    whose periodic check can land between two tries, so a job *may* fail there on a transient
    failure; tenantml counts it every time, so what can fail there fails here first.
    """

    mini_batches: int = 0
    items: int = 0


def breach(thresholds: Thresholds, tally: Tally, pending: Pending = Pending()) -> Breach | None:
    """The threshold the counts have exceeded, if any (thresholds combine with OR).

    Checked after every attempt: once one is exceeded the job stops early. Mini-batches waiting
    for a retry count as failed (:class:`Pending`). ``--allowed_failed_percent`` is judged as soon
    as every mini-batch is scheduled ("The check starts after all mini batches have been
    scheduled.", azureml-pipeline-core); locally a step's division is complete before its first
    threshold check, so it is judged on every check, against all scheduled mini-batches.
    """
    failed_mbs = tally.failed_mini_batches + pending.mini_batches
    mbt = thresholds.mini_batch_error_threshold
    if mbt >= 0 and failed_mbs > mbt:
        return Breach("mini_batch_error_threshold", mbt, failed_mbs)
    et = thresholds.error_threshold
    failed_items = tally.failed_items + pending.items
    if et >= 0 and failed_items > et:
        return Breach("error_threshold", et, failed_items)
    return percent_breach(thresholds, tally, pending)


def percent_breach(thresholds: Thresholds, tally: Tally, pending: Pending = Pending()) -> Breach | None:
    """``--allowed_failed_percent``: the share of all scheduled mini-batches that failed (or await a retry)."""
    if tally.total_mini_batches == 0 or thresholds.allowed_failed_percent >= 100:
        return None
    percent = 100.0 * (tally.failed_mini_batches + pending.mini_batches) / tally.total_mini_batches
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
    found = breach(thresholds, tally)
    if found is not None:
        return Verdict(Status.FAILED, found.describe())
    if not tally.complete:
        return Verdict(Status.FAILED, f"only {tally.processed} of {tally.total_mini_batches} mini-batches were processed")
    return Verdict(Status.COMPLETED)


def init_failure_limit(max_concurrency_per_instance: int) -> int:
    """After this many ``init()`` failures on one node, that node starts no more workers.

    how-to-debug-parallel-run-step: "If after a node starts, init on all agents keeps failing, we
    will stop trying after 3 * process_count_per_node failures."
    """
    return 3 * max_concurrency_per_instance


JOB_INIT_GRACE_S = 120.0


def init_breach(elapsed_s: float, init_failures: int, any_ready: bool, instance_count: int,
                max_concurrency_per_instance: int) -> str | None:
    """The job-level init rule: "If after job starts, init on all agents of all nodes keeps failing,
    we will stop trying if job runs more than 2 minutes and there're 2 * node_count *
    process_count_per_node failures." (how-to-debug-parallel-run-step). "Keeps failing" on all
    agents: the rule stands while no worker has finished ``init()``."""
    limit = 2 * instance_count * max_concurrency_per_instance
    if any_ready or elapsed_s <= JOB_INIT_GRACE_S or init_failures < limit:
        return None
    return (f"init() kept failing on every node: {init_failures} failures in {elapsed_s:.0f} s "
            f"(Azure ML stops after 2 minutes and 2 x {instance_count} node(s) x {max_concurrency_per_instance} "
            f"process(es) = {limit} failures)")


def init_stuck_limit(timeout_s: float) -> float:
    """How long every worker may sit in ``init()`` with nothing else happening: "If all agents are
    stuck on init for more than 3 * run_invocation_timeout + 30 seconds, the job would fail because
    of no progress for too long." (how-to-debug-parallel-run-step). This is the only published
    formula for Azure ML's derived ``--progress_update_timeout``; tenantml derives nothing else."""
    return 3 * timeout_s + 30


def init_stuck(all_starting: bool, quiet_s: float, timeout_s: float) -> str | None:
    """``quiet_s``: seconds since any worker finished init() or any attempt ended."""
    limit = init_stuck_limit(timeout_s)
    if not all_starting or quiet_s <= limit:
        return None
    return (f"no progress for too long: every worker has been in init() for more than 3 x "
            f"retry_settings.timeout + 30 = {limit:g} s")
