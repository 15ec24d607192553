"""`tenantml run ... --backend aml --dry-run`: both validators, the per-step report, no network;
and the aml backend costs nothing to --backend local."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_aml_submit import project

pytest.importorskip("azure.ai.ml", reason="the aml extra is not installed (pip install -e '.[aml]')")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.yml")
                  if p.name == "pipeline.yml" or "type: pipeline" in p.read_text(errors="replace"))


def tenantml(*args: str, env_home: Path) -> tuple[int, str, str]:
    from contextlib import redirect_stderr, redirect_stdout
    from io import StringIO

    from tenantml.cli import main

    out, err = StringIO(), StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """No workspace, no credential and an unusable service URL: a dry run must not need any of them."""
    for name in ("AZUREML_ARM_SUBSCRIPTION", "AZUREML_ARM_RESOURCEGROUP", "AZUREML_ARM_WORKSPACE_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZUREML_DEV_URL_MFE", "https://127.0.0.1:9")
    monkeypatch.setenv("TENANTML_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)

    def refuse(*args, **kwargs):
        raise AssertionError("a dry run opened a network connection")

    import socket

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.parametrize("pipeline", EXAMPLES, ids=[str(p.relative_to(ROOT)) for p in EXAMPLES])
def test_every_example_is_submittable(pipeline: Path, no_network, tmp_path):
    code, out, err = tenantml("run", str(pipeline), "--backend", "aml", "--dry-run", env_home=tmp_path)
    assert code == 0, out + err
    assert "submittable to Azure ML" in out and "Nothing was sent" in out


def test_examples_exist():
    assert EXAMPLES, "examples/ has no pipeline to dry-run"


def test_dry_run_reports_what_azure_ml_receives(no_network, tmp_path):
    pipeline = project(tmp_path / "proj")
    code, out, err = tenantml("run", str(pipeline), "--backend", "aml", "--dry-run",
                              "--set", "jobs.train.mini_batch_size=10kb", "--set", "jobs.score.mini_batch_size=3",
                              env_home=tmp_path)
    assert code == 0, err
    assert "mini_batch_size 3 file(s) per mini-batch" in out
    assert "one mini-batch per distinct (store); mini_batch_size 10240 is sent too" in out
    assert "2 x 3 process(es) per instance = 6 worker(s)" in out
    assert "max_retries 4, timeout 90 s (each mini-batch gets 5 attempt(s))" in out
    assert "mini_batch_error_threshold 5, error_threshold 3, allowed_failed_percent 20" in out
    assert "program_arguments:    --error_threshold 3 --allowed_failed_percent 20 --out ${{outputs.out}}" in out
    assert "environment_variables: TENANT_MODE=score" in out
    assert "on compute cpu-cluster" in out
    assert "upload:               input data:" in out
    assert "partition_keys wins" in err  # tenantml's warning about both being set


def test_dry_run_catches_what_the_sdk_lets_through(no_network, tmp_path):
    pipeline = project(tmp_path / "proj")
    code, out, err = tenantml("run", str(pipeline), "--backend", "aml", "--dry-run",
                              "--set", "jobs.score.task.entry_script=scor.py", env_home=tmp_path)
    assert code == 2
    assert "jobs.score.task.entry_script" in err and "does not exist" in err


def test_bad_set_and_sdk_schema_errors_are_clear(no_network, tmp_path):
    pipeline = project(tmp_path / "proj")
    code, _, err = tenantml("run", str(pipeline), "--backend", "aml", "--dry-run", "--set", "novalue",
                            env_home=tmp_path)
    assert code == 2 and "--set 'novalue' is not KEY=VALUE" in err


def test_no_workspace_says_the_three_ways(no_network, tmp_path):
    pipeline = project(tmp_path / "proj")
    code, out, err = tenantml("run", str(pipeline), "--backend", "aml", env_home=tmp_path)
    assert code == 2
    assert "no Azure ML workspace is configured" in err
    assert "--subscription" in err and "AZUREML_ARM_SUBSCRIPTION" in err and "config.json" in err


def test_local_backend_never_imports_the_azure_sdk(tmp_path):
    code = (
        "import sys\n"
        "from tenantml.cli import main\n"
        "main(['backends']); main(['run', '--help']) if False else None\n"
        "import tenantml.commands.run, tenantml.backends.aml.cli, tenantml.backends.registry\n"
        "from tenantml.backends.registry import BackendRegistry\n"
        "BackendRegistry().load('local'); BackendRegistry().load('aml')\n"
        "assert 'azure.ai.ml' not in sys.modules, 'azure.ai.ml was imported'\n"
        "print('clean')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "clean" in result.stdout


def test_an_unknown_azureml_current_cloud_is_a_clear_error(tmp_path):
    """azure-ai-ml reads AZUREML_CURRENT_CLOUD when it is imported and raises MlException for a
    name it does not know (azure/ai/ml/_azure_environments.py: _get_cloud): a fresh process, since
    this one imported the SDK already."""
    pipeline = project(tmp_path / "proj")
    done = subprocess.run([sys.executable, "-m", "tenantml.cli", "run", str(pipeline), "--backend", "aml",
                           "--dry-run"], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "AZUREML_CURRENT_CLOUD": "NoSuchCloud",
                               "TENANTML_HOME": str(tmp_path / "home")})
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "AZUREML_CURRENT_CLOUD" in done.stderr and "NoSuchCloud" in done.stderr and "AzureCloud" in done.stderr
