"""``tenantml fetch JOB``: download a finished Azure ML job into a run folder laid out as a local run.

    <home>/runs/<job>/run.json                      status of the pipeline and of every step
    <home>/runs/<job>/aml.json                      workspace, job name, studio URL
    <home>/runs/<job>/<step>/logs/...               Azure ML's log tree of the step, plus
        logs/sys/job_report/processed_mini-batches.csv        the ledger in tenantml's columns
        logs/sys/job_report/processed_mini-batches.azureml.csv  Azure ML's own file, kept
    <home>/runs/<job>/<step>/outputs/<name>/        named outputs (jobs.download's named-outputs/)
    <home>/runs/<job>/<step>/artifacts/...          everything else the step logged
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from tenantml.backends.aml import sdk
from tenantml.backends.aml.options import AmlOptions
from tenantml.backends.aml.run import TERMINAL, AmlRecord, final_status, status_text
from tenantml.backends.aml.workspace import Workspace, resolve_workspace
from tenantml.errors import UserError
from tenantml.runfolder.lock import RunLock
from tenantml.runfolder.names import check_run_id
from tenantml.runs import RunRecord


def arrange(download: Path, step_dir: Path) -> Path | None:
    """Move what ``jobs.download`` wrote (artifacts/, named-outputs/) into the local layout; returns the logs folder."""
    from tenantml.backends.aml.azure_logs import convert, find_logs_folder

    step_dir.mkdir(parents=True, exist_ok=True)
    artifacts = download / "artifacts"
    logs_target = step_dir / "logs"
    logs = find_logs_folder(artifacts) if artifacts.is_dir() else find_logs_folder(download)
    if logs is not None:
        if logs_target.exists():
            shutil.rmtree(logs_target)
        shutil.move(str(logs), str(logs_target))
    if artifacts.is_dir() and any(artifacts.iterdir()):
        target = step_dir / "artifacts"
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(artifacts), str(target))
    named = download / "named-outputs"
    if named.is_dir():
        outputs = step_dir / "outputs"
        outputs.mkdir(parents=True, exist_ok=True)
        for item in sorted(named.iterdir()):
            target = outputs / item.name
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            shutil.move(str(item), str(target))
    shutil.rmtree(download, ignore_errors=True)
    if logs_target.is_dir():
        convert(logs_target)
        return logs_target
    return None


def step_name(child: Any) -> str:
    """The pipeline node a child job ran: its display name (Azure ML's default), else its name."""
    props = getattr(child, "properties", None) or {}
    return str(props.get("azureml.nodeid_name") or getattr(child, "display_name", None) or child.name)


def fetch(job_name: str, options: AmlOptions, home: Path, reporter: Any = None) -> Path:
    check_run_id(job_name, "JOB_NAME")  # a folder under runs/, never a path outside it
    run_dir = home / "runs" / job_name
    # one writer: a `tenantml run --backend aml` still waiting on this job, another fetch or a
    # --resume reading the folder makes this one stop, naming that process
    created = not run_dir.exists()
    try:
        with RunLock(run_dir):
            return _fetch(job_name, run_dir, options, reporter)
    except BaseException:
        if created:  # nothing fetched (a job still running, say): no empty folder left for `runs` to list
            (run_dir / ".lock").unlink(missing_ok=True)
            try:
                run_dir.rmdir()  # only when nothing else is in it
            except OSError:
                pass
        raise


def _fetch(job_name: str, run_dir: Path, options: AmlOptions, reporter: Any) -> Path:
    workspace = _workspace_for(run_dir, options)
    client = sdk.make_client(workspace, options)
    with sdk.quiet_sdk(), sdk.translating(workspace, what=f"reading job {job_name}"):
        job = client.jobs.get(job_name)
    status = status_text(getattr(job, "status", None))
    if status not in TERMINAL:
        raise UserError(f"job {job_name} is {status or 'not finished'}; its logs can be fetched once it has ended.",
                        key="JOB_NAME", fix=f"wait for it (its studio page: {getattr(job, 'studio_url', '')})")
    with sdk.quiet_sdk(), sdk.translating(workspace, what=f"listing the steps of job {job_name}"):
        children = list(client.jobs.list(parent_job_name=job_name)) if getattr(job, "type", "") == "pipeline" else [job]
    run_dir.mkdir(parents=True, exist_ok=True)
    record = RunRecord.load(run_dir) if (run_dir / "run.json").exists() else RunRecord(job_name, "", "aml")
    record.backend = "aml"
    for child in children:
        if child is None:
            continue
        name = step_name(child)
        if reporter is not None:
            reporter.note(f"downloading step {name} ({child.name})...")
        download = run_dir / name / ".download"
        with sdk.quiet_sdk(), sdk.translating(workspace, what=f"downloading job {child.name}"):
            # the default artifacts (logs) only: all=False with no output_name, as azure-ai-ml's
            # JobOperations.download documents
            client.jobs.download(child.name, download_path=str(download))
            if options.fetch_outputs:
                # --outputs: each named output run history lists, one by one. Not all=True: that resolves
                # only outputs whose recorded type the SDK knows (run history was recorded answering
                # "UriFolder", which azure-ai-ml 1.35 skips), while output_name= also looks where Azure
                # ML writes a step's output (azureml/<run>/<output>/ on the default datastore)
                for output in sdk.output_names(client, str(child.name)):
                    client.jobs.download(child.name, download_path=str(download), output_name=output)
        logs = arrange(download, run_dir / name)
        info = record.steps.setdefault(name, {})
        child_status = status_text(getattr(child, "status", None))
        info.update(type=str(getattr(child, "type", "") or "parallel"), azure_job=str(child.name),
                    status=final_status(child_status) if child_status in TERMINAL else child_status,
                    reason="" if child_status == "Completed" else f"Azure ML status {child_status}")
        if logs is not None:
            from tenantml.backends.aml.azure_logs import parse_step_logs

            parsed = parse_step_logs(logs)
            if parsed.reason and info["status"] != "Completed":
                info["reason"] = parsed.reason
    record.status = final_status(status)
    record.ended = record.ended or time.time()
    record.save(run_dir)
    if not (run_dir / "aml.json").exists():
        AmlRecord(job_name, str(getattr(job, "studio_url", "") or ""), str(getattr(job, "experiment_name", "") or ""),
                  workspace.subscription, workspace.resource_group, workspace.name).save(run_dir)
    return run_dir


def _workspace_for(run_dir: Path, options: AmlOptions) -> Workspace:
    if not (options.subscription or options.workspace) and (run_dir / "aml.json").exists():
        return AmlRecord.load(run_dir).workspace_ref
    return resolve_workspace(options.subscription, options.resource_group, options.workspace,
                             search_from=options.config_search_from)
