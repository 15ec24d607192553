"""``tenantml logs RUN_ID JOB``: where a step's logs are, and the part of them worth reading first.

A command step: the tail of ``user_logs/std_log.txt``. A parallel step: ``job_result.txt``, then
the traceback of the last attempt of every mini-batch that did not succeed, and the errors that
belong to no mini-batch (import, ``init()``, ``shutdown()``). ``--mini-batch N``: every attempt
of that mini-batch and each attempt's traceback. ``latest`` stands for the latest run.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from tenantml.errors import UserError
from tenantml.inspect_runs import clip, render_table
from tenantml.locations import home
from tenantml.runfolder.errorlogs import ErrorEntry, error_entries, output_of
from tenantml.runfolder.layout import ERROR_DIR, JOB_RESULT, LEDGER, STD_LOG
from tenantml.runfolder.ledgerfold import Verdict, iter_ledger
from tenantml.runfolder.runinfo import display_path, resolve_run
from tenantml.runfolder.stepview import (
    StepView,
    appended,
    files_in,
    pick_job,
    read_step,
    read_text,
    step_log_files,
    tail,
)

MAX_TRACEBACKS = 10


def add_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] = ()) -> None:
    parser.add_argument("run_id", metavar="RUN_ID", help="a run id, a unique prefix of one, or 'latest'")
    parser.add_argument("job", metavar="JOB", help="the job (step) of the pipeline")
    parser.add_argument("--mini-batch", default=None, metavar="N|TENANT",
                        help="every attempt of one mini-batch of a parallel step, with its tracebacks and what it "
                             "printed: its 0-based index, or its tenant (a file name such as t_17.csv, a "
                             "partition value, or the label 'tenantml show' prints)")
    parser.add_argument("--follow", "-f", action="store_true",
                        help="keep printing what the step's processes write (output and errors, tagged by file) "
                             "until the run ends")
    parser.add_argument("--tail", type=int, default=50, metavar="N",
                        help="lines of a command step's std_log.txt to print (default 50; 0 prints all)")


def execute(args: argparse.Namespace) -> int:
    if args.tail < 0:
        raise UserError(f"--tail is {args.tail}; it must be 0 (all lines) or more.", key="--tail",
                        fix="give the number of last lines to print, e.g. --tail 20, or --tail 0 for all")
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
        _one_mini_batch(step, resolve_mini_batch(step, str(args.mini_batch).strip()))
    elif step.type == "parallel":
        _parallel(step)
    else:
        _command(step.logs, args.tail)
    if args.follow:
        _follow(run.folder, step)
    return 0


def resolve_mini_batch(step: StepView, name: str) -> str:
    """A mini-batch index from an index or a tenant name: the label, a file name in it, a
    partition value (``store=1, brand=x`` is found by ``1``, ``store=1`` or the whole label)."""
    known = {mb.mini_batch for mb in step.mini_batches}
    if name in known or (name.isdigit() and not step.mini_batches):
        return name

    def names(label: str) -> set[str]:
        parts = {p.strip() for p in label.split(",") if p.strip()}
        found = {label.strip(), *parts}
        for part in parts:
            found.add(Path(part).name)
            found.add(Path(part).stem)
            if "=" in part:
                found.add(part.split("=", 1)[1].strip())
        return found

    matches = [mb for mb in step.mini_batches if name in names(mb.label)]
    if len(matches) == 1:
        return matches[0].mini_batch
    if len(matches) > 1:
        shown = ", ".join(f"{mb.mini_batch} ({clip(mb.label, 40)})" for mb in matches[:8])
        raise UserError(f"'{name}' names {len(matches)} mini-batches of step '{step.job}': {shown}.",
                        key="--mini-batch", fix="give the index, or the whole label")
    if name.isdigit():
        return name  # an index with no ledger row: _one_mini_batch says what there is
    from tenantml.suggest import nearest

    labels = sorted({n for mb in step.mini_batches for n in names(mb.label)})
    guess = nearest(name, labels)
    raise UserError(f"step '{step.job}' has no mini-batch or tenant '{name}'.", key="--mini-batch",
                    fix=(f"did you mean '{guess}'? " if guess else "")
                    + f"see them with: tenantml show {step.logs.parent.parent.name if step.logs else ''} "
                      f"--job {step.job}")


def _command(logs: Path, count: int) -> None:
    path = logs / STD_LOG
    found = tail(path, count)
    if found is None:
        print(f"\n(no {STD_LOG.as_posix()} yet)")
        _list_files(logs)
        return
    kept, total = found
    shown = f"last {len(kept)} of {total} lines" if len(kept) < total else f"{total} lines"
    print(f"\n==> {display_path(path)} ({shown}) <==")
    for line in kept:
        print(line)


def _parallel(step: StepView) -> None:
    assert step.logs is not None
    result = step.logs / JOB_RESULT
    text = read_text(result)
    if text is not None:
        print(f"\n==> {display_path(result)} <==")
        print(text.rstrip())
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
    _printed(step, index)
    if not entries:
        print("\nNo traceback recorded for this mini-batch.")
        return
    print(f"\n==> tracebacks of mini-batch {index}: {len(entries)} <==")
    for entry in entries:
        _print_entry(entry)


def _printed(step: StepView, index: str, limit: int = 64 * 1024) -> None:
    """What each attempt's run() printed, from the byte ranges the worker indexed."""
    assert step.logs is not None
    for attempt, stream, path, text in output_of(step.logs, index, limit):
        print(f"\n==> mini-batch {index} attempt {attempt} {stream} [{display_path(path)}] <==")
        for line in text.rstrip("\n").splitlines():
            print(f"[mb {index}#{attempt}] {line}")


def _follow(folder: Path, step: StepView, interval: float = 0.5) -> None:
    """Print what is appended to the step's logs (each line tagged by the file it is in) until
    the run is no longer Running; a file that appears while following is read from its start."""
    import time

    from tenantml.runfolder.layout import LOGS
    from tenantml.runfolder.runinfo import read_run
    from tenantml.status import RunStatus

    logs = step.logs or folder / step.job / LOGS
    offsets = {p: p.stat().st_size for p in step_log_files(logs, step.type) if p.exists()}
    print("\n==> following (Ctrl-C stops) <==", flush=True)
    while True:
        running = read_run(folder).status == RunStatus.RUNNING
        for path in step_log_files(logs, step.type):
            start = offsets.get(path, 0)
            grown = appended(path, start)
            if grown is None:
                continue
            data = grown[0]
            cut = data.rfind(b"\n") + 1 if running else len(data)  # whole lines while it writes
            offsets[path] = start + cut
            tag = path.relative_to(logs).as_posix() if path.is_relative_to(logs) else path.name
            for line in data[:cut].decode("utf-8", errors="replace").splitlines():
                print(f"[{tag}] {line}", flush=True)
        if not running:
            print(f"==> run {read_run(folder).status} <==")
            return
        time.sleep(interval)


def _print_entry(entry: ErrorEntry) -> None:
    print(f"\n[{display_path(entry.file)}]")
    print(entry.text)


def _list_files(logs: Path) -> None:
    files = files_in(logs)
    if files:
        print("files in the logs folder:")
        for path in files:
            print(f"  {path.as_posix()}")
