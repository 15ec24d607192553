"""Reading finished (or running) runs back from their folders, for ``runs``, ``show`` and ``logs``.

Only files are read, never a backend's objects: a cloud run downloaded from Azure ML is written
in the same layout, so one reader serves both. Every optional field and file may be missing.

    <home>/runs/<run-id>/run.json                        run and step status (RunRecord)
    <run>/<job>/logs/job_result.txt                      "Status: X", "Reason: ...", counts
    <run>/<job>/logs/sys/job_report/processed_mini-batches.csv   one row per attempt, appended
    <run>/<job>/logs/user/error/<node>/<process>.txt     tracebacks, one entry per failure
    <run>/<job>/logs/user_logs/std_log.txt               stdout + stderr of a command step

The ledger is read as a stream and folded to one :class:`MiniBatchState` per mini-batch: the
**last** row of a mini-batch decides its state (a resumed run appends rows with higher attempt
numbers), so memory grows with mini-batches, not attempts. Nothing here imports pandas.
"""

from __future__ import annotations

import csv
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from tenantml.errors import UserError
from tenantml.policy import Outcome
from tenantml.status import DONE, RunStatus
from tenantml.status import RESUMABLE as _RESUMABLE
from tenantml.suggest import nearest

LEDGER = Path("sys", "job_report", "processed_mini-batches.csv")
JOB_RESULT = Path("job_result.txt")
ERROR_DIR = Path("user", "error")
STD_LOG = Path("user_logs", "std_log.txt")

SUCCESS_OUTCOMES = frozenset(o.value for o in Outcome if o.is_success)


class Verdict(StrEnum):
    """Where a mini-batch stands once its attempts are folded (``show``/``logs`` group by it)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"  # decided, no success
    UNFINISHED = "unfinished"  # retry pending, interrupted
OK_STEP_STATUSES = DONE
#: Run statuses after which ``tenantml run PIPELINE --resume RUN`` is the next useful command.
RESUMABLE = _RESUMABLE

_STAMP = re.compile(r"^(?P<stamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?P<text>.*)$")
_MINI_BATCH = re.compile(r"mini-batch (?P<index>\d+)(?: attempt (?P<attempt>\d+))?")


# --------------------------------------------------------------------------- run.json
@dataclass(frozen=True)
class RunInfo:
    run_id: str
    folder: Path
    pipeline: str = ""
    backend: str = ""
    status: str = "Unknown"
    started: float | None = None
    ended: float | None = None
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    problem: str = ""  # run.json missing or unreadable: what went wrong

    @property
    def duration(self) -> float | None:
        return _duration(self.started, self.ended, running=self.status == RunStatus.RUNNING)

    def resume_command(self) -> str | None:
        if self.status not in RESUMABLE or not self.pipeline:
            return None
        return f"tenantml run {_quote(display_path(self.pipeline))} --resume {_quote(self.run_id)}"


def read_run(folder: Path) -> RunInfo:
    """``run.json`` of one run folder; a missing or broken file gives a RunInfo with ``problem``."""
    try:
        data = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        return RunInfo(folder.name, folder, problem=f"run.json unreadable: {exc}")
    raw_steps = data.get("steps")
    steps: dict[Any, Any] = raw_steps if isinstance(raw_steps, dict) else {}
    status = str(data.get("status") or "Unknown")
    if status == RunStatus.RUNNING and data.get("backend") == "local":
        from tenantml.runfolder.lock import writer_alive

        if writer_alive(folder) is False:
            status = RunStatus.CRASHED  # the record says Running but no process writes the run any more
            steps = {k: ({**v, "status": RunStatus.CRASHED} if isinstance(v, dict)
                         and v.get("status") == RunStatus.RUNNING else v) for k, v in steps.items()}
    return RunInfo(
        run_id=str(data.get("run_id") or folder.name), folder=folder, pipeline=str(data.get("pipeline") or ""),
        backend=str(data.get("backend") or ""), status=status,
        started=_number(data.get("started")), ended=_number(data.get("ended")),
        steps={str(k): (v if isinstance(v, dict) else {}) for k, v in steps.items()})


def all_runs(home: Path) -> list[RunInfo]:
    """Every run under ``<home>/runs``, oldest first (by ``started``, else the folder's mtime)."""
    root = home / "runs"
    if not root.is_dir():
        return []
    found = [read_run(p) for p in root.iterdir() if p.is_dir() and (p / "run.json").exists()]

    def key(run: RunInfo) -> tuple[float, str]:
        when = run.started
        if when is None:
            try:
                when = run.folder.stat().st_mtime
            except OSError:
                when = 0.0
        return when, run.run_id

    return sorted(found, key=key)


def resolve_run(home: Path, run_id: str | None) -> RunInfo:
    """The run named by ``run_id`` (exact, ``latest``, or a unique prefix); the latest when None."""
    runs = all_runs(home)
    if not runs:
        raise UserError(f"there are no runs in {home / 'runs'}.",
                        fix="run a pipeline first (tenantml run pipeline.yml), or set TENANTML_HOME "
                            "to the folder that holds 'runs/'")
    if run_id is None or (run_id == "latest" and not any(r.run_id == "latest" for r in runs)):
        return runs[-1]
    by_id = {r.run_id: r for r in runs}
    by_id.update({r.folder.name: r for r in runs if r.folder.name not in by_id})
    if run_id in by_id:
        return by_id[run_id]
    matches = sorted({r.run_id for r in runs if r.run_id.startswith(run_id) or r.folder.name.startswith(run_id)})
    if len(matches) == 1:
        return by_id[matches[0]]
    if matches:
        shown = ", ".join(matches[:10]) + (f" and {len(matches) - 10} more" if len(matches) > 10 else "")
        raise UserError(f"run id prefix '{run_id}' matches {len(matches)} runs: {shown}.",
                        fix="give more characters of the run id")
    guess = nearest(run_id, by_id)
    if guess:
        fix = f"did you mean '{guess}'? ('tenantml runs' lists them all)"
    else:
        recent = ", ".join(r.run_id for r in reversed(runs[-3:]))
        fix = f"'tenantml runs' lists the runs; the latest are: {recent}"
    raise UserError(f"no run '{run_id}' in {home / 'runs'}.", fix=fix)


# --------------------------------------------------------------------------- ledger
@dataclass
class MiniBatchState:
    """One mini-batch as its attempts left it; the last ledger row decides ``outcome``/``final``."""

    mini_batch: str
    label: str = ""
    items: int = 0
    attempts: int = 0  # ledger rows of this mini-batch (interrupted attempts included)
    last_attempt: str = ""
    outcome: str = ""
    final: bool = False
    succeeded_items: int = 0
    failed_items: int = 0
    node: str = ""
    process: str = ""
    error_type: str = ""  # of the last attempt that reported an error
    last_error: str = ""
    error_attempt: str = ""
    error_node: str = ""
    error_process: str = ""

    @property
    def state(self) -> Verdict:
        if not self.final or self.outcome == Outcome.INTERRUPTED:
            return Verdict.UNFINISHED
        return Verdict.SUCCEEDED if self.outcome in SUCCESS_OUTCOMES else Verdict.FAILED

    @property
    def ok(self) -> bool:
        """Succeeded with every item: what ``--failed`` leaves out (a short return lost items)."""
        return self.state is Verdict.SUCCEEDED and self.failed_items == 0

    def sort_key(self) -> tuple[int, int | str]:
        return (0, int(self.mini_batch)) if self.mini_batch.isdigit() else (1, self.mini_batch)

    def add(self, row: dict[str, str]) -> None:
        self.attempts += 1
        self.label = row.get("label") or self.label
        self.items = _int(row.get("items"), self.items)
        self.last_attempt = row.get("attempt") or str(self.attempts)
        self.outcome = (row.get("outcome") or "").strip()
        self.final = (row.get("final") or "").strip().lower() in ("true", "1", "yes")
        self.succeeded_items = _int(row.get("succeeded"), 0)
        self.failed_items = _int(row.get("failed"), 0)
        self.node = row.get("node") or ""
        self.process = row.get("process") or ""
        message = (row.get("error_message") or "").strip()
        kind = (row.get("error_type") or "").strip()
        if message or kind:
            self.error_type, self.last_error = kind, message or kind
            self.error_attempt, self.error_node, self.error_process = self.last_attempt, self.node, self.process


def iter_ledger(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a ledger as dicts, streamed; a torn last line (killed writer) is dropped."""
    try:
        handle = open(path, encoding="utf-8", newline="")
    except OSError:
        return
    with handle:
        def whole_lines() -> Iterator[str]:
            for line in handle:
                if not line.endswith("\n"):
                    return
                yield line

        from tenantml.ledger_columns import normalize

        reader = csv.reader(whole_lines())
        header = normalize(next(reader, []))
        for row in reader:
            yield dict(zip(header, row))


def fold_ledger(path: Path) -> list[MiniBatchState]:
    states: dict[str, MiniBatchState] = {}
    for row in iter_ledger(path):
        index = (row.get("mini_batch") or "").strip()
        if not index:
            continue
        states.setdefault(index, MiniBatchState(index)).add(row)
    return sorted(states.values(), key=MiniBatchState.sort_key)


# --------------------------------------------------------------------------- error logs
@dataclass(frozen=True)
class ErrorEntry:
    """One failure written to ``user/error/<node>/<process>.txt``: a header line and its text."""

    file: Path
    stamp: str
    header: str  # e.g. "process000 failed in run() of mini-batch 3 attempt 2:"
    body: str  # the traceback, or the coordinator's one-line message
    mini_batch: str | None
    attempt: str | None

    @property
    def text(self) -> str:
        return f"{self.stamp} {self.header}\n{self.body}".rstrip()


def read_error_file(path: Path) -> list[ErrorEntry]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    entries: list[ErrorEntry] = []
    current: tuple[str, str] | None = None
    body: list[str] = []

    def close() -> None:
        if current is None:
            return
        stamp, text = current
        found = _MINI_BATCH.search(text)
        header, message = text, ""
        if found and not text.endswith(":"):  # coordinator: "mini-batch N attempt A: <message>"
            cut = text.find(": ", found.end())
            if cut >= 0:
                header, message = text[: cut + 1], text[cut + 2:]
        lines_out = ([message] if message else []) + body
        entries.append(ErrorEntry(path, stamp, header, "\n".join(lines_out).strip("\n"),
                                  found["index"] if found else None, found["attempt"] if found else None))

    for line in lines:
        match = _STAMP.match(line)
        if match:
            close()
            current, body = (match["stamp"], match["text"]), []
        elif current is not None:
            body.append(line)
    close()
    return entries


def error_files(logs: Path) -> list[Path]:
    root = logs / ERROR_DIR
    return sorted(p for p in root.rglob("*.txt") if p.is_file()) if root.is_dir() else []


def error_entries(logs: Path, mini_batch: str | None = None) -> list[ErrorEntry]:
    """Every error entry of a step (or of one mini-batch), oldest first."""
    found = [e for path in error_files(logs) for e in read_error_file(path)
             if mini_batch is None or e.mini_batch == mini_batch]
    return sorted(found, key=lambda e: (e.stamp, _int(e.attempt, 0)))


def error_log_for(logs: Path, mb: MiniBatchState) -> Path | None:
    """The file holding the traceback of the mini-batch's last failed attempt."""
    if not mb.error_attempt and mb.state is Verdict.SUCCEEDED:
        return None
    if mb.error_node and mb.error_process:
        candidate = logs / ERROR_DIR / mb.error_node / f"{mb.error_process}.txt"
        if candidate.is_file():
            return candidate
    entries = error_entries(logs, mb.mini_batch)  # another layout (e.g. a cloud run): search
    same = [e for e in entries if e.attempt == mb.error_attempt] or entries
    return same[-1].file if same else None


def output_of(logs: Path, mini_batch: str, limit: int = 64 * 1024) -> Iterator[tuple[str, str, Path, str]]:
    """(attempt, "stdout"|"stderr", file, text) of what each attempt of a mini-batch printed,
    from ``<job>/state/output_index/*.jsonl`` (byte ranges the local worker records); at most
    ``limit`` bytes per range (its end). Nothing for runs without the index (cloud runs)."""
    folder = logs.parent / "state" / "output_index"
    if not folder.is_dir():
        return
    spans: list[tuple[int, str, Path, int, int]] = []
    for index_file in sorted(folder.glob("*.jsonl")):
        try:
            lines = index_file.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if str(entry.get("mini_batch")) != mini_batch:
                continue
            for stream in ("stdout", "stderr"):
                span = entry.get(stream)
                if isinstance(span, list) and len(span) == 3:
                    spans.append((_int(entry.get("attempt"), 0), stream, Path(str(span[0])), int(span[1]),
                                  int(span[2])))
    for attempt, stream, path, start, end in sorted(spans, key=lambda s: (s[0], s[1])):
        try:
            with open(path, "rb") as handle:
                handle.seek(max(start, end - limit))
                data = handle.read(end - max(start, end - limit))
        except OSError:
            continue
        yield str(attempt), stream, path, data.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------- steps
@dataclass
class StepView:
    job: str
    type: str
    status: str
    reason: str = ""
    started: float | None = None
    ended: float | None = None
    reused_from: str | None = None
    logs: Path | None = None  # the folder the logs were read from (the source run's, if reused)
    outputs: dict[str, str] = field(default_factory=dict)
    result: dict[str, str] = field(default_factory=dict)  # job_result.txt "Key: value" lines
    mini_batches: list[MiniBatchState] = field(default_factory=list)
    counts: dict[str, int | None] | None = None  # over every mini-batch, fixed when read (not filtered)
    environment: dict[str, Any] | None = None  # run.json's record of where it ran (mode, id, label, python)

    @property
    def duration(self) -> float | None:
        known = _duration(self.started, self.ended, running=self.status == RunStatus.RUNNING)
        if known is not None:
            return known
        elapsed = re.match(r"\s*([\d.]+)\s*s", self.result.get("Elapsed", ""))
        return float(elapsed[1]) if elapsed else None

    @property
    def ok(self) -> bool:
        return self.status in OK_STEP_STATUSES and all(mb.ok for mb in self.mini_batches)

    def count(self) -> dict[str, int | None] | None:
        if self.type != "parallel":
            return None
        states = [mb.state for mb in self.mini_batches]
        scheduled = re.match(r"\s*(\d+) scheduled", self.result.get("Mini-batches", ""))
        return {
            "scheduled": int(scheduled[1]) if scheduled else None,
            "seen": len(states),
            "succeeded": states.count(Verdict.SUCCEEDED),
            "failed": states.count(Verdict.FAILED),
            "unfinished": states.count(Verdict.UNFINISHED),
            "items": sum(mb.items for mb in self.mini_batches),
            "succeeded_items": sum(mb.succeeded_items for mb in self.mini_batches if mb.state is Verdict.SUCCEEDED),
            "failed_items": sum(mb.failed_items if mb.state is Verdict.SUCCEEDED else mb.items
                                for mb in self.mini_batches if mb.state is not Verdict.UNFINISHED),
        }


def job_names(run: RunInfo) -> list[str]:
    """Jobs of run.json in order, then job folders with ``logs/`` that run.json does not name."""
    names = list(run.steps)
    try:
        extra = sorted(p.name for p in run.folder.iterdir() if (p / "logs").is_dir() and p.name not in run.steps)
    except OSError:
        extra = []
    return names + extra


def read_step(run: RunInfo, job: str, home: Path | None = None) -> StepView:
    info = run.steps.get(job, {})
    logs = run.folder / job / "logs"
    reused = info.get("reused_from") or None
    if reused and not logs.is_dir() and home is not None:  # the logs stayed with the run reused from
        source = home / "runs" / str(reused) / job / "logs"
        if source.is_dir():
            logs = source
    kind = str(info.get("type") or "")
    if not kind:
        kind = "parallel" if (logs / LEDGER).exists() or (logs / JOB_RESULT).exists() else "command"
    result = read_job_result(logs / JOB_RESULT)
    status = str(info.get("status") or result.get("Status") or "Unknown")
    raw_outputs = info.get("outputs")
    outputs: dict[Any, Any] = raw_outputs if isinstance(raw_outputs, dict) else {}
    view = StepView(
        job=job, type=kind, status=status, reason=str(info.get("reason") or result.get("Reason") or ""),
        started=_number(info.get("started")), ended=_number(info.get("ended")),
        reused_from=str(reused) if reused else None, logs=logs if logs.is_dir() else None,
        outputs={str(k): str(v) for k, v in outputs.items()}, result=result,
        mini_batches=fold_ledger(logs / LEDGER) if kind == "parallel" else [],
        environment=info["environment"] if isinstance(info.get("environment"), dict) else None)
    view.counts = view.count()
    return view


def failed_mini_batches(run: RunInfo, home: Path | None = None) -> int:
    """Mini-batches (tenants) whose last attempt failed, over the run's parallel steps: a run can
    complete within its error threshold and still have some."""
    total = 0
    for job in job_names(run):
        counts = read_step(run, job, home).counts or {}
        total += counts.get("failed") or 0
    return total


def read_job_result(path: Path) -> dict[str, str]:
    """The ``Key: value`` lines at the top of job_result.txt (Status, Reason, Mini-batches, ...)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith((" ", "\t")):
            continue
        key, sep, value = line.partition(": ")
        if sep and key and key not in found:
            found[key] = value.strip()
    return found


def pick_job(run: RunInfo, job: str) -> str:
    names = job_names(run)
    if job in names:
        return job
    guess = nearest(job, names) if names else None
    fix = f"did you mean '{guess}'?" if guess else ("its jobs are: " + ", ".join(names) if names else None)
    raise UserError(f"run '{run.run_id}' has no job '{job}'.", fix=fix)


# --------------------------------------------------------------------------- formatting helpers
def display_path(path: str | os.PathLike[str]) -> str:
    """Relative to the current folder when below it, else absolute."""
    text = str(path)
    try:
        relative = os.path.relpath(text)
    except ValueError:
        return text
    return text if relative.startswith("..") else relative


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


def _duration(started: float | None, ended: float | None, *, running: bool) -> float | None:
    if started is None:
        return None
    if ended is None:
        return time.time() - started if running else None
    return max(0.0, ended - started)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _int(value: Any, default: int) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
