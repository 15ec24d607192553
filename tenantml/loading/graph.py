"""The jobs of a pipeline, its pipeline components flattened; a standalone command job as a pipeline."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tenantml.loading.components import expand_component
from tenantml.loading.dag import dependency_order
from tenantml.loading.jobs import JobBuilder
from tenantml.loading.resolve import Resolver
from tenantml.loading.schema import Problems, file_of
from tenantml.runfolder.names import node_name_problem
from tenantml.spec import DataOutput, Input, Job
from tenantml.yamlio import YamlMap

if TYPE_CHECKING:
    from tenantml.assets import Assets


@dataclass
class Graph:
    """The jobs of a pipeline and of its pipeline components, flattened: ``parent/child`` names.

    A ``type: pipeline`` node is a scope of its own (its jobs bind ``${{parent.inputs.x}}`` to the
    node's inputs and ``${{parent.outputs.y}}`` to the node's outputs); a job that reads an output
    of the node waits for every job inside it, as on Azure ML, where the node is one step.
    """

    run_dir: Path
    assets: Assets | None
    jobs: dict[str, Job] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)  # pipeline node -> its jobs (full names)
    waits: dict[str, tuple[str, ...]] = field(default_factory=dict)  # job -> upstream nodes (full names)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def load(self, raw: YamlMap, file: Path, resolver: Resolver, parent_inputs: dict[str, Input],
             parent_outputs: dict[str, DataOutput], scope: str, outer_deps: tuple[str, ...]) -> list[str]:
        problems = resolver.problems
        jobs_raw = raw.get("jobs")
        if not isinstance(jobs_raw, YamlMap) or not jobs_raw:
            problems.add("the pipeline has no jobs.", key="jobs", line=raw.line_of("jobs"), file=file,
                         fix="add at least one job under 'jobs:'")
            return []
        nodes: dict[str, YamlMap] = {}
        for name, job_raw in jobs_raw.items():
            key = f"jobs.{name}"
            if (bad_name := node_name_problem(name)) is not None:  # it names a folder of the run
                problems.add(bad_name + ".", key=key, line=jobs_raw.line_of(name),
                             fix="rename the job, e.g. 'score_tenants'")
                continue
            if not isinstance(job_raw, YamlMap):
                problems.add("a job must be a mapping.", key=key, line=jobs_raw.line_of(name))
                continue
            merged = expand_component(str(name), job_raw, file, problems, self.assets, resolver.local)
            if merged is not None and "type" not in merged:
                merged = with_default_type(merged)
            if merged is not None:
                nodes[str(name)] = merged
        order, deps = dependency_order(nodes, jobs_raw, problems)
        builder = JobBuilder(resolver, self.run_dir, deps, scope=scope)
        names: list[str] = []
        for name in order:
            node = nodes[name]
            job_type = node.get("type")
            full = scope + name
            waits = outer_deps + tuple(scope + d for d in sorted(deps.get(name, ())))
            job: Job | None = None
            if job_type == "parallel":
                job = builder.parallel_job(name, node, parent_inputs, parent_outputs)
            elif job_type == "command":
                job = builder.command_job(name, node, parent_inputs, parent_outputs)
            elif job_type == "pipeline":
                names += self._sub_pipeline(name, node, resolver, parent_inputs, parent_outputs, scope, waits)
                continue
            elif job_type == "sweep":
                problems.add(f"job '{name}': {SWEEP_ONLY_ON_AZURE}", key=f"jobs.{name}.type",
                             line=node.line_of("type"), fix=SWEEP_FIX, local_only=True)
                continue
            else:
                problems.add(f"job type '{job_type}' cannot run locally; tenantml runs 'command', 'parallel' and "
                             "'pipeline' (pipeline component) jobs.", key=f"jobs.{name}.type",
                             line=node.line_of("type"),
                             fix="use type: command or type: parallel, or run this pipeline with --backend aml",
                             local_only=isinstance(job_type, str) and job_type in AZURE_ML_NODE_TYPES)
                continue
            if job is not None:
                self.jobs[full] = job
                self.waits[full] = waits
                names.append(full)
            if "compute" in node:
                self.notes.append("'compute' is used on Azure ML only; locally the steps run on this machine.")
        self.warnings += builder.warnings
        return names

    def _sub_pipeline(self, name: str, node: YamlMap, resolver: Resolver, parent_inputs: dict[str, Input],
                      parent_outputs: dict[str, DataOutput], scope: str, waits: tuple[str, ...]) -> list[str]:
        full = scope + name
        prefix = f"jobs.{name}."
        if full.count("/") >= MAX_DEPTH:
            resolver.problems.add(f"pipeline components nest more than {MAX_DEPTH} deep here ({full}); does a "
                                  "component include itself?", key=f"{prefix}component",
                                  line=node.line_of("component"), fix="break the cycle of component: references")
            return []
        inputs = resolver.inputs(node.get("inputs") or YamlMap(), f"{prefix}inputs.", parent_inputs)
        outputs = resolver.outputs(node.get("outputs"), f"{prefix}outputs.", self.run_dir / full, parent_outputs)
        resolver.job_outputs[name] = outputs
        inner = replace(resolver, job_outputs={}, failed=set(), scope=resolver.scope + name + "/",
                        failed_parent=resolver.reported(f"{prefix}inputs."))
        file = file_of(node.get("jobs"), resolver.path)
        names = self.load(node, file, inner, inputs, outputs, scope=full + "/", outer_deps=waits)
        self.groups[full] = names
        return names

    def shared_outputs(self, problems: Problems) -> None:
        """Two steps writing one folder (two nodes bound to one ``${{parent.outputs.x}}``, or one
        datastore path, or one inside the other): locally each step builds its output aside and
        renames it in place, so one would replace or break the other's. Azure ML lets both write the
        same storage folder (files of one overwrite the other's); here it is refused before any step
        runs, and waived for a backend that runs elsewhere."""
        seen: list[tuple[Path, str]] = []
        for full, job in self.jobs.items():
            for output in job.outputs.values():
                if output.remote is not None:
                    continue
                path = output.path.absolute()
                here = f"{full}.outputs.{output.name}"
                for other_path, other in seen:
                    if path == other_path or path.is_relative_to(other_path) or other_path.is_relative_to(path):
                        where = output.where
                        problems.add(f"output of job '{full}' writes {path}, which output {other} also writes"
                                     f"{'' if path == other_path else ' (one folder inside the other)'}; each "
                                     "step's output must be its own folder.", key=f"jobs.{here}",
                                     line=where.line if where else None, file=where.file if where else None,
                                     fix="bind each pipeline output to one job's output, or give each output its "
                                         "own path", local_only=True)
                        break
                else:
                    seen.append((path, f"{full}.outputs.{output.name}"))

    def finish(self) -> dict[str, Job]:
        """The jobs with ``depends_on`` in full names: waiting on a pipeline node is waiting on its jobs."""
        def expand(name: str) -> list[str]:
            if name in self.groups:
                return [j for member in self.groups[name] for j in expand(member)]
            return [name]
        return {full: replace(job, depends_on=tuple(sorted({j for w in self.waits[full] for j in expand(w)})))
                for full, job in self.jobs.items()}


MAX_DEPTH = 16  # pipeline components inside pipeline components
AZURE_ML_NODE_TYPES = frozenset({"sweep", "spark", "automl", "data_transfer", "import"})

SWEEP_ONLY_ON_AZURE = ("a sweep job (hyperparameter search) runs on Azure ML only: its sampling, early termination "
                       "and trial scheduling have no faithful local form in tenantml.")
SWEEP_FIX = ("run it with --backend aml; to try one trial locally, run its trial component as a command job with "
             "fixed inputs")


def as_one_step_pipeline(raw: YamlMap, path: Path) -> YamlMap:
    """A standalone command job (``az ml job create -f job.yml``) as a pipeline of one step.

    The step is named after the file (``job.yml`` -> ``job``), so runs, reuse and ``show`` are those of
    any pipeline; the job's name, display name and experiment stay on the run.
    """
    step = re.sub(r"[^a-z0-9_]", "_", path.stem.lower())
    step = step if re.match(r"^[a-z_]", step) else f"job_{step}"
    job = YamlMap({k: v for k, v in raw.items() if k not in ("$schema", "name", "display_name", "experiment_name",
                                                               "description", "tags")})
    job.lines = {k: raw.lines[k] for k in job if k in raw.lines}
    job.line = raw.line
    pipeline = YamlMap({k: raw[k] for k in ("name", "display_name", "experiment_name", "description", "tags")
                        if k in raw})
    pipeline.lines = {k: raw.lines[k] for k in pipeline if k in raw.lines}
    jobs = YamlMap({step: job})
    jobs.lines = {step: raw.line} if raw.line is not None else {}
    job["type"] = "command"
    pipeline["type"] = "pipeline"
    pipeline["jobs"] = jobs
    return pipeline


def with_default_type(node: YamlMap) -> YamlMap:
    """A node without ``type:`` is a command job: azure-ai-ml's pipeline schema (PipelineJobsField)
    loads it as one, as azureml-examples' cli/jobs/basics/hello-pipeline.yml relies on."""
    typed = YamlMap(node)
    typed.lines, typed.line = dict(node.lines), node.line
    typed["type"] = "command"
    return typed
