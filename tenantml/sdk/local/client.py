"""The ``MLClient`` a script sees under ``tenantml exec``: the calls a submission script or
notebook makes, served on this machine, and every other service call refused at once.

    MLClient(credential, sub, rg, ws) / MLClient.from_config()   no token, no config.json needed
    compute.get / workspaces.get                                  a stand-in entity with that name
    environments|components|data|models.create_or_update(e)      e itself (nothing is registered)
    data.get / models.get / components.get                        from tenantml.yml ``assets:``
    jobs.create_or_update(job)                                    runs the job with tenantml, returns it
                                                                  with .name = run id, .status its status
    jobs.stream / get / list / download                           read the run folders

Options come from ``tenantml exec`` through the ``TENANTML_EXEC`` environment variable (JSON:
home, datastores, max_workers, config, quiet).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from tenantml.errors import UserError
from tenantml.sdk.local.errors import NotServedLocally

_RUNS: dict[str, tuple[Any, Any]] = {}  # run id -> (job object, handle), for runs of this process


def exec_options() -> dict[str, Any]:
    try:
        found = json.loads(os.environ.get("TENANTML_EXEC") or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _home() -> Path:
    from tenantml.locations import home

    value = exec_options().get("home")
    return Path(value) if value else home()


class _Operations:
    """Served methods are defined; any other attribute is a call that fails at once, naming itself."""

    group = "operations"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def refused(*args: Any, **kwargs: Any) -> Any:
            raise NotServedLocally(f"ml_client.{self.group}.{name}()")
        return refused


class _Compute(_Operations):
    group = "compute"

    def get(self, name: str, **kwargs: Any) -> Any:
        from azure.ai.ml.entities import AmlCompute

        return AmlCompute(name=name, description="served locally by tenantml exec (this machine)")


class _Workspaces(_Operations):
    group = "workspaces"

    def __init__(self, client: LocalMLClient):
        self.client = client

    def get(self, name: str | None = None, **kwargs: Any) -> Any:
        from azure.ai.ml.entities import Workspace

        return Workspace(name=name or self.client.workspace_name, resource_group=self.client.resource_group_name,
                         description="served locally by tenantml exec")


class _Assets(_Operations):
    """create_or_update returns the entity; get resolves ``assets:`` of tenantml.yml."""

    kind = "data"

    def __init__(self, group: str):
        self.group = group

    def create_or_update(self, entity: Any, **kwargs: Any) -> Any:
        if getattr(entity, "version", None) is None and hasattr(entity, "version"):
            try:
                entity.version = "1"
            except AttributeError:
                pass
        return entity

    def get(self, name: str, version: str | None = None, label: str | None = None, **kwargs: Any) -> Any:
        path = _mapped(self.group, name, version, label)
        return self._entity(name, str(version or label or "latest"), path)

    def _entity(self, name: str, version: str, path: Path) -> Any:
        if self.group == "models":
            from azure.ai.ml.entities import Model

            return Model(name=name, version=version, path=str(path), type="custom_model")
        if self.group == "components":
            from azure.ai.ml import load_component

            component = load_component(source=path)
            return component
        from azure.ai.ml.entities import Data

        kind = "mltable" if (path / "MLTable").is_file() else ("uri_folder" if path.is_dir() else "uri_file")
        return Data(name=name, version=version, path=str(path), type=kind)


class _Environments(_Assets):
    def get(self, name: str, version: str | None = None, label: str | None = None, **kwargs: Any) -> Any:
        raise NotServedLocally("ml_client.environments.get()")


def _mapped(group: str, name: str, version: str | None, label: str | None) -> Path:
    """The local path tenantml.yml maps a registered asset to, or a UserError saying how to map it."""
    from tenantml.assets import AssetError
    from tenantml.sdk.mappings import assets_of, find_config

    assets = assets_of(find_config(Path.cwd(), exec_options().get("config")))
    ref = f"azureml:{name}" + (f":{version}" if version else f"@{label or 'latest'}")
    try:
        if assets is None:
            raise AssetError(ref, None)
        return assets.resolve(ref)
    except AssetError as exc:
        raise UserError(f"ml_client.{group}.get('{name}'): {exc.message}", key=f"{group}.get", fix=exc.fix) from None


class _Jobs(_Operations):
    group = "jobs"

    def create_or_update(self, job: Any, *, description: str | None = None, compute: str | None = None,
                         tags: dict[str, str] | None = None, experiment_name: str | None = None,
                         **kwargs: Any) -> Any:
        """Run the job locally to its end (progress on stderr) and return it, named by its run id."""
        from tenantml.api import submit, wait
        from tenantml.progress import Reporter

        if experiment_name:
            job.experiment_name = experiment_name
        if description:
            job.description = description
        options = exec_options()
        reporter = Reporter(sys.stderr, quiet=bool(options.get("quiet")))
        handle = submit(job, "local", home=_home(), datastores=options.get("datastores") or {},
                        max_workers=options.get("max_workers"), reporter=reporter, config=options.get("config"))
        reporter.note(f"run {handle.run_id}: {handle.run_dir}")
        try:
            wait(handle)  # Ctrl-C: the run is marked Interrupted, RunInterrupted is raised (exit 130)
        finally:
            reporter.finish_line()
            _RUNS[handle.run_id] = (job, handle)
            _name(job, handle.run_id, str(handle.status()), handle.run_dir)
        return job

    def stream(self, name: str, **kwargs: Any) -> None:
        """Print the run's summary as the SDK prints a job's; raise JobException as the SDK does if it failed."""
        run_dir = _run_dir(name)
        status, text = _summary(name, run_dir)
        print(f"RunId: {name}\nWeb View: {run_dir.as_uri()}\n\n{text}\n\nExecution Summary\n=================\n"
              f"RunId: {name}\nWeb View: {run_dir.as_uri()}\n", flush=True)
        if status != "Completed":
            from azure.ai.ml.exceptions import ErrorCategory, ErrorTarget, JobException

            error = {"status": status, "details": f"tenantml show {name} --failed", "run_folder": str(run_dir)}
            # what azure.ai.ml.operations._job_ops_helper.stream_logs_until_completion raises
            raise JobException(message=f"Exception : \n {json.dumps(error, indent=4)} ",
                               target=ErrorTarget.JOB,  # type: ignore[arg-type]  # a str enum member
                               no_personal_data_message="Exception raised on failed job.",
                               error_category=ErrorCategory.SYSTEM_ERROR)  # type: ignore[arg-type]

    def get(self, name: str, **kwargs: Any) -> Any:
        if name in _RUNS:
            return _RUNS[name][0]
        return _job_from_folder(_run_dir(name))

    def list(self, *, parent_job_name: str | None = None, **kwargs: Any) -> list[Any]:
        from tenantml.runs import RunRecord, list_runs

        if parent_job_name is None:
            return [_job_from_folder(p) for p in reversed(list_runs(_home()))]
        record = RunRecord.load(_run_dir(parent_job_name))
        return [_step_job(parent_job_name, step, info) for step, info in record.steps.items()]

    def download(self, name: str, *, download_path: str | os.PathLike[str] = ".", output_name: str | None = None,
                 all: bool = False, **kwargs: Any) -> None:  # noqa: A002 - the SDK's keyword
        """As the SDK lays a download out: ``named-outputs/<output>/`` and, with all=True, ``artifacts/``."""
        from tenantml.runs import RunRecord

        run_dir = _run_dir(name)
        record = RunRecord.load(run_dir)
        target = Path(download_path).absolute()
        found = False
        for step, info in record.steps.items():
            for output, path in (info.get("outputs") or {}).items():
                if output_name not in (None, output):
                    continue
                source = Path(path)
                if not source.exists():
                    continue
                found = True
                destination = target / "named-outputs" / output
                destination.parent.mkdir(parents=True, exist_ok=True)
                if source.is_dir():
                    shutil.copytree(source, destination, dirs_exist_ok=True)
                else:
                    destination.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, destination / source.name)
            logs = run_dir / step / "logs"
            if all and logs.is_dir():
                shutil.copytree(logs, target / "artifacts" / step / "logs", dirs_exist_ok=True)
        if output_name and not found:
            raise UserError(f"run {name} has no output '{output_name}'.", key="jobs.download(output_name)",
                            fix="name an output of one of its steps")


def _run_dir(name: str) -> Path:
    run_dir = _home() / "runs" / str(name)
    if not (run_dir / "run.json").is_file():
        from azure.core.exceptions import ResourceNotFoundError

        raise ResourceNotFoundError(f"job '{name}' was not found among the local runs in {run_dir.parent} "
                                    "(tenantml exec serves local runs only)")
    return run_dir


def _summary(name: str, run_dir: Path) -> tuple[str, str]:
    if name in _RUNS:
        from tenantml.api import Run
        from tenantml.summary import render_summary

        handle = _RUNS[name][1]
        return handle.status(), render_summary(Run(handle))
    from tenantml.runs import RunRecord

    record = RunRecord.load(run_dir)
    lines = [f"Run {name}: {record.status}", f"  folder: {run_dir}"]
    lines += [f"  {step} ({info.get('type', '')}): {info.get('status')}" for step, info in record.steps.items()]
    return record.status, "\n".join(lines)


def _name(job: Any, run_id: str, status: str, run_dir: Path) -> None:
    job.name = run_id
    job._status = status
    try:
        from azure.ai.ml.entities import JobService

        job.services = {"Studio": JobService(endpoint=run_dir.as_uri())}
    except Exception:  # noqa: BLE001 - only decorates the job (studio_url)
        pass


def _job_from_folder(run_dir: Path) -> Any:
    from azure.ai.ml.entities import PipelineJob

    from tenantml.runs import RunRecord

    record = RunRecord.load(run_dir)
    job = PipelineJob(display_name=Path(record.pipeline).stem)
    _name(job, record.run_id, record.status, run_dir)
    return job


def _step_job(parent: str, step: str, info: dict[str, Any]) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(name=f"{parent}/{step}", display_name=step, type=info.get("type"),
                           status=info.get("status"), outputs=info.get("outputs") or {})


class LocalMLClient:
    """Stands in for ``azure.ai.ml.MLClient`` under ``tenantml exec``."""

    def __init__(self, credential: Any = None, subscription_id: str | None = None,
                 resource_group_name: str | None = None, workspace_name: str | None = None,
                 registry_name: str | None = None, **kwargs: Any):
        self._credential = credential
        self.subscription_id = subscription_id or "local"
        self.resource_group_name = resource_group_name or "local"
        self.workspace_name = workspace_name or "local"
        self.jobs = _Jobs()
        self.compute = _Compute()
        self.workspaces = _Workspaces(self)
        self.data = _Assets("data")
        self.models = _Assets("models")
        self.components = _Assets("components")
        self.environments = _Environments("environments")

    @classmethod
    def from_config(cls, credential: Any = None, *, path: Any = None, file_name: str | None = None,
                    **kwargs: Any) -> LocalMLClient:
        """The names in config.json if there is one (never required); nothing is looked up."""
        found: dict[str, str] = {}
        start = Path(path or Path.cwd()).absolute()
        for folder in [start, *start.parents] if start.is_dir() else [start.parent]:
            candidate = folder / (file_name or "config.json") if start.is_dir() else start
            for place in (candidate, folder / ".azureml" / (file_name or "config.json")):
                if place.is_file():
                    try:
                        found = json.loads(place.read_text(encoding="utf-8"))
                    except ValueError:
                        found = {}
                    break
            if found:
                break
        return cls(credential, found.get("subscription_id"), found.get("resource_group"),
                   found.get("workspace_name"))

    def create_or_update(self, entity: Any, **kwargs: Any) -> Any:
        from azure.ai.ml.entities import Job

        if isinstance(entity, Job) or hasattr(entity, "jobs"):
            return self.jobs.create_or_update(entity, **kwargs)
        return entity

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        operations = _Operations()
        operations.group = name
        return operations

    def __repr__(self) -> str:
        return (f"MLClient(served locally by tenantml exec, subscription_id={self.subscription_id!r}, "
                f"resource_group_name={self.resource_group_name!r}, workspace_name={self.workspace_name!r})")
