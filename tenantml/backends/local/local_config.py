"""``tenantml.yml`` beside a pipeline: local stand-ins for Azure ML datastores and data assets.

    datastores:
      datalake: ./datalake          # azureml://datastores/datalake/paths/... -> ./datalake/...
    assets:
      tenants_raw: {"1": ./data/raw.csv}

Relative paths are relative to ``tenantml.yml``. ``--datastore NAME=PATH`` wins over the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tenantml.assets import Assets
from tenantml.errors import UserError
from tenantml.locations import Datastores
from tenantml.yamlio import YamlMap, load_yaml

FILE_NAME = "tenantml.yml"


@dataclass(frozen=True)
class LocalConfig:
    datastores: dict[str, Path] = field(default_factory=dict)
    assets: Assets = field(default_factory=Assets)


def read_local_config(pipeline: Path) -> LocalConfig:
    path = pipeline.absolute().parent / FILE_NAME
    if not path.exists():
        return LocalConfig()
    raw = load_yaml(path, what="tenantml.yml")
    if raw is None:
        return LocalConfig()
    if not isinstance(raw, YamlMap):
        raise UserError("must be a mapping with datastores: and assets:.", file=path)
    unknown = set(raw) - {"datastores", "assets"}
    if unknown:
        key = sorted(unknown)[0]
        raise UserError(f"unknown key '{key}'.", file=path, key=key, line=raw.line_of(key),
                        fix="tenantml.yml knows datastores: and assets:")
    base = path.parent
    stores = {}
    for name, value in (raw.get("datastores") or {}).items():
        if not isinstance(value, str):
            raise UserError("a datastore maps to a folder path.", file=path, key=f"datastores.{name}")
        stores[str(name)] = _abs(value, base)
    entries: dict[str, dict[str, Path]] = {}
    for name, versions in (raw.get("assets") or {}).items():
        if not isinstance(versions, dict) or not versions:
            raise UserError('an asset maps versions to paths, e.g. {"1": ./data.csv}.', file=path,
                            key=f"assets.{name}", line=raw["assets"].line_of(name))
        entries[str(name)] = {str(v): _abs(str(p), base) for v, p in versions.items()}
    return LocalConfig(stores, Assets(entries, path))


def _abs(value: str, base: Path) -> Path:
    p = Path(value).expanduser()
    return (p if p.is_absolute() else base / p).absolute()


def datastores_for(pipeline: Path, home: Path, cli: dict[str, Path]) -> tuple[Datastores, Assets]:
    config = read_local_config(pipeline)
    return Datastores(home, {**config.datastores, **cli}), config.assets
