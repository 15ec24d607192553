"""Pipeline YAML (Azure ML CLI v2) -> validated, resolved :mod:`tenantml.spec` objects.

Everything that can be checked without running is checked here, and every problem found is
reported at once (``file:line: key: message``), before the first process starts.
"""

from __future__ import annotations

import ast
import shlex
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenantml.bindings import BINDING, is_single_binding, substitute
from tenantml.errors import UserError, ValidationErrors
from tenantml.locations import DEFAULT_DATASTORE, Datastores, local_path
from tenantml.spec import (DATA_TYPES, INPUT_MODES, LITERAL_TYPES, LOGGING_LEVELS, OUTPUT_MODES, CommandJob,
                           DataInput, DataOutput, Input, Job, LiteralInput, ParallelJob, RetrySettings,
                           RunnerArguments, Where)
from tenantml.suggest import did_you_mean
from tenantml.yamlio import YamlMap, load_yaml

PIPELINE_KEYS = frozenset({
    "$schema", "type", "name", "display_name", "description", "tags", "properties", "experiment_name",
    "settings", "inputs", "outputs", "jobs", "compute", "identity", "services"})
SETTINGS_KEYS = frozenset({
    "default_compute", "default_datastore", "continue_on_step_failure", "force_rerun", "default_environment"})
PARALLEL_KEYS = frozenset({
    "$schema", "type", "name", "display_name", "description", "tags", "properties", "experiment_name",
    "compute", "environment", "inputs", "outputs", "input_data", "mini_batch_size", "partition_keys",
    "resources", "max_concurrency_per_instance", "logging_level", "mini_batch_error_threshold",
    "error_threshold", "retry_settings", "task", "environment_variables", "identity", "is_deterministic",
    "component", "version"})
TASK_KEYS = frozenset({
    "type", "code", "entry_script", "program_arguments", "model", "append_row_to", "environment",
    "environment_variables"})
COMMAND_KEYS = frozenset({
    "$schema", "type", "name", "display_name", "description", "tags", "properties", "experiment_name",
    "compute", "environment", "inputs", "outputs", "code", "command", "environment_variables", "resources",
    "limits", "distribution", "identity", "services", "queue_settings", "component", "is_deterministic",
    "version"})
COMPONENT_ONLY_KEYS = frozenset({"$schema", "name", "version", "display_name", "description", "tags",
                                 "is_deterministic", "inputs", "outputs"})
LIMITS_KEYS = frozenset({"timeout"})
RETRY_KEYS = frozenset({"max_retries", "timeout"})
RESOURCES_KEYS = frozenset({"instance_count", "instance_type", "properties", "shm_size", "docker_args",
                            "locations", "max_instance_count"})
DATA_INPUT_KEYS = frozenset({"type", "path", "mode", "description", "optional", "datastore", "default"})
LITERAL_INPUT_KEYS = frozenset({"type", "default", "value", "description", "optional", "min", "max", "enum"})
OUTPUT_KEYS = frozenset({"type", "path", "mode", "description", "name", "version"})

_BOOL = {"true": True, "false": False}


@dataclass(frozen=True)
class Pipeline:
    source: Path
    name: str
    experiment_name: str
    jobs: dict[str, Job]  # in a dependency order
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # said once in the log (e.g. compute/environment ignored locally)
    force_rerun: bool = False
    continue_on_step_failure: bool = False


@dataclass
class _Problems:
    file: Path
    items: list[UserError] = field(default_factory=list)

    def add(self, message: str, *, key: str, line: int | None, fix: str | None = None,
            details: str | None = None, file: Path | None = None) -> None:
        file = file or getattr(line, "file", None) or self.file
        self.items.append(UserError(message, file=file, key=key, line=line, fix=fix, details=details))

    def unknown_keys(self, raw: YamlMap, valid: frozenset[str], prefix: str, what: str) -> None:
        for key in raw:
            if key not in valid:
                self.add(f"unknown key in {what}; {did_you_mean(str(key), valid)}", key=f"{prefix}{key}",
                         line=raw.line_of(key), fix="remove or rename the key")


@dataclass(frozen=True)
class LoadContext:
    run_dir: Path  # outputs default to <run_dir>/<job>/outputs/<name>
    run_id: str
    datastores: Datastores
    overrides: tuple[str, ...] = ()  # --set KEY=VALUE, applied to the YAML before validation
    assets: "Assets | None" = None


def load_pipeline(path: Path, ctx: LoadContext) -> Pipeline:
    """Load and validate a pipeline YAML; raise ValidationErrors listing every problem."""
    path = path.absolute()
    raw = load_yaml(path, what="pipeline YAML")
    if not isinstance(raw, YamlMap):
        raise UserError("the pipeline YAML must be a mapping with 'type: pipeline' and 'jobs:'.", file=path,
                        fix="see examples/ for the layout")
    if ctx.overrides:
        from tenantml.overrides import apply_overrides

        apply_overrides(raw, list(ctx.overrides))
    problems = _Problems(path)
    kind = raw.get("type", "pipeline")
    if kind != "pipeline":
        raise UserError(f"type is '{kind}'; tenantml runs pipeline jobs (Azure ML runs parallel steps only "
                        "inside pipelines).", file=path, key="type", line=raw.line_of("type"),
                        fix="wrap the step under 'jobs:' of a file with 'type: pipeline'")
    problems.unknown_keys(raw, PIPELINE_KEYS, "", "the pipeline")
    settings = raw.get("settings") or YamlMap()
    if isinstance(settings, YamlMap):
        problems.unknown_keys(settings, SETTINGS_KEYS, "settings.", "settings")
    default_datastore = str(settings.get("default_datastore") or DEFAULT_DATASTORE).removeprefix("azureml:")
    scope = _Scope(path=path, problems=problems, ctx=ctx, default_datastore=default_datastore)
    parent_inputs = scope.inputs(raw.get("inputs") or YamlMap(), "inputs.", parent={})
    parent_outputs = scope.outputs(raw.get("outputs") or YamlMap(), "outputs.", job_dir=ctx.run_dir / "pipeline",
                                   parent={})
    jobs_raw = raw.get("jobs")
    jobs: dict[str, Job] = {}
    notes: list[str] = []
    warnings: list[str] = []
    if not isinstance(jobs_raw, YamlMap) or not jobs_raw:
        problems.add("the pipeline has no jobs.", key="jobs", line=raw.line_of("jobs"),
                     fix="add at least one job under 'jobs:'")
        raise ValidationErrors(problems.items)
    nodes: dict[str, YamlMap] = {}
    for name, job_raw in jobs_raw.items():
        key = f"jobs.{name}"
        if not isinstance(job_raw, YamlMap):
            problems.add("a job must be a mapping.", key=key, line=jobs_raw.line_of(name))
            continue
        merged = scope.expand_component(str(name), job_raw)
        if merged is not None:
            nodes[str(name)] = merged
    order = scope.dependency_order(nodes, jobs_raw)
    scope.job_outputs = {}
    for name in order:
        node = nodes[name]
        job_type = node.get("type")
        job: Job | None
        if job_type == "parallel":
            job = scope.parallel_job(name, node, parent_inputs, parent_outputs, warnings)
        elif job_type == "command":
            job = scope.command_job(name, node, parent_inputs, parent_outputs)
        else:
            problems.add(f"job type '{job_type}' cannot run locally; tenantml runs 'command' and 'parallel' "
                         "steps.", key=f"jobs.{name}.type", line=node.line_of("type"),
                         fix="use type: command or type: parallel, or run this pipeline with --backend aml")
            continue
        if job is not None:
            jobs[name] = job
        for ignored in ("compute", "environment"):
            if ignored in node or (isinstance(node.get("task"), YamlMap) and ignored in node["task"]):
                notes.append(f"'{ignored}' is used on Azure ML only; locally the current Python environment "
                             "runs the code.")
    if problems.items:
        raise ValidationErrors(problems.items)
    name = str(raw.get("display_name") or raw.get("name") or path.stem)
    experiment = str(raw.get("experiment_name") or path.absolute().parent.name)
    return Pipeline(source=path, name=name, experiment_name=experiment, jobs=jobs, warnings=tuple(warnings),
                    notes=tuple(dict.fromkeys(notes)), force_rerun=_truthy(settings.get("force_rerun")),
                    continue_on_step_failure=_truthy(settings.get("continue_on_step_failure")))


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


@dataclass
class _Scope:
    path: Path
    problems: _Problems
    ctx: LoadContext
    default_datastore: str
    job_outputs: dict[str, dict[str, DataOutput]] = field(default_factory=dict)

    # ----------------------------------------------------------------- components and order
    def expand_component(self, name: str, node: YamlMap) -> YamlMap | None:
        """The job as one mapping: a ``component:`` file's definition overlaid with the node's settings."""
        ref = node.get("component")
        if ref is None:
            return node
        key, line = f"jobs.{name}.component", node.line_of("component")
        if isinstance(ref, YamlMap):
            component, comp_file = ref, self.path
        elif isinstance(ref, str) and not ref.startswith("azureml:"):
            comp_file = Path(_strip_file_prefix(ref))
            comp_file = comp_file if comp_file.is_absolute() else (_file_of(node, self.path).parent / comp_file)
            if not comp_file.is_file():
                self.problems.add(f"component file {comp_file} does not exist.", key=key, line=line,
                                  fix="correct the path; it is relative to the file that names it")
                return None
            try:
                component = load_yaml(comp_file, what="component YAML")
            except UserError as exc:
                self.problems.items.append(exc)
                return None
            if not isinstance(component, YamlMap):
                self.problems.add("a component file must be a mapping.", key=key, line=line, file=comp_file)
                return None
        else:
            self.problems.add(f"component '{ref}' is a registered Azure ML component, which has no local copy.",
                              key=key, line=line, fix="reference the component's YAML file (component: ./x.yml)")
            return None
        merged = YamlMap()
        merged.line = node.line
        base = comp_file.parent
        for k, v in component.items():
            if k in COMPONENT_ONLY_KEYS:
                continue
            merged[k] = _rebase_code(k, v, base)
            merged.lines[k] = component.lines.get(k)
        merged["type"] = component.get("type", node.get("type"))
        merged.lines["type"] = component.lines.get("type")
        for k, v in node.items():
            if k in ("component", "inputs", "outputs"):
                continue
            if isinstance(v, YamlMap) and isinstance(merged.get(k), YamlMap):
                inner = YamlMap({**merged[k], **v})
                inner.lines = {**merged[k].lines, **v.lines}
                inner.line = v.line
                v = inner
            merged[k] = v
            merged.lines[k] = node.lines.get(k)
        merged["inputs"] = self._component_inputs(name, component, node, comp_file)
        merged.lines["inputs"] = node.lines.get("inputs") or component.lines.get("inputs")
        merged["outputs"] = self._component_outputs(name, component, node, comp_file)
        merged.lines["outputs"] = node.lines.get("outputs") or component.lines.get("outputs")
        if "is_deterministic" in component:
            merged["is_deterministic"] = component["is_deterministic"]
        return merged

    def _component_inputs(self, name: str, component: YamlMap, node: YamlMap, comp_file: Path) -> YamlMap:
        declared = component.get("inputs") or YamlMap()
        given = node.get("inputs") or YamlMap()
        result = YamlMap()
        result.line = getattr(given, "line", None)
        self._undeclared(given, declared, f"jobs.{name}.inputs.", f"component {comp_file.name} has no input")
        for k, decl in declared.items():
            if k in given:
                value = given[k]
                # a binding or literal for a declared data input keeps the declared type
                if isinstance(decl, YamlMap) and decl.get("type") in DATA_TYPES and is_single_binding(value):
                    typed = YamlMap({"type": decl["type"], "path": value})
                    typed.lines = {"type": decl.lines.get("type"), "path": given.line_of(k)}
                    typed.line = given.line_of(k)
                    value = typed
                result[k] = value
                result.lines[k] = given.line_of(k)
            elif isinstance(decl, YamlMap) and "default" in decl:
                result[k] = decl["default"] if decl.get("type") in LITERAL_TYPES else YamlMap(
                    {"type": decl.get("type", "uri_folder"), "path": str(_rebase_path(decl["default"], comp_file.parent))})
                result.lines[k] = decl.lines.get("default")
            elif isinstance(decl, YamlMap) and _truthy(decl.get("optional")):
                continue
            else:
                self.problems.add(f"component {comp_file.name} input '{k}' has no value and no default.",
                                  key=f"jobs.{name}.inputs.{k}", line=node.line_of("inputs") or node.line,
                                  fix=f"give it a value under jobs.{name}.inputs")
        return result

    def _component_outputs(self, name: str, component: YamlMap, node: YamlMap, comp_file: Path) -> YamlMap:
        declared = component.get("outputs") or YamlMap()
        given = node.get("outputs") or YamlMap()
        result = YamlMap()
        result.line = getattr(given, "line", None)
        self._undeclared(given, declared, f"jobs.{name}.outputs.", f"component {comp_file.name} has no output")
        for k, decl in declared.items():
            value = given.get(k, decl)
            if isinstance(value, YamlMap) and isinstance(decl, YamlMap) and "type" not in value and "type" in decl:
                value = YamlMap({**value, "type": decl["type"]})
            result[k] = value
            result.lines[k] = given.line_of(k) if k in given else declared.line_of(k)
        return result

    def _undeclared(self, given: YamlMap, declared: YamlMap, prefix: str, what: str) -> None:
        for k in given:
            if k not in declared:
                self.problems.add(f"{what} '{k}'; {did_you_mean(str(k), declared)}", key=f"{prefix}{k}",
                                  line=given.line_of(k), fix="declare it in the component or correct the name")

    def dependency_order(self, nodes: dict[str, YamlMap], jobs_raw: YamlMap) -> list[str]:
        """Jobs in an order where every job comes after those whose outputs it reads."""
        deps: dict[str, set[str]] = {}
        for name, node in nodes.items():
            deps[name] = set()
            for expr, line in _bindings_in(node.get("inputs"), node.line_of("inputs")):
                parts = expr.split(".")
                if parts[:2] != ["parent", "jobs"]:
                    continue
                if len(parts) != 5 or parts[3] != "outputs":
                    self.problems.add(f"'${{{{{expr}}}}}' is not a job output binding; write "
                                      "${{parent.jobs.<job>.outputs.<output>}}.", key=f"jobs.{name}.inputs", line=line)
                    continue
                if parts[2] not in nodes:
                    self.problems.add(f"'${{{{{expr}}}}}' names job '{parts[2]}', which the pipeline does not have; "
                                      f"{did_you_mean(parts[2], nodes)}", key=f"jobs.{name}.inputs", line=line,
                                      fix="correct the job name")
                    continue
                deps[name].add(parts[2])
        order: list[str] = []
        remaining = {n: set(d) for n, d in deps.items()}
        while remaining:
            ready = [n for n in nodes if n in remaining and not remaining[n]]
            if not ready:
                cycle = _find_cycle(remaining)
                self.problems.add("the jobs depend on each other in a cycle: " + " -> ".join(cycle) + ".",
                                  key=f"jobs.{cycle[0]}", line=jobs_raw.line_of(cycle[0]),
                                  fix="a job can only read outputs of jobs that do not read its own outputs")
                return order
            for n in ready:
                order.append(n)
                del remaining[n]
                for other in remaining.values():
                    other.discard(n)
        self.deps = deps
        return order

    # ----------------------------------------------------------------- command job
    def command_job(self, name: str, raw: YamlMap, parent_inputs: dict[str, Input],
                    parent_outputs: dict[str, DataOutput]) -> CommandJob | None:
        p = self.problems
        prefix = f"jobs.{name}."
        before = len(p.items)
        p.unknown_keys(raw, COMMAND_KEYS, prefix, "a command job")
        inputs = self.inputs(raw.get("inputs") or YamlMap(), f"{prefix}inputs.", parent_inputs)
        outputs = self.outputs(raw.get("outputs"), f"{prefix}outputs.", self.ctx.run_dir / name, parent_outputs)
        self.job_outputs[name] = outputs
        command = raw.get("command")
        if not isinstance(command, str) or not command.strip():
            p.add("a command job needs a command.", key=f"{prefix}command", line=raw.line_of("command") or raw.line,
                  fix="add command: python run.py --data ${{inputs.data}}")
            return None
        code = self._code_folder(raw, prefix, default=_file_of(raw, self.path).parent)
        resolve = self._job_resolver(name, inputs, outputs, prefix, raw, quote=True)
        text = _optional_blocks(command, inputs)
        text = substitute(text, lambda e: resolve(e, f"{prefix}command", raw.line_of("command")) or "")
        env: dict[str, str] = self._environment_variables(raw, prefix, resolve)
        timeout = None
        limits = raw.get("limits")
        if isinstance(limits, YamlMap):
            p.unknown_keys(limits, LIMITS_KEYS, f"{prefix}limits.", "limits")
            if "timeout" in limits:
                timeout = self._number(limits, "timeout", f"{prefix}limits.", 0.0, 0.0) or None
        if len(p.items) > before or code is None:
            return None
        return CommandJob(name=name, source=self.path, code=code, command=text, inputs=inputs, outputs=outputs,
                          environment_variables=env, timeout=timeout, where=Where(self.path, raw.line),
                          depends_on=tuple(sorted(getattr(self, "deps", {}).get(name, ()))),
                          definition=_plain(raw), is_deterministic=_truthy(raw.get("is_deterministic", True)),
                          has_code="code" in raw)

    def _code_folder(self, holder: YamlMap, prefix: str, default: Path) -> Path | None:
        if "code" not in holder:
            return default
        try:
            code = local_path(str(holder["code"]), base=_file_of(holder, self.path, "code").parent,
                              datastores=self.ctx.datastores)
        except UserError as exc:
            self.problems.add(_bare(exc), key=f"{prefix}code", line=holder.line_of("code"), fix=exc.fix)
            return None
        if not code.is_dir():
            self.problems.add(f"the code folder {code} does not exist.", key=f"{prefix}code",
                              line=holder.line_of("code"),
                              fix="correct code (relative paths start at the folder of the YAML that names it)")
            return None
        return code

    @property
    def base(self) -> Path:
        return self.path.parent

    # ----------------------------------------------------------------- inputs and outputs
    def inputs(self, raw: Any, prefix: str, parent: dict[str, Input]) -> dict[str, Input]:
        result: dict[str, Input] = {}
        if not isinstance(raw, YamlMap):
            if raw:
                self.problems.add("inputs must be a mapping of name -> input.", key=prefix.rstrip("."), line=None)
            return result
        for name, value in raw.items():
            key, line = f"{prefix}{name}", raw.line_of(name)
            parsed = self._input(str(name), value, key, line, parent)
            if parsed is not None:
                result[str(name)] = parsed
        return result

    def _input(self, name: str, value: Any, key: str, line: int | None, parent: dict[str, Input]) -> Input | None:
        where = Where(self.path, line)
        expr = is_single_binding(value)
        if expr is not None:
            return self._bound_input(name, expr, key, line, parent)
        if not isinstance(value, YamlMap):
            return LiteralInput(name, value, where)
        kind = value.get("type", "uri_folder")
        if kind in LITERAL_TYPES:
            self.problems.unknown_keys(value, LITERAL_INPUT_KEYS, f"{key}.", "a literal input")
            return LiteralInput(name, value.get("value", value.get("default")), where)
        self.problems.unknown_keys(value, DATA_INPUT_KEYS, f"{key}.", "an input")
        if kind not in DATA_TYPES:
            self.problems.add(f"input type '{kind}' is not valid; {did_you_mean(str(kind), DATA_TYPES + LITERAL_TYPES)}",
                              key=f"{key}.type", line=value.line_of("type"), fix="use uri_file, uri_folder or mltable")
            return None
        mode = value.get("mode")
        if mode is not None and mode not in INPUT_MODES:
            self.problems.add(f"input mode '{mode}' is not valid; {did_you_mean(str(mode), INPUT_MODES)}",
                              key=f"{key}.mode", line=value.line_of("mode"), fix="use one of " + ", ".join(INPUT_MODES))
        raw_path = value.get("path")
        expr = is_single_binding(raw_path)
        if expr is not None:
            return self._bound_input(name, expr, key, line, parent, declared_type=str(kind), mode=mode)
        if isinstance(raw_path, str) and raw_path.startswith("azureml:") and not raw_path.startswith("azureml://"):
            resolved = self._asset(raw_path, f"{key}.path", value.line_of("path"))
            if resolved is None:
                return None
            raw_path = str(resolved)
        if not raw_path:
            self.problems.add("a data input needs a path.", key=f"{key}.path", line=line,
                              fix="add 'path:' with a local folder or file")
            return None
        try:
            path = local_path(str(raw_path), base=_file_of(value, self.path, "path").parent,
                              datastores=self.ctx.datastores)
        except UserError as exc:
            self.problems.add(_bare(exc), key=f"{key}.path",
                              line=value.line_of("path"), fix=exc.fix)
            return None
        if not path.exists():
            self.problems.add(f"input path does not exist: {path}", key=f"{key}.path", line=value.line_of("path"),
                              fix="create it, or correct the path (relative paths start at the YAML's folder)")
            return None
        if kind == "uri_file" and path.is_dir():
            self.problems.add(f"input type is uri_file but {path} is a folder.", key=f"{key}.type",
                              line=value.line_of("type"), fix="use type: uri_folder")
        if kind == "mltable" and not (path / "MLTable").is_file():
            self.problems.add(f"input type is mltable but {path} has no MLTable file.", key=f"{key}.path",
                              line=value.line_of("path"), fix="point at the folder that holds the MLTable file")
        return DataInput(name, str(kind), path, mode, Where(self.path, line))

    def _bound_input(self, name: str, expr: str, key: str, line: int | None, parent: dict[str, Input],
                     declared_type: str | None = None, mode: str | None = None) -> Input | None:
        parts = expr.split(".")
        where = Where(self.path, line)
        if len(parts) == 5 and parts[:2] == ["parent", "jobs"] and parts[3] == "outputs":
            upstream = self.job_outputs.get(parts[2])
            if upstream is None:
                return None  # the upstream job is invalid or unknown: reported where it is defined
            if parts[4] not in upstream:
                self.problems.add(f"'${{{{{expr}}}}}' names output '{parts[4]}' of job '{parts[2]}', which it does "
                                  f"not have; {did_you_mean(parts[4], upstream)}", key=key, line=line,
                                  fix="correct the output name")
                return None
            out = upstream[parts[4]]
            return DataInput(name, declared_type or out.type, out.path, mode, where, producer=f"{parts[2]}.{parts[4]}")
        if len(parts) == 3 and parts[:2] == ["parent", "inputs"] and parts[2] in parent:
            bound = parent[parts[2]]
            if isinstance(bound, DataInput):
                return DataInput(name, declared_type or bound.type, bound.path, mode or bound.mode, where)
            return LiteralInput(name, bound.value, where)
        if len(parts) == 3 and parts[:2] == ["parent", "inputs"]:
            self.problems.add(f"'${{{{{expr}}}}}' names pipeline input '{parts[2]}', which does not exist; "
                              f"{did_you_mean(parts[2], parent)}", key=key, line=line,
                              fix="declare it under the pipeline's inputs")
        else:
            self.problems.add(f"'${{{{{expr}}}}}' cannot be resolved here; inputs of a job bind to "
                              "${{parent.inputs.<name>}} or ${{parent.jobs.<job>.outputs.<name>}}.", key=key, line=line)
        return None

    def outputs(self, raw: Any, prefix: str, job_dir: Path, parent: dict[str, DataOutput]) -> dict[str, DataOutput]:
        result: dict[str, DataOutput] = {}
        if raw is None:
            return result
        if not isinstance(raw, YamlMap):
            self.problems.add("outputs must be a mapping of name -> output.", key=prefix.rstrip("."), line=None)
            return result
        for name, value in raw.items():
            key, line = f"{prefix}{name}", raw.line_of(name)
            default = job_dir / "outputs" / str(name)
            expr = is_single_binding(value)
            if expr is not None:
                parts = expr.split(".")
                if len(parts) == 3 and parts[:2] == ["parent", "outputs"] and parts[2] in parent:
                    bound = parent[parts[2]]
                    result[str(name)] = DataOutput(str(name), bound.type, bound.path, bound.mode, Where(self.path, line))
                else:
                    self.problems.add(f"'${{{{{expr}}}}}' does not name a pipeline output; "
                                      f"{did_you_mean(parts[-1], parent)}", key=key, line=line)
                continue
            if value is None:
                result[str(name)] = DataOutput(str(name), "uri_folder", default, None, Where(self.path, line))
                continue
            if not isinstance(value, YamlMap):
                self.problems.add("an output must be a mapping with 'type:'.", key=key, line=line)
                continue
            self.problems.unknown_keys(value, OUTPUT_KEYS, f"{key}.", "an output")
            kind = value.get("type", "uri_folder")
            if kind not in DATA_TYPES:
                self.problems.add(f"output type '{kind}' is not valid; {did_you_mean(str(kind), DATA_TYPES)}",
                                  key=f"{key}.type", line=value.line_of("type"))
                continue
            mode = value.get("mode")
            if mode is not None and mode not in OUTPUT_MODES:
                self.problems.add(f"output mode '{mode}' is not valid; {did_you_mean(str(mode), OUTPUT_MODES)}",
                                  key=f"{key}.mode", line=value.line_of("mode"))
            path = default
            if value.get("path"):
                text = substitute(str(value["path"]), self._path_variable)
                try:
                    path = local_path(text, base=_file_of(value, self.path, "path").parent,
                                      datastores=self.ctx.datastores)
                except UserError as exc:
                    self.problems.add(_bare(exc), key=f"{key}.path", line=value.line_of("path"), fix=exc.fix)
                    continue
            result[str(name)] = DataOutput(str(name), str(kind), path, mode, Where(self.path, line))
        return result

    def _asset(self, ref: str, key: str, line: int | None) -> Path | None:
        from tenantml.assets import AssetError

        assets = self.ctx.assets
        try:
            if assets is None:
                raise AssetError(ref, None)
            return assets.resolve(ref)
        except AssetError as exc:
            self.problems.add(exc.message, key=key, line=line, fix=exc.fix)
            return None

    def _path_variable(self, expr: str) -> str:
        if expr == "name":
            return self.ctx.run_id
        if expr == "default_datastore":
            return self.default_datastore
        return "${{" + expr + "}}"

    # ----------------------------------------------------------------- parallel job
    def parallel_job(self, name: str, raw: YamlMap, parent_inputs: dict[str, Input],
                     parent_outputs: dict[str, DataOutput], warnings: list[str]) -> ParallelJob | None:
        p = self.problems
        prefix = f"jobs.{name}."
        before = len(p.items)
        p.unknown_keys(raw, PARALLEL_KEYS, prefix, "a parallel job")
        inputs = self.inputs(raw.get("inputs") or YamlMap(), f"{prefix}inputs.", parent_inputs)
        outputs = self.outputs(raw.get("outputs"), f"{prefix}outputs.", self.ctx.run_dir / name, parent_outputs)
        self.job_outputs[name] = outputs

        task = raw.get("task")
        if not isinstance(task, YamlMap):
            p.add("a parallel job needs a 'task:' with code and entry_script.", key=f"{prefix}task",
                  line=raw.line_of("task") or raw.line, fix="add task: {type: run_function, code: ./src, entry_script: x.py}")
            return None
        p.unknown_keys(task, TASK_KEYS, f"{prefix}task.", "the task of a parallel job")
        task_type = task.get("type", "run_function")
        if task_type != "run_function":
            p.add(f"task type '{task_type}' cannot run locally; tenantml runs 'run_function' tasks.",
                  key=f"{prefix}task.type", line=task.line_of("type"), fix="use type: run_function")

        # what is divided into mini-batches
        input_data = self._input_data(raw, prefix, inputs)
        partition_keys = self._partition_keys(raw, prefix)
        data = inputs.get(input_data) if input_data else None
        mini_batch_size = raw.get("mini_batch_size")
        if isinstance(mini_batch_size, int) and not isinstance(mini_batch_size, bool):
            warnings.append(f"{_file_of(raw, self.path, 'mini_batch_size')}:{raw.line_of('mini_batch_size')}: "
                            f"{prefix}mini_batch_size: Azure ML's schema wants a string: az ml job create rejects "
                            f"{mini_batch_size}; write \"{mini_batch_size}\" (it runs locally as is).")
        if partition_keys and mini_batch_size is not None:
            warnings.append(f"{self.path}: {prefix}partition_keys: both partition_keys and mini_batch_size are set; "
                            "partition_keys wins (one mini-batch per partition), as on Azure ML v2.")
            mini_batch_size = None
        if isinstance(data, DataInput) and not partition_keys and data.path.exists():
            self._check_mini_batch_size(mini_batch_size, data, prefix, raw)

        instance_count = self._int(raw.get("resources") or YamlMap(), "instance_count", f"{prefix}resources.", 1, 1)
        if isinstance(raw.get("resources"), YamlMap):
            p.unknown_keys(raw["resources"], RESOURCES_KEYS, f"{prefix}resources.", "resources")
        concurrency = self._int(raw, "max_concurrency_per_instance", prefix, 1, 1)
        retry_raw = raw.get("retry_settings") or YamlMap()
        if isinstance(retry_raw, YamlMap):
            p.unknown_keys(retry_raw, RETRY_KEYS, f"{prefix}retry_settings.", "retry_settings")
        retry = RetrySettings(max_retries=self._int(retry_raw, "max_retries", f"{prefix}retry_settings.", 2, 0),
                              timeout=self._number(retry_raw, "timeout", f"{prefix}retry_settings.", 60.0, 0.0))
        mb_threshold = self._int(raw, "mini_batch_error_threshold", prefix, -1, -1)
        error_threshold = self._int(raw, "error_threshold", prefix, -1, -1)
        level = str(raw.get("logging_level", "INFO")).upper()
        if level not in LOGGING_LEVELS:
            p.add(f"logging_level '{raw.get('logging_level')}' is not valid.", key=f"{prefix}logging_level",
                  line=raw.line_of("logging_level"), fix="use one of " + ", ".join(LOGGING_LEVELS))

        resolve = self._job_resolver(name, inputs, outputs, prefix, raw)
        program_arguments = self._program_arguments(task, prefix, resolve)
        runner_args = self._runner_arguments(program_arguments, task, prefix)
        if error_threshold == -1 and runner_args.error_threshold is not None:
            error_threshold = runner_args.error_threshold
        append_row_to = self._append_row_to(task, prefix, outputs)
        env: dict[str, str] = {}
        for holder, key_prefix in ((raw, prefix), (task, f"{prefix}task.")):
            env.update(self._environment_variables(holder, key_prefix, resolve))

        code, entry_script = self._entry_script(task, prefix)
        if len(p.items) > before or code is None or entry_script is None or input_data is None:
            return None
        return ParallelJob(
            name=name, source=self.path, code=code, entry_script=entry_script, inputs=inputs, outputs=outputs,
            input_data=input_data, mini_batch_size=None if mini_batch_size is None else str(mini_batch_size),
            partition_keys=partition_keys, instance_count=instance_count, max_concurrency_per_instance=concurrency,
            retry_settings=retry, mini_batch_error_threshold=mb_threshold, error_threshold=error_threshold,
            logging_level=level, program_arguments=program_arguments, runner_arguments=runner_args,
            append_row_to=append_row_to, environment_variables=env, where=Where(self.path, raw.line),
            depends_on=tuple(sorted(getattr(self, "deps", {}).get(name, ()))), definition=_plain(raw),
            is_deterministic=_truthy(raw.get("is_deterministic", True)))

    def _input_data(self, raw: YamlMap, prefix: str, inputs: dict[str, Input]) -> str | None:
        value = raw.get("input_data")
        line = raw.line_of("input_data")
        expr = is_single_binding(value)
        if value is None:
            self.problems.add("a parallel job needs input_data, the input divided into mini-batches.",
                              key=f"{prefix}input_data", line=raw.line, fix="add input_data: ${{inputs.<name>}}")
            return None
        if expr is None or not expr.startswith("inputs."):
            self.problems.add(f"input_data is '{value}'; it must be a binding to one of the job's inputs.",
                              key=f"{prefix}input_data", line=line, fix="write input_data: ${{inputs.<name>}}")
            return None
        name = expr.split(".", 1)[1]
        if name not in inputs:
            self.problems.add(f"input_data names input '{name}', which the job does not have; "
                              f"{did_you_mean(name, inputs)}", key=f"{prefix}input_data", line=line,
                              fix="declare it under the job's inputs or correct the name")
            return None
        if not isinstance(inputs[name], DataInput):
            self.problems.add(f"input_data names input '{name}', which is a literal value, not data.",
                              key=f"{prefix}input_data", line=line, fix="bind input_data to a uri_folder, uri_file or mltable input")
            return None
        return name

    def _partition_keys(self, raw: YamlMap, prefix: str) -> tuple[str, ...]:
        value = raw.get("partition_keys")
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            self.problems.add("partition_keys must be a list of column names.", key=f"{prefix}partition_keys",
                              line=raw.line_of("partition_keys"), fix="write partition_keys: [store, brand]")
            return ()
        return tuple(value)

    def _check_mini_batch_size(self, value: Any, data: DataInput, prefix: str, raw: YamlMap) -> None:
        from tenantml.division import is_tabular
        from tenantml.minibatch_size import parse_mini_batch_size
        try:
            parse_mini_batch_size(value, tabular=is_tabular(data))
        except UserError as exc:
            self.problems.add(_bare(exc), key=f"{prefix}mini_batch_size", line=raw.line_of("mini_batch_size"),
                              fix=exc.fix)

    def _int(self, raw: Any, key: str, prefix: str, default: int, minimum: int) -> int:
        if not isinstance(raw, YamlMap) or key not in raw:
            return default
        value = raw[key]
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.problems.add(f"{key} is {value!r}; it must be a whole number >= {minimum}.", key=f"{prefix}{key}",
                              line=raw.line_of(key), fix=f"set it to e.g. {max(default, minimum)}")
            return default
        return value

    def _number(self, raw: Any, key: str, prefix: str, default: float, above: float) -> float:
        if not isinstance(raw, YamlMap) or key not in raw:
            return default
        value = raw[key]
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if isinstance(value, bool) or not number > above:
            self.problems.add(f"{key} is {value!r}; it must be a number > {above:g}.", key=f"{prefix}{key}",
                              line=raw.line_of(key), fix=f"set it to e.g. {default:g}")
            return default
        return number

    def _job_resolver(self, job: str, inputs: dict[str, Input], outputs: dict[str, DataOutput], prefix: str,
                      raw: YamlMap, quote: bool = False):
        """Resolve ``inputs.x``/``outputs.y``; for a shell command, paths are quoted and values verbatim."""
        def path_text(path: Path) -> str:
            return shlex.quote(str(path)) if quote else str(path)

        def resolve(expr: str, key: str, line: int | None) -> str | None:
            kind, _, name = expr.partition(".")
            if kind == "inputs" and name in inputs:
                value = inputs[name]
                if isinstance(value, DataInput):
                    return path_text(value.path)
                return _literal_text(value.value)
            if kind == "outputs" and name in outputs:
                return path_text(outputs[name].path)
            if kind == "name":
                return self.ctx.run_id
            pool = inputs if kind == "inputs" else outputs if kind == "outputs" else {}
            if kind in ("inputs", "outputs"):
                self.problems.add(f"'${{{{{expr}}}}}' names {kind[:-1]} '{name}', which job '{job}' does not have; "
                                  f"{did_you_mean(name, pool)}", key=key, line=line,
                                  fix=f"declare it under the job's {kind} or correct the name")
            else:
                self.problems.add(f"'${{{{{expr}}}}}' cannot be resolved; use ${{{{inputs.<name>}}}} or "
                                  "${{outputs.<name>}}.", key=key, line=line)
            return None
        return resolve

    def _program_arguments(self, task: YamlMap, prefix: str, resolve) -> tuple[str, ...]:
        raw = task.get("program_arguments")
        if raw is None:
            return ()
        key, line = f"{prefix}task.program_arguments", task.line_of("program_arguments")
        try:
            tokens = shlex.split(str(raw))
        except ValueError as exc:
            self.problems.add(f"program_arguments cannot be split into arguments: {exc}.", key=key, line=line,
                              fix="balance the quotes")
            return ()
        result: list[str] = []
        for token in tokens:
            ok = True

            def one(expr: str) -> str:
                nonlocal ok
                value = resolve(expr, key, line)
                ok = ok and value is not None
                return value or ""
            result.append(substitute(token, one))
        return tuple(result)

    def _runner_arguments(self, args: tuple[str, ...], task: YamlMap, prefix: str) -> RunnerArguments:
        import argparse

        parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
        parser.add_argument("--error_threshold", type=int)
        parser.add_argument("--allowed_failed_percent", type=float, default=100.0)
        parser.add_argument("--task_overhead_timeout", type=float, default=600.0)
        parser.add_argument("--progress_update_timeout", type=float)
        parser.add_argument("--first_task_creation_timeout", type=float, default=600.0)
        parser.add_argument("--resource_monitor_interval", type=float, default=0.0)
        key, line = f"{prefix}task.program_arguments", task.line_of("program_arguments")
        try:
            known, _ = parser.parse_known_args(list(args))
        except (argparse.ArgumentError, SystemExit) as exc:
            self.problems.add(f"a runner flag in program_arguments has a bad value: {exc}.", key=key, line=line,
                              fix="give the flag a number")
            return RunnerArguments()
        if not 0 <= known.allowed_failed_percent <= 100:
            self.problems.add(f"--allowed_failed_percent is {known.allowed_failed_percent:g}; it must be 0 to 100.",
                              key=key, line=line)
        if known.error_threshold is not None and known.error_threshold < -1:
            self.problems.add(f"--error_threshold is {known.error_threshold}; it must be -1 or more.", key=key, line=line)
        return RunnerArguments(known.error_threshold, known.allowed_failed_percent, known.task_overhead_timeout,
                               known.progress_update_timeout, known.first_task_creation_timeout,
                               known.resource_monitor_interval)

    def _append_row_to(self, task: YamlMap, prefix: str, outputs: dict[str, DataOutput]) -> str | None:
        value = task.get("append_row_to")
        if value is None:
            return None
        key, line = f"{prefix}task.append_row_to", task.line_of("append_row_to")
        expr = is_single_binding(value)
        if expr is None or not expr.startswith("outputs."):
            self.problems.add(f"append_row_to is '{value}'; it must be a binding to one of the job's outputs.",
                              key=key, line=line, fix="write append_row_to: ${{outputs.<name>}}")
            return None
        name = expr.split(".", 1)[1]
        if name not in outputs:
            self.problems.add(f"append_row_to names output '{name}', which the job does not have; "
                              f"{did_you_mean(name, outputs)}", key=key, line=line,
                              fix="declare it under the job's outputs")
            return None
        return name

    def _environment_variables(self, holder: YamlMap, prefix: str, resolve) -> dict[str, str]:
        raw = holder.get("environment_variables")
        if raw is None:
            return {}
        key = f"{prefix}environment_variables"
        if not isinstance(raw, YamlMap):
            self.problems.add("environment_variables must be a mapping of NAME: value.", key=key,
                              line=holder.line_of("environment_variables"))
            return {}
        env: dict[str, str] = {}
        for name, value in raw.items():
            text = _literal_text(value)
            env[str(name)] = substitute(text, lambda e: resolve(e, f"{key}.{name}", raw.line_of(name)) or "")
        return env

    def _entry_script(self, task: YamlMap, prefix: str) -> tuple[Path | None, str | None]:
        p = self.problems
        code = self._code_folder(task, f"{prefix}task.", default=_file_of(task, self.path).parent)
        if code is None:
            return None, None
        entry = task.get("entry_script")
        key, line = f"{prefix}task.entry_script", task.line_of("entry_script") or task.line
        if not entry:
            p.add("a parallel task needs entry_script, the file with init() and run().", key=key, line=line,
                  fix="add entry_script: <file>.py")
            return code, None
        script = code / str(entry)
        if not script.is_file():
            near = did_you_mean(Path(str(entry)).name, [f.name for f in code.glob("*.py")])
            p.add(f"entry script {script} does not exist; {near}", key=key, line=line,
                  fix="correct entry_script; it is relative to task.code")
            return code, None
        problem = entry_script_problem(script)
        if problem is not None:
            message, details = problem
            p.add(message, key=key, line=line, details=details, fix=None if details else
                  "define def run(mini_batch): ... returning a list or a pandas DataFrame")
        return code, str(entry)


def _file_of(holder: Any, default: Path, key: str | None = None) -> Path:
    """The YAML file a key (or mapping) came from: components live in their own files."""
    if isinstance(holder, YamlMap):
        line = holder.lines.get(key) if key is not None else None
        for candidate in (line, holder.line):
            file = getattr(candidate, "file", None)
            if file is not None:
                return Path(file)
    return default


def _strip_file_prefix(ref: str) -> str:
    return ref[len("file:"):] if ref.startswith("file:") else ref


def _rebase_path(value: Any, base: Path) -> Path:
    path = Path(_strip_file_prefix(str(value)))
    return path if path.is_absolute() else base / path


def _rebase_code(key: str, value: Any, base: Path) -> Any:
    """A component's relative ``code`` is relative to the component file: make it absolute."""
    if key == "code" and isinstance(value, str) and not value.startswith(("azureml:", "http")):
        return str(_rebase_path(value, base))
    if key == "task" and isinstance(value, YamlMap) and isinstance(value.get("code"), str):
        task = YamlMap(value)
        task.lines, task.line = dict(value.lines), value.line
        task["code"] = _rebase_code("code", value["code"], base)
        return task
    return value


def _bindings_in(value: Any, line: int | None) -> list[tuple[str, int | None]]:
    found: list[tuple[str, int | None]] = []
    if isinstance(value, YamlMap):
        for k, v in value.items():
            found += _bindings_in(v, value.line_of(k))
    elif isinstance(value, list):
        for v in value:
            found += _bindings_in(v, line)
    elif isinstance(value, str):
        found += [(expr, line) for expr in BINDING.findall(value)]
    return found


def _find_cycle(deps: dict[str, set[str]]) -> list[str]:
    start = next(iter(deps))
    path, seen = [start], {start}
    node = start
    while True:
        node = sorted(deps[node])[0]
        if node in seen:
            return path[path.index(node):] + [node]
        path.append(node)
        seen.add(node)


def _optional_blocks(command: str, inputs: dict[str, Input]) -> str:
    """Azure ML's ``$[[ ... ]]``: keep the text when every input it names has a value, else drop it."""
    import re

    def keep(match: "re.Match[str]") -> str:
        names = [e.split(".", 1)[1] for e in BINDING.findall(match.group(1)) if e.startswith("inputs.")]
        present = all(n in inputs and not (isinstance(inputs[n], LiteralInput) and inputs[n].value is None)
                      for n in names)
        return match.group(1) if present else ""
    return re.sub(r"\$\[\[(.*?)\]\]", keep, command, flags=re.S)


def _plain(value: Any) -> Any:
    """YAML data as plain JSON-able data (for fingerprints)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def entry_script_problem(script: Path) -> tuple[str, str | None] | None:
    """A syntax error, or no top-level ``run``: what the user must fix before anything runs."""
    source = script.read_bytes()
    try:
        tree = ast.parse(source, filename=str(script))
    except SyntaxError as exc:
        details = "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
        return f"the entry script {script} has a syntax error (line {exc.lineno}).", details
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif not isinstance(node, (ast.Expr, ast.ClassDef, ast.AnnAssign)):
            return None  # conditional definitions: leave the verdict to the import in the worker
    if "run" not in names:
        return f"the entry script {script} defines no run() function.", None
    return None


def _literal_text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return "" if value is None else str(value)


def _bare(exc: UserError) -> str:
    """A UserError's message without its location and fix (to re-anchor it at a YAML key)."""
    text = exc.message
    if exc.fix:
        text = text[: -len(f" Fix: {exc.fix}")]
    return text


__all__ = ["Pipeline", "LoadContext", "load_pipeline", "entry_script_problem", "BINDING"]
