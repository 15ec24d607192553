"""Submit, wait (per-step status), fetch (logs only, then with --outputs) and resume, end to end against the loopback
fake and Azurite: run history answers the pipeline's child runs, the step's Azure ML log tree is
downloaded from the artifact store, and the resumed job carries only what did not succeed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aml_fake import CONTAINER
from test_aml_logs import azure_tree, file_rows
from test_aml_real_logs import verbatim
from test_aml_submit import _job_put, aml_options, azure, project, run_options  # noqa: F401 - fixture

pytest.importorskip("azure.ai.ml", reason="the aml extra is not installed (pip install -e '.[aml]')")
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.slow]


def upload_logs(azurite, child: str, logs: Path) -> None:
    """Put a step's logs/ where Azure ML keeps a run's artifacts: ExperimentRun/dcid.<run id>/."""
    container = azurite.service().get_container_client(CONTAINER)
    for file in logs.rglob("*"):
        if file.is_file():
            name = f"ExperimentRun/dcid.{child}/logs/{file.relative_to(logs).as_posix()}"
            container.upload_blob(name, file.read_bytes(), overwrite=True)


def blob_url(azurite, child: str, name: str, text: str) -> str:
    """A log file in the artifact store, and the SAS URL run history would list it with."""
    from aml_fake import AZURITE_ACCOUNT

    blob = f"ExperimentRun/dcid.{child}/{name}"
    azurite.service().get_container_client(CONTAINER).upload_blob(blob, text.encode(), overwrite=True)
    return (f"https://{AZURITE_ACCOUNT}.blob.core.localhost:{azurite.port}/{CONTAINER}/{blob}?"
            + azurite.container_sas(CONTAINER))


def test_submit_wait_fetch_and_resume(azure, tmp_path):  # noqa: F811
    from tenantml.backends.aml import AmlBackend
    from tenantml.backends.aml.options import AmlOptions

    ws, azurite = azure
    ws.final_status = "Failed"
    ws.datastores.add("workspaceartifactstore")
    proj = tmp_path / "proj"
    pipeline = project(proj)
    (proj / "data" / "tenant_4.csv").write_text("x,y\n4,8\n", encoding="utf-8")
    home = tmp_path / "home"
    from tenantml.progress import Reporter

    submitted: list[str] = []
    reporter = Reporter(quiet=True)
    reporter.note = submitted.append  # type: ignore[method-assign]
    handle = AmlBackend().submit(pipeline, run_options(home, aml_options(ws), reporter=reporter))
    # what only Azure ML honours is said at submission too (tenantml/backends/aml/mappings.py)
    assert any(line.startswith("warning: differs from --backend local: compute cpu-cluster: Azure ML runs")
               for line in submitted), submitted
    assert any(line.startswith("warning: differs from --backend local: environment azureml:AzureML-sklearn")
               for line in submitted), submitted
    # while it runs, log files are listed by run history and streamed as jobs.stream selects them
    # (tenantml/backends/aml/sdk.py streamed_logs): the pipeline's own execution log (no common-runtime
    # std_log on it) and, for each step, the primary process's std_log and the progress sentences.
    # The overview and the execution log are real (tests/aml_log_samples), the other texts placeholders.
    score = f"{handle.run_id}_score"
    overview = "\n".join(verbatim("job_progress_overview_sdk-python-30421.txt")) + "\n"
    ws.log_files[score] = {
        "logs/job_progress_overview.2023051622.txt": blob_url(azurite, score, "logs/job_progress_overview.2023051622.txt",
                                                              overview),
        "user_logs/std_log_process_0.txt": blob_url(azurite, score, "user_logs/std_log_process_0.txt", "rank 0\n"),
        "user_logs/std_log_process_1.txt": blob_url(azurite, score, "user_logs/std_log_process_1.txt", "no 1\n"),
        "system_logs/lifecycler/execution-wrapper.log": blob_url(azurite, score, "x.log", "no\n")}
    execution = verbatim("pipeline_executionlogs_sdk-recording.txt")
    ws.log_files[handle.run_id] = {
        "logs/azureml/executionlogs.txt": blob_url(azurite, handle.run_id, "logs/azureml/executionlogs.txt",
                                                   "\n".join(execution) + "\n"),
        "logs/azureml/stderrlogs.txt": blob_url(azurite, handle.run_id, "logs/azureml/stderrlogs.txt", "no\n")}
    lines: list[str] = []
    handle.reporter.note = lines.append  # type: ignore[method-assign]
    assert handle.wait() == "Failed"
    steps = json.loads((handle.run_dir / "run.json").read_text())["steps"]
    assert steps["score"]["azure_status"] == "Failed" and steps["train"]["azure_status"] == "Failed"
    assert f"{handle.run_id}: step score: Failed" in lines  # per-step status while waiting
    streamed = [line for line in lines if line.startswith("[score] ")]
    # each line once, in order; only the primary process's std_log, no system log
    assert streamed == ["[score] " + line for line in overview.splitlines()] + ["[score] rank 0"]
    assert [line for line in lines if line.startswith("[pipeline] ")] == ["[pipeline] " + line for line in execution]

    # the step's logs, as Azure ML writes them, in the artifact store; an output that must NOT be fetched
    logs = azure_tree(tmp_path / "azure_logs", file_rows())
    upload_logs(azurite, f"{handle.run_id}_score", logs)
    train = azure_tree(tmp_path / "train_logs", [[0, 1, "1/process000", "t", 2, 2, 0, 1, 1, 1, "RUN_DONE", "", "",
                                                  json.dumps({"partition_key_value": {"store": "a"}})]],
                       status="Completed")
    upload_logs(azurite, f"{handle.run_id}_train", train)
    run_dir = AmlBackend().fetch(handle.run_id, run_options(home, aml_options(ws)))
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "Failed" and record["steps"]["score"]["azure_job"] == f"{handle.run_id}_score"
    assert "mini_batch_error_threshold" in record["steps"]["score"]["reason"]
    ledger = (run_dir / "score" / "logs" / "sys" / "job_report" / "processed_mini-batches.csv").read_text()
    assert ledger.startswith("Mini-batch Id,")  # Azure ML's column names (tenantml/ledger_columns.py)
    assert not (run_dir / "score" / "outputs").exists()  # logs only, unless --outputs
    assert not ws.calls("POST", r"/dataversion/batchGetResolvedUris$")  # outputs not even resolved

    # --outputs: the named outputs too, each named by run history (rundata), found where Azure ML writes
    # a step's output; as recorded, run history types them "UriFolder", which the SDK does not resolve
    container = azurite.service().get_container_client(CONTAINER)
    child = f"{handle.run_id}_train"
    container.upload_blob(ws.output_path(child, "models") + "store=a/model.txt", b"model a\n", overwrite=True)
    again = AmlBackend().fetch(handle.run_id, run_options(home, aml_options(ws, fetch_outputs=True)))
    assert again == run_dir
    assert (run_dir / "train" / "outputs" / "models" / "store=a" / "model.txt").read_text() == "model a\n"
    assert (run_dir / "score" / "logs" / "sys" / "job_report" / "processed_mini-batches.csv").read_text() == ledger
    assert not (run_dir / "score" / "outputs").exists()  # score's output was never written
    # a service typing them as the SDK expects: resolved through the dataset data plane instead
    ws.output_type = "uri_folder"
    container.upload_blob(ws.output_path(child, "models") + "store=b/model.txt", b"model b\n", overwrite=True)
    AmlBackend().fetch(handle.run_id, run_options(home, aml_options(ws, fetch_outputs=True)))
    assert ws.calls("POST", r"/dataversion/batchGetResolvedUris$")
    assert sorted(p.name for p in (run_dir / "train" / "outputs" / "models").iterdir()) == ["store=a", "store=b"]
    ws.output_type = "UriFolder"

    # resume: a new job whose score input holds only the files that did not succeed
    before = len(ws.calls("PUT", r"/jobs/[^/]+$"))
    ws.final_status = "Completed"
    options = aml_options(ws, resume=run_dir)
    resumed = AmlBackend().submit(pipeline, run_options(home, options))
    assert resumed.wait() == "Completed"
    assert len(ws.calls("PUT", r"/jobs/[^/]+$")) == before + 1
    body = _job_put(ws)["properties"]["jobs"]["score"]["inputs"]["data"]
    assert body["uri"].startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")
    blobs = [b.name for b in azurite.service().get_container_client(CONTAINER).list_blobs()]
    uploaded = {b.rsplit("/", 1)[-1] for b in blobs if "/LocalUpload/" in "/" + b and "/score/" in b}
    assert {"tenant_3.csv", "tenant_4.csv"} <= uploaded
    assert json.loads((resumed.run_dir / "aml.json").read_text())["restricted"] == {
        "score": ["tenant_3.csv", "tenant_4.csv"]}
    assert isinstance(options, AmlOptions)
