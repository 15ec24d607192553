"""``tenantml runs``, ``show`` and ``logs`` read run folders back: fixtures in the run-folder layout
(the same a cloud run is downloaded into), and one real local run read through the CLI."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest

from conftest import Project
from tenantml.cli import main
from tenantml.runfolder.errorlogs import read_error_file
from tenantml.runfolder.ledgerfold import fold_ledger

HEADER = ("mini_batch,attempt,label,node,process,pid,start,duration_s,items,succeeded,failed,outcome,final,"
          "error_type,error_message")
T0 = 1732240000.0


# --------------------------------------------------------------------------- fixture writers
def write_run(home: Path, run_id: str, *, status: str = "Completed", started: float = T0,
              ended: float | None = T0 + 100, steps: dict | None = None, pipeline: str = "/abs/pipeline.yml",
              **extra) -> Path:
    folder = home / "runs" / run_id
    folder.mkdir(parents=True)
    record = {"run_id": run_id, "pipeline": pipeline, "backend": "local", "status": status,
              "started": started, "ended": ended, "steps": steps or {}, **extra}
    (folder / "run.json").write_text(json.dumps(record), encoding="utf-8")
    return folder


def write_ledger(logs: Path, rows: list[str], *, torn: str | None = None) -> Path:
    path = logs / "sys" / "job_report" / "processed_mini-batches.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER, *rows]) + "\n" + (torn or ""), encoding="utf-8")
    return path


def row(mb: int, attempt: int, label: str, outcome: str, final: bool, *, items: int = 1, process: str = "process000",
        error: str = "") -> str:
    ok = outcome in ("succeeded", "empty")
    succeeded = items if ok else (items - 1 if outcome == "short_return" else 0)
    etype = error.split(":")[0] if error else ""
    quoted_label = f'"{label}"' if "," in label else label
    return (f"{mb},{attempt},{quoted_label},node_0,{process},4242,2024-11-22T03:06:40.000,0.500,{items},"
            f"{succeeded},{items - succeeded},{outcome},{final},{etype},{error}")


TRACEBACK = """\
Traceback (most recent call last):
  File "/src/entry.py", line 7, in run
    raise ValueError("bad tenant")
ValueError: bad tenant {n}
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "tm"
    monkeypatch.setenv("TENANTML_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def failed_run(home: Path) -> Path:
    """Run ``train_1`` (Failed): prep (command, Completed), score (parallel, Failed), report (Skipped).

    score's mini-batches: 0 succeeded; 1 failed twice then succeeded on a resume (last row wins);
    2 failed after 3 attempts (traceback in process001); 3 retry pending (not final);
    4 timed out, then interrupted; 5 short return (succeeded, one item lost); 6 partition keys.
    """
    folder = write_run(home, "train_1", status="Failed", steps={
        "prep": {"type": "command", "status": "Completed", "reason": "", "started": T0, "ended": T0 + 5,
                 "reused_from": None, "outputs": {"clean": "/abs/clean"}},
        "score": {"type": "parallel", "status": "Failed", "reason": "mini_batch_error_threshold is 0 and 1 "
                  "failed mini-batches exceeded it", "started": T0 + 5, "ended": T0 + 95},
        "report": {"type": "command", "status": "Skipped", "reason": "'score' did not complete"}})
    logs = folder / "score" / "logs"
    write_ledger(logs, [
        row(0, 1, "tenant_0.csv", "succeeded", True),
        row(1, 1, "tenant_1.csv", "raised", False, error="ValueError: bad tenant 1"),
        row(2, 1, "tenant_2.csv", "raised", False, process="process001", error="KeyError: 'price'"),
        row(1, 2, "tenant_1.csv", "raised", True, error="ValueError: bad tenant 1"),
        row(2, 2, "tenant_2.csv", "raised", False, process="process001", error="KeyError: 'price'"),
        row(2, 3, "tenant_2.csv", "raised", True, process="process001", error="KeyError: 'price'"),
        row(3, 1, "tenant_3.csv", "raised", False, error="OSError: disk"),
        row(4, 1, "tenant_4.csv", "timeout", False, error="Timeout: run() exceeded 30 s"),
        row(5, 1, "tenant_5.csv", "short_return", True, items=3),
        row(6, 1, "store=1, brand=x", "succeeded", True, items=4),
        row(1, 3, "tenant_1.csv", "succeeded", True),  # a resumed run appended this
        row(4, 2, "tenant_4.csv", "interrupted", True),
    ])
    errors = logs / "user" / "error" / "node_0"
    errors.mkdir(parents=True)
    (errors / "process000.txt").write_text(
        "2024-11-22 03:06:40 process000 failed in run() of mini-batch 1 attempt 1:\n" + TRACEBACK.format(n=1) +
        "\n2024-11-22 03:06:41 process000 failed in run() of mini-batch 1 attempt 2:\n" + TRACEBACK.format(n=1) +
        "\n2024-11-22 03:06:42 process000 failed in run() of mini-batch 3 attempt 1:\nOSError: disk\n"
        "2024-11-22 03:07:12 mini-batch 4 attempt 1: the worker process was killed after retry_settings.timeout"
        " = 30 s\n", encoding="utf-8")
    (errors / "process001.txt").write_text(
        "2024-11-22 03:06:39 process001 failed in init():\nTraceback (most recent call last):\n"
        "RuntimeError: warming up\n"
        + "".join(f"2024-11-22 03:06:4{a} process001 failed in run() of mini-batch 2 attempt {a}:\n"
                  f"Traceback (most recent call last):\n  File \"/src/entry.py\", line 9, in run\n"
                  f"KeyError: 'price' (attempt {a})\n" for a in (1, 2, 3)), encoding="utf-8")
    (logs / "job_result.txt").write_text(
        "Status: Failed\nReason: mini_batch_error_threshold is 0 and 1 failed mini-batches exceeded it\n"
        "Mini-batches: 8 scheduled, 5 processed, 4 succeeded, 1 failed\nElapsed: 90.0 s\n", encoding="utf-8")
    std = folder / "prep" / "logs" / "user_logs" / "std_log.txt"
    std.parent.mkdir(parents=True)
    std.write_text("".join(f"prep line {i}\n" for i in range(1, 121)), encoding="utf-8")
    return folder


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def show_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    code, out, err = cli(capsys, "show", *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def by_index(step: dict) -> dict[int, dict]:
    return {mb["mini_batch"]: mb for mb in step["mini_batches"]}


# --------------------------------------------------------------------------- show
def test_show_json_folds_attempts_and_the_last_row_wins(failed_run: Path, capsys):
    view = show_json(capsys, "train_1")
    assert view["run_id"] == "train_1" and view["status"] == "Failed" and view["duration_s"] == 100.0
    assert view["next_command"] == "tenantml run /abs/pipeline.yml --resume train_1"
    steps = {s["job"]: s for s in view["steps"]}
    assert list(steps) == ["prep", "score", "report"]
    assert steps["prep"]["type"] == "command" and steps["prep"]["duration_s"] == 5.0
    assert steps["prep"]["mini_batches"] == [] and steps["prep"]["counts"] is None
    score = steps["score"]
    assert score["counts"] == {"scheduled": 8, "seen": 7, "succeeded": 4, "failed": 1, "unfinished": 2,
                               "items": 12, "succeeded_items": 8, "failed_items": 2}
    mbs = by_index(score)
    assert sorted(mbs) == [0, 1, 2, 3, 4, 5, 6]
    # failed twice, then succeeded on a resume: the last row decides, every attempt is counted
    assert (mbs[1]["state"], mbs[1]["attempts"], mbs[1]["outcome"]) == ("succeeded", 3, "succeeded")
    assert mbs[1]["error_log"] is None and mbs[1]["last_error"] == "ValueError: bad tenant 1"
    assert (mbs[2]["state"], mbs[2]["attempts"], mbs[2]["error_type"]) == ("failed", 3, "KeyError")
    assert mbs[2]["error_log"].endswith("score/logs/user/error/node_0/process001.txt")
    assert mbs[3]["state"] == "unfinished" and not mbs[3]["final"]  # retry pending
    assert mbs[4]["state"] == "unfinished" and mbs[4]["outcome"] == "interrupted" and mbs[4]["attempts"] == 2
    assert mbs[4]["error_log"].endswith("process000.txt")  # the coordinator's kill message
    assert (mbs[5]["state"], mbs[5]["failed_items"]) == ("succeeded", 1)
    assert mbs[6]["label"] == "store=1, brand=x" and mbs[6]["items"] == 4


def test_show_failed_keeps_only_what_did_not_succeed(failed_run: Path, capsys):
    view = show_json(capsys, "train_1", "--failed")
    assert [s["job"] for s in view["steps"]] == ["score", "report"]  # prep completed
    score = view["steps"][0]
    assert sorted(by_index(score)) == [2, 3, 4, 5]  # failed, retry pending, interrupted, short return
    assert score["counts"]["seen"] == 7  # counts stay over every mini-batch

    code, out, _ = cli(capsys, "show", "train_1", "--failed")
    assert code == 0
    table = out[out.index("score: mini-batches"):]
    assert "tenant_2.csv" in table and "KeyError: 'price'" in table and "process001.txt" in table
    assert "tenant_0.csv" not in table and "tenant_1.csv" not in table and "store=1, brand=x" not in table
    assert "tenantml run /abs/pipeline.yml --resume train_1" in out
    assert "tenantml logs train_1 score --mini-batch 2" in out


def test_show_table_names_steps_tenants_and_the_next_command(failed_run: Path, capsys):
    code, out, _ = cli(capsys, "show")  # no id: the latest (only) run
    assert code == 0
    assert out.startswith("Run train_1: Failed")
    assert "folder:   tm/runs/train_1" in out
    steps = out[out.index("step "):out.index("score: mini-batches")]
    assert [line.split()[:3] for line in steps.strip().splitlines()[2:]] == [
        ["prep", "command", "Completed"], ["score", "parallel", "Failed"], ["report", "command", "Skipped"]]
    assert "1m30s" in steps and "5.0s" in steps
    assert "score: mini-batches of 8 scheduled: 4 succeeded, 1 failed, 2 unfinished, 1 never started" in out
    assert "store=1, brand=x" in out
    assert "run() returned 2 result(s) for 3 item(s)" in out  # the short return of mini-batch 5


def test_show_csv_has_a_stable_header_and_one_row_per_mini_batch(failed_run: Path, capsys):
    code, out, _ = cli(capsys, "show", "train_1", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert out.splitlines()[0] == ("run_id,job,step_status,mini_batch,label,items,attempts,outcome,state,"
                                   "succeeded_items,failed_items,error_type,last_error,error_log")
    assert [r["mini_batch"] for r in rows] == ["0", "1", "2", "3", "4", "5", "6"]
    assert {r["job"] for r in rows} == {"score"}
    assert rows[6]["label"] == "store=1, brand=x"
    failed = list(csv.DictReader(io.StringIO(cli(capsys, "show", "train_1", "--failed", "--format", "csv")[1])))
    assert [(r["mini_batch"], r["state"]) for r in failed] == [
        ("2", "failed"), ("3", "unfinished"), ("4", "unfinished"), ("5", "succeeded")]


def test_show_job_option_and_unknown_job(failed_run: Path, capsys):
    view = show_json(capsys, "train_1", "--job", "prep")
    assert [s["job"] for s in view["steps"]] == ["prep"]
    code, _, err = cli(capsys, "show", "train_1", "--job", "scroe")
    assert code == 2 and "did you mean 'score'?" in err and "Traceback" not in err


def test_run_ids_exact_latest_unique_prefix_ambiguous_and_unknown(home: Path, capsys):
    write_run(home, "score_20241122_030000_ab12", started=T0)
    write_run(home, "score_20241122_040000_cd34", started=T0 + 3600, status="Failed")
    write_run(home, "train_20241122_050000_ef56", started=T0 + 7200)
    assert show_json(capsys, "train")["run_id"] == "train_20241122_050000_ef56"  # unique prefix
    assert show_json(capsys, "score_20241122_04")["run_id"] == "score_20241122_040000_cd34"
    assert show_json(capsys)["run_id"] == "train_20241122_050000_ef56"  # latest by start time
    assert show_json(capsys, "latest")["run_id"] == "train_20241122_050000_ef56"

    code, _, err = cli(capsys, "show", "score_")
    assert code == 2 and "matches 2 runs" in err and "score_20241122_030000_ab12" in err

    code, out, err = cli(capsys, "show", "score_20241122_040000_cd35")
    assert code == 2 and out == ""
    assert "no run 'score_20241122_040000_cd35'" in err and "did you mean 'score_20241122_040000_cd34'?" in err
    assert "Traceback" not in err

    code, _, err = cli(capsys, "logs", "qqq", "score")
    assert code == 2 and "'tenantml runs' lists the runs" in err


def test_no_runs(home: Path, capsys):
    code, out, err = cli(capsys, "runs")
    assert code == 0 and "No runs in" in out and "tenantml run pipeline.yml" in out
    assert json.loads(cli(capsys, "runs", "--format", "json")[1]) == []
    code, out, err = cli(capsys, "show")
    assert code == 2 and "there are no runs in" in err and "TENANTML_HOME" in err


def test_missing_optional_fields_and_files_are_tolerated(home: Path, capsys):
    folder = home / "runs" / "bare"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"run_id": "bare", "steps": {"score": {"status": "Running"}}}))
    logs = folder / "score" / "logs"
    write_ledger(logs, [row(0, 1, "a.csv", "succeeded", True), row(1, 1, "b.csv", "raised", False, error="X: y")],
                 torn="2,1,c.csv,node_0,proc")  # a killed writer's torn last line is dropped
    view = show_json(capsys, "bare")
    assert view["status"] == "Unknown" and view["started"] is None and view["next_command"] is None
    step = view["steps"][0]
    assert step["type"] == "parallel" and step["status"] == "Running" and step["duration_s"] is None
    assert sorted(by_index(step)) == [0, 1] and by_index(step)[1]["error_log"] is None
    code, out, _ = cli(capsys, "show", "bare")
    assert code == 0 and "Run bare: Unknown" in out
    code, out, _ = cli(capsys, "logs", "bare", "score")
    assert code == 0 and "no job_result.txt yet" in out


def test_a_reused_step_shows_the_mini_batches_of_the_run_it_reused(home: Path, capsys):
    source = write_run(home, "first", started=T0, steps={"score": {"type": "parallel", "status": "Completed"}})
    write_ledger(source / "score" / "logs", [row(0, 1, "a.csv", "succeeded", True)])
    write_run(home, "second", started=T0 + 10,
              steps={"score": {"type": "parallel", "status": "Reused", "reused_from": "first"}})
    step = show_json(capsys, "second")["steps"][0]
    assert step["reused_from"] == "first" and step["logs"].endswith("runs/first/score/logs")
    assert [mb["label"] for mb in step["mini_batches"]] == ["a.csv"]
    assert show_json(capsys, "second", "--failed")["steps"] == []


# --------------------------------------------------------------------------- runs
def test_runs_lists_newest_first_with_a_step_summary_and_a_limit(failed_run: Path, home: Path, capsys):
    write_run(home, "later", started=T0 + 500, ended=T0 + 565,
              steps={"a": {"status": "Completed"}, "b": {"status": "Completed"}})
    write_run(home, "running_now", status="Running", started=time.time() - 5, ended=None)
    code, out, _ = cli(capsys, "runs")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["run", "id", "status"]
    assert [line.split()[0] for line in lines[2:]] == ["running_now", "later", "train_1"]
    assert "2 Completed" in lines[3] and "1m05s" in lines[3]
    assert "1 Completed, 1 Failed, 1 Skipped" in lines[4] and "/abs/pipeline.yml" in lines[4]
    records = json.loads(cli(capsys, "runs", "--format", "json", "--limit", "2")[1])
    assert [r["run_id"] for r in records] == ["running_now", "later"]
    assert records[0]["duration_s"] >= 5 and records[1]["steps"] == {"a": "Completed", "b": "Completed"}
    code, out, _ = cli(capsys, "runs", "--limit", "1")
    assert "(2 older runs not shown; --limit 0 shows all)" in out


# --------------------------------------------------------------------------- logs
def test_logs_of_a_command_step_is_the_tail_of_std_log(failed_run: Path, capsys):
    code, out, _ = cli(capsys, "logs", "train", "prep", "--tail", "3")
    assert code == 0
    assert "logs: tm/runs/train_1/prep/logs" in out and "(last 3 of 120 lines)" in out
    assert out.rstrip().splitlines()[-3:] == ["prep line 118", "prep line 119", "prep line 120"]
    code, _, err = cli(capsys, "logs", "train", "prep", "--mini-batch", "1")
    assert code == 2 and "command step" in err


def test_logs_of_a_parallel_step_shows_job_result_and_the_last_tracebacks(failed_run: Path, capsys):
    code, out, _ = cli(capsys, "logs", "train_1", "score")
    assert code == 0
    assert "Status: Failed" in out and "Reason: mini_batch_error_threshold" in out
    assert "failed in init():" in out and "RuntimeError: warming up" in out  # outside any mini-batch
    assert "KeyError: 'price' (attempt 3)" in out and "(attempt 1)" not in out  # only the last attempt
    assert "mini-batch 4 attempt 1:" in out and "killed after retry_settings.timeout" in out
    assert "bad tenant 1" not in out  # mini-batch 1 succeeded on the resume


def test_logs_of_one_mini_batch_prints_each_attempt_and_its_traceback(failed_run: Path, capsys):
    code, out, _ = cli(capsys, "logs", "train_1", "score", "--mini-batch", "2")
    assert code == 0
    assert "mini-batch 2 (tenant_2.csv): failed, 1 item(s), 3 attempt(s)" in out
    assert [line.split()[0] for line in out.split("attempt  outcome")[1].splitlines()[2:5]] == ["1", "2", "3"]
    for attempt in (1, 2, 3):
        assert f"failed in run() of mini-batch 2 attempt {attempt}:" in out
        assert f"KeyError: 'price' (attempt {attempt})" in out
    assert "process001.txt]" in out and "mini-batch 1 " not in out
    code, _, err = cli(capsys, "logs", "train_1", "score", "--mini-batch", "99")
    assert code == 2 and "no mini-batch 99" in err and "0..6" in err


def test_error_file_entries_split_worker_tracebacks_from_coordinator_lines(failed_run: Path):
    entries = read_error_file(failed_run / "score" / "logs" / "user" / "error" / "node_0" / "process000.txt")
    assert [(e.mini_batch, e.attempt) for e in entries] == [("1", "1"), ("1", "2"), ("3", "1"), ("4", "1")]
    assert entries[0].body.startswith("Traceback (most recent call last):")
    assert entries[0].body.endswith("ValueError: bad tenant 1")
    assert entries[3].header == "mini-batch 4 attempt 1:"
    assert entries[3].body == "the worker process was killed after retry_settings.timeout = 30 s"
    states = fold_ledger(failed_run / "score" / "logs" / "sys" / "job_report" / "processed_mini-batches.csv")
    assert [s.state for s in states] == ["succeeded", "succeeded", "failed", "unfinished", "unfinished",
                                         "succeeded", "succeeded"]


def test_help_lists_the_inspection_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("runs", "show", "logs"))


# --------------------------------------------------------------------------- end to end
def test_show_reads_a_real_local_run_through_the_cli(project: Project):
    project.tenants(3)
    project.parallel_pipeline(
        "import os\n"
        "def run(mini_batch):\n"
        "    if any('tenant_2' in f for f in mini_batch):\n"
        "        raise ValueError('no model for tenant_2')\n"
        "    return [os.path.basename(f) for f in mini_batch]\n",
        job={"mini_batch_error_threshold": 0, "retry_settings": {"max_retries": 0, "timeout": 30}})
    run = project.run()
    # (with retries, a zero threshold stops at the first failed try: a mini-batch awaiting a retry counts)
    assert run.status == "Failed"

    done = project.cli("show", "--format", "json")
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)
    assert view["run_id"] == run.run_id and view["status"] == "Failed"
    assert view["next_command"] == f"tenantml run pipeline.yml --resume {run.run_id}"
    score = view["steps"][0]
    assert score["job"] == "score" and score["type"] == "parallel" and score["status"] == "Failed"
    failed = [mb for mb in score["mini_batches"] if mb["state"] == "failed"]
    assert [(mb["label"], mb["attempts"], mb["error_type"]) for mb in failed] == [("tenant_2.csv", 1, "ValueError")]
    assert "no model for tenant_2" in Path(failed[0]["error_log"]).read_text()
    assert score["counts"]["failed"] == 1

    table = project.cli("show", run.run_id[:-2], "--failed")
    assert table.returncode == 0, table.stderr
    assert "tenant_2.csv" in table.stdout and "tenant_1.csv" not in table.stdout
    assert "ValueError: no model for tenant_2" in table.stdout
    assert f"tenantml run pipeline.yml --resume {run.run_id}" in table.stdout

    logs = project.cli("logs", run.run_id, "score", "--mini-batch", str(failed[0]["mini_batch"]))
    assert logs.returncode == 0, logs.stderr
    assert "Traceback (most recent call last):" in logs.stdout and "no model for tenant_2" in logs.stdout


def test_time_spent_on_a_mini_batch_sums_its_attempts_and_skips_what_is_no_duration(tmp_path: Path):
    """The report's "time" column: every attempt's Elapsed Seconds, as written or as a fetched
    Azure ML file may hold them (empty, garbage, nan, negative: left out, never a crash)."""
    import csv

    from tenantml.ledger_columns import HEADER_NAMES, disk_values

    ledger = tmp_path / "processed_mini-batches.csv"
    rows = [("0", "1", "1.5", "raised", "false"), ("0", "2", "2.25", "succeeded", "true"),
            ("1", "1", "", "raised", "false"), ("1", "2", "nan", "raised", "false"),
            ("1", "3", "-4", "raised", "false"), ("1", "4", "soon", "raised", "true")]
    with ledger.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(HEADER_NAMES)
        for mb, attempt, seconds, outcome, final in rows:
            out.writerow(disk_values({"mini_batch": mb, "attempt": attempt, "duration_s": seconds,
                                      "outcome": outcome, "final": final, "node": "node_0", "process": "p0"}))
    first, second = fold_ledger(ledger)
    assert (first.attempts, first.seconds, first.state) == (2, 3.75, "succeeded")
    assert (second.attempts, second.seconds, second.state) == (4, 0.0, "failed")
