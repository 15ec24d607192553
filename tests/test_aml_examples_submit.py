"""Microsoft's azureml-examples CLI parallel pipelines and tenantml's bundled examples: --dry-run
passes, and each submits end to end to the loopback fake (uploads to Azurite). The azureml-examples
files are read from a local mirror of github.com/Azure/azureml-examples when one is present (set
AZUREML_EXAMPLES to a checkout or a bare mirror); they are never copied into this repository."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from test_aml_dry_run import EXAMPLES
from test_aml_dry_run import no_network as no_network_fixture
from test_aml_submit import _job_put, aml_options, azure, run_options  # noqa: F401 - fixture

pytest.importorskip("azure.ai.ml", reason="the aml extra is not installed (pip install -e '.[aml]')")
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.slow]

no_network = no_network_fixture
MIRROR = Path(os.environ.get("AZUREML_EXAMPLES", "/work/.mirror/Azure+azureml-examples/repo"))
PARALLEL = ["cli/jobs/parallel/1a_oj_sales_prediction/pipeline.yml",
            "cli/jobs/parallel/2a_iris_batch_prediction/pipeline.yml",
            "cli/jobs/parallel/3a_mnist_batch_identification/pipeline.yml",
            "cli/jobs/pipelines/iris-batch-prediction-using-parallel/pipeline.yml",
            "cli/jobs/pipelines/mnist-batch-identification-using-parallel/pipeline.yml"]
# The one other CLI pipeline with parallel nodes: prompt flows as parallel components. It passes the
# dry-run; it is not submitted to the fake: the SDK cannot read a flow component back from the PUT's
# answer (FlowComponent._from_rest_object raises), so the real service must answer something else, and
# no recording of that answer was found to serve.
FLOW = "cli/jobs/pipelines-with-components/pipeline_job_with_flow_as_component/pipeline.yml"


@pytest.fixture(scope="module")
def azureml_examples(tmp_path_factory) -> Path:
    if (MIRROR / "cli").is_dir():
        return MIRROR
    if not (MIRROR / "HEAD").is_file():
        pytest.skip(f"no azureml-examples mirror at {MIRROR} (set AZUREML_EXAMPLES)")
    out = tmp_path_factory.mktemp("azureml-examples")
    archive = subprocess.run(["git", "-C", str(MIRROR), "archive", "HEAD", "cli/jobs/parallel",
                              "cli/jobs/pipelines/iris-batch-prediction-using-parallel",
                              "cli/jobs/pipelines/mnist-batch-identification-using-parallel",
                              "cli/jobs/pipelines-with-components/pipeline_job_with_flow_as_component"],
                             capture_output=True, check=True, timeout=120)
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True, timeout=120)
    return out


def submit(ws, tmp_path: Path, pipeline: Path) -> dict:
    from tenantml.backends.aml import AmlBackend

    ws.final_status = "Completed"
    handle = AmlBackend().submit(pipeline, run_options(tmp_path / "home", aml_options(ws)))
    assert handle.wait() == "Completed"
    return _job_put(ws)["properties"]


@pytest.mark.parametrize("relative", PARALLEL)
def test_azureml_examples_parallel_pipelines_submit(azure, azureml_examples, tmp_path, relative):  # noqa: F811
    ws, _ = azure
    pipeline = azureml_examples / relative
    body = submit(ws, tmp_path, pipeline)
    parallel = [n for n in body["jobs"].values() if n.get("type") == "parallel"]
    assert parallel and all(n["task"]["code"].startswith("azureml:") for n in parallel)
    datastores = {c.path.rsplit("/", 1)[-1] for c in ws.calls("GET", r"/datastores/[^/]+$")}
    assert not any("$" in d for d in datastores), datastores  # ${{default_datastore}} is no datastore name


@pytest.mark.parametrize("pipeline", EXAMPLES, ids=[p.parent.name + "/" + p.name for p in EXAMPLES])
def test_bundled_examples_submit(azure, tmp_path, pipeline):  # noqa: F811
    import re

    ws, _ = azure
    # the workspace has the datastores the example names (as the example's README asks users to create)
    texts = [p.read_text(encoding="utf-8") for p in pipeline.parent.rglob("*.yml")]
    ws.datastores |= {m for text in texts for m in re.findall(r"azureml://datastores/([A-Za-z0-9_]+)/", text)}
    body = submit(ws, tmp_path, pipeline)
    assert body["jobType"] == "Pipeline" and body["jobs"]


def test_the_prompt_flow_parallel_pipeline_passes_the_dry_run(azureml_examples, no_network, tmp_path):
    """(The others pass it on their way to submission above.)"""
    from test_aml_dry_run import tenantml

    code, out, err = tenantml("run", str(azureml_examples / FLOW), "--backend", "aml", "--dry-run",
                              env_home=tmp_path)
    assert code == 0, out + err
    assert "submittable to Azure ML" in out and "Nothing was sent" in out
    assert "({'" not in out  # a component object is named by its type and file, never printed as a dict
    assert "component:            promptflow_parallel component " in out
