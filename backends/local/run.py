"""A local run: the pipeline's jobs, executed in this process's thread when ``wait()`` is called."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tenantml.backends.base import RunHandle, RunOptions, StepStatus
from tenantml.backends.local.ledger import COLUMNS
from tenantml.backends.local.scheduler import LocalOptions, ParallelStep, StepReport
from tenantml.errors import RunInterrupted
from tenantml.loader import LoadContext, Pipeline, load_pipeline
from tenantml.locations import Datastores
from tenantml.progress import Reporter
from tenantml.runs import RunRecord, new_run_dir

if TYPE_CHECKING:
    import pandas as pd


class LocalRun(RunHandle):
    def __init__(self, pipeline: Pipeline, run_id: str, run_dir: Path, options: RunOptions):
        self.pipeline = pipeline
        self.run_id = run_id
        self.run_dir = run_dir
        self.options = options
        self.reporter = options.reporter or Reporter(quiet=True)
        self.record = RunRecord(run_id, str(pipeline.source), "local", status="NotStarted")
        self.reports: dict[str, StepReport] = {}
        self._status = "NotStarted"
        self._cancel = threading.Event()

    @classmethod
    def create(cls, path: Path, options: RunOptions) -> "LocalRun":
        """Validate everything, then make the run folder (nothing is written for bad input)."""
        datastores = Datastores(options.home, dict(options.datastores))
        probe = LoadContext(options.home / "runs" / "<run-id>", "<run-id>", datastores)
        load_pipeline(path, probe)  # raises before any folder exists
        run_id, run_dir = new_run_dir(options.home, path, options.run_id)
        pipeline = load_pipeline(path, LoadContext(run_dir, run_id, datastores))
        run = cls(pipeline, run_id, run_dir, options)
        run.record.save(run_dir)
        return run

    # ------------------------------------------------------------------ RunHandle
    def status(self) -> str:
        return self._status

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self) -> str:
        if self._status not in ("NotStarted",):
            return self._status
        self._status = self.record.status = "Running"
        self.record.save(self.run_dir)
        for note in self.pipeline.notes:
            self.reporter.note(note)
        for warning in self.pipeline.warnings:
            self.reporter.note("warning: " + warning)
        local = LocalOptions(max_workers=self.options.max_workers,
                             worker_memory_limit=self.options.worker_memory_limit)
        try:
            for name, job in self.pipeline.jobs.items():
                if self._cancel.is_set():
                    self._record_step(name, "Skipped", "the run was cancelled")
                    continue
                self._record_step(name, "Running")
                step = ParallelStep(job, self.run_dir / name, local, self.reporter, cancelled=self._cancel.is_set)
                report = step.run()
                self.reports[name] = report
                self._record_step(name, report.status.value, report.reason)
                if report.status.value != "Completed":
                    for later in list(self.pipeline.jobs)[list(self.pipeline.jobs).index(name) + 1:]:
                        self._record_step(later, "Skipped", f"'{name}' did not complete")
                    break
            statuses = [s["status"] for s in self.record.steps.values()]
            self._status = "Completed" if all(s == "Completed" for s in statuses) else "Failed"
        except RunInterrupted:
            self._status = "Interrupted"
            for name, info in self.record.steps.items():
                if info["status"] == "Running":
                    self._record_step(name, "Interrupted", "interrupted")
            raise
        except BaseException:
            self._status = "Failed"
            raise
        finally:
            self.record.status = self._status
            self.record.ended = time.time()
            self.record.save(self.run_dir)
        return self._status

    def steps(self) -> list[StepStatus]:
        return [StepStatus(name, "parallel", info["status"], info.get("reason", ""), self.reports.get(name))
                for name, info in self.record.steps.items()]

    def outputs(self) -> dict[str, dict[str, Path]]:
        return {name: {o: out.path for o, out in job.outputs.items()} for name, job in self.pipeline.jobs.items()}

    def ledger(self) -> "pd.DataFrame":
        import pandas as pd

        frames = []
        for name in self.pipeline.jobs:
            path = self.run_dir / name / "logs" / "sys" / "job_report" / "processed_mini-batches.csv"
            if path.exists():
                frame = pd.read_csv(path, keep_default_na=False, dtype={"error_type": str, "error_message": str,
                                                                          "label": str})
                frame.insert(0, "job", name)
                frames.append(frame)
        if not frames:
            return pd.DataFrame(columns=["job", *COLUMNS])
        return pd.concat(frames, ignore_index=True)

    # ------------------------------------------------------------------ helpers
    def _record_step(self, name: str, status: str, reason: str = "") -> None:
        self.record.steps.setdefault(name, {"type": "parallel"})
        self.record.steps[name].update(status=status, reason=reason)
        self.record.save(self.run_dir)
