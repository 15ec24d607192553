"""``tenantml runs``: the runs under ``<home>/runs``, newest first (like ``git log``).

An empty list is not an error (exit 0): it says where it looked and how to make a run.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from typing import Any

from tenantml.errors import UserError
from tenantml.inspect_runs import format_duration, format_time, iso_time, render_table
from tenantml.locations import home
from tenantml.runfolder.runinfo import RunInfo, all_runs, display_path
from tenantml.runfolder.stepview import failed_mini_batches

COLUMNS = ["run_id", "status", "failed_mini_batches", "pipeline", "backend", "started", "ended", "duration_s",
           "steps"]


def add_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] = ()) -> None:
    parser.add_argument("--limit", type=int, default=20, metavar="N",
                        help="show the N newest runs (default 20; 0 shows all)")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table",
                        help="table (default), json or csv")


def execute(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise UserError(f"--limit is {args.limit}; it must be 0 (all runs) or more.", key="--limit",
                        fix="give the number of newest runs to list, e.g. --limit 5, or --limit 0 for all")
    where = home()
    found = list(reversed(all_runs(where)))
    total = len(found)
    if args.limit and args.limit > 0:
        found = found[: args.limit]
    failed = {r.run_id: failed_mini_batches(r, where) for r in found}
    records = [_record(r, failed[r.run_id]) for r in found]
    if args.format == "json":
        json.dump(records, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if args.format == "csv":
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(COLUMNS)
        for record in records:
            out.writerow(["" if record[c] is None else (_steps_text(record["steps"]) if c == "steps" else record[c])
                          for c in COLUMNS])
        return 0
    if not found:
        print(f"No runs in {display_path(where / 'runs')}. Start one with: tenantml run pipeline.yml "
              "(TENANTML_HOME moves the folder runs are kept in).")
        return 0
    rows = [[r.run_id, _status_text(r.status, failed[r.run_id]) + (" (last seen)" if r.unfollowed else ""), display_path(r.pipeline) if r.pipeline else "?", format_time(r.started),
             format_duration(r.duration), _steps_text(_step_statuses(r))] for r in found]
    print(render_table(["run id", "status", "pipeline", "started", "duration", "steps"], rows))
    if total > len(found):
        print(f"({total - len(found)} older runs not shown; --limit 0 shows all)")
    return 0


def _status_text(status: str, failed: int) -> str:
    """``Completed (3 failed)``: a run that completed within its error threshold is not clean."""
    return f"{status} ({failed} failed)" if failed else status


def _step_statuses(run: RunInfo) -> dict[str, str]:
    return {job: str(info.get("status") or "Unknown") for job, info in run.steps.items()}


def _steps_text(statuses: dict[str, str]) -> str:
    """``2 Completed, 1 Failed`` in the order the statuses first appear."""
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in counts.items())


def _record(run: RunInfo, failed: int) -> dict[str, Any]:
    return {"run_id": run.run_id, "status": run.status, "failed_mini_batches": failed, "pipeline": run.pipeline, "backend": run.backend,
            "started": iso_time(run.started), "ended": iso_time(run.ended),
            "duration_s": round(run.duration, 3) if run.duration is not None else None,
            "steps": _step_statuses(run)}
