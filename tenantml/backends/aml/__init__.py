"""The aml backend: submits the very same pipeline YAML to Azure ML through ``azure-ai-ml``.

Importing this package imports no Azure module; ``azure.ai.ml`` is loaded by the first call that
needs it (``plan``, ``submit``, ``fetch``), so ``--backend local`` never pays for it.

    plan(path)   -> tenantml validation, load_job + --set, SDK validation, per-step report (no network)
    submit(path) -> plan, then: workspace -> credential -> pre-flight look-ups (computes, datastores)
                    -> jobs.create_or_update -> run folder with run.json + aml.json -> AmlRun handle
"""

from __future__ import annotations

import argparse
import re
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenantml.backends.aml.options import AmlOptions
from tenantml.backends.base import Backend, RunOptions
from tenantml.errors import UserError
from tenantml.runfolder.lock import RunLock
from tenantml.status import RunStatus

if TYPE_CHECKING:
    from tenantml.backends.aml.job import Prepared
    from tenantml.backends.aml.run import AmlRun
    from tenantml.backends.aml.workspace import Workspace

# A datastore named in a URI; ``${{default_datastore}}`` (azureml-examples' iris and mnist parallel
# pipelines write outputs to azureml://datastores/${{default_datastore}}/paths/...) is a binding the
# service fills with settings.default_datastore or the workspace's default, never a datastore name.
DATASTORE_URI = re.compile(r"^azureml://datastores/([^/$]+)/")


class AmlBackend(Backend):
    name = "aml"
    options_type = AmlOptions
    supports_resume = True  # --resume RUN: a fetched run's unsucceeded mini-batches are submitted again
    supports_plan = True  # --dry-run: both validators and the per-step report, no network
    supports_fetch = True  # tenantml fetch JOB: logs and outputs into a run folder
    supports_log_download = True  # a failed run's logs are read after tenantml fetch
    supports_job_object = True  # tenantml.run(job): the azure-ai-ml object itself is submitted

    @classmethod
    def add_arguments(cls, group: argparse._ArgumentGroup) -> None:
        from tenantml.backends.aml import cli

        cli.add_arguments(group)

    @classmethod
    def add_fetch_arguments(cls, parser: argparse.ArgumentParser) -> None:
        from tenantml.backends.aml import cli

        cli.add_workspace_arguments(parser)
        cli.add_fetch_only_arguments(parser)

    @classmethod
    def options_from_args(cls, args: argparse.Namespace) -> AmlOptions:
        from tenantml.backends.aml import cli

        return cli.options_from_args(args)

    # ------------------------------------------------------------------ no network
    def plan(self, pipeline: Path, options: RunOptions) -> Prepared:
        """Validate with both validators and describe each parallel step, without any network call."""
        with resume_lock(options):
            return self._plan(pipeline, options)

    def _plan(self, pipeline: Path, options: RunOptions) -> Prepared:
        from tenantml.backends.aml.job import prepare

        aml = options.backend_options(AmlOptions)
        prepared = prepare(Path(pipeline), options.overrides + aml.overrides, aml.experiment, options.datastores)
        if options.force:
            # --force: Azure ML's own switch for "reuse no step" (PipelineJobSettings.force_rerun,
            # sent as settings.force_rerun; reference-yaml-job-pipeline: "Whether to force rerun
            # the whole pipeline")
            prepared.job.settings.force_rerun = True
            prepared.notes.append("--force: settings.force_rerun is true (Azure ML reuses no step)")
        resume = resumed_dir(options)
        if resume is not None:
            from tenantml.backends.aml.resume import restrict

            restrict(prepared, resume, staging=options.home / "staging")
        return prepared

    # ------------------------------------------------------------------ network
    def submit(self, pipeline: Path, options: RunOptions) -> AmlRun:
        # --resume RUN: RUN's folder is read and its staging written until the new job is uploaded,
        # so a fetch (or a second resume) of RUN at the same time is refused, naming this process
        with resume_lock(options):
            # the workspace first: it needs no SDK, so "no workspace" is said before azure.ai.ml is imported
            workspace = self.workspace(options)
            prepared = self._plan(pipeline, options)
            reporter = options.reporter
            if reporter is not None:
                for warning in prepared.warnings:
                    reporter.note("warning: " + warning)
                for line in prepared.divergences:
                    reporter.note("warning: differs from --backend local: " + line)
                for line in prepared.notes + [f"not checked on this machine: {w}" for w in prepared.waived]:
                    reporter.note(line)
                for line in prepared.resume_notes:
                    reporter.note(line)
            return self.submit_prepared(prepared, options, workspace)

    @staticmethod
    def workspace(options: RunOptions) -> Workspace:
        from tenantml.backends.aml.workspace import resolve_workspace

        aml = options.backend_options(AmlOptions)
        return resolve_workspace(aml.subscription, aml.resource_group, aml.workspace,
                                 search_from=aml.config_search_from)

    def submit_job_object(self, job: Any, pipeline: Path, options: RunOptions) -> AmlRun:
        """An azure-ai-ml job object, submitted as it is (``jobs.create_or_update(job)``): the SDK
        resolves and uploads its local paths from the job's own base path. ``pipeline`` is tenantml's
        repaired dump of it (tenantml.sdk.dump), validated here by tenantml's own checks only."""
        from tenantml.backends.aml.job import Prepared, tenantml_validate

        aml = options.backend_options(AmlOptions)
        if options.overrides or aml.overrides:
            raise UserError("--set changes a YAML pipeline; an azure-ai-ml job is submitted as the object it is.",
                            key="--set", fix="set the value on the job in Python (job.inputs.x = ...)")
        warnings, waived = tenantml_validate(pipeline, ())
        experiment = str(aml.experiment or getattr(job, "experiment_name", None) or pipeline.stem)
        prepared = Prepared(source=pipeline, job=job, experiment=experiment, warnings=warnings, waived=waived)
        prepared.divergences = object_divergences(job, pipeline, options)
        if options.reporter is not None:
            for warning in warnings:
                options.reporter.note("warning: " + warning)
            for line in prepared.divergences:
                options.reporter.note("warning: differs from --backend local: " + line)
        return self.submit_prepared(prepared, options)

    def fetch(self, run_name: str, options: RunOptions) -> Path:
        from tenantml.backends.aml.fetch import fetch
        from tenantml.progress import Reporter

        return fetch(run_name, options.backend_options(AmlOptions), options.home,
                     options.reporter or Reporter(quiet=True))

    def submit_prepared(self, prepared: Prepared, options: RunOptions, workspace: Workspace | None = None) -> AmlRun:
        from tenantml.backends.aml import sdk
        from tenantml.backends.aml.run import AmlRecord, AmlRun
        from tenantml.progress import Reporter
        from tenantml.runs import RunRecord, new_run_dir

        aml = options.backend_options(AmlOptions)
        reporter = options.reporter or Reporter(quiet=True)
        workspace = workspace or self.workspace(options)
        client = sdk.make_client(workspace, aml)
        sdk.check_workspace(client, workspace)
        preflight(client, prepared, workspace)
        claimed: Path | None = None
        if options.run_id:
            prepared.job.name = options.run_id
            claimed = _claim(options.home, prepared.source, options.run_id)  # before the job exists in Azure ML
        started = time.time()
        reporter.note(f"submitting {prepared.source.name} to Azure ML workspace {workspace.name} "
                      f"(experiment {prepared.experiment}); uploading local code and data...")
        try:
            with sdk.quiet_sdk(), sdk.translating(workspace, what=f"submitting {prepared.source.name}"):
                created = client.jobs.create_or_update(prepared.job, experiment_name=prepared.experiment)
        except BaseException:
            if claimed is not None:
                claimed.rmdir()  # ours, made empty just above
            raise
        name = str(created.name)
        record = AmlRecord(job_name=name, studio_url=str(getattr(created, "studio_url", "") or ""),
                           experiment=prepared.experiment, subscription=workspace.subscription,
                           resource_group=workspace.resource_group, workspace=workspace.name,
                           resumed_from=str(prepared.resumed_from) if prepared.resumed_from else None,
                           restricted=prepared.restricted)
        if claimed is not None and claimed.name == name:
            run_dir = claimed
        else:
            _, run_dir = new_run_dir(options.home, prepared.source, name)
        lock = RunLock(run_dir).acquire()  # held while this process writes run.json (waiting), as a local run's
        try:
            steps = [s.name for s in prepared.steps] or list(getattr(prepared.job, "jobs", {}) or {})
            run_record = RunRecord(name, str(prepared.source), "aml", status=RunStatus.RUNNING, started=started,
                                   steps={s: {"type": "parallel", "status": RunStatus.NOT_STARTED} for s in steps})
            run_record.save(run_dir)
            record.save(run_dir)
        except BaseException:
            lock.release()
            raise
        handle = AmlRun(client, record, run_dir, steps, reporter, poll_interval=aml.poll_interval,
                        wait=aml.wait, cancel_on_interrupt=aml.cancel_on_interrupt, outage_budget=aml.outage_budget,
                        lock=lock)
        handle.source = prepared.source
        if handle.detached:
            handle.release()  # --no-wait: this process writes nothing more; tenantml fetch writes the rest
        return handle


def object_divergences(job: Any, pipeline: Path, options: RunOptions) -> list[str]:
    """What --backend local would read differently for an azure-ai-ml job object: the mappings of the
    ``tenantml.yml`` staged beside its dump (tenantml.sdk.submit), judged on the object's REST body."""
    from tenantml.backends.aml.job import rest_body
    from tenantml.backends.aml.mappings import divergences

    try:
        body = rest_body(job)
    except Exception:  # noqa: BLE001 - the SDK judges the object at submission; the report is extra
        return []
    return divergences(pipeline, body, options.datastores)


def _claim(home: Path, source: Path, run_id: str) -> Path:
    """The run folder of ``--run-id``, made (empty) before submitting: a name already taken by a
    local run stops here, not after Azure ML has started the job."""
    from tenantml.runs import new_run_dir

    try:
        return new_run_dir(home, source, run_id)[1]
    except FileExistsError:
        raise UserError(f"there is already a run '{run_id}' in {home / 'runs'}.", key="--run-id",
                        fix="choose another --run-id (the Azure ML job name)") from None


def resumed_dir(options: RunOptions) -> Path | None:
    """The fetched run folder ``--resume`` reads (its id checked to be a plain name), or None."""
    aml = options.backend_options(AmlOptions)
    if aml.resume:
        return Path(aml.resume)
    if not options.resume:
        return None
    from tenantml.runfolder.names import check_run_id

    check_run_id(str(options.resume), "--resume")
    return options.home / "runs" / str(options.resume)


def resume_lock(options: RunOptions) -> AbstractContextManager[object]:
    """The run lock of the folder ``--resume`` reads (a run folder that exists; restrict() says
    what to do when there is none, and no empty folder is made for the lock)."""
    folder = resumed_dir(options)
    if folder is None or not (folder / "run.json").exists():
        return nullcontext()
    return RunLock(folder)


def preflight(client: Any, prepared: Prepared, workspace: Any) -> None:
    """Look up every compute and datastore the job names, so a typo fails with its name, fast."""
    from tenantml.backends.aml.job import rest_body

    body = rest_body(prepared.job).get("properties", {})
    computes: dict[str, str] = {}
    settings = body.get("settings") or {}
    if settings.get("default_compute"):
        computes.setdefault(_short(settings["default_compute"]), "settings.default_compute")
    datastores: dict[str, str] = {}
    if settings.get("default_datastore"):
        datastores.setdefault(_short(settings["default_datastore"], "/datastores/"), "settings.default_datastore")
    for name, node in (body.get("jobs") or {}).items():
        if node.get("computeId"):
            computes.setdefault(_short(node["computeId"]), f"jobs.{name}.compute")
        for kind in ("inputs", "outputs"):
            for key, value in (node.get(kind) or {}).items():
                match = DATASTORE_URI.match(str((value or {}).get("uri") or ""))
                if match:
                    datastores.setdefault(match.group(1), f"jobs.{name}.{kind}.{key}.path")
    for kind in ("inputs", "outputs"):
        for key, value in (body.get(kind) or {}).items():
            match = DATASTORE_URI.match(str((value or {}).get("uri") or ""))
            if match:
                datastores.setdefault(match.group(1), f"{kind}.{key}.path")
    for compute, key in computes.items():
        _must_exist(workspace, prepared, "compute", compute, key, client.compute,
                    "correct the compute name, or create the cluster in Azure ML studio")
    for datastore, key in datastores.items():
        _must_exist(workspace, prepared, "datastore", datastore, key, client.datastores,
                    "correct the datastore name in the azureml://datastores/<name>/paths/... URI")


def _must_exist(workspace: Any, prepared: Any, kind: str, name: str, key: str, operations: Any, fix: str) -> None:
    """One preflight look-up (``operations.get(name)``); a 404 names what the workspace has instead."""
    from tenantml.backends.aml import sdk

    try:
        with sdk.quiet_sdk(), sdk.translating(workspace, what=f"looking up {kind} '{name}'"):
            operations.get(name)
    except UserError as exc:
        if not isinstance(exc, sdk.NotFound):
            raise
        known = _names(lambda: operations.list())
        raise UserError(f"{kind} '{name}' does not exist in workspace {workspace.name}"
                        + (f"; it has: {', '.join(known)}" if known else "") + ".", file=prepared.source, key=key,
                        fix=fix) from None


def _short(value: str, marker: str = "/computes/") -> str:
    return str(value).rsplit(marker, 1)[-1].removeprefix("azureml:")


def _names(listing: Any) -> list[str]:
    from tenantml.backends.aml import sdk

    try:
        with sdk.quiet_sdk():
            return sorted(str(item.name) for item in listing())[:20]
    except Exception:  # noqa: BLE001 - the listing only decorates the error message
        return []


__all__ = ["AmlBackend", "AmlOptions"]
