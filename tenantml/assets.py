"""Registered Azure ML assets (data, models, components) mapped to local paths.

The mapping lives in the ``tenantml.yml`` beside the pipeline; each kind maps a name to its
versions (and labels) and each version to a local path::

    assets:                               # data assets: path: azureml:tenants_raw:1
      tenants_raw:
        "1": ./data/raw_v1.csv
        "2": ./data/raw_v2.csv            # @latest is the highest version unless "latest" is given
    models:                               # path: azureml:iris_model@latest  (type: mlflow_model, custom_model)
      iris_model: {"3": ./models/iris}
    components:                           # component: azureml:my_train:1 / azureml:my_train@latest
      my_train: {"1": ./components/train.yml}
      azureml/automl_hts_training:        # azureml://registries/azureml/components/automl_hts_training/...
        "1": ./components/hts_training.yml

References as Azure ML writes them (reference-yaml-core-syntax): ``azureml:<name>:<version>``,
``azureml:<name>@<label>``, and in a registry ``azureml://registries/<registry>/<kind>/<name>/versions/<v>``
or ``.../labels/<label>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REF = re.compile(r"^azureml:(?P<name>[A-Za-z0-9_.-]+)(?::(?P<version>[^@:/]+)|@(?P<label>[A-Za-z0-9_.-]+))?$")
REGISTRY_REF = re.compile(r"^azureml://registries/(?P<registry>[^/]+)/(?P<kind>components|models|data)/"
                          r"(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+)|/labels/(?P<label>[^/]+))?/?$")
KINDS = {"data": "assets", "models": "models", "components": "components"}  # reference kind -> tenantml.yml key
WHAT = {"data": "data asset", "models": "model", "components": "component"}


@dataclass(frozen=True)
class AssetRef:
    kind: str  # data | models | components
    name: str  # "<registry>/<name>" for a registry asset: the key in tenantml.yml
    version: str | None
    label: str | None
    text: str


def parse_ref(text: str, kind: str) -> AssetRef | None:
    match = REGISTRY_REF.match(text)
    if match:
        return AssetRef(match["kind"], f"{match['registry']}/{match['name']}", match["version"], match["label"], text)
    match = REF.match(text)
    if match:
        return AssetRef(kind, match["name"], match["version"], match["label"], text)
    return None


class AssetError(Exception):
    def __init__(self, ref: str, config: Path | None, problem: str | None = None, kind: str = "data"):
        parsed = parse_ref(ref, kind)
        kind = parsed.kind if parsed else kind
        name = parsed.name if parsed else "<name>"
        version = (parsed.version or parsed.label or "1") if parsed else "1"
        if parsed and parsed.label == "latest":
            version = "latest"
        where = config or Path("tenantml.yml (beside the pipeline)")
        self.message = problem or f"{WHAT[kind]} '{ref}' has no local copy mapped in {where}."
        self.fix = f'add to {where}:  {KINDS[kind]}: {{{name}: {{"{version}": <local path>}}}}'
        super().__init__(self.message)


@dataclass(frozen=True)
class Assets:
    entries: dict[str, dict[str, Path]] = field(default_factory=dict)  # data assets
    config: Path | None = None
    models: dict[str, dict[str, Path]] = field(default_factory=dict)
    components: dict[str, dict[str, Path]] = field(default_factory=dict)

    def resolve(self, ref: str, kind: str = "data") -> Path:
        parsed = parse_ref(ref, kind)
        if parsed is None:
            raise AssetError(ref, self.config, f"'{ref}' is not a {WHAT[kind]} reference; write "
                             "azureml:<name>:<version>, azureml:<name>@latest or azureml://registries/<registry>/"
                             f"{kind}/<name>/versions/<version>.", kind=kind)
        table = {"data": self.entries, "models": self.models, "components": self.components}[parsed.kind]
        versions = table.get(parsed.name)
        if not versions:
            raise AssetError(ref, self.config, kind=parsed.kind)
        if parsed.version:
            if parsed.version not in versions:
                raise AssetError(ref, self.config, f"{WHAT[parsed.kind]} '{parsed.name}' has no version "
                                 f"'{parsed.version}' in {self.config} (mapped: {', '.join(sorted(versions))}).",
                                 kind=parsed.kind)
            return versions[parsed.version]
        label = parsed.label or "latest"
        if label in versions:
            return versions[label]
        if label != "latest":
            raise AssetError(ref, self.config, f"{WHAT[parsed.kind]} '{parsed.name}' has no label '{label}' in "
                             f"{self.config} (mapped: {', '.join(sorted(versions))}).", kind=parsed.kind)
        return versions[max(versions, key=_version_key)]


def _version_key(version: str) -> tuple[tuple[int, int, str], ...]:
    """Numbers compare as numbers, and before words (a mixed "1.rc" never compares int with str)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.-]", version))
