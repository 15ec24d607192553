"""Pipeline YAML (Azure ML CLI v2) -> validated, resolved :mod:`tenantml.spec` objects.

Everything that can be checked without running is checked here, and every problem found is
reported at once (``file:line: key: message``), before the first process starts. The work is
done by :mod:`tenantml.loading`, one concern per module::

    YAML --yamlio--> YamlMap --schema (keys)--> components (component: files) --> dag (order)
         --> for each job in order: resolve (inputs/outputs/code) + bindings (${{...}} text)
             + entry_script (AST) --> jobs (CommandJob / ParallelJob) --> Pipeline
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tenantml.bindings import BINDING
from tenantml.errors import UserError, ValidationErrors
from tenantml.loading.components import expand_component
from tenantml.loading.dag import dependency_order
from tenantml.loading.entry_script import entry_script_problem
from tenantml.loading.jobs import JobBuilder
from tenantml.loading.resolve import Resolver
from tenantml.loading.schema import PIPELINE_KEYS, SETTINGS_KEYS, Problems, truthy
from tenantml.locations import DEFAULT_DATASTORE, Datastores
from tenantml.runfolder.names import node_name_problem
from tenantml.spec import Job
from tenantml.yamlio import YamlMap, load_yaml

if TYPE_CHECKING:
    from tenantml.assets import Assets


# Node types Azure ML runs in a pipeline that tenantml does not run locally
# (azure.ai.ml.constants._component.NodeType: SWEEP, PIPELINE, SPARK, AUTOML, DATA_TRANSFER, IMPORT)
AZURE_ML_NODE_TYPES = frozenset({"sweep", "pipeline", "spark", "automl", "data_transfer", "import"})


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
    """Load and validate a pipeline YAML; raise ValidationErrors listing every problem."""
    path = path.absolute()
    raw = load_yaml(path, what="pipeline YAML")
    if not isinstance(raw, YamlMap):
        raise UserError("the pipeline YAML must be a mapping with 'type: pipeline' and 'jobs:'.", file=path,
                        fix="see examples/ for the layout")
    if ctx.overrides:
        from tenantml.overrides import apply_overrides

        apply_overrides(raw, list(ctx.overrides))
    problems = Problems(path)
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
    resolver = Resolver(path=path, problems=problems, datastores=ctx.datastores, run_id=ctx.run_id,
                        default_datastore=default_datastore, assets=ctx.assets, local=ctx.local)
    run_dir = ctx.run_dir if ctx.run_dir is not None else Path()
    parent_inputs = resolver.inputs(raw.get("inputs") or YamlMap(), "inputs.", parent={})
    parent_outputs = resolver.outputs(raw.get("outputs") or YamlMap(), "outputs.", job_dir=run_dir / "pipeline",
                                      parent={})
    jobs_raw = raw.get("jobs")
    jobs: dict[str, Job] = {}
    notes: list[str] = []
    if not isinstance(jobs_raw, YamlMap) or not jobs_raw:
        problems.add("the pipeline has no jobs.", key="jobs", line=raw.line_of("jobs"),
                     fix="add at least one job under 'jobs:'")
        raise ValidationErrors(problems.items)
    nodes: dict[str, YamlMap] = {}
    for name, job_raw in jobs_raw.items():
        key = f"jobs.{name}"
        if (bad_name := node_name_problem(name)) is not None:  # it names a folder of the run
            problems.add(bad_name + ".", key=key, line=jobs_raw.line_of(name), fix="rename the job, e.g. 'score_tenants'")
            continue
        if not isinstance(job_raw, YamlMap):
            problems.add("a job must be a mapping.", key=key, line=jobs_raw.line_of(name))
            continue
        merged = expand_component(str(name), job_raw, path, problems)
        if merged is not None:
            nodes[str(name)] = merged
    order, deps = dependency_order(nodes, jobs_raw, problems)
    builder = JobBuilder(resolver, run_dir, deps)
    for name in order:
        node = nodes[name]
        job_type = node.get("type")
        job: Job | None
        if job_type == "parallel":
            job = builder.parallel_job(name, node, parent_inputs, parent_outputs)
        elif job_type == "command":
            job = builder.command_job(name, node, parent_inputs, parent_outputs)
        else:
            problems.add(f"job type '{job_type}' cannot run locally; tenantml runs 'command' and 'parallel' "
                         "steps.", key=f"jobs.{name}.type", line=node.line_of("type"),
                         fix="use type: command or type: parallel, or run this pipeline with --backend aml",
                         local_only=job_type in AZURE_ML_NODE_TYPES)
            continue
        if job is not None:
            jobs[name] = job
        if "compute" in node:
            notes.append("'compute' is used on Azure ML only; locally the steps run on this machine.")
    if problems.items:
        raise ValidationErrors(problems.items)
    name = str(raw.get("display_name") or raw.get("name") or path.stem)
    experiment = str(raw.get("experiment_name") or path.absolute().parent.name)
    return Pipeline(source=path, name=name, experiment_name=experiment, jobs=jobs, warnings=tuple(builder.warnings),
                    notes=tuple(dict.fromkeys(notes)), force_rerun=truthy(settings.get("force_rerun")),
                    continue_on_step_failure=truthy(settings.get("continue_on_step_failure")))


__all__ = ["Pipeline", "LoadContext", "load_pipeline", "entry_script_problem", "BINDING"]
