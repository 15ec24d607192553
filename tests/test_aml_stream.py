"""Which log files waiting streams: the ones azure-ai-ml's own jobs.stream selects (its
_get_sorted_filtered_logs, called, not copied), from where it lists them (a job's `default` uri_folder
output, else run history). Run history is stood in for by a plain object (Azure is the one thing the
tests may fake); the end-to-end path is in test_aml_fetch_resume_e2e.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("azure.ai.ml", reason="the aml extra is not installed (pip install -e '.[aml]')")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def client(log_files: dict[str, str]) -> SimpleNamespace:
    details = SimpleNamespace(log_files=log_files)
    runs = SimpleNamespace(get_run_details=lambda run_id: details)
    return SimpleNamespace(jobs=SimpleNamespace(_runs_operations=runs))


PIPELINE_LOGS = {"logs/azureml/executionlogs.txt": "u1", "logs/azureml/stderrlogs.txt": "u2",
                 "logs/azureml/stdoutlogs.txt": "u3"}
STEP_LOGS = {"user_logs/std_log_process_0.txt": "p0", "user_logs/std_log_process_1.txt": "p1",
             "system_logs/lifecycler/execution-wrapper.log": "s", "logs/job_progress_overview.2024.txt": "o"}


def test_a_pipeline_streams_its_execution_log():
    from tenantml.backends.aml import sdk

    assert sdk.streamed_logs(client(PIPELINE_LOGS), "job", "pipeline") == {"logs/azureml/executionlogs.txt": "u1"}


def test_the_primary_process_std_log_wins_when_there_is_one():
    from tenantml.backends.aml import sdk

    both = {**PIPELINE_LOGS, "user_logs/std_log.txt": "std"}
    assert sdk.streamed_logs(client(both), "job", "pipeline") == {"user_logs/std_log.txt": "std"}
    assert sdk.streamed_logs(client(STEP_LOGS), "job_step", "parallel") == {"user_logs/std_log_process_0.txt": "p0"}


def test_the_default_output_is_where_jobs_stream_lists_logs():
    from azure.ai.ml import Output

    from tenantml.backends.aml import sdk

    artifacts = "azureml://datastores/workspaceartifactstore/ExperimentRun/dcid.job_1"
    assert sdk.stream_source(SimpleNamespace(outputs={"default": Output(type="uri_folder", path=artifacts)})) == (
        "workspaceartifactstore", "ExperimentRun/dcid.job_1")
    assert sdk.stream_source(SimpleNamespace(outputs={"default": Output(type="uri_file", path=artifacts)})) is None
    assert sdk.stream_source(SimpleNamespace(outputs={"scores": Output(type="uri_folder")})) is None
    assert sdk.stream_source(None) is None
