"""Which Azure ML workspace: flags, else environment variables, else a ``config.json``, else the
``az`` CLI's defaults.

Resolved without importing the Azure SDK (a missing workspace is said in milliseconds). The
``config.json`` search is the one ``MLClient.from_config()`` does: from the current folder up to 20
parents, looking in ``.azureml/``, ``aml_config/`` and the folder itself, for ``config.json`` then
``project.json``.

The ``az`` CLI defaults are those ``az configure --defaults group=RG workspace=WS`` writes (what
``az ml job create`` uses without ``-g/-w``): the ``[defaults]`` section of ``$AZURE_CONFIG_DIR/config``
(default ``~/.azure/config``), overridden by a ``.azure/config`` of the current folder or a parent
(``--scope local``) and by the variables ``AZURE_DEFAULTS_GROUP``/``AZURE_DEFAULTS_WORKSPACE`` (the
CLI reads ``AZURE_<SECTION>_<KEY>``; learn.microsoft.com/cli/azure/param-persist-howto and
microsoftdocs/azure-docs-cli#695 for the file's layout). The subscription is then the CLI's current
one: ``isDefault`` in ``azureProfile.json`` of the same folder.
"""

from __future__ import annotations

import configparser
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
    "Say which workspace in one of four ways: "
    "(1) --subscription SUB -g/--resource-group RG -w/--workspace NAME (--subscription defaults to the "
    "az CLI's current one); "
    f"(2) the environment variables {ENV_SUBSCRIPTION}, {ENV_RESOURCE_GROUP}, {ENV_WORKSPACE}; "
    "(3) a config.json (as downloaded from the workspace's page in Azure ML studio) in this folder, "
    "a parent folder, or their .azureml/ subfolder; "
    "(4) az configure --defaults group=RG workspace=NAME (with az login's current subscription).")


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
    start = search_from or Path.cwd()
    flags = (subscription, resource_group, workspace)
    from_env = (env.get(ENV_SUBSCRIPTION), env.get(ENV_RESOURCE_GROUP), env.get(ENV_WORKSPACE))
    if any(flags):
        az = AzDefaults.read(env, start) if not all(flags) else AzDefaults()
        filled = (subscription or from_env[0] or az.subscription, resource_group or az.group,
                  workspace or az.workspace)
        if not all(filled):
            missing = [f for f, v in zip(("--subscription", "--resource-group", "--workspace"), filled) if not v]
            raise UserError(f"the workspace is only partly given: {', '.join(missing)} missing.",
                            key="--workspace", fix=THREE_WAYS)
        source = "flags" if all(flags) else "flags and az CLI defaults"
        return Workspace(*filled, source)  # type: ignore[arg-type]
    if all(from_env):
        return Workspace(*from_env, "environment")  # type: ignore[arg-type]
    config = find_config(start)
    if config is not None:
        return _from_config(config)
    az = AzDefaults.read(env, start)
    if az.group and az.workspace:
        sub = from_env[0] or az.subscription
        if not sub:
            raise UserError(f"az CLI defaults name workspace {az.workspace} (group {az.group}) but no subscription "
                            "is selected.", key="--subscription",
                            fix=f"run 'az login' (or 'az account set -s SUB'), or pass --subscription, or set {ENV_SUBSCRIPTION}")
        return Workspace(sub, az.group, az.workspace, f"az CLI defaults ({az.source})")
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


@dataclass(frozen=True)
class AzDefaults:
    """What ``az configure --defaults`` and ``az login``/``az account set`` left on this machine."""

    group: str | None = None
    workspace: str | None = None
    subscription: str | None = None
    source: str = ""

    @staticmethod
    def read(env: os._Environ[str] | dict[str, str], start: Path) -> AzDefaults:
        folder = Path(env.get("AZURE_CONFIG_DIR") or Path(env.get("HOME") or Path.home()) / ".azure")
        files = [folder / "config"]
        local = next((d / ".azure" / "config" for d in [start.absolute(), *start.absolute().parents]
                      if (d / ".azure" / "config").is_file()), None)
        if local is not None and local != files[0]:
            files.append(local)  # --scope local wins over the global file
        values: dict[str, str] = {}
        used = []
        for file in files:
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read(file, encoding="utf-8")
            except (OSError, configparser.Error):
                continue
            if parser.has_section("defaults"):
                used.append(str(file))
                values.update({k: v.strip() for k, v in parser.items("defaults") if v.strip()})
        group = env.get("AZURE_DEFAULTS_GROUP") or values.get("group")
        workspace = env.get("AZURE_DEFAULTS_WORKSPACE") or values.get("workspace")
        return AzDefaults(group, workspace, _current_subscription(folder), ", ".join(used) or "environment")


def _current_subscription(folder: Path) -> str | None:
    """The az CLI's current subscription (``isDefault`` in azureProfile.json, written with a BOM)."""
    try:
        profile = json.loads((folder / "azureProfile.json").read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None
    for item in profile.get("subscriptions", []) if isinstance(profile, dict) else []:
        if isinstance(item, dict) and item.get("isDefault") and item.get("id"):
            return str(item["id"])
    return None
