"""Bad input: a short error naming file, key and fix; exit 2; no traceback of tenantml's."""

from __future__ import annotations

import pytest

from conftest import CSV_MLTABLE, Project

OK = "def run(mini_batch):\n    return mini_batch\n"


def assert_user_error(result, *needles: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback (most recent call last)" not in result.stderr.replace(_user_tb(result.stderr), "")
    for needle in needles:
        assert needle in result.stderr, f"{needle!r} not in:\n{result.stderr}"


def _user_tb(stderr: str) -> str:
    """The user's own traceback (shown on purpose for import errors) is allowed."""
    start = stderr.find("Traceback (most recent call last)")
    return stderr[start:] if start >= 0 and "entry.py" in stderr[start:] else ""


@pytest.mark.parametrize("command", ["run", "validate"])
def test_missing_entry_script(project: Project, command: str):
    project.tenants(1)
    project.parallel_pipeline(OK, task={"entry_script": "entyr.py"})
    result = project.cli(command, "pipeline.yml")
    assert_user_error(result, "pipeline.yml:", "jobs.score.task.entry_script", "does not exist",
                      "did you mean 'entry.py'?")
    assert not (project.home / "runs").exists() or not any((project.home / "runs").iterdir())


def test_no_run_function(project: Project):
    project.tenants(1)
    project.parallel_pipeline("def init():\n    pass\n\ndef runn(mini_batch):\n    return []\n")
    assert_user_error(project.cli("run", "pipeline.yml"), "defines no run() function", "entry.py")


def test_syntax_error_shows_the_scripts_own_error(project: Project):
    project.tenants(1)
    project.parallel_pipeline("def run(mini_batch)\n    return mini_batch\n")
    result = project.cli("run", "pipeline.yml")
    assert_user_error(result, "syntax error (line 1)", "entry.py", "SyntaxError")


def test_import_error_shows_the_scripts_traceback_and_exits_2(project: Project):
    project.tenants(2)
    project.parallel_pipeline("import helper_that_is_missing\n\ndef run(mini_batch):\n    return mini_batch\n")
    result = project.cli("run", "pipeline.yml")
    assert_user_error(result, "failed to import", "ModuleNotFoundError: No module named 'helper_that_is_missing'",
                      'entry.py", line 1')
    assert "tenantml/backends" not in result.stderr


@pytest.mark.parametrize("size", ["10xb", "0", "abc"])
def test_bad_mini_batch_size(project: Project, size: str):
    project.tenants(1)
    project.parallel_pipeline(OK, job={"mini_batch_size": size})
    assert_user_error(project.cli("validate", "pipeline.yml"), "jobs.score.mini_batch_size")


@pytest.mark.slow  # mltable or 100k files
def test_partition_key_that_is_not_a_column(project: Project):
    project.write("table/a.csv", "store,brand,y\n1,x,2\n")
    project.write("table/MLTable", CSV_MLTABLE)
    project.parallel_pipeline(OK, data="table", data_type="mltable",
                              job={"partition_keys": ["stroe"], "mini_batch_size": None})
    assert_user_error(project.cli("run", "pipeline.yml"), "stroe", "store")


def test_input_path_that_does_not_exist(project: Project):
    project.parallel_pipeline(OK, data="nowhere")
    assert_user_error(project.cli("run", "pipeline.yml"), "jobs.score.inputs.data.path", "does not exist")


def test_unknown_keys_are_named_with_the_nearest_valid_one(project: Project):
    project.tenants(1)
    project.parallel_pipeline(OK, job={"mini_batch_sise": "1", "retry_settings": {"max_retrys": 1}},
                              task={"entry_scrpt": "entry.py"})
    result = project.cli("validate", "pipeline.yml")
    assert_user_error(result, "jobs.score.mini_batch_sise", "did you mean 'mini_batch_size'?",
                      "jobs.score.retry_settings.max_retrys", "did you mean 'max_retries'?",
                      "jobs.score.task.entry_scrpt", "did you mean 'entry_script'?")


def test_input_data_naming_an_input_that_does_not_exist(project: Project):
    project.tenants(1)
    project.parallel_pipeline(OK, job={"input_data": "${{inputs.dta}}"})
    assert_user_error(project.cli("validate", "pipeline.yml"), "jobs.score.input_data", "did you mean 'data'?")


def test_unresolvable_binding_in_program_arguments(project: Project):
    project.tenants(1)
    project.parallel_pipeline(OK, task={"program_arguments": "--model ${{inputs.modle}}"})
    assert_user_error(project.cli("validate", "pipeline.yml"), "jobs.score.task.program_arguments", "modle")


def test_thresholds_out_of_range(project: Project):
    project.tenants(1)
    project.parallel_pipeline(OK, job={"mini_batch_error_threshold": -5,
                                       "retry_settings": {"max_retries": -1, "timeout": 0}})
    assert_user_error(project.cli("validate", "pipeline.yml"), "mini_batch_error_threshold", "max_retries",
                      "timeout")


def test_yaml_syntax_error_names_the_line(project: Project):
    project.write("pipeline.yml", "type: pipeline\njobs:\n  a: [1, 2\n  b: 3\n")
    assert_user_error(project.cli("validate", "pipeline.yml"), "pipeline.yml:4", "invalid YAML")


def test_yaml_tags_that_construct_objects_are_refused(project: Project):
    project.write("pipeline.yml", "type: pipeline\njobs: !!python/object/apply:os.system ['touch pwned']\n")
    assert_user_error(project.cli("validate", "pipeline.yml"), "not allowed")
    assert not (project.root / "pwned").exists()


def test_alias_bomb_is_refused(project: Project):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    project.write("pipeline.yml", "\n".join(lines) + "\n")
    assert_user_error(project.cli("validate", "pipeline.yml"), "alias bomb")


def test_a_valid_pipeline_validates_clean(project: Project):
    project.tenants(1)
    project.parallel_pipeline(OK)
    result = project.cli("validate", "pipeline.yml")
    assert result.returncode == 0 and "valid" in result.stdout


def test_unknown_command_and_backend_suggest_the_nearest(project: Project):
    result = project.cli("rnu", "pipeline.yml")
    assert result.returncode == 2 and "did you mean 'run'?" in result.stderr
    project.tenants(1)
    project.parallel_pipeline(OK)
    result = project.cli("run", "pipeline.yml", "--backend", "locl")
    assert_user_error(result, "did you mean 'local'?")


def test_an_unquoted_mini_batch_size_is_refused_as_azure_ml_refuses_it(project: Project):
    """azure-ai-ml 1.35.2: "Not a valid string." (conformance/fixtures/sdk-validation-transcript.txt). az ml --set
    passes text, so --set jobs.score.mini_batch_size=2 is the string "2" and valid
    (test_aml_logs::test_overrides_work_on_plain_dicts_and_lists)."""
    project.tenants(1)
    project.parallel_pipeline(OK, job={"mini_batch_size": 2})
    result = project.cli("validate", "pipeline.yml")
    assert_user_error(result, "pipeline.yml:", "jobs.score.mini_batch_size", "Not a valid string",
                      'quote it: mini_batch_size: "2"')


def test_a_parallel_task_without_environment_is_refused_as_azure_ml_refuses_it(project: Project):
    """azure-ai-ml 1.35.2: "Missing data for required field." at task.environment (sdk-validation-transcript.txt)."""
    project.tenants(1)
    project.parallel_pipeline(OK, task={"environment": None})
    assert_user_error(project.cli("validate", "pipeline.yml"), "pipeline.yml:", "jobs.score.task.environment",
                      "Missing data for required field", "add it under task:")
