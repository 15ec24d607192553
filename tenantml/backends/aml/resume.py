"""``--resume RUN`` with ``--backend aml``: a new Azure ML job over only what did not succeed.

Azure ML cannot re-run part of a parallel step, so tenantml restricts the step's ``input_data``
to the mini-batches whose last attempt did not succeed in RUN (a fetched run folder, see
``tenantml fetch``), read from Azure ML's own ``processed_mini-batches`` file:

- file input (``uri_folder``, an MLTable without a read transformation): the failed mini-batches'
  files. A local input folder becomes a staging folder holding (hard links to) just those files;
  a cloud input becomes an MLTable listing just those files by URI. The entry script still gets
  a list of file paths, one file per item as before.
- tabular input with ``partition_keys``, local MLTable: a staged copy of the MLTable folder whose
  MLTable gains a ``filter`` transformation keeping only the failed partitions.
- file input bound to an upstream step (``${{parent.jobs.<step>.outputs.<out>}}``): that step's
  output of RUN, in storage: the output's own ``path`` if the YAML gives one, else Azure ML's
  default ``azureml://datastores/<default datastore>/paths/azureml/<step's job name>/<out>/``
  ("how-to-manage-inputs-outputs-pipeline": ``${{default_datastore}}/paths/azureml/${{name}}/${{output_name}}``).
  The failed files are listed in an MLTable by their storage URI.
- Azure ML's log names files by where the compute node saw them
  (``/mnt/azureml/cr/j/<id>/cap/data-capability/wd/INPUT_<input>/<relative path>`` in v2,
  ``.../mounts/<datastore>/<path>`` in v1); a file list for storage keeps the part after the
  input's mount point, never the node path.
- the input's ``mode`` is kept on the re-submitted input.
- anything else (tabular input cut by size, a partitioned input in the cloud or from an upstream
  step, a registered data asset): refused, with the reason and what to do instead.

Steps where every mini-batch succeeded are left as they are (Azure ML's step reuse skips an
unchanged deterministic step). What is re-run is printed before anything is submitted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from tenantml.backends.aml.job import REGISTERED_ASSET
from tenantml.errors import UserError
from tenantml.locations import REMOTE_URI
from tenantml.runs import RunRecord

REMOTE = REMOTE_URI  # data in Azure, not on this machine


def restrict(prepared: Any, run_dir: Path, staging: Path) -> None:
    from tenantml.backends.aml.azure_logs import parse_step_logs

    if not (run_dir / "run.json").exists():
        raise UserError(f"there is no run folder {run_dir}.", key="--resume",
                        fix="fetch the Azure ML job first: tenantml fetch JOB_NAME, then --resume JOB_NAME")
    record = RunRecord.load(run_dir)
    if record.backend != "aml":
        raise UserError(f"run {run_dir.name} ran with --backend {record.backend}; --backend aml resumes Azure ML runs.",
                        key="--resume", fix=f"resume it where it ran: tenantml run PIPELINE --resume {run_dir.name}")
    notes: list[str] = [f"resuming Azure ML run {run_dir.name}: only what did not succeed is submitted again"]
    restricted: dict[str, list[str]] = {}
    for step in prepared.steps:
        logs = run_dir / step.name / "logs"
        if not logs.is_dir():
            raise UserError(f"run {run_dir.name} has no logs for step '{step.name}'.", key="--resume",
                            fix=f"tenantml fetch {run_dir.name}")
        parsed = parse_step_logs(logs)
        bad = parsed.unsucceeded()
        if not bad:
            notes.append(f"  {step.name}: every mini-batch succeeded; the step is submitted unchanged "
                         "(Azure ML reuses an unchanged deterministic step)")
            continue
        items = [parsed.items.get(i) for i in bad]
        target = staging / run_dir.name / step.name  # made once the step's shape is known to be resumable
        node = prepared.job.jobs[step.name]
        source = _input_source(prepared, node, step.input_data)
        upstream = _upstream(source[0])
        if step.partition_keys:
            if upstream is not None:
                raise UserError(f"step '{step.name}' partitions data made by step '{upstream[0]}' in run "
                                f"{run_dir.name}; that MLTable is in Azure ML's storage, where tenantml cannot add "
                                "a filter for the failed partitions.", key="--resume",
                                fix="re-run the pipeline without --resume (Azure ML reuses the unchanged upstream "
                                    "step), or fix the failing partitions' data and re-run")
            labels = _restrict_partitions(prepared, node, step, items, source, _fresh(target))
        elif step.input_kind.startswith("files"):
            if upstream is not None:
                source = (_upstream_output_uri(prepared, record, run_dir, *upstream), source[1])
            labels = _restrict_files(prepared, node, step, items, source, _fresh(target))
        else:
            raise UserError(f"step '{step.name}' cuts tabular input by size; Azure ML's log does not say which rows "
                            "a failed mini-batch held, so it cannot be restricted.", key="--resume",
                            fix="re-run the pipeline without --resume, or use partition_keys")
        restricted[step.name] = labels
        notes.append(f"  {step.name}: {len(bad)} mini-batch(es) did not succeed; re-running only: "
                     + ", ".join(labels[:20]) + (f" (+{len(labels) - 20})" if len(labels) > 20 else ""))
    prepared.resumed_from = run_dir
    prepared.restricted = restricted
    prepared.resume_notes = notes
    if not restricted:
        raise UserError(f"every mini-batch of run {run_dir.name} succeeded; there is nothing to resume.",
                        key="--resume")


def _fresh(target: Path) -> Path:
    """An empty staging folder for one step (tenantml's own, under the run's staging root)."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    return target


def _input_source(prepared: Any, node: Any, name: str | None) -> tuple[Any, str]:
    """(the Input object to replace, where it is bound: 'node' or 'parent:<name>') and its path."""
    value = node.inputs[name]._data if name in node.inputs else None
    text = str(value) if value is not None else ""
    match = re.fullmatch(r"\$\{\{\s*parent\.inputs\.([^}\s]+)\s*\}\}", text.strip())
    if match:
        parent = prepared.job.inputs[match.group(1)]._data
        return parent, f"parent:{match.group(1)}"
    return value, "node"


UPSTREAM = re.compile(r"^\$\{\{\s*parent\.jobs\.([^.}\s]+)\.outputs\.([^}\s]+)\s*\}\}$")
# the part of a compute node's path that follows an input's mount point
NODE_MOUNT = re.compile(r"^.*?/(?:wd/INPUT_[^/]+|mounts/[^/]+)/")


def _upstream(value: Any) -> tuple[str, str] | None:
    """(step, output) when the input is bound to an upstream step's output."""
    match = UPSTREAM.match(str(value or "").strip())
    return (match.group(1), match.group(2)) if match else None


class _Located:
    """An input's data as resume needs it: a path (local or URI) and its mode."""

    def __init__(self, path: str, mode: str | None = None):
        self.path = path
        self.mode = mode


def _upstream_output_uri(prepared: Any, record: RunRecord, run_dir: Path, step: str, output: str) -> _Located:
    """Where RUN's upstream step wrote ``output``: its declared path, else Azure ML's default."""
    from tenantml.backends.aml.job import rest_body

    info = record.steps.get(step) or {}
    job_name = info.get("azure_job")
    if not job_name:
        raise UserError(f"run {run_dir.name} does not say which Azure ML job ran step '{step}', whose output "
                        "the resumed step reads.", key="--resume", fix=f"tenantml fetch {run_dir.name}, then resume")
    data = getattr(prepared.job.jobs[step].outputs[output], "_data", None)
    path = str((data.get("path") if isinstance(data, dict) else getattr(data, "path", None)) or "")
    if path:
        return _Located(path.replace("${{name}}", str(job_name)).replace("${{output_name}}", output))
    settings = (rest_body(prepared.job).get("properties") or {}).get("settings") or {}
    datastore = str(settings.get("default_datastore") or "workspaceblobstore").rsplit("/datastores/", 1)[-1]
    datastore = datastore.removeprefix("azureml:")
    return _Located(f"azureml://datastores/{datastore}/paths/azureml/{job_name}/{output}/")


def _storage_relative(name: str, base: str) -> str:
    """A file named in Azure ML's log, relative to its input's root (never a compute-node path)."""
    if REMOTE.match(name):
        return name
    if base and name.startswith(base.rstrip("/") + "/"):
        return name[len(base.rstrip("/")) + 1:]
    match = NODE_MOUNT.match(name)
    if match:
        return name[match.end():]
    return name.lstrip("/")


def _set_input(prepared: Any, node: Any, name: str, where: str, new: Any) -> None:
    """Rebind the input's data; the SDK's input wrappers (NodeInput, PipelineInput) stay in place."""
    holder = prepared.job.inputs if where.startswith("parent:") else node.inputs
    key = where.split(":", 1)[1] if where.startswith("parent:") else name
    wrapper = holder[key]
    if hasattr(wrapper, "_data"):
        wrapper._data = new
    else:
        setattr(holder, key, new)


def _local(prepared: Any, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else (prepared.source.parent / p)


def _restrict_files(prepared: Any, node: Any, step: Any, items: list[Any], source: tuple[Any, str], target: Path) -> list[str]:
    from azure.ai.ml import Input

    value, where = source
    files: list[str] = []
    for item in items:
        if item is None or not item.files:
            raise UserError(f"step '{step.name}': Azure ML's log does not list the files of a failed mini-batch.",
                            key="--resume", fix="re-run the pipeline without --resume")
        files.extend(item.files)
    path = str(getattr(value, "path", "") or "")
    mode = getattr(value, "mode", None)
    registered = re.match(r"^azureml:(?!//)", path) or (
        not REMOTE.match(path) and REGISTERED_ASSET.match(path) and not _local(prepared, path).exists())
    if registered:  # the SDK object carries azureml:name:version as name:version
        path = path if path.startswith("azureml:") else "azureml:" + path
        raise UserError(f"step '{step.name}' reads the registered data asset {path}; its files' storage location is "
                        "not known without asking Azure ML, so tenantml cannot list the failed ones.", key="--resume",
                        fix="re-run the pipeline without --resume, or give the input as the asset's storage path "
                            "(azureml://datastores/<store>/paths/<folder>/) and resume again")
    if not path:
        raise UserError(f"step '{step.name}': where its input data is could not be read from the job.", key="--resume",
                        fix="re-run the pipeline without --resume")
    if path and not REMOTE.match(path):
        root = _local(prepared, path)
        if (root / "MLTable").is_file():
            root = root  # an MLTable of files: the files are in its folder
        for f in files:
            src = _find(root, f)
            dst = target / src.relative_to(root)
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
        _set_input(prepared, node, step.input_data, where, Input(type="uri_folder", path=str(target), mode=mode))
    else:
        base = path.rstrip("/")
        uris = []
        for f in files:
            relative = _storage_relative(f, base)
            uris.append(relative if REMOTE.match(relative) else f"{base}/{relative}")
        lines = ["paths:"] + [f"  - file: {uri}" for uri in uris]
        (target / "MLTable").write_text("\n".join(lines) + "\n", encoding="utf-8")
        _set_input(prepared, node, step.input_data, where, Input(type="mltable", path=str(target), mode=mode))
    return [Path(f).name for f in files]


def _find(root: Path, name: str) -> Path:
    """A file named in Azure ML's log (a mount path, a relative path or a bare name) under root."""
    parts = Path(name).parts
    for i in range(len(parts)):
        candidate = root.joinpath(*parts[i:])
        if candidate.is_file():
            return candidate
    matches = list(root.rglob(Path(name).name))
    if len(matches) == 1:
        return matches[0]
    raise UserError(f"the failed file '{name}' is not in the input folder {root}.", key="--resume",
                    fix="resume with the same input data the run used")


def _restrict_partitions(prepared: Any, node: Any, step: Any, items: list[Any], source: tuple[Any, str], target: Path) -> list[str]:
    import yaml
    from azure.ai.ml import Input

    value, where = source
    path = str(getattr(value, "path", "") or "")
    if not path or REMOTE.match(path):
        raise UserError(f"step '{step.name}': its partitioned input is in the cloud ({path}); tenantml restricts "
                        "only a local MLTable.", key="--resume", fix="re-run the pipeline without --resume")
    partitions = []
    for item in items:
        if item is None or not item.partition:
            raise UserError(f"step '{step.name}': Azure ML's log does not give the partition of a failed mini-batch.",
                            key="--resume", fix="re-run the pipeline without --resume")
        partitions.append(item.partition)
    root = _local(prepared, path)
    shutil.rmtree(target)
    shutil.copytree(root, target, copy_function=_link_or_copy)
    spec = yaml.safe_load((target / "MLTable").read_text(encoding="utf-8")) or {}
    clauses = []
    for partition in partitions:
        terms = [f"col({json.dumps(k)}) == {json.dumps(v)}" for k, v in partition.items()]
        clauses.append("(" + " and ".join(terms) + ")")
    spec.setdefault("transformations", []).append({"filter": " or ".join(clauses)})
    (target / "MLTable").unlink()
    (target / "MLTable").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    _set_input(prepared, node, step.input_data, where,
               Input(type="mltable", path=str(target), mode=getattr(value, "mode", None) or "direct"))
    return [", ".join(f"{k}={v}" for k, v in p.items()) for p in partitions]


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
