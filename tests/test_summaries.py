"""What ``show`` says: a step where nothing ran is not "every mini-batch succeeded", failures come
first, and tables fit the terminal."""

from __future__ import annotations

from pathlib import Path

from conftest import Project
from hypothesis import given
from hypothesis import strategies as st
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


# --------------------------------------------------------------------------- properties


@given(st.lists(st.tuples(st.integers(0, 3), st.floats(0.01, 30)), min_size=1, max_size=60),
       st.integers(1, 500))
def test_eta_is_never_negative_waits_for_three_finishes_and_only_counts_down_between_finishes(steps, total):
    from tenantml.progress import Eta

    eta, done, elapsed, last = Eta(), 0, 0.0, None
    for finished, waited in steps:
        done = min(total, done + finished)
        elapsed += waited
        value = eta.update(done, total - done, elapsed)
        if done < Eta.MIN_DONE and done < total:
            assert value is None
        if value is not None:
            assert value >= 0
            if finished == 0 and last is not None and done < total:
                assert value <= last + 1e-9  # no new information: it only counts down
        last = value


@given(st.lists(st.sampled_from(["KeyError: 'a{}'", "OSError: disk {}", "ValueError: x"]), min_size=1,
                max_size=200))
def test_grouped_failures_account_for_every_tenant(errors):
    from tenantml.backends.local.scheduler import group_failures

    failed = [(i, f"t_{i}.csv", e.format(i)) for i, e in enumerate(errors)]
    lines = group_failures(failed)
    if len(failed) <= 10:
        assert len(lines) == len(failed)
    else:
        assert sum(int(line.split(" x ", 1)[0]) for line in lines) == len(failed)
        assert len(lines) == len({e.split(":")[0] for e in errors})
