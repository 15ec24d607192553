"""A pipeline job submitted to Azure ML, seen through tenantml's RunHandle.

The run folder ``<home>/runs/<azure job name>/`` is made only once Azure ML accepted the job;
it holds ``run.json`` (as a local run), ``aml.json`` (workspace, job name, studio URL) and, after
``tenantml fetch``, each step's ``logs/`` and ``outputs/`` laid out as a local run's.
"""

from __future__ import annotations

import json
import re
import sys
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenantml.backends.aml import sdk
from tenantml.backends.aml.options import MAX_BACKOFF_S, OUTAGE_BUDGET_S
from tenantml.backends.aml.workspace import Workspace
from tenantml.backends.base import RunHandle, StepStatus
from tenantml.backends.stopping import StopGuard
from tenantml.errors import RunInterrupted, TenantmlError, UserError
from tenantml.progress import Reporter
from tenantml.runfolder.atomic import atomic_write
from tenantml.runfolder.ledger import read_ledgers
from tenantml.runfolder.lock import PathLock, RunLock
from tenantml.runs import RunRecord
from tenantml.status import RunStatus

if TYPE_CHECKING:
    import pandas as pd

TERMINAL = {"Completed", "Failed", "Canceled", "NotResponding"}


# Streaming while waiting (see sdk.streamed_logs for what the SDK's own jobs.stream follows): the pipeline
# job's logs exactly as jobs.stream selects them, printed as "[pipeline] ..."; and, as tenantml's addition
# (the SDK refuses to stream a pipeline's child step), each running step's files that jobs.stream would
# pick for a job of its own, plus the parallel runtime's progress sentences, printed as "[step] ...".
PROGRESS = re.compile(r"^logs/job_progress_overview\.[^/]+\.txt$")


class WaitLost(TenantmlError):
    """Waiting gave up after Azure ML stayed unreachable; the job itself goes on (exit 1)."""


@dataclass
class AmlRecord:
    """``aml.json``: where the cloud job lives. Never holds a credential or token."""

    job_name: str
    studio_url: str
    experiment: str
    subscription: str
    resource_group: str
    workspace: str
    resumed_from: str | None = None
    restricted: dict[str, list[str]] | None = None  # step -> items re-run (resume)

    def save(self, run_dir: Path) -> None:
        atomic_write(run_dir / "aml.json", json.dumps(asdict(self), indent=2))

    @staticmethod
    def load(run_dir: Path) -> AmlRecord:
        path = run_dir / "aml.json"
        try:
            return AmlRecord(**json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:  # not JSON, not an object, keys missing or unknown
            raise UserError(f"the record of the Azure ML job cannot be read ({exc}).", file=path,
                            fix="aml.json is written by tenantml: restore it, or name the workspace with "
                                "--subscription, -g and -w") from None

    @property
    def workspace_ref(self) -> Workspace:
        return Workspace(self.subscription, self.resource_group, self.workspace, "aml.json")


def status_text(status: object) -> str:
    """The SDK's status (a str enum, whose str() is "JobStatus.COMPLETED") as Azure ML's word."""
    if status is None:
        return "Unknown"
    return str(getattr(status, "value", status))


def final_status(azure_status: str) -> RunStatus:
    """Azure ML's status as tenantml's verdict (Completed / Failed)."""
    return RunStatus.COMPLETED if azure_status == "Completed" else RunStatus.FAILED


class AmlRun(RunHandle):
    def __init__(self, client: Any, record: AmlRecord, run_dir: Path, steps: list[str],
                 reporter: Reporter | None = None, poll_interval: float = 10.0, wait: bool = True,
                 cancel_on_interrupt: bool | None = None, outage_budget: float = OUTAGE_BUDGET_S,
                 max_backoff: float = MAX_BACKOFF_S, stream_logs: bool = True, lock: PathLock | None = None):
        self.client = client
        self.aml = record
        self.run_id = record.job_name
        self.run_dir = run_dir
        self.step_names = steps
        self.reporter = reporter or Reporter(quiet=True)
        self.poll_interval = poll_interval
        self.detached = not wait  # --no-wait: the command line prints where the job is and leaves
        self.cancel_on_interrupt = cancel_on_interrupt  # None: ask on a terminal, keep the job otherwise
        self.outage_budget = outage_budget
        self.max_backoff = max_backoff
        self.step_status: dict[str, str] = {}  # node -> Azure ML status of its child job
        self.stream_logs = stream_logs  # print each step's new log lines, as az ml job create --stream
        self._streamed: dict[tuple[str, str], int] = {}  # (step, log file) -> characters printed
        self._job: Any = None  # the pipeline job as last read (its outputs say where jobs.stream reads logs)
        self._ended: set[str] = set()  # steps whose logs were read once they had ended
        self._azure_status = "NotStarted"
        self._stopped_waiting = False  # Ctrl-C while waiting: the local record says Interrupted
        # the run lock taken at submission: held while wait() writes run.json, let go when waiting
        # ends (after interrupted() when Ctrl-C stopped it); a later write takes it for that write
        self._lock = lock

    # ------------------------------------------------------------------ RunHandle
    def azure_status(self) -> str:
        return self._azure_status

    def refresh(self) -> str:
        with sdk.quiet_sdk(), sdk.translating(self.aml.workspace_ref, what=f"reading job {self.run_id}"):
            job = self.client.jobs.get(self.run_id)
        self._job = job
        self._azure_status = status_text(getattr(job, "status", None))
        return self._azure_status

    def status(self) -> RunStatus:
        if self._azure_status in TERMINAL:
            return final_status(self._azure_status)
        if self._stopped_waiting:
            return RunStatus.INTERRUPTED
        return RunStatus.RUNNING if self._azure_status not in ("NotStarted", "Unknown") else RunStatus.NOT_STARTED

    def describe(self) -> list[str]:
        lines = [f"job {self.run_id} submitted"]
        if self.aml.studio_url:
            lines.append(f"studio: {self.aml.studio_url}")
        lines.append(f"run folder: {self.run_dir}")
        if self.detached:
            lines.append(f"follow it with: tenantml fetch {self.run_id} (once it has ended)")
        return lines

    def interrupted(self) -> str:
        """Ctrl-C while waiting: record Interrupted; cancel the cloud job if told to (or, on a terminal,
        if the user says so); otherwise the job goes on and ``tenantml fetch`` reads it later."""
        try:
            return self._interrupted()
        finally:
            self.release()

    def _interrupted(self) -> str:
        with StopGuard().held():  # a second Ctrl-C must not cut the record's save short
            self.mark_interrupted()
        cancel = self.cancel_on_interrupt
        if cancel is None and sys.stdin.isatty():
            try:
                answer = input(f"\nCancel the Azure ML job {self.run_id} too? [y/N] ")
            except (EOFError, KeyboardInterrupt):
                answer = ""
            cancel = answer.strip().lower() in ("y", "yes")
        if cancel:
            self.cancel()
            return f"interrupted; cancel requested for Azure ML job {self.run_id}"
        return (f"stopped waiting; the Azure ML job {self.run_id} goes on"
                + (f" ({self.aml.studio_url})" if self.aml.studio_url else ""))

    def wait(self) -> RunStatus:
        """Poll until the job ends, printing every change of status (of the job and of each step).
        Ctrl-C propagates to the caller.

        An unreachable or busy service (network down, 5xx, 429) is ridden out: polls back off
        (doubling up to ``max_backoff``) for up to ``outage_budget`` seconds of silence; then
        :class:`WaitLost` says the job goes on and ``tenantml fetch`` follows it, never to submit
        again (that would start a second job)."""
        try:
            status = self._wait()
        except (KeyboardInterrupt, RunInterrupted):
            raise  # interrupted() records it, then lets the lock go
        except BaseException:
            self.release()
            raise
        self.release()
        return status

    def release(self) -> None:
        """Let go of the run lock (this process no longer writes the run folder)."""
        if self._lock is not None:
            lock, self._lock = self._lock, None
            lock.release()

    def _locked(self) -> AbstractContextManager[object]:
        return nullcontext() if self._lock is not None else RunLock(self.run_dir)

    def _wait(self) -> RunStatus:
        last = None
        delay = self.poll_interval
        silent_since: float | None = None
        while True:
            try:
                status = self.refresh()
                self._refresh_steps()
                if self.stream_logs:
                    self._stream_pipeline()
            except (sdk.ServiceUnreachable, sdk.ServiceBusy) as exc:
                now = time.monotonic()
                silent_since = silent_since if silent_since is not None else now
                if now - silent_since >= self.outage_budget:
                    raise WaitLost(
                        f"stopped waiting: Azure ML did not answer for {now - silent_since:.0f} s ({exc}). "
                        f"The job {self.run_id} was submitted and goes on in Azure ML; do not submit it again. "
                        f"Follow it with: tenantml fetch {self.run_id} (once it has ended)"
                        + (f", or on its studio page {self.aml.studio_url}" if self.aml.studio_url else "")
                        + ".") from None
                self.reporter.note(f"{self.run_id}: Azure ML not reachable ({type(exc).__name__}); "
                                   f"asking again in {delay:.0f} s")
                time.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
                continue
            if silent_since is not None:
                self.reporter.note(f"{self.run_id}: Azure ML reachable again")
            silent_since, delay = None, self.poll_interval
            if status != last:
                self.reporter.note(f"{self.run_id}: {status}")
                last = status
                self._save_record()
            if status in TERMINAL:
                return self.status()
            time.sleep(self.poll_interval)

    def _refresh_steps(self) -> None:
        """Each step's own status, from the pipeline's child jobs (run history); a step's change is
        printed. Best effort: a workspace that does not list children leaves steps at the job's."""
        from tenantml.backends.aml.fetch import step_name

        try:
            with sdk.quiet_sdk(), sdk.translating(self.aml.workspace_ref, what=f"listing the steps of {self.run_id}"):
                children = list(self.client.jobs.list(parent_job_name=self.run_id))
        except (sdk.ServiceUnreachable, sdk.ServiceBusy):
            raise
        except Exception:  # noqa: BLE001 - per-step status is extra: the job's own status decides
            return
        changed = False
        for child in children:
            if child is None:
                continue
            name, status = step_name(child), status_text(getattr(child, "status", None))
            if self.stream_logs and status not in ("NotStarted", "Queued", "Preparing") and name not in self._ended:
                self._stream(name, str(child.name))
                if status in TERMINAL:
                    self._ended.add(name)  # its last lines are printed: its files are not read again
            if self.step_status.get(name) != status:
                self.step_status[name] = status
                self.reporter.note(f"{self.run_id}: step {name}: {status}")
                changed = True
        if changed:
            self._save_record()

    def _stream_pipeline(self) -> None:
        """The pipeline job's own logs, as ``jobs.stream`` selects and reads them. Best effort."""
        job_type = str(getattr(self._job, "type", None) or "pipeline")
        try:
            with sdk.quiet_sdk():
                files = sdk.streamed_logs(self.client, self.run_id, job_type, sdk.stream_source(self._job),
                                          {log for step, log in self._streamed if step == ""})
                self._print_new("pipeline", files, key="")  # "": never a step's name
        except Exception:  # noqa: BLE001 - logs are a view; the job's status decides
            return

    def _stream(self, step: str, run_id: str) -> None:
        """A running step's new log lines, prefixed with its name. Best effort."""
        try:
            with sdk.quiet_sdk():
                every = sdk.step_log_files(self.client, run_id)
                files = sdk.streamed_logs(self.client, run_id, "parallel",
                                          printed={log for s, log in self._streamed if s == step})
                files.update({name: url for name, url in every.items() if PROGRESS.match(name)})
                self._print_new(step, dict(sorted(files.items())))
        except Exception:  # noqa: BLE001 - logs are a view; the job's status decides
            return

    def _print_new(self, label: str, files: dict[str, str], key: str | None = None) -> None:
        """Each file's complete lines not printed yet (a line still being written waits for its end)."""
        key = label if key is None else key
        for log, url in files.items():
            text = sdk.download_text(self.client, url)
            done = self._streamed.get((key, log), 0)
            end = text.rfind("\n") + 1
            if end <= done:
                continue
            for line in text[done:end].splitlines():
                self.reporter.note(f"[{label}] {line}")
            self._streamed[(key, log)] = end

    def cancel(self) -> None:
        with sdk.quiet_sdk(), sdk.translating(self.aml.workspace_ref, what=f"cancelling job {self.run_id}"):
            poller = self.client.jobs.begin_cancel(self.run_id)
            try:
                poller.wait(timeout=30)
            except Exception:  # noqa: BLE001 - the cancel request was accepted; the service finishes it
                pass
        self._azure_status = "CancelRequested"
        self._save_record()

    def steps(self) -> list[StepStatus]:
        parent = self.status()
        return [StepStatus(name, "parallel", self._step_verdict(name, parent)) for name in self.step_names]

    def _step_verdict(self, name: str, parent: RunStatus) -> RunStatus:
        azure = self.step_status.get(name)
        if azure is None:
            return parent
        if azure in TERMINAL:
            return final_status(azure)
        return RunStatus.RUNNING if azure not in ("NotStarted", "Unknown", "Queued", "Preparing") else RunStatus.NOT_STARTED

    def outputs(self) -> dict[str, dict[str, Path]]:
        found: dict[str, dict[str, Path]] = {}
        for name in self.step_names:
            folder = self.run_dir / name / "outputs"
            if folder.is_dir():
                found[name] = {p.name: p for p in sorted(folder.iterdir())}
        return found

    def ledger(self) -> pd.DataFrame:
        return read_ledgers(self.run_dir, self.step_names)

    # ------------------------------------------------------------------ helpers
    def mark_interrupted(self) -> None:
        """The user stopped waiting (Ctrl-C): say so in run.json until the cloud job's end is fetched."""
        self._stopped_waiting = True
        self._save_record()

    def _save_record(self) -> None:
        with self._locked():  # never while tenantml fetch (or another process) writes the folder
            record = RunRecord.load(self.run_dir) if (self.run_dir / "run.json").exists() else RunRecord(
                self.run_id, "", "aml")
            record.status = self.status()
            if self._azure_status in TERMINAL and record.ended is None:
                record.ended = time.time()
            for name in self.step_names:
                record.steps.setdefault(name, {"type": "parallel"})
                record.steps[name].update(status=self._step_verdict(name, record.status))
                if name in self.step_status:
                    record.steps[name]["azure_status"] = self.step_status[name]
            record.save(self.run_dir)
