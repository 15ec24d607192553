"""Whole pipelines locally: command + parallel steps, bindings, datastores, reuse, resume."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from conftest import Project

PIPELINE = """
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
display_name: per-tenant-training
experiment_name: tenants
settings:
  default_compute: azureml:cpu-cluster
inputs:
  raw_data:
    type: uri_file
    path: azureml://datastores/datalake/paths/raw/raw_data.csv
jobs:
  data_engineering:
    type: command
    code: ./data-engineering
    environment: azureml:de-env@latest
    command: python data_engineering.py --raw ${{inputs.raw}} --out ${{outputs.training_data}}
    inputs:
      raw: ${{parent.inputs.raw_data}}
    outputs:
      training_data:
        type: mltable
        mode: rw_mount
        path: azureml://datastores/datalake/paths/training_data
  training:
    type: parallel
    compute: azureml:cpu-cluster
    inputs:
      tenants: ${{parent.jobs.data_engineering.outputs.training_data}}
    outputs:
      predictions:
        type: uri_folder
        path: azureml://datastores/datalake/paths/predictions
      ledger:
        type: uri_file
    input_data: ${{inputs.tenants}}
    mini_batch_size: "1"
    resources:
      instance_count: 2
    max_concurrency_per_instance: 2
    mini_batch_error_threshold: 5
    retry_settings:
      max_retries: 1
      timeout: 60
    environment_variables:
      ENV_VAR_1: from-pipeline
    task:
      type: run_function
      code: ./training
      entry_script: training.py
      environment: azureml:train-env@latest
      program_arguments: >-
        --param_1 7
        --predictions_data_folder ${{outputs.predictions}}
      append_row_to: ${{outputs.ledger}}
  predictions_mltable:
    type: command
    inputs:
      predictions: ${{parent.jobs.training.outputs.predictions}}
    command: >-
      cp ${{inputs.predictions}}/*.csv ${{outputs.table}}/ &&
      echo "paths:" > ${{outputs.table}}/MLTable &&
      echo "  - pattern: ./*.csv" >> ${{outputs.table}}/MLTable &&
      echo "transformations:" >> ${{outputs.table}}/MLTable &&
      echo "  - read_delimited:" >> ${{outputs.table}}/MLTable &&
      echo "      delimiter: ','" >> ${{outputs.table}}/MLTable &&
      echo "      header: all_files_same_headers" >> ${{outputs.table}}/MLTable
    outputs:
      table:
        type: uri_folder
  evaluation:
    type: command
    code: ./evaluation
    inputs:
      predictions: ${{parent.jobs.predictions_mltable.outputs.table}}
    outputs:
      summary:
        type: uri_folder
    command: python evaluation.py --predictions ${{inputs.predictions}} --summary ${{outputs.summary}}
"""

DATA_ENGINEERING = """
import argparse, os
import pandas as pd
parser = argparse.ArgumentParser()
parser.add_argument("--raw")
parser.add_argument("--out")
args = parser.parse_args()
raw = pd.read_csv(args.raw)
os.makedirs(args.out, exist_ok=True)
for tenant, rows in raw.groupby("tenant"):
    rows.to_csv(os.path.join(args.out, f"{tenant}.csv"), index=False)
with open(os.path.join(args.out, "MLTable"), "w") as f:
    f.write("paths:\\n")
    for tenant in sorted(raw["tenant"].unique()):
        f.write(f"  - file: ./{tenant}.csv\\n")
print("tenants:", raw["tenant"].nunique())
"""

TRAINING = """
import argparse, os
import pandas as pd
from azureml_user.parallel_run import EntryScript

def init():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--param_1", type=int)
    parser.add_argument("--predictions_data_folder")
    ARGS, _ = parser.parse_known_args()
    EntryScript().logger.info("param_1=%s env=%s", ARGS.param_1, os.environ["ENV_VAR_1"])

def run(mini_batch):
    results = []
    for path in mini_batch:
        frame = pd.read_csv(path)
        tenant = frame["tenant"].iloc[0]
        slope = (frame["y"].iloc[-1] - frame["y"].iloc[0]) / max(1, frame["x"].iloc[-1] - frame["x"].iloc[0])
        out = pd.DataFrame({"tenant": tenant, "x": frame["x"], "prediction": frame["x"] * slope})
        out.to_csv(os.path.join(ARGS.predictions_data_folder, f"{tenant}.csv"), index=False)
        results.append(f"{tenant},{len(frame)},{ARGS.param_1},{os.environ['ENV_VAR_1']}")
    return results
"""

EVALUATION = """
import argparse, os
import mltable
parser = argparse.ArgumentParser()
parser.add_argument("--predictions")
parser.add_argument("--summary")
args = parser.parse_args()
frame = mltable.load(args.predictions).to_pandas_dataframe()
summary = frame.groupby("tenant")["prediction"].mean()
print(summary.to_string())
summary.to_csv(os.path.join(args.summary, "summary.csv"))
"""


def acceptance_project(project: Project, tenants: int = 6) -> None:
    rows = ["tenant,x,y"] + [f"tenant_{t},{x},{t * x + 1}" for t in range(1, tenants + 1) for x in range(5)]
    project.write("datalake/raw/raw_data.csv", "\n".join(rows) + "\n")
    project.write("tenantml.yml", "datastores:\n  datalake: ./datalake\n")
    project.write("pipeline.yml", PIPELINE)
    project.write("data-engineering/data_engineering.py", DATA_ENGINEERING)
    project.write("training/training.py", TRAINING)
    project.write("evaluation/evaluation.py", EVALUATION)


def statuses(project: Project, run_id: str) -> dict[str, str]:
    record = json.loads((project.home / "runs" / run_id / "run.json").read_text())
    return {name: step["status"] for name, step in record["steps"].items()}


@pytest.mark.slow
def test_the_per_tenant_pipeline_runs_end_to_end_reuses_and_resumes(project: Project):
    acceptance_project(project)
    first = project.run()
    assert first.status == "Completed", statuses(project, first.run_id)
    datalake = project.root / "datalake"
    assert sorted(p.name for p in (datalake / "training_data").glob("*.csv")) == [f"tenant_{t}.csv" for t in range(1, 7)]
    assert sorted(p.name for p in (datalake / "predictions").glob("*.csv")) == [f"tenant_{t}.csv" for t in range(1, 7)]
    ledger_lines = first.outputs["training"]["ledger"].read_text().splitlines()
    assert ledger_lines == [f"tenant_{t},5,7,from-pipeline" for t in sorted(range(1, 7), key=lambda t: f"tenant_{t}")]
    summary = (first.outputs["evaluation"]["summary"] / "summary.csv").read_text()
    assert "tenant_6" in summary
    std_log = (first.run_dir / "evaluation" / "logs" / "user_logs" / "std_log.txt").read_text()
    assert "tenant_1" in std_log  # the evaluation printed its summary

    second = project.run()
    assert second.status == "Completed"
    assert set(statuses(project, second.run_id).values()) == {"Reused"}
    assert (second.outputs["evaluation"]["summary"] / "summary.csv").read_text() == summary

    # break the evaluation, run, fix it, resume: only the evaluation runs again
    evaluation = project.root / "evaluation" / "evaluation.py"
    evaluation.write_text(EVALUATION.replace("frame.groupby", "frame.gropuby"))
    broken = project.run()
    assert broken.status == "Failed"
    assert statuses(project, broken.run_id)["evaluation"] == "Failed"
    assert statuses(project, broken.run_id)["training"] == "Reused"
    # the fix differs from the first version (restoring it byte for byte would rightly be reused)
    evaluation.write_text(EVALUATION + "print('evaluated', len(summary), 'tenants')\n")
    marker = first.run_dir / "training" / "logs" / "sys" / "job_report" / "processed_mini-batches.csv"
    before = marker.read_text()
    resumed = project.run(resume=broken.run_id)
    assert resumed.status == "Completed" and resumed.run_id == broken.run_id
    record = json.loads((project.home / "runs" / broken.run_id / "run.json").read_text())
    assert record["steps"]["evaluation"]["status"] == "Completed"
    assert {n: s["status"] for n, s in record["steps"].items() if n != "evaluation"} == {
        "data_engineering": "Reused", "training": "Reused", "predictions_mltable": "Reused"}
    assert marker.read_text() == before
    assert "evaluated 6 tenants" in (resumed.run_dir / "evaluation" / "logs" / "user_logs" / "std_log.txt").read_text()


def test_resume_of_a_parallel_step_runs_only_what_did_not_succeed(project: Project):
    project.tenants(6)
    flag = project.root / "broken"
    flag.write_text("tenant_2.csv tenant_5.csv")
    project.parallel_pipeline(f"""
import os
def run(mini_batch):
    name = os.path.basename(mini_batch[0])
    with open(os.path.join("{project.root}", "calls.txt"), "a") as f:
        f.write(name + "\\n")
    if os.path.exists("{flag}") and name in open("{flag}").read():
        raise RuntimeError("broken tenant " + name)
    return [name + " ok"]
""", job={"retry_settings": {"max_retries": 0, "timeout": 30}, "mini_batch_error_threshold": 0})
    failed = project.run()
    assert failed.status == "Failed"
    done_before = set(failed.ledger.query("outcome == 'succeeded'")["label"])
    flag.unlink()
    (project.root / "calls.txt").write_text("")
    resumed = project.run(resume=failed.run_id)
    assert resumed.status == "Completed"
    calls = (project.root / "calls.txt").read_text().split()
    assert set(calls) == {f"tenant_{i}.csv" for i in range(1, 7)} - done_before
    assert "tenant_2.csv" in calls
    rows = (resumed.outputs["score"]["out"] / "parallel_run_step.txt").read_text().splitlines()
    assert rows == [f"tenant_{i}.csv ok" for i in range(1, 7)]  # complete and in order
    ledger = resumed.ledger
    assert len(ledger[ledger["final"] & ledger["outcome"].isin(["succeeded"])]) == 6
    assert not ledger.duplicated(["mini_batch", "attempt"]).any()  # nothing counted twice


COMPONENT = """
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: prep
inputs:
  n:
    type: integer
    default: 3
  label:
    type: string
outputs:
  out:
    type: uri_folder
code: ./src
command: python prep.py --n ${{inputs.n}} --label ${{inputs.label}} --out ${{outputs.out}}
"""

PARALLEL_COMPONENT = """
type: parallel
inputs:
  data:
    type: uri_folder
outputs:
  rows:
    type: uri_file
input_data: ${{inputs.data}}
mini_batch_size: "2"
task:
  type: run_function
  code: ./score
  entry_script: score.py
  environment: {image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04}
  append_row_to: ${{outputs.rows}}
"""


def component_project(project: Project) -> None:
    project.write("components/prep.yml", COMPONENT)
    project.write("components/src/prep.py", """
        import argparse, os
        p = argparse.ArgumentParser(); p.add_argument("--n", type=int); p.add_argument("--label"); p.add_argument("--out")
        a = p.parse_args()
        for i in range(a.n):
            open(os.path.join(a.out, f"{a.label}_{i}.txt"), "w").write(str(i))
        """)
    project.write("components/score.yml", PARALLEL_COMPONENT)
    project.write("components/score/score.py", """
        import os
        def run(mini_batch):
            return [os.path.basename(p) for p in mini_batch]
        """)
    project.write("pipeline.yml", """
        type: pipeline
        inputs:
          how_many: 4
        jobs:
          prep:
            component: ./components/prep.yml
            inputs:
              n: ${{parent.inputs.how_many}}
              label: "t"
          score:
            component: file:./components/score.yml
            inputs:
              data: ${{parent.jobs.prep.outputs.out}}
        """)


def test_components_from_files_with_literal_inputs_and_set_overrides(project: Project):
    component_project(project)
    run = project.run()
    assert run.status == "Completed"
    assert run.outputs["score"]["rows"].read_text().split() == [f"t_{i}.txt" for i in range(4)]
    run = project.run(overrides=["inputs.how_many=2", "jobs.score.mini_batch_size=1"])
    assert run.outputs["score"]["rows"].read_text().split() == ["t_0.txt", "t_1.txt"]
    assert set(run.ledger["items"]) == {1}


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
def test_a_failed_step_skips_its_dependents_unless_continue_on_step_failure(project: Project):
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          bad:
            type: command
            command: echo about to fail; exit 3
            outputs: {out: {type: uri_folder}}
          after_bad:
            type: command
            command: echo never
            inputs:
              x: ${{parent.jobs.bad.outputs.out}}
          independent:
            type: command
            command: sleep 1; echo fine
        """)
    run = project.run()
    steps = {s.name: s for s in run.steps}
    assert run.status == "Failed"
    assert steps["bad"].status == "Failed" and "exited with code 3" in steps["bad"].reason
    assert steps["after_bad"].status == "Skipped"
    assert steps["bad"].detail.tail[-1] == "about to fail"
    text = project.pipeline.read_text().replace("type: pipeline", "type: pipeline\nsettings:\n  continue_on_step_failure: true")
    project.pipeline.write_text(text)
    run = project.run(force=True)
    steps = {s.name: s for s in run.steps}
    assert steps["independent"].status == "Completed" and steps["after_bad"].status == "Skipped"


def test_paths_with_spaces_quotes_and_dollars_reach_the_command_as_one_argument(project: Project):
    odd = project.root / "we ird $HOME 'q' ;touch pwned"
    odd.mkdir()
    (odd / "a.txt").write_text("x")
    project.write("pipeline.yml", f"""
        type: pipeline
        jobs:
          show:
            type: command
            inputs:
              data: {{type: uri_folder, path: "{odd}"}}
              word: hello world
            command: python -c "import sys, json; print(json.dumps(sys.argv[1:]))" ${{{{inputs.data}}}} ${{{{inputs.word}}}}
        """)
    run = project.run()
    assert run.status == "Completed"
    log = (run.run_dir / "show" / "logs" / "user_logs" / "std_log.txt").read_text().splitlines()[-1]
    assert json.loads(log) == [str(odd), "hello", "world"]  # literal values verbatim, paths as one argument
    assert not (project.root / "pwned").exists()


def test_is_deterministic_false_and_force_rerun_disable_reuse(project: Project):
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          a:
            type: command
            command: date +%s%N
          b:
            type: command
            is_deterministic: false
            command: date +%s%N
        """)
    project.run()
    run = project.run()
    assert {s.name: s.status for s in run.steps} == {"a": "Reused", "b": "Completed"}
    project.pipeline.write_text(project.pipeline.read_text().replace("type: pipeline", "type: pipeline\nsettings: {force_rerun: true}"))
    assert {s.status for s in project.run().steps} == {"Completed"}


@pytest.mark.slow  # a real run, ~2 s
def test_the_long_datastore_uri_that_names_the_workspace_maps_like_the_short_one(project: Project):
    """azure-ai-ml takes azureml://subscriptions/<s>/resourcegroups/<rg>/workspaces/<ws>/datastores/<d>/paths/<p>
    (constants/_common.py LONG_URI_REGEX_FORMAT) wherever it takes the short form."""
    project.tenants(2, folder="lake/tenants")
    project.parallel_pipeline("import os\ndef run(mb):\n    return [os.path.basename(f) for f in mb]\n",
                              task={"append_row_to": "${{outputs.out}}"})
    long = "azureml://subscriptions/0000/resourceGroups/rg/workspaces/ws/datastores/lake/paths"
    text = project.pipeline.read_text().replace("path: ./data", f"path: {long}/tenants")
    project.pipeline.write_text(text.replace("        type: uri_folder\n    input_data",
                                             f"        type: uri_folder\n        path: {long}/scores\n    input_data"))
    done = project.cli("run", "pipeline.yml", "--datastore", "lake=./lake")
    assert done.returncode == 0, done.stderr
    assert len((project.root / "lake" / "scores" / "parallel_run_step.txt").read_text().splitlines()) == 2


def test_data_assets_map_through_tenantml_yml(project: Project):
    project.tenants(2)
    project.write("tenantml.yml", 'assets:\n  tenants:\n    "1": ./data\n')
    project.parallel_pipeline("def run(mb):\n    return mb\n")
    text = project.pipeline.read_text().replace("path: ./data", "path: azureml:tenants:1")
    project.pipeline.write_text(text)
    assert project.run().status == "Completed"
    project.pipeline.write_text(text.replace("azureml:tenants:1", "azureml:tenants@latest"))
    assert project.run().status == "Completed"
    project.pipeline.write_text(text.replace("azureml:tenants:1", "azureml:customers:2"))
    result = project.cli("validate", "pipeline.yml")
    assert result.returncode == 2 and 'assets: {customers: {"2": <local path>}}' in result.stderr


@pytest.mark.parametrize("body, needle", [
    ("""
      a:
        type: command
        command: echo a
        inputs:
          x: ${{parent.jobs.b.outputs.o}}
        outputs: {o: {type: uri_folder}}
      b:
        type: command
        command: echo b
        inputs:
          x: ${{parent.jobs.a.outputs.o}}
        outputs: {o: {type: uri_folder}}
    """, "cycle: a -> b -> a"),
    ("""
      a:
        type: command
        command: echo a
        inputs:
          x: ${{parent.jobs.nope.outputs.o}}
    """, "names job 'nope'"),
    ("""
      a:
        type: command
        command: echo a
        outputs: {o: {type: uri_folder}}
      b:
        type: command
        command: echo b
        inputs:
          x: ${{parent.jobs.a.outputs.oo}}
    """, "did you mean 'o'?"),
    ("""
      a:
        type: command
        code: ./missing-code
        command: echo a
    """, "code folder"),
    ("""
      a:
        type: command
        command: echo a
        outputs: {o: {type: uri_folder, path: "azureml://datastores/lake/paths/../../etc"}}
    """, "leaves the root of datastore 'lake'"),
])
def test_pipeline_level_bad_input(project: Project, body: str, needle: str):
    project.write("pipeline.yml", "type: pipeline\njobs:\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "  ") + "\n")
    result = project.cli("run", "pipeline.yml")
    assert result.returncode == 2, result.stdout + result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr


def test_an_output_refused_for_its_path_is_reported_once_not_again_by_append_row_to(project: Project):
    project.tenants(1)
    project.parallel_pipeline("def run(mini_batch):\n    return []\n", task={"append_row_to": "${{outputs.out}}"},
                              job={"outputs": {"out": {"type": "uri_folder",
                                                       "path": "azureml://datastores/lake/paths/.."}}})
    result = project.cli("run", "pipeline.yml", "--datastore", "lake=./lake")
    assert result.returncode == 2
    assert "leaves the root of datastore 'lake'" in result.stderr
    assert "append_row_to" not in result.stderr, result.stderr  # no second error that only follows from the first


def test_mlflow_gets_a_tracking_store_in_the_run_folder_when_installed(project: Project, monkeypatch):
    fake = project.root / "site"
    (fake / "mlflow").mkdir(parents=True)
    (fake / "mlflow" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(fake))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          a:
            type: command
            command: echo "uri=$MLFLOW_TRACKING_URI"
        """)
    run = project.run()
    log = (run.run_dir / "a" / "logs" / "user_logs" / "std_log.txt").read_text()
    assert f"uri={(run.run_dir / 'mlruns').as_uri()}" in log


@pytest.mark.slow  # imports MLflow in the step (~2 s)
def test_a_step_logs_to_mlflow_without_setting_an_experiment(project: Project, monkeypatch):
    """As on Azure ML, where a job's MLflow needs no set-up: cli/jobs/basics/hello-mlflow.yml of
    Azure/azureml-examples calls ``mlflow.log_param`` straight away. The run's store must hold MLflow's
    Default experiment (id 0), which MLflow creates only when it creates the store's folder itself."""
    pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          a:
            type: command
            command: python -c "import mlflow; mlflow.log_param('hello_param', 'world')"
          b:
            type: command
            command: python -c "import mlflow; mlflow.log_metric('hello_metric', 1.0)"
        """)
    run = project.run()
    assert run.status == "Completed"
    params = list((run.run_dir / "mlruns" / "0").glob("*/params/hello_param"))
    assert [p.read_text() for p in params] == ["world"]
    assert list((run.run_dir / "mlruns" / "0").glob("*/metrics/hello_metric"))


def test_a_component_input_that_the_component_does_not_declare_is_named(project: Project):
    """A warning, not a refusal: azure-ai-ml drops such an input and validates the pipeline
    (tests/conformance/test_sdk_defaults.py holds the evidence)."""
    component_project(project)
    text = project.pipeline.read_text().replace("label: \"t\"", "label: \"t\"\n      lable: \"x\"")
    project.pipeline.write_text(text)
    result = project.cli("validate", "pipeline.yml")
    assert result.returncode == 0, result.stderr
    assert "jobs.prep.inputs.lable" in result.stdout and "did you mean 'label'?" in result.stdout


def test_output_path_variables_file_uris_and_the_azure_only_note(project: Project):
    project.write("in/a.txt", "hello")
    project.write("tenantml.yml", "datastores:\n  lake: ./lake\n")
    project.write("pipeline.yml", f"""
        type: pipeline
        settings:
          default_datastore: azureml:lake
          default_compute: azureml:cpu-cluster
        jobs:
          copy:
            type: command
            compute: azureml:cpu-cluster
            environment: azureml:AzureML-sklearn-1.0@latest
            inputs:
              src:
                type: uri_folder
                path: file:{project.root / 'in'}
            outputs:
              dst:
                type: uri_folder
                path: azureml://datastores/${{{{default_datastore}}}}/paths/copies/${{{{name}}}}
            command: cp ${{{{inputs.src}}}}/a.txt ${{{{outputs.dst}}}}/
          copy2:
            type: command
            environment: azureml:AzureML-sklearn-1.0@latest
            command: echo second
        """)
    result = project.cli("run", "pipeline.yml")
    assert result.returncode == 0, result.stderr
    run_id = next((project.home / "runs").iterdir()).name
    assert (project.root / "lake" / "copies" / run_id / "a.txt").read_text() == "hello"
    assert result.stderr.count("used on Azure ML only") == 2  # environment and compute, once each


def test_a_step_is_not_reused_onto_a_datastore_path_another_run_overwrote(project: Project):
    project.write("tenantml.yml", "datastores:\n  lake: ./lake\n")
    project.write("pipeline.yml", """
        type: pipeline
        inputs:
          n: 3
        jobs:
          write:
            type: command
            inputs:
              n: ${{parent.inputs.n}}
            outputs:
              out:
                type: uri_folder
                path: azureml://datastores/lake/paths/shared
            command: seq ${{inputs.n}} > ${{outputs.out}}/numbers.txt
        """)
    numbers = project.root / "lake" / "shared" / "numbers.txt"
    assert project.run().steps[0].status == "Completed"
    assert project.run(overrides=["inputs.n=5"]).steps[0].status == "Completed"
    assert numbers.read_text().split() == ["1", "2", "3", "4", "5"]
    again = project.run()  # same definition as the first run, but its output was overwritten since
    assert again.steps[0].status == "Completed"
    assert numbers.read_text().split() == ["1", "2", "3"]
    assert project.run().steps[0].status == "Reused"  # and now it is what this definition produced


def test_the_ledger_of_a_reused_parallel_step_comes_from_the_run_that_produced_it(project: Project):
    project.tenants(3)
    project.parallel_pipeline("def run(mini_batch):\n    return mini_batch\n")
    first = project.run()
    second = project.run()
    assert second.steps[0].status == "Reused"
    assert len(second.ledger) == 3 and list(second.ledger["label"]) == list(first.ledger["label"])


@pytest.mark.parametrize("exit_code", [0, 1])
def test_an_upload_output_never_sees_nor_removes_what_its_datastore_path_holds(project: Project, exit_code: int):
    """``mode: upload`` is a fresh local folder on Azure ML, uploaded at job end: ``rm -rf`` in it removed
    the user's files at the datastore path here. Now the command writes an empty folder of the run's own,
    copied onto the path when the step completes (a failed step leaves the path as it was)."""
    lake = project.root / "lake"
    (lake / "keep").mkdir(parents=True)
    (lake / "keep" / "user.txt").write_text("precious")
    (lake / "old.txt").write_text("old")
    project.write("pipeline.yml", f"""\
        type: pipeline
        jobs:
          a:
            type: command
            command: ls -A ${{{{outputs.o}}}} > seen.txt; rm -rf ${{{{outputs.o}}}}/*;
              echo new > ${{{{outputs.o}}}}/old.txt; exit {exit_code}
            outputs:
              o: {{type: uri_folder, mode: upload, path: "azureml://datastores/ds/paths/"}}
            environment: {{image: x}}
        """)
    run = project.run(datastores={"ds": lake})
    assert (lake / "keep" / "user.txt").read_text() == "precious"
    assert (run.run_dir / "a" / "exe" / "wd" / "seen.txt").read_text() == ""  # the command saw an empty folder
    if exit_code == 0:
        assert run.status == "Completed"
        assert (lake / "old.txt").read_text() == "new\n"  # the same name is replaced, as an upload replaces it
    else:
        assert run.status == "Failed"
        assert (lake / "old.txt").read_text() == "old" and sorted(p.name for p in lake.iterdir()) == ["keep", "old.txt"]
