"""Loading for elsewhere (LoadContext.local=False): data in Azure keeps its URI, structurally.

The aml backend validates with tenantml's own checks before the SDK's. Data that lives in
Azure (datastore URIs, data assets) is not on this machine; loaded for a local run it must map
to local folders, loaded for Azure ML it is simply kept as written -- no fake run id, no problem
dropped by matching its text.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tenantml.errors import ValidationErrors
from tenantml.loader import LoadContext, load_pipeline
from tenantml.locations import Datastores

PIPELINE = """\
type: pipeline
inputs:
  lake: {type: uri_folder, path: "azureml://datastores/lake/paths/tenants/"}
jobs:
  score:
    type: parallel
    inputs:
      data: ${{parent.inputs.lake}}
      model: {type: uri_folder, path: "azureml:tenants_model:1"}
    outputs:
      out: {type: uri_folder, path: "azureml://datastores/lake/paths/out/${{name}}/"}
    input_data: ${{inputs.data}}
    mini_batch_size: "1"
    task: {type: run_function, code: ./src, entry_script: s.py, environment: {image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04},
           program_arguments: "--model_in ${{inputs.model}} --model_out ${{outputs.out}}"}
"""


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "s.py").write_text("def run(mini_batch):\n    return mini_batch\n", encoding="utf-8")
    path = tmp_path / "pipeline.yml"
    path.write_text(PIPELINE, encoding="utf-8")
    return path


def test_loaded_for_elsewhere_data_in_azure_keeps_its_uri(pipeline: Path, tmp_path: Path):
    loaded = load_pipeline(pipeline, LoadContext(None, None, Datastores(tmp_path / "home", {}), local=False))
    job = loaded.jobs["score"]
    assert job.inputs["data"].remote == "azureml://datastores/lake/paths/tenants/"  # type: ignore[union-attr]
    assert job.inputs["model"].remote == "azureml:tenants_model:1"  # type: ignore[union-attr]
    assert job.outputs["out"].remote == "azureml://datastores/lake/paths/out/${{name}}/"
    assert job.program_arguments == ("--model_in", "azureml:tenants_model:1",
                                     "--model_out", "azureml://datastores/lake/paths/out/${{name}}/")
    assert job.code == pipeline.parent / "src"  # local files (uploaded by the SDK) are still checked here


def test_loaded_for_a_local_run_the_same_data_must_map_to_this_machine(pipeline: Path, tmp_path: Path):
    ctx = LoadContext(tmp_path / "runs" / "r1", "r1", Datastores(tmp_path / "home", {}))
    with pytest.raises(ValidationErrors) as info:
        load_pipeline(pipeline, ctx)
    text = info.value.render()
    assert "inputs.lake.path: input path does not exist" in text
    assert "data asset 'azureml:tenants_model:1' has no local copy" in text


def test_the_aml_backend_validates_with_tenantml_without_dropping_problems(pipeline: Path, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch):
    from tenantml.backends.aml.job import tenantml_validate

    monkeypatch.setenv("TENANTML_HOME", str(tmp_path / "home"))
    assert tenantml_validate(pipeline, ()) == ([], [])  # (warnings, waived local-only problems)
    (pipeline.parent / "src" / "s.py").unlink()  # a real problem stays a problem
    with pytest.raises(ValidationErrors, match="entry script .* does not exist"):
        tenantml_validate(pipeline, ())
