"""``component: ./x.yml`` (or an inline component): one mapping the job builders read.

The component file's definition is overlaid with the node's own settings; its relative ``code``
and default paths are made relative to the component file, as Azure ML resolves them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenantml.bindings import is_single_binding
from tenantml.errors import UserError
from tenantml.loading.schema import (
    COMMAND_KEYS,
    COMPONENT_ONLY_KEYS,
    PARALLEL_KEYS,
    PIPELINE_NODE_KEYS,
    Problems,
    file_of,
    truthy,
)
from tenantml.spec import DATA_TYPES, LITERAL_TYPES, MODEL_TYPES
from tenantml.suggest import did_you_mean
from tenantml.yamlio import YamlMap, duplicate_keys, load_yaml

if TYPE_CHECKING:
    from tenantml.assets import Assets

PROMPT_FLOW_FILES = ("flow.dag.yaml", "flow.dag.yml", "flow.flex.yaml", "flow.flex.yml")
# azure.ai.ml.constants._common.NodeType.FLOW_PARALLEL: a flow component's type (load_component of a flow.dag.yaml)
PROMPT_FLOW_TYPES = ("promptflow_parallel",)


def expand_component(name: str, node: YamlMap, path: Path, problems: Problems,
                     assets: Assets | None = None, local: bool = True) -> YamlMap | None:
    """The job as one mapping: a ``component:`` file's definition overlaid with the node's settings.

    ``component: azureml:<name>:<version>`` (a registered component, also ``@latest`` and
    ``azureml://registries/...``) is read from the local YAML that ``tenantml.yml`` maps it to;
    loaded for elsewhere (``local=False``) the node is left to Azure ML.
    """
    ref = node.get("component")
    if ref is None:
        return node
    key, line = f"jobs.{name}.component", node.line_of("component")
    if isinstance(ref, YamlMap):
        component, comp_file = ref, path
    else:
        text = str(ref)
        if text.startswith("azureml:") and not local:  # loaded for elsewhere: Azure ML resolves (and checks) it
            # (said whether or not tenantml.yml maps it: a mapping is --backend local's, never Azure ML's)
            problems.add(f"component '{ref}' is a registered Azure ML component; Azure ML resolves and checks it.",
                         key=key, line=line, local_only=True)
            return None
        if text.startswith("azureml:"):
            from tenantml.assets import AssetError

            try:
                if assets is None:
                    raise AssetError(text, None, kind="components")
                comp_file = assets.resolve(text, "components")
            except AssetError as exc:
                problems.add(f"{exc.message} A registered component runs locally from its YAML file.", key=key,
                             line=line, fix=exc.fix, local_only=True)
                return None
        else:
            comp_file = Path(strip_file_prefix(text))
            comp_file = comp_file if comp_file.is_absolute() else (file_of(node, path).parent / comp_file)
        if comp_file.is_dir() and not any((comp_file / flow).is_file() for flow in PROMPT_FLOW_FILES):
            problems.add(f"component {text} is a folder, not a component YAML file.", key=key, line=line,
                         fix="name the component's .yml file, e.g. component: ./components/score.yml")
            return None
        if comp_file.is_dir() or comp_file.name in PROMPT_FLOW_FILES:
            problems.add(f"component {text} is a prompt flow; prompt flow components are not supported locally "
                         "(tenantml runs command, parallel and pipeline components).", key=key, line=line,
                         fix="run this pipeline with --backend aml, or test the flow with the promptflow tools",
                         local_only=True)
            return None
        if not comp_file.is_file():
            problems.add(f"component file {comp_file} does not exist.", key=key, line=line,
                         fix="correct the path; it is relative to the file that names it")
            return None
        try:
            loaded = load_yaml(comp_file, what="component YAML")
        except UserError as exc:
            problems.items.append(exc)
            return None
        if not isinstance(loaded, YamlMap):
            problems.add(f"component file {comp_file} must be a YAML mapping (type:, inputs:, ...).", key=key,
                         line=line, fix="name the component's YAML file")
            return None
        for warning in duplicate_keys(loaded, comp_file):
            problems.warn_once(warning)
        if "flow" in loaded or "nodes" in loaded and "type" not in loaded:
            problems.add(f"component {text} is a prompt flow (or a flow run); prompt flow components are not "
                         "supported locally (tenantml runs command, parallel and pipeline components).", key=key,
                         line=line, fix="run this pipeline with --backend aml", local_only=True)
            return None
        component = loaded
    if str(component.get("type")) in PROMPT_FLOW_TYPES:  # an inline one: what azure-ai-ml's dump of a flow node holds
        problems.add(f"component '{component.get('name') or name}' is a prompt flow (type {component.get('type')}); "
                     "prompt flow components are not supported locally (tenantml runs command, parallel and "
                     "pipeline components).", key=key, line=line,
                     fix="run this pipeline with --backend aml, or test the flow with the promptflow tools",
                     local_only=True)
        return None
    merged = YamlMap()
    merged.line = node.line
    base = comp_file.parent
    for k, v in component.items():
        if k in COMPONENT_ONLY_KEYS:
            continue
        merged[k] = rebase_code(k, v, base)
        merged.lines[k] = component.lines.get(k)
    merged["type"] = component.get("type", node.get("type"))
    merged.lines["type"] = component.lines.get("type")
    local_keys = {"parallel": PARALLEL_KEYS, "pipeline": PIPELINE_NODE_KEYS}.get(str(merged["type"]), COMMAND_KEYS)
    for k, v in node.items():
        if k in ("component", "inputs", "outputs"):
            continue
        if k not in local_keys:
            # a node with component: takes any key (BaseNodeSchema: unknown = INCLUDE; 'comment' is
            # shown in the designer): accepted, with no local meaning
            problems.warn_once(f"{file_of(node, path)}: jobs.{name}.{k}: '{k}' is carried to Azure ML with the node "
                               "and has no local meaning; it is ignored here.")
            continue
        if isinstance(v, YamlMap) and isinstance(merged.get(k), YamlMap):
            inner = YamlMap({**merged[k], **v})
            inner.lines = {**merged[k].lines, **v.lines}
            inner.line = v.line
            v = inner
        merged[k] = v
        merged.lines[k] = node.lines.get(k)
    merged["inputs"] = _component_inputs(name, component, node, comp_file, problems)
    merged.lines["inputs"] = node.lines.get("inputs") or component.lines.get("inputs")
    merged["outputs"] = _component_outputs(name, component, node, comp_file, problems)
    merged.lines["outputs"] = node.lines.get("outputs") or component.lines.get("outputs")
    if "is_deterministic" in component:
        merged["is_deterministic"] = component["is_deterministic"]
    return merged


def _section(holder: YamlMap, key: str, file: Path, problems: Problems, where: str) -> YamlMap:
    """``inputs:``/``outputs:`` of a node or a component: a mapping (absent or empty reads as none).

    Anything else is a problem, as azure-ai-ml's schema refuses it (its ``inputs``/``outputs`` are
    ``fields.Dict``), and reads as no section so loading goes on to report the rest.
    """
    value = holder.get(key)
    if value is None or isinstance(value, YamlMap):
        return value if value is not None else YamlMap()
    problems.add(f"{key} is {type(value).__name__} {str(value)[:60]!r}; it must be a mapping of name -> {key[:-1]}.",
                 key=where, line=holder.line_of(key), file=file_of(holder, file, key),
                 fix=f"write {key}: as 'name:' lines indented under it, or remove it")
    return YamlMap()


def _declared_key(name: str, node: YamlMap, key: str) -> str:
    """Where a component declares ``key``: top level of its own file, or under an inline ``component:``."""
    return f"jobs.{name}.component.{key}" if isinstance(node.get("component"), YamlMap) else key


def _component_inputs(name: str, component: YamlMap, node: YamlMap, comp_file: Path,
                      problems: Problems) -> YamlMap:
    declared = _section(component, "inputs", comp_file, problems, _declared_key(name, node, "inputs"))
    given = _section(node, "inputs", comp_file, problems, f"jobs.{name}.inputs")
    result = YamlMap()
    result.line = getattr(given, "line", None)
    for k in given:
        if k not in declared:
            # azure-ai-ml loads such a node, drops the input and validates the pipeline: azureml-examples'
            # nyc_taxi pipeline-component example passes test_split_ratio to a component that declares no
            # such input (conformance fixture sdk-pipeline-defaults-transcript.txt), so it is a warning
            line = given.line_of(k)
            problems.warn_once(f"{file_of(given, comp_file)}:{line}: jobs.{name}.inputs.{k}: component "
                               f"{comp_file.name} has no input '{k}' ({did_you_mean(str(k), declared)}); "
                               "azure-ai-ml drops it, so Azure ML never sees it, and tenantml ignores it too.")
    for k, decl in declared.items():
        if k in given:
            value = given[k]
            # a binding, a literal or {path: ..., mode: direct} for a declared data input keeps the
            # component's declared type, as Azure ML binds it
            if isinstance(decl, YamlMap) and decl.get("type") in DATA_TYPES + MODEL_TYPES:
                if is_single_binding(value):
                    path = YamlMap({"path": value})
                    path.lines, path.line = {"path": given.line_of(k)}, given.line_of(k)
                    value = _with_declared_type(decl, path)
                elif isinstance(value, YamlMap) and "type" not in value:
                    value = _with_declared_type(decl, value)
            result[k] = value
            result.lines[k] = given.line_of(k)
        elif isinstance(decl, YamlMap) and "default" in decl:
            result[k] = decl["default"] if decl.get("type") in LITERAL_TYPES else YamlMap(
                {"type": decl.get("type", "uri_folder"), "path": str(rebase_path(decl["default"], comp_file.parent))})
            result.lines[k] = decl.lines.get("default")
        elif isinstance(decl, YamlMap) and truthy(decl.get("optional")):
            continue
        else:
            problems.add(f"component {comp_file.name} input '{k}' has no value and no default.",
                         key=f"jobs.{name}.inputs.{k}", line=node.line_of("inputs") or node.line,
                         fix=f"give it a value under jobs.{name}.inputs")
    return result


def _with_declared_type(decl: YamlMap, value: YamlMap) -> YamlMap:
    typed = YamlMap({"type": decl["type"], **value})
    typed.lines = {"type": decl.lines.get("type"), **value.lines}
    typed.line = value.line
    return typed


def _component_outputs(name: str, component: YamlMap, node: YamlMap, comp_file: Path,
                       problems: Problems) -> YamlMap:
    declared = _section(component, "outputs", comp_file, problems, _declared_key(name, node, "outputs"))
    given = _section(node, "outputs", comp_file, problems, f"jobs.{name}.outputs")
    result = YamlMap()
    result.line = getattr(given, "line", None)
    _undeclared(given, declared, f"jobs.{name}.outputs.", f"component {comp_file.name} has no output", problems)
    for k, decl in declared.items():
        value = given.get(k, decl)
        if isinstance(value, YamlMap) and isinstance(decl, YamlMap) and "type" not in value and "type" in decl:
            value = YamlMap({**value, "type": decl["type"]})
        result[k] = value
        result.lines[k] = given.line_of(k) if k in given else declared.line_of(k)
    return result


def _undeclared(given: YamlMap, declared: YamlMap, prefix: str, what: str, problems: Problems) -> None:
    for k in given:
        if k not in declared:
            problems.add(f"{what} '{k}'; {did_you_mean(str(k), declared)}", key=f"{prefix}{k}",
                         line=given.line_of(k), fix="declare it in the component or correct the name")


def strip_file_prefix(ref: str) -> str:
    return ref[len("file:"):] if ref.startswith("file:") else ref


def rebase_path(value: Any, base: Path) -> Path:
    path = Path(strip_file_prefix(str(value)))
    return path if path.is_absolute() else base / path


def rebase_code(key: str, value: Any, base: Path) -> Any:
    """A component's relative ``code`` is relative to the component file: make it absolute."""
    if key == "code" and isinstance(value, str) and not value.startswith(("azureml:", "http")):
        return str(rebase_path(value, base))
    if key == "environment" and isinstance(value, YamlMap) and isinstance(value.get("conda_file"), str) and \
            not value["conda_file"].startswith(("azureml:", "http")):
        env = YamlMap(value)  # a component's conda_file is relative to the component file, as its code is
        env.lines, env.line = dict(value.lines), value.line
        env["conda_file"] = str(rebase_path(value["conda_file"].removeprefix("file:"), base))
        return env
    if key == "task" and isinstance(value, YamlMap) and (isinstance(value.get("code"), str) or
                                                        isinstance(value.get("environment"), YamlMap)):
        task = YamlMap(value)
        task.lines, task.line = dict(value.lines), value.line
        if isinstance(value.get("code"), str):
            task["code"] = rebase_code("code", value["code"], base)
        if isinstance(value.get("environment"), YamlMap):
            task["environment"] = rebase_code("environment", value["environment"], base)
        return task
    return value
