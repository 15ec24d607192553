"""``tenantml logs RUN_ID JOB``: where a step's logs are, and the part of them worth reading first.

A command step: the tail of ``user_logs/std_log.txt``. A parallel step: ``job_result.txt``, then
the traceback of the last attempt of every mini-batch that did not succeed, and the errors that
belong to no mini-batch (import, ``init()``, ``shutdown()``). ``--mini-batch N``: every attempt
of that mini-batch and each attempt's traceback. ``latest`` stands for the latest run.
"""

from __future__ import annotations

import argparse
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from tenantml.errors import UserError
from tenantml.inspect_runs import (
    ERROR_DIR,
    JOB_RESULT,
    LEDGER,
    STD_LOG,
    ErrorEntry,
    StepView,
    Verdict,
    clip,
    display_path,
    error_entries,
    iter_ledger,
    pick_job,
    read_step,
    render_table,
    resolve_run,
)
from tenantml.locations import home

MAX_TRACEBACKS = 10


def add_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] = ()) -> None:
    parser.add_argument("run_id", metavar="RUN_ID", help="a run id, a unique prefix of one, or 'latest'")
    parser.add_argument("job", metavar="JOB", help="the job (step) of the pipeline")
    parser.add_argument("--mini-batch", default=None, metavar="N",
                        help="every attempt of mini-batch N of a parallel step, with its tracebacks")
    parser.add_argument("--tail", type=int, default=50, metavar="N",
                        help="lines of a command step's std_log.txt to print (default 50; 0 prints all)")


def execute(args: argparse.Namespace) -> int:
    where = home()
    run = resolve_run(where, args.run_id)
    step = read_step(run, pick_job(run, args.job), where)
    print(f"Step '{step.job}' ({step.type}, {step.status}) of run {run.run_id}")
    if step.reused_from:
        print(f"  reused from run {step.reused_from}")
    if step.logs is None:
        print(f"  no logs folder: {display_path(run.folder / step.job / 'logs')} does not exist"
              + (f" ({step.reason})" if step.reason else ""))
        return 0
    print(f"  logs: {display_path(step.logs)}")
    if args.mini_batch is not None:
        if step.type != "parallel":
            raise UserError(f"'{step.job}' is a {step.type} step; it has no mini-batches.", key="--mini-batch",
                            fix=f"drop --mini-batch: tenantml logs {run.run_id} {step.job}")
        _one_mini_batch(step, str(args.mini_batch).strip())
    elif step.type == "parallel":
        _parallel(step)
    else:
        _command(step.logs, args.tail)
    return 0


def _command(logs: Path, tail: int) -> None:
    path = logs / STD_LOG
    if not path.is_file():
        print(f"\n(no {STD_LOG.as_posix()} yet)")
        _list_files(logs)
        return
    total = 0
    kept: deque[str] = deque(maxlen=tail if tail > 0 else None)
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            total += 1
            kept.append(line.rstrip("\n"))
    shown = f"last {len(kept)} of {total} lines" if len(kept) < total else f"{total} lines"
    print(f"\n==> {display_path(path)} ({shown}) <==")
    for line in kept:
        print(line)


def _parallel(step: StepView) -> None:
    assert step.logs is not None
    result = step.logs / JOB_RESULT
    if result.is_file():
        print(f"\n==> {display_path(result)} <==")
        print(result.read_text(encoding="utf-8", errors="replace").rstrip())
    else:
        print(f"\n(no {JOB_RESULT} yet: the step has not finished)")
    entries = error_entries(step.logs)
    loose = [e for e in entries if e.mini_batch is None]
    if loose:
        print(f"\n==> errors outside any mini-batch (import, init(), shutdown()): {len(loose)} <==")
        for entry in loose[-3:]:
            _print_entry(entry)
        if len(loose) > 3:
            print(f"({len(loose) - 3} earlier ones in {display_path(step.logs / ERROR_DIR)})")
    bad = [mb for mb in step.mini_batches if mb.state is not Verdict.SUCCEEDED]
    if bad:
        print(f"\n==> last traceback of each mini-batch that did not succeed: {len(bad)} <==")
        by_mb: dict[str, list[ErrorEntry]] = {}
        for entry in entries:
            if entry.mini_batch is not None:
                by_mb.setdefault(entry.mini_batch, []).append(entry)
        for mb in bad[:MAX_TRACEBACKS]:
            print(f"\n-- mini-batch {mb.mini_batch} ({mb.label}): {mb.state}, {mb.attempts} attempt(s), "
                  f"last outcome {mb.outcome}")
            found = by_mb.get(mb.mini_batch)
            if found:
                _print_entry(found[-1])
            elif mb.last_error:
                print(f"   (no traceback file; the ledger says: {mb.last_error})")
        if len(bad) > MAX_TRACEBACKS:
            print(f"\n({len(bad) - MAX_TRACEBACKS} more; --mini-batch N shows one)")
    elif not loose:
        print("\nNo errors recorded.")
    print("\nAlso: sys/job_report/processed_mini-batches.csv (every attempt), user/stdout/ and user/stderr/ "
          "(what the entry script printed), user/entry_script_log/.")


def _one_mini_batch(step: StepView, index: str) -> None:
    assert step.logs is not None
    known = {mb.mini_batch: mb for mb in step.mini_batches}
    entries = error_entries(step.logs, index)
    if index not in known and not entries:
        indexes = sorted(known, key=lambda i: (len(i), i))
        span = f"{indexes[0]}..{indexes[-1]}" if indexes else "none recorded"
        raise UserError(f"step '{step.job}' has no mini-batch {index} (mini-batches: {span}).", key="--mini-batch",
                        fix=f"see them with: tenantml show {step.logs.parent.parent.name} --job {step.job}")
    mb = known.get(index)
    if mb is not None:
        print(f"\nmini-batch {index} ({mb.label}): {mb.state}, {mb.items} item(s), {mb.attempts} attempt(s)")
        rows = [[r.get("attempt", ""), r.get("outcome", ""), r.get("final", ""), f"{r.get('node', '')}/"
                 f"{r.get('process', '')}", r.get("start", ""), r.get("duration_s", ""),
                 clip(r.get("error_message") or "", 70)]
                for r in iter_ledger(step.logs / LEDGER) if (r.get("mini_batch") or "").strip() == index]
        print(render_table(["attempt", "outcome", "final", "process", "start", "duration_s", "error"], rows,
                           indent="  "))
    if not entries:
        print("\nNo traceback recorded for this mini-batch.")
        return
    print(f"\n==> tracebacks of mini-batch {index}: {len(entries)} <==")
    for entry in entries:
        _print_entry(entry)


def _print_entry(entry: ErrorEntry) -> None:
    print(f"\n[{display_path(entry.file)}]")
    print(entry.text)


def _list_files(logs: Path) -> None:
    files = sorted(p for p in logs.rglob("*") if p.is_file())
    if files:
        print("files in the logs folder:")
        for path in files[:50]:
            print(f"  {path.relative_to(logs).as_posix()}")
