"""Azure ML data assets (``azureml:<name>:<version>``, ``azureml:<name>@latest``) mapped to local paths.

The mapping lives under ``assets:`` in the ``tenantml.yml`` beside the pipeline::

    assets:
      tenants_raw:
        "1": ./data/raw_v1.csv
        "2": ./data/raw_v2.csv      # @latest is the highest version unless "latest" is given
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REF = re.compile(r"^azureml:(?P<name>[A-Za-z0-9_.-]+)(?::(?P<version>[^@:]+)|@(?P<label>[A-Za-z]+))?$")


class AssetError(Exception):
    def __init__(self, ref: str, config: Path | None, problem: str | None = None):
        match = REF.match(ref)
        name = match["name"] if match else "<name>"
        version = (match["version"] if match and match["version"] else "1")
        where = config or Path("tenantml.yml (beside the pipeline)")
        self.message = problem or f"data asset '{ref}' has no local copy mapped in {where}."
        self.fix = f'add to {where}:  assets: {{{name}: {{"{version}": <local path>}}}}'
        super().__init__(self.message)


@dataclass(frozen=True)
class Assets:
    entries: dict[str, dict[str, Path]] = field(default_factory=dict)
    config: Path | None = None

    def resolve(self, ref: str) -> Path:
        match = REF.match(ref)
        if not match:
            raise AssetError(ref, self.config, f"'{ref}' is not a data asset reference; write "
                             "azureml:<name>:<version> or azureml:<name>@latest.")
        versions = self.entries.get(match["name"])
        if not versions:
            raise AssetError(ref, self.config)
        if match["version"]:
            if match["version"] not in versions:
                raise AssetError(ref, self.config, f"data asset '{match['name']}' has no version "
                                 f"'{match['version']}' in {self.config} (mapped: {', '.join(sorted(versions))}).")
            return versions[match["version"]]
        if match["label"] not in (None, "latest"):
            raise AssetError(ref, self.config, f"label '@{match['label']}' is not supported; use @latest.")
        if "latest" in versions:
            return versions["latest"]
        return versions[max(versions, key=_version_key)]


def _version_key(version: str) -> tuple[int | str, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[.-]", version))
