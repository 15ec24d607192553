"""The local parallel-job runner end to end: real worker processes, real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Project, job_dir

ECHO = """
import os, sys, argparse
from azureml_user.parallel_run import EntryScript

def init():
    global ARGS, LOGGER
    parser = argparse.ArgumentParser()
    parser.add_argument("--param_1")
    parser.add_argument("--out")
    ARGS, _ = parser.parse_known_args()
    LOGGER = EntryScript().logger
    LOGGER.info("init in %s", os.getcwd())

def run(mini_batch):
    LOGGER.info("run %s", mini_batch)
    print("processing", len(mini_batch))
    rows = []
    for path in mini_batch:
        name = os.path.basename(path)
        if ARGS.out:
            with open(os.path.join(ARGS.out, name + ".done"), "w") as f:
                f.write(os.environ.get("ENV_VAR_1", ""))
        rows.append(f"{name} {ARGS.param_1} {os.environ.get('ENV_VAR_1')}")
    return rows
"""


def test_file_input_runs_every_file_once_in_order_with_env_argv_and_logs(project: Project):
    project.tenants(12)
    project.parallel_pipeline(ECHO, job={
        "outputs": {"out": {"type": "uri_file"}, "predictions": {"type": "uri_folder"}},
        "resources": {"instance_count": 2}, "max_concurrency_per_instance": 2,
        "environment_variables": {"ENV_VAR_1": "hello"}},
        task={"program_arguments": "--param_1 p1 --out ${{outputs.predictions}}"})
    run = project.run()
    assert run.status == "Completed"
    out = run.outputs["score"]["out"]
    lines = out.read_text().splitlines()
    # rows in mini-batch order, which is the lexicographic file order Azure ML uses
    expected = sorted(f"tenant_{i}.csv" for i in range(1, 13))
    assert [line.split()[0] for line in lines] == expected
    assert all(line.endswith(" p1 hello") for line in lines)
    predictions = run.outputs["score"]["predictions"]
    assert sorted(p.name for p in predictions.iterdir()) == [f"{n}.done" for n in expected]
    assert (predictions / "tenant_1.csv.done").read_text() == "hello"

    logs = job_dir(run) / "logs"
    assert (logs / "job_result.txt").read_text().startswith("Status: Completed")
    assert list(logs.glob("job_progress_overview.*.txt"))
    assert (logs / "readme.txt").exists()
    ledger = run.ledger
    assert len(ledger) == 12 and set(ledger["outcome"]) == {"succeeded"}
    # Azure ML v2 names node folders by integer index (conformance: test_log_tree)
    assert set(ledger["node"]) <= {"0", "1"}
    # 2 instances x 2 processes, capped at the CPU count: workers start on both virtual nodes
    assert sorted(p.parent.name for p in (logs / "user" / "stdout").rglob("*.stdout.txt"))[:2] == ["0", "1"]
    entry_logs = list((logs / "user" / "entry_script_log").rglob("process*.log.txt"))
    assert entry_logs and any("run [" in p.read_text() for p in entry_logs)
    # workers run in a temp folder, never in the code folder (conformance: test_entry_script_world)
    assert not any("init in " + str(project.root / "src") in p.read_text() for p in entry_logs)
    assert sorted(p.name for p in (project.root / "src").iterdir()) == ["entry.py"]
    stdout = "".join(p.read_text() for p in (logs / "user" / "stdout").rglob("*.stdout.txt"))
    assert stdout.count("processing 1") == 12


def test_mini_batch_size_groups_files_and_context_is_passed_to_two_parameter_run(project: Project):
    project.tenants(7)
    project.parallel_pipeline("""
import os
def run(mini_batch, context):
    assert context.dataset == mini_batch and context.partition_key_value is None
    return [f"{os.path.basename(mini_batch[0])}:{len(mini_batch)}:{os.path.basename(p)}" for p in mini_batch]
""", job={"mini_batch_size": "3"})
    run = project.run()
    rows = (run.outputs["score"]["out"] / "parallel_run_step.txt").read_text().split()
    firsts = [r.split(":")[0] for r in rows]
    assert firsts == ["tenant_1.csv"] * 3 + ["tenant_4.csv"] * 3 + ["tenant_7.csv"]
    assert [r.split(":")[1] for r in rows] == ["3", "3", "3", "3", "3", "3", "1"]


def test_argv_holds_runner_flags_then_program_arguments_and_parse_args_fails_as_on_azure(project: Project):
    project.tenants(2)
    project.parallel_pipeline("""
import sys, json, argparse
def run(mini_batch):
    return [json.dumps(sys.argv[1:])]
""", task={"program_arguments": "--model 'a b' --flag"})
    run = project.run()
    argv = json.loads((run.outputs["score"]["out"] / "parallel_run_step.txt").read_text().splitlines()[0])
    assert argv[-3:] == ["--model", "a b", "--flag"]
    assert "--mini_batch_size" in argv and "--logging_level" in argv and argv.index("--logging_level") < argv.index("--model")

    project.parallel_pipeline("""
import argparse
def init():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    parser.parse_args()
def run(mini_batch):
    return mini_batch
""", task={"program_arguments": "--model m"})
    run = project.run()
    assert run.status == "Failed"
    errors = "".join(p.read_text() for p in (job_dir(run) / "logs" / "user" / "error").rglob("*.txt"))
    assert "unrecognized arguments: --mini_batch_size" in (errors + "".join(
        p.read_text() for p in (job_dir(run) / "logs" / "user" / "stderr").rglob("*.txt")))
    assert "init() failed" in (job_dir(run) / "logs" / "job_result.txt").read_text()


def test_exceptions_are_retried_then_fail_the_mini_batch_and_sys_exit_fails_only_the_attempt(project: Project):
    project.tenants(4)
    project.parallel_pipeline("""
import os, sys
def run(mini_batch):
    name = os.path.basename(mini_batch[0])
    if name == "tenant_2.csv":
        raise ValueError("bad tenant " + name)
    if name == "tenant_3.csv":
        sys.exit(3)
    return [name]
""", job={"retry_settings": {"max_retries": 1, "timeout": 30}})
    run = project.run()
    assert run.status == "Completed"  # default thresholds tolerate every failure
    ledger = run.ledger
    per_mb = ledger.groupby("label")["attempt"].max().to_dict()
    assert per_mb == {"tenant_1.csv": 1, "tenant_2.csv": 2, "tenant_3.csv": 2, "tenant_4.csv": 1}
    finals = ledger[ledger["final"]].set_index("label")["outcome"].to_dict()
    assert finals["tenant_2.csv"] == "raised" and finals["tenant_3.csv"] == "raised"
    assert "SystemExit" in set(ledger["error_type"])
    rows = (run.outputs["score"]["out"] / "parallel_run_step.txt").read_text().split()
    assert rows == ["tenant_1.csv", "tenant_4.csv"]
    result = (job_dir(run) / "logs" / "job_result.txt").read_text()
    assert "tenant_2.csv" in result and "ValueError: bad tenant tenant_2.csv" in result
    tracebacks = "".join(p.read_text() for p in (job_dir(run) / "logs" / "user" / "error").rglob("*.txt"))
    assert 'raise ValueError("bad tenant " + name)' in tracebacks


@pytest.mark.parametrize("how", ["os._exit(7)", "os.kill(os.getpid(), signal.SIGKILL)",
                                 "ctypes.string_at(0)"])
def test_a_crashing_worker_fails_the_attempt_and_is_replaced_with_a_fresh_init(project: Project, how: str):
    project.tenants(3)
    project.parallel_pipeline(f"""
import os, signal, ctypes
INITS = 0
def init():
    global INITS
    INITS += 1
    with open(os.path.join("{project.root}", "inits.txt"), "a") as f:
        f.write(str(os.getpid()) + "\\n")
def run(mini_batch):
    name = os.path.basename(mini_batch[0])
    marker = os.path.join("{project.root}", "crashed")
    if name == "tenant_2.csv" and not os.path.exists(marker):
        open(marker, "w").close()
        {how}
    return [name]
""")
    run = project.run()
    assert run.status == "Completed"
    ledger = run.ledger
    crashed = ledger[ledger["outcome"] == "crashed"]
    assert list(crashed["label"]) == ["tenant_2.csv"]
    assert "worker process" in crashed["error_message"].iloc[0]
    assert ledger[ledger["final"]].set_index("label")["outcome"].to_dict() == {
        "tenant_1.csv": "succeeded", "tenant_2.csv": "succeeded", "tenant_3.csv": "succeeded"}
    assert len((project.root / "inits.txt").read_text().split()) == 2  # replacement called init() again


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
def test_timeout_kills_and_replaces_the_worker_and_the_job_goes_on(project: Project):
    project.tenants(3)
    project.parallel_pipeline("""
import os, time
def run(mini_batch):
    name = os.path.basename(mini_batch[0])
    if name == "tenant_1.csv":
        time.sleep(60)
    return [name]
""", job={"retry_settings": {"max_retries": 1, "timeout": 1}})
    run = project.run()
    ledger = run.ledger
    t1 = ledger[ledger["label"] == "tenant_1.csv"]
    assert list(t1["outcome"]) == ["timeout", "timeout"]
    assert all(d < 10 for d in t1["duration_s"])
    assert run.status == "Completed"
    assert (run.outputs["score"]["out"] / "parallel_run_step.txt").read_text().split() == ["tenant_2.csv",
                                                                                          "tenant_3.csv"]


def test_wrong_return_type_fails_and_short_return_counts_items_without_retry(project: Project):
    project.tenants(2)
    project.parallel_pipeline("""
import os
def run(mini_batch):
    if os.path.basename(mini_batch[0]) == "tenant_1.csv":
        return None
    return []
""", job={"retry_settings": {"max_retries": 0, "timeout": 30}})
    run = project.run()
    ledger = run.ledger.set_index("label")
    assert ledger.loc["tenant_1.csv", "outcome"] == "wrong_type"
    assert "got NoneType" in ledger.loc["tenant_1.csv", "error_message"]
    assert ledger.loc["tenant_2.csv", "outcome"] == "short_return"
    assert ledger.loc["tenant_2.csv", "failed"] == 1
    report = run.steps[0].detail
    assert report.tally.failed_mini_batches == 1 and report.tally.failed_items == 2


def test_thresholds_stop_the_job_early_and_job_result_names_the_threshold(project: Project):
    project.tenants(20)
    project.parallel_pipeline("""
def run(mini_batch):
    raise RuntimeError("always")
""", job={"mini_batch_error_threshold": 2, "retry_settings": {"max_retries": 0, "timeout": 30}})
    run = project.run()
    assert run.status == "Failed"
    result = (job_dir(run) / "logs" / "job_result.txt").read_text()
    assert "mini_batch_error_threshold is 2 and 3 failed mini-batches exceeded it" in result
    assert run.steps[0].detail.tally.processed < 20


def test_error_threshold_from_program_arguments_and_allowed_failed_percent(project: Project):
    project.tenants(4)
    script = """
import os
def run(mini_batch):
    if os.path.basename(mini_batch[0]) == "tenant_1.csv":
        raise RuntimeError("no")
    return mini_batch
"""
    project.parallel_pipeline(script, job={"retry_settings": {"max_retries": 0, "timeout": 30}},
                              task={"program_arguments": "--error_threshold 0"})
    assert project.run().status == "Failed"
    project.parallel_pipeline(script, job={"retry_settings": {"max_retries": 0, "timeout": 30}},
                              task={"program_arguments": "--allowed_failed_percent 20"})
    run = project.run()
    assert run.status == "Failed"
    assert "allowed_failed_percent is 20 and 25 percent" in (job_dir(run) / "logs" / "job_result.txt").read_text()
    project.parallel_pipeline(script, job={"retry_settings": {"max_retries": 0, "timeout": 30}},
                              task={"program_arguments": "--allowed_failed_percent 30"})
    assert project.run().status == "Completed"


def test_init_failures_stop_a_node_after_three_times_concurrency_and_fail_the_job(project: Project):
    project.tenants(2)
    project.parallel_pipeline(f"""
import os
def init():
    with open(os.path.join("{project.root}", "inits.txt"), "a") as f:
        f.write("x\\n")
    raise RuntimeError("cannot load model")
def run(mini_batch):
    return mini_batch
""", job={"resources": {"instance_count": 2}, "max_concurrency_per_instance": 1})
    run = project.run()
    assert run.status == "Failed"
    assert len((project.root / "inits.txt").read_text().split()) == 2 * 3  # 2 nodes x 3 x 1
    result = (job_dir(run) / "logs" / "job_result.txt").read_text()
    assert "init() failed: RuntimeError: cannot load model" in result


@pytest.mark.slow
def test_dataframe_returns_use_space_separated_csv_or_the_settings_json(project: Project):
    project.tenants(3)
    script = """
import os
import pandas as pd
def run(mini_batch):
    name = os.path.basename(mini_batch[0])
    return pd.DataFrame({"tenant": [name, name], "value": [1, 2]})
"""
    project.parallel_pipeline(script)
    rows = (project.run().outputs["score"]["out"] / "parallel_run_step.txt").read_text().splitlines()
    assert rows[:2] == ["tenant_1.csv 1", "tenant_1.csv 2"] and len(rows) == 6
    project.write("src/parallel_run_step.settings.json",
                  json.dumps({"append_row": {"pandas.DataFrame.to_csv": {"sep": ","}}}))
    rows = (project.run().outputs["score"]["out"] / "parallel_run_step.txt").read_text().splitlines()
    assert rows[-1] == "tenant_3.csv,2"


def test_rows_come_from_the_final_attempt_only_in_mini_batch_order(project: Project):
    project.tenants(6)
    project.parallel_pipeline(f"""
import os, time
def run(mini_batch):
    name = os.path.basename(mini_batch[0])
    marker = os.path.join("{project.root}", name + ".seen")
    if name in ("tenant_1.csv", "tenant_4.csv") and not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first attempt fails")
    if name == "tenant_2.csv":
        time.sleep(0.5)
    return [name + "-row"]
""", job={"max_concurrency_per_instance": 2})
    run = project.run(max_workers=2)
    rows = (run.outputs["score"]["out"] / "parallel_run_step.txt").read_text().split()
    assert rows == [f"tenant_{i}.csv-row" for i in range(1, 7)]
    assert not (job_dir(run) / "state" / "rows").exists()  # spills go once the step completed


def test_an_empty_input_completes_with_zero_mini_batches(project: Project):
    (project.root / "data").mkdir()
    project.parallel_pipeline("def run(mini_batch):\n    return mini_batch\n")
    run = project.run()
    assert run.status == "Completed"
    assert "0 scheduled" in (job_dir(run) / "logs" / "job_result.txt").read_text()


def test_max_workers_caps_real_processes_and_says_so(project: Project):
    project.tenants(6)
    project.parallel_pipeline("""
import os
def run(mini_batch):
    return [str(os.getpid())]
""", job={"resources": {"instance_count": 3}, "max_concurrency_per_instance": 2})
    run = project.run(max_workers=2)
    pids = set((run.outputs["score"]["out"] / "parallel_run_step.txt").read_text().split())
    assert 1 <= len(pids) <= 2
    log = (job_dir(run) / "logs" / "sys" / "coordinator.txt").read_text()
    assert "6 worker(s) on Azure ML" in log and "capped by --max-workers 2" in log


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
def test_resource_monitor_interval_writes_snapshots_per_process(project: Project):
    project.tenants(2)
    project.parallel_pipeline("""
import time
def run(mini_batch):
    time.sleep(1.2)
    return mini_batch
""", task={"program_arguments": "--resource_monitor_interval 0.3"})
    run = project.run()
    perf = list((job_dir(run) / "logs" / "sys" / "perf" / "0").glob("process*.csv"))
    assert perf
    lines = perf[0].read_text().splitlines()
    assert lines[0] == "time,pid,rss_mib,cpu_user_s,cpu_system_s" and len(lines) >= 3
    assert float(lines[-1].split(",")[2]) > 1  # a Python worker uses more than 1 MiB


def test_an_exception_whose_str_raises_fails_the_attempt_not_the_worker(project: Project):
    """The worker described the error with str(exc); a user's __str__ that raises killed it (exit 3,
    "crashed") and the attempt lost its exception type."""
    project.tenants(1)
    project.parallel_pipeline("""
class TenantError(Exception):
    def __str__(self):
        raise ValueError("no text")

def run(mini_batch):
    raise TenantError()
""", job={"retry_settings": {"max_retries": 0, "timeout": 30}})
    run = project.run()
    final = run.ledger[run.ledger["final"]].iloc[0]
    assert (final["outcome"], final["error_type"]) == ("raised", "TenantError")
    assert final["error_message"].endswith("<str() of TenantError failed: ValueError>")


def test_an_entry_script_named_like_a_module_the_worker_uses_runs(project: Project):
    """``entry_script: json.py`` replaced the worker's own json module: it died (exit 3) at its first mini-batch."""
    project.tenants(2)
    project.parallel_pipeline("def run(mini_batch):\n    return mini_batch\n", task={"entry_script": "json.py"})
    (project.root / "src" / "entry.py").rename(project.root / "src" / "json.py")
    run = project.run()
    assert run.status == "Completed"
    assert set(run.ledger["outcome"]) == {"succeeded"}
