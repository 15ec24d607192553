"""Presentation of runs for ``runs``, ``show``, ``logs`` and ``report``: tables, durations, times.

Reading a run folder (``run.json``, the ledger, ``job_result.txt``, error logs, log files) is
:mod:`tenantml.runfolder`'s (``runinfo``, ``stepview``, ``ledgerfold``, ``errorlogs``); the names
are re-exported here for code written against this module before the move.
"""

from __future__ import annotations

import os
import time

from tenantml.runfolder.errorlogs import (
    ErrorEntry,
    error_entries,
    error_files,
    error_log_for,
    output_of,
    read_error_file,
)
from tenantml.runfolder.layout import ERROR_DIR, JOB_RESULT, LEDGER, STD_LOG
from tenantml.runfolder.ledgerfold import SUCCESS_OUTCOMES, MiniBatchState, Verdict, fold_ledger, iter_ledger
from tenantml.runfolder.runinfo import RunInfo, all_runs, display_path, read_run, resolve_run
from tenantml.runfolder.stepview import (
    OK_STEP_STATUSES,
    StepView,
    failed_mini_batches,
    job_names,
    pick_job,
    read_job_result,
    read_step,
)
from tenantml.status import RESUMABLE

__all__ = ["ERROR_DIR", "JOB_RESULT", "LEDGER", "OK_STEP_STATUSES", "RESUMABLE", "STD_LOG", "SUCCESS_OUTCOMES",
           "ErrorEntry", "MiniBatchState", "RunInfo", "StepView", "Verdict", "all_runs", "clip", "display_path",
           "error_entries", "error_files", "error_log_for", "failed_mini_batches", "fold_ledger", "format_duration",
           "format_time", "iso_time", "iter_ledger", "job_names", "output_of", "pick_job", "read_error_file",
           "read_job_result", "read_run", "read_step", "render_table", "resolve_run", "terminal_width"]


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts is not None else ""


def iso_time(ts: float | None) -> str | None:
    """ISO 8601 with the local UTC offset (``2026-12-01T22:44:22+00:00``), for JSON readers."""
    if ts is None:
        return None
    from datetime import datetime

    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="milliseconds")


def terminal_width() -> int | None:
    """Columns of the terminal stdout writes to; None when it is not one (a pipe or a file keeps
    whole rows for scripts) unless ``COLUMNS`` says otherwise."""
    import shutil
    import sys

    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        return None
    return shutil.get_terminal_size().columns


def render_table(headers: list[str], rows: list[list[str]], indent: str = "", *,
                 width: int | None | bool = True, min_widths: list[int] | None = None) -> str:
    """Columns padded to their widest cell. ``width`` (default: the terminal's, see
    :func:`terminal_width`) caps a row: the widest columns are narrowed, their cells clipped
    with "...", until the row fits (no column below its header or 6 characters)."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    limit = terminal_width() if width is True else (width or None)
    if limit:
        room = limit - len(indent) - 2 * (len(headers) - 1)
        floors = [min(w, max(6, min(len(h), 12), (min_widths or [])[i] if i < len(min_widths or []) else 0))
                  for i, (h, w) in enumerate(zip(headers, widths))]
        while sum(widths) > room:  # narrow the widest column one character at a time
            candidates = [i for i, w in enumerate(widths) if w > floors[i]]
            if not candidates:
                break
            widths[max(candidates, key=lambda i: widths[i])] -= 1
        rows = [[_fit(c, w) for c, w in zip(r, widths)] for r in rows]
        headers = [_fit(h, w) for h, w in zip(headers, widths)]

    def line(cells: list[str]) -> str:
        return (indent + "  ".join(c.ljust(w) for c, w in zip(cells, widths))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _fit(text: str, width: int) -> str:
    """Clipped to ``width``; a path keeps its end (the file name), other text its start."""
    if len(text) <= width:
        return text
    if "/" in text and " " not in text:
        return "..." + text[len(text) - max(0, width - 3):]
    return text[: max(0, width - 3)] + "..."


def clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."

