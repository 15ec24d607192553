"""From a pipeline YAML to the job object Azure ML will receive, with no network at all.

Order (each step only runs when the previous passed):

1. tenantml's own validation (:func:`tenantml.loader.load_pipeline`): missing entry scripts,
   undefined ``${{inputs.x}}``, a script without ``run``, bad sizes... what the SDK lets through.
   Loaded with ``local=False``: data that lives in Azure (``azureml://`` datastore paths,
   ``azureml:name:version`` assets, ``https://`` URLs) keeps its URI and is never looked up here.
2. ``azure.ai.ml.load_job`` with the ``--set`` overrides (as ``az ml job create --set`` passes them),
   then the SDK's own local validation.
3. :func:`describe` turns the SDK's REST body into the per-step report ``--dry-run`` prints.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenantml.backends.aml import sdk
from tenantml.backends.base import Plan
from tenantml.errors import UserError
from tenantml.locations import REMOTE_URI
from tenantml.locations import home as default_home

REMOTE = REMOTE_URI  # data in Azure, not on this machine
REGISTERED_ASSET = re.compile(r"^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+|@latest)$")
RUNNER_FLAGS = ("--error_threshold", "--allowed_failed_percent", "--task_overhead_timeout",
                "--progress_update_timeout", "--first_task_creation_timeout", "--resource_monitor_interval",
                "--copy_logs_to_parent", "--metrics_name_prefix", "--push_metrics_to_parent")


@dataclass
class Prepared(Plan):
    """A pipeline that passed both validators, ready to submit (the aml backend's dry-run plan)."""

    source: Path
    job: Any  # azure.ai.ml.entities.PipelineJob
    experiment: str
    warnings: list[str] = field(default_factory=list)
    steps: list[StepReport] = field(default_factory=list)
    resumed_from: Path | None = None  # --resume: the fetched run whose unsucceeded mini-batches are re-run
    restricted: dict[str, list[str]] | None = None  # step -> items re-run
    resume_notes: list[str] = field(default_factory=list)
    waived: list[str] = field(default_factory=list)  # tenantml's local-only problems, left to Azure ML
    divergences: list[str] = field(default_factory=list)  # what one backend honours and the other ignores
    notes: list[str] = field(default_factory=list)  # what tenantml changed on the job (e.g. --force)

    def lines(self) -> list[str]:
        """What ``--dry-run`` prints."""
        kind = str(getattr(self.job, "type", None) or "pipeline")
        what = f"{len(self.steps)} parallel step(s)" if kind == "pipeline" else f"a standalone {kind} job"
        lines = [*self.resume_notes,
                 f"{self.source}: submittable to Azure ML (experiment {self.experiment}); "
                 f"{what}. Nothing was sent (--dry-run)."]
        lines += self.notes
        lines += [f"differs from --backend local: {d}" for d in self.divergences]
        lines += [f"not checked on this machine (Azure ML judges it): {w}" for w in self.waived]
        for step in self.steps:
            lines += step.lines()
        return lines


@dataclass(frozen=True)
class StepReport:
    """What Azure ML will receive for one parallel step (values as the REST body carries them)."""

    name: str
    compute: str | None
    input_data: str | None
    input_kind: str  # "files" or "tabular"
    mini_batch_size: int | None  # files per mini-batch, or bytes for tabular input
    partition_keys: tuple[str, ...]
    instance_count: int
    max_concurrency_per_instance: int
    retry_max_retries: int
    retry_timeout: int
    mini_batch_error_threshold: int
    error_threshold: int
    allowed_failed_percent: str
    logging_level: str
    program_arguments: str
    environment_variables: dict[str, str]
    environment: str | None
    entry_script: str | None
    uploads: tuple[str, ...]
    component: str | None = None  # a registered component: its task and settings live in Azure ML

    def lines(self) -> list[str]:
        if self.component:
            what = (f"azureml:{self.component} (registered" if " component " not in self.component else
                    f"{self.component} (uploaded and registered anonymously on submission")
            return [f"step {self.name} (parallel) on compute {self.compute or '(pipeline default)'}",
                    f"  component:            {what}; its task, division and settings are read by Azure ML, "
                    "not here)",
                    *(f"  upload:               {u}" for u in self.uploads)]
        workers = self.instance_count * self.max_concurrency_per_instance
        if self.partition_keys:
            division = f"one mini-batch per distinct ({', '.join(self.partition_keys)})"
            if self.mini_batch_size:
                division += f"; mini_batch_size {self.mini_batch_size} is sent too, partition_keys win"
        elif self.input_kind == "tabular":
            division = f"mini_batch_size {self.mini_batch_size} bytes (~{_human(self.mini_batch_size)}) per mini-batch"
        else:
            division = f"mini_batch_size {self.mini_batch_size} file(s) per mini-batch"
        env = ", ".join(f"{k}={v}" for k, v in sorted(self.environment_variables.items())) or "(none)"
        return [
            f"step {self.name} (parallel) on compute {self.compute or '(pipeline default)'}",
            f"  input_data:           {self.input_data} ({self.input_kind})",
            f"  division:             {division}",
            f"  partition_keys:       {list(self.partition_keys) if self.partition_keys else '(none)'}",
            f"  instances:            {self.instance_count} x {self.max_concurrency_per_instance} "
            f"process(es) per instance = {workers} worker(s)",
            f"  retry_settings:       max_retries {self.retry_max_retries}, timeout {self.retry_timeout} s "
            f"(each mini-batch gets {self.retry_max_retries + 1} attempt(s))",
            f"  thresholds:           mini_batch_error_threshold {self.mini_batch_error_threshold}, "
            f"error_threshold {self.error_threshold}, allowed_failed_percent {self.allowed_failed_percent}",
            f"  logging_level:        {self.logging_level}",
            f"  entry_script:         {self.entry_script}",
            f"  program_arguments:    {self.program_arguments or '(none)'}",
            f"  environment_variables: {env}",
            f"  environment:          {_environment_text(self.environment)}",
            *(f"  upload:               {u}" for u in self.uploads),
        ]


def _environment_text(env: Any) -> str:
    if isinstance(env, dict):
        parts = [f"image {env['image']}" if env.get("image") else "", "a conda file" if env.get("conda_file") else ""]
        return "inline (" + " + ".join(p for p in parts if p) + "), registered anonymously on submission"
    return str(env) if env else "(none)"


def _human(size: int | None) -> str:
    if size is None:
        return "?"
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} B"


# --------------------------------------------------------------------------- step 1: tenantml
def tenantml_validate(path: Path, overrides: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """tenantml's own checks, loaded for elsewhere (``local=False``: data in Azure keeps its URI and
    is not looked up here). Returns (warnings, waived): problems about running on this machine
    (:class:`~tenantml.errors.LocalOnlyProblem`: a registered component, a sweep node...) are
    waived, by their kind, never by their text; every other problem raises ValidationErrors."""
    from tenantml.errors import LocalOnlyProblem, ValidationErrors
    from tenantml.loader import LoadContext, load_pipeline
    from tenantml.locations import Datastores

    home = default_home()
    ctx = LoadContext(None, None, Datastores(home, {}), tuple(overrides), local=False)
    try:
        return list(load_pipeline(path, ctx).warnings), []
    except ValidationErrors as exc:
        real = [p for p in exc.problems if not isinstance(p, LocalOnlyProblem)]
        if real:
            raise ValidationErrors(real) from None
        return [], [p.message for p in exc.problems]


# --------------------------------------------------------------------------- step 2: the SDK
def sdk_load(path: Path, overrides: tuple[str, ...]) -> Any:
    from tenantml.overrides import as_sdk_params

    aml = sdk.import_sdk()
    with sdk.quiet_sdk(), sdk.translating(None, what=f"loading {path.name} with azure.ai.ml.load_job"):
        job = aml.load_job(str(path), params_override=as_sdk_params(overrides))
        # as jobs.create_or_update validates: a job without the SDK's schema validation (a sweep or automl
        # job) is not validated locally (azure/ai/ml/operations/_job_operations.py, JobOperations._validate)
        validate = getattr(job, "_validate", None)
        result = validate() if callable(validate) else None
    if not getattr(result, "passed", True):
        messages = "; ".join(f"{k}: {v}" for k, v in (getattr(result, "error_messages", {}) or {}).items())
        raise UserError(f"Azure ML's SDK refused the job: {messages}", file=path, key="azure-ai-ml")
    # any job `az ml job create -f` submits: a pipeline, or a standalone command, sweep, automl or spark job
    # (cli/jobs/basics of Azure/azureml-examples), which --backend local runs as a one-step pipeline or refuses
    return job


def prepare(path: Path, overrides: tuple[str, ...], experiment: str | None,
            datastores: dict[str, Path] | None = None) -> Prepared:
    """Both validators, then the per-step report; no network. ``datastores``: ``--datastore``
    mappings, which only --backend local reads (reported with the other divergences)."""
    from tenantml.overrides import parse_override

    path = path.absolute()
    for text in overrides:
        parse_override(text)  # a malformed --set fails before anything else
    warnings, waived = tenantml_validate(path, overrides)
    job = sdk_load(path, overrides)
    name = experiment or getattr(job, "experiment_name", None) or path.parent.name
    prepared = Prepared(path, job, name, warnings, waived=waived)
    prepared.steps = describe(job, path)
    prepared.divergences = ignored_overrides(path, overrides, job)
    # tenantml.yml's mappings (honoured by --backend local only) and what only Azure ML honours
    from tenantml.backends.aml.mappings import divergences

    prepared.divergences += divergences(path, rest_body(job), datastores or {})
    return prepared


def ignored_overrides(path: Path, overrides: tuple[str, ...], job: Any) -> list[str]:
    """``--set`` overrides Azure ML's SDK drops while the local run applies them.

    Decided by effect, not by a list of keys: the job is loaded again without each override and,
    when the REST body Azure ML would receive is the same, the override changed nothing there
    (e.g. ``jobs.<node>.command`` on a ``component:`` node: ``load_job`` takes the command from the
    component). The local loader applies every override to the YAML before it reads it."""
    if not overrides:
        return []
    with_all = _comparable(rest_body(job))
    found = []
    for i, text in enumerate(overrides):
        rest = overrides[:i] + overrides[i + 1:]
        try:
            without = _comparable(rest_body(sdk_load(path, rest)))
        except Exception:  # noqa: BLE001 - without it the job does not load: so the override matters
            continue
        if without == with_all:
            found.append(f"--set {text} changes the local run, but Azure ML's SDK ignores it (the job it "
                         "sends is the same without it); on a component: node, change the component instead")
    return found


def _comparable(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, default=str)


# --------------------------------------------------------------------------- step 3: the report
def rest_body(job: Any) -> dict[str, Any]:
    with sdk.quiet_sdk():
        rest = job._to_rest_object()
    if isinstance(rest, dict):
        # a standalone command job loads as a Command node, whose REST form is a pipeline node's: read it
        # as the one node of a pipeline (as --backend local runs it), named as that step is
        return {"properties": {"jobs": {_node_name(job): rest}}}
    body: dict[str, Any] = rest.as_dict()
    return body


def _node_name(job: Any) -> str:
    source = getattr(job, "_source_path", None)
    stem = Path(str(source)).stem if source else str(getattr(job, "name", None) or "job")
    name = re.sub(r"[^a-z0-9_]", "_", stem.lower())
    return name if re.match(r"^[a-z_]", name) else f"job_{name}"


def describe(job: Any, source: Path) -> list[StepReport]:
    body = rest_body(job)
    props = body.get("properties", {})
    default_compute = (props.get("settings") or {}).get("default_compute")
    reports = []
    for name, node in (props.get("jobs") or {}).items():
        if node.get("type") != "parallel":
            continue
        reports.append(_step(name, node, default_compute, source, job))
    return reports


def _step(name: str, node: dict[str, Any], default_compute: str | None, source: Path, job: Any) -> StepReport:
    task = node.get("task") or {}
    retry = node.get("retry_settings") or {}
    keys = node.get("partition_keys")
    if isinstance(keys, str):
        keys = json.loads(keys) if keys.strip().startswith("[") else [keys]
    input_data = node.get("input_data")
    input_name = _binding_name(input_data)
    inputs = node.get("inputs") or {}
    data = inputs.get(input_name) if input_name else None
    kind = "tabular" if keys or _is_tabular(data, source) else "files"
    bound = str((data or {}).get("value") or (data or {}).get("uri") or "")
    if data and "${{" in bound:
        kind += f", bound to {bound}"
    program = task.get("program_arguments") or ""
    allowed = "100 (default)"
    with_flags = _runner_flags(program)
    if "--allowed_failed_percent" in with_flags:
        allowed = with_flags["--allowed_failed_percent"]
    error_threshold = node.get("error_threshold", -1)
    if error_threshold in (None, -1) and "--error_threshold" in with_flags:
        error_threshold = int(with_flags["--error_threshold"])
    size = node.get("mini_batch_size")
    node_obj = job.jobs.get(name) if hasattr(job, "jobs") else None
    return StepReport(
        name=name, compute=_short_compute(node.get("computeId") or default_compute), input_data=input_name,
        input_kind=kind, mini_batch_size=int(size) if size is not None else None,
        partition_keys=tuple(keys or ()), instance_count=int((node.get("resources") or {}).get("instance_count", 1)),
        max_concurrency_per_instance=int(node.get("max_concurrency_per_instance") or 1),
        retry_max_retries=int(retry.get("max_retries", 2)), retry_timeout=int(retry.get("timeout", 60)),
        mini_batch_error_threshold=int(node.get("mini_batch_error_threshold", -1)),
        error_threshold=int(error_threshold if error_threshold is not None else -1),
        allowed_failed_percent=str(allowed), logging_level=str(node.get("logging_level") or "INFO (default)"),
        program_arguments=program, environment_variables=dict(node.get("environment_variables") or {}),
        environment=task.get("environment"), entry_script=task.get("entry_script"),
        uploads=tuple(_uploads(node, node_obj, source)),
        component=_component_text(node.get("componentId")) if node.get("componentId") and not task else None)


def _component_text(component: Any) -> str:
    """A node's component as the report names it: ``name:version`` of a registered one, else (a local
    component object, e.g. a prompt flow, which the REST body carries before upload) its type and file."""
    if isinstance(component, str):
        return component
    kind = getattr(component, "type", None) or type(component).__name__
    source = getattr(component, "_source_path", None) or getattr(component, "name", None) or "?"
    return f"{kind} component {source}"


def _binding_name(text: Any) -> str | None:
    match = re.fullmatch(r"\$\{\{\s*inputs\.([^}\s]+)\s*\}\}", str(text or "").strip())
    return match.group(1) if match else None


def _runner_flags(program: str) -> dict[str, str]:
    try:
        tokens = shlex.split(program)
    except ValueError:
        return {}
    flags = {}
    for i, token in enumerate(tokens):
        flag, eq, value = token.partition("=")
        if flag in RUNNER_FLAGS:
            if eq:
                flags[flag] = value
            elif i + 1 < len(tokens):
                flags[flag] = tokens[i + 1]
    return flags


def _short_compute(value: Any) -> str | None:
    if not value:
        return None
    return str(value).rsplit("/computes/", 1)[-1].removeprefix("azureml:")


def _is_tabular(data: dict[str, Any] | None, source: Path) -> bool:
    if not data or data.get("job_input_type") != "mltable":
        return False
    uri = str(data.get("uri") or "")
    if REMOTE.match(uri):
        return True  # cannot look inside without the network: Azure ML reads its MLTable
    folder = (source.parent / uri) if not Path(uri).is_absolute() else Path(uri)
    mltable = folder / "MLTable"
    if not mltable.is_file():
        return True
    text = mltable.read_text(encoding="utf-8", errors="replace")
    return bool(re.search(r"read_(delimited|parquet|json_lines|delta_lake)", text))


def _uploads(node: dict[str, Any], node_obj: Any, source: Path) -> list[str]:
    """Local folders the SDK will upload for this step (code and data), with their size."""
    found = []
    code = (node.get("task") or {}).get("code")
    if code and not REMOTE.match(str(code)):
        found.append(("code", Path(code) if Path(code).is_absolute() else source.parent / code))
    for name, value in (node.get("inputs") or {}).items():
        uri = str((value or {}).get("uri") or "")
        if uri and not REMOTE.match(uri) and not uri.startswith("${{"):
            path = Path(uri) if Path(uri).is_absolute() else source.parent / uri
            if not path.exists() and REGISTERED_ASSET.match(uri):
                continue  # azureml:name:version, which the REST body carries without "azureml:"
            found.append((f"input {name}", path))
    lines = []
    for what, path in found:
        files, size = _tally(path)
        lines.append(f"{what}: {path} ({files} file(s), {_human(size)})")
    return lines


def _tally(path: Path) -> tuple[int, int]:
    if path.is_file():
        return 1, path.stat().st_size
    files = size = 0
    for item in path.rglob("*"):
        if item.is_file():
            files += 1
            size += item.stat().st_size
    return files, size
