"""What an entry script sees on Azure ML, and what tenantml gives it on the same input.

Each case names its source; the words relied on are checked against tests/conformance/fixtures/.
One probe pipeline run serves the worker-side cases (the suite stays fast).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from conftest import Project, job_dir
from evidence import quote

from tenantml.progress import Reporter

PROBE = r'''
import json, logging, os, sys
from azureml_user.parallel_run import EntryScript

def run(mini_batch, mini_batch_context):
    es = EntryScript()
    es.logger.info("ENTRY-LOGGER-INFO")
    logging.getLogger("probe").info("ROOT-INFO %s", os.path.basename(mini_batch[0]))
    logging.getLogger("probe").debug("ROOT-DEBUG")
    facts = {"cwd": os.getcwd(), "sys_path0": sys.path[0], "log_dir": es.log_dir, "agent": es.agent_name,
             "output_dir": es.output_dir, "working_dir": es.working_dir, "argv": sys.argv[1:],
             "dataset_is_mini_batch": mini_batch_context.dataset == mini_batch,
             "partition_key_value": mini_batch_context.partition_key_value}
    try:
        mini_batch_context.minibatch_index
    except AttributeError as exc:
        facts["minibatch_index"] = str(exc)
    try:
        open("helper.txt").read()
        facts["relative_open"] = "opened"
    except OSError as exc:
        facts["relative_open"] = type(exc).__name__
    with open("scratch.txt", "w") as f:  # a write to the working directory
        f.write("x")
    target = os.path.join(os.path.dirname(mini_batch[0]), "written_by_run.txt")
    if mini_batch[0].endswith("tenant_2.csv"):
        open(target, "w").write("x")  # uncaught: fails the attempt as on Azure ML
    try:
        os.remove(mini_batch[0])
    except OSError as exc:
        facts["remove_input"] = str(exc)
    return [json.dumps(facts)]
'''


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory):
    project = Project(tmp_path_factory.mktemp("probe"))
    project.tenants(2)
    project.write("src/helper.txt", "beside the entry script\n")
    project.parallel_pipeline(PROBE, job={
        "inputs": {"data": {"type": "uri_folder", "path": "./data"},
                   "ref": {"type": "uri_folder", "path": "./data", "mode": "direct"}},
        "resources": {"instance_count": 2}, "max_concurrency_per_instance": None,
        "retry_settings": {"max_retries": 0, "timeout": 30}},
        task={"program_arguments": "--ref ${{inputs.ref}}"})
    run = project.run()
    rows = (run.outputs["score"]["out"] / "parallel_run_step.txt").read_text().splitlines()
    return project, run, [json.loads(r) for r in rows]


def test_root_logger_writes_to_the_process_stdout_file_at_info(probe):
    """[DBG] root logger -> logs/user/stdout/<node_id>/processNNN.stdout.txt, INFO by default."""
    quote("docs_excerpts.txt", "ParallelRunStep sets a handler on the root logger, which sinks the message to "
          "`logs/user/stdout/<node_id>/processNNN.stdout.txt`. `logging` defaults to `INFO` level.")
    project, run, _ = probe
    stdout = "".join(p.read_text() for p in (job_dir(run) / "logs" / "user" / "stdout").rglob("process*.stdout.txt"))
    assert "ROOT-INFO tenant_1.csv" in stdout and "ROOT-DEBUG" not in stdout


def test_entry_script_log_dir_is_the_nodes_entry_script_log_folder(probe):
    """[DBG] + MicrosoftDocs/azure-docs PR #77284: log_dir = logs/user/entry_script_log/<node_id>/,
    agent_name "processNNN", the logger's file <log_dir>/<process_name>.log.txt."""
    quote("docs_excerpts.txt", "log_dir = Path(entry_script.log_dir)  # logs/user/entry_script_log/<node_id>/.")
    quote("docs_PRs_and_issues_log_layout.txt", 'proc_name = entry_script.agent_name  # The process name in pattern "processNNN".')
    project, run, facts = probe
    logs = job_dir(run) / "logs"
    for fact in facts:
        log_dir = Path(fact["log_dir"])
        assert log_dir.parent == logs / "user" / "entry_script_log" and log_dir.name in ("0", "1")
        assert fact["agent"].startswith("process") and len(fact["agent"]) == len("process000")
        assert "ENTRY-LOGGER-INFO" in (log_dir / f"{fact['agent']}.log.txt").read_text()


def test_output_dir_is_azureml_bi_output_path(probe):
    """2020 runtime helper: output_dir = $AZUREML_BI_OUTPUT_PATH (MachineLearningNotebooks: "AZUREML_BI_OUTPUT_PATH
    - output folder path"). With append_row_to a folder output, that folder."""
    quote("entry_script_helper_source_prs_runtime_2020.txt", 'pth = Path(os.environ.get("AZUREML_BI_OUTPUT_PATH", "."))')
    project, run, facts = probe
    assert {f["output_dir"] for f in facts} == {str(run.outputs["score"]["out"])}


def test_workers_run_in_a_temp_folder_with_the_code_folder_on_sys_path(probe):
    """2020 runtime helper: working_dir is where the driver was launched (the code snapshot), "Then workers change
    to temp folder". [DBG] tells users to resolve files from __file__, not the working directory. Weak evidence
    (provenance unknown, old): the safe reading is kept, since it also keeps writes out of the user's source tree."""
    quote("entry_script_helper_source_prs_runtime_2020.txt", "Then workers change to temp folder.")
    project, run, facts = probe
    code = project.root / "src"
    for fact in facts:
        assert fact["sys_path0"] == str(code) and fact["working_dir"] == str(code)
        assert not Path(fact["cwd"]).is_relative_to(code) and fact["relative_open"] == "FileNotFoundError"
        assert Path(fact["cwd"]).is_relative_to(run.run_dir)  # scratch the run owns, cleared when the step ends
    assert not any(Path(fact["cwd"]).exists() for fact in facts)
    assert sorted(p.name for p in code.iterdir()) == ["entry.py", "helper.txt"]  # scratch.txt did not land here


def test_a_write_into_a_ro_mount_input_fails_the_attempt_saying_azure_mounts_it_read_only(probe):
    """[REF] ro_mount is a read-only mount: a write fails there (EROFS). Locally the guard refuses it first."""
    quote("docs_excerpts.txt", "For read-only mount (`ro_mount`), the data will be consumed as a mount path.")
    project, run, facts = probe
    assert all("Azure ML mounts input 'data' read-only" in f["remove_input"] for f in facts)
    assert sorted(p.name for p in (project.root / "data").iterdir()) == ["tenant_1.csv", "tenant_2.csv"]
    ledger = run.ledger.set_index("label")
    assert ledger.loc["tenant_2.csv", "outcome"] == "raised"
    assert "Read-only file system: Azure ML mounts input 'data' read-only" in ledger.loc["tenant_2.csv", "error_message"]


def test_direct_input_is_passed_as_a_uri(probe):
    """[REF] direct: "It will pass in the URL of the storage location as the job input." Locally: a file:// URI."""
    quote("docs_excerpts.txt", "use the `direct` mode. It will pass in the URL of the storage location as the job input.")
    project, run, facts = probe
    argv = facts[0]["argv"]
    assert argv[argv.index("--ref") + 1] == (project.root / "data").as_uri()


def test_mini_batch_context_has_only_the_documented_attributes(probe):
    """[NB] total_file_size.py: partition_key_value and dataset, the mini-batch's own subset."""
    quote("docs_excerpts.txt", "# `dataset` is the dataset object that corresponds to the mini_batch, which is a subset")
    project, run, facts = probe
    assert all(f["dataset_is_mini_batch"] and f["partition_key_value"] is None for f in facts)
    assert all("offers only partition_key_value and dataset" in f["minibatch_index"] for f in facts)


def test_default_max_concurrency_per_instance_is_the_core_count(probe):
    """[REF]/[USE]/[DBG]: CPU default = number of cores. azure-ai-ml 1.35.2 sends no value when the key is omitted
    (checked: _to_rest_object() has no max_concurrency_per_instance), so the service default reaches the runtime;
    the SDK's dump_default=1 only applies when it writes YAML. The local machine stands in for the node."""
    quote("docs_excerpts.txt", "For a CPU compute, the default value is the number of cores.")
    project, run, facts = probe
    argv = facts[0]["argv"]
    assert argv[argv.index("--process_count_per_node") + 1] == str(os.cpu_count())


COMMAND_PIPELINE = """
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
jobs:
  prep:
    type: command
    outputs:
      out: {type: uri_folder}
    command: >-
      touch ${{outputs.out}}/old.txt && rm -rf ${{outputs.out}} && echo new > ${{outputs.out}}/new.txt
"""


def test_rm_rf_of_an_rw_mount_output_only_empties_it(project: Project):
    """[REF] rw_mount: "the output directory will be a mounted directory" — a mount point cannot be removed, so
    rm -rf empties it and the next write works (the seed pipeline relies on it). Locally: restored and reported."""
    quote("docs_excerpts.txt", "For read-write mount mode (`rw_mount`) the output directory will be a mounted directory.")
    project.write("pipeline.yml", COMMAND_PIPELINE)
    run = project.run()
    assert run.status == "Completed"
    out = run.outputs["prep"]["out"]
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert str(out) in (job_dir(run, "prep") / "logs" / "user_logs" / "recreated_outputs.txt").read_text()


SNAPSHOT_PIPELINE = """
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
jobs:
  train:
    type: command
    code: ./src
    environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
    outputs:
      out: {type: uri_folder}
    command: >-
      cat helper.txt > ${{outputs.out}}/helper.txt && pwd > ${{outputs.out}}/pwd.txt &&
      ls -A > ${{outputs.out}}/listing.txt &&
      mkdir -p mlruns outputs && echo run > mlruns/meta.yaml && echo x > outputs/model.txt && echo y > helper.txt
"""


@pytest.mark.slow  # two runs of a command pipeline (~1.8 s)
def test_a_command_runs_in_a_copy_of_its_code_folder_and_never_writes_the_source_tree(project: Project):
    """[SAVE] Azure ML runs a job "by copying the entire source directory" (honouring .amlignore, else .gitignore:
    [SDK] get_ignore_file); on the node the command's files sit under .../exe/wd/. Locally: <job>/exe/wd/, a fresh
    copy per run, so ./mlruns, ./outputs and even an overwritten code file never reach the user's folder, and the
    step is still reused (its fingerprint is the source's)."""
    quote("command_snapshot_docs.txt", "Azure Machine Learning jobs training scripts by copying the entire source directory.")
    quote("command_snapshot_docs.txt", ".amlignore takes precedence over .gitignore")
    project.write("src/helper.txt", "beside the script\n")
    project.write("src/.amlignore", "# not uploaded\nbig_data/\n*.ckpt\n")
    project.write("src/big_data/a.csv", "1\n")
    project.write("src/model.ckpt", "weights\n")
    project.write("pipeline.yml", SNAPSHOT_PIPELINE)
    before = sorted(p.relative_to(project.root / "src").as_posix() for p in (project.root / "src").rglob("*"))
    run = project.run()
    assert run.status == "Completed"
    out = run.outputs["train"]["out"]
    wd = job_dir(run, "train") / "exe" / "wd"
    assert (out / "helper.txt").read_text() == "beside the script\n"  # relative reads of code files work
    assert (out / "pwd.txt").read_text().strip() == str(wd)
    # ignored files are not copied; ./outputs and ./logs are made as Azure ML makes them (test_sdk_defaults)
    assert sorted((out / "listing.txt").read_text().split()) == [".amlignore", "helper.txt", "logs", "outputs"]
    after = sorted(p.relative_to(project.root / "src").as_posix() for p in (project.root / "src").rglob("*"))
    assert after == before and (project.root / "src" / "helper.txt").read_text() == "beside the script\n"
    assert (wd / "mlruns" / "meta.yaml").exists() and (wd / "outputs" / "model.txt").exists()
    again = project.run()
    assert {s.name: s.status for s in again.steps} == {"train": "Reused"}


WRITERS_PIPELINE = """
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
settings: {continue_on_step_failure: true}
inputs:
  data: {type: uri_folder, path: ./data}
jobs:
  shell_writes:
    type: command
    inputs: {data: "${{parent.inputs.data}}"}
    outputs: {out: {type: uri_folder}}
    command: echo more >> ${{inputs.data}}/tenant_1.csv && echo ok > ${{outputs.out}}/o.txt
  subprocess_writes:
    type: parallel
    inputs: {data: "${{parent.inputs.data}}"}
    outputs: {out: {type: uri_folder}}
    input_data: ${{inputs.data}}
    mini_batch_size: "1"
    resources: {instance_count: 1}
    max_concurrency_per_instance: 1
    task:
      type: run_function
      code: ./src
      entry_script: entry.py
      environment: {image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04}
      append_row_to: ${{outputs.out}}
  download_copy:
    type: command
    inputs: {data: {type: uri_folder, path: ./scratch, mode: download}}
    outputs: {out: {type: uri_folder}}
    command: echo y > ${{inputs.data}}/new.txt
"""

SUBPROCESS_WRITER = """
import os, subprocess
def run(mini_batch):
    folder = os.path.dirname(mini_batch[0])
    subprocess.run(["touch", os.path.join(folder, "marker_" + os.path.basename(mini_batch[0]))], check=True)
    return mini_batch
"""


@pytest.mark.slow  # one pipeline of four steps (~2 s)
def test_every_writer_into_a_ro_mount_input_fails_the_step_saying_azure_mounts_it_read_only(project: Project):
    """[REF] ro_mount: a read-only mount, so any write fails on Azure ML, whoever writes it (a shell command, a
    subprocess, C code): the audit hook sees only Python's own writes, the input's tree signature (before/after the
    step) sees the rest. A download input is a private copy on Azure ML: a warning only."""
    quote("docs_excerpts.txt", "For read-only mount (`ro_mount`), the data will be consumed as a mount path.")
    project.tenants(2)
    (project.root / "scratch").mkdir()
    project.write("src/entry.py", SUBPROCESS_WRITER)
    project.write("pipeline.yml", WRITERS_PIPELINE)
    said = io.StringIO()
    run = project.run(reporter=Reporter(said, live=False))
    steps = {s.name: s for s in run.steps}
    assert {n: s.status for n, s in steps.items()} == {"shell_writes": "Failed", "subprocess_writes": "Failed",
                                                       "download_copy": "Completed"}
    for name, changed in (("shell_writes", "tenant_1.csv"), ("subprocess_writes", "marker_tenant_")):
        reason = steps[name].reason
        assert "input 'data'" in reason and "Azure ML mounts it read-only (mode: ro_mount" in reason, reason
        assert changed in reason and "Write to an output instead" in reason
    assert "It is a download input: Azure ML gives the step a private copy, so this works there" in said.getvalue()
