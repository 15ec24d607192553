"""``tenantml show [RUN_ID]``: a run's steps and, per parallel step, one row per mini-batch (tenant).

The latest run when no id is given; a unique prefix of a run id is enough. ``--failed`` keeps the
mini-batches that did not succeed (failed, unfinished, or a short return that lost items) and
the steps that did not complete. ``--format json|csv`` is for scripts: json is the whole view
with stable keys, csv one row per mini-batch. The exit code is 0 whatever the run's status:
``show`` reports, it does not judge (``tenantml run`` exits 1 for a failed run).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from typing import Any

from tenantml.inspect_runs import clip, format_duration, format_time, iso_time, render_table, terminal_width
from tenantml.locations import home
from tenantml.policy import Outcome
from tenantml.runfolder.errorlogs import error_log_for
from tenantml.runfolder.ledgerfold import MiniBatchState, Verdict
from tenantml.runfolder.runinfo import RunInfo, display_path, resolve_run
from tenantml.runfolder.stepview import OK_STEP_STATUSES, StepView, job_names, pick_job, read_step

CSV_COLUMNS = ["run_id", "job", "step_status", "mini_batch", "label", "items", "attempts", "outcome", "state",
               "succeeded_items", "failed_items", "error_type", "last_error", "error_log"]


def add_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] = ()) -> None:
    parser.add_argument("run_id", nargs="?", default=None, metavar="RUN_ID",
                        help="a run id or a unique prefix of one (default: the latest run)")
    parser.add_argument("--failed", action="store_true",
                        help="only the mini-batches that did not succeed, and the steps that did not complete")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table",
                        help="table (default), json (the whole view) or csv (one row per mini-batch)")
    parser.add_argument("--job", default=None, help="only this job of the pipeline")


def execute(args: argparse.Namespace) -> int:
    where = home()
    run = resolve_run(where, args.run_id)
    jobs = [pick_job(run, args.job)] if args.job else job_names(run)
    steps = [read_step(run, job, where) for job in jobs]
    if args.failed:
        steps = [s for s in steps if not s.ok]
        for step in steps:
            step.mini_batches = [mb for mb in step.mini_batches if not mb.ok]
    if args.format == "json":
        json.dump(as_json(run, steps), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.format == "csv":
        write_csv(run, steps)
    else:
        print(render(run, steps, failed_only=args.failed))
    return 0


# --------------------------------------------------------------------------- json / csv
def mini_batch_json(step: StepView, mb: MiniBatchState) -> dict[str, Any]:
    log = error_log_for(step.logs, mb) if step.logs is not None and not mb.ok else None
    return {
        "mini_batch": int(mb.mini_batch) if mb.mini_batch.isdigit() else mb.mini_batch,
        "label": mb.label, "items": mb.items, "attempts": mb.attempts, "outcome": mb.outcome, "final": mb.final,
        "state": mb.state, "succeeded_items": mb.succeeded_items, "failed_items": mb.failed_items,
        "error_type": mb.error_type, "last_error": mb.last_error,
        "error_log": str(log) if log is not None else None, "node": mb.node, "process": mb.process,
    }


def step_json(step: StepView) -> dict[str, Any]:
    return {
        "job": step.job, "type": step.type, "status": step.status, "reason": step.reason,
        "started": iso_time(step.started), "ended": iso_time(step.ended), "duration_s": _round(step.duration),
        "reused_from": step.reused_from, "logs": str(step.logs) if step.logs is not None else None,
        "outputs": step.outputs, "counts": step.counts, "environment": step.environment,
        "mini_batches": [mini_batch_json(step, mb) for mb in step.mini_batches],
    }


def as_json(run: RunInfo, steps: list[StepView]) -> dict[str, Any]:
    return {
        "run_id": run.run_id, "status": run.status, "pipeline": run.pipeline, "backend": run.backend,
        "folder": str(run.folder), "started": iso_time(run.started), "ended": iso_time(run.ended),
        "duration_s": _round(run.duration), "steps": [step_json(s) for s in steps],
        "next_command": run.resume_command() or run.follow_command(),
    }


def write_csv(run: RunInfo, steps: list[StepView]) -> None:
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(CSV_COLUMNS)
    for step in steps:
        for mb in step.mini_batches:
            row = mini_batch_json(step, mb)
            row.update(run_id=run.run_id, job=step.job, step_status=step.status)
            out.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])


# --------------------------------------------------------------------------- table
def render(run: RunInfo, steps: list[StepView], *, failed_only: bool = False) -> str:
    lines = [f"Run {run.run_id}: {run.status}" + (" (last seen)" if run.unfollowed else "")]
    if run.problem:
        lines.append(f"  {run.problem}")
    lines += [f"  pipeline: {display_path(run.pipeline) if run.pipeline else '?'}"
              + (f"  (backend {run.backend})" if run.backend else ""),
              f"  folder:   {display_path(run.folder)}"]
    if run.started is not None:
        lines.append(f"  started:  {format_time(run.started)}"
                     + (f", took {format_duration(run.duration)}" if run.duration is not None else ""))
    lines.append("")
    if not steps:
        lines.append("Every step completed and every mini-batch succeeded." if failed_only else "No steps recorded.")
    else:
        rows = [[s.job, s.type, s.status, format_duration(s.duration), s.reused_from or "", clip(s.reason, 70)]
                for s in steps]
        lines.append(render_table(["step", "type", "status", "duration", "reused from", "reason"], rows,
                                  min_widths=[12, 0, 9, 0, 0, 20]))
        lines += _environment_lines(steps)
    first_failure: tuple[str, str | None] | None = None
    for step in steps:
        if step.type != "parallel":
            continue
        lines.append("")
        lines.append(_step_heading(step))
        if not step.mini_batches:
            lines.append("  " + _no_attempts(step, failed_only))
            if step.status not in OK_STEP_STATUSES and first_failure is None:
                first_failure = (step.job, None)
            continue
        rows = []
        for mb in sorted(step.mini_batches, key=_failures_first):
            log = error_log_for(step.logs, mb) if step.logs is not None and not mb.ok else None
            state = mb.state if mb.ok or mb.state is not Verdict.SUCCEEDED else f"{mb.state} ({mb.outcome})"
            rows.append([mb.mini_batch, clip(mb.label, 40), state, str(mb.attempts), str(mb.items),
                         clip(_last_error(mb), 60) if not mb.ok or mb.attempts > 1 else "",
                         display_path(log) if log is not None else ""])
            if first_failure is None and mb.state is not Verdict.SUCCEEDED:
                first_failure = (step.job, mb.mini_batch)
        lines.append(render_table(["#", "tenant", "state", "attempts", "items", "last error", "traceback in"],
                                  rows, indent="  ", min_widths=[0, 14, 10, 0, 0, 12, 12]))
    hints = []
    if first_failure is not None:
        job, index = first_failure
        hints.append(f"tenantml logs {run.run_id} {job}" + (f" --mini-batch {index}" if index is not None else "")
                     + "   # the traceback")
    follow = run.follow_command()
    if follow:
        hints.append(f"{follow}   # its status now: no tenantml process follows this Azure ML job")
    resume = run.resume_command()
    if resume:
        hints.append(f"{resume}   # re-run only what did not succeed")
    if hints:
        lines += ["", "Next:"] + [f"  {h}" for h in hints]
    return "\n".join(_wrap(lines, terminal_width()))


def _wrap(lines: list[str], width: int | None) -> list[str]:
    """Lines longer than the terminal wrap under their own indent (tables already fit)."""
    if not width:
        return lines
    import textwrap

    out: list[str] = []
    for line in (part for text in lines for part in text.split("\n")):
        if len(line) <= width:
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip()))
        out += textwrap.wrap(line, width, initial_indent="", subsequent_indent=indent + "  ",
                             break_on_hyphens=False) or [line]
    return out


def _failures_first(mb: MiniBatchState) -> tuple[int, tuple[int, int | str]]:
    order = {Verdict.FAILED: 0, Verdict.UNFINISHED: 1, Verdict.SUCCEEDED: 2}[mb.state]
    if mb.state is Verdict.SUCCEEDED and not mb.ok:
        order = 1  # a short return lost items
    return order, mb.sort_key()


def _no_attempts(step: StepView, failed_only: bool) -> str:
    """What to say under a parallel step with no mini-batch row: never "every mini-batch
    succeeded" when none ran (init() failed everywhere, the input could not be divided)."""
    counts = step.counts or {}
    if counts.get("seen"):  # --failed left every row out
        return "(every mini-batch succeeded)" if step.status in OK_STEP_STATUSES else \
            f"(no mini-batch failed; the step is {step.status}" + (f": {step.reason})" if step.reason else ")")
    if step.status in OK_STEP_STATUSES and counts.get("scheduled") == 0:
        return "(no mini-batches: the input was empty)"
    if step.status in OK_STEP_STATUSES and failed_only:
        return "(every mini-batch succeeded)"
    if step.status in OK_STEP_STATUSES:
        return "(no mini-batch attempts recorded)"
    why = f": {step.reason}" if step.reason else ""
    return f"(no mini-batch ran{why})"


def _environment_lines(steps: list[StepView]) -> list[str]:
    """Which environment each step ran in (steps that name one)."""
    named = [s for s in steps if s.environment and s.environment.get("label")]
    if not named:
        return []
    lines = ["", "Environments:"]
    for step in named:
        env = step.environment or {}
        where = f"python {env['python']}" if env.get("python") else "tenantml's own Python environment"
        lines.append(f"  {step.job}: {env.get('label')} [{env.get('id')}], {env.get('mode')}: {where}")
    return lines


def _step_heading(step: StepView) -> str:
    counts = step.counts or {}
    parts = [f"{counts.get('succeeded', 0)} succeeded", f"{counts.get('failed', 0)} failed"]
    if counts.get("unfinished"):
        parts.append(f"{counts['unfinished']} unfinished")
    scheduled = counts.get("scheduled")
    seen = counts.get("seen") or 0
    total = f" of {scheduled} scheduled" if scheduled is not None else ""
    if scheduled is not None and scheduled > seen:
        parts.append(f"{scheduled - seen} never started")
    source = f"  (logs of run {step.reused_from})" if step.reused_from and step.logs is not None \
        and step.reused_from in str(step.logs) else ""
    return f"{step.job}: mini-batches{total}: " + ", ".join(parts) + source


def _last_error(mb: MiniBatchState) -> str:
    if mb.outcome == Outcome.SHORT and not mb.last_error:
        return f"run() returned {mb.items - mb.failed_items} result(s) for {mb.items} item(s)"
    return mb.last_error


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None
