"""Bad input: a short error naming file, key and fix; exit 2; no traceback of tenantml's."""

from __future__ import annotations

from pathlib import Path

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


# ------------------------------------------------------------------ hostile input (in process: cheap)
def _cli_in_process(project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                    *args: str) -> tuple[int, str]:
    """``tenantml ARGS`` in this process: the exit code and stderr; any exception escaping is a bug."""
    from tenantml.cli import main

    monkeypatch.setenv("TENANTML_HOME", str(project.home))
    monkeypatch.chdir(project.root)
    code = main(list(args))
    return code, capsys.readouterr().err


COMPONENT = """\
type: parallel
inputs:
  data: {type: uri_folder}
outputs:
  out: {type: uri_folder}
input_data: ${{inputs.data}}
mini_batch_size: "1"
task:
  type: run_function
  code: ./src
  entry_script: entry.py
  environment: {image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04}
  append_row_to: ${{outputs.out}}
"""


def _component_pipeline(project: Project, *, pipeline_extra: str = "", node_extra: str = "",
                        component: str = COMPONENT) -> None:
    project.tenants(1)
    project.write("src/entry.py", OK)
    project.write("component.yml", component)
    project.write("pipeline.yml", "type: pipeline\n" + pipeline_extra + "jobs:\n  score:\n    component: ./component.yml\n"
                  "    inputs:\n      data: {type: uri_folder, path: ./data}\n" + node_extra)


@pytest.mark.parametrize(("pipeline_extra", "node_extra", "component", "needles"), [
    ("settings: 5\n", "", COMPONENT, ("pipeline.yml:2", "settings", "must be a mapping")),
    ("", "", COMPONENT.replace("type: parallel", "type: [parallel]"), ("jobs.score.type", "cannot run locally")),
    ("", "    outputs: 5\n", COMPONENT, ("pipeline.yml:7", "jobs.score.outputs", "must be a mapping")),
    ("", "", COMPONENT.replace("inputs:\n  data: {type: uri_folder}", "inputs: [1, 2]"),
     ("component.yml:2", "inputs is list", "must be a mapping")),
    ("", "", COMPONENT.replace("outputs:\n  out: {type: uri_folder}", "outputs: text"),
     ("component.yml:4", "outputs is str", "must be a mapping")),
    ("", "    retry_settings: 5\n", COMPONENT, ("jobs.score.retry_settings", "Invalid input type")),
    ("", "    resources: [1]\n", COMPONENT, ("jobs.score.resources", "Invalid input type")),
])
def test_a_section_of_the_wrong_type_is_refused_by_name(project: Project, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str], pipeline_extra: str,
                                                        node_extra: str, component: str, needles: tuple[str, ...]):
    """A list, number or text where a mapping goes: azure-ai-ml refuses it (fields.Dict / NestedField:
    'Invalid input type.'); tenantml said AttributeError/TypeError with a traceback, or nothing at all."""
    _component_pipeline(project, pipeline_extra=pipeline_extra, node_extra=node_extra, component=component)
    code, err = _cli_in_process(project, monkeypatch, capsys, "validate", "pipeline.yml")
    assert code == 2, err
    for needle in needles:
        assert needle in err, f"{needle!r} not in:\n{err}"


def test_datastores_that_are_not_a_mapping_name_tenantml_yml(project: Project, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]):
    project.tenants(1)
    project.parallel_pipeline(OK)
    project.write("tenantml.yml", "datastores: [./lake]\n")
    code, err = _cli_in_process(project, monkeypatch, capsys, "validate", "pipeline.yml")
    assert code == 2 and "tenantml.yml:1: datastores:" in err and "folder path" in err, err


@pytest.mark.parametrize("binding", ["${{parent.outputs.final}}",
                                     "{type: uri_folder, path: 'azureml://datastores/lake/paths/same'}"])
def test_two_steps_writing_one_output_folder_are_refused_before_any_runs(
        project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], binding: str):
    """Both bound to one pipeline output (or one datastore path), the second step's commit crashed
    with a FileNotFoundError traceback after the first had written the folder."""
    node = ("    component: ./component.yml\n    inputs:\n      data: {type: uri_folder, path: ./data}\n"
            f"    outputs:\n      out: {binding}\n")
    project.tenants(1)
    project.write("src/entry.py", OK)
    project.write("component.yml", COMPONENT)
    project.write("pipeline.yml", "type: pipeline\noutputs:\n  final: {type: uri_folder}\njobs:\n"
                  f"  a:\n{node}  b:\n{node}")
    code, err = _cli_in_process(project, monkeypatch, capsys, "run", "pipeline.yml")
    assert code == 2, err
    assert "pipeline.yml:16: jobs.b.outputs.out" in err and "which output a.outputs.out also writes" in err, err
    assert not (project.home / "runs").exists() or not any((project.home / "runs").iterdir())


def test_an_mltable_file_that_is_not_yaml_is_named_not_mini_batch_size(
        project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    project.write("table/a.csv", "x,y\n1,2\n")
    project.write("table/MLTable", "paths: [\n")
    project.parallel_pipeline(OK, data="table", data_type="mltable")
    code, err = _cli_in_process(project, monkeypatch, capsys, "validate", "pipeline.yml")
    assert code == 2 and "table/MLTable: not valid YAML" in err and "mini_batch_size" not in err, err


@pytest.mark.parametrize("args", [("runs", "--limit", "-1"), ("logs", "r1", "score", "--tail", "-3")])
def test_negative_counts_are_refused(project: Project, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str], args: tuple[str, ...]):
    code, err = _cli_in_process(project, monkeypatch, capsys, *args)
    assert code == 2 and f"{args[-2]} is {args[-1]}; it must be 0" in err, err


def test_report_onto_a_folder_is_refused_and_leaves_nothing_beside_it(
        project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """``-o FOLDER`` wrote FOLDER.tmp beside it (a user's file of that name was overwritten) and left it there."""
    project.tenants(1)
    project.parallel_pipeline(OK)
    assert project.run(run_id="r1").status == "Completed"
    (project.root / "reports").mkdir()
    code, err = _cli_in_process(project, monkeypatch, capsys, "report", "r1", "-o", "reports")
    assert code == 2 and "reports: -o/--output: is a folder" in err, err
    assert sorted(p.name for p in project.root.iterdir()) == ["data", "home", "pipeline.yml", "reports", "src"]
    assert not any((project.root / "reports").iterdir())


def test_sys_exit_while_the_entry_script_is_imported_is_not_called_a_run_call(
        project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    project.tenants(1)
    project.parallel_pipeline("import sys\nsys.exit(1)\n\ndef run(mini_batch):\n    return mini_batch\n")
    code, err = _cli_in_process(project, monkeypatch, capsys, "run", "pipeline.yml")
    assert code == 2 and "failed to import" in err and "the entry script's import called sys.exit(1)" in err, err
    assert "run() called" not in err


def test_report_to_dash_is_stdout_not_a_file_named_dash(project: Project, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]):
    project.tenants(1)
    project.parallel_pipeline(OK)
    assert project.run(run_id="r1").status == "Completed"
    from tenantml.cli import main

    monkeypatch.setenv("TENANTML_HOME", str(project.home))
    monkeypatch.chdir(project.root)
    assert main(["report", "r1", "-o", "-"]) == 0
    assert capsys.readouterr().out.startswith("<!DOCTYPE html>")
    assert not (project.root / "-").exists()


@pytest.mark.parametrize("command", [("runs",), ("show",), ("logs", "r1", "score")])
def test_a_home_that_is_a_file_is_named_by_every_command(project: Project, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str], command: tuple[str, ...]):
    """``runs`` said "No runs in FILE/runs" and exited 0; only ``run`` named the file."""
    (project.root / "home").write_text("x")
    code, err = _cli_in_process(project, monkeypatch, capsys, *command)
    assert code == 2 and "TENANTML_HOME names a file" in err, err
    assert (project.root / "home").read_text() == "x"


@pytest.mark.parametrize(("command", "env", "needles"), [
    ('"echo \\0 hi"', "{}", ("jobs.a.command", "NUL character")),
    ("echo " + "x" * 200_000, "{}", ("jobs.a.command", "200,005 bytes", "MAX_ARG_STRLEN")),
    ("echo $X", '{X: "a\\0b"}', ("jobs.a.environment_variables.X", "cannot be set")),
    ("echo $X", '{"A=B": "1"}', ("jobs.a.environment_variables.A=B", "cannot be set")),
])
def test_a_command_no_process_can_take_is_refused_before_it_runs(
        project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str, env: str,
        needles: tuple[str, ...]):
    """Each was a ValueError ('embedded null byte') or OSError ('Argument list too long') traceback from Popen."""
    project.write("pipeline.yml", f"type: pipeline\njobs:\n  a:\n    type: command\n    command: {command}\n"
                  f"    environment_variables: {env}\n    environment: {{image: x}}\n")
    code, err = _cli_in_process(project, monkeypatch, capsys, "run", "pipeline.yml")
    assert code == 2, err
    for needle in needles:
        assert needle in err, f"{needle!r} not in:\n{err}"


@pytest.mark.parametrize("where", ["../elsewhere/entry.py", "ABSOLUTE"])
def test_an_entry_script_outside_the_code_folder_is_refused(project: Project, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str], where: str):
    """It ran locally; Azure ML uploads only task.code, so there the script is not on the node."""
    project.tenants(1)
    script = project.write("elsewhere/entry.py", OK)
    project.parallel_pipeline(OK, task={"entry_script": str(script) if where == "ABSOLUTE" else where})
    code, err = _cli_in_process(project, monkeypatch, capsys, "validate", "pipeline.yml")
    assert code == 2 and "jobs.score.task.entry_script" in err and "outside the code folder" in err, err


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_pipeline_path_that_never_ends_is_refused_not_read_forever(
        project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """The size check read stat(), 0 for a device: validate /dev/zero read until memory ran out."""
    code, err = _cli_in_process(project, monkeypatch, capsys, "validate", "/dev/zero")
    assert code == 2 and "/dev/zero: pipeline YAML is more than" in err, err


def test_a_wrong_expression_written_twice_is_said_once(project: Project, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]):
    project.write("pipeline.yml", "type: pipeline\njobs:\n  a:\n    type: command\n"
                  "    command: cp x ${{outputs.out}} && ls ${{outputs.out}}\n    environment: {image: x}\n")
    code, err = _cli_in_process(project, monkeypatch, capsys, "validate", "pipeline.yml")
    assert code == 2 and err.count("names output 'out'") == 1, err


def test_a_code_folder_that_is_a_file_says_so(project: Project, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]):
    project.tenants(1)
    project.parallel_pipeline(OK, task={"code": "./pipeline.yml"})
    code, err = _cli_in_process(project, monkeypatch, capsys, "validate", "pipeline.yml")
    assert code == 2 and "jobs.score.task.code: the code folder" in err and "pipeline.yml is a file" in err, err


def test_a_key_written_twice_is_warned_about_and_the_last_wins_as_on_azure_ml(
        project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """azure-ai-ml's load_yaml is yaml.safe_load: the second 'score' silently replaces the first there."""
    project.tenants(1)
    project.parallel_pipeline(OK)
    text = project.pipeline.read_text(encoding="utf-8")
    jobs = text.split("jobs:\n", 1)[1]
    project.pipeline.write_text(text + jobs.replace("mini_batch_size: '1'", "mini_batch_size: '2'"), encoding="utf-8")
    from tenantml.cli import main

    monkeypatch.setenv("TENANTML_HOME", str(project.home))
    monkeypatch.chdir(project.root)
    assert main(["validate", "pipeline.yml"]) == 0
    said = capsys.readouterr()
    assert "key 'score' is written twice in one mapping (lines 4 and" in said.out, said


@pytest.mark.parametrize(("setting", "needle"), [("force_rerun: maybe", "Not a valid boolean"),
                                                 ("continue_on_step_failure: 2", "Not a valid boolean"),
                                                 ("default_datastore: [1]", "Not a valid string")])
def test_settings_of_the_wrong_type_are_refused_as_azure_ml_refuses_them(
        project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], setting: str,
        needle: str):
    """azure-ai-ml 1.35.2 load_job: 'Not a valid boolean.' / ArmStr; tenantml read 'maybe' as false and
    [1] as the datastore named '[1]'."""
    _component_pipeline(project, pipeline_extra=f"settings:\n  {setting}\n")
    code, err = _cli_in_process(project, monkeypatch, capsys, "validate", "pipeline.yml")
    assert code == 2 and f"settings.{setting.split(':')[0]}" in err and needle in err, err


def test_a_component_that_is_a_plain_folder_is_not_called_a_prompt_flow(
        project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    _component_pipeline(project)
    (project.root / "components").mkdir()
    project.pipeline.write_text(project.pipeline.read_text().replace("./component.yml", "./components"))
    code, err = _cli_in_process(project, monkeypatch, capsys, "validate", "pipeline.yml")
    assert code == 2 and "component ./components is a folder, not a component YAML file" in err, err
    assert "prompt flow" not in err
