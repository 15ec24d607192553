"""A run as its folder records it: ``run.json`` read leniently, every run under a home, a run named
by id, prefix or ``latest``.

Only files are read, never a backend's objects: a cloud run downloaded from Azure ML is written
in the same layout, so one reader serves both. Every optional field may be missing.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenantml.errors import UserError
from tenantml.runfolder.layout import RUN_RECORD, runs_dir
from tenantml.runfolder.values import elapsed, number
from tenantml.status import RESUMABLE, RunStatus
from tenantml.suggest import nearest


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
    unfollowed: bool = False  # a cloud run no tenantml process follows: its status is the last one seen

    @property
    def duration(self) -> float | None:
        return elapsed(self.started, self.ended, running=self.status == RunStatus.RUNNING and not self.unfollowed)

    def follow_command(self) -> str | None:
        """For a cloud run whose status is only the last one seen: the command that reads it now."""
        return f"tenantml fetch {shlex.quote(self.run_id)}" if self.unfollowed else None

    def resume_command(self) -> str | None:
        if self.status not in RESUMABLE or not self.pipeline:
            return None
        return f"tenantml run {shlex.quote(display_path(self.pipeline))} --resume {shlex.quote(self.run_id)}"


def read_run(folder: Path) -> RunInfo:
    """``run.json`` of one run folder; a missing or broken file gives a RunInfo with ``problem``."""
    try:
        data = json.loads((folder / RUN_RECORD).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        return RunInfo(folder.name, folder, problem=f"run.json unreadable: {exc}")
    raw_steps = data.get("steps")
    steps: dict[Any, Any] = raw_steps if isinstance(raw_steps, dict) else {}
    status = str(data.get("status") or "Unknown")
    unfollowed = False
    if status in (RunStatus.RUNNING, RunStatus.NOT_STARTED):
        from tenantml.runfolder.lock import writer_alive

        if writer_alive(folder) is False:
            if data.get("backend") == "local":
                if status == RunStatus.RUNNING:
                    status = RunStatus.CRASHED  # the record says Running but no process writes the run any more
                    steps = {k: ({**v, "status": RunStatus.CRASHED} if isinstance(v, dict)
                                 and v.get("status") == RunStatus.RUNNING else v) for k, v in steps.items()}
            else:  # the cloud job goes on whatever happened here: what the record says is the last seen
                unfollowed = True
    return RunInfo(
        run_id=str(data.get("run_id") or folder.name), folder=folder, pipeline=str(data.get("pipeline") or ""),
        backend=str(data.get("backend") or ""), status=status,
        started=number(data.get("started")), ended=number(data.get("ended")),
        steps={str(k): (v if isinstance(v, dict) else {}) for k, v in steps.items()}, unfollowed=unfollowed)


def all_runs(home: Path) -> list[RunInfo]:
    """Every run under ``<home>/runs``, oldest first (by ``started``, else the folder's mtime)."""
    root = runs_dir(home)
    if not root.is_dir():
        return []
    found = [read_run(p) for p in root.iterdir() if p.is_dir() and (p / RUN_RECORD).exists()]

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
        raise UserError(f"there are no runs in {runs_dir(home)}.",
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
    raise UserError(f"no run '{run_id}' in {runs_dir(home)}.", fix=fix)



def display_path(path: str | os.PathLike[str]) -> str:
    """Relative to the current folder when below it, else absolute."""
    text = str(path)
    try:
        relative = os.path.relpath(text)
    except ValueError:
        return text
    return text if relative.startswith("..") else relative
