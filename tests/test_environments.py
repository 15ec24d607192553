"""Each step in its own environment (``--environments isolated``), and the warnings of ``current``.

Building environments needs uv and PyPI (or uv's cache): those tests are marked slow.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
import yaml
from conftest import Project

from tenantml.backends.local.environments.build import find_python
from tenantml.backends.local.environments.conda import translate
from tenantml.backends.local.environments.curated import lookup

SHOW_VERSION = "import packaging, sys; print('packaging', packaging.__version__, 'python', sys.executable)"

# A file-input parallel step whose worker must run with nothing but what its conda file lists.
WORKER_SCRIPT = """
import importlib.util, os
import packaging

def init():
    print("packaging", packaging.__version__)
    for heavy in ("pandas", "yaml", "numpy", "mltable"):
        assert importlib.util.find_spec(heavy) is None, heavy + " is importable in the step's environment"

def run(mini_batch):
    return [f"{os.path.basename(p)} {packaging.__version__}" for p in mini_batch]
"""


def _conda(project: Project, name: str, pins: list[str], conda: list[str] | None = None) -> str:
    deps: list[object] = ["python=3.11", "pip", *(conda or [])]
    if pins:
        deps.append({"pip": pins})
    project.write(f"envs/{name}.yml", yaml.safe_dump({"name": name, "channels": ["conda-forge"], "dependencies": deps}))
    return f"./envs/{name}.yml"


def _two_pins(project: Project) -> None:
    project.tenants(2)
    project.write("src/show.py", SHOW_VERSION + "\n")
    project.write("src/entry.py", WORKER_SCRIPT)
    old = _conda(project, "old", ["packaging==21.3"])
    new = _conda(project, "new", ["packaging==24.1"])
    image = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest"
    jobs = {
        "old": {"type": "command", "code": "./src", "command": "python show.py",
                "environment": {"image": image, "conda_file": old}},
        "new": {"type": "command", "code": "./src", "command": "python show.py",
                "environment": {"image": image, "conda_file": new}},
        "score": {"type": "parallel", "inputs": {"data": {"type": "uri_folder", "path": "./data"}},
                  "outputs": {"out": {"type": "uri_folder"}}, "input_data": "${{inputs.data}}",
                  "mini_batch_size": "1", "retry_settings": {"max_retries": 0, "timeout": 60},
                  "task": {"type": "run_function", "code": "./src", "entry_script": "entry.py",
                           "append_row_to": "${{outputs.out}}",
                           "environment": {"image": image, "conda_file": old}}},
    }
    project.pipeline.write_text(yaml.safe_dump({"type": "pipeline", "jobs": jobs}, sort_keys=False), encoding="utf-8")


@pytest.mark.slow  # builds two virtualenvs with uv
def test_two_steps_pinning_incompatible_versions_both_pass_isolated_and_the_cache_is_reused(project: Project):
    _two_pins(project)
    done = project.cli("run", "pipeline.yml", "--environments", "isolated", timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (done.stdout + done.stderr).count("building environment") == 2  # old is shared by 'old' and 'score'
    runs = sorted((project.home / "runs").iterdir())
    run_dir = runs[0]
    assert "packaging 21.3" in (run_dir / "old" / "logs" / "user_logs" / "std_log.txt").read_text()
    assert "packaging 24.1" in (run_dir / "new" / "logs" / "user_logs" / "std_log.txt").read_text()
    assert "packaging==21.3" in (run_dir / "old" / "logs" / "environment.txt").read_text()
    assert "packaging==24.1" in (run_dir / "new" / "logs" / "environment.txt").read_text()
    rows = (run_dir / "score" / "outputs" / "out" / "parallel_run_step.txt").read_text()
    assert "tenant_1.csv 21.3" in rows and "tenant_2.csv 21.3" in rows  # the worker ran in the 'old' env
    record = json.loads((run_dir / "run.json").read_text())
    envs = {name: record["steps"][name]["environment"] for name in ("old", "new", "score")}
    assert envs["old"]["id"] == envs["score"]["id"] != envs["new"]["id"]
    assert all(e["mode"] == "isolated" and str(project.home / "envs") in e["python"] for e in envs.values())
    assert not list((project.home / "envs").glob("*.tmp-*"))

    # Again, from tenantml.yml rather than the flag, every step forced: nothing is built, and uv is not
    # even on PATH (so nothing is downloaded: a cached environment works offline).
    project.write("tenantml.yml", "environments: isolated\n")
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if not os.path.exists(os.path.join(p, "uv")))
    again = project.cli("run", "pipeline.yml", "--force", timeout=600, env={"PATH": path})
    assert again.returncode == 0, again.stdout + again.stderr
    assert "building environment" not in again.stdout + again.stderr
    second = sorted((project.home / "runs").iterdir(), key=lambda p: p.stat().st_mtime)[-1]
    assert "packaging 24.1" in (second / "new" / "logs" / "user_logs" / "std_log.txt").read_text()
    shown = project.cli("show", second.name)
    assert shown.returncode == 0, shown.stderr
    assert f"new: inline environment, conda_file ./envs/new.yml [{envs['new']['id']}], isolated: python " in shown.stdout


@pytest.mark.slow  # asks PyPI (through uv) for a package that does not exist
def test_a_package_that_cannot_be_had_fails_before_any_step_runs(project: Project):
    project.write("src/show.py", SHOW_VERSION + "\n")
    conda = _conda(project, "bad", ["packaging==24.1", "tenantml-no-such-package-anywhere==1.0"])
    jobs = {"first": {"type": "command", "code": "./src", "command": "python show.py > marker.txt",
                      "environment": {"image": "x", "conda_file": conda}}}
    project.pipeline.write_text(yaml.safe_dump({"type": "pipeline", "jobs": jobs}), encoding="utf-8")
    done = project.cli("run", "pipeline.yml", "--environments", "isolated", timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "tenantml-no-such-package-anywhere" in done.stderr and "bad.yml" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (project.root / "src" / "marker.txt").exists()
    assert not (project.home / "runs").exists() or not list((project.home / "runs").iterdir())
    assert [p.name for p in (project.home / "envs").iterdir() if not p.name.endswith(".lock")] == []


def test_a_conda_package_with_no_pip_equivalent_is_a_clear_error_naming_it(project: Project):
    project.write("src/show.py", SHOW_VERSION + "\n")
    conda = _conda(project, "r", ["packaging"], conda=["r-base=4.1"])
    jobs = {"first": {"type": "command", "code": "./src", "command": "python show.py",
                      "environment": {"image": "x", "conda_file": conda}}}
    project.pipeline.write_text(yaml.safe_dump({"type": "pipeline", "jobs": jobs}), encoding="utf-8")
    done = project.cli("run", "pipeline.yml", "--environments", "isolated")
    assert done.returncode == 2
    assert "r.yml" in done.stderr and "r-base=4.1" in done.stderr and "Fix:" in done.stderr
    assert not (project.home / "runs").exists() or not list((project.home / "runs").iterdir())
    project.write("tenantml.yml", "environments: isolated\n")
    assert project.cli("validate", "pipeline.yml").returncode == 2  # found without running anything


def test_current_mode_warns_about_pins_that_differ_and_imports_the_environment_lacks(project: Project):
    project.write("src/show.py", "import yaml\n" + SHOW_VERSION + "\n")
    conda = _conda(project, "old", ["packaging==21.3"])
    jobs = {"evaluation": {"type": "command", "code": "./src", "command": "python show.py",
                           "environment": {"image": "x", "conda_file": conda}}}
    project.pipeline.write_text(yaml.safe_dump({"type": "pipeline", "jobs": jobs}), encoding="utf-8")
    done = project.cli("run", "pipeline.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    from importlib.metadata import version

    assert f"step evaluation pins packaging==21.3; running with {version('packaging')}" in done.stdout + done.stderr
    assert "--environments isolated" in done.stdout + done.stderr
    assert "step evaluation imports 'yaml' (PyYAML)" in done.stdout + done.stderr
    assert (done.stdout + done.stderr).count("step evaluation pins") == 1


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
def test_editing_the_conda_file_runs_the_step_again(project: Project):
    project.write("src/show.py", "print('ran')\n")
    conda = _conda(project, "env", ["packaging"])
    jobs = {"only": {"type": "command", "code": "./src", "command": "python show.py",
                     "environment": {"image": "x", "conda_file": conda}}}
    project.pipeline.write_text(yaml.safe_dump({"type": "pipeline", "jobs": jobs}), encoding="utf-8")
    assert project.cli("run", "pipeline.yml").returncode == 0
    assert "reused" in _out(project.cli("run", "pipeline.yml"))
    _conda(project, "env", ["packaging", "six"])
    assert "reused" not in _out(project.cli("run", "pipeline.yml"))


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
def test_registered_environments_map_in_tenantml_yml_else_a_clear_error(project: Project):
    project.write("src/show.py", "print('ran')\n")
    jobs = {"only": {"type": "command", "code": "./src", "command": "python show.py",
                     "environment": "azureml:team-env@latest"}}
    project.pipeline.write_text(yaml.safe_dump({"type": "pipeline", "jobs": jobs}), encoding="utf-8")
    done = project.cli("run", "pipeline.yml", "--environments", "isolated")
    assert done.returncode == 2
    assert "azureml:team-env@latest" in done.stderr and "registered_environments" in done.stderr
    current = project.cli("run", "pipeline.yml")  # current mode: said, and the step runs as it always did
    assert current.returncode == 0 and "registered_environments" in current.stderr
    _conda(project, "team", ["packaging==21.3"])
    project.write("tenantml.yml", "registered_environments:\n  team-env: ./envs/team.yml\n")
    done = project.cli("run", "pipeline.yml")
    assert done.returncode == 0, done.stderr
    assert "pins packaging==21.3" in done.stdout + done.stderr + done.stderr
    latest = max((project.home / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    record = json.loads((latest / "run.json").read_text())
    assert record["steps"]["only"]["environment"]["label"] == "azureml:team-env@latest, conda_file ./envs/team.yml"


def test_conda_specs_translate_to_pip_and_curated_environments_resolve():
    assert translate("python=3.8") == ("python", "3.8")
    assert translate("pip=21.3.1") == ("pip", None)
    assert translate("scikit-learn=0.23.2") == ("scikit-learn", "scikit-learn==0.23.2")
    assert translate("py-xgboost=1.3") == ("xgboost", "xgboost==1.3.*")
    assert translate("conda-forge::pandas>=1.5,<2") == ("pandas", "pandas>=1.5,<2")
    assert translate("numpy=1.21.2=py38h_0") == ("numpy", "numpy==1.21.2")
    sklearn = lookup("AzureML-sklearn-1.0-ubuntu20.04-py38-cpu")
    assert sklearn is not None and sklearn.python == "3.8" and "scikit-learn~=1.0.0" in sklearn.requirements
    assert lookup("sklearn-1.5") is not None and lookup("no-such-curated-env") is None
    assert lookup("AzureML-sklearn-1.0") is not None and lookup("AzureML-sklearn-1.0").python == "3.9"


@pytest.mark.slow  # three validations in a subprocess
def test_mlflow_is_in_every_curated_environment_as_azureml_mlflow_brings_it(project: Project):
    """Each curated conda file lists azureml-mlflow, which requires mlflow-skinny: Microsoft's own
    nyc_taxi_data_regression pipeline imports mlflow on sklearn-1.5. tenantml warned that such a step
    "fails on Azure ML with ModuleNotFoundError"."""
    sklearn = lookup("sklearn-1.5")
    assert sklearn is not None and {"mlflow-skinny", "typing-extensions"} <= set(sklearn.requirements)
    project.write("src/train.py", "import mlflow\n")
    jobs = {"train": {"type": "command", "code": "./src", "command": "python train.py",
                      "environment": "azureml://registries/azureml/environments/sklearn-1.5/labels/latest"}}
    project.pipeline.write_text(yaml.safe_dump({"type": "pipeline", "jobs": jobs}), encoding="utf-8")
    done = project.cli("validate", "pipeline.yml")
    assert done.returncode == 0, _out(done)
    assert "imports 'mlflow'" not in _out(done)
    # a conda file listing mlflow or azureml-mlflow brings mlflow-skinny too (not installed here to be read)
    for listed in ("mlflow", "azureml-mlflow>=1.41.0"):
        jobs["train"]["environment"] = {"image": "x", "conda_file": _conda(project, "m", [listed])}
        project.pipeline.write_text(yaml.safe_dump({"type": "pipeline", "jobs": jobs}), encoding="utf-8")
        done = project.cli("validate", "pipeline.yml")
        assert done.returncode == 0 and "imports 'mlflow'" not in _out(done), _out(done)


def _out(done: object) -> str:
    return str(getattr(done, "stdout", "")) + str(getattr(done, "stderr", ""))


@pytest.mark.slow  # builds a virtualenv
@pytest.mark.skipif(shutil.which("uv") is None or find_python(shutil.which("uv") or "uv", "3.8") is None,
                    reason="needs uv and a Python 3.8 on this machine")
def test_python_version_in_the_conda_file_selects_the_interpreter_and_the_worker_runs_there(project: Project):
    project.tenants(2)
    project.parallel_pipeline("import sys\ndef run(mini_batch):\n    return [f'{len(mini_batch)} {sys.version_info[0]}.{sys.version_info[1]}']\n",
                              task={"environment": {"image": "x", "conda_file": "./envs/py38.yml"}})
    project.write("envs/py38.yml", "dependencies:\n  - python=3.8\n  - pip:\n    - packaging==21.3\n")
    done = project.cli("run", "pipeline.yml", "--environments", "isolated", timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    run_dir = next((project.home / "runs").iterdir())
    assert (run_dir / "score" / "outputs" / "out" / "parallel_run_step.txt").read_text().splitlines() == ["1 3.8"] * 2


@pytest.mark.slow  # builds a virtualenv
def test_two_runs_building_the_same_environment_at_once_build_it_once(project: Project):
    import subprocess
    import sys

    project.write("src/show.py", SHOW_VERSION + "\n")
    conda = _conda(project, "shared", ["packaging==21.3"])
    jobs = {"only": {"type": "command", "code": "./src", "command": "python show.py",
                     "environment": {"image": "x", "conda_file": conda}}}
    project.pipeline.write_text(yaml.safe_dump({"type": "pipeline", "jobs": jobs}), encoding="utf-8")
    env = {**os.environ, "TENANTML_HOME": str(project.home)}
    cmd = [sys.executable, "-m", "tenantml.cli", "run", "pipeline.yml", "--environments", "isolated", "--force"]
    procs = [subprocess.Popen(cmd, cwd=project.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sum(out.count("building environment") for out in outs) == 1
    built = [p.name for p in (project.home / "envs").iterdir() if not p.name.endswith(".lock")]
    assert len(built) == 1 and ".tmp-" not in built[0]
    for run_dir in (project.home / "runs").iterdir():
        assert "packaging 21.3" in (run_dir / "only" / "logs" / "user_logs" / "std_log.txt").read_text()
