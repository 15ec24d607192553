"""The coordinator of one local parallel step: Azure ML's parallel job on one machine.

Data flow::

    division plan (jsonl) --> fresh queue ---+
                                             +--> Call --> [pipe] --> worker N: run(mini_batch)
    retry queue  <-- policy.next_step() <----+<-- Result <-- [pipe] <--'
                          |
                          +--> ledger row (every attempt) --> Tally --> policy.breach()/verdict()
                          +--> rows of the final attempt --> append_row_to output, in index order

Each worker holds up to :data:`PREFETCH` calls (the one it runs and the next ones, queued in its
pipe), so it starts the next mini-batch as soon as it sends a Result, never waiting for the
coordinator; calls a worker never started go back to the front of the queue if it dies. The
coordinator waits on every worker at once (``Transport.receive``), with a timeout set by
the nearest ``run()`` deadline (of the call a worker runs: the next one's starts with its Result). A worker whose pipe reaches EOF died: its attempt is "crashed"
and the slot gets a fresh worker. A deadline that passes means the coordinator kills the
worker: the attempt is "timeout". Policy (retry or not, thresholds, verdict) is asked of
:mod:`tenantml.policy`; this module only moves work. How workers are started and reached is
the transport's business (:mod:`pool`: processes and socketpairs); what they are told is
:mod:`launch`'s.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tenantml.backends.local import divide, launch
from tenantml.backends.local.messages import Call, ErrorInfo, Ready, Result, StartupFailed, Stop, Stopped, WorkerConfig
from tenantml.backends.local.options import LocalOptions
from tenantml.backends.local.pool import ProcessPool, Slot, Transport, Worker, WorkerState
from tenantml.division import MiniBatch
from tenantml.errors import RunInterrupted, UserError
from tenantml.policy import (
    FinalResult,
    Outcome,
    Pending,
    Status,
    Step,
    Tally,
    Thresholds,
    breach,
    init_breach,
    init_failure_limit,
    init_stuck,
    next_step,
    verdict,
)
from tenantml.progress import Reporter, Snapshot
from tenantml.runfolder import commit
from tenantml.runfolder.ledger import AttemptRow, LedgerWriter, iso
from tenantml.runfolder.logtree import LogTree
from tenantml.runfolder.rows import RowAppender, Spill, journal_name, scan_journals
from tenantml.runfolder.storage import StorageError
from tenantml.runfolder.written import WrittenFiles
from tenantml.spec import ParallelJob
from tenantml.status import RunStatus

SETTINGS_FILE = launch.SETTINGS_FILE
PREFETCH = 2  # calls a worker holds at once: the one it runs, and one queued behind it ...
PREFETCH_BELOW = 0.05  # ... when its last run() took less (s): a long call is not worth a round trip saved, and
# a call queued behind it could not go to a worker that becomes idle (the end of a many-models step)
QUEUED_WORK = 0.005  # s of very short calls a worker may hold queued (at most PREFETCH_MAX calls in all), so a
PREFETCH_MAX = 16  # coordinator descheduled on a busy machine for that long does not leave it waiting
QUEUED_CHARS_MAX = 32768  # calls queued behind a running one hold at most this much plan text (<= 128 KiB of UTF-8,
# under a socketpair's default 208 KiB buffer); more could fill the pipe and block the coordinator until that call
# ends. A larger call goes only to an idle worker, which reads it at once.


@dataclass
class StepReport:
    """What a parallel step came to; ``tenantml.run`` and the CLI summarise it."""

    job: str
    status: Status
    reason: str
    tally: Tally
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # (index, label, last error)
    elapsed: float = 0.0
    logs: Path | None = None
    outputs: dict[str, Path] = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        """What the closing summary says under the step's verdict: counts, failed tenants, where to look."""
        t = self.tally
        lines = [f"    mini-batches: {t.processed}/{t.total_mini_batches} processed, "
                 f"{t.processed - t.failed_mini_batches} succeeded, {t.failed_mini_batches} failed; "
                 f"items: {t.succeeded_items} succeeded, {t.failed_items} failed; {self.elapsed:.1f} s"]
        if self.failed:
            lines.append("    failed mini-batches:")
            lines += [f"      {line}" for line in group_failures(self.failed)]
        for name, path in self.outputs.items():
            lines.append(f"    output {name}: {path}")
        lines.append(f"    logs: {self.logs}")
        return lines


def group_failures(failed: list[tuple[int, str, str]], show: int = 10) -> list[str]:
    """Up to ``show`` failures one per line; beyond that, one line per distinct error (numbers and
    quoted values aside) with how many tenants it hit and the first few of them."""
    if len(failed) <= show:
        return [f"#{index} {label}: {error}" for index, label, error in failed]
    from tenantml.progress import error_key

    groups: dict[str, list[tuple[int, str, str]]] = {}
    for item in failed:
        groups.setdefault(error_key(item[2]), []).append(item)
    lines = []
    for items in sorted(groups.values(), key=len, reverse=True):
        names = ", ".join(f"#{i} {label}" for i, label, _ in items[:3]) + (", ..." if len(items) > 3 else "")
        lines.append(f"{len(items)} x {items[0][2]}  ({names})")
    return lines


class ParallelStep:
    def __init__(self, job: ParallelJob, job_dir: Path, options: LocalOptions, reporter: Reporter,
                 cancelled: Callable[[], bool] = lambda: False, interrupted: Callable[[], bool] = lambda: False,
                 resume: bool = False, transport: Transport | None = None, signature: str | None = None,
                 written: WrittenFiles | None = None):
        self.job = job
        self.written = written  # the append_row_to file is outside the run: stamped when it is put in place
        self.pool: Transport = transport or ProcessPool(options.python)
        self.signature = signature  # of definition, code and inputs: recorded when the step commits
        self.cancelled = cancelled
        self.interrupted = interrupted
        self.resume = resume
        self.attempt_base: dict[int, int] = {}  # resumed mini-batches: attempts made in earlier sessions
        self.job_dir = job_dir
        self.options = options
        self.reporter = reporter
        self.logs = LogTree(job_dir / "logs")
        self.state_dir = job_dir / "state"
        self.plan_path = self.state_dir / "mini_batches.jsonl"
        self.rows_dir = self.state_dir / "rows"
        self.session = secrets.token_hex(3)  # names this session's rows journals
        self.thresholds = Thresholds(job.retry_settings.max_retries, job.mini_batch_error_threshold,
                                     job.error_threshold, job.runner_arguments.allowed_failed_percent)
        self.workers: list[Worker] = []
        self.retry: deque[tuple[MiniBatch, int]] = deque()
        self.returned: deque[tuple[MiniBatch, int, str]] = deque()  # sent to a worker that died before starting them
        self.fresh: Iterator[tuple[MiniBatch, str]] = iter(())
        self.seq = 0  # calls sent in this session: journal records name theirs (a resent call wins)
        self.tally = Tally(0)
        self.failed: list[tuple[int, str, str]] = []
        self.init_failures: dict[str, int] = {}
        self.agents_started: dict[str, int] = {}  # per node: processNNN numbers used so far
        self.pending: dict[int, int] = {}  # mini-batches whose latest attempt failed, awaiting a retry -> items
        self.any_ready = False  # a worker finished init() at least once
        self.last_event = time.monotonic()  # a worker finished init() or an attempt ended
        self.temp_root: Path | None = None  # the workers' working directories live under it
        self.last_init_error: ErrorInfo | None = None
        self.stop_reason: str | None = None
        self.kept = 0  # mini-batches kept from an earlier session (--resume)
        self.phase = "starting workers"
        self.started = time.time()
        self.last_finish = time.monotonic()
        self.dispatched_any = False
        self.next_poll = 0.0
        self.last_perf = 0.0  # when resource snapshots were last written
        self._log_file: IO[str] | None = None

    # ================================================================== public
    def run(self) -> StepReport:
        self.logs.create()
        self.rows_dir.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.logs.coordinator, "a", encoding="utf-8", errors="backslashreplace")
        for output in self.job.outputs.values():
            (output.path.parent if output.type == "uri_file" else output.path).mkdir(parents=True, exist_ok=True)
        self.to_csv_options = launch.append_row_settings(self.job)
        self.ledger = LedgerWriter(self.logs.ledger)
        self.appender = RowAppender(launch.append_target(self.job), self.rows_dir, written=self.written)
        # the workers' working directories: in the step's state folder, not $TMPDIR, so that a session
        # killed with SIGKILL leaves nothing behind that the next session of this run does not clear
        self.temp_root = self.state_dir / "work"
        if self.temp_root.exists():
            shutil.rmtree(self.temp_root)  # an earlier session's of this run (we hold its lock)
        self.temp_root.mkdir(parents=True)
        try:
            return self._run()
        except KeyboardInterrupt:
            self._interrupt()
            raise RunInterrupted(f"interrupted; {self.tally.processed} of {self.tally.total_mini_batches} "
                                 f"mini-batches of '{self.job.name}' were done") from None
        except BaseException as exc:
            self.appender.discard_aside()  # never committed: do not leave a half-built output taking space
            try:
                self.logs.write_result("Failed", str(exc).split("\n")[0] or type(exc).__name__, self.tally,
                                       self._failed_lines(), time.time() - self.started)
            except OSError:
                pass
            raise
        finally:
            self.pool.end_all(grace=1.0)
            self.workers.clear()
            self.ledger.close()
            self.appender.close()
            self._log_file.close()
            shutil.rmtree(self.temp_root, ignore_errors=True)  # created above: ours alone

    # ================================================================== the loop
    def _run(self) -> StepReport:
        job = self.job
        slots = self._slots()
        self._say(f"{job.total_workers} worker(s) on Azure ML ({job.instance_count} instance(s) x "
                  f"{job.max_concurrency_per_instance} process(es)); {len(slots)} local process(es)"
                  + ("" if len(slots) == job.total_workers else f" (capped by --max-workers {self.options.cap})"))
        request = divide.DivisionRequest(job.data_input, job.mini_batch_size, job.partition_keys,
                                         self.state_dir / "spill", self.plan_path, job.source,
                                         self.logs.root / "sys" / "mltable")
        division = None
        kept = self._kept_plan() if self.resume and self.plan_path.exists() else None
        if kept is not None:
            total = kept
            self._say("resuming: the division of the first session is kept")
        elif divide.needs_process(request):
            division = divide.start(request, self.state_dir / "division.request.json")
        else:
            try:
                total = divide.write_plan(request, should_stop=self.interrupted)
            except UserError as exc:
                raise _at_input(job, exc) from None
        for slot in slots:  # workers run init() while the input is divided
            self._start(slot)
        if division is not None:
            self.phase = "dividing the input"
            self.reporter.event(job.name, f"dividing input '{job.input_data}' into mini-batches "
                                          f"(workers run init() meanwhile)")
            self.reporter.progress(self._snapshot(), force=True)
            try:
                total = divide.finish(division, request, self.state_dir / "division.request.json",
                                      should_stop=self.interrupted)
            except UserError as exc:
                raise _at_input(job, exc) from None
        self.tally = Tally(total)
        self.phase = ""
        self._say(f"input '{job.input_data}' divided into {total} mini-batch(es)")
        self.reporter.event(job.name, f"input '{job.input_data}' divided into {total} mini-batch(es)")
        done = self._resume_state() if self.resume else set()
        self.kept = len(done)
        self.fresh = self._read_plan(skip=done)
        self.started = time.time()
        self.last_finish = self.last_event = time.monotonic()
        self.reporter.progress(self._snapshot(), force=True)

        next_progress = 0.0
        while not self._finished():
            self._dispatch()
            self._wait_and_handle()
            self._police()
            now = time.monotonic()
            if now >= next_progress:  # the live view redraws at most 10 times a second
                next_progress = now + 0.05
                self.reporter.progress(self._snapshot())
        self.ledger.flush()  # every attempt is accounted on disk before shutdown() may take its time
        self._stop_workers()
        return self._conclude()

    def _finished(self) -> bool:
        if self.stop_reason is not None:
            return True
        if self.tally.complete:
            return True
        if not any(w.state is not WorkerState.GONE for w in self.workers):
            self.stop_reason = self._no_workers_reason()
            return True
        return False

    def _dispatch(self) -> None:
        """Keep every worker that finished init() busy: one call, and short ones queued behind it."""
        for w in self.workers:
            if w.state is WorkerState.BUSY and len(w.queued) > _queue_limit(w) // 2:
                continue  # refilled once half its queue is gone: a worker still busy is not woken per call
            while w.state is WorkerState.IDLE or (w.state is WorkerState.BUSY and len(w.queued) < _queue_limit(w)
                                                  and self._may_queue()):
                item = self._next_item()
                if item is None:
                    return  # nothing queued; the loop ends once every mini-batch is final
                mb, attempt, line = item
                if w.state is WorkerState.BUSY and len(line) + sum(len(q[2]) for q in w.queued) > QUEUED_CHARS_MAX:
                    self.returned.appendleft(item)  # for an idle worker: never wait on a full pipe
                    break
                self.dispatched_any = True
                self.seq += 1
                if w.state is WorkerState.IDLE:
                    self._begin(w, mb, attempt, line)
                else:
                    w.queued.append((mb, attempt, line))
                if not self.pool.send(w, Call(line, attempt, self.seq)):
                    self._worker_died(w)

    def _may_queue(self) -> bool:
        """Whether a call may wait behind a running one. It starts before the coordinator has seen the
        running call's Result, while on Azure ML a process takes its next mini-batch only after the last
        one ended, so a failure that stops the job (a threshold) never lets another start there. So
        calls are queued only while every call out could fail without crossing a threshold: always
        with the default thresholds (-1, -1, 100 %), and never near a set one (test_fault_model)."""
        if not self.thresholds.can_stop:
            return True
        out = [w.mb for w in self.workers if w.state is WorkerState.BUSY and w.mb is not None]
        out += [queued[0] for w in self.workers for queued in w.queued]
        pending = self._pending()
        worst = Pending(pending.mini_batches + len(out), pending.items + sum(mb.items for mb in out))
        return breach(self.thresholds, self.tally, worst) is None

    def _begin(self, w: Worker, mb: MiniBatch, attempt: int, line: str) -> None:
        """The call the worker runs now: its deadline starts (the worker starts it when it is sent, or
        as soon as it sent the Result of the call before it)."""
        w.state, w.mb, w.attempt, w.line = WorkerState.BUSY, mb, attempt, line
        w.started_at = time.time()
        w.deadline = time.monotonic() + self.job.retry_settings.timeout

    def _next_item(self) -> tuple[MiniBatch, int, str] | None:
        if self.returned:
            return self.returned.popleft()
        for mb, line in self.fresh:
            return mb, self.attempt_base.get(mb.index, 0) + 1, line
        if self.retry:
            mb, attempt = self.retry.popleft()
            return mb, attempt, mb.to_json()
        return None

    def _take_back(self, w: Worker) -> None:
        """Calls sent to a worker that is gone, which it never started: they run elsewhere, same attempt."""
        self.returned.extendleft(reversed(w.queued))
        w.queued.clear()

    def _wait_and_handle(self) -> None:
        live = [w for w in self.workers if w.state is not WorkerState.GONE]
        now = time.monotonic()
        deadlines = [w.deadline for w in live if w.state is WorkerState.BUSY]
        timeout = max(0.0, min(deadlines + [now + self.options.poll_interval]) - now)
        timeout = min(timeout, self.ledger.flush_due_in())
        for w, message in self.pool.receive(live, timeout):
            if w.state is WorkerState.GONE:
                continue  # retired while this batch of messages was handled (a threshold stopped the job)
            if message is None:
                self._worker_died(w)
            else:
                self._handle(w, message)
        if self.ledger.flush_due_in() == 0.0:
            self.ledger.flush()

    def _drain(self, w: Worker) -> None:
        """Handle what a worker already sent, before the coordinator kills it."""
        for x, message in self.pool.receive([w], 0.0):
            if x.state is not WorkerState.GONE and message is not None:
                self._handle(x, message)

    def _handle(self, w: Worker, message: object) -> None:
        if isinstance(message, (Ready, Result, StartupFailed)):
            self.last_event = time.monotonic()
        if isinstance(message, Ready):
            w.state = WorkerState.IDLE
            self.any_ready = True
        elif isinstance(message, Result):
            self._result(w, message)
        elif isinstance(message, StartupFailed):
            self._startup_failed(w, message)
        elif isinstance(message, Stopped):
            if message.error is not None:
                self._say(f"{w.slot.node}/{w.slot.agent}: shutdown() raised {message.error.one_line()}")
            self._retire(w)

    def _police(self) -> None:
        """Deadlines, memory limits, resource snapshots, progress timeout."""
        now = time.monotonic()
        for w in list(self.workers):
            if w.state is WorkerState.BUSY and now >= w.deadline:
                self._drain(w)  # a Result already sent is not a timeout
                if w.state is not WorkerState.BUSY or time.monotonic() < w.deadline:
                    continue
                self._dump_stack(w)
                self.pool.kill(w)
                self._fail_in_flight(w, Outcome.TIMEOUT, ErrorInfo(
                    "TimeoutError", f"run() did not return within retry_settings.timeout = "
                    f"{self.job.retry_settings.timeout:g} s; the worker was killed and replaced", ""))
        if self.interrupted():
            raise KeyboardInterrupt
        if self.cancelled():
            self._stop_early("the run was cancelled")
        if now >= self.next_poll:
            self.next_poll = now + self.options.poll_interval
            self._poll_resources()
        args = self.job.runner_arguments
        if args.progress_update_timeout and now - self.last_finish > args.progress_update_timeout:
            self._stop_early(f"no mini-batch finished within --progress_update_timeout = "
                             f"{args.progress_update_timeout:g} s")
        live = [w for w in self.workers if w.state is not WorkerState.GONE]
        stuck = init_stuck(bool(live) and all(w.state is WorkerState.STARTING for w in live), now - self.last_event,
                           self.job.retry_settings.timeout)
        if stuck is not None:
            self._stop_early(stuck)
        failing = init_breach(time.time() - self.started, sum(self.init_failures.values()), self.any_ready,
                              self.job.instance_count, self.job.max_concurrency_per_instance)
        if failing is not None:
            self._stop_early(failing)
        if (not self.dispatched_any and self.tally.total_mini_batches
                and time.time() - self.started > args.first_task_creation_timeout):
            self._stop_early(f"no mini-batch started within --first_task_creation_timeout = "
                             f"{args.first_task_creation_timeout:g} s")

    # ================================================================== results
    def _result(self, w: Worker, r: Result) -> None:
        assert w.mb is not None and r.index == w.mb.index
        mb, attempt = w.mb, w.attempt
        w.last_duration = r.duration
        if w.queued:
            self._begin(w, *w.queued.popleft())
        else:
            w.state, w.mb, w.deadline = WorkerState.IDLE, None, float("inf")
        if r.error is not None and r.error.type == "StorageError":  # the worker could not spill its rows
            raise StorageError(f"writing the rows of mini-batch {mb.index} to {self.rows_dir} failed: "
                               f"{r.error.message}. The run stopped and is marked Failed; partial outputs were "
                               "not committed and will not be reused.", file=self.rows_dir,
                               fix="free space there (or point TENANTML_HOME at a larger disk), then finish the "
                                   "run with: tenantml run PIPELINE --resume RUN_ID")
        if r.warning:
            self._say(f"mini-batch {mb.index} ({mb.label}): {r.warning}")
        rows = Spill(*r.rows) if r.rows is not None else None
        self._account(w, mb, attempt, Outcome(r.outcome), r.returned, r.duration, r.error, rows,
                      started=r.started or None, cpu=f"{r.cpu:.2f}" if r.cpu >= 0 else None)

    def _account(self, w: Worker, mb: MiniBatch, attempt: int, outcome: Outcome, returned: int,
                 duration: float, error: ErrorInfo | None, rows: Spill | None = None, *,
                 started: float | None = None, cpu: str | None = None) -> None:
        if outcome is Outcome.INTERRUPTED:
            self._ledger(w, mb, attempt, outcome, 0, duration, error, final=False)
            return
        step = next_step(attempt - self.attempt_base.get(mb.index, 0), outcome, self.thresholds.max_retries)
        succeeded = min(returned, mb.items) if outcome.is_success else 0
        self._ledger(w, mb, attempt, outcome, succeeded, duration, error, final=step is not Step.RETRY,
                     started=started, cpu=cpu)
        self.last_event = time.monotonic()
        if step is Step.RETRY:
            self.retry.append((mb, attempt + 1))
            self.pending[mb.index] = mb.items
            message = error.one_line() if error else outcome.value
            self.reporter.failure(self.job.name, "retry", f"mini-batch {mb.index} ({mb.label}) attempt {attempt} "
                                  f"{outcome.value}: {message}; will retry", message)
            crossed = breach(self.thresholds, self.tally, self._pending())
            if crossed is not None:
                self._stop_early(crossed.describe() + " (counting mini-batches that wait for a retry, as Azure ML's "
                                 "periodic check can)")
            return
        self.pending.pop(mb.index, None)
        failed = step is Step.FAILED
        self.tally = self.tally.add(FinalResult(mb.items, succeeded, failed))
        self.last_finish = time.monotonic()
        self.appender.finalize(mb.index, None if failed else rows)
        if failed:
            last = error.one_line() if error else outcome.value
            self.failed.append((mb.index, mb.label, last))
            self.reporter.failure(self.job.name, "failed", f"mini-batch {mb.index} ({mb.label}) FAILED after "
                                  f"{attempt} attempt(s): {last}", last)
        crossed = breach(self.thresholds, self.tally, self._pending())
        if crossed is not None:
            self._stop_early(crossed.describe())

    def _pending(self) -> Pending:
        return Pending(len(self.pending), sum(self.pending.values()))

    def _ledger(self, w: Worker, mb: MiniBatch, attempt: int, outcome: Outcome, succeeded: int,
                duration: float, error: ErrorInfo | None, *, final: bool, started: float | None = None,
                cpu: str | None = None) -> None:
        self.ledger.write(AttemptRow(
            mini_batch=mb.index, attempt=attempt, label=mb.label, node=w.slot.node, process=w.slot.agent,
            pid=w.pid, start=iso(started or w.started_at), duration_s=duration, items=mb.items, succeeded=succeeded,
            failed=mb.items - succeeded if outcome is not Outcome.INTERRUPTED else 0, outcome=outcome.value,
            final=final, error_type=error.type if error else "",
            error_message=error.one_line(1000) if error else "", process_seconds=self._cpu(w) if cpu is None else cpu))

    def _cpu(self, w: Worker) -> str:
        """Azure ML's "Process Seconds": user + system CPU time of the worker process so far."""
        cpu = self.pool.cpu_seconds(w) if w.state is not WorkerState.GONE else None
        return f"{cpu[0] + cpu[1]:.2f}" if cpu else ""

    def _fail_in_flight(self, w: Worker, outcome: Outcome, error: ErrorInfo) -> None:
        """The worker's process is gone (killed or crashed) while it ran a mini-batch."""
        mb, attempt = w.mb, w.attempt
        duration = time.time() - w.started_at
        self._retire(w)
        self._take_back(w)
        if mb is not None:
            self.logs.append_user_error(w.slot.node, w.slot.agent, mb.index, attempt, error.one_line(2000))
            self._account(w, mb, attempt, outcome, 0, duration, error)
        self._replace(w.slot)

    def _worker_died(self, w: Worker) -> None:
        how = self.pool.exit_description(w)
        if w.state is WorkerState.BUSY:
            self._fail_in_flight(w, Outcome.CRASHED, ErrorInfo(
                "WorkerCrashed", f"the worker process {how} while running this mini-batch", ""))
        elif w.state is WorkerState.STARTING:
            self._startup_failed(w, StartupFailed("init", ErrorInfo(
                "WorkerCrashed", f"the worker process {how} during import or init()", "")))
        else:
            self._retire(w)

    def _startup_failed(self, w: Worker, message: StartupFailed) -> None:
        self._retire(w)
        error = message.error
        if message.stage in ("import", "no_run"):
            self.pool.end_all(grace=0.5)
            for x in self.workers:
                x.state = WorkerState.GONE
            script = self.job.entry_script_path
            what = ("failed to import" if message.stage == "import" else "has no run() function")
            self.logs.write_result(RunStatus.FAILED, f"the entry script {what}: {error.one_line()}", self.tally, [], 0.0)
            raise UserError(f"the entry script {what}: {error.one_line()}.", file=script,
                            key=f"jobs.{self.job.name}.task.entry_script",
                            fix="fix the script; its own traceback follows" if error.traceback else
                            "define def run(mini_batch): ... in the entry script",
                            details=error.traceback.rstrip() or None)
        node = w.slot.node
        self.init_failures[node] = self.init_failures.get(node, 0) + 1
        self.last_init_error = error
        limit = init_failure_limit(self.job.max_concurrency_per_instance)
        self._say(f"{node}/{w.slot.agent}: init() failed ({self.init_failures[node]} of {limit} on {node}): "
                  f"{error.one_line()}")
        self.reporter.failure(self.job.name, "init", f"{node}/{w.slot.agent}: init() failed "
                              f"({self.init_failures[node]} of {limit} on {node}): {error.one_line()}",
                              error.one_line())
        if self.init_failures[node] >= limit:
            self._say(f"{node}: {limit} init() failures; this node starts no more workers")
            return
        self._replace(w.slot)

    def _retire(self, w: Worker) -> None:
        w.state = WorkerState.GONE
        self.pool.retire(w)

    def _no_workers_reason(self) -> str:
        if self.last_init_error is not None:
            return f"no node can run a worker: init() failed: {self.last_init_error.one_line()}"
        return "every worker process ended"

    # ================================================================== stopping
    def _stop_early(self, reason: str) -> None:
        if self.stop_reason is not None:
            return
        self.stop_reason = reason
        self._say(f"stopping: {reason}")
        for w in self.workers:
            if w.state is WorkerState.BUSY:
                self.pool.kill(w)
                mb, attempt = w.mb, w.attempt
                self._retire(w)
                if mb is not None:
                    self._ledger(w, mb, attempt, Outcome.INTERRUPTED, 0, time.time() - w.started_at,
                                 ErrorInfo("Stopped", "the job stopped early: " + reason, ""), final=False)

    def _stop_workers(self) -> None:
        """Ask every live worker to run shutdown() and leave; kill what does not in time."""
        for w in self.workers:
            if w.state in (WorkerState.IDLE, WorkerState.STARTING):
                if self.pool.send(w, Stop()):
                    w.state = WorkerState.STOPPING
                else:
                    self._retire(w)
        deadline = time.monotonic() + max(self.job.retry_settings.timeout, 5.0)
        while any(w.state is WorkerState.STOPPING for w in self.workers) and time.monotonic() < deadline:
            if self.interrupted():
                raise KeyboardInterrupt  # Ctrl-C while shutdown() runs: stop now, not after the timeout
            stopping = [w for w in self.workers if w.state is WorkerState.STOPPING]
            wait_s = min(self.options.poll_interval, max(0.0, deadline - time.monotonic()))
            for w, message in self.pool.receive(stopping, wait_s):
                if message is None:
                    self._retire(w)
                    continue
                if isinstance(message, Stopped):
                    self._handle(w, message)
                elif isinstance(message, (Ready, StartupFailed)):
                    continue  # it finished init() after the work ran out; Stop is already queued
        for w in self.workers:
            if w.state is not WorkerState.GONE:
                self._say(f"{w.slot.node}/{w.slot.agent}: did not end within the time; killed")
                self.pool.kill(w)
                self._retire(w)

    def _interrupt(self) -> None:
        self.pool.end_all(grace=1.0)
        for w in self.workers:
            if w.state is WorkerState.BUSY and w.mb is not None:
                self._ledger(w, w.mb, w.attempt, Outcome.INTERRUPTED, 0, time.time() - w.started_at,
                             ErrorInfo("KeyboardInterrupt", "the run was interrupted", ""), final=False)
            w.state = WorkerState.GONE
        self.logs.write_result(RunStatus.INTERRUPTED, "the run was interrupted (Ctrl-C or SIGTERM); "
                               "resume it with tenantml run ... --resume RUN_ID", self.tally,
                               self._failed_lines(), time.time() - self.started)
        self.logs.write_progress(self.started, self.tally, len(self.retry), RunStatus.INTERRUPTED)

    def _conclude(self) -> StepReport:
        result = verdict(self.thresholds, self.tally)
        reason = result.reason
        status = result.status
        if self.stop_reason is not None and status is Status.COMPLETED:
            status = Status.FAILED
        if self.stop_reason is not None:
            reason = self.stop_reason
        elapsed = time.time() - self.started
        # Commit protocol (tenantml.runfolder): every ledger row and the output in place, then the one
        # record that the step is done, and only then the spills it was built from are deleted.
        self.ledger.flush()
        self.appender.commit()
        if status is Status.COMPLETED:
            commit.write_committed(self.job_dir, status.value, reason, self.signature)
        if status is Status.COMPLETED and self.tally.failed_mini_batches == 0:
            # kept when some mini-batches failed within the threshold: --resume --retry-failed
            # rewrites the output from them, whole and in order
            self.appender.discard_spills()
        self.logs.write_result(status.value, reason, self.tally, self._failed_lines(), elapsed)
        self.logs.write_errors(self._failed_lines(), self.last_init_error.one_line() if self.last_init_error else None)
        self.logs.write_progress(self.started, self.tally, len(self.retry), status.value)
        self.reporter.progress(self._snapshot(), force=True)
        self.reporter.step_done(self.job.name)
        self._say(f"{status.value}" + (f": {reason}" if reason else ""))
        return StepReport(self.job.name, status, reason, self.tally, sorted(self.failed), elapsed, self.logs.root,
                          {name: out.path for name, out in self.job.outputs.items()})

    # ================================================================== workers
    def _slots(self) -> list[Slot]:
        """Virtual nodes 0..n-1 (Azure ML v2 names node folders by index), processNNN on each;
        interleaved so a cap spreads over nodes."""
        job = self.job
        # Generated lazily: max_concurrency_per_instance 1e8 must not build 1e8 slots for a 2-core cap.
        slots = (Slot(str(n), f"process{p:03d}")
                 for p in range(job.max_concurrency_per_instance) for n in range(job.instance_count))
        return list(itertools.islice(slots, self.options.cap))

    def _start(self, slot: Slot) -> Worker:
        env = dict(os.environ)
        env.update(self.options.env)
        env.update(self.job.environment_variables)
        env["AZUREML_BI_OUTPUT_PATH"] = str(launch.output_dir(self.job, self.job_dir))
        used = int(slot.agent[len("process"):]) + 1
        self.agents_started[slot.node] = max(self.agents_started.get(slot.node, 0), used)
        assert self.temp_root is not None
        cwd = launch.worker_cwd(self.temp_root, slot.node, slot.agent)
        cwd.mkdir(parents=True, exist_ok=True)
        worker = self.pool.start(slot, self._worker_config(slot, cwd), cwd=cwd, env=env,
                                 stdout=self.logs.user("stdout", slot.node, slot.agent),
                                 stderr=self.logs.user("stderr", slot.node, slot.agent))
        self.workers.append(worker)
        return worker

    def _replace(self, slot: Slot) -> None:
        """A fresh worker on the same node under the next unused processNNN, as Azure ML names the
        processes it starts "in replace of the ones exited abnormally" (how-to-debug-parallel-run-step)."""
        if self.stop_reason is None and not self.tally.complete:
            self._start(Slot(slot.node, f"process{self.agents_started.get(slot.node, 0):03d}"))

    def _worker_config(self, slot: Slot, cwd: Path) -> WorkerConfig:
        job = self.job
        return WorkerConfig(
            job_name=job.name, node=slot.node, agent=slot.agent, logs_dir=str(self.logs.root),
            code_dir=str(job.code), entry_script=str(job.entry_script_path), argv=launch.argv(job),
            logging_level=job.logging_level, output_dir=str(launch.output_dir(job, self.job_dir)), rows_dir=str(self.rows_dir),
            append_row=job.append_row_to is not None, to_csv_options=self.to_csv_options,
            mltable_log_dir=str(self.logs.root / "sys" / "mltable"), cwd=str(cwd),
            guarded_inputs=launch.guarded_inputs(job),
            rows_journal=str(self.rows_dir / journal_name(self.session, slot.node, slot.agent)))

    def _kept_plan(self) -> int | None:
        """Mini-batches of the earlier session's plan; None when it is damaged or names fewer
        mini-batches than the ledger does (cut, emptied): the input is then divided again, into
        the same mini-batches (the inputs are those the plan was made from: state/inputs.json)."""
        from tenantml.runfolder.ledger import read_rows

        total = divide.plan_size(self.plan_path, should_stop=self.interrupted)
        if total is not None:
            try:
                highest = max((int(row["mini_batch"]) for row in read_rows(self.logs.ledger)), default=-1)
            except (ValueError, TypeError, KeyError, UnicodeDecodeError):
                highest = -1  # _resume_state refuses a ledger it cannot read
            if highest < total:
                return total
        said = "resuming: the division plan of the earlier session is damaged; the input is divided again"
        self._say(said)
        self.reporter.event(self.job.name, said)
        return None

    def _read_plan(self, skip: set[int] | frozenset[int] = frozenset()) -> Iterator[tuple[MiniBatch, str]]:
        """The plan's mini-batches, each with its line as written: a Call carries the line itself."""
        with open(self.plan_path, encoding="utf-8", errors="surrogateescape") as plan:
            for index, line in enumerate(plan):
                if index not in skip:
                    yield MiniBatch.from_json(line), line

    def _resume_state(self) -> set[int]:
        """What earlier sessions finished: kept, counted once, their rows re-emitted in order."""
        from tenantml.runfolder.ledger import read_rows

        last: dict[int, dict[str, str]] = {}
        try:
            for row in read_rows(self.logs.ledger):
                index = int(row["mini_batch"])
                self.attempt_base[index] = max(self.attempt_base.get(index, 0), int(row["attempt"]))
                last[index] = row
                Outcome(row["outcome"]), int(row["items"]), int(row["succeeded"])
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            raise UserError(f"the ledger of step '{self.job.name}' cannot be read ({exc}); nothing was changed.",
                            file=self.logs.ledger, fix="restore it, or run the pipeline again without --resume") from None
        kept = {index: int(row["attempt"]) for index, row in last.items()
                if row["final"] == "True" and Outcome(row["outcome"]).is_success}
        # Rows of the kept attempts, and every attempt a journal recorded: an attempt whose ledger row
        # was lost (killed before it was written) must not share its number with a later one.
        spills, recorded = scan_journals(self.rows_dir, kept.items())
        for index, attempt in recorded.items():
            self.attempt_base[index] = max(self.attempt_base.get(index, 0), attempt)
        done: set[int] = set()
        lost = 0
        for index in sorted(kept):
            row = last[index]
            spill = spills.get((index, kept[index]))
            if self.appender.target is not None and spill is None:
                # every successful attempt journaled its rows (a record, empty for none); a record gone (the
                # step's state/ deleted or damaged by hand) means its rows are lost: run it again
                # rather than rebuild the output without them
                lost += 1
                continue
            done.add(index)
            self.tally = self.tally.add(FinalResult(int(row["items"]), int(row["succeeded"]), False))
            self.appender.finalize(index, spill)
        self._say(f"resuming: {len(done)} mini-batch(es) succeeded earlier and are kept; "
                  f"{self.tally.total_mini_batches - len(done)} run again"
                  + (f" ({lost} of them succeeded but their rows are no longer in {self.rows_dir})" if lost else ""))
        self.reporter.event(self.job.name, f"resuming: {len(done)} of {self.tally.total_mini_batches} mini-batches "
                            "kept from the earlier session")
        return done

    # ================================================================== logs
    def _poll_resources(self) -> None:
        limit = self.options.worker_memory_limit
        interval = self.job.runner_arguments.resource_monitor_interval
        for w in list(self.workers):
            if w.state is WorkerState.GONE:
                continue
            rss = self.pool.rss_bytes(w)
            if limit and rss is not None and rss > limit and w.state is WorkerState.BUSY:
                self._drain(w)
                if w.state is not WorkerState.BUSY:
                    continue
                self.pool.kill(w)
                self._fail_in_flight(w, Outcome.MEMORY, ErrorInfo(
                    "MemoryError", f"the worker used {rss / 2**20:.0f} MiB, over --worker-memory-limit "
                    f"{limit / 2**20:.0f} MiB; it was killed and replaced", ""))
        if interval > 0 and time.time() - self.last_perf >= interval:
            self.last_perf = time.time()
            for w in self.workers:
                if w.state is not WorkerState.GONE:
                    self.logs.append_perf(w.slot.node, w.slot.agent, w.pid, self.pool.rss_bytes(w),
                                          self.pool.cpu_seconds(w) or (0.0, 0.0))

    def _dump_stack(self, w: Worker) -> None:
        """Before a timed-out worker is killed: its Python stack into its error file, under a
        header that names the mini-batch (``tenantml logs RUN JOB --mini-batch N`` shows it).
        A transport that cannot signal its workers has no ``dump_stack``: nothing is written."""
        dump = getattr(self.pool, "dump_stack", None)
        if dump is None or w.mb is None:
            return
        path = self.logs.user("error", w.slot.node, w.slot.agent)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {w.slot.agent} timed out in run() of mini-batch "
                      f"{w.mb.index} attempt {w.attempt}; its Python stack when it was killed:\n")
        if not dump(w, path):
            with open(path, "a", encoding="utf-8") as out:
                out.write("(the worker did not answer with its stack)\n")

    def _say(self, text: str) -> None:
        if self._log_file is not None:
            self._log_file.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")
            self._log_file.flush()

    def _failed_lines(self) -> list[str]:
        return [f"{i}  {label}  {err}" for i, label, err in sorted(self.failed)]

    def _snapshot(self) -> Snapshot:
        now = time.time()
        busy = [w for w in self.workers if w.state is WorkerState.BUSY and w.mb is not None]
        starting = sum(1 for w in self.workers if w.state is WorkerState.STARTING)
        running_now = sorted(((w.mb.label or f"#{w.mb.index}", now - w.started_at) for w in busy if w.mb is not None),
                             key=lambda item: -item[1])
        return Snapshot(self.job.name, self.tally, len(busy), len(self.retry), now - self.started,
                        starting=starting, kept=self.kept, phase=self.phase, now_running=tuple(running_now))


def _queue_limit(w: Worker) -> int:
    """How many calls may wait behind the one a worker runs, from how long its last call took."""
    if w.last_duration >= PREFETCH_BELOW:
        return 0
    return max(PREFETCH - 1, min(PREFETCH_MAX - 1, int(QUEUED_WORK / max(w.last_duration, 1e-6))))


def _at_input(job: ParallelJob, exc: UserError) -> UserError:
    """A problem found while dividing, at its place in the YAML: the message validation gives when
    the data exists before the run (data an upstream step writes is checked here, once written).
    A problem inside an MLTable file keeps that file's location."""
    if exc.file is not None and Path(exc.file) != job.source:
        return exc
    data = job.data_input
    key = exc.key or f"inputs.{data.name}"
    line = data.where.line if data.where and key.startswith(f"inputs.{data.name}") else None
    if line is None and job.where is not None:
        line = job.where.line
    return UserError(exc.text, file=job.source, key=f"jobs.{job.name}.{key}", line=line, fix=exc.fix,
                     details=exc.details)
