"""What azure-ai-ml 1.35.2 accepts and rejects (fixtures/sdk-validation-transcript.txt, our own run of the SDK),
and what tenantml does with the same YAML. The differential test generalises these cases."""

from __future__ import annotations

import pytest

from conftest import Project
from evidence import quote
from loading import load, rejection

OK = "def run(mini_batch):\n    return mini_batch\n"


@pytest.fixture
def step(project: Project):
    project.tenants(1)

    def make(job: dict | None = None, task: dict | None = None) -> tuple[str | None, object]:
        project.parallel_pipeline(OK, job=job, task=task)
        problem = rejection(project.pipeline, project.home)
        return problem, (None if problem else load(project.pipeline, project.home))
    return make


@pytest.mark.parametrize("level", ["ERROR", "CRITICAL", "warning", "info", "WARN"])
def test_logging_level_is_exactly_debug_info_or_warning(step, level):
    quote("sdk-validation-transcript.txt", "Value 'ERROR' passed is not in set ['DEBUG', 'INFO', 'WARNING']")
    quote("sdk-validation-transcript.txt", f"[logging_level={level}] REJECTED")
    problem, _ = step(job={"logging_level": level})
    assert problem is not None and "exactly DEBUG, INFO or WARNING" in problem


def test_task_environment_variables_are_dropped_with_a_warning(step):
    """The SDK's task schema has no environment_variables and drops them silently (transcript: 'env': {})."""
    quote("sdk-validation-transcript.txt", "[task.environment_variables] LOADED; validate_passed=True; {'mbs': 10240, "
          "'lvl': 'DEBUG', 'mbet': 5, 'et': None, 'retry': (60, 2), 'env': {}")
    problem, pipeline = step(job={"environment_variables": {"A": "1"}}, task={"environment_variables": {"B": "2"}})
    assert problem is None
    assert pipeline.jobs["score"].environment_variables == {"A": "1"}
    assert any("task.environment_variables is ignored" in w for w in pipeline.warnings)


def test_a_float_timeout_is_truncated_as_the_sdk_truncates_it(step):
    """Transcript: retry.timeout=60.5 loads with 'retry': (60, 2)."""
    quote("sdk-validation-transcript.txt", "[retry.timeout=60.5] LOADED; validate_passed=True; {'mbs': 10240, "
          "'lvl': 'DEBUG', 'mbet': 5, 'et': None, 'retry': (60, 2)")
    problem, pipeline = step(job={"retry_settings": {"max_retries": 2, "timeout": 60.5}})
    assert problem is None and pipeline.jobs["score"].retry_settings.timeout == 60
    assert any("truncated to 60" in w for w in pipeline.warnings)
    problem, _ = step(job={"retry_settings": {"max_retries": 2, "timeout": "abc"}})
    assert problem is not None and "integer" in problem


@pytest.mark.parametrize("name", ["Batch", "batch-pred", "1batch"])
def test_node_names_follow_the_sdk(project: Project, name):
    quote("sdk-validation-transcript.txt", f"[node name '{name}'] REJECTED")
    project.tenants(1)
    project.parallel_pipeline(OK, name=name)
    assert "not a valid Azure ML node name" in (rejection(project.pipeline, project.home) or "")


@pytest.mark.parametrize("mode", ["rw_mount", "eval_mount"])
def test_parallel_input_modes(step, mode):
    quote("sdk-validation-transcript.txt", f"[input mode {mode}] REJECTED")
    problem, _ = step(job={"inputs": {"data": {"type": "uri_folder", "path": "./data", "mode": mode}}})
    assert problem is not None and "mode" in problem


@pytest.mark.parametrize("mode", ["eval_mount", "eval_download"])
def test_eval_modes_are_allowed_for_an_mltable_input(project: Project, step, mode):
    """azure-ai-ml's MLTableInputSchema (_schema/job/input_output_entry.py) adds eval_mount and eval_download
    to the modes of DataInputSchema; azureml-examples' cli/jobs/pipelines/mnist-batch-identification-using-parallel
    feeds its parallel step an mltable input with mode: eval_mount."""
    from conftest import CSV_MLTABLE
    project.write("data/MLTable", CSV_MLTABLE)
    problem, _ = step(job={"inputs": {"data": {"type": "mltable", "path": "./data", "mode": mode}}})
    assert problem is None


def test_step_environment_variables_must_be_strings(step):
    quote("sdk-validation-transcript.txt", "[job-level environment_variables int value] REJECTED")
    problem, _ = step(job={"environment_variables": {"A": 1}})
    assert problem is not None and "wants a string" in problem
