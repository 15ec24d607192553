"""What ``show`` says: a step where nothing ran is not "every mini-batch succeeded", failures come
first, and tables fit the terminal."""

from __future__ import annotations

from pathlib import Path

from conftest import Project
from test_inspect import cli, failed_run, home  # noqa: F401  (fixtures)

INIT_FAILS = """\
import argparse
def init():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model_dir", required=True)
    parser.parse_args()
def run(mini_batch):
    return mini_batch
"""


def test_show_failed_after_init_failed_everywhere_does_not_say_every_mini_batch_succeeded(project: Project):
    project.tenants(3)
    project.parallel_pipeline(INIT_FAILS)
    done = project.cli("run", "pipeline.yml")
    assert done.returncode == 1
    assert "init() failed" in done.stderr  # said on the console while it happened
    shown = project.cli("show", "--failed")
    assert "every mini-batch succeeded" not in shown.stdout
    assert "(no mini-batch ran: " in shown.stdout and "init() failed" in shown.stdout
    assert "tenantml logs " in shown.stdout  # the next command still points at the logs


def test_show_lists_failures_first_and_fits_the_terminal(failed_run: Path, capsys, monkeypatch):  # noqa: F811
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = cli(capsys, "show")
    assert code == 0
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    start = next(i for i, line in enumerate(lines) if line.startswith("  #  tenant"))
    states = [line.split()[0] for line in lines[start + 2:] if line.startswith("  ") and line.split()[0].isdigit()]
    assert states[:2] == ["2", "3"]  # failed (2), then unfinished (3, 4), then succeeded ones
    assert states[-1] in ("0", "1", "6")
    monkeypatch.delenv("COLUMNS")
    code, out, _ = cli(capsys, "show")  # not a terminal: whole rows for scripts
    assert max(len(line) for line in out.splitlines()) > 80


def test_the_closing_summary_groups_many_failures_by_error():
    from tenantml.backends.local.scheduler import group_failures

    few = [(i, f"t_{i}.csv", f"KeyError: 'store_{i}'") for i in range(3)]
    assert group_failures(few) == [f"#{i} t_{i}.csv: KeyError: 'store_{i}'" for i in range(3)]
    many = [(i, f"store={i}", f"KeyError: 'store_{i}'") for i in range(97)] + [(97, "store=97", "OSError: disk")]
    assert group_failures(many) == ["97 x KeyError: 'store_0'  (#0 store=0, #1 store=1, #2 store=2, ...)",
                                    "1 x OSError: disk  (#97 store=97)"]
