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
    assert "registered Azure ML component" in text and "'sweep' cannot run locally" in text
    assert "'custom_model' is an Azure ML model input" in text
    assert "which job" not in text  # a declared input left unresolved is not reported twice


def test_a_real_mistake_is_still_refused_for_azure_ml(no_network, tmp_path):
    folder = tmp_path / "p"
    shutil.copytree(SHAPES.parent, folder)
    yml = folder / "pipeline.yml"
    yml.write_text(yml.read_text().replace("--model_path ${{inputs.model}}", "--model_path ${{inputs.modle}}"))
    code, out, err = tenantml("run", str(yml), "--backend", "aml", "--dry-run", env_home=tmp_path)
    assert code == 2
    assert "names input 'modle'" in err and "model" in err
