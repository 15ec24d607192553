"""Command-line conventions users expect of any tool: ``python -m``, a closed pipe, runs found from
a sub-folder, shell completion, ISO times in JSON, and "did you mean" for names nothing defines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Project
from test_inspect import T0, cli, failed_run, home, write_run  # noqa: F401  (fixtures)

from tenantml.cli import main


def _env_without_home() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "TENANTML_HOME"}


def test_python_dash_m_tenantml_is_the_command_line():
    done = subprocess.run([sys.executable, "-m", "tenantml", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("tenantml ")


def test_a_closed_pipe_ends_quietly_without_a_traceback(tmp_path: Path):
    tm_home = tmp_path / "tm"
    write_run(tm_home, "r1")
    ledger = tm_home / "runs" / "r1" / "score" / "logs" / "sys" / "job_report" / "processed_mini-batches.csv"
    ledger.parent.mkdir(parents=True)
    ledger.write_text("mini_batch,attempt,label,outcome,final\n"
                      + "".join(f"{i},1,t_{i}.csv,succeeded,True\n" for i in range(20000)), encoding="utf-8")
    env = {**os.environ, "TENANTML_HOME": str(tm_home)}
    done = subprocess.run(f"'{sys.executable}' -m tenantml show --format csv | head -n 2", shell=True, env=env,
                          capture_output=True, text=True)
    assert done.stdout.count("\n") == 2
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def test_runs_are_found_from_a_sub_folder_as_git_finds_dot_git(tmp_path: Path):
    project = tmp_path / "proj"
    write_run(project / ".tenantml", "r_parent")
    sub = project / "a" / "b"
    sub.mkdir(parents=True)
    done = subprocess.run([sys.executable, "-m", "tenantml", "runs"], cwd=sub, env=_env_without_home(),
                          capture_output=True, text=True)
    assert "r_parent" in done.stdout, done.stdout + done.stderr
    other = tmp_path / "elsewhere"
    write_run(other, "r_env")
    done = subprocess.run([sys.executable, "-m", "tenantml", "runs"], cwd=sub,
                          env={**_env_without_home(), "TENANTML_HOME": str(other)}, capture_output=True, text=True)
    assert "r_env" in done.stdout and "r_parent" not in done.stdout  # TENANTML_HOME still wins


def test_json_times_are_iso_8601(failed_run: Path, capsys):  # noqa: F811
    from datetime import datetime

    code, out, _ = cli(capsys, "show", "--format", "json")
    view = json.loads(out)
    assert datetime.fromisoformat(view["started"]).timestamp() == pytest.approx(T0)
    assert datetime.fromisoformat(view["steps"][0]["ended"]).timestamp() == pytest.approx(T0 + 5)
    code, out, _ = cli(capsys, "runs", "--format", "json")
    assert datetime.fromisoformat(json.loads(out)[0]["started"]).timestamp() == pytest.approx(T0)


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_script_completes_commands_and_options(shell: str, capsys):
    code = main(["completion", shell])
    script = capsys.readouterr().out
    assert code == 0 and "complete -o default -F _tenantml tenantml" in script
    if shell == "bash":
        probe = (script + '\nCOMP_WORDS=(tenantml sh); COMP_CWORD=1; _tenantml; echo "${COMPREPLY[@]}"'
                 '\nCOMP_WORDS=(tenantml show --fa); COMP_CWORD=2; _tenantml; echo "${COMPREPLY[@]}"'
                 '\nCOMP_WORDS=(tenantml run p.yml --max-w); COMP_CWORD=3; _tenantml; echo "${COMPREPLY[@]}"')
        out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True).stdout.split("\n")
        assert out[:3] == ["show", "--failed", "--max-workers"]


def _two_step(project: Project) -> None:
    project.tenants(2)
    project.parallel_pipeline("def run(mini_batch):\n    return mini_batch\n")
    project.write("tenantml.yml", "datastores:\n  datalake: ./lake\n")


def test_a_datastore_nothing_maps_is_an_error_with_the_nearest_name(project: Project):
    _two_step(project)
    done = project.cli("validate", "pipeline.yml",
                       "--set", "jobs.score.outputs.out.path=azureml://datastores/data_lake/paths/out")
    assert done.returncode == 2
    assert "datastore 'data_lake', which nothing maps" in done.stderr and "correct it to 'datalake'" in done.stderr
    assert "Traceback" not in done.stderr
    ok = project.cli("validate", "pipeline.yml",
                     "--set", "jobs.score.outputs.out.path=azureml://datastores/datalake/paths/out")
    assert ok.returncode == 0, ok.stderr
    builtin = project.cli("validate", "pipeline.yml",
                          "--set", "jobs.score.outputs.out.path=azureml://datastores/workspaceblobstore/paths/o")
    assert builtin.returncode == 0, builtin.stderr


def test_set_on_a_job_the_pipeline_does_not_have_says_did_you_mean(project: Project):
    _two_step(project)
    done = project.cli("validate", "pipeline.yml", "--set", "jobs.scor.mini_batch_size=2")
    assert done.returncode == 2 and "no job 'scor'" in done.stderr and "did you mean 'score'?" in done.stderr


def test_validate_checks_mini_batch_size_of_an_input_not_produced_yet(tmp_path: Path):
    # examples/tenants: 'training' reads data_engineering's output, which exists only once it ran
    example = Path(__file__).parent.parent / "examples" / "tenants" / "pipeline.yml"
    env = {**os.environ, "TENANTML_HOME": str(tmp_path / "tm")}
    done = subprocess.run([sys.executable, "-m", "tenantml", "validate", str(example),
                           "--set", "jobs.training.mini_batch_size=abc"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 2 and "jobs.training.mini_batch_size" in done.stderr and "'abc'" in done.stderr


def test_show_and_runs_do_not_import_rich_or_pandas(failed_run: Path):  # noqa: F811
    code = ("import sys; from tenantml.cli import main; main(['show']); main(['runs']); main(['show', '--failed']); "
            "print(sorted(m for m in ('rich', 'pandas', 'mltable') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=failed_run.parent.parent.parent).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_a_datastore_mapped_to_an_empty_path_is_refused_not_read_as_this_folder(project: Project):
    _two_step(project)
    project.write("tenantml.yml", "datastores:\n  datalake: ''\n")
    done = project.cli("validate", "pipeline.yml")
    assert done.returncode == 2 and "tenantml.yml" in done.stderr and "datastores.datalake" in done.stderr
    assert "Traceback" not in done.stderr
