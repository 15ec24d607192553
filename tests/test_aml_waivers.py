"""--backend aml waives only the problems about running on this machine (decided by the kind of
problem, :class:`tenantml.errors.LocalOnlyProblem`, never by its text); everything else is still
tenantml's to refuse. The YAML in tests/aml_shapes holds the shapes issue 15 found refused: the seed
pipeline's folded ``command`` naming its inputs, a registered component, a registered model in
program_arguments, a ``custom_model`` input and a sweep node."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_aml_dry_run import no_network as no_network_fixture
from test_aml_dry_run import tenantml

pytest.importorskip("azure.ai.ml", reason="the aml extra is not installed (pip install -e '.[aml]')")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

no_network = no_network_fixture
SHAPES = Path(__file__).resolve().parent / "aml_shapes" / "pipeline.yml"


def test_azure_only_shapes_pass_the_dry_run_and_say_what_was_not_checked_here(no_network, tmp_path):
    code, out, err = tenantml("run", str(SHAPES), "--backend", "aml", "--dry-run", env_home=tmp_path)
    assert code == 0, out + err
    assert "submittable to Azure ML" in out
    assert "not checked on this machine" in out and "jobs.registered.component" in out and "jobs.sweep_step" in out
    assert "azureml:my_parallel:1 (registered" in out
    assert "does not have" not in out + err  # the folded command's ${{inputs.raw_data_file}} is declared
    assert "upload:               input model" not in out  # azureml:my-model:3 is registered, not uploaded


def test_the_same_yaml_still_fails_locally_naming_each_local_problem(tmp_path, monkeypatch):
    monkeypatch.setenv("TENANTML_HOME", str(tmp_path / "home"))
    code, out, err = tenantml("run", str(SHAPES), "--dry-run", env_home=tmp_path)
    assert code == 2, out + err
    text = out + err
    # issue 13: registered components and models map through tenantml.yml; sweep runs on Azure ML only
    assert "component 'azureml:my_parallel:1' has no local copy mapped in tenantml.yml" in text
    assert "job 'sweep_step': a sweep job (hyperparameter search) runs on Azure ML only" in text
    assert "model 'azureml:my-model:3' has no local copy mapped in tenantml.yml" in text
    assert "valid keys:  Fix" not in text  # a parent input already reported is not reported again where bound
    assert "which job" not in text  # a declared input left unresolved is not reported twice


def test_a_real_mistake_is_still_refused_for_azure_ml(no_network, tmp_path):
    folder = tmp_path / "p"
    shutil.copytree(SHAPES.parent, folder)
    yml = folder / "pipeline.yml"
    yml.write_text(yml.read_text().replace("--model_path ${{inputs.model}}", "--model_path ${{inputs.modle}}"))
    code, out, err = tenantml("run", str(yml), "--backend", "aml", "--dry-run", env_home=tmp_path)
    assert code == 2
    assert "names input 'modle'" in err and "model" in err


COMPONENT_NODE = SHAPES.parent / "component_node.yml"


def test_an_override_azure_ml_ignores_is_reported(no_network, tmp_path):
    """`--set jobs.<node>.command=...` on a component: node: load_job takes the command from the
    component, the local run from the override; the dry-run says so (and a used one is not named)."""
    code, out, err = tenantml("run", str(COMPONENT_NODE), "--backend", "aml", "--dry-run",
                              "--set", "jobs.de.command=python de.py --other",
                              "--set", "jobs.de.compute=azureml:gpu-cluster", env_home=tmp_path)
    assert code == 0, out + err
    assert "differs from --backend local: --set jobs.de.command=python de.py --other" in out
    assert "jobs.de.compute" not in out


def test_force_becomes_settings_force_rerun(no_network, tmp_path):
    from tenantml.backends.aml import AmlBackend, AmlOptions
    from tenantml.backends.aml.job import rest_body
    from tenantml.backends.base import RunOptions

    plan = AmlBackend().plan(COMPONENT_NODE, RunOptions(home=tmp_path, force=True, backend=AmlOptions()))
    assert rest_body(plan.job)["properties"]["settings"]["force_rerun"] is True
    assert any("force_rerun" in line for line in plan.lines())
    plain = AmlBackend().plan(COMPONENT_NODE, RunOptions(home=tmp_path, backend=AmlOptions()))
    assert not rest_body(plain.job)["properties"]["settings"].get("force_rerun")


STANDALONE = {
    # the shapes of cli/jobs/basics/hello-sweep.yml and hello-automl/hello-automl-job-basic.yml of
    # Azure/azureml-examples, which `az ml job create -f` submits as they are
    "sweep": """$schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json
type: sweep
trial:
  command: python train.py --lr ${{search_space.lr}}
  code: src
  environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
sampling_algorithm: random
search_space:
  lr:
    type: uniform
    min_value: 0.01
    max_value: 0.9
objective:
  goal: minimize
  primary_metric: loss
limits:
  max_total_trials: 4
  max_concurrent_trials: 2
compute: azureml:cpu-cluster
experiment_name: tune
""",
    "automl": """$schema: https://azuremlsdk2.blob.core.windows.net/preview/0.0.1/autoMLJob.schema.json
type: automl
experiment_name: classify
compute: azureml:cpu-cluster
task: classification
primary_metric: accuracy
target_column_name: y
training_data:
  path: azureml://datastores/workspaceblobstore/paths/train/
  type: mltable
limits:
  timeout_minutes: 60
""",
}


@pytest.mark.parametrize("kind", sorted(STANDALONE))
def test_a_standalone_azure_only_job_is_submittable_and_refused_locally_with_the_way_out(kind, no_network, tmp_path):
    folder = tmp_path / "job"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "train.py").write_text("print('trial')\n", encoding="utf-8")
    yml = folder / f"{kind}.yml"
    yml.write_text(STANDALONE[kind], encoding="utf-8")
    code, out, err = tenantml("run", str(yml), "--backend", "aml", "--dry-run", env_home=tmp_path)
    assert code == 0, out + err
    assert "submittable to Azure ML" in out and f"{kind}.yml:2: type: " in out  # waived, and said so
    assert f"a standalone {kind} job. Nothing was sent" in out
    code, out, err = tenantml("run", str(yml), "--dry-run", env_home=tmp_path)
    assert code == 2 and "Traceback" not in err
    assert f"{kind}.yml:2: type: " in err and "runs on Azure ML only" in err and "--backend aml" in err
