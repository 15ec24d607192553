"""A step of a run as its folder records it: ``run.json``'s entry, ``job_result.txt``, the folded
ledger; and the step's log files (tails, appended bytes) for ``show``, ``logs`` and ``report``.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenantml.errors import UserError
from tenantml.runfolder.layout import JOB_RESULT, LEDGER, LOGS, STD_LOG, USER_DIR, runs_dir
from tenantml.runfolder.ledgerfold import MiniBatchState, Verdict, fold_ledger
from tenantml.runfolder.runinfo import RunInfo
from tenantml.runfolder.values import elapsed, number
from tenantml.status import DONE, RunStatus
from tenantml.suggest import nearest

OK_STEP_STATUSES = DONE


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
        known = elapsed(self.started, self.ended, running=self.status == RunStatus.RUNNING)
        if known is not None:
            return known
        written = re.match(r"\s*([\d.]+)\s*s", self.result.get("Elapsed", ""))
        return float(written[1]) if written else None

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
        extra = sorted(p.name for p in run.folder.iterdir() if (p / LOGS).is_dir() and p.name not in run.steps)
    except OSError:
        extra = []
    return names + extra


def read_step(run: RunInfo, job: str, home: Path | None = None) -> StepView:
    info = run.steps.get(job, {})
    logs = run.folder / job / LOGS
    reused = info.get("reused_from") or None
    if reused and not logs.is_dir() and home is not None:  # the logs stayed with the run reused from
        source = runs_dir(home) / str(reused) / job / LOGS
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
        started=number(info.get("started")), ended=number(info.get("ended")),
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



# --------------------------------------------------------------------------- log files
def tail(path: Path, count: int) -> tuple[list[str], int] | None:
    """The last ``count`` lines of a text log (all when ``count`` <= 0) and its number of lines;
    None when the file is not there."""
    if not path.is_file():
        return None
    total = 0
    kept: deque[str] = deque(maxlen=count if count > 0 else None)
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            total += 1
            kept.append(line.rstrip("\n"))
    return list(kept), total


def read_text(path: Path) -> str | None:
    """A log file's text (undecodable bytes replaced), None when it is not there."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def step_log_files(logs: Path, kind: str) -> list[Path]:
    """The files a step's processes write while it runs: ``std_log.txt`` of a command step, every
    ``user/**/*.txt`` of a parallel step."""
    if kind != "parallel":
        return [logs / STD_LOG]
    root = logs / USER_DIR
    return sorted(p for p in root.rglob("*.txt") if p.is_file()) if root.is_dir() else []


def appended(path: Path, start: int) -> tuple[bytes, int] | None:
    """Bytes written to ``path`` after offset ``start``, and the file's size; None when it is not
    there or did not grow."""
    try:
        size = path.stat().st_size
    except OSError:
        return None
    if size <= start:
        return None
    with open(path, "rb") as handle:
        handle.seek(start)
        return handle.read(size - start), size


def files_in(logs: Path, limit: int = 50) -> list[Path]:
    """Files under a logs folder, relative to it, at most ``limit``."""
    return sorted(p.relative_to(logs) for p in logs.rglob("*") if p.is_file())[:limit]
