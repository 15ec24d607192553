"""Faults, interrupts and hostile input never lose work or leave a mess (docs/reliability.md)."""

from __future__ import annotations

import pytest

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import Project
from test_interrupt import alive, descendants

TENANT_SCRIPT = """
import os, time
def init():
    global OUT
    import argparse
    p = argparse.ArgumentParser(); p.add_argument("--out")
    OUT = p.parse_known_args()[0].out
def run(mini_batch):
    rows = []
    for path in mini_batch:
        name = os.path.basename(path)
        time.sleep(0.02)
        with open(os.path.join(OUT, name + ".pred"), "w") as f:
            f.write(name.upper())
        rows.append(f"{name} {sum(map(ord, name))}")
    return rows
"""


def _cli(project: Project, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tenantml.cli", *args], cwd=project.root,
                            env={**os.environ, "TENANTML_HOME": str(project.home)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _ledger_rows(project: Project) -> int:
    found = list((project.home / "runs").glob("*/score/logs/sys/job_report/processed_mini-batches.csv"))
    return max(0, sum(1 for _ in open(found[0])) - 1) if found else 0


CRASH_SCRIPT = """
import argparse, os, time
def init():
    global OUT
    p = argparse.ArgumentParser(); p.add_argument("--out")
    OUT = p.parse_known_args()[0].out
def run(mini_batch):
    rows = []
    for path in mini_batch:
        name = os.path.basename(path)
        time.sleep(0.02)
        if name == "tenant_13.csv":
            raise ValueError("tenant 13 always fails")
        flag = os.path.join(OUT, name + ".tried")
        if name in ("tenant_5.csv", "tenant_21.csv") and not os.path.exists(flag):
            open(flag, "w").close()
            raise RuntimeError("fails once, then succeeds on retry")
        with open(os.path.join(OUT, name + ".pred"), "w") as f:
            f.write(name.upper())
        rows.append(f"{name} {sum(map(ord, name))}")
    return rows
"""

CRASH_PIPELINE = """
type: pipeline
jobs:
  prep:
    type: command
    inputs:
      raw: {type: uri_folder, path: ./data}
    outputs:
      data: {type: uri_folder}
    command: sleep 0.3; cp -r ${{inputs.raw}}/. ${{outputs.data}}/
  score:
    type: parallel
    inputs:
      data: ${{parent.jobs.prep.outputs.data}}
    outputs:
      out: {type: uri_file}
      pred: {type: uri_folder}
    input_data: ${{inputs.data}}
    mini_batch_size: "1"
    mini_batch_error_threshold: -1
    resources: {instance_count: 1}
    max_concurrency_per_instance: 2
    retry_settings: {max_retries: 2, timeout: 30}
    task:
      type: run_function
      code: ./src
      entry_script: entry.py
      environment: {image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04}
      program_arguments: --out ${{outputs.pred}}
      append_row_to: ${{outputs.out}}
"""


def _run_alive(project: Project) -> list[int]:
    """Processes still running anything of this project (a worker, a command, the divider)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(project.root).encode() in (entry / "cmdline").read_bytes() or \
                        str(project.root).encode() in (entry / "environ").read_bytes():
                    if alive(int(entry.name)):
                        found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.mark.slow
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kill_after=st.integers(-1, 41))
@example(kill_after=41)  # the window between the step's commit and the run record: rows were lost there
@example(kill_after=-1)
def test_a_coordinator_killed_at_any_point_resumes_to_the_uninterrupted_result(tmp_path_factory, kill_after):
    """-1: during the command step; 0..40: after that many ledger rows of the parallel step (with a
    retry on two tenants and one tenant failing for good); 41: right after the step committed,
    before the run record says so."""
    project = Project(tmp_path_factory.mktemp("kill"))
    project.tenants(40)
    project.write("src/entry.py", CRASH_SCRIPT)
    project.write("pipeline.yml", CRASH_PIPELINE)
    proc = _cli(project, "run", "pipeline.yml")
    runs = project.home / "runs"
    deadline = time.monotonic() + 60

    def reached() -> bool:
        if not runs.exists() or not any(runs.glob("*/run.json")):
            return False
        if kill_after == -1:
            return any(runs.glob("*/prep/logs/user_logs/std_log.txt"))
        if kill_after == 41:
            return any(runs.glob("*/score/state/committed.json"))
        return _ledger_rows(project) >= kill_after

    while not reached() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    tree = descendants(proc.pid)
    proc.kill()  # SIGKILL: no handler runs
    proc.wait()
    time.sleep(0.5)
    assert not [p for p in tree if alive(p)]  # workers, commands and what they started die with it
    assert not _run_alive(project)
    run_dir = next(runs.iterdir())
    resumed = subprocess.run([sys.executable, "-m", "tenantml.cli", "run", "pipeline.yml", "--resume", run_dir.name],
                             cwd=project.root, env={**os.environ, "TENANTML_HOME": str(project.home)},
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    # the uninterrupted result, for comparison
    clean = project.run(force=True)
    out = (run_dir / "score" / "outputs" / "out").read_bytes()
    assert out == clean.outputs["score"]["out"].read_bytes()
    assert len(out.splitlines()) == 39  # tenant 13 failed for good, as in the clean run
    preds = sorted(p.name for p in (run_dir / "score" / "outputs" / "pred").iterdir() if p.suffix == ".pred")
    assert preds == sorted(p.name for p in clean.outputs["score"]["pred"].iterdir() if p.suffix == ".pred")
    import pandas as pd

    ledger = pd.read_csv(run_dir / "score" / "logs" / "sys" / "job_report" / "processed_mini-batches.csv")
    final = ledger[ledger["Final"]]  # Azure ML's column names, then tenantml's own
    assert sorted(final["Mini-batch Id"]) == list(range(40))  # every mini-batch decided exactly once
    assert not ledger.duplicated(["Mini-batch Id", "Picked Count"]).any()
    assert json.loads((run_dir / "run.json").read_text())["status"] == "Completed"
    assert not _run_alive(project)


LOST_ROWS_PIPELINE = """
type: pipeline
jobs:
  score:
    type: parallel
    inputs:
      data: {type: uri_folder, path: ./data}
    outputs:
      out: {type: uri_file}
      pred: {type: uri_folder}
    input_data: ${{inputs.data}}
    mini_batch_size: "1"
    resources: {instance_count: 1}
    max_concurrency_per_instance: 2
    retry_settings: {max_retries: 2, timeout: 30}
    task:
      type: run_function
      code: ./src
      entry_script: entry.py
      program_arguments: --out ${{outputs.pred}}
      append_row_to: ${{outputs.out}}
      environment: {image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04}
"""


@pytest.mark.slow
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kill_after=st.integers(1, 24), lost=st.integers(1, 12))
@example(kill_after=24, lost=12)
def test_ledger_rows_a_kill_takes_only_make_their_mini_batches_run_again(tmp_path_factory, kill_after, lost):
    """The ledger is flushed every 0.2 s, so a SIGKILL of the coordinator can take its last rows
    while the rows journals hold those attempts' rows. Here the kill comes after ``kill_after``
    rows and the last ``lost`` rows are then cut, as if never flushed: the resume runs those
    mini-batches again under new attempt numbers, and the output is the uninterrupted one."""
    project = Project(tmp_path_factory.mktemp("lost"))
    project.tenants(25)
    project.write("src/entry.py", CRASH_SCRIPT)
    project.write("pipeline.yml", LOST_ROWS_PIPELINE)
    proc = _cli(project, "run", "pipeline.yml")
    deadline = time.monotonic() + 60
    while _ledger_rows(project) < kill_after and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    run_dir = next((project.home / "runs").iterdir())
    ledger_path = run_dir / "score" / "logs" / "sys" / "job_report" / "processed_mini-batches.csv"
    lines = ledger_path.read_bytes().splitlines(keepends=True)
    ledger_path.write_bytes(b"".join(lines[:max(1, len(lines) - lost)]))
    (run_dir / "score" / "state" / "committed.json").unlink(missing_ok=True)
    resumed = subprocess.run([sys.executable, "-m", "tenantml.cli", "run", "pipeline.yml", "--resume", run_dir.name],
                             cwd=project.root, env={**os.environ, "TENANTML_HOME": str(project.home)},
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    clean = project.run(force=True)
    out = (run_dir / "score" / "outputs" / "out").read_bytes()
    assert out == clean.outputs["score"]["out"].read_bytes()
    import pandas as pd

    ledger = pd.read_csv(ledger_path)
    assert not ledger.duplicated(["Mini-batch Id", "Picked Count"]).any()
    assert sorted(ledger[ledger["Final"]]["Mini-batch Id"]) == list(range(25))
    # tenant 13 failed for good, so the journals stay (for --retry-failed): no attempt was recorded
    # twice in them either, so a later resume can never take the rows of the wrong one
    keys = _journal_records(run_dir / "score" / "state" / "rows")
    assert keys and len(keys) == len(set(keys))


def _journal_records(rows_dir: Path) -> list[tuple[int, int]]:
    """(mini-batch, attempt) of every whole record of every rows journal."""
    keys = []
    for journal in rows_dir.glob("*.rows"):
        data, at = journal.read_bytes(), 0
        while at < len(data):
            end = data.index(b"\n", at)
            index, attempt, length, _seq = map(int, data[at:end].split())
            if end + 1 + length > len(data):
                break
            keys.append((index, attempt))
            at = end + 1 + length
    return keys


@pytest.mark.slow
def test_a_large_call_is_never_queued_behind_a_running_one_so_timeouts_still_hold(project: Project):
    """Short calls are queued behind the one a worker runs (issue 17); a mini-batch whose call is
    larger than the pipe holds must not be: writing it would block the coordinator until the
    running call ends, and a hung tenant would then never time out (here: 4 s of sleep, timeout 1 s)."""
    data = project.root / "data"
    data.mkdir()
    for i in range(6000):
        (data / f"{i:05d}_{'x' * 100}.csv").touch()
    project.parallel_pipeline("""
import os, time
def run(mini_batch):
    if os.path.basename(mini_batch[0]).startswith("02000_"):
        time.sleep(4)
    return mini_batch
""", job={"mini_batch_size": "2000", "retry_settings": {"max_retries": 0, "timeout": 1}})
    run = project.run()
    outcomes = dict(zip(run.ledger["mini_batch"], run.ledger["outcome"]))
    assert outcomes == {0: "succeeded", 1: "timeout", 2: "succeeded"}


def test_a_worker_over_the_memory_limit_is_replaced_and_its_attempt_fails_clearly(project: Project):
    project.tenants(3)
    project.parallel_pipeline("""
import os, time
def run(mini_batch):
    if os.path.basename(mini_batch[0]) == "tenant_2.csv":
        hog = bytearray(400 * 1024 * 1024)
        for i in range(0, len(hog), 4096):
            hog[i] = 1
        time.sleep(5)
    return mini_batch
""", job={"retry_settings": {"max_retries": 0, "timeout": 60}})
    run = project.run(worker_memory_limit=200 * 1024 * 1024)
    ledger = run.ledger.set_index("label")
    assert ledger.loc["tenant_2.csv", "outcome"] == "memory_limit"
    assert "over --worker-memory-limit 200 MiB" in ledger.loc["tenant_2.csv", "error_message"]
    assert ledger.loc["tenant_3.csv", "outcome"] == "succeeded"


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_megabytes_of_output_go_to_log_files_and_coordinator_memory_stays_flat(project: Project):
    project.tenants(4)
    project.parallel_pipeline("""
import sys
def run(mini_batch):
    line = "x" * 1023 + "\\n"
    for _ in range(10 * 1024):
        sys.stdout.write(line)
        sys.stderr.write(line)
    return mini_batch
""")
    project.run()  # warm-up: imports, caches
    before = _rss()
    run = project.run(force=True)
    growth = _rss() - before
    logs = run.run_dir / "score" / "logs" / "user"
    assert sum(p.stat().st_size for p in (logs / "stdout").rglob("*.txt")) >= 40 * 1024 * 1024
    assert sum(p.stat().st_size for p in (logs / "stderr").rglob("*.txt")) >= 40 * 1024 * 1024
    assert growth < 30 * 1024 * 1024, growth  # 80 MB went through the workers, not the coordinator


@pytest.mark.slow
def test_two_thousand_tenants_with_random_failures_and_hangs_are_accounted_exactly(project: Project):
    rng = random.Random(7)
    names = [f"tenant_{i:04d}.csv" for i in range(2000)]
    plan = {}
    for name in names:
        roll = rng.random()
        if roll < 0.025:
            plan[name] = ["raise", "raise"]  # fails for good
        elif roll < 0.05:
            plan[name] = ["raise"]  # fails once, then succeeds
        elif roll < 0.055:
            plan[name] = ["hang", "hang"]  # times out for good
        elif roll < 0.06:
            plan[name] = ["hang"]
    data = project.root / "data"
    data.mkdir()
    for name in names:
        (data / name).write_text("x\n")
    (project.root / "plan.json").write_text(json.dumps(plan))
    (project.root / "state").mkdir()
    project.parallel_pipeline(f"""
import json, os, time
PLAN = json.load(open("{project.root / 'plan.json'}"))
def run(mini_batch):
    name = os.path.basename(mini_batch[0])
    counter = os.path.join("{project.root / 'state'}", name)
    with open(counter, "a") as f:
        f.write("x")
    actions = PLAN.get(name, [])
    attempt = os.path.getsize(counter)
    action = actions[attempt - 1] if attempt <= len(actions) else "ok"
    if action == "raise":
        raise ValueError("planned")
    if action == "hang":
        time.sleep(60)
    return [name]
""", job={"retry_settings": {"max_retries": 1, "timeout": 1}, "max_concurrency_per_instance": 2})
    start = time.monotonic()
    run = project.run()
    elapsed = time.monotonic() - start
    assert run.status == "Completed"
    expect_failed = sorted(n for n, a in plan.items() if len(a) == 2)
    ledger = run.ledger
    final = ledger[ledger["final"]]
    assert len(final) == 2000
    assert sorted(final[~final["outcome"].isin(["succeeded"])]["label"]) == expect_failed
    retried = sorted(ledger[ledger["attempt"] == 2]["label"])
    assert retried == sorted(plan)
    timeouts = ledger[ledger["outcome"] == "timeout"]
    assert len(timeouts) == sum(a.count("hang") for a in plan.values())
    written = run.outputs["score"]["out"].joinpath("parallel_run_step.txt").read_text().split()
    assert written == sorted(set(names) - set(expect_failed))
    assert elapsed < 240  # bounded: hangs cost one timeout each, not the run
    (project.root / "figures.json").write_text(json.dumps({"elapsed": elapsed}))


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
def test_two_runs_in_the_same_folder_at_once_never_share_a_file(project: Project):
    project.tenants(20)
    project.parallel_pipeline(TENANT_SCRIPT.replace("time.sleep(0.02)", "time.sleep(0.05)"),
                              job={"outputs": {"out": {"type": "uri_file"}, "pred": {"type": "uri_folder"}}},
                              task={"program_arguments": "--out ${{outputs.pred}}"})
    a, b = _cli(project, "run", "pipeline.yml", "--force"), _cli(project, "run", "pipeline.yml", "--force")
    assert a.wait(timeout=120) == 0 and b.wait(timeout=120) == 0
    runs = sorted((project.home / "runs").iterdir())
    assert len(runs) == 2 and runs[0].name != runs[1].name
    for run in runs:
        assert len((run / "score" / "outputs" / "out").read_text().splitlines()) == 20
        assert len(list((run / "score" / "outputs" / "pred").iterdir())) == 20
    # and the reuse cache took both records without corruption
    c = _cli(project, "run", "pipeline.yml")
    assert c.wait(timeout=120) == 0
    newest = max((project.home / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    assert json.loads((newest / "run.json").read_text())["steps"]["score"]["status"] == "Reused"


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
def test_ctrl_c_during_a_command_step_leaves_no_process_and_is_resumable(project: Project):
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          slow:
            type: command
            command: sleep 300 & sleep 300; echo done
        """)
    proc = subprocess.Popen([sys.executable, "-m", "tenantml.cli", "run", "pipeline.yml"], cwd=project.root,
                            env={**os.environ, "TENANTML_HOME": str(project.home)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while len(descendants(proc.pid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    tree = descendants(proc.pid)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=20)
    assert proc.returncode == 130
    time.sleep(0.2)
    assert not [p for p in tree if alive(p)]
    run_dir = next((project.home / "runs").iterdir())
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "Interrupted" and record["steps"]["slow"]["status"] == "Interrupted"
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          slow:
            type: command
            command: echo quick
        """)
    resumed = project.cli("run", "pipeline.yml", "--resume", run_dir.name)
    assert resumed.returncode == 0, resumed.stderr


@pytest.mark.slow
def test_hostile_partition_values_never_write_outside_the_run(project: Project):
    values = ["../../escape", "a/b", "spaced name", "ünïcödé", "x\x00y", "..", "/abs"]
    import pandas as pd

    frame = pd.DataFrame({"key": values, "v": range(len(values))})
    (project.root / "table").mkdir()
    frame.to_parquet(project.root / "table" / "part.parquet")
    project.write("table/MLTable", "paths:\n  - file: ./part.parquet\ntransformations:\n  - read_parquet\n")
    project.parallel_pipeline("""
def run(mini_batch, ctx):
    return [repr(ctx.partition_key_value["key"])]
""", data="table", data_type="mltable", job={"partition_keys": ["key"], "mini_batch_size": None})
    before = {p for p in project.root.parent.rglob("*")}
    run = project.run()
    assert run.status == "Completed"
    written = {p for p in project.root.parent.rglob("*")} - before
    assert all(project.root in p.parents for p in written)
    rows = (run.outputs["score"]["out"] / "parallel_run_step.txt").read_text().splitlines()
    assert sorted(rows) == sorted(repr(v) for v in values)


def test_huge_yaml_documents_are_refused(project: Project):
    project.write("pipeline.yml", "type: pipeline\njobs:\n" + "# filler\n" * 800_000)
    result = project.cli("validate", "pipeline.yml")
    assert result.returncode == 2 and "tenantml reads at most" in result.stderr
