"""An azure-ai-ml job object with ``backend="aml"``: the object itself goes to
``jobs.create_or_update`` (here against the loopback fake of tests/aml_fake.py), never a reloaded
dump, and the run folder keeps the YAML tenantml validated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tenantml

pytest.importorskip("azure.ai.ml", reason="the aml extra is not installed (pip install -e '.[aml]')")
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.slow]  # Azurite and the fake

from test_aml_submit import SCRIPT, _job_put, aml_options, azure  # noqa: E402,F401 - the shared fixture

BUILD = """\
from azure.ai.ml import Input, Output, dsl
from azure.ai.ml.parallel import RunFunction, parallel_run_function

score = parallel_run_function(
    name="score",
    inputs=dict(data=Input(type="mltable")),
    outputs=dict(out=Output(type="uri_file")),
    input_data="${{inputs.data}}",
    mini_batch_size="1",
    instance_count=2,
    task=RunFunction(code="./src", entry_script="score.py", append_row_to="${{outputs.out}}",
                     environment="azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest"),
)


@dsl.pipeline(experiment_name="tenants", default_compute="cpu-cluster")
def scoring(data):
    step = score(data=data)
    step.inputs.data.mode = "ro_mount"  # a dump loses the mltable type here; the object does not


def build():
    return scoring(data=Input(type="mltable", path="./data"))
"""


def test_an_sdk_job_goes_to_azure_ml_as_the_object_itself(azure, tmp_path: Path, monkeypatch):
    ws, _ = azure
    ws.final_status = "Completed"
    project = tmp_path / "proj"
    (project / "src").mkdir(parents=True)
    (project / "src" / "score.py").write_text(SCRIPT)
    (project / "data").mkdir()
    (project / "data" / "a.csv").write_text("x\n1\n")
    (project / "data" / "MLTable").write_text("paths:\n  - file: ./a.csv\n")
    (project / "build.py").write_text(BUILD)
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project))
    import build

    job = build.build()
    handle = tenantml.submit(job, backend="aml", home=tmp_path / "home", options=aml_options(ws))
    assert handle.wait() == "Completed"
    body = _job_put(ws)["properties"]
    # ./data was uploaded from where the job was built (a dump would have said azureml:./data)
    assert body["inputs"]["data"]["jobInputType"] == "mltable"
    assert "/LocalUpload/" in body["inputs"]["data"]["uri"] and body["inputs"]["data"]["uri"].endswith("/data")
    assert body["jobs"]["score"]["inputs"]["data"] == {"value": "${{parent.inputs.data}}", "job_input_type": "literal",
                                                       "mode": "ReadOnlyMount"}
    record = json.loads((handle.run_dir / "run.json").read_text())
    kept = Path(record["pipeline"])
    assert kept.parent == handle.run_dir and "type: mltable" in kept.read_text()
    assert not list((tmp_path / "home" / "staging").iterdir())  # the validated dump was moved, not left
