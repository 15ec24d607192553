"""Pipeline YAML (Azure ML CLI v2) -> validated, resolved :mod:`tenantml.spec` objects.

Everything that can be checked without running is checked here, and every problem found is
reported at once (``file:line: key: message``), before the first process starts. The work is
done by :mod:`tenantml.loading`, one concern per module::

    YAML --yamlio--> YamlMap --schema (keys)--> graph: components (component: files, registered ones
         through tenantml.yml) --> dag (order) --> for each job in order: resolve (inputs/outputs/code)
         + bindings (${{...}} text) + entry_script (AST) --> jobs (CommandJob / ParallelJob); a pipeline
         component is a scope of its own, flattened to parent/child jobs --> Pipeline

A standalone ``type: command`` job is loaded as a pipeline of one step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tenantml.bindings import BINDING
from tenantml.errors import LocalOnlyProblem, UserError, ValidationErrors
from tenantml.loading.entry_script import entry_script_problem
from tenantml.loading.graph import (
    AZURE_ML_NODE_TYPES,
    SWEEP_FIX,
    SWEEP_ONLY_ON_AZURE,
    Graph,
    as_one_step_pipeline,
)
from tenantml.loading.resolve import Resolver
from tenantml.loading.schema import PIPELINE_KEYS, SETTINGS_KEYS, Problems, truthy
from tenantml.locations import DEFAULT_DATASTORE, Datastores
from tenantml.spec import Job
from tenantml.suggest import did_you_mean
from tenantml.yamlio import YamlMap, duplicate_keys, load_yaml

if TYPE_CHECKING:
    from tenantml.assets import Assets


# Node types Azure ML runs in a pipeline that tenantml does not run locally
# (azure.ai.ml.constants._component.NodeType: SWEEP, PIPELINE, SPARK, AUTOML, DATA_TRANSFER, IMPORT)


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


@dataclass(frozen=True)
class LoadContext:
    """What a load is for. ``local=True``: a run on this machine, every path resolved here.

    ``local=False`` (validation, or a backend that runs elsewhere): data that lives in Azure
    (``azureml://``, ``azureml:<asset>``, storage URLs) is kept as its URI and never looked up
    here; ``run_dir``/``run_id`` may be None (outputs default to ``<job>/outputs/<name>``,
    ``${{name}}`` stays as written). Everything else is checked the same way.
    """

    run_dir: Path | None  # outputs default to <run_dir>/<job>/outputs/<name>
    run_id: str | None
    datastores: Datastores
    overrides: tuple[str, ...] = ()  # --set KEY=VALUE, applied to the YAML before validation
    assets: Assets | None = None
    local: bool = True


def load_pipeline(path: Path, ctx: LoadContext) -> Pipeline:
    """Load and validate a pipeline YAML (or a standalone command job); raise ValidationErrors listing every problem."""
    path = path.absolute()
    raw = load_yaml(path, what="pipeline YAML")
    if not isinstance(raw, YamlMap):
        raise UserError("the pipeline YAML must be a mapping with 'type: pipeline' and 'jobs:'.", file=path,
                        fix="see examples/ for the layout")
    if ctx.overrides:
        from tenantml.overrides import apply_overrides

        apply_overrides(raw, list(ctx.overrides))
    schema = str(raw.get("$schema") or "")
    if re.search(r"component\.schema\.json$", schema, re.IGNORECASE):
        # a component file (20 of the YAML files under azureml-examples' cli/jobs/pipelines-with-components):
        # `az ml job create -f` refuses it too (load_job reads its input declarations as job inputs)
        raise UserError(f"this is a component, not a job ($schema {schema.rsplit('/', 1)[-1]}); a component runs "
                        "as a step of a pipeline.", file=path, key="$schema", line=raw.line_of("$schema"),
                        fix=f"run the pipeline that uses it (a job with component: ./{path.name}), or wrap it in a "
                            "pipeline YAML with type: pipeline and a job naming it under component:")
    problems = Problems(path)
    for warning in duplicate_keys(raw, path):
        problems.warn_once(warning)
    # no type: a pipeline when it has jobs, else a command job (azure-ai-ml's load_job defaults to command)
    kind = raw.get("type", "pipeline" if "jobs" in raw or "command" not in raw else "command")
    if kind == "command":
        raw = as_one_step_pipeline(raw, path)
    elif kind == "sweep":
        # about this machine only: `az ml job create -f` submits a sweep job, so --backend aml waives it
        raise ValidationErrors([LocalOnlyProblem(SWEEP_ONLY_ON_AZURE, file=path, key="type",
                                                 line=raw.line_of("type"), fix=SWEEP_FIX)])
    elif kind in AZURE_ML_NODE_TYPES:
        raise ValidationErrors([LocalOnlyProblem(
            f"a standalone {kind} job runs on Azure ML only; tenantml runs pipeline jobs and command jobs locally.",
            file=path, key="type", line=raw.line_of("type"), fix="run it with --backend aml")])
    elif kind != "pipeline":
        raise UserError(f"type is '{kind}'; tenantml runs pipeline jobs and command jobs (Azure ML runs parallel "
                        "steps only inside pipelines).", file=path, key="type", line=raw.line_of("type"),
                        fix="wrap the step under 'jobs:' of a file with 'type: pipeline'")
    problems.unknown_keys(raw, PIPELINE_KEYS, "", "the pipeline")
    settings = raw.get("settings") or YamlMap()
    if not isinstance(settings, YamlMap):
        problems.add(f"settings is {type(settings).__name__} {str(settings)[:60]!r}; it must be a mapping.",
                     key="settings", line=raw.line_of("settings"),
                     fix="write settings: with keys such as default_compute: indented under it")
        settings = YamlMap()
    else:
        _check_settings(settings, problems)
        # azure-ai-ml's PipelineJobSettingsSchema has `unknown = INCLUDE`: an unknown setting is sent to
        # Azure ML unchecked and the job runs (azureml-examples' own 3a_basic_pipeline says
        # `default_datestore:`), so it is a warning here, not a refusal
        for key in settings:
            if key not in SETTINGS_KEYS:
                problems.warn_once(f"{path}:{settings.line_of(key)}: settings.{key}: not a pipeline setting; "
                                   f"{did_you_mean(str(key), SETTINGS_KEYS)} azure-ai-ml sends unknown settings to "
                                   "Azure ML unchecked, so it has no effect there or here.")
    default_datastore = str(settings.get("default_datastore") or DEFAULT_DATASTORE).removeprefix("azureml:")
    resolver = Resolver(path=path, problems=problems, datastores=ctx.datastores, run_id=ctx.run_id,
                        default_datastore=default_datastore, assets=ctx.assets, local=ctx.local)
    run_dir = ctx.run_dir if ctx.run_dir is not None else Path()
    parent_inputs = resolver.inputs(raw.get("inputs") or YamlMap(), "inputs.", parent={})
    resolver.failed_parent = resolver.reported("inputs.")
    parent_outputs = resolver.outputs(raw.get("outputs") or YamlMap(), "outputs.", job_dir=run_dir / "pipeline",
                                      parent={})
    graph = Graph(run_dir, ctx.assets)
    graph.load(raw, path, resolver, parent_inputs, parent_outputs, scope="", outer_deps=())
    graph.shared_outputs(problems)
    if problems.items:
        raise ValidationErrors(problems.items)
    name = str(raw.get("display_name") or raw.get("name") or path.stem)
    experiment = str(raw.get("experiment_name") or path.absolute().parent.name)
    return Pipeline(source=path, name=name, experiment_name=experiment, jobs=graph.finish(),
                    warnings=tuple(dict.fromkeys([*problems.warnings, *graph.warnings])),
                    notes=tuple(dict.fromkeys(graph.notes)), force_rerun=truthy(settings.get("force_rerun")),
                    continue_on_step_failure=truthy(settings.get("continue_on_step_failure")))


# marshmallow's fields.Boolean: the values azure-ai-ml's PipelineJobSettingsSchema accepts as a bool
BOOL_TEXT = {"t": True, "true": True, "on": True, "y": True, "yes": True, "1": True,
             "f": False, "false": False, "off": False, "n": False, "no": False, "0": False}


def _check_settings(settings: YamlMap, problems: Problems) -> None:
    """The types azure-ai-ml's PipelineJobSettingsSchema (_schema/pipeline/settings.py) refuses:
    ``default_datastore``/``default_compute`` are ArmStr ("Not a valid string."), ``force_rerun``/
    ``continue_on_step_failure`` fields.Bool ("Not a valid boolean.")."""
    for key in ("default_datastore", "default_compute"):
        value = settings.get(key)
        if value is not None and not isinstance(value, str):
            problems.add(f"{key} is {value!r}; azure-ai-ml wants a string ('Not a valid string.').",
                         key=f"settings.{key}", line=settings.line_of(key), fix=f"write e.g. {key}: azureml:name")
    for key in ("force_rerun", "continue_on_step_failure"):
        value = settings.get(key)
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, (str, int)) and str(value).strip().lower() in BOOL_TEXT:
            settings[key] = BOOL_TEXT[str(value).strip().lower()]
            continue
        problems.add(f"{key} is {value!r}; azure-ai-ml wants a boolean ('Not a valid boolean.').",
                     key=f"settings.{key}", line=settings.line_of(key), fix=f"write {key}: true (or false)")


__all__ = ["Pipeline", "LoadContext", "load_pipeline", "entry_script_problem", "BINDING"]
