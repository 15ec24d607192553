"""``--backend inprocess``: the smallest complete tenantml backend, as an example to copy.

Every parallel step's mini-batches run one after the other in the calling process: the entry
script is imported here, ``init()`` once, ``run(mini_batch)`` per attempt, ``shutdown()`` at the
end. There is no isolation (a crash of the script is a crash of the caller), no timeouts and no
``instance_count``; what it does have comes from tenantml's core, the same as every backend:

    load_pipeline (validation, every problem at once)  -> spec.ParallelJob
    division.iter_mini_batches                         -> the same mini-batches as on Azure ML
    policy.next_step / Tally / breach / verdict        -> the same retries, thresholds, verdict
    runs.RunRecord in <home>/runs/<run-id>/run.json    -> tenantml runs / show read it

The backend itself is three things: a typed options object and its command-line flags, the
capability flags it declares (none of the optional ones here), and ``submit`` returning a
:class:`RunHandle`. Waiting and Ctrl-C are the caller's (``tenantml.api.wait``).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from tenantml.backends.base import Backend, RunHandle, RunOptions, StepStatus
from tenantml.division import iter_mini_batches, load_mini_batch
from tenantml.errors import UserError
from tenantml.loader import LoadContext, Pipeline, load_pipeline
from tenantml.locations import Datastores
from tenantml.policy import FinalResult, Outcome, Step, Tally, Thresholds, breach, next_step, verdict
from tenantml.runs import RunRecord, new_run_dir, propose_run_id
from tenantml.spec import ParallelJob
from tenantml.status import RunStatus


@dataclass(frozen=True)
class InProcessOptions:
    pause: float = 0.0  # seconds between mini-batches (to watch progress, or to interrupt a test run)


class InProcessBackend(Backend):
    name = "inprocess"
    options_type = InProcessOptions

    @classmethod
    def add_arguments(cls, group: argparse._ArgumentGroup) -> None:
        group.add_argument("--pause", type=float, default=0.0, metavar="S", help="seconds between mini-batches")

    @classmethod
    def options_from_args(cls, args: argparse.Namespace) -> InProcessOptions:
        return InProcessOptions(pause=args.pause)

    def submit(self, pipeline: Path, options: RunOptions) -> RunHandle:
        run_id = options.run_id or propose_run_id(pipeline)
        run_dir = options.home / "runs" / run_id
        loaded = load_pipeline(pipeline, LoadContext(run_dir, run_id, Datastores(options.home, dict(options.datastores)),
                                                     options.overrides))
        for job in loaded.jobs.values():
            if not isinstance(job, ParallelJob):
                raise UserError(f"job '{job.name}' is a {job.type} step; the inprocess backend runs parallel "
                                "steps only.", file=pipeline, key=f"jobs.{job.name}.type",
                                fix="run this pipeline with --backend local")
        new_run_dir(options.home, pipeline, run_id)  # claimed only once everything is valid
        return InProcessRun(loaded, run_id, run_dir, options.backend_options(InProcessOptions))


class InProcessRun(RunHandle):
    def __init__(self, pipeline: Pipeline, run_id: str, run_dir: Path, options: InProcessOptions):
        self.pipeline, self.run_id, self.run_dir, self.options = pipeline, run_id, run_dir, options
        self.source = pipeline.source
        self.attempts: list[dict[str, Any]] = []
        self._cancelled = False
        self.record = RunRecord(run_id, str(pipeline.source), InProcessBackend.name, status=RunStatus.NOT_STARTED,
                                steps={n: {"type": "parallel", "status": RunStatus.NOT_STARTED}
                                       for n in pipeline.jobs})
        self.record.save(run_dir)

    def status(self) -> RunStatus:
        return RunStatus(self.record.status)

    def wait(self) -> RunStatus:
        if self.record.status != RunStatus.NOT_STARTED:
            return self.status()
        self._set(None, RunStatus.RUNNING)
        for job in self.pipeline.jobs.values():
            assert isinstance(job, ParallelJob)
            upstream_failed = any(self.record.steps[d]["status"] != RunStatus.COMPLETED for d in job.depends_on)
            if self._cancelled or upstream_failed:
                self._set(job.name, RunStatus.SKIPPED)
                continue
            self._set(job.name, RunStatus.RUNNING)
            status, reason = self._run_parallel(job)
            self._set(job.name, status, reason)
        failed = any(s["status"] != RunStatus.COMPLETED for s in self.record.steps.values())
        self.record.ended = time.time()
        self._set(None, RunStatus.FAILED if failed else RunStatus.COMPLETED)
        return self.status()

    def _run_parallel(self, job: ParallelJob) -> tuple[RunStatus, str]:
        thresholds = Thresholds(job.retry_settings.max_retries, job.mini_batch_error_threshold,
                                job.error_threshold, job.runner_arguments.allowed_failed_percent)
        batches = list(iter_mini_batches(job.data_input, mini_batch_size=job.mini_batch_size,
                                         partition_keys=job.partition_keys,
                                         spill_dir=self.run_dir / job.name / "spill", source_file=job.source))
        tally = Tally(len(batches))
        script = _import(job)
        rows: list[str] = []
        if hasattr(script, "init"):
            script.init()
        try:
            for mb in batches:
                attempt = 0
                while True:
                    attempt += 1
                    try:
                        result = script.run(load_mini_batch(mb))
                        outcome = Outcome.SUCCEEDED if len(result) >= mb.items else Outcome.SHORT
                    except Exception:  # noqa: BLE001 - the script's failure is the attempt's outcome
                        result, outcome = [], Outcome.RAISED
                    self.attempts.append({"job": job.name, "mini_batch": mb.index, "attempt": attempt,
                                          "label": mb.label, "outcome": outcome.value})
                    step = next_step(attempt, outcome, thresholds.max_retries)
                    if step is not Step.RETRY:
                        break
                succeeded = min(len(result), mb.items) if outcome.is_success else 0
                tally = tally.add(FinalResult(mb.items, succeeded, step is Step.FAILED))
                rows += [str(row) for row in result] if outcome.is_success else []
                crossed = breach(thresholds, tally)
                if crossed is not None:
                    return RunStatus.FAILED, crossed.describe()
                time.sleep(self.options.pause)
        finally:
            if hasattr(script, "shutdown"):
                script.shutdown()
        if job.append_row_to is not None:
            out = job.outputs[job.append_row_to]
            target = out.path if out.type == "uri_file" else out.path / "parallel_run_step.txt"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("".join(f"{row}\n" for row in rows), encoding="utf-8")
        result_ = verdict(thresholds, tally)
        return RunStatus(result_.status), result_.reason

    def _set(self, step: str | None, status: RunStatus, reason: str = "") -> None:
        if step is None:
            self.record.status = status
        else:
            self.record.steps[step].update(status=status, reason=reason)
        self.record.save(self.run_dir)

    def cancel(self) -> None:
        self._cancelled = True

    def interrupted(self) -> str:
        self.cancel()
        for info in self.record.steps.values():
            if info["status"] in (RunStatus.RUNNING, RunStatus.NOT_STARTED):
                info["status"] = RunStatus.INTERRUPTED
        self.record.ended = time.time()
        self._set(None, RunStatus.INTERRUPTED)
        return f"run {self.run_id} was interrupted"

    def steps(self) -> list[StepStatus]:
        return [StepStatus(n, "parallel", RunStatus(i["status"]), i.get("reason", "")) for n, i in self.record.steps.items()]

    def outputs(self) -> dict[str, dict[str, Path]]:
        return {n: {o: out.path for o, out in job.outputs.items()} for n, job in self.pipeline.jobs.items()}

    def ledger(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.attempts, columns=["job", "mini_batch", "attempt", "label", "outcome"])


def _import(job: ParallelJob) -> ModuleType:
    """The entry script as a module, with its code folder first on sys.path while it imports."""
    spec = importlib.util.spec_from_file_location(f"_tenantml_inprocess_{job.name}", job.entry_script_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(job.code))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(job.code))
    return module
