"""``tenantml logs``: a tenant by name, what each attempt printed, where a timed-out tenant hung,
why init() exited, and ``--follow``."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from conftest import Project

PRINTS = """\
import os, sys, time
def run(mini_batch):
    name = os.path.basename(mini_batch[0])
    print("hello from", name)
    print("warning for", name, file=sys.stderr)
    if name == "tenant_2.csv":
        raise ValueError("bad " + name)
    return [name]
"""

HANGS = """\
import os, time
def wait_for_the_database():
    time.sleep(60)
def run(mini_batch):
    if os.path.basename(mini_batch[0]) == "tenant_2.csv":
        wait_for_the_database()
    return mini_batch
"""


def test_logs_takes_a_tenant_name_and_tags_what_each_attempt_printed(project: Project):
    project.tenants(3)
    project.parallel_pipeline(PRINTS, job={"mini_batch_error_threshold": 5,
                                           "retry_settings": {"max_retries": 1, "timeout": 30}})
    assert project.cli("run", "pipeline.yml", "--run-id", "r1").returncode == 0
    by_name = project.cli("logs", "r1", "score", "--mini-batch", "tenant_2.csv")
    assert by_name.returncode == 0, by_name.stderr
    index = next(mb["mini_batch"] for mb in json.loads(project.cli("show", "--format", "json").stdout)["steps"][0]
                 ["mini_batches"] if mb["label"] == "tenant_2.csv")
    assert by_name.stdout == project.cli("logs", "r1", "score", "--mini-batch", str(index)).stdout
    assert by_name.stdout == project.cli("logs", "r1", "score", "--mini-batch", "tenant_2").stdout
    out = by_name.stdout
    assert f"[mb {index}#1] hello from tenant_2.csv" in out and f"[mb {index}#2] hello from tenant_2.csv" in out
    assert f"[mb {index}#1] warning for tenant_2.csv" in out
    assert "tenant_1.csv" not in out and "tenant_3.csv" not in out  # only this tenant's output
    assert "ValueError: bad tenant_2.csv" in out
    typo = project.cli("logs", "r1", "score", "--mini-batch", "tenant_22.csv")
    assert typo.returncode == 2 and "did you mean" in typo.stderr and "Traceback" not in typo.stderr


@pytest.mark.slow  # waits out a 3 s timeout
def test_a_timeout_writes_the_stack_of_the_hung_tenant_before_the_kill(project: Project):
    project.tenants(2)
    project.parallel_pipeline(HANGS, job={"mini_batch_error_threshold": 5,
                                          "retry_settings": {"max_retries": 0, "timeout": 3}})
    done = project.cli("run", "pipeline.yml", "--run-id", "r1")
    assert done.returncode == 0, done.stderr
    out = project.cli("logs", "r1", "score", "--mini-batch", "tenant_2.csv").stdout
    assert "timed out in run() of mini-batch" in out
    assert "wait_for_the_database" in out and "entry.py" in out  # where it hung, from the worker itself


def test_an_init_that_exits_says_argparses_error_line(project: Project):
    project.tenants(1)
    project.parallel_pipeline("""\
import argparse
def init():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model_dir", required=True)
    parser.parse_args()
def run(mini_batch):
    return mini_batch
""")
    done = project.cli("run", "pipeline.yml", "--run-id", "r1")
    assert done.returncode == 1
    assert "the following arguments are required: --model_dir" in done.stdout + done.stderr
    logs = project.cli("logs", "r1", "score").stdout
    assert "init() called sys.exit(2): " in logs and "--model_dir" in logs


@pytest.mark.slow  # follows a run of a few seconds
def test_follow_prints_new_output_until_the_run_ends(project: Project):
    project.tenants(3)
    project.parallel_pipeline("""\
import os, time
def run(mini_batch):
    time.sleep(1.0)
    print("working on", os.path.basename(mini_batch[0]), flush=True)
    return mini_batch
""")
    env = {"TENANTML_HOME": str(project.home)}
    import os

    runner = subprocess.Popen([sys.executable, "-m", "tenantml", "run", "pipeline.yml", "--run-id", "r1"],
                              cwd=project.root, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (project.home / "runs" / "r1" / "score" / "logs").is_dir() and time.monotonic() < deadline:
            time.sleep(0.1)
        follow = project.cli("logs", "r1", "score", "--follow", timeout=90)
    finally:
        runner.wait(timeout=90)
    assert follow.returncode == 0, follow.stderr
    assert "==> run Completed <==" in follow.stdout
    assert "] working on tenant_3.csv" in follow.stdout and "stdout" in follow.stdout
