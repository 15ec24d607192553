"""The log reader against real Azure ML parallel-job logs (tests/aml_log_samples/, each with its
public source): progress sentences, N/A lifecycle rows, and the files that say why a job failed."""

from __future__ import annotations

from pathlib import Path

from tenantml.backends.aml import azure_logs

SAMPLES = Path(__file__).resolve().parent / "aml_log_samples"


def verbatim(name: str, keep: str = "") -> list[str]:
    """The log lines of a sample: its '#' source header, markdown and the torn '[...cut]' line dropped."""
    lines = []
    for line in (SAMPLES / name).read_text(encoding="utf-8").splitlines():
        if line.startswith(("#", "**")) or "[...cut]" in line or not line.strip():
            continue
        if keep and keep not in line:
            continue
        lines.append(line)
    return lines


def test_every_sample_names_its_source():
    for sample in SAMPLES.glob("*.txt"):
        assert sample.read_text(encoding="utf-8").startswith("# source: "), sample.name


def test_v2_progress_sentences_are_read(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "job_progress_overview.2023051622.txt").write_text(
        "\n".join(verbatim("job_progress_overview_sdk-python-30421.txt")) + "\n", encoding="utf-8")
    parsed = azure_logs.parse_step_logs(logs)
    assert parsed.progress["processed"] == 4117 and parsed.progress["total"] == 20000
    assert parsed.progress["elapsed_s"] == 5 * 3600 + 2 * 60 + 14
    assert parsed.progress["remaining_s"] == 19 * 3600 + 25 * 60 + 59
    assert parsed.progress["stopped"] == 1
    assert parsed.progress_text == "The overviewer on 7 stopped."
    assert parsed.rows == []  # progress lines are never mini-batches


def test_v1_scheduling_sentence_and_no_progress_yet(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "job_progress_overview.2021041522.txt").write_text(
        "\n".join(verbatim("job_progress_overview_MLNotebooks-1429.txt")) + "\n", encoding="utf-8")
    progress = azure_logs.read_progress(logs)
    assert (progress["scheduled"], progress["tasks"], progress["items"]) == (276, 276, 551)
    assert "processed" not in progress  # "No task has been processed yet." is not a count


def test_na_rows_are_init_events_never_mini_batches(tmp_path):
    lines = verbatim("process_task_csv_MLNotebooks-957.txt")
    assert lines[0].startswith("Task Id,Dequeue Count,") and lines[1].startswith("N/A,N/A,")
    report = tmp_path / "logs" / "sys" / "report"
    report.mkdir(parents=True)
    # the real header and N/A row, then one mini-batch row in the same columns (written here:
    # the stored excerpt ends before the first mini-batch row) to show the two never collide
    mini_batch = "0,1,2020-05-06T05:50:50.000000,1,1,0,0.5,0.4,0.4,RUN_DONE,"
    (report / "processed_tasks.csv").write_text("\n".join([*lines, mini_batch]) + "\n", encoding="utf-8")
    parsed = azure_logs.parse_step_logs(tmp_path / "logs")
    assert [(r["mini_batch"], r["attempt"], r["outcome"]) for r in parsed.rows] == [(0, 1, "succeeded")]
    assert [e["status"] for e in parsed.events] == ["ENTRY_SCRIPT_INIT_START"]
    assert parsed.unsucceeded() == []


def test_only_init_rows_make_no_mini_batch(tmp_path):
    report = tmp_path / "logs" / "sys" / "report"
    report.mkdir(parents=True)
    (report / "processed_tasks.csv").write_text("\n".join(verbatim("process_task_csv_MLNotebooks-957.txt")) + "\n",
                                                 encoding="utf-8")
    parsed = azure_logs.parse_step_logs(tmp_path / "logs")
    assert parsed.rows == [] and parsed.items == {} and len(parsed.events) == 1


def test_the_master_role_failure_is_the_reason(tmp_path):
    logs = tmp_path / "logs"
    (logs / "sys").mkdir(parents=True)
    (logs / "sys" / "master_role.1.txt").write_text(
        "\n".join(verbatim("master_role_traceback_MLNotebooks-1652.txt")) + "\n", encoding="utf-8")
    parsed = azure_logs.parse_step_logs(logs)
    assert parsed.reason.startswith("There is no succeeded mini batch item returned from run().")
    assert logs / "sys" / "master_role.1.txt" in parsed.error_logs


def test_job_error_and_user_error_files_say_why(tmp_path):
    logs = tmp_path / "logs"
    (logs / "user").mkdir(parents=True)
    (logs / "user" / "error.txt").write_text(
        "\n".join(verbatim("amlbi_main_exit42_MLNotebooks-1930.txt")) + "\n", encoding="utf-8")
    assert azure_logs.parse_step_logs(logs).reason == "SystemExit: 42"  # a traceback's last line
    (logs / "job_error.txt").write_text(
        "\n".join(verbatim("master_role_traceback_MLNotebooks-1652.txt")[:1]) + "\n", encoding="utf-8")
    parsed = azure_logs.parse_step_logs(logs)
    assert parsed.reason.startswith("DriverException: There is no succeeded mini batch item")  # job_error.txt first
    assert {p.name for p in parsed.error_logs} == {"job_error.txt", "error.txt"}


def test_master_role_info_lines_are_not_errors(tmp_path):
    logs = tmp_path / "logs"
    (logs / "sys").mkdir(parents=True)
    lines = verbatim("master_role_log_and_processed_minibatches_columns_tuning-doc.txt", keep="|INFO|")
    assert len(lines) >= 5
    (logs / "sys" / "master_role.0.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert azure_logs.parse_step_logs(logs).reason == ""
    (logs / "sys" / "master_role.0.txt").write_text(
        "\n".join(lines + verbatim("sys_error_main_MLNotebooks-1429.txt")[:1]) + "\n", encoding="utf-8")
    assert azure_logs.parse_step_logs(logs).reason == "stderr: terminate called without an active exception"
