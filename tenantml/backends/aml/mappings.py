"""What ``tenantml.yml`` maps for ``--backend local`` that Azure ML never reads, and what Azure ML
honours that ``--backend local`` ignores: reported by ``--dry-run`` and at submission.

Decided by what each reference in the job is *about*, not by message text. The job Azure ML will
receive (the SDK's REST body) is walked once for references, each of one kind:

    kind        where in the REST body                       tenantml.yml section
    datastore   inputs/outputs ``uri`` azureml://datastores/N   datastores.N
    data        inputs ``uri`` name:version / name@label        assets.N
    model       inputs of a model type, same forms              models.N
    component   a node's ``componentId`` name:version           components.N
    environment a step's ``task.environment``                   registered_environments.N, environments:
    compute     ``computeId`` / settings.default_compute        (none: Azure ML only)

and :data:`ABOUT` says, per kind, what each backend does with it. A reference whose kind has a
mapping in ``tenantml.yml`` is reported with the local path it maps to; a kind only Azure ML honours
(compute; environments while ``--backend local`` runs the current Python) is reported as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenantml.assets import parse_ref
from tenantml.locations import DATASTORE_URI

if TYPE_CHECKING:
    from tenantml.backends.local.local_config import LocalConfig

# what the SDK's REST body carries for a registered asset (load_job drops the "azureml:" prefix)
_SHORT_REF = re.compile(r"^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+|@[A-Za-z0-9_.-]+)$")
MODEL_TYPES = frozenset({"custom_model", "mlflow_model", "triton_model"})


@dataclass(frozen=True)
class Reference:
    kind: str  # datastore | data | model | component | environment | compute
    name: str  # the key a tenantml.yml section would use
    text: str  # as the job writes it
    key: str  # where in the job


@dataclass(frozen=True)
class About:
    section: str | None  # the tenantml.yml section that maps this kind (None: nothing maps it locally)
    local: str  # what --backend local does with a mapped reference
    azure: str  # what Azure ML does with it


ABOUT = {
    "datastore": About("datastores", "reads and writes the folder {path}", "uses the workspace's datastore '{name}'"),
    "data": About("assets", "reads {path}", "reads the registered data asset"),
    "model": About("models", "reads {path}", "reads the registered model"),
    "component": About("components", "runs the component defined in {path}", "runs the registered component"),
    "environment": About("registered_environments", "builds it from {path}", "uses the registered environment"),
    "compute": About(None, "", ""),
}


def references(body: dict[str, Any]) -> list[Reference]:
    """Every datastore, asset, component, environment and compute the REST body names, in order."""
    found: list[Reference] = []
    props = body.get("properties", body)
    settings = props.get("settings") or {}
    if settings.get("default_compute"):
        found.append(Reference("compute", _short(settings["default_compute"], "/computes/"),
                               str(settings["default_compute"]), "settings.default_compute"))
    found += _io(props, "")
    for node_name, node in (props.get("jobs") or {}).items():
        where = f"jobs.{node_name}"
        found += _io(node, where + ".")
        component = str(node.get("componentId") or "")
        if component and "\n" not in component:  # a YAML string is an anonymous (inline) component
            ref = _asset(component, "components")
            if ref is not None:
                found.append(Reference("component", ref[0], ref[1], where + ".component"))
        task = node.get("task")  # a parallel node's task is a dict; an automl node's is its task type, a string
        environment = (task.get("environment") if isinstance(task, dict) else None) or node.get("environment")
        if isinstance(environment, str) and environment:
            found.append(Reference("environment", _environment_name(environment), environment,
                                   where + ".task.environment"))
        if node.get("computeId"):
            found.append(Reference("compute", _short(node["computeId"], "/computes/"), str(node["computeId"]),
                                   where + ".compute"))
    return found


def _io(holder: dict[str, Any], prefix: str) -> list[Reference]:
    found = []
    for direction in ("inputs", "outputs"):
        for name, value in (holder.get(direction) or {}).items():
            if not isinstance(value, dict):
                continue
            uri = str(value.get("uri") or "")
            key = f"{prefix}{direction}.{name}.path"
            store = DATASTORE_URI.match(uri)
            if store:
                found.append(Reference("datastore", store["name"], uri, key))
                continue
            kind = "models" if (value.get("job_input_type") or value.get("job_output_type")) in MODEL_TYPES else "data"
            ref = _asset(uri, kind)
            if ref is not None:
                found.append(Reference("model" if kind == "models" else "data", ref[0], ref[1], key))
    return found


def _asset(text: str, kind: str) -> tuple[str, str] | None:
    """(tenantml.yml key, reference as the user writes it) of a registered asset, or None."""
    full = text if text.startswith("azureml:") else (f"azureml:{text}" if _SHORT_REF.match(text) else "")
    parsed = parse_ref(full, kind) if full else None
    return (parsed.name, full) if parsed is not None else None


def _environment_name(text: str) -> str:
    text = text.removeprefix("azureml:")
    registry = re.match(r"^//registries/[^/]+/environments/([^/]+)", text)
    return registry[1] if registry else re.split(r"[:@]", text, maxsplit=1)[0]


def _short(value: Any, marker: str) -> str:
    return str(value).rsplit(marker, 1)[-1].removeprefix("azureml:")


# --------------------------------------------------------------------------- the report
def divergences(source: Path, body: dict[str, Any], cli_datastores: dict[str, Path] | None = None) -> list[str]:
    """One line per reference that one backend honours and the other ignores (grouped by reference).
    ``cli_datastores``: ``--datastore NAME=PATH``, which wins over tenantml.yml for --backend local."""
    from tenantml.backends.local.local_config import FILE_NAME, read_local_config
    from tenantml.errors import UserError

    try:
        config = read_local_config(source)
    except UserError as exc:
        return [f"{source.parent / FILE_NAME} could not be read ({exc}); its mappings are not compared"]
    where = config.path.name if config.path else FILE_NAME
    cli = dict(cli_datastores or {})
    isolated = config.environments == "isolated"
    grouped: dict[tuple[str, str], list[Reference]] = {}
    for ref in references(body):
        grouped.setdefault((ref.kind, ref.name if ref.kind in ("datastore", "compute") else ref.text), []).append(ref)
    lines = []
    computes = [name for kind, name in grouped if kind == "compute"]
    if computes:
        lines.append(f"compute {', '.join(computes)}: Azure ML runs the steps there; --backend local runs them on "
                     "this machine (instance_count x max_concurrency_per_instance processes as virtual nodes)")
    for (kind, _), refs in grouped.items():
        ref, keys = refs[0], ", ".join(dict.fromkeys(r.key for r in refs))
        about = ABOUT[kind]
        if kind == "compute":
            continue
        if kind == "environment" and not isolated:
            lines.append(f"environment {ref.text} ({keys}): Azure ML runs the step in it; --backend local runs the "
                         f"current Python and ignores it ({where} environments: current, the default; "
                         "environments: isolated builds each step's environment)")
            continue
        mapped = _mapped(config, ref)
        if kind == "datastore" and ref.name in cli:
            lines.append(f"datastore '{ref.name}' ({keys}): --backend local reads and writes the folder "
                         f"{cli.pop(ref.name)} (--datastore {ref.name}=...); Azure ML ignores --datastore and "
                         f"uses the workspace's datastore '{ref.name}'")
            continue
        if mapped is None:
            continue
        entry, path = mapped
        shown = f"'{ref.name}'" if kind == "datastore" else ref.text
        lines.append(f"{_what(kind)} {shown} ({keys}): --backend local {about.local.format(path=path, name=ref.name)} "
                     f"({where} {about.section}.{entry}); Azure ML ignores {where} and "
                     f"{about.azure.format(name=ref.name)}")
    return lines


def _mapped(config: LocalConfig, ref: Reference) -> tuple[str, str] | None:
    """(the tenantml.yml entry, what it maps to) for this reference, as --backend local resolves it;
    None when nothing maps it."""
    if ref.kind == "datastore":
        path = config.datastores.get(ref.name)
        return (ref.name, str(path)) if path is not None else None
    if ref.kind == "environment":
        text = ref.text.removeprefix("azureml:")
        version = re.match(r"^[^:@/]+:(.+)$", text)
        for candidate in (text, f"{ref.name}:{version[1]}" if version else "", ref.name):
            if candidate and candidate in config.registered_environments:
                value = config.registered_environments[candidate]
                shown = Path(str((value.get("python") or value.get("conda_file")) if isinstance(value, dict) else value))
                base = config.path.parent if config.path else Path(".")
                return candidate, str(shown if shown.is_absolute() else base / shown)
        return None
    from tenantml.assets import AssetError

    try:  # the local backend's own resolution: version, label, or the highest version for @latest
        path = config.assets.resolve(ref.text, {"data": "data", "model": "models", "component": "components"}[ref.kind])
    except AssetError:
        return None
    return ref.name, str(path)


def _what(kind: str) -> str:
    return {"data": "data asset"}.get(kind, kind)
