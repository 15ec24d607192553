"""``tenantml.yml`` beside a pipeline: local stand-ins for Azure ML datastores and data assets.

    datastores:
      datalake: ./datalake          # azureml://datastores/datalake/paths/... -> ./datalake/...
    assets:                         # data assets (see tenantml.assets for every form)
      tenants_raw: {"1": ./data/raw.csv}
    models:
      iris_model: {"1": ./models/iris}
    components:
      my_train: {"1": ./components/train.yml}

    environments: isolated          # each step in its own virtualenv (default: current)
    registered_environments:        # what azureml:NAME[@latest|:VERSION] means here
      sklearn-env: ./envs/sklearn.yml             # a conda file
      legacy-env:2: {python: /opt/py38/bin/python}  # an existing interpreter, used as is

Relative paths are relative to ``tenantml.yml``. ``--datastore NAME=PATH`` wins over the file,
``--environments`` over ``environments:``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenantml.assets import Assets
from tenantml.errors import UserError
from tenantml.locations import Datastores
from tenantml.yamlio import YamlMap, load_yaml

FILE_NAME = "tenantml.yml"


@dataclass(frozen=True)
class LocalConfig:
    datastores: dict[str, Path] = field(default_factory=dict)
    assets: Assets = field(default_factory=Assets)
    environments: str | None = None  # "current" | "isolated"
    registered_environments: dict[str, Any] = field(default_factory=dict)  # plain YAML values
    path: Path | None = None  # the tenantml.yml these came from


def read_local_config(pipeline: Path) -> LocalConfig:
    path = pipeline.absolute().parent / FILE_NAME
    if not path.exists():
        return LocalConfig()
    raw = load_yaml(path, what="tenantml.yml")
    if raw is None:
        return LocalConfig()
    if not isinstance(raw, YamlMap):
        raise UserError("must be a mapping with datastores: and assets:.", file=path)
    unknown = set(raw) - {"datastores", "assets", "models", "components", "environments", "registered_environments"}
    if unknown:
        key = sorted(unknown)[0]
        raise UserError(f"unknown key '{key}'.", file=path, key=key, line=raw.line_of(key),
                        fix="tenantml.yml knows datastores:, assets: (data), models:, components:, environments: "
                            "and registered_environments:")
    mode = raw.get("environments")
    if mode is not None and mode not in ("current", "isolated"):
        raise UserError(f"environments is '{mode}'.", file=path, key="environments", line=raw.line_of("environments"),
                        fix="write environments: isolated (each step in its own virtualenv) or current")
    registered = raw.get("registered_environments") or {}
    if not isinstance(registered, dict):
        raise UserError("registered_environments maps azureml environment names to a conda file or "
                        "{python: PATH}.", file=path, key="registered_environments",
                        line=raw.line_of("registered_environments"))
    base = path.parent
    stores = {}
    datastores = raw.get("datastores") or {}
    if not isinstance(datastores, dict):
        raise UserError("datastores maps each datastore name to a folder path.", file=path, key="datastores",
                        line=raw.line_of("datastores"), fix="write e.g. 'datastores:' then '  datalake: ./datalake'")
    for name, value in datastores.items():
        if not isinstance(value, str) or not value.strip():  # '' would quietly be tenantml.yml's own folder
            raise UserError("a datastore maps to a folder path.", file=path, key=f"datastores.{name}",
                            line=datastores.line_of(name) if hasattr(datastores, "line_of") else None,
                            fix=f"write e.g. '{name}: ./{name}' (relative to tenantml.yml)")
        stores[str(name)] = _abs(value, base)
    tables = {kind: _versions(raw, kind, path) for kind in ("assets", "models", "components")}
    return LocalConfig(stores, Assets(tables["assets"], path, tables["models"], tables["components"]), mode,
                       {str(k): _plain(v) for k, v in registered.items()}, path)


def _versions(raw: YamlMap, kind: str, path: Path) -> dict[str, dict[str, Path]]:
    section = raw.get(kind) or {}
    if not isinstance(section, dict):
        raise UserError(f"{kind} maps names to versions, e.g. {{name: {{\"1\": ./local/path}}}}.", file=path,
                        key=kind, line=raw.line_of(kind))
    entries: dict[str, dict[str, Path]] = {}
    for name, versions in section.items():
        if not isinstance(versions, dict) or not versions:
            raise UserError('an entry maps versions (or labels) to paths, e.g. {"1": ./data.csv}.', file=path,
                            key=f"{kind}.{name}", line=section.line_of(name) if isinstance(section, YamlMap) else None)
        entries[str(name)] = {str(v): _abs(str(p), path.parent) for v, p in versions.items()}
    return entries


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _abs(value: str, base: Path) -> Path:
    p = Path(value).expanduser()
    return (p if p.is_absolute() else base / p).absolute()


def datastores_for(pipeline: Path, home: Path, cli: dict[str, Path]) -> tuple[Datastores, Assets]:
    config = read_local_config(pipeline)
    return Datastores(home, {**config.datastores, **cli}), config.assets
