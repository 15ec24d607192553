"""Inputs, outputs and code folders -> spec objects, with their bindings and their local paths.

Bindings to the pipeline's inputs and outputs and to upstream jobs' outputs are resolved here.
So are the *local* facts: a relative path starts at the folder of the YAML that names it,
``azureml://datastores/...`` maps to a local folder, ``azureml:<asset>`` resolves through
``tenantml.yml``, the path must exist. Loaded for a backend that runs elsewhere
(``local=False``), data that lives in Azure (:data:`tenantml.locations.REMOTE_URI`) is not one
of those facts: it keeps its URI (``DataInput.remote``) and nothing here looks it up. Local
files (code, data to upload) are checked the same way for every backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenantml.bindings import is_single_binding, substitute
from tenantml.errors import UserError
from tenantml.loading.schema import DATA_INPUT_KEYS, LITERAL_INPUT_KEYS, OUTPUT_KEYS, Problems, bare, file_of
from tenantml.locations import DATASTORE_URI, REMOTE_URI, Datastores, local_path
from tenantml.runfolder.names import io_name_problem
from tenantml.spec import (
    DATA_TYPES,
    INPUT_MODES,
    LITERAL_TYPES,
    MODEL_TYPES,
    OUTPUT_MODES,
    DataInput,
    DataOutput,
    Input,
    LiteralInput,
    Where,
)
from tenantml.suggest import did_you_mean
from tenantml.yamlio import YamlMap

if TYPE_CHECKING:
    from tenantml.assets import Assets



@dataclass
class Resolver:
    """Turns one pipeline's inputs and outputs into spec objects; remembers each job's outputs."""

    path: Path  # the pipeline YAML
    problems: Problems
    datastores: Datastores
    run_id: str | None
    default_datastore: str
    assets: Assets | None = None
    local: bool = True  # False: data in Azure keeps its URI (a backend that runs elsewhere)
    job_outputs: dict[str, dict[str, DataOutput]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)  # keys of inputs already reported: no follow-on problems
    scope: str = ""  # "node/" inside a pipeline component: upstream jobs are named "node/job"
    failed_parent: frozenset[str] = frozenset()  # parent inputs already reported: binding one is no new problem

    # ----------------------------------------------------------------- inputs
    def inputs(self, raw: Any, prefix: str, parent: dict[str, Input]) -> dict[str, Input]:
        result: dict[str, Input] = {}
        if not isinstance(raw, YamlMap):
            if raw:
                self.problems.add("inputs must be a mapping of name -> input.", key=prefix.rstrip("."), line=None)
            return result
        for name, value in raw.items():
            key, line = f"{prefix}{name}", raw.line_of(name)
            if (bad_name := io_name_problem(name, "input")) is not None:
                self.problems.add(bad_name + ".", key=key, line=line, fix="rename the input, e.g. 'tenants'")
                continue
            parsed = self._input(str(name), value, key, line, parent)
            if parsed is not None:
                result[str(name)] = parsed
            else:  # reported here, where the upstream job is defined, or a local fact a remote run does not need
                self.failed.add(key)
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
        if kind not in DATA_TYPES + MODEL_TYPES:
            self.problems.add(f"input type '{kind}' is not valid; "
                              f"{did_you_mean(str(kind), DATA_TYPES + MODEL_TYPES + LITERAL_TYPES)}",
                              key=f"{key}.type", line=value.line_of("type"), fix="use uri_file, uri_folder or mltable")
            return None
        mode = value.get("mode")
        if mode is not None and mode not in INPUT_MODES:
            self.problems.add(f"input mode '{mode}' is not valid; {did_you_mean(str(mode), INPUT_MODES)}",
                              key=f"{key}.mode", line=value.line_of("mode"), fix="use one of " + ", ".join(INPUT_MODES))
        raw_path = value.get("path")
        expr = is_single_binding(raw_path)
        if expr is not None:
            # no type written: the bound value's type (a pipeline input's, an upstream output's)
            declared = str(value["type"]) if "type" in value else None
            return self._bound_input(name, expr, key, line, parent, declared_type=declared, mode=mode)
        if not raw_path:
            self.problems.add("a data input needs a path.", key=f"{key}.path", line=line,
                              fix="add 'path:' with a local folder or file")
            return None
        if not self.local and REMOTE_URI.match(str(raw_path)):
            return DataInput(name, str(kind), Path(str(raw_path)), mode, Where(self.path, line), remote=str(raw_path))
        path = self._local_data_path(str(raw_path), str(kind), key, value)
        if path is None:
            return None
        return DataInput(name, str(kind), path, mode, Where(self.path, line))

    def _local_data_path(self, raw_path: str, kind: str, key: str, value: YamlMap) -> Path | None:
        """Where a data input is on this machine; every failure is a local problem."""
        line = value.line_of("path")
        if (raw_path.startswith("azureml:") and not raw_path.startswith("azureml://")) or \
                raw_path.startswith("azureml://registries/"):
            resolved = self._asset(raw_path, f"{key}.path", line, "models" if kind in MODEL_TYPES else "data")
            if resolved is None:
                return None
            raw_path = str(resolved)
        try:
            path = local_path(raw_path, base=file_of(value, self.path, "path").parent, datastores=self.datastores)
        except UserError as exc:
            self.problems.add(bare(exc), key=f"{key}.path", line=line, fix=exc.fix)
            return None
        if not path.exists():
            store = DATASTORE_URI.match(raw_path)
            if store and store["name"] not in self.datastores.roots:
                name = store["name"]
                self.problems.add(f"input path does not exist: {path}; datastore '{name}' is not mapped to a local "
                                  f"folder, so it was looked for under {self.datastores.root(name)}.",
                                  key=f"{key}.path", line=line,
                                  fix=f"map the datastore: --datastore {name}=PATH, or in tenantml.yml beside the "
                                      f"pipeline:  datastores: {{{name}: ./local/folder}}")
                return None
            self.problems.add(f"input path does not exist: {path}", key=f"{key}.path", line=line,
                              fix="create it, or correct the path (relative paths start at the YAML's folder)")
            return None
        if kind == "uri_file" and path.is_dir():
            self.problems.add(f"input type is uri_file but {path} is a folder.", key=f"{key}.type",
                              line=value.line_of("type"), fix="use type: uri_folder")
        # an mltable folder needs its MLTable file only where it is read as a table: a parallel
        # step's input_data (checked there); a command step just mounts the folder
        return path

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
            return DataInput(name, declared_type or out.type, out.path, mode, where,
                             producer=f"{self.scope}{parts[2]}.{parts[4]}", remote=out.remote)
        if len(parts) == 3 and parts[:2] == ["parent", "inputs"] and parts[2] in parent:
            bound = parent[parts[2]]
            if isinstance(bound, DataInput):
                return DataInput(name, declared_type or bound.type, bound.path, mode or bound.mode, where,
                                 producer=bound.producer, remote=bound.remote)
            return LiteralInput(name, bound.value, where)
        if len(parts) == 3 and parts[:2] == ["parent", "inputs"] and parts[2] in self.failed_parent:
            return None
        if len(parts) == 3 and parts[:2] == ["parent", "inputs"]:
            self.problems.add(f"'${{{{{expr}}}}}' names pipeline input '{parts[2]}', which does not exist; "
                              f"{did_you_mean(parts[2], parent)}", key=key, line=line,
                              fix="declare it under the pipeline's inputs")
        else:
            self.problems.add(f"'${{{{{expr}}}}}' cannot be resolved here; inputs of a job bind to "
                              "${{parent.inputs.<name>}} or ${{parent.jobs.<job>.outputs.<name>}}.", key=key, line=line)
        return None

    def _asset(self, ref: str, key: str, line: int | None, kind: str = "data") -> Path | None:
        from tenantml.assets import AssetError

        try:
            if self.assets is None:
                raise AssetError(ref, None, kind=kind)
            return self.assets.resolve(ref, kind)
        except AssetError as exc:
            self.problems.add(exc.message, key=key, line=line, fix=exc.fix)
            return None

    # ----------------------------------------------------------------- outputs
    def outputs(self, raw: Any, prefix: str, job_dir: Path, parent: dict[str, DataOutput]) -> dict[str, DataOutput]:
        result: dict[str, DataOutput] = {}
        if raw is None:
            return result
        if not isinstance(raw, YamlMap):
            self.problems.add("outputs must be a mapping of name -> output.", key=prefix.rstrip("."), line=None)
            return result
        for name, value in raw.items():
            key, line = f"{prefix}{name}", raw.line_of(name)
            if (bad_name := io_name_problem(name, "output")) is not None:  # it names a folder of the run
                self.problems.add(bad_name + ".", key=key, line=line, fix="rename the output, e.g. 'scores'")
                continue
            default = job_dir / "outputs" / str(name)
            self.failed.add(key)  # until it resolves
            expr = is_single_binding(value)
            if expr is not None:
                parts = expr.split(".")
                if len(parts) == 3 and parts[:2] == ["parent", "outputs"] and parts[2] in parent:
                    bound = parent[parts[2]]
                    result[str(name)] = DataOutput(str(name), bound.type, bound.path, bound.mode, Where(self.path, line),
                                                   bound.remote)
                    self.failed.discard(key)
                else:
                    self.problems.add(f"'${{{{{expr}}}}}' does not name a pipeline output; "
                                      f"{did_you_mean(parts[-1], parent)}", key=key, line=line)
                continue
            if value is None:
                result[str(name)] = DataOutput(str(name), "uri_folder", default, None, Where(self.path, line))
                self.failed.discard(key)
                continue
            if not isinstance(value, YamlMap):
                self.problems.add("an output must be a mapping with 'type:'.", key=key, line=line)
                continue
            self.problems.unknown_keys(value, OUTPUT_KEYS, f"{key}.", "an output")
            kind = value.get("type", "uri_folder")
            if kind not in DATA_TYPES + MODEL_TYPES:  # a model output is a folder the job writes
                self.problems.add(f"output type '{kind}' is not valid; "
                                  f"{did_you_mean(str(kind), DATA_TYPES + MODEL_TYPES)}",
                                  key=f"{key}.type", line=value.line_of("type"))
                continue
            mode = value.get("mode")
            if mode is not None and mode not in OUTPUT_MODES:
                self.problems.add(f"output mode '{mode}' is not valid; {did_you_mean(str(mode), OUTPUT_MODES)}",
                                  key=f"{key}.mode", line=value.line_of("mode"))
            path = default
            if value.get("path"):
                text = substitute(str(value["path"]), self._path_variable)
                if not self.local and REMOTE_URI.match(text):
                    result[str(name)] = DataOutput(str(name), str(kind), Path(text), mode, Where(self.path, line), text)
                    continue
                try:
                    path = local_path(text, base=file_of(value, self.path, "path").parent, datastores=self.datastores,
                                      writing=True)
                except UserError as exc:
                    self.problems.add(bare(exc), key=f"{key}.path", line=value.line_of("path"), fix=exc.fix)
                    continue
            result[str(name)] = DataOutput(str(name), str(kind), path, mode, Where(self.path, line))
            self.failed.discard(key)
        return result

    def reported(self, prefix: str) -> frozenset[str]:
        """``inputs.x`` / ``outputs.y`` of the job at ``prefix`` whose problem is already reported."""
        return frozenset(k[len(prefix):] for k in self.failed if k.startswith(prefix))

    def _path_variable(self, expr: str) -> str:
        if expr == "name" and self.run_id is not None:
            return self.run_id
        if expr == "default_datastore":
            return self.default_datastore
        return "${{" + expr + "}}"

    # ----------------------------------------------------------------- code
    def code_folder(self, holder: YamlMap, prefix: str, default: Path, *, allow_file: bool = False) -> Path | None:
        """The job's ``code``: a folder; for a command job also one file (azureml-examples'
        sdk/python/jobs/pipelines/1h_automl_in_pipeline notebooks pass ``command(code="./preprocess.py")``:
        azure-ai-ml uploads a single file as the code asset, ``is_file`` in
        azure/ai/ml/_artifacts/_artifact_utilities.py, and the job runs in a snapshot holding that file)."""
        if "code" not in holder:
            return default
        try:
            code = local_path(str(holder["code"]), base=file_of(holder, self.path, "code").parent,
                              datastores=self.datastores)
        except UserError as exc:
            self.problems.add(bare(exc), key=f"{prefix}code", line=holder.line_of("code"), fix=exc.fix)
            return None
        if allow_file and code.is_file():
            return code
        if not code.is_dir():
            what = "is a file; a parallel job's code is a folder" if code.is_file() else "does not exist"
            self.problems.add(f"the code folder {code} {what}.", key=f"{prefix}code",
                              line=holder.line_of("code"),
                              fix="correct code (relative paths start at the folder of the YAML that names it)")
            return None
        return code
