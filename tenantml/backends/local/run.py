"""A local run: the pipeline's jobs as a DAG, executed when ``wait()`` is called.

    ready steps (all inputs' producers Completed/Reused) --> step threads (at most the worker cap)
        each: reuse cache hit? -> outputs linked from the earlier run, status Reused
              else CommandStep / ParallelStep -> Completed | Failed
    a Failed step: dependents Skipped; the others are cancelled unless continue_on_step_failure

Steps run in threads of this process; Ctrl-C arrives in the waiting (main) thread, which sets
the interrupt flag every step polls, and waits until each has ended its processes.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenantml.backends.base import RunHandle, RunOptions, StepStatus
from tenantml.backends.local import input_watch, launch, reaper
from tenantml.backends.local.command import CommandReport, CommandStep
from tenantml.backends.local.environments import steps as environments
from tenantml.backends.local.local_config import datastores_for, read_local_config
from tenantml.backends.local.options import LocalOptions
from tenantml.backends.local.reuse import ReuseCache
from tenantml.backends.local.scheduler import ParallelStep, StepReport
from tenantml.backends.stopping import StopGuard
from tenantml.errors import RunInterrupted, UserError
from tenantml.loader import LoadContext, Pipeline, load_pipeline
from tenantml.progress import Reporter
from tenantml.runfolder import RunLock, check_inside, check_run_id, commit
from tenantml.runfolder.ledger import read_ledgers
from tenantml.runfolder.lock import PathLock, output_lock
from tenantml.runfolder.record import RunRecord, propose_run_id
from tenantml.runfolder.storage import StorageError, is_storage_error, user_os_error
from tenantml.runfolder.written import WrittenFiles
from tenantml.spec import CommandJob, Job, ParallelJob
from tenantml.status import DONE as RUN_DONE
from tenantml.status import RunStatus

if TYPE_CHECKING:
    import pandas as pd

DONE = RUN_DONE


class LocalRun(RunHandle):
    def __init__(self, pipeline: Pipeline, run_id: str, run_dir: Path, options: RunOptions,
                 record: RunRecord | None = None, envs: environments.RunEnvironments | None = None):
        self.pipeline = pipeline
        self.source = pipeline.source
        self.run_id = run_id
        self.run_dir = run_dir
        self.options = options
        self.local = options.backend_options(LocalOptions)
        self.reporter = options.reporter or Reporter(quiet=True)
        self.record = record or RunRecord(run_id, str(pipeline.source), "local", status=RunStatus.NOT_STARTED)
        self.resuming = record is not None
        self.envs = envs or environments.RunEnvironments("current")
        self.reports: dict[str, CommandReport | StepReport] = {}
        self.retry: set[str] = set()  # --retry-failed: completed steps run again (see _steps_to_retry)
        self.retry_failed: set[str] = set()  # ... of them, those with failed mini-batches (the others follow them)
        self._status: RunStatus = RunStatus.NOT_STARTED
        self._cancel = threading.Event()
        self._interrupt = threading.Event()
        self._lock = threading.Lock()
        self._locked_outputs: set[Path] = set()
        self._held: list[PathLock] = []  # the run's lock, and the locks of datastore outputs being written
        self._stopping = StopGuard("ending the workers and writing the run record")  # engaged by the first Ctrl-C, until the record says Interrupted

    @classmethod
    def create(cls, path: Path, options: RunOptions) -> LocalRun:
        """Validate everything, then make the run folder (nothing is written for bad input)."""
        datastores, assets = datastores_for(path, options.home, dict(options.datastores))
        if options.run_id:
            check_run_id(options.run_id)
        if options.resume:
            check_run_id(str(options.resume), "--resume")
            return cls._resume(path, options, datastores, assets)
        # Load and validate once, under the id the run will have; the folder is claimed only after
        # (exclusively), so bad input leaves nothing behind. A taken id is a new id and a new load.
        envs = None
        for _ in range(100):
            run_id = options.run_id or propose_run_id(path)
            run_dir = check_inside(options.home / "runs", options.home / "runs" / run_id, "run folder")
            pipeline = load_pipeline(path, LoadContext(run_dir, run_id, datastores, options.overrides, assets))
            envs = envs or cls._environments(path, pipeline, options)
            try:
                run_dir.mkdir(parents=True)
                break
            except FileExistsError:
                if options.run_id:
                    raise UserError(f"there is already a run '{run_id}' in {run_dir.parent}.", key="--run-id",
                                    fix="choose another --run-id, or finish that run with --resume") from None
        else:
            raise RuntimeError("could not create a unique run folder")
        run = cls(pipeline, run_id, run_dir, options, envs=envs)
        run._held.append(RunLock(run_dir).acquire())
        run.record.overrides = list(options.overrides)
        run.record.options = _recorded_options(options, run.local)
        run.record.save(run_dir)
        return run

    @classmethod
    def _environments(cls, path: Path, pipeline: Pipeline, options: RunOptions) -> environments.RunEnvironments:
        """Each step's environment resolved and, when isolated, built: bad definitions and packages
        that cannot be had fail here, before the run folder exists and before any step runs."""
        config = read_local_config(path)
        mode = environments.mode_of(options.backend_options(LocalOptions).environments, config)
        envs = environments.resolve_all(pipeline.jobs, config, mode)
        reporter = options.reporter or Reporter(quiet=True)
        environments.build_all(envs, pipeline.jobs, options.home, reporter.note)
        return envs

    @classmethod
    def _resume(cls, path: Path, options: RunOptions, datastores: Any, assets: Any) -> LocalRun:
        run_dir = options.home / "runs" / str(options.resume)
        if not (run_dir / "run.json").exists():
            from tenantml.runfolder.record import list_runs
            from tenantml.suggest import did_you_mean

            known = [p.name for p in list_runs(options.home)][-10:]  # the newest
            raise UserError(f"there is no run '{options.resume}' in {options.home / 'runs'}; "
                            + (did_you_mean(str(options.resume), known, "the newest runs there") if known
                               else "there are no runs"),
                            key="--resume", fix="name a run listed by 'tenantml runs'")
        lock = RunLock(run_dir).acquire()  # a second --resume of a live run stops here, naming its pid
        try:
            record = RunRecord.load(run_dir)
            if record.backend != "local":  # an Azure ML run's folder holds its fetched logs: never run into it
                raise UserError(f"run '{options.resume}' ran with --backend {record.backend}; --backend local "
                                "resumes local runs.", key="--resume",
                                fix=f"resume it where it ran: tenantml run {record.pipeline} --resume "
                                    f"{options.resume} --backend {record.backend}")
            if Path(record.pipeline) != path.absolute():
                raise UserError(f"run '{options.resume}' ran {record.pipeline}, not {path.absolute()}.",
                                key="--resume", fix=f"tenantml run {record.pipeline} --resume {options.resume}")
            options = _resume_options(options, record)
            pipeline = load_pipeline(path, LoadContext(run_dir, record.run_id, datastores, options.overrides, assets))
            envs = cls._environments(path, pipeline, options)
            record.overrides = list(options.overrides)
            run = cls(pipeline, record.run_id, run_dir, options, record=record, envs=envs)
            if options.retry_failed:
                run.retry = run._steps_to_retry()  # before anything runs: it may refuse
        except BaseException:
            lock.release()
            raise
        run._held.append(lock)
        return run

    # ------------------------------------------------------------------ RunHandle
    def status(self) -> RunStatus:
        return self._status

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self) -> RunStatus:
        if self._status != RunStatus.NOT_STARTED:
            return self._status
        self._status = self.record.status = RunStatus.RUNNING
        self.record.ended = None
        reaper.start()  # before the first process: whatever the run starts ends if this process dies
        self.record.save(self.run_dir)
        for note in self.pipeline.notes:
            self.reporter.note(note)
        for warning in self.pipeline.warnings:
            self.reporter.note("warning: " + warning)
        if self.envs.mode == "current" and (self.envs.definitions or self.envs.warnings):
            self.reporter.note("'environment' is used on Azure ML only with --environments current (the default): "
                               "every step runs in this Python environment; --environments isolated builds each "
                               "step's own")
        for warning in self.envs.warnings:
            self.reporter.note("warning: " + warning)
        failing = True
        try:
            self._execute()
            failed = [s for s in self.record.steps.values() if s["status"] not in DONE]
            self._status = RunStatus.FAILED if failed or self._cancel.is_set() else RunStatus.COMPLETED
            failing = False
        except (RunInterrupted, KeyboardInterrupt):
            self._stopping.engage()  # a further Ctrl-C must not cut the record's save short
            self._status = RunStatus.INTERRUPTED
            raise
        except UserError as exc:
            self._status, self.record.reason = RunStatus.FAILED, exc.message
            raise
        except OSError as exc:
            self._status = RunStatus.FAILED
            error = user_os_error(exc, self.run_dir, self._resume_command())
            if error is None:
                raise
            self.record.reason = error.message
            raise error from None
        except BaseException:
            self._status = RunStatus.FAILED
            raise
        finally:
            self.record.status = self._status
            self.record.ended = time.time()
            try:
                self.record.save(self.run_dir)
            except OSError as exc:
                if not is_storage_error(exc):
                    raise
                if not failing:
                    raise StorageError.from_os(exc, resume=self._resume_command()) from None
                # already failing for lack of space: the record was rewritten in place where it fit
            finally:
                for held in reversed(self._held):
                    held.release()
                self._held.clear()
                self._stopping.release()
        return self._status

    def interrupted(self) -> str:
        """Every step already ended its processes before ``wait`` raised; the record says Interrupted."""
        self._cancel.set()
        self._status = self.record.status = RunStatus.INTERRUPTED
        with self._stopping.held():
            self.record.save(self.run_dir)  # again: whatever cut wait() short may have cut its save
        return (f"run {self.run_id} was interrupted; finish it with: tenantml run {self.pipeline.source} "
                f"--resume {self.run_id}")

    def steps(self) -> list[StepStatus]:
        steps = []
        for name, info in self.record.steps.items():
            report = self.reports.get(name)
            summary = tuple(report.summary_lines()) if report is not None else ()
            steps.append(StepStatus(name, info.get("type", ""), RunStatus(info["status"]), info.get("reason", ""),
                                    report, summary))
        return steps

    def outputs(self) -> dict[str, dict[str, Path]]:
        return {name: {o: out.path for o, out in job.outputs.items()} for name, job in self.pipeline.jobs.items()}

    def ledger(self) -> pd.DataFrame:
        """Every parallel step's attempts; a reused step's come from the run that produced them."""
        import pandas as pd

        frames = []
        for name, job in self.pipeline.jobs.items():
            if not isinstance(job, ParallelJob):
                continue
            source = self.record.steps.get(name, {}).get("reused_from")
            run_dir = self.options.home / "runs" / source if source else self.run_dir
            frames.append(read_ledgers(run_dir, [name]))
        return pd.concat(frames, ignore_index=True) if frames else read_ledgers(self.run_dir, [])

    # ------------------------------------------------------------------ the DAG
    def _execute(self) -> None:
        jobs = self.pipeline.jobs
        retry = self.retry
        for name, job in jobs.items():
            previous = self.record.steps.get(name, {})
            if name in retry:
                self._set(name, job, RunStatus.NOT_STARTED)
                self.reporter.event(name, "run again: --retry-failed (failed mini-batches, or an upstream step's)")
            elif self.resuming and previous.get("status") in DONE:
                self._set(name, job, previous["status"], previous.get("reason", ""), kept=True)
                self.reporter.event(name, f"kept from the earlier session ({previous['status']})")
            else:
                self._set(name, job, RunStatus.NOT_STARTED)
        pending = [n for n in jobs if self.record.steps[n]["status"] not in DONE]
        cap = self.local.cap
        cache = ReuseCache(self.options.home)
        env = self._step_env()
        running: dict[Future[None], str] = {}
        try:
            self._schedule(jobs, pending, running, cap, cache, env)
        finally:
            for info in self.record.steps.values():
                if info.get("fingerprint") and info.get("status") in DONE:
                    try:
                        cache.seal(info["fingerprint"])
                    except OSError:
                        pass

    def _steps_to_retry(self) -> set[str]:
        """Completed parallel steps of this run with failed mini-batches, and every step after them
        (their inputs change). Read through the run-folder readers, as ``show`` reads them."""
        from tenantml.runfolder.ledgerfold import Verdict
        from tenantml.runfolder.runinfo import read_run
        from tenantml.runfolder.stepview import read_step

        info = read_run(self.run_dir)
        jobs = self.pipeline.jobs
        retry = set()
        for name, job in jobs.items():
            step = self.record.steps.get(name, {})
            if isinstance(job, ParallelJob) and step.get("status") == RunStatus.COMPLETED \
                    and not step.get("reused_from"):
                view = read_step(info, name)
                if any(mb.state is Verdict.FAILED for mb in view.mini_batches):
                    if job.append_row_to is not None and not (self.run_dir / name / "state" / "rows").is_dir():
                        raise UserError(f"step '{name}' of run {self.run_id} kept no copy of its rows (an older "
                                        "tenantml discarded them), so retrying it would lose the rows of the "
                                        "tenants that succeeded.", key="--retry-failed",
                                        fix="start a new run of the pipeline")
                    retry.add(name)
        if not retry:
            self.reporter.note(f"--retry-failed: run {self.run_id} has no failed mini-batch in a completed step")
        self.retry_failed = set(retry)
        changed = True
        while changed:  # downstream of a retried step: its inputs are rewritten
            changed = False
            for name, job in jobs.items():
                if name not in retry and any(d in retry for d in job.depends_on):
                    retry.add(name)
                    changed = True
        return retry

    def _schedule(self, jobs: dict[str, Job], pending: list[str], running: dict[Future[None], str], cap: int,
                  cache: ReuseCache, env: dict[str, str]) -> None:
        with ThreadPoolExecutor(max_workers=cap, thread_name_prefix="step") as pool:
            try:
                while pending or running:
                    for name in list(pending):
                        deps = [self.record.steps[d]["status"] for d in jobs[name].depends_on]
                        if any(d not in DONE and d not in (RunStatus.NOT_STARTED, RunStatus.RUNNING) for d in deps) or (
                                self._cancel.is_set()):
                            pending.remove(name)
                            self._set(name, jobs[name], RunStatus.SKIPPED, self._skip_reason(jobs[name]))
                        elif all(d in DONE for d in deps) and len(running) < cap:
                            pending.remove(name)
                            self._set(name, jobs[name], RunStatus.RUNNING)
                            running[pool.submit(self._run_step, jobs[name], cache, env)] = name
                    if not running:
                        continue
                    finished, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in finished:
                        name = running.pop(future)
                        future.result()  # a bug in tenantml surfaces here; step failures are statuses
                        if self.record.steps[name]["status"] == RunStatus.FAILED and \
                                not self.pipeline.continue_on_step_failure:
                            self._cancel.set()
            except KeyboardInterrupt:
                self._stopping.engage()  # further Ctrl-Cs wait for the workers to end and the record
                self._interrupt.set()
                for future in running:
                    while True:
                        try:
                            future.result()
                        except RunInterrupted:
                            pass
                        except KeyboardInterrupt:
                            continue  # a second Ctrl-C: the steps are already ending their processes
                        break
                for name, info in self.record.steps.items():
                    if info["status"] in (RunStatus.RUNNING, RunStatus.NOT_STARTED):
                        self._set(name, jobs[name], RunStatus.INTERRUPTED, "interrupted")
                raise RunInterrupted(f"run {self.run_id} was interrupted; finish it with: tenantml run "
                                     f"{self.pipeline.source} --resume {self.run_id}") from None

    def _skip_reason(self, job: Job) -> str:
        failed_deps = [d for d in job.depends_on if self.record.steps[d]["status"] not in DONE]
        if failed_deps:
            return "it needs the outputs of " + ", ".join(f"'{d}'" for d in failed_deps) + ", which did not complete"
        failed = [n for n, info in self.record.steps.items() if info["status"] == RunStatus.FAILED]
        if failed:
            return (f"'{failed[0]}' failed and settings.continue_on_step_failure is not set, so the rest of the "
                    "run was cancelled")
        return "the run was cancelled"

    def _run_step(self, job: Job, cache: ReuseCache, env: dict[str, str]) -> None:
        name = job.name
        started = time.time()
        job_dir = check_inside(self.run_dir, self.run_dir / name, f"the folder of job '{name}'")
        # a step run again by --retry-failed has new inputs an earlier run's outputs do not reflect
        forced = self.options.force or self.pipeline.force_rerun or name in self.retry
        upstream = {n: info["fingerprint"] for n, info in self.record.steps.items()
                    if info.get("fingerprint") and info.get("status") in DONE}
        try:
            signature: str | None = cache.fingerprint(job, upstream, self.envs.key(name),  # definition, code,
                                                      should_stop=self._interrupt.is_set)
            # inputs and environment definition as they are now
        except OSError:
            signature = None
        try:
            self._lock_outputs(job)
        except UserError:
            self._set(name, job, RunStatus.FAILED, "its output is being written by another run", started=started)
            self._cancel.set()
            raise
        if name in self.retry:  # --retry-failed: its earlier commit no longer says what it will hold
            (job_dir / commit.STATE / commit.COMMITTED).unlink(missing_ok=True)
        elif self.resuming and self._committed_earlier(job, job_dir, signature, cache, started):
            return
        written, target = self._written(job)
        if written is not None and target is not None and written.foreign(target):
            self._set(name, job, RunStatus.FAILED, f"its append_row_to output {target} holds a file no tenantml "
                      "run wrote", started=started)
            self._cancel.set()
            raise UserError(f"step '{name}': its append_row_to output holds a file no tenantml run wrote there (or "
                            "one changed since a run wrote it; runs kept under another TENANTML_HOME are not known "
                            "here); Azure ML would overwrite it, tenantml never overwrites what it did not write.",
                            file=target,
                            fix="move that file aside (or delete it), or point the output at another path, then run "
                                "again")
        # a step with failed mini-batches resumes (keeping what succeeded); a step after one runs whole
        partial = self._resumable(job, job_dir, signature) and (name not in self.retry or name in self.retry_failed)
        fingerprint = signature if job.is_deterministic else None
        if job.is_deterministic and not partial:
            hit = cache.lookup(fingerprint) if fingerprint and not forced else None
            if hit is not None and hit.run_id != self.run_id:
                foreign = _foreign_targets(hit.outputs, {o: out.path for o, out in job.outputs.items()})
                if foreign:
                    self.reporter.event(name, f"not reused from run {hit.run_id}: {foreign} holds data this run did "
                                        "not write (it is left alone); the step runs instead")
                else:
                    _link_outputs(hit.outputs, {o: out.path for o, out in job.outputs.items()})
                    if written is not None and target is not None and target.is_file():
                        written.stamp(target, target)  # a link of the earlier run's file: this run put it there
                    self._set(name, job, RunStatus.REUSED, f"unchanged since run {hit.run_id}",
                              reused_from=hit.run_id, started=started, fingerprint=fingerprint)
                    self.reporter.event(name, f"reused: unchanged since run {hit.run_id}")
                    return
        if not partial:
            _clear_run_outputs(job, self.run_dir)
            commit.discard_step_state(job_dir)
            commit.write_inputs(job_dir, signature)
        env, python = self.envs.step_env(job, env)
        self._note_environment(job, job_dir)
        # tenantml's folders and the code folder (a separate snapshot on Azure ML) are not part of an input
        own = (self.options.home, self.run_dir) + ((job.code,) if getattr(job, "has_code", True) else ())
        watched = input_watch.take(job, never=own, note=lambda text: self.reporter.event(job.name, text))
        try:
            if isinstance(job, CommandJob):
                report: Any = CommandStep(job, job_dir, self.reporter, env, self._cancel.is_set, self._interrupt.is_set,
                                          never_copy=(self.options.home, self.run_dir)).run()
                status, reason = report.status, report.reason
            else:
                local = dataclasses.replace(self.local, env={**self.local.env, **env}, python=python)
                report = ParallelStep(job, job_dir, local, self.reporter, cancelled=self._cancel.is_set,
                                      interrupted=self._interrupt.is_set, resume=partial, signature=signature,
                                      transport=local.transport() if local.transport else None,
                                      written=written).run()
                status, reason = report.status.value, report.reason
        except RunInterrupted:
            self._set(name, job, RunStatus.INTERRUPTED, "interrupted", started=started)
            raise
        except UserError:
            self._set(name, job, RunStatus.FAILED, "bad input", started=started)
            self._cancel.set()
            raise
        except OSError as exc:
            error = user_os_error(exc, self.run_dir, self._resume_command())
            if error is None:
                raise
            self._cancel.set()
            try:
                self._set(name, job, RunStatus.FAILED, error.message, started=started)
            except OSError:
                self.record.steps[name].update(status=RunStatus.FAILED, reason=error.message)  # saved in place at the end
            raise error from None
        for w, said in input_watch.changes(watched, never=own):  # writes the guard could not stop
            text = input_watch.message(w, said)
            self.reporter.event(name, text)
            if w.mode in input_watch.READ_ONLY and status == RunStatus.COMPLETED:
                status, reason = RunStatus.FAILED, text
                (job_dir / commit.STATE / commit.COMMITTED).unlink(missing_ok=True)  # not a step to keep on resume
        self.reports[name] = report
        if status == RunStatus.COMPLETED and job.is_deterministic:
            try:
                fingerprint = fingerprint or signature or cache.fingerprint(job, upstream, self.envs.key(name))
                cache.record(fingerprint, self.run_id, name, {o: out.path for o, out in job.outputs.items()})
            except OSError:
                fingerprint = None
        self._set(name, job, status, reason, started=started, fingerprint=fingerprint if status == RunStatus.COMPLETED else None)

    def _written(self, job: Job) -> tuple[WrittenFiles | None, Path | None]:
        """For a parallel step whose append_row_to file lies outside the run folder (a datastore):
        the record of what tenantml wrote there, and that file."""
        target = launch.append_target(job) if isinstance(job, ParallelJob) else None
        if target is None or self.run_dir in target.parents:
            return None, None
        return WrittenFiles(self.options.home, self.run_id), target

    def _resume_command(self) -> str:
        return f"tenantml run {self.pipeline.source} --resume {self.run_id}"

    def _lock_outputs(self, job: Job) -> None:
        """One writer per datastore output: held until the run ends (and its outputs are sealed)."""
        for out in job.outputs.values():
            if self.run_dir not in out.path.parents and out.path not in self._locked_outputs:
                self._held.append(output_lock(self.options.home, out.path).acquire())
                self._locked_outputs.add(out.path)

    def _committed_earlier(self, job: Job, job_dir: Path, signature: str | None, cache: ReuseCache,
                           started: float) -> bool:
        """An earlier session committed this step (and was killed before the run record said so)."""
        done = commit.read_committed(job_dir)
        if done is None or signature is None or done.get("signature") != signature:
            return False
        if not all(out.path.exists() for out in job.outputs.values()):
            return False
        fingerprint = signature if job.is_deterministic else None
        if fingerprint is not None:
            try:
                cache.record(fingerprint, self.run_id, job.name, {o: out.path for o, out in job.outputs.items()})
            except OSError:
                fingerprint = None
        self._set(job.name, job, RunStatus.COMPLETED, done.get("reason", ""), started=started, fingerprint=fingerprint)
        self.reporter.event(job.name, "completed in the earlier session (committed before it ended)")
        return True

    def _resumable(self, job: Job, job_dir: Path, signature: str | None) -> bool:
        """Keep an earlier session's mini-batches only when the step's inputs are what they were then."""
        if not (self.resuming and isinstance(job, ParallelJob) and (job_dir / "state" / "mini_batches.jsonl").exists()):
            return False
        earlier = commit.read_inputs(job_dir)
        if signature is not None and earlier == signature:
            return True
        self.reporter.event(job.name, "its definition, code or inputs changed since the earlier session: it runs "
                            "again from the start")
        return False

    def _note_environment(self, job: Job, job_dir: Path) -> None:
        """The run record says which environment the step ran in; ``logs/environment.txt`` its packages."""
        with self._lock:
            self.record.steps.setdefault(job.name, {})["environment"] = self.envs.record(job.name)
        text = self.envs.describe(job.name)
        if text:
            (job_dir / "logs").mkdir(parents=True, exist_ok=True)
            (job_dir / "logs" / "environment.txt").write_text(text, encoding="utf-8")

    def _step_env(self) -> dict[str, str]:
        """The current Python environment first on PATH (``python`` in a command means this one, as
        the job's environment does on Azure ML), and MLflow tracking in the run folder when MLflow
        is installed, as Azure ML configures MLflow for its jobs."""
        env = {"PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
        if "MLFLOW_TRACKING_URI" not in os.environ and importlib.util.find_spec("mlflow") is not None:
            store = self.run_dir / "mlruns"
            _mlflow_store(store)
            env["MLFLOW_TRACKING_URI"] = store.as_uri()
            env.setdefault("MLFLOW_ALLOW_FILE_STORE", os.environ.get("MLFLOW_ALLOW_FILE_STORE", "true"))  # MLflow 3
        return env

    def _set(self, name: str, job: Job, status: str, reason: str = "", *, reused_from: str | None = None,
             started: float | None = None, kept: bool = False, fingerprint: str | None = None) -> None:
        with self._lock:
            info = self.record.steps.setdefault(name, {})
            if kept:
                return self.record.save(self.run_dir)
            info.update(type=job.type, status=status, reason=reason, depends_on=list(job.depends_on),
                        outputs={o: str(out.path) for o, out in job.outputs.items()})
            if status not in (RunStatus.NOT_STARTED,):
                info["fingerprint"] = fingerprint
            if reused_from is not None:
                info["reused_from"] = reused_from
            elif status == RunStatus.RUNNING:
                info["reused_from"] = None
            if started is not None:
                info["started"] = started
            if status not in (RunStatus.NOT_STARTED, RunStatus.RUNNING):
                info["ended"] = time.time()
            self.record.save(self.run_dir)


def _foreign_targets(earlier: dict[str, str], current: dict[str, Path]) -> str | None:
    """A target of a reuse that already holds something (never deleted to make room): its path."""
    for name, target in current.items():
        source = Path(earlier.get(name, ""))
        if not source.exists() or source == target:
            continue
        if target.is_symlink() or target.is_file() or (target.is_dir() and any(target.iterdir())):
            return str(target)
    return None


def _recorded_options(options: RunOptions, local: LocalOptions) -> dict[str, Any]:
    return {"force": options.force, "max_workers": local.max_workers,
            "worker_memory_limit": local.worker_memory_limit}


def _resume_options(options: RunOptions, record: RunRecord) -> RunOptions:
    """A resume finishes the run as it was started: its own ``--set`` values (a different set is
    refused unless ``allow_changes``: one output must not mix two configurations) and, where the
    resume does not say otherwise, its own worker options."""
    from tenantml.overrides import parse_override

    given, recorded = list(options.overrides), list(record.overrides)
    overrides = recorded
    if given and given != recorded:
        before = {o.key: o.raw for o in map(parse_override, recorded)}
        after = {o.key: o.raw for o in map(parse_override, given)}
        changes = [f"{k}: {before.get(k, '(not set)')} -> {after.get(k, '(not set)')}"
                   for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
        if changes and not options.allow_changes:
            raise UserError(f"run '{record.run_id}' ran with other --set values; resuming it with these would mix "
                            f"two configurations in one output. Changed: {'; '.join(changes)}.", key="--set",
                            fix="drop --set to resume with the run's own values, start a new run, or add "
                                "--allow-changes to resume with the new ones")
        overrides = given
    local = options.backend if isinstance(options.backend, LocalOptions) else LocalOptions()
    saved = record.options or {}
    if local.max_workers is None and isinstance(saved.get("max_workers"), int):
        local = dataclasses.replace(local, max_workers=saved["max_workers"])
    if local.worker_memory_limit is None and isinstance(saved.get("worker_memory_limit"), int):
        local = dataclasses.replace(local, worker_memory_limit=saved["worker_memory_limit"])
    return dataclasses.replace(options, overrides=tuple(overrides), backend=local,
                               force=options.force or bool(saved.get("force")))


def _link_outputs(earlier: dict[str, str], current: dict[str, Path]) -> None:
    """Make a reused step's outputs appear where this run expects them (hard links, else copies).
    Targets are empty or absent (:func:`_foreign_targets`): nothing is deleted here."""
    for name, target in current.items():
        source = Path(earlier.get(name, ""))
        if not source.exists() or source == target:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, copy_function=_link_or_copy, dirs_exist_ok=True)
        else:
            _link_or_copy(str(source), str(target))


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _clear_run_outputs(job: Job, run_dir: Path) -> None:
    """A step run again starts from empty outputs, but only those inside the run folder."""
    for out in job.outputs.values():
        if run_dir in out.path.parents and (out.path.exists() or out.path.is_symlink()):
            if out.path.is_dir() and not out.path.is_symlink():
                shutil.rmtree(out.path)
            else:
                out.path.unlink()  # a file, or a link (never what it points to)


def _mlflow_store(store: Path) -> None:
    """The run's MLflow file store with MLflow's Default experiment (id 0), as MLflow creates it
    (``FileStore._create_default_experiment``: ``<store>/0/meta.yaml``, ``<store>/.trash``), built aside
    and renamed in place. MLflow creates that experiment only when it creates the folder itself: an
    empty folder failed every ``mlflow.log_param`` with "Could not find experiment with ID 0"
    (cli/jobs/basics/hello-mlflow.yml of Azure/azureml-examples), and letting each process create it
    would race between the workers of a parallel step. A store that exists (a resumed run) is kept."""
    if store.exists():
        return
    aside = store.with_name(f".{store.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    (aside / "0").mkdir(parents=True)
    (aside / ".trash").mkdir()
    now = int(time.time() * 1000)
    (aside / "0" / "meta.yaml").write_text(
        f"artifact_location: {(store / '0').as_uri()}\ncreation_time: {now}\nexperiment_id: '0'\n"
        f"last_update_time: {now}\nlifecycle_stage: active\nname: Default\n", encoding="utf-8")
    try:
        aside.rename(store)
    except OSError:  # another step made it first: ours, built aside, goes
        shutil.rmtree(aside, ignore_errors=True)
