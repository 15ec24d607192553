"""The aml backend: submits the very same pipeline YAML to Azure ML through ``azure-ai-ml``.

Importing this package imports no Azure module; ``azure.ai.ml`` is loaded by the first call that
needs it (``plan``, ``submit``, ``fetch``), so ``--backend local`` never pays for it.

    plan(path)   -> tenantml validation, load_job + --set, SDK validation, per-step report (no network)
    submit(path) -> plan, then: workspace -> credential -> pre-flight look-ups (computes, datastores)
                    -> jobs.create_or_update -> run folder with run.json + aml.json -> AmlRun handle
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenantml.backends.base import Backend, RunHandle, RunOptions
from tenantml.errors import UserError

from tenantml.backends.aml.options import AmlOptions

if TYPE_CHECKING:
    from tenantml.backends.aml.job import Prepared
    from tenantml.backends.aml.run import AmlRun

DATASTORE_URI = re.compile(r"^azureml://datastores/([^/]+)/")


class AmlBackend(Backend):
    name = "aml"
    supports_resume = True
    supports_log_download = True

    # ------------------------------------------------------------------ no network
    def plan(self, pipeline: Path, options: RunOptions) -> "Prepared":
        """Validate with both validators and describe each parallel step, without any network call."""
        from tenantml.backends.aml.job import prepare

        aml = _aml_options(options)
        prepared = prepare(Path(pipeline), aml.overrides, aml.experiment)
        if aml.resume is not None:
            from tenantml.backends.aml.resume import restrict

            restrict(prepared, aml.resume, staging=options.home / "staging")
        return prepared

    # ------------------------------------------------------------------ network
    def submit(self, pipeline: Path, options: RunOptions) -> RunHandle:
        aml = _aml_options(options)
        if aml.dry_run:
            raise UserError("submit() was called with dry_run; call plan() for a dry run.", key="--dry-run")
        prepared = self.plan(pipeline, options)
        return self.submit_prepared(prepared, options)

    def submit_prepared(self, prepared: "Prepared", options: RunOptions) -> "AmlRun":
        from tenantml.backends.aml import sdk
        from tenantml.backends.aml.run import AmlRecord, AmlRun
        from tenantml.backends.aml.workspace import resolve_workspace
        from tenantml.progress import Reporter
        from tenantml.runs import RunRecord, new_run_dir

        aml = _aml_options(options)
        reporter = options.reporter or Reporter(quiet=True)
        workspace = resolve_workspace(aml.subscription, aml.resource_group, aml.workspace,
                                      search_from=aml.config_search_from)
        client = sdk.make_client(workspace, aml)
        sdk.check_workspace(client, workspace)
        preflight(client, prepared, workspace)
        if options.run_id:
            prepared.job.name = options.run_id
        started = time.time()
        reporter.note(f"submitting {prepared.source.name} to Azure ML workspace {workspace.name} "
                      f"(experiment {prepared.experiment}); uploading local code and data...")
        with sdk.quiet_sdk(), sdk.translating(workspace, what=f"submitting {prepared.source.name}"):
            created = client.jobs.create_or_update(prepared.job, experiment_name=prepared.experiment)
        name = str(created.name)
        record = AmlRecord(job_name=name, studio_url=str(getattr(created, "studio_url", "") or ""),
                           experiment=prepared.experiment, subscription=workspace.subscription,
                           resource_group=workspace.resource_group, workspace=workspace.name,
                           resumed_from=str(aml.resume) if aml.resume else None,
                           restricted=getattr(prepared, "restricted", None))
        _, run_dir = new_run_dir(options.home, prepared.source, name)
        steps = [s.name for s in prepared.steps] or list(getattr(prepared.job, "jobs", {}) or {})
        run_record = RunRecord(name, str(prepared.source), "aml", status="Running", started=started,
                               steps={s: {"type": "parallel", "status": "NotStarted"} for s in steps})
        run_record.save(run_dir)
        record.save(run_dir)
        return AmlRun(client, record, run_dir, steps, reporter, poll_interval=aml.poll_interval)


def _aml_options(options: RunOptions) -> AmlOptions:
    value = getattr(options, "aml", None)
    return value if isinstance(value, AmlOptions) else AmlOptions()


def preflight(client: Any, prepared: "Prepared", workspace: Any) -> None:
    """Look up every compute and datastore the job names, so a typo fails with its name, fast."""
    from tenantml.backends.aml import sdk
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
    from azure.core.exceptions import ResourceNotFoundError

    for compute, key in computes.items():
        try:
            with sdk.quiet_sdk(), sdk.translating(workspace, what=f"looking up compute '{compute}'"):
                client.compute.get(compute)
        except UserError as exc:
            if not isinstance(exc.__context__, ResourceNotFoundError) and "not found" not in exc.message:
                raise
            known = _names(lambda: client.compute.list())
            raise UserError(f"compute '{compute}' does not exist in workspace {workspace.name}"
                            + (f"; it has: {', '.join(known)}" if known else "") + ".", file=prepared.source, key=key,
                            fix="correct the compute name, or create the cluster in Azure ML studio") from None
    for datastore, key in datastores.items():
        try:
            with sdk.quiet_sdk(), sdk.translating(workspace, what=f"looking up datastore '{datastore}'"):
                client.datastores.get(datastore)
        except UserError as exc:
            if "not found" not in exc.message:
                raise
            known = _names(lambda: client.datastores.list())
            raise UserError(f"datastore '{datastore}' does not exist in workspace {workspace.name}"
                            + (f"; it has: {', '.join(known)}" if known else "") + ".", file=prepared.source, key=key,
                            fix="correct the datastore name in the azureml://datastores/<name>/paths/... URI") from None


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
