"""Retrying a finished run: ``--resume RUN --retry-failed``, ``--strict``, and a resume that keeps
the run's own ``--set`` values (a different set is refused unless ``--allow-changes``)."""

from __future__ import annotations

import json

import pytest

from conftest import Project

# tenant_2 fails until the file 'fixed' exists beside the data folder
FLAKY = """\
import os
from pathlib import Path

def run(mini_batch):
    for path in mini_batch:
        if Path(path).name == "tenant_2.csv" and not (Path(path).parent.parent / "fixed").exists():
            raise ValueError("tenant_2 is broken")
    return [Path(p).name for p in mini_batch]
"""


def _pipeline(project: Project, threshold: int = 5) -> None:
    project.tenants(3)
    project.parallel_pipeline(FLAKY, job={"mini_batch_error_threshold": threshold,
                                          "retry_settings": {"max_retries": 0, "timeout": 30}})


def _runs_json(project: Project) -> list[dict]:
    done = project.cli("runs", "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
def test_retry_failed_reruns_the_failed_tenants_of_a_completed_run(project: Project):
    _pipeline(project)
    first = project.cli("run", "pipeline.yml", "--run-id", "r1")
    assert first.returncode == 0, first.stderr  # within the threshold: Completed
    [record] = _runs_json(project)
    assert record["status"] == "Completed" and record["failed_mini_batches"] == 1
    assert "Completed (1 failed)" in project.cli("runs").stdout

    strict = project.cli("run", "pipeline.yml", "--strict", "--run-id", "r_strict")
    assert strict.returncode == 1 and "--strict: 1 mini-batch(es) failed" in strict.stderr
    assert "--retry-failed" in strict.stderr

    (project.root / "fixed").write_text("", encoding="utf-8")
    kept = project.cli("run", "pipeline.yml", "--resume", "r1")  # without --retry-failed, nothing runs again
    assert kept.returncode == 0
    assert next(r for r in _runs_json(project) if r["run_id"] == "r1")["failed_mini_batches"] == 1

    retried = project.cli("run", "pipeline.yml", "--resume", "r1", "--retry-failed", "--strict")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert next(r for r in _runs_json(project) if r["run_id"] == "r1")["failed_mini_batches"] == 0
    view = json.loads(project.cli("show", "r1", "--format", "json").stdout)
    tenant_2 = next(mb for mb in view["steps"][0]["mini_batches"] if mb["label"] == "tenant_2.csv")
    assert tenant_2["state"] == "succeeded" and tenant_2["attempts"] == 2
    out = project.home / "runs" / "r1" / "score" / "outputs" / "out"
    rows = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert sorted(rows.split()) == ["tenant_1.csv", "tenant_2.csv", "tenant_3.csv"]


def test_retry_failed_needs_resume(project: Project):
    _pipeline(project)
    done = project.cli("run", "pipeline.yml", "--retry-failed")
    assert done.returncode == 2 and "--resume" in done.stderr


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
def test_resume_uses_the_runs_own_set_values_and_refuses_others(project: Project):
    _pipeline(project)
    key = "jobs.score.mini_batch_error_threshold"
    first = project.cli("run", "pipeline.yml", "--run-id", "r1", "--set", f"{key}=0")
    assert first.returncode == 1  # threshold 0: one failure fails the step
    record = json.loads((project.home / "runs" / "r1" / "run.json").read_text())
    assert record["overrides"] == [f"{key}=0"] and "max_workers" in record["options"]

    again = project.cli("run", "pipeline.yml", "--resume", "r1")  # the run's own threshold, not the YAML's 5
    assert again.returncode == 1, again.stdout

    changed = project.cli("run", "pipeline.yml", "--resume", "r1", "--set", f"{key}=5")
    assert changed.returncode == 2
    assert f"Changed: {key}: 0 -> 5" in changed.stderr and "--allow-changes" in changed.stderr
    assert "Traceback" not in changed.stderr

    allowed = project.cli("run", "pipeline.yml", "--resume", "r1", "--set", f"{key}=5", "--allow-changes")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    record = json.loads((project.home / "runs" / "r1" / "run.json").read_text())
    assert record["overrides"] == [f"{key}=5"]


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
def test_retry_failed_runs_the_steps_after_a_retried_step_again(project: Project):
    import yaml

    _pipeline(project)
    document = yaml.safe_load(project.pipeline.read_text())
    document["jobs"]["count"] = {
        "type": "command", "code": "./src",
        "command": "cat ${{inputs.rows}}/* | wc -l > ${{outputs.n}}/n.txt",
        "inputs": {"rows": "${{parent.jobs.score.outputs.out}}"},
        "outputs": {"n": {"type": "uri_folder"}},
    }
    project.pipeline.write_text(yaml.safe_dump(document, sort_keys=False))
    assert project.cli("run", "pipeline.yml", "--run-id", "r1").returncode == 0
    count = project.home / "runs" / "r1" / "count" / "outputs" / "n" / "n.txt"
    assert count.read_text().strip() == "2"
    (project.root / "fixed").write_text("", encoding="utf-8")
    retried = project.cli("run", "pipeline.yml", "--resume", "r1", "--retry-failed")
    assert retried.returncode == 0, retried.stderr
    assert count.read_text().strip() == "3"  # the downstream step saw the retried tenant's rows
