"""--backend aml end to end, offline: the real azure-ai-ml client submits to a loopback HTTPS fake
of the Azure ML workspace service, and uploads code and data to Azurite (see tests/aml_fake.py)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
import yaml

import aml_fake as fake_mod
from aml_fake import ARM, CONTAINER, RG, SUB, WS, Azurite, FakeCredential, FakeWorkspace

pytest.importorskip("azure.ai.ml", reason="the aml extra is not installed (pip install -e '.[aml]')")
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # marshmallow 4 notices inside the SDK
              pytest.mark.slow]  # Azurite and the loopback fake

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "def init():\n    pass\n\ndef run(mini_batch):\n    return list(mini_batch)\n"


@pytest.fixture(scope="module")
def azure(tmp_path_factory):
    """Certificate, Azurite (installed by `make test`'s set-up) and the fake workspace service."""
    work = tmp_path_factory.mktemp("azure")
    cert, key = fake_mod.make_certificate(work)
    command = fake_mod.azurite_command(Path(sys.prefix))
    if command is None:
        pytest.skip(f"Azurite is not installed in {fake_mod.azurite_dir(Path(sys.prefix))}: `make test` (or "
                    "`make azurite`) installs it with npm before the tests; without Node.js these tests cannot run")
    saved = {k: os.environ.get(k) for k in ("REQUESTS_CA_BUNDLE", "AZUREML_DEV_URL_MFE")}
    azurite = Azurite.start(command, work, cert, key)
    ws = FakeWorkspace(cert, key, storage_endpoint=f"core.localhost:{azurite.port}")
    ws.sas_for = azurite.container_sas
    os.environ["REQUESTS_CA_BUNDLE"] = str(cert)  # trust the test's own certificate, nothing else changes
    os.environ["AZUREML_DEV_URL_MFE"] = ws.url
    with fake_mod.loopback_localhost_names():
        azurite.service().create_container(CONTAINER)
        try:
            yield ws, azurite
        finally:
            ws.close()
            azurite.stop()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def aml_options(ws: FakeWorkspace, **kw):
    from tenantml.backends.aml.options import AmlOptions

    kw.setdefault("credential", FakeCredential())
    return AmlOptions(subscription=SUB, resource_group=RG, workspace=WS, cloud=f"TenantmlFake{ws.port}",
                      cloud_metadata=ws.cloud_metadata(), poll_interval=0.05, **kw)


def run_options(home: Path, aml, **kw):
    from tenantml.backends.base import RunOptions

    return RunOptions(home=home, backend=aml, **kw)


def project(root: Path) -> Path:
    """A pipeline with a file-input step and a partitioned tabular step, with local code and data."""
    (root / "src").mkdir(parents=True)
    (root / "src" / "score.py").write_text(SCRIPT, encoding="utf-8")
    (root / "data").mkdir()
    for i in range(1, 4):
        (root / "data" / f"tenant_{i}.csv").write_text(f"x,y\n{i},{2 * i}\n", encoding="utf-8")
    (root / "sales").mkdir()
    (root / "sales" / "sales.csv").write_text("store,x\na,1\nb,2\n", encoding="utf-8")
    (root / "sales" / "MLTable").write_text(
        "paths:\n  - file: ./sales.csv\ntransformations:\n  - read_delimited:\n      delimiter: ','\n"
        "      header: all_files_same_headers\n", encoding="utf-8")
    doc = {
        "$schema": "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json",
        "type": "pipeline", "experiment_name": "tenants", "settings": {"default_compute": "azureml:cpu-cluster"},
        "jobs": {
            "score": {
                "type": "parallel", "compute": "azureml:cpu-cluster",
                "inputs": {"data": {"type": "uri_folder", "path": "./data"}},
                "outputs": {"out": {"type": "uri_file"}},
                "input_data": "${{inputs.data}}", "mini_batch_size": "2",
                "resources": {"instance_count": 2}, "max_concurrency_per_instance": 3,
                "mini_batch_error_threshold": 5, "logging_level": "DEBUG",
                "retry_settings": {"max_retries": 4, "timeout": 90},
                "environment_variables": {"TENANT_MODE": "score"},
                "task": {"type": "run_function", "code": "./src", "entry_script": "score.py",
                         "environment": "azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest",
                         "program_arguments": "--error_threshold 3 --allowed_failed_percent 20 --out ${{outputs.out}}",
                         "append_row_to": "${{outputs.out}}"}},
            "train": {
                "type": "parallel",
                "inputs": {"sales": {"type": "mltable", "path": "./sales", "mode": "direct"}},
                "outputs": {"models": {"type": "uri_folder"}},
                "input_data": "${{inputs.sales}}", "mini_batch_size": "10kb", "partition_keys": ["store"],
                "task": {"type": "run_function", "code": "./src", "entry_script": "score.py",
                         "environment": "azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest",
                         "program_arguments": "--models ${{outputs.models}}"}},
        },
    }
    path = root / "pipeline.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _job_put(ws: FakeWorkspace) -> dict:
    puts = ws.calls("PUT", r"/jobs/[^/]+$")
    assert puts, f"no job PUT; requests were: {ws.requests}"
    return puts[-1].body


def test_submit_reaches_azure_ml_with_the_parallel_settings_and_uploads_to_blob_storage(azure, tmp_path):
    from tenantml.backends.aml import AmlBackend

    ws, azurite = azure
    ws.final_status = "Completed"
    credential = FakeCredential()
    pipeline = project(tmp_path / "proj")
    handle = AmlBackend().submit(pipeline, run_options(tmp_path / "home", aml_options(ws, credential=credential)))
    assert handle.wait() == "Completed"

    body = _job_put(ws)["properties"]
    assert body["jobType"] == "Pipeline" and body["experimentName"] == "tenants"
    score, train = body["jobs"]["score"], body["jobs"]["train"]
    assert score["mini_batch_size"] == 2
    assert train["mini_batch_size"] == 10240  # "10kb" arrives as bytes
    assert json.loads(train["partition_keys"]) == ["store"]
    assert score["retry_settings"] == {"max_retries": 4, "timeout": 90}
    assert score["resources"]["instance_count"] == 2 and score["max_concurrency_per_instance"] == 3
    assert score["mini_batch_error_threshold"] == 5 and score["logging_level"] == "DEBUG"
    assert score["task"]["program_arguments"] == "--error_threshold 3 --allowed_failed_percent 20 --out ${{outputs.out}}"
    assert score["environment_variables"] == {"TENANT_MODE": "score"}
    assert score["computeId"] == f"{ARM}/computes/cpu-cluster"
    assert score["task"]["code"].startswith(f"azureml:{ARM}/codes/")
    assert score["inputs"]["data"]["uri"].startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")
    # the code and the data really went to blob storage (Azurite)
    blobs = [b.name for b in azurite.service().get_container_client(CONTAINER).list_blobs()]
    assert any(b.endswith("data/tenant_2.csv") for b in blobs)
    assert any(b.endswith("sales/MLTable") for b in blobs)
    assert any(b.endswith("score.py") for b in blobs)
    # the run folder: run.json as a local run, aml.json with where the job lives; no token anywhere
    record = json.loads((handle.run_dir / "run.json").read_text())
    assert record["backend"] == "aml" and record["status"] == "Completed"
    aml = json.loads((handle.run_dir / "aml.json").read_text())
    assert aml["job_name"] == handle.run_id and "ml.azure.com" in aml["studio_url"]
    for file in handle.run_dir.rglob("*"):
        if file.is_file():
            assert FakeCredential.SECRET_MARK not in file.read_text(errors="replace")
    assert credential.scopes, "the credential was used"


def test_set_overrides_reach_the_request(azure, tmp_path):
    from tenantml.backends.aml import AmlBackend

    ws, _ = azure
    pipeline = project(tmp_path / "proj")
    options = aml_options(ws, overrides=("jobs.score.mini_batch_size=7", "jobs.score.retry_settings.max_retries=1",
                                         "jobs.train.mini_batch_size=2mb"), experiment="exp-override")
    AmlBackend().submit(pipeline, run_options(tmp_path / "home", options))
    body = _job_put(ws)["properties"]
    assert body["experimentName"] == "exp-override"
    assert body["jobs"]["score"]["mini_batch_size"] == 7
    assert body["jobs"]["score"]["retry_settings"]["max_retries"] == 1
    assert body["jobs"]["train"]["mini_batch_size"] == 2 * 1024 * 1024


def test_a_failed_job_is_failed_and_cancel_reaches_the_service(azure, tmp_path):
    from tenantml.backends.aml import AmlBackend

    ws, _ = azure
    ws.final_status = "Failed"
    try:
        pipeline = project(tmp_path / "proj")
        handle = AmlBackend().submit(pipeline, run_options(tmp_path / "home", aml_options(ws)))
        assert handle.wait() == "Failed"
        handle.cancel()
        assert ws.calls("POST", rf"/jobs/{handle.run_id}/cancel$")
    finally:
        ws.final_status = "Completed"


def test_unknown_compute_is_named_before_anything_is_uploaded(azure, tmp_path):
    from tenantml.backends.aml import AmlBackend
    from tenantml.errors import UserError

    ws, _ = azure
    pipeline = project(tmp_path / "proj")
    before = len(ws.calls("PUT", r"."))
    with pytest.raises(UserError) as info:
        AmlBackend().submit(pipeline, run_options(tmp_path / "home", aml_options(
            ws, overrides=("jobs.train.compute=azureml:gpu-cluster",))))
    assert "compute 'gpu-cluster' does not exist" in info.value.message
    assert "jobs.train.compute" in info.value.message and "cpu-cluster" in info.value.message
    assert len(ws.calls("PUT", r".")) == before
    assert not (tmp_path / "home" / "runs").exists() or not any((tmp_path / "home" / "runs").iterdir())


def test_unknown_datastore_is_named(azure, tmp_path):
    from tenantml.backends.aml import AmlBackend
    from tenantml.errors import UserError

    ws, _ = azure
    pipeline = project(tmp_path / "proj")
    with pytest.raises(UserError) as info:
        AmlBackend().submit(pipeline, run_options(tmp_path / "home", aml_options(
            ws, overrides=("jobs.score.inputs.data.path=azureml://datastores/lake/paths/tenants/",))))
    assert "datastore 'lake' does not exist" in info.value.message
    assert "workspaceblobstore" in info.value.message


def test_a_missing_credential_is_a_clear_error(azure, tmp_path):
    from azure.identity import CredentialUnavailableError

    from tenantml.backends.aml import AmlBackend
    from tenantml.errors import UserError

    class NoCredential:
        def get_token(self, *scopes, **kwargs):
            raise CredentialUnavailableError("DefaultAzureCredential failed to retrieve a token")

    ws, _ = azure
    with pytest.raises(UserError) as info:
        AmlBackend().submit(project(tmp_path / "proj"),
                            run_options(tmp_path / "home", aml_options(ws, credential=NoCredential())))
    assert "no Azure credential" in info.value.message and "az login" in info.value.message


def test_an_unreachable_service_fails_in_seconds(tmp_path, monkeypatch):
    from tenantml.backends.aml import AmlBackend
    from tenantml.backends.aml.options import AmlOptions
    from tenantml.backends.aml.sdk import ServiceUnreachable

    port = fake_mod.free_port()  # nothing listens there
    url = f"https://127.0.0.1:{port}"
    monkeypatch.setenv("AZUREML_DEV_URL_MFE", url)
    metadata = {"azure_portal": url + "/", "resource_manager": url + "/", "active_directory": url + "/",
                "aml_resource_id": url + "/", "storage_endpoint": "core.localhost:1",
                "registry_discovery_endpoint": url + "/"}
    options = AmlOptions(subscription=SUB, resource_group=RG, workspace=WS, credential=FakeCredential(),
                         cloud=f"TenantmlDown{port}", cloud_metadata=metadata)
    pipeline = project(tmp_path / "proj")
    backend = AmlBackend()
    prepared = backend.plan(pipeline, run_options(tmp_path / "home", options))  # no network
    started = time.monotonic()
    with pytest.raises(ServiceUnreachable) as info:
        backend.submit_prepared(prepared, run_options(tmp_path / "home", options))
    assert time.monotonic() - started < 10
    assert "could not be reached" in info.value.message and "proxy" in info.value.message


def test_ctrl_c_while_waiting_cancels_when_asked_marks_the_run_and_leaves_no_process(azure, tmp_path):
    import signal
    import threading

    from tenantml.api import wait
    from tenantml.backends.aml import AmlBackend
    from tenantml.errors import RunInterrupted
    from test_interrupt import descendants

    ws, _ = azure
    before = descendants(os.getpid())
    saved = ws.polls_to_finish
    ws.polls_to_finish = 10**6  # the cloud job keeps running
    try:
        pipeline = project(tmp_path / "proj")
        handle = AmlBackend().submit(pipeline, run_options(tmp_path / "home",
                                                          aml_options(ws, cancel_on_interrupt=True)))
        threading.Timer(0.5, signal.raise_signal, args=(signal.SIGINT,)).start()
        with pytest.raises(RunInterrupted) as info:  # the one interrupt contract, in the caller
            wait(handle)
        assert info.value.exit_code == 130
        assert ws.calls("POST", rf"/jobs/{handle.run_id}/cancel$")
        record = json.loads((handle.run_dir / "run.json").read_text())
        assert record["status"] == "Interrupted"
        assert descendants(os.getpid()) <= before  # waiting started no process, and left none
    finally:
        ws.polls_to_finish = saved


def test_an_aml_run_has_one_writer_a_fetch_or_resume_meanwhile_is_refused_naming_the_holder(azure, tmp_path):
    """The run lock of a local run, for --backend aml: the process waiting on the job writes
    run.json; `tenantml fetch` and `--resume` of that run in another process stop, naming it."""
    import subprocess

    from tenantml.backends.aml import AmlBackend
    from tenantml.runfolder.lock import RunLock

    ws, _ = azure
    saved = ws.polls_to_finish
    ws.polls_to_finish = 10**6  # the cloud job keeps running while the others try
    pipeline = project(tmp_path / "proj")
    home = tmp_path / "home"
    try:
        handle = AmlBackend().submit(pipeline, run_options(home, aml_options(ws)))
        env = {**os.environ, "TENANTML_HOME": str(home)}
        for args in (["fetch", handle.run_id, "--backend", "aml"],
                     ["run", str(pipeline), "--backend", "aml", "--resume", handle.run_id,
                      "--subscription", SUB, "-g", RG, "-w", WS]):
            second = subprocess.run([sys.executable, "-m", "tenantml.cli", *args], env=env, capture_output=True,
                                    text=True, timeout=120)
            assert second.returncode == 2, second.stderr
            assert f"pid {os.getpid()}" in second.stderr and "Traceback" not in second.stderr
        assert json.loads((handle.run_dir / "run.json").read_text())["status"] == "Running"  # untouched
    finally:
        ws.polls_to_finish = saved
    ws.polls_to_finish = 1
    assert handle.wait() == "Completed"  # the job ends: waiting lets the lock go
    RunLock(handle.run_dir).acquire().release()
    assert not list(home.glob("runs/*/.lock.*")) and not (home / "staging").exists()  # the refused wrote nothing


def test_a_run_id_taken_by_a_local_run_is_refused_before_the_job_is_created(azure, tmp_path):
    from tenantml.backends.aml import AmlBackend
    from tenantml.errors import UserError

    ws, _ = azure
    pipeline = project(tmp_path / "proj")
    home = tmp_path / "home"
    (home / "runs" / "taken").mkdir(parents=True)
    puts = len(ws.calls("PUT", r"/jobs/[^/]+$"))
    with pytest.raises(UserError, match="already a run 'taken'"):  # was: the job started, then a FileExistsError
        AmlBackend().submit(pipeline, run_options(home, aml_options(ws), run_id="taken"))
    assert len(ws.calls("PUT", r"/jobs/[^/]+$")) == puts
    handle = AmlBackend().submit(pipeline, run_options(home, aml_options(ws), run_id="free_name"))
    assert handle.run_id == "free_name" and handle.run_dir == home / "runs" / "free_name"
    assert handle.wait() == "Completed"


def test_a_standalone_command_job_is_submitted_as_az_ml_job_create_submits_it(azure, tmp_path):
    """``az ml job create -f job.yml`` submits a standalone command job (cli/jobs/basics/hello-code.yml of
    Azure/azureml-examples): --backend aml sends it as it is, not as a pipeline (it refused it before)."""
    from tenantml.backends.aml import AmlBackend

    ws, _ = azure
    root = tmp_path / "cmd"
    (root / "src").mkdir(parents=True)
    (root / "src" / "hello.py").write_text("print('hello')\n", encoding="utf-8")
    doc = {"$schema": "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json",
           "command": "python hello.py", "code": "src", "experiment_name": "basics",
           "environment": "azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest", "compute": "azureml:cpu-cluster"}
    path = root / "hello-code.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    handle = AmlBackend().submit(path, run_options(tmp_path / "home", aml_options(ws)))
    assert handle.wait() == "Completed"
    body = _job_put(ws)["properties"]
    assert body["jobType"] == "Command" and body["experimentName"] == "basics"
    assert body["command"] == "python hello.py" and body["computeId"] == f"{ARM}/computes/cpu-cluster"
    assert json.loads((handle.run_dir / "run.json").read_text())["status"] == "Completed"


def test_a_standalone_sweep_job_is_submitted_as_it_is(azure, tmp_path):
    """`az ml job create -f hello-sweep.yml` (cli/jobs/basics): a sweep job goes to Azure ML as a sweep job;
    locally it is refused with this way out (tests/test_aml_waivers.py)."""
    from test_aml_waivers import STANDALONE

    from tenantml.backends.aml import AmlBackend

    ws, _ = azure
    root = tmp_path / "sweep"
    (root / "src").mkdir(parents=True)
    (root / "src" / "train.py").write_text("print('trial')\n", encoding="utf-8")
    path = root / "hello-sweep.yml"
    path.write_text(STANDALONE["sweep"], encoding="utf-8")
    handle = AmlBackend().submit(path, run_options(tmp_path / "home", aml_options(ws)))
    assert handle.wait() == "Completed"
    body = _job_put(ws)["properties"]
    assert body["jobType"] == "Sweep" and body["experimentName"] == "tune"
    assert body["limits"]["maxTotalTrials"] == 4 and body["trial"]["command"].startswith("python train.py")
