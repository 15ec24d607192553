"""Which Azure ML workspace: flags, else environment variables, else a ``config.json``.

Resolved without importing the Azure SDK. The ``config.json`` search is the one
``MLClient.from_config()`` does: from the current folder up to 20 parents, looking in
``.azureml/``, ``aml_config/`` and the folder itself, for ``config.json`` then ``project.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from itertools import product
from pathlib import Path

from tenantml.errors import UserError

ENV_SUBSCRIPTION = "AZUREML_ARM_SUBSCRIPTION"
ENV_RESOURCE_GROUP = "AZUREML_ARM_RESOURCEGROUP"
ENV_WORKSPACE = "AZUREML_ARM_WORKSPACE_NAME"

THREE_WAYS = (
    "Say which workspace in one of three ways: "
    "(1) --subscription SUB --resource-group RG --workspace NAME; "
    f"(2) the environment variables {ENV_SUBSCRIPTION}, {ENV_RESOURCE_GROUP}, {ENV_WORKSPACE}; "
    "(3) a config.json (as downloaded from the workspace's page in Azure ML studio) in this folder, "
    "a parent folder, or their .azureml/ subfolder.")


@dataclass(frozen=True)
class Workspace:
    subscription: str
    resource_group: str
    name: str
    source: str  # "flags", "environment", or the config.json path

    def __str__(self) -> str:
        return f"{self.name} (resource group {self.resource_group}, subscription {self.subscription}; from {self.source})"


def find_config(start: Path, levels: int = 20) -> Path | None:
    start = start.absolute()
    folders = [start, *list(start.parents)[:levels]]
    for sub, name in product([".azureml", "aml_config", None], ["config.json", "project.json"]):
        for folder in folders:
            candidate = folder / sub / name if sub else folder / name
            if candidate.is_file():
                return candidate
    return None


def resolve_workspace(subscription: str | None = None, resource_group: str | None = None,
                      workspace: str | None = None, *, search_from: Path | None = None,
                      environ: dict[str, str] | None = None) -> Workspace:
    """The workspace to submit to, or a UserError that says the three ways to name one."""
    env = os.environ if environ is None else environ
    flags = (subscription, resource_group, workspace)
    if any(flags):
        if not all(flags):
            missing = [f for f, v in zip(("--subscription", "--resource-group", "--workspace"), flags) if not v]
            raise UserError(f"the workspace is only partly given: {', '.join(missing)} missing.",
                            key="--workspace", fix=THREE_WAYS)
        return Workspace(subscription, resource_group, workspace, "flags")  # type: ignore[arg-type]
    from_env = (env.get(ENV_SUBSCRIPTION), env.get(ENV_RESOURCE_GROUP), env.get(ENV_WORKSPACE))
    if all(from_env):
        return Workspace(*from_env, "environment")  # type: ignore[arg-type]
    config = find_config(search_from or Path.cwd())
    if config is not None:
        return _from_config(config)
    partial = ""
    if any(from_env):
        missing = [n for n, v in zip((ENV_SUBSCRIPTION, ENV_RESOURCE_GROUP, ENV_WORKSPACE), from_env) if not v]
        partial = f" (the environment sets only part of it: {', '.join(missing)} unset)"
    raise UserError(f"no Azure ML workspace is configured{partial}.", key="--backend aml", fix=THREE_WAYS)


def _from_config(path: Path) -> Workspace:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the workspace configuration: {exc}.", file=path,
                        fix="download config.json again from the workspace's page in Azure ML studio") from None
    scope = config.get("Scope") if isinstance(config, dict) else None
    if scope:
        parts = str(scope).split("/")
        if len(parts) >= 9:
            return Workspace(parts[2], parts[4], parts[8], str(path))
    if isinstance(config, dict) and all(config.get(k) for k in ("subscription_id", "resource_group", "workspace_name")):
        return Workspace(config["subscription_id"], config["resource_group"], config["workspace_name"], str(path))
    raise UserError("the workspace configuration lacks subscription_id, resource_group or workspace_name.",
                    file=path, fix="download config.json again from the workspace's page in Azure ML studio")
