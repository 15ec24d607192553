"""The command line itself: fast help without heavy imports, exit codes, live progress."""

from __future__ import annotations

import io
import subprocess
import sys

from conftest import Project
from tenantml.policy import Tally
from tenantml.progress import Reporter, Snapshot


def test_help_imports_neither_pandas_nor_mltable_nor_the_runner():
    code = ("import sys; from tenantml.cli import main; main(['--help']); "
            "print(sorted(m for m in ('pandas', 'mltable', 'numpy', 'yaml', 'tenantml.backends.local') if m in sys.modules))")
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


def test_plain_progress_lines_when_not_a_terminal_and_a_redrawn_line_on_one():
    snap = Snapshot("training", Tally(10, processed=4, failed_mini_batches=1, items=4, succeeded_items=3,
                                      failed_items=1), running=2, retrying=1, elapsed=8.0)
    plain = io.StringIO()
    Reporter(plain, live=False, interval=0).progress(snap)
    assert plain.getvalue() == ("training: 4/10 mini-batches done, 1 failed, 1 retrying, 2 running; "
                                "items 3 ok / 1 failed; 8.0s, ETA 12.0s\n")
    live = io.StringIO()
    reporter = Reporter(live, live=True)
    reporter.progress(snap, force=True)
    reporter.event("training", "mini-batch 3 FAILED")
    text = live.getvalue()
    assert text.startswith("\r\033[K") and "ETA 12.0s" in text and "\r\033[Ktraining: mini-batch 3 FAILED\n" in text


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
