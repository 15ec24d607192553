"""What azure-ai-ml fills in or lets through when a pipeline leaves it out, as Microsoft's own examples
rely on it (fixtures/sdk-pipeline-defaults-transcript.txt): tenantml must run those files as they are."""

from __future__ import annotations

import pytest

import tenantml
from conftest import Project
from evidence import quote
from loading import load, rejection

HELLO = """\
type: pipeline
settings:
  default_compute: azureml:cpu-cluster
jobs:
  a:
    command: echo hello > a.txt && cat a.txt
    environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest
  b:
    command: echo world >> ${{outputs.world_output}}/world.txt
    environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest
    outputs:
      world_output:
"""


def test_a_node_without_type_is_a_command_job(project: Project):
    """hello-pipeline-abc.yml names no node type; the SDK loads every node as Command and validates it."""
    quote("sdk-pipeline-defaults-transcript.txt", "[basics/hello-pipeline-abc.yml] validate_passed=True; node types: "
          "a=Command(command), b=Command(command), c=Command(command)")
    project.write("pipeline.yml", HELLO)
    assert rejection(project.pipeline, project.home) is None
    run = tenantml.run(project.pipeline, home=project.home)
    assert run.status == "Completed", [(s.name, s.status) for s in run.steps]
    assert (run.outputs["b"]["world_output"] / "world.txt").read_text() == "world\n"
    assert not (project.root / "a.txt").exists()  # a command without code: nothing lands beside the YAML


def test_an_unknown_setting_is_passed_on_with_a_warning_not_refused(project: Project):
    """azureml-examples' 3a_basic_pipeline says `default_datestore:`; the SDK's settings schema includes unknown
    keys and sends them on (the REST settings hold it), so az ml accepts the file."""
    quote("sdk-pipeline-defaults-transcript.txt", "class PipelineJobSettingsSchema(Schema): class Meta: unknown = INCLUDE")
    quote("sdk-pipeline-defaults-transcript.txt", "'default_datestore': 'azureml:workspaceblobstore', '_source': 'YAML.JOB'")
    project.write("pipeline.yml", HELLO.replace("settings:\n", "settings:\n  default_datestore: azureml:workspaceblobstore\n"))
    pipeline = load(project.pipeline, project.home)
    (warning,) = [w for w in pipeline.warnings if "default_datestore" in w]
    assert "did you mean 'default_datastore'?" in warning and ":3:" in warning


@pytest.mark.parametrize("bad", ["jobs: {a: {type: sweeep, command: echo}}"])
def test_a_misspelled_node_type_is_still_refused(project: Project, bad: str):
    """Only a missing type defaults to command; a wrong one is the SDK's error too."""
    project.write("pipeline.yml", "type: pipeline\n" + bad + "\n")
    problem = rejection(project.pipeline, project.home)
    assert problem is not None and "sweeep" in problem


def test_an_input_the_component_does_not_declare_is_dropped_with_a_warning(project: Project):
    """The nyc_taxi pipeline-component example binds test_split_ratio on a node whose component declares only
    raw_data; the SDK validates the file and the loaded node holds raw_data alone."""
    quote("sdk-pipeline-defaults-transcript.txt", "validate_passed=True; data_pipeline inputs given: ['raw_data']; "
          "declared by data_pipeline.yml: ['raw_data']")
    project.write("echo.yml", """\
        type: command
        inputs: {word: {type: string}}
        command: echo ${{inputs.word}}
        environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest
        """)
    project.write("pipeline.yml", """\
        type: pipeline
        jobs:
          say:
            type: command
            component: ./echo.yml
            inputs: {word: hello, ratio: 0.2}
        """)
    pipeline = load(project.pipeline, project.home)
    (warning,) = [w for w in pipeline.warnings if "ratio" in w]
    assert "has no input 'ratio'" in warning and "azure-ai-ml drops it" in warning
    assert "ratio" not in pipeline.jobs["say"].inputs


def test_outputs_and_logs_exist_in_the_working_directory_and_the_artifacts_output_keeps_them(project: Project):
    """hello-pipeline-default-artifacts.yml writes ./outputs/world.txt with no mkdir and the next job reads
    ${{inputs.world_input}}/outputs/world.txt from the first job's `artifacts` output; azureml-examples runs it
    in CI. The azuremlsdk reference: runs capture "files that were written out to the ./outputs or ./logs
    folders during a run"."""
    quote("sdk-pipeline-defaults-transcript.txt", "bash -x ../../run-job.sh hello-pipeline-default-artifacts.yml")
    quote("sdk-pipeline-defaults-transcript.txt", "[basics/hello-pipeline-default-artifacts.yml] validate_passed=True")
    project.write("pipeline.yml", """\
        type: pipeline
        jobs:
          hello_job:
            command: echo world > ./outputs/world.txt && echo note > ./logs/note.txt
            environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest
            outputs:
              artifacts:
          world_job:
            command: cat ${{inputs.world_input}}/outputs/world.txt ${{inputs.world_input}}/logs/note.txt
            environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest
            inputs:
              world_input: ${{parent.jobs.hello_job.outputs.artifacts}}
        """)
    run = tenantml.run(project.pipeline, home=project.home)
    assert run.status == "Completed", [(s.name, s.status) for s in run.steps]
    artifacts = run.outputs["hello_job"]["artifacts"]
    assert (artifacts / "outputs" / "world.txt").read_text() == "world\n"
    assert "echo world" in (artifacts / "user_logs" / "std_log.txt").read_text()
    log = (run.run_dir / "world_job" / "logs" / "user_logs" / "std_log.txt").read_text()
    assert log.splitlines()[-2:] == ["world", "note"]
