"""The command line itself: fast help without heavy imports, exit codes, live progress."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from conftest import Project
from tenantml.policy import Tally
from tenantml.progress import Eta, Reporter, Snapshot


def test_help_imports_neither_pandas_nor_mltable_nor_the_runner():
    code = ("import sys; from tenantml.cli import main; main(['--help']); "
            "print(sorted(m for m in ('pandas', 'mltable', 'numpy', 'yaml', 'rich', 'tenantml.backends.local') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
    assert "run" in out and "validate" in out


def test_exit_codes_completed_and_failed(project: Project):
    project.tenants(2)
    project.parallel_pipeline("def run(mini_batch):\n    return mini_batch\n")
    done = project.cli("run", "pipeline.yml")
    assert done.returncode == 0, done.stderr
    assert "Completed" in done.stdout
    project.parallel_pipeline("def run(mini_batch):\n    raise KeyError('tenant config')\n",
                              job={"mini_batch_error_threshold": 0, "retry_settings": {"max_retries": 0, "timeout": 9}})
    failed = project.cli("run", "pipeline.yml")
    assert failed.returncode == 1
    assert "#0 tenant_1.csv: KeyError: 'tenant config'" in failed.stdout  # the summary names the tenant
    assert "Traceback" not in failed.stderr


def test_plain_progress_lines_when_not_a_terminal_and_a_live_view_on_one():
    snap = Snapshot("training", Tally(10, processed=4, failed_mini_batches=1, items=4, succeeded_items=3,
                                      failed_items=1), running=2, retrying=1, elapsed=8.0,
                    now_running=(("tenant_7.csv", 5.0), ("tenant_8.csv", 1.0)))
    plain = io.StringIO()
    Reporter(plain, live=False, interval=0).progress(snap)
    # one finished mini-batch's worth of rate is no estimate: no ETA yet (it would jump)
    assert plain.getvalue() == ("training: 4/10 mini-batches done, 1 failed, 1 retrying, 2 running; "
                                "items 3 ok / 1 failed; 8.0s; running now: tenant_7.csv 5.0s, tenant_8.csv 1.0s\n")
    live = io.StringIO()
    reporter = Reporter(live, live=True)
    reporter.progress(snap, force=True)
    reporter.event("training", "mini-batch 3 FAILED")
    reporter.finish_line()
    text = live.getvalue()
    assert "training: mini-batch 3 FAILED" in text and "tenant_7.csv" in text and "4/10" in text
    assert "\x1b[" in text  # drawn in place


def test_a_failed_command_step_shows_the_tail_of_its_output_and_the_next_command(project: Project):
    project.write("pipeline.yml", """
        type: pipeline
        jobs:
          prepare:
            type: command
            command: >-
              echo reading raw data; echo "KeyError: 'tenant'" >&2; exit 1
        """)
    result = project.cli("run", "pipeline.yml")
    assert result.returncode == 1
    assert "| KeyError: 'tenant'" in result.stdout
    assert "--resume" in result.stdout and "tenantml show" in result.stdout


def test_eta_waits_for_a_rate_counts_this_session_only_and_does_not_jump():
    eta = Eta()
    assert eta.update(0, 80, 20.0) is None  # workers in init(): nothing to measure
    assert eta.update(1, 79, 25.0) is None  # the first finish starts the clock
    assert eta.update(2, 78, 26.0) is None
    first = eta.update(3, 77, 27.0)
    assert first == pytest.approx(77 * 2 / 2)  # from the first finish on: init() time does not count
    # a sudden burst of finishes moves the estimate a fifth of the way, not all of it
    burst = eta.update(40, 40, 28.0)
    assert burst is not None and burst > (first - 1) * 0.5
    # a resume: the 50 kept mini-batches are not this session's work, so no "0.0s" at its start
    snap = Snapshot("t", Tally(80, processed=50), running=2, retrying=0, elapsed=0.5, kept=50)
    assert snap.eta() is None
    out = io.StringIO()
    Reporter(out, live=False, interval=0).progress(snap)
    assert "ETA" not in out.getvalue()


def test_many_failures_with_one_error_are_grouped():
    out = io.StringIO()
    reporter = Reporter(out, live=False)
    for i in range(99):
        reporter.failure("score", "failed", f"mini-batch {i} (store={i}) FAILED after 3 attempt(s): "
                         f"KeyError: 'store_{i}'", f"KeyError: 'store_{i}'")
    reporter.failure("score", "failed", "mini-batch 99 FAILED: ValueError: other", "ValueError: other")
    reporter.finish_line()
    lines = out.getvalue().splitlines()
    assert len(lines) == 5
    assert lines[3] == "score: mini-batch 99 FAILED: ValueError: other"
    assert lines[4].startswith("score: ... and 96 more mini-batches failed with the same error: KeyError")
