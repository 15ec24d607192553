"""Azure ML's failure accounting, case by case, against tenantml's policy and runner.

Where sources disagree the case says which wins and why; docs/semantics.md has the same table.
"""

from __future__ import annotations

from conftest import Project, job_dir
from evidence import quote
from loading import load
from tenantml.minibatch_size import parse_mini_batch_size
from tenantml.policy import (FinalResult, Outcome, Pending, Step, Tally, Thresholds, breach, init_breach,
                             init_failure_limit, init_stuck, init_stuck_limit, next_step, verdict)


def test_a_mini_batch_gets_max_retries_plus_one_tries():
    """[REF] max_retries: "If all retries are failed, the mini-batch will be marked as failed". A real v1 log shows
    the final failure at "dequeue_count": 3 with run_max_try 3 (MLOpsPython #328), i.e. tries = retries + 1."""
    quote("worker_failed_to_process_MLOpsPython-328.txt", '"dequeue_count": 3')
    assert next_step(3, Outcome.RAISED, max_retries=2) is Step.FAILED
    assert next_step(2, Outcome.RAISED, max_retries=2) is Step.RETRY


def test_a_mini_batch_waiting_for_a_retry_counts_toward_the_thresholds():
    """Sources disagree. [REF]: counted "If all retries are failed". azureml-pipeline-core's docstring (the runtime
    owners'): "Checking between the first and second time will count it as failed." Wins: the docstring — it
    describes the runtime's periodic check, which can land between two tries, so the job *may* fail on Azure ML;
    tenantml counts it every time so that what may fail there fails here first."""
    quote("docs_excerpts.txt", "Checking between the first and second time will count it as failed.")
    th = Thresholds(max_retries=2, mini_batch_error_threshold=0)
    assert breach(th, Tally(3), Pending(1, 1)) is not None
    assert breach(th, Tally(3)) is None  # once its retry succeeded it no longer counts


def test_a_transient_failure_fails_a_zero_threshold_job(project: Project):
    project.tenants(2)
    project.write("state/.keep", "")
    project.parallel_pipeline(f"""
import os
def run(mini_batch):
    marker = os.path.join({str(project.root / 'state')!r}, os.path.basename(mini_batch[0]))
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("transient")
    return mini_batch
""", job={"mini_batch_error_threshold": 0, "retry_settings": {"max_retries": 2, "timeout": 30}})
    run = project.run()
    assert run.status == "Failed"
    assert "wait for a retry" in (job_dir(run) / "logs" / "job_result.txt").read_text()


def test_allowed_failed_percent_is_judged_once_all_are_scheduled_not_once_all_are_processed():
    """azureml-pipeline-core: "The check starts after all mini batches have been scheduled." Locally division ends
    before the first check, so the percent of all scheduled mini-batches is judged on every check."""
    quote("docs_excerpts.txt", "The check starts after all mini batches have been scheduled.")
    th = Thresholds(allowed_failed_percent=5)
    tally = Tally(10).add(FinalResult(1, 0, True))  # 1 of 10 processed, and it failed: 10 % > 5 %
    assert not tally.complete and breach(th, tally) is not None
    assert verdict(th, tally).status == "Failed"


def test_init_failure_rules_per_node_and_per_job():
    """[DBG] "3 * process_count_per_node" per node; "more than 2 minutes and ... 2 * node_count *
    process_count_per_node failures" per job."""
    quote("docs_excerpts.txt", "we will stop trying after `3 * process_count_per_node` failures.")
    quote("docs_excerpts.txt", "we will stop trying if job runs more than 2 minutes and there're "
          "`2 * node_count * process_count_per_node` failures.")
    assert init_failure_limit(4) == 12
    assert init_breach(121, 2 * 3 * 4, False, 3, 4) is not None
    assert init_breach(119, 100, False, 3, 4) is None  # not yet 2 minutes
    assert init_breach(121, 2 * 3 * 4 - 1, False, 3, 4) is None
    assert init_breach(121, 100, True, 3, 4) is None  # init works somewhere: it does not keep failing on all


def test_every_worker_stuck_in_init_fails_the_job_after_three_timeouts_and_thirty_seconds():
    """[DBG] "stuck on `init` for more than `3 * run_invocation_timeout + 30` seconds". The YAML reference says
    --progress_update_timeout is "Dynamically calculated by other settings" without a formula: this is the only
    published one, and the only derived progress rule tenantml applies (an explicit flag is honoured as given)."""
    quote("docs_excerpts.txt", "If all agents are stuck on `init` for more than `3 * run_invocation_timeout + 30` seconds")
    quote("docs_excerpts.txt", "--progress_update_timeout: Dynamically calculated by other settings.")
    assert init_stuck_limit(60) == 210
    assert init_stuck(True, 211, 60) is not None
    assert init_stuck(True, 209, 60) is None and init_stuck(False, 10_000, 60) is None


def test_error_threshold_as_a_float_in_program_arguments_is_taken(project: Project):
    """The SDK passes program_arguments as text (transcript: REST "program_arguments": "--error_threshold 5.0");
    the runtime's parsing is not published (weak evidence). Decision: a number is taken, truncated as azure-ai-ml
    truncates the YAML key error_threshold (transcript: 5.5 -> 5)."""
    quote("sdk-validation-transcript.txt", "program_arguments: --error_threshold 5.0")
    project.tenants(1)
    project.parallel_pipeline("def run(mb):\n    return mb\n", task={"program_arguments": "--error_threshold 5.0"})
    assert load(project.pipeline, project.home).jobs["score"].error_threshold == 5
    project.parallel_pipeline("def run(mb):\n    return mb\n", task={"program_arguments": "--error_threshold 5.5"})
    pipeline = load(project.pipeline, project.home)
    assert pipeline.jobs["score"].error_threshold == 5 and any("truncated" in w for w in pipeline.warnings)


def test_a_size_with_a_unit_on_file_input_is_that_many_files(project: Project):
    """azure-ai-ml Parallel.__init__ turns "10kb" into 10240 whatever the input (transcript: 'mbs': 10240 on a
    uri_folder input); [REF] for folder input "this number defines the file count for each mini-batch"."""
    quote("sdk-validation-transcript.txt", "'mbs': 10240")
    quote("docs_excerpts.txt", "for folder input, this number defines the file count for each mini-batch.")
    assert parse_mini_batch_size("10kb", tabular=False) == 10240
    project.tenants(1)
    project.parallel_pipeline("def run(mb):\n    return mb\n", job={"mini_batch_size": "10kb"})
    pipeline = load(project.pipeline, project.home)
    assert any("10240 files per mini-batch" in w for w in pipeline.warnings)
