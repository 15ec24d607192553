"""Ctrl-C: every worker gone within 5 s, job_result says interrupted, exit 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import Project


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_ends_every_worker_and_marks_the_run(project: Project, sig: int):
    project.tenants(8)
    project.parallel_pipeline(f"""
import os, subprocess, time
def init():
    # a grandchild too: it must not survive either
    subprocess.Popen(["sleep", "300"])
def run(mini_batch):
    open(os.path.join("{project.root}", "started-" + str(os.getpid())), "w").close()
    time.sleep(300)
    return mini_batch
""", job={"max_concurrency_per_instance": 2, "retry_settings": {"max_retries": 0, "timeout": 600}})
    proc = subprocess.Popen([sys.executable, "-m", "tenantml.cli", "run", "pipeline.yml"], cwd=project.root,
                            env={**os.environ, "TENANTML_HOME": str(project.home)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(list(project.root.glob("started-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    tree = descendants(proc.pid)
    assert len(tree) >= 4  # 2 workers + 2 sleeps
    proc.send_signal(sig)
    start = time.monotonic()
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - start < 5
    assert proc.returncode == 130, err
    assert not [pid for pid in tree if alive(pid)]
    run_dir = next((project.home / "runs").iterdir())
    result = (run_dir / "score" / "logs" / "job_result.txt").read_text()
    assert result.startswith("Status: Interrupted")
    assert '"status": "Interrupted"' in (run_dir / "run.json").read_text()
    assert "interrupted" in (run_dir / "score" / "logs" / "sys" / "job_report" / "processed_mini-batches.csv").read_text()


def test_a_killed_coordinator_takes_its_workers_with_it(project: Project):
    project.tenants(2)
    project.parallel_pipeline(f"""
import os, time
def run(mini_batch):
    open(os.path.join("{project.root}", "started-" + str(os.getpid())), "w").close()
    time.sleep(300)
    return mini_batch
""", job={"retry_settings": {"max_retries": 0, "timeout": 600}})
    proc = subprocess.Popen([sys.executable, "-m", "tenantml.cli", "run", "pipeline.yml"], cwd=project.root,
                            env={**os.environ, "TENANTML_HOME": str(project.home)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(project.root.glob("started-*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = descendants(proc.pid)
    assert workers
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 5
    while any(alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in workers if alive(p)]
