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
- anything else (tabular input cut by size, cloud tabular input): refused, with the reason;
  re-run the whole step instead.

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
        target = staging / run_dir.name / step.name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        node = prepared.job.jobs[step.name]
        source = _input_source(prepared, node, step.input_data)
        if step.partition_keys:
            labels = _restrict_partitions(prepared, node, step, items, source, target)
        elif step.input_kind == "files":
            labels = _restrict_files(prepared, node, step, items, source, target)
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


def _input_source(prepared: Any, node: Any, name: str | None) -> tuple[Any, str]:
    """(the Input object to replace, where it is bound: 'node' or 'parent:<name>') and its path."""
    value = node.inputs[name]._data if name in node.inputs else None
    text = str(value) if value is not None else ""
    match = re.fullmatch(r"\$\{\{\s*parent\.inputs\.([^}\s]+)\s*\}\}", text.strip())
    if match:
        parent = prepared.job.inputs[match.group(1)]._data
        return parent, f"parent:{match.group(1)}"
    return value, "node"


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
        _set_input(prepared, node, step.input_data, where, Input(type="uri_folder", path=str(target)))
    else:
        base = path.rstrip("/")
        lines = ["paths:"] + [f"  - file: {f if REMOTE.match(f) else base + '/' + f.lstrip('/')}" for f in files]
        (target / "MLTable").write_text("\n".join(lines) + "\n", encoding="utf-8")
        _set_input(prepared, node, step.input_data, where, Input(type="mltable", path=str(target)))
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
    _set_input(prepared, node, step.input_data, where, Input(type="mltable", path=str(target), mode="direct"))
    return [", ".join(f"{k}={v}" for k, v in p.items()) for p in partitions]


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
