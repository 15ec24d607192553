"""Which workspace --backend aml submits to, decided before azure.ai.ml is imported: flags (with
az ml's -g/-w), AZUREML_ARM_* variables, a config.json as MLClient.from_config() finds it, and the
az CLI's defaults (`az configure --defaults group=... workspace=...`, az login's subscription)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tenantml.backends.aml.workspace import AzDefaults, resolve_workspace
from tenantml.errors import UserError

ROOT = Path(__file__).resolve().parent.parent


def az_home(tmp_path: Path, group: str | None = "rg-az", workspace: str | None = "ws-az",
            subscription: str | None = "sub-az") -> dict[str, str]:
    """A HOME whose ~/.azure holds what `az configure --defaults` and `az login` write."""
    home = tmp_path / "home"
    (home / ".azure").mkdir(parents=True)
    lines = ["[defaults]"] + [f"{k} = {v}" for k, v in (("group", group), ("workspace", workspace)) if v]
    (home / ".azure" / "config").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if subscription:
        profile = {"installationId": "x", "subscriptions": [
            {"id": "other", "isDefault": False}, {"id": subscription, "isDefault": True}]}
        # the az CLI writes azureProfile.json with a UTF-8 byte order mark
        (home / ".azure" / "azureProfile.json").write_text(json.dumps(profile), encoding="utf-8-sig")
    return {"HOME": str(home)}


def test_az_cli_defaults_name_the_workspace(tmp_path):
    env = az_home(tmp_path)
    found = resolve_workspace(search_from=tmp_path, environ=env)
    assert (found.subscription, found.resource_group, found.name) == ("sub-az", "rg-az", "ws-az")
    assert "az CLI defaults" in found.source


def test_flags_win_and_dash_w_alone_takes_group_and_subscription_from_the_az_cli(tmp_path):
    env = az_home(tmp_path)
    found = resolve_workspace(None, None, "ws-flag", search_from=tmp_path, environ=env)
    assert (found.subscription, found.resource_group, found.name) == ("sub-az", "rg-az", "ws-flag")
    assert resolve_workspace("s", "g", "w", search_from=tmp_path, environ=env).source == "flags"


def test_environment_variables_override_the_az_cli_config_file(tmp_path):
    env = az_home(tmp_path) | {"AZURE_DEFAULTS_GROUP": "rg-env", "AZURE_DEFAULTS_WORKSPACE": "ws-env"}
    found = resolve_workspace(search_from=tmp_path, environ=env)
    assert (found.resource_group, found.name) == ("rg-env", "ws-env")


def test_a_local_scope_config_wins_over_the_global_one(tmp_path):
    env = az_home(tmp_path)
    project = tmp_path / "project" / "deep"
    project.mkdir(parents=True)
    (tmp_path / "project" / ".azure").mkdir()
    (tmp_path / "project" / ".azure" / "config").write_text("[defaults]\nworkspace = ws-local\n", encoding="utf-8")
    assert AzDefaults.read(env, project).workspace == "ws-local"
    assert AzDefaults.read(env, project).group == "rg-az"


def test_config_json_wins_over_az_cli_defaults(tmp_path):
    env = az_home(tmp_path)
    (tmp_path / ".azureml").mkdir()
    (tmp_path / ".azureml" / "config.json").write_text(json.dumps(
        {"subscription_id": "s1", "resource_group": "g1", "workspace_name": "w1"}), encoding="utf-8")
    assert resolve_workspace(search_from=tmp_path, environ=env).name == "w1"


def test_defaults_without_a_logged_in_subscription_say_so(tmp_path):
    env = az_home(tmp_path, subscription=None)
    with pytest.raises(UserError, match="no subscription is selected"):
        resolve_workspace(search_from=tmp_path, environ=env)


def test_no_workspace_is_said_without_importing_the_azure_sdk(tmp_path):
    """The whole CLI path (`tenantml run --backend aml`) in a fresh interpreter: exit 2 with the four
    ways, and azure.ai.ml never imported (it cost 4.6 CPU seconds before)."""
    pipeline = ROOT / "tests" / "aml_shapes" / "pipeline.yml"
    program = ("import sys; from tenantml.cli import main; code = main(sys.argv[1:]); "
               "print('SDK-IMPORTED' if 'azure.ai.ml' in sys.modules else 'no-sdk'); sys.exit(code)")
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "TENANTML_HOME": str(tmp_path / "th")}
    done = subprocess.run([sys.executable, "-c", program, "run", str(pipeline), "--backend", "aml", "--no-wait"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no Azure ML workspace is configured" in done.stderr
    assert "az configure --defaults" in done.stderr
    assert done.stdout.strip().endswith("no-sdk")


def test_a_404_says_what_was_not_found():
    pytest.importorskip("azure.ai.ml")
    from azure.core.exceptions import ResourceNotFoundError

    from tenantml.backends.aml import sdk
    from tenantml.backends.aml.workspace import Workspace

    ws = Workspace("s", "g", "w", "flags")
    compute = sdk.translate(ResourceNotFoundError("Compute 'gpu' was not found"), ws, what="looking up compute 'gpu'")
    assert isinstance(compute, sdk.NotFound)
    assert "compute 'gpu'" in compute.message and "workspace was not found" not in compute.message
    workspace = sdk.translate(ResourceNotFoundError("nope"), ws, what="looking up workspace 'w'")
    assert isinstance(workspace, sdk.NotFound) and "the workspace was not found" in workspace.message


def test_fetch_takes_outputs_only_when_asked():
    import argparse

    from tenantml.backends.aml import AmlBackend

    parser = argparse.ArgumentParser()
    AmlBackend.add_fetch_arguments(parser)
    assert AmlBackend.options_from_args(parser.parse_args([])).fetch_outputs is False
    assert AmlBackend.options_from_args(parser.parse_args(["--outputs", "-w", "ws", "-g", "rg"])).fetch_outputs is True
