"""What one backend honours and the other ignores, beyond --set: tenantml.yml's mappings (datastores,
data assets, models, components, registered environments), --datastore, and what only Azure ML
honours (compute; environments while --backend local runs the current Python). Decided by what each
reference in the job Azure ML receives is about (tenantml/backends/aml/mappings.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from test_aml_dry_run import no_network as no_network_fixture
from test_aml_dry_run import tenantml

no_network = no_network_fixture

PIPELINE = {
    "$schema": "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json",
    "type": "pipeline", "settings": {"default_compute": "azureml:cpu-cluster"},
    "jobs": {
        "score": {
            "type": "parallel",
            "inputs": {"data": {"type": "uri_folder", "path": "azureml://datastores/datalake/paths/tenants/"},
                       "raw": {"type": "uri_file", "path": "azureml:tenants_raw:1"},
                       "model": {"type": "custom_model", "path": "azureml:iris_model@latest"},
                       "other": {"type": "uri_file", "path": "azureml:unmapped_asset:2"}},
            "outputs": {"out": {"type": "uri_folder", "path": "azureml://datastores/datalake/paths/out/"}},
            "input_data": "${{inputs.data}}", "mini_batch_size": "1",
            "task": {"type": "run_function", "code": "./src", "entry_script": "score.py",
                     "environment": "azureml:sklearn-env@latest",
                     "program_arguments": "--raw ${{inputs.raw}} --model ${{inputs.model}} --o ${{inputs.other}}"}},
        "train": {"type": "parallel", "component": "azureml:my_train:1", "compute": "azureml:gpu-cluster",
                  "inputs": {"data": "${{parent.jobs.score.outputs.out}}"}},
    },
}
MAPPINGS = {"datastores": {"datalake": "./datalake", "unused": "./elsewhere"},
            "assets": {"tenants_raw": {"1": "./raw.csv"}},
            "models": {"iris_model": {"2": "./models/iris2", "3": "./models/iris3"}},
            "components": {"my_train": {"1": "./train.yml"}},
            "registered_environments": {"sklearn-env": "./conda.yml"}}


def project(root: Path, mappings: dict | None = MAPPINGS) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "score.py").write_text("def run(mini_batch):\n    return mini_batch\n", encoding="utf-8")
    path = root / "pipeline.yml"
    path.write_text(yaml.safe_dump(PIPELINE, sort_keys=False), encoding="utf-8")
    if mappings is not None:
        (root / "tenantml.yml").write_text(yaml.safe_dump(mappings), encoding="utf-8")
    return path


def body(**score_task: str) -> dict:
    """The REST body the SDK builds for PIPELINE (load_job drops "azureml:" from asset references)."""
    return {"properties": {
        "settings": {"default_compute": "cpu-cluster"},
        "jobs": {
            "score": {"type": "parallel", "task": {"environment": "azureml:sklearn-env@latest", **score_task},
                      "inputs": {"data": {"uri": "azureml://datastores/datalake/paths/tenants/",
                                          "job_input_type": "uri_folder"},
                                 "raw": {"uri": "tenants_raw:1", "job_input_type": "uri_file"},
                                 "model": {"uri": "iris_model@latest", "job_input_type": "custom_model"},
                                 "other": {"uri": "unmapped_asset:2", "job_input_type": "uri_file"},
                                 "local": {"uri": "/tmp/data", "job_input_type": "uri_folder"}},
                      "outputs": {"out": {"uri": "azureml://datastores/datalake/paths/out/",
                                          "job_output_type": "uri_folder"}},
                      "componentId": "name: azureml_anonymous\nversion: '1'\ntype: parallel\n"},
            "train": {"type": "parallel", "componentId": "my_train:1", "computeId": "azureml:gpu-cluster",
                      "inputs": {"data": {"value": "${{parent.jobs.score.outputs.out}}", "job_input_type": "literal"}}},
        }}}


def test_each_reference_is_classified_by_what_it_is_about():
    from tenantml.backends.aml.mappings import references

    found = {(r.kind, r.name, r.key) for r in references(body())}
    assert found == {
        ("compute", "cpu-cluster", "settings.default_compute"), ("compute", "gpu-cluster", "jobs.train.compute"),
        ("datastore", "datalake", "jobs.score.inputs.data.path"), ("datastore", "datalake", "jobs.score.outputs.out.path"),
        ("data", "tenants_raw", "jobs.score.inputs.raw.path"), ("model", "iris_model", "jobs.score.inputs.model.path"),
        ("data", "unmapped_asset", "jobs.score.inputs.other.path"),
        ("environment", "sklearn-env", "jobs.score.task.environment"), ("component", "my_train", "jobs.train.component")}


def test_mappings_only_the_local_backend_reads_are_reported(tmp_path):
    from tenantml.backends.aml.mappings import divergences

    pipeline = project(tmp_path / "p")
    lines = divergences(pipeline, body())
    root = pipeline.parent
    assert lines[0] == ("compute cpu-cluster, gpu-cluster: Azure ML runs the steps there; --backend local runs them "
                        "on this machine (instance_count x max_concurrency_per_instance processes as virtual nodes)")
    text = "\n".join(lines)
    assert (f"datastore 'datalake' (jobs.score.inputs.data.path, jobs.score.outputs.out.path): --backend local reads "
            f"and writes the folder {root / 'datalake'} (tenantml.yml datastores.datalake); Azure ML ignores "
            "tenantml.yml and uses the workspace's datastore 'datalake'") in text
    assert f"data asset azureml:tenants_raw:1 (jobs.score.inputs.raw.path): --backend local reads {root / 'raw.csv'}" in text
    # @latest is resolved as --backend local resolves it: the highest mapped version
    assert f"model azureml:iris_model@latest (jobs.score.inputs.model.path): --backend local reads {root / 'models/iris3'}" in text
    assert (f"component azureml:my_train:1 (jobs.train.component): --backend local runs the component defined in "
            f"{root / 'train.yml'} (tenantml.yml components.my_train)") in text
    # environments: current (the default) -> the step's environment is Azure ML's only
    assert ("environment azureml:sklearn-env@latest (jobs.score.task.environment): Azure ML runs the step in it; "
            "--backend local runs the current Python and ignores it") in text
    assert "unmapped_asset" not in text and "unused" not in text  # nothing maps it / the job does not use it
    assert len(lines) == 6


def test_isolated_environments_and_the_datastore_option(tmp_path):
    from tenantml.backends.aml.mappings import divergences

    pipeline = project(tmp_path / "p", {**MAPPINGS, "environments": "isolated"})
    lines = divergences(pipeline, body(), {"datalake": tmp_path / "lake"})
    text = "\n".join(lines)
    assert (f"environment azureml:sklearn-env@latest (jobs.score.task.environment): --backend local builds it from "
            f"{pipeline.parent / 'conda.yml'} (tenantml.yml registered_environments.sklearn-env); Azure ML ignores "
            "tenantml.yml and uses the registered environment") in text
    assert (f"datastore 'datalake' (jobs.score.inputs.data.path, jobs.score.outputs.out.path): --backend local reads "
            f"and writes the folder {tmp_path / 'lake'} (--datastore datalake=...); Azure ML ignores --datastore") in text
    assert "datastores.datalake" not in text  # --datastore wins over tenantml.yml locally


def test_no_tenantml_yml_leaves_what_only_azure_ml_honours(tmp_path):
    from tenantml.backends.aml.mappings import divergences

    lines = divergences(project(tmp_path / "p", None), body())
    assert [line.split(" ", 1)[0] for line in lines] == ["compute", "environment"]


def test_a_broken_tenantml_yml_is_said_not_raised(tmp_path):
    from tenantml.backends.aml.mappings import divergences

    pipeline = project(tmp_path / "p", None)
    (pipeline.parent / "tenantml.yml").write_text("datastorez: {}\n", encoding="utf-8")
    lines = divergences(pipeline, body())
    assert "could not be read" in lines[0] and "datastorez" in lines[0]


@pytest.mark.slow  # a full dry run (~0.5 s); the fast suite prints a divergence in test_aml_waivers
def test_the_dry_run_prints_them(no_network, tmp_path):
    pytest.importorskip("azure.ai.ml", reason="the aml extra is not installed (pip install -e '.[aml]')")
    pipeline = project(tmp_path / "p")
    code, out, err = tenantml("run", str(pipeline), "--backend", "aml", "--dry-run",
                              "--datastore", f"datalake={tmp_path / 'lake'}", env_home=tmp_path)
    assert code == 0, out + err
    assert "differs from --backend local: compute cpu-cluster, gpu-cluster: Azure ML runs" in out
    assert f"differs from --backend local: data asset azureml:tenants_raw:1 (jobs.score.inputs.raw.path)" in out
    assert "differs from --backend local: component azureml:my_train:1" in out
    assert f"the folder {tmp_path / 'lake'} (--datastore datalake=...)" in out


def test_an_sdk_job_object_is_judged_on_its_own_rest_body(tmp_path):
    """tenantml.submit(job, backend="aml"): the tenantml.yml staged beside the job's dump is compared
    with the references of the object itself (no network: only the report is built)."""
    pytest.importorskip("azure.ai.ml", reason="the aml extra is not installed (pip install -e '.[aml]')")
    from azure.ai.ml import Input, dsl
    from azure.ai.ml.parallel import RunFunction, parallel_run_function

    from tenantml.backends.aml import object_divergences
    from tenantml.backends.base import RunOptions

    score = parallel_run_function(
        name="score", inputs={"data": Input(type="uri_folder")}, input_data="${{inputs.data}}", mini_batch_size="1",
        task=RunFunction(code=str(tmp_path), entry_script="score.py", environment="azureml:sklearn-env@latest"))

    @dsl.pipeline(default_compute="cpu-cluster")
    def scoring(data):
        score(data=data)

    job = scoring(data=Input(type="uri_folder", path="azureml://datastores/datalake/paths/tenants/"))
    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "tenantml.yml").write_text(yaml.safe_dump({"datastores": {"datalake": str(tmp_path / "lake")}}))
    lines = object_divergences(job, staged / "scoring.yml", RunOptions(home=tmp_path))
    assert lines[0].startswith("compute cpu-cluster: Azure ML runs the steps there")
    assert any(line.startswith(f"datastore 'datalake' (inputs.data.path): --backend local reads and writes the folder "
                               f"{tmp_path / 'lake'}") for line in lines), lines
    assert any(line.startswith("environment azureml:sklearn-env@latest") for line in lines), lines


def test_an_automl_node_whose_task_is_its_task_type_is_read():
    """An automl node's ``task`` is its task type, a string (``type: automl`` + ``task: forecasting`` in
    cli/jobs/pipelines/automl/demand-forecast-pipeline of Azure/azureml-examples): its references are
    still read, and ``--backend aml --dry-run`` no longer stops with an AttributeError on it."""
    from tenantml.backends.aml.mappings import references

    automl = {"type": "automl", "task": "forecasting", "computeId": "azureml:cpu-cluster",
              "inputs": {"training_data": {"uri": "azureml://datastores/datalake/paths/train/",
                                           "job_input_type": "mltable"}}}
    found = {(r.kind, r.name, r.key) for r in references({"properties": {"jobs": {"forecasting_node": automl}}})}
    assert found == {("compute", "cpu-cluster", "jobs.forecasting_node.compute"),
                     ("datastore", "datalake", "jobs.forecasting_node.inputs.training_data.path")}
