"""The live view in a real terminal: tmux at 80 columns, read back with capture-pane."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import Project

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")]

SLOW_SCRIPT = """\
import os, time
def init():
    time.sleep(0.5)
def run(mini_batch):
    name = os.path.basename(mini_batch[0])
    time.sleep(2.5 if name == "tenant_3.csv" else 0.4)
    if name in ("tenant_5.csv", "tenant_6.csv"):
        raise ValueError("bad tenant " + name)
    return [name]
"""


def _capture(session: str) -> list[str]:
    out = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
    return out.rstrip("\n").split("\n")


def test_the_live_view_fits_80_columns_and_leaves_no_stale_copies(project: Project):
    project.tenants(16)
    project.parallel_pipeline(SLOW_SCRIPT, name="score_every_tenant_with_a_long_step_name",
                              job={"mini_batch_error_threshold": 5, "max_concurrency_per_instance": 2,
                                   "retry_settings": {"max_retries": 1, "timeout": 30}})
    session = f"tenantml_live_{project.root.name}"[:60]
    command = textwrap.dedent(f"""\
        cd '{project.root}' && TENANTML_HOME='{project.home}' '{sys.executable}' -m tenantml run pipeline.yml \
        --max-workers 2; echo EXIT=$?; sleep 120""")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "40", command], check=True)
    try:
        captures: list[list[str]] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            lines = _capture(session)
            captures.append(lines)
            if any(line.startswith("EXIT=") for line in lines):
                break
            time.sleep(0.3)
        final = captures[-1]
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    assert "EXIT=0" in final, "\n".join(final)
    for lines in captures:
        assert all(len(line) <= 80 for line in lines)
        bars = [line for line in lines if "━" in line]
        assert len(bars) <= 1, "\n".join(lines)  # one block per running step: no stale copies
    during = [lines for lines in captures if any("━" in line for line in lines)]
    assert during, "the live view was never drawn"
    assert any(any("running now: tenant_" in line for line in lines) for lines in during)
    text = " ".join(final)  # a long line wraps at 80 columns (at a space)
    assert "FAILED after 2 attempt(s)" in text and "Run " in text and ": Completed" in text
    assert not any("━" in line for line in final)  # the view is gone once the run ended
