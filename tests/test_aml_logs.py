"""Reading cloud runs: Azure ML's parallel-step log tree -> tenantml's ledger and run folder; resume
of only the mini-batches that did not succeed; which workspace is used."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tenantml.backends.aml import azure_logs

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # marshmallow 4 notices inside the SDK

AZURE_HEADER = ["Mini-batch Id", "Picked Count", "Process", "Start Time", "Total", "Succeeded", "Failed",
                "Elapsed Seconds", "Process Seconds", "Run Method Seconds", "Status", "Error Category",
                "Error Message", "Mini-batch Detail"]


def azure_tree(logs: Path, rows: list[list], *, status: str = "Failed") -> Path:
    """A parallel step's logs/ as Azure ML lays it out (documented layout and column names)."""
    report = logs / "sys" / "job_report"
    report.mkdir(parents=True)
    with open(report / "processed_mini-batches.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(AZURE_HEADER)
        writer.writerows(rows)
    (report / "node_summary.csv").write_text("Node,Processed\n10.0.0.4,3\n", encoding="utf-8")
    (logs / "job_result.txt").write_text(
        f"Job result: {status}\nReason: the number of failed mini batches 2 exceeds mini_batch_error_threshold 1.\n"
        "Please check logs/user/error for details.\n" if status == "Failed" else "Job result: Completed\n",
        encoding="utf-8")
    (logs / "job_progress_overview.2024061012.txt").write_text(
        "Total mini batches: 4\nProcessed mini batches: 4\nFailed mini batches: 2\nTotal items: 4\n", encoding="utf-8")
    (logs / "job_progress_overview.2024061011.txt").write_text("Total mini batches: 4\nProcessed mini batches: 1\n",
                                                                encoding="utf-8")
    error = logs / "user" / "error" / "10.0.0.4"
    error.mkdir(parents=True)
    (error / "process001.txt").write_text('Traceback (most recent call last):\n  File "score.py", line 9, in run\n'
                                          "ValueError: tenant_3 has no rows\n", encoding="utf-8")
    (logs / "user" / "stdout" / "10.0.0.4").mkdir(parents=True)
    (logs / "user" / "stdout" / "10.0.0.4" / "process001.stdout.txt").write_text("processing\n", encoding="utf-8")
    return logs


def file_rows() -> list[list]:
    d = lambda *names: json.dumps({"files": [f"/mnt/azureml/cr/j/abc/cap/data-capability/wd/INPUT_data/{n}"
                                             for n in names]})
    return [
        [0, 1, "10.0.0.4/process001", "2024-06-10T11:02:03.100", 2, 2, 0, 1.5, 1.2, 1.4, "RUN_DONE", "", "",
         d("tenant_1.csv", "tenant_10.csv")],
        [1, 1, "10.0.0.4/process002", "2024-06-10T11:02:03.200", 1, 0, 1, 0.3, 0.2, 0.2, "RUN_EXCEPTION",
         "UserError", "ValueError: tenant_3 has no rows", d("tenant_3.csv")],
        [1, 2, "10.0.0.5/process001", "2024-06-10T11:02:05.000", 1, 0, 1, 0.3, 0.2, 0.2, "RUN_EXCEPTION",
         "UserError", "ValueError: tenant_3 has no rows", d("tenant_3.csv")],
        [2, 1, "10.0.0.5/process002", "2024-06-10T11:02:06.000", 1, 0, 1, 60.0, 0.1, 60.0, "RUN_TIMEOUT",
         "SystemError", "run() did not finish in 60 seconds", d("tenant_4.csv")],
        [3, 1, "10.0.0.4/process001", "2024-06-10T11:02:07.000", 2, 1, 1, 0.9, 0.8, 0.8, "RUN_DONE", "", "",
         d("tenant_5.csv", "tenant_6.csv")],
    ]


def test_the_azure_ledger_becomes_the_local_ledger(tmp_path):
    from tenantml.runfolder.ledger import COLUMNS, read_rows

    logs = azure_tree(tmp_path / "logs", file_rows())
    parsed = azure_logs.convert(logs)
    assert parsed.status == "Failed" and "mini_batch_error_threshold" in parsed.reason
    assert parsed.progress["processedminibatches"] == 4  # the newest overview file
    assert parsed.error_logs and parsed.error_logs[0].name == "process001.txt"
    rows = read_rows(logs / "sys" / "job_report" / "processed_mini-batches.csv")
    assert set(COLUMNS) <= set(rows[0])  # Azure ML's columns on disk, read back under tenantml's names
    assert [(r["mini_batch"], r["attempt"], r["outcome"], r["final"]) for r in rows] == [
        ("0", "1", "succeeded", "True"), ("1", "1", "raised", "False"), ("1", "2", "raised", "True"),
        ("2", "1", "timeout", "True"), ("3", "1", "short_return", "True")]
    first = rows[0]
    assert (first["node"], first["process"], first["label"]) == ("10.0.0.4", "process001", "tenant_1.csv, tenant_10.csv")
    assert rows[1]["error_type"] == "UserError" and "tenant_3 has no rows" in rows[1]["error_message"]
    assert rows[4]["items"] == "2" and rows[4]["succeeded"] == "1" and rows[4]["failed"] == "1"
    # Azure ML's own file is kept beside it, and converting twice changes nothing
    assert (logs / "sys" / "job_report" / "processed_mini-batches.azureml.csv").exists()
    again = azure_logs.convert(logs)
    assert len(again.rows) == 5
    assert parsed.unsucceeded() == [1, 2]


def test_partition_details_and_old_column_names(tmp_path):
    logs = tmp_path / "logs"
    (logs / "sys" / "report").mkdir(parents=True)
    (logs / "sys" / "report" / "processed_tasks.csv").write_text(
        "Task Id,Dequeue Count,Start Time,Total,Succeeded,Failed,Elapsed Seconds,Status,Error,Mini-batch Detail\n"
        '0,1,2024-06-10T11:00:00,120,120,0,2.0,RUN_DONE,,"{""partition_key_value"": {""store"": 1, ""brand"": ""dominicks""}}"\n'
        '1,3,2024-06-10T11:00:01,80,0,80,1.0,RUN_EXCEPTION,KeyError: week,"{""partition_key_value"": {""store"": 2, ""brand"": ""tropicana""}}"\n',
        encoding="utf-8")
    parsed = azure_logs.parse_step_logs(logs)
    assert [r["label"] for r in parsed.rows] == ["store=1, brand=dominicks", "store=2, brand=tropicana"]
    assert parsed.rows[1]["attempt"] == 3 and parsed.rows[1]["outcome"] == "raised"
    assert parsed.items[1].partition == {"store": 2, "brand": "tropicana"}
    assert parsed.status is None  # no job_result.txt


def test_a_torn_last_line_is_ignored(tmp_path):
    logs = azure_tree(tmp_path / "logs", file_rows())
    path = logs / "sys" / "job_report" / "processed_mini-batches.csv"
    path.write_text(path.read_text() + "4,1,10.0.0.4/proc", encoding="utf-8")
    assert len(azure_logs.parse_step_logs(logs).rows) == 5


def download_tree(root: Path) -> Path:
    """What azure-ai-ml's jobs.download(child, all=True) leaves: artifacts/ and named-outputs/."""
    azure_tree(root / "artifacts" / "logs", file_rows())
    (root / "artifacts" / "user_logs").mkdir(parents=True)
    (root / "artifacts" / "user_logs" / "std_log_0.txt").write_text("driver\n", encoding="utf-8")
    (root / "named-outputs" / "out").mkdir(parents=True)
    (root / "named-outputs" / "out" / "parallel_run_step.txt").write_text("tenant_1.csv\n", encoding="utf-8")
    return root


def fetched_run(home: Path, pipeline: Path, job: str = "tidy_cloud_42") -> Path:
    """A run folder as `tenantml fetch` leaves it, for a job of pipeline `pipeline`."""
    from tenantml.backends.aml.fetch import arrange
    from tenantml.backends.aml.run import AmlRecord
    from tenantml.runs import RunRecord

    run_dir = home / "runs" / job
    run_dir.mkdir(parents=True)
    download_tree(run_dir / "score" / ".download")
    arrange(run_dir / "score" / ".download", run_dir / "score")
    RunRecord(job, str(pipeline), "aml", status="Failed",
              steps={"score": {"type": "parallel", "status": "Failed", "reason": "thresholds"},
                     "train": {"type": "parallel", "status": "Completed"}}).save(run_dir)
    AmlRecord(job, "https://ml.azure.com/runs/" + job, "tenants", "sub", "rg", "ws").save(run_dir)
    train_logs = azure_tree(run_dir / "train" / "logs",
                            [[0, 1, "10.0.0.4/process001", "2024-06-10T11:00:00", 3, 3, 0, 1.0, 1.0, 1.0, "RUN_DONE",
                              "", "", json.dumps({"partition_key_value": {"store": "a"}})]], status="Completed")
    azure_logs.convert(train_logs)
    return run_dir


def test_a_downloaded_job_is_laid_out_as_a_local_run(tmp_path):
    run_dir = fetched_run(tmp_path / "home", tmp_path / "pipeline.yml")
    step = run_dir / "score"
    assert (step / "logs" / "job_result.txt").exists()
    assert (step / "logs" / "sys" / "job_report" / "processed_mini-batches.csv").read_text().startswith("Mini-batch Id,Picked Count,")
    assert (step / "outputs" / "out" / "parallel_run_step.txt").read_text() == "tenant_1.csv\n"
    assert (step / "artifacts" / "user_logs" / "std_log_0.txt").exists()
    assert not (step / ".download").exists()

    from tenantml.backends.aml.run import read_ledgers

    ledger = read_ledgers(run_dir, ["score", "train"])
    assert set(ledger["job"]) == {"score", "train"} and len(ledger) == 6


def test_tenantml_show_reads_a_fetched_run(tmp_path, monkeypatch, capsys):
    from tenantml.cli import main

    monkeypatch.setenv("TENANTML_HOME", str(tmp_path / "home"))
    fetched_run(tmp_path / "home", tmp_path / "pipeline.yml")
    code = main(["show", "tidy_cloud_42"])
    out = capsys.readouterr().out
    assert code in (0, 1), out
    assert "score" in out and "tenant_3" in out


def test_resume_restricts_the_input_to_the_files_that_did_not_succeed(tmp_path):
    pytest.importorskip("azure.ai.ml")
    from test_aml_submit import project

    from tenantml.backends.aml import AmlBackend
    from tenantml.backends.aml.options import AmlOptions
    from tenantml.backends.base import RunOptions

    proj = tmp_path / "proj"
    pipeline = project(proj)
    for i in (4, 5, 6, 10):
        (proj / "data" / f"tenant_{i}.csv").write_text("x,y\n1,2\n", encoding="utf-8")
    home = tmp_path / "home"
    run_dir = fetched_run(home, pipeline)
    options = RunOptions(home=home, backend=AmlOptions(resume=run_dir))
    prepared = AmlBackend().plan(pipeline, options)
    assert prepared.restricted == {"score": ["tenant_3.csv", "tenant_4.csv"]}
    notes = "\n".join(prepared.resume_notes)
    assert "score: 2 mini-batch(es) did not succeed; re-running only: tenant_3.csv, tenant_4.csv" in notes
    assert "train: every mini-batch succeeded" in notes
    from tenantml.backends.aml.job import rest_body

    staged = Path(rest_body(prepared.job)["properties"]["jobs"]["score"]["inputs"]["data"]["uri"])
    assert sorted(p.name for p in staged.iterdir()) == ["tenant_3.csv", "tenant_4.csv"]
    assert (staged / "tenant_3.csv").read_text() == (proj / "data" / "tenant_3.csv").read_text()


def test_resume_of_a_local_run_is_refused_with_the_right_command(tmp_path):
    pytest.importorskip("azure.ai.ml")
    from test_aml_submit import project

    from tenantml.backends.aml import AmlBackend
    from tenantml.backends.aml.options import AmlOptions
    from tenantml.backends.base import RunOptions
    from tenantml.errors import UserError
    from tenantml.runs import RunRecord

    pipeline = project(tmp_path / "proj")
    run_dir = tmp_path / "home" / "runs" / "local_1"
    run_dir.mkdir(parents=True)
    RunRecord("local_1", str(pipeline), "local", status="Failed").save(run_dir)
    with pytest.raises(UserError) as info:
        AmlBackend().plan(pipeline, RunOptions(home=tmp_path / "home", backend=AmlOptions(resume=run_dir)))
    assert "--resume local_1" in info.value.message


# --------------------------------------------------------------------------- workspace
def test_workspace_comes_from_flags_then_environment_then_config_json(tmp_path):
    from tenantml.backends.aml.workspace import resolve_workspace
    from tenantml.errors import UserError

    env = {"AZUREML_ARM_SUBSCRIPTION": "s-env", "AZUREML_ARM_RESOURCEGROUP": "rg-env",
           "AZUREML_ARM_WORKSPACE_NAME": "ws-env"}
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (tmp_path / ".azureml").mkdir()
    (tmp_path / ".azureml" / "config.json").write_text(json.dumps(
        {"subscription_id": "s-cfg", "resource_group": "rg-cfg", "workspace_name": "ws-cfg"}))
    assert resolve_workspace("s", "rg", "ws", search_from=nested, environ=env).source == "flags"
    assert resolve_workspace(search_from=nested, environ=env).name == "ws-env"
    found = resolve_workspace(search_from=nested, environ={})
    assert (found.subscription, found.resource_group, found.name) == ("s-cfg", "rg-cfg", "ws-cfg")
    with pytest.raises(UserError) as info:
        resolve_workspace("s", None, "ws", search_from=nested, environ={})
    assert "--resource-group" in info.value.message
    (tmp_path / ".azureml" / "config.json").write_text(json.dumps(
        {"Scope": "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/workspaces/w1"}))
    assert resolve_workspace(search_from=nested, environ={}).name == "w1"
    (tmp_path / ".azureml" / "config.json").unlink()
    with pytest.raises(UserError) as info:
        resolve_workspace(search_from=nested, environ={"AZUREML_ARM_SUBSCRIPTION": "s"})
    assert "AZUREML_ARM_RESOURCEGROUP" in info.value.message and "config.json" in info.value.message


def test_overrides_work_on_plain_dicts_and_lists():
    from tenantml.errors import UserError
    from tenantml.overrides import apply_overrides, as_sdk_params

    doc = {"jobs": {"x": {"mini_batch_size": "1", "partition_keys": ["a", "b"]}}}
    apply_overrides(doc, ["jobs.x.mini_batch_size=2", "jobs.x.partition_keys.1=c", "jobs.x.retry_settings.timeout=9",
                          "jobs.x.task.program_arguments=--a 1 --b 2"])
    # mini_batch_size stays text, as az ml --set passes it (an unquoted number in the YAML is refused)
    assert doc["jobs"]["x"] == {"mini_batch_size": "2", "partition_keys": ["a", "c"], "retry_settings": {"timeout": 9},
                                "task": {"program_arguments": "--a 1 --b 2"}}
    assert as_sdk_params(["jobs.x.mini_batch_size=2", "jobs.x.partition_keys=[s, t]"]) == [
        {"jobs.x.mini_batch_size": "2"}, {"jobs.x.partition_keys": ["s", "t"]}]
    with pytest.raises(UserError):
        apply_overrides(doc, ["jobs.x.mini_batch_size.deeper=1"])
    with pytest.raises(UserError):
        apply_overrides(doc, ["jobs.x.partition_keys.5=z"])
