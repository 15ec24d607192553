"""Forms of Azure ML YAML that users bring from pipelines they did not write (issue 13).

Each test runs the CLI on a real pipeline in a temporary folder, as a user would.
"""

from __future__ import annotations

import pytest

from conftest import CSV_MLTABLE, Project

WRITE_TABLE = """
import os, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "rows.csv"), "w").write("x,y\\n1,2\\n3,4\\n")
open(os.path.join(out, "MLTable"), "w").write('''{mltable}''')
"""

COUNT_ROWS = """
def run(mini_batch):
    return [f"{type(mini_batch).__name__} {len(mini_batch)}"]
"""


def _the_one_problem(project: Project) -> list[str]:
    """``tenantml validate``: exit 2 with exactly one problem (its line, alone in a one-item list)."""
    done = project.cli("validate", "pipeline.yml")
    assert done.returncode == 2
    problems = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(problems) == 1, done.stderr
    return problems


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
def test_an_mltable_an_upstream_step_writes_on_a_datastore_is_checked_when_that_step_has_run(project: Project):
    # the datastore folder exists from an earlier run, without its MLTable file yet
    (project.root / "lake" / "table").mkdir(parents=True)
    project.write("src/write.py", WRITE_TABLE.format(mltable=CSV_MLTABLE))
    project.write("src/entry.py", COUNT_ROWS)
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          prepare:
            type: command
            code: ./src
            command: python write.py ${{outputs.table}}
            outputs:
              table: {type: mltable, path: azureml://datastores/lake/paths/table}
          score:
            type: parallel
            inputs:
              data: {type: mltable, path: "${{parent.jobs.prepare.outputs.table}}", mode: direct}
            outputs:
              out: {type: uri_file}
            input_data: ${{inputs.data}}
            mini_batch_size: "1kb"
            task:
              type: run_function
              code: ./src
              entry_script: entry.py
              environment: {image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04}
              append_row_to: ${{outputs.out}}
        """)
    done = project.cli("run", "pipeline.yml", "--datastore", f"lake={project.root / 'lake'}")
    assert done.returncode == 0, done.stderr
    assert "DataFrame 2" in next((project.home / "runs").iterdir()).joinpath(
        "score", "outputs", "out").read_text()


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
def test_a_bad_mltable_written_upstream_fails_the_step_with_one_clear_message(project: Project):
    project.write("src/write.py", WRITE_TABLE.format(mltable="paths:\n  - pattern: ./*.parquet_none\n"
                                                     "transformations:\n  - read_delimited: {delimiter: ','}\n"))
    project.write("src/entry.py", COUNT_ROWS)
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          prepare:
            type: command
            code: ./src
            command: python write.py ${{outputs.table}}
            outputs:
              table: {type: mltable}
          score:
            type: parallel
            inputs:
              data: ${{parent.jobs.prepare.outputs.table}}
            input_data: ${{inputs.data}}
            mini_batch_size: "1kb"
            task: {type: run_function, code: ./src, entry_script: entry.py, environment: {image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04}}
        """)
    done = project.cli("validate", "pipeline.yml")
    assert done.returncode == 0, done.stderr  # the table does not exist before the run
    done = project.cli("run", "pipeline.yml")
    assert done.returncode != 0
    assert "pipeline.yml:" in done.stderr and "Traceback" not in done.stderr
    assert "mini_batch_size: " not in done.stderr  # no message nested inside another
    assert "pipeline.yml:13: jobs.score.inputs.data: mltable could not list the files of input" in done.stderr


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
def test_a_node_input_bound_with_a_mode_keeps_the_components_declared_mltable_type(project: Project):
    project.write("data/MLTable", CSV_MLTABLE)
    project.write("data/rows.csv", "x,y\n1,2\n3,4\n5,6\n")
    project.write("src/entry.py", COUNT_ROWS)
    project.write("score.yml", """
        type: parallel
        inputs:
          data: {type: mltable}
        outputs:
          out: {type: uri_file}
        input_data: ${{inputs.data}}
        mini_batch_size: "1mb"
        task: {type: run_function, code: ./src, entry_script: entry.py, environment: {image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04}, append_row_to: "${{outputs.out}}"}
        """)
    project.write("pipeline.yml", """
        type: pipeline
        inputs:
          table: {type: mltable, path: ./data}
        jobs:
          score:
            type: parallel
            component: ./score.yml
            comment: scores every tenant
            inputs:
              data: {path: "${{parent.inputs.table}}", mode: direct}
        """)
    done = project.cli("run", "pipeline.yml")
    assert done.returncode == 0, done.stderr
    assert "'comment' is carried to Azure ML with the node and has no local meaning" in done.stderr
    out = next((project.home / "runs").iterdir()) / "score" / "outputs" / "out"
    assert out.read_text().strip() == "DataFrame 3"  # one table, not the files of the folder


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
def test_an_inline_node_bound_without_a_type_takes_the_bound_inputs_type(project: Project):
    project.write("data/MLTable", CSV_MLTABLE)
    project.write("data/rows.csv", "x,y\n1,2\n")
    project.write("src/entry.py", COUNT_ROWS)
    project.write("pipeline.yml", """
        type: pipeline
        inputs:
          table: {type: mltable, path: ./data}
        jobs:
          score:
            type: parallel
            inputs:
              data: {path: "${{parent.inputs.table}}", mode: direct}
            outputs:
              out: {type: uri_file}
            input_data: ${{inputs.data}}
            task: {type: run_function, code: ./src, entry_script: entry.py, environment: {image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04}, append_row_to: "${{outputs.out}}"}
        """)
    done = project.cli("run", "pipeline.yml")
    assert done.returncode == 0, done.stderr
    assert (next((project.home / "runs").iterdir()) / "score" / "outputs" / "out").read_text().strip() == "DataFrame 1"


def test_an_mltable_folder_without_mltable_file_is_fine_for_a_command_step_only(project: Project):
    project.write("folder/a.txt", "a")
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          look:
            type: command
            inputs:
              data: {type: mltable, path: ./folder}
            command: ls ${{inputs.data}}
        """)
    assert project.cli("run", "pipeline.yml").returncode == 0
    project.write("src/entry.py", COUNT_ROWS)
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          score:
            type: parallel
            inputs:
              data: {type: mltable, path: ./folder}
            input_data: ${{inputs.data}}
            task: {type: run_function, code: ./src, entry_script: entry.py, environment: {image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04}}
        """)
    done = project.cli("validate", "pipeline.yml")
    assert done.returncode == 2
    assert "pipeline.yml:7: jobs.score.inputs.data: input type is mltable but" in done.stderr
    assert "has no MLTable file" in done.stderr


def test_comment_on_an_inline_job_is_refused_as_az_ml_refuses_it(project: Project):
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          look:
            type: command
            comment: hello
            command: echo hi
        """)
    done = project.cli("validate", "pipeline.yml")
    assert done.returncode == 2
    assert "jobs.look.comment: 'comment' is accepted on a node that uses 'component:'" in done.stderr


def test_an_unmapped_datastore_is_one_error_that_says_how_to_map_it(project: Project):
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          look:
            type: command
            inputs:
              raw: {type: uri_folder, path: azureml://datastores/lake/paths/raw}
            command: ls ${{inputs.raw}}
        """)
    problems = _the_one_problem(project)
    assert "datastore 'lake' is not mapped" in problems[0]
    assert "--datastore lake=PATH" in problems[0] and "tenantml.yml" in problems[0]


def test_models_data_and_registry_components_map_through_tenantml_yml(project: Project):
    project.write("models/iris/MLmodel", "flavors: {}\n")
    project.write("data/v2.csv", "x\n1\n")
    project.write("components/echo.yml", """
        type: command
        inputs:
          model: {type: mlflow_model}
          data: {type: uri_file}
        command: ls ${{inputs.model}} && cat ${{inputs.data}}
        """)
    project.write("tenantml.yml", """
        models:
          iris_model: {"3": ./models/iris}
        assets:
          raw: {"1": ./missing.csv, "2": ./data/v2.csv}
        components:
          azureml/echo: {"1": ./components/echo.yml}
        """)
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          look:
            type: command
            component: azureml://registries/azureml/components/echo/versions/1
            inputs:
              model: {type: mlflow_model, path: "azureml:iris_model@latest"}
              data: {type: uri_file, path: "azureml:raw@latest"}
        """)
    done = project.cli("run", "pipeline.yml")
    assert done.returncode == 0, done.stderr
    log = next((project.home / "runs").iterdir()) / "look" / "logs" / "user_logs" / "std_log.txt"
    assert "MLmodel" in log.read_text()
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          look:
            type: command
            component: azureml://registries/azureml/components/echo/versions/2
            inputs:
              model: {type: mlflow_model, path: "azureml:other_model:1"}
              data: {type: uri_file, path: "azureml:raw@latest"}
        """)
    done = project.cli("validate", "pipeline.yml")
    assert done.returncode == 2
    assert "component 'azureml/echo' has no version '2'" in done.stderr
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          look:
            type: command
            component: ./components/echo.yml
            inputs:
              model: {type: mlflow_model, path: "azureml:other_model:1"}
              data: {type: uri_file, path: "azureml:raw@latest"}
        """)
    done = project.cli("validate", "pipeline.yml")
    assert done.returncode == 2
    assert "model 'azureml:other_model:1' has no local copy" in done.stderr
    assert 'models: {other_model: {"1": <local path>}}' in done.stderr


def test_a_prompt_flow_component_is_one_clear_error(project: Project):
    project.write("flow/flow.dag.yaml", "inputs: {text: {type: string}}\nnodes: []\noutputs: {}\n")
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          flow_node:
            type: parallel
            component: ./flow/flow.dag.yaml
            inputs:
              data: {type: uri_file, path: ./nothing.jsonl}
              text: "${data.text}"
        """)
    problems = _the_one_problem(project)
    assert "prompt flow components are not supported locally" in problems[0]


def test_an_inline_prompt_flow_component_is_the_same_clear_error(project: Project):
    """What azure-ai-ml's dump holds for a flow node built in Python (``load_component("flow.dag.yaml")``
    in sdk/python/jobs/pipelines/1l_flow_in_pipeline of Azure/azureml-examples): an inline component of
    type ``promptflow_parallel``, with no task. It was refused as "a parallel job needs a 'task:'"."""
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          flow_node:
            type: parallel
            component:
              name: basic
              version: '1'
              type: promptflow_parallel
            inputs:
              data: {type: uri_file, path: ./nothing.jsonl}
              text: "${data.text}"
        """)
    problems = _the_one_problem(project)
    assert "jobs.flow_node.component: component 'basic' is a prompt flow (type promptflow_parallel)" in problems[0]
    assert "--backend aml" in problems[0] and "task" not in problems[0]


def test_a_sweep_node_is_named_alone_as_azure_only(project: Project):
    project.write("trial.yml", "type: command\ncommand: echo hi\n")
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          first:
            type: command
            command: echo first
          tune:
            type: sweep
            trial: ./trial.yml
            sampling_algorithm: random
            search_space: {lr: {type: choice, values: [1, 2]}}
            objective: {goal: maximize, primary_metric: acc}
            limits: {max_total_trials: 2}
        """)
    problems = _the_one_problem(project)
    assert "pipeline.yml:8: jobs.tune.type: job 'tune': a sweep job (hyperparameter search) runs on Azure ML only" \
        in problems[0]


def test_nested_pipeline_components_bind_inputs_and_outputs_two_levels_deep(project: Project):
    project.write("inner.yml", """
        type: pipeline
        inputs:
          word: {type: string}
        outputs:
          said: {type: uri_folder}
        jobs:
          say:
            type: command
            inputs: {word: "${{parent.inputs.word}}"}
            outputs: {out: "${{parent.outputs.said}}"}
            command: echo ${{inputs.word}} > ${{outputs.out}}/said.txt
        """)
    project.write("outer.yml", """
        type: pipeline
        inputs:
          word: {type: string}
        outputs:
          said: {type: uri_folder}
        jobs:
          deeper:
            type: pipeline
            component: ./inner.yml
            inputs: {word: "${{parent.inputs.word}}"}
            outputs: {said: "${{parent.outputs.said}}"}
        """)
    project.write("pipeline.yml", """
        type: pipeline
        inputs:
          word: hello
        jobs:
          sub:
            type: pipeline
            component: ./outer.yml
            inputs: {word: "${{parent.inputs.word}}"}
          read:
            type: command
            inputs: {said: "${{parent.jobs.sub.outputs.said}}"}
            command: cat ${{inputs.said}}/said.txt
        """)
    done = project.cli("run", "pipeline.yml")
    assert done.returncode == 0, done.stderr
    run_dir = next((project.home / "runs").iterdir())
    assert (run_dir / "sub" / "outputs" / "said" / "said.txt").read_text() == "hello\n"
    assert "hello" in (run_dir / "read" / "logs" / "user_logs" / "std_log.txt").read_text()
    shown = project.cli("show", run_dir.name)
    assert "sub/deeper/say" in shown.stdout


def test_an_unmapped_registered_component_is_one_error_without_follow_on_errors(project: Project):
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          train:
            type: command
            component: azureml:my_train:3
          score:
            type: command
            inputs: {model: "${{parent.jobs.train.outputs.model}}"}
            command: ls ${{inputs.model}}
        """)
    problems = _the_one_problem(project)
    assert "pipeline.yml:6: jobs.train.component: component 'azureml:my_train:3' has no local copy" in problems[0]
    assert 'components: {my_train: {"3": <local path>}}' in problems[0]


def test_a_pipeline_component_that_includes_itself_is_a_clear_error(project: Project):
    project.write("loop.yml", """
        type: pipeline
        jobs:
          again:
            type: pipeline
            component: ./loop.yml
        """)
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          start:
            type: pipeline
            component: ./loop.yml
        """)
    done = project.cli("validate", "pipeline.yml")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "does a component include itself?" in done.stderr


def test_a_model_output_is_a_folder_the_step_writes(project: Project):
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          train:
            type: command
            outputs:
              model: {type: mlflow_model}
            command: "echo flavors > ${{outputs.model}}/MLmodel"
          use:
            type: command
            inputs:
              model: {type: mlflow_model, path: "${{parent.jobs.train.outputs.model}}"}
            command: cat ${{inputs.model}}/MLmodel
        """)
    done = project.cli("run", "pipeline.yml")
    assert done.returncode == 0, done.stderr
    run_dir = next((project.home / "runs").iterdir())
    assert (run_dir / "train" / "outputs" / "model" / "MLmodel").is_file()


def test_a_mini_batch_size_wrong_for_any_input_is_refused_before_the_upstream_step_runs(project: Project):
    project.write("src/entry.py", COUNT_ROWS)
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          prepare:
            type: command
            command: echo hi > ${{outputs.files}}/a.txt
            outputs:
              files: {type: uri_folder}
          score:
            type: parallel
            inputs:
              data: ${{parent.jobs.prepare.outputs.files}}
            input_data: ${{inputs.data}}
            mini_batch_size: "lots"
            task: {type: run_function, code: ./src, entry_script: entry.py, environment: {image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04}}
        """)
    problems = _the_one_problem(project)
    assert "pipeline.yml:14: jobs.score.mini_batch_size: 'lots' is not a positive number of files" in problems[0]


def test_a_component_file_given_as_a_job_names_what_it_is(project: Project):
    """`tenantml validate train.yml` on a component (70 YAML files of azureml-examples' cli/jobs carry a
    component $schema) said "a data input needs a path", or ran it as a job. `az ml job create -f` refuses
    it too: azure-ai-ml 1.35.2's load_job reports "version: Unknown field" for
    pipelines-with-components/basics/2a_basic_component/component.yml."""
    project.write("train.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
        type: command
        name: train
        version: 1
        inputs:
          training_data: {type: uri_folder}
        command: python train.py --data ${{inputs.training_data}}
        """)
    done = project.cli("validate", "train.yml")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "train.yml:2: $schema: this is a component, not a job ($schema commandComponent.schema.json)" \
        in done.stderr
    assert "component: ./train.yml" in done.stderr and "needs a path" not in done.stderr
