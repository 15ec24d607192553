"""Run folders: ``<home>/runs/<run-id>/`` with ``run.json`` (the run record) and one folder per job.

A run id is made unique by creating its folder exclusively, so two ``tenantml run`` in the same
folder at once never share one.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tenantml.errors import UserError
from tenantml.runfolder.atomic import atomic_write, overwrite_in_place
from tenantml.runfolder.storage import is_storage_error
from tenantml.status import RunStatus


@dataclass
class RunRecord:
    run_id: str
    pipeline: str
    backend: str
    status: str = RunStatus.RUNNING  # a RunStatus word
    started: float = field(default_factory=time.time)
    ended: float | None = None
    reason: str = ""  # why it Failed when no step says (a full disk, say)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What the run was asked to do, so --resume finishes it the same way: the --set values in
    # order, and the options that change results (force, the backend's own options).
    overrides: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)

    def save(self, run_dir: Path) -> None:
        text = json.dumps(asdict(self), indent=2, default=str)
        try:
            atomic_write(run_dir / "run.json", text)
        except OSError as exc:
            if not is_storage_error(exc):
                raise
            overwrite_in_place(run_dir / "run.json", json.dumps(asdict(self), default=str))  # no new blocks
            raise

    @staticmethod
    def load(run_dir: Path) -> RunRecord:
        """The record of a run (FileNotFoundError when there is none); a damaged one is a UserError
        naming the file, never a traceback from deep inside ``--resume``."""
        path = run_dir / "run.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:  # not JSON, not UTF-8
            raise _damaged(path, str(exc)) from None
        if not isinstance(data, dict):
            raise _damaged(path, f"a JSON {type(data).__name__}, not an object")
        for key, kinds in _FIELD_TYPES.items():
            if key in data and not isinstance(data[key], kinds):
                raise _damaged(path, f"'{key}' is a {type(data[key]).__name__}")
        missing = [k for k in ("run_id", "pipeline", "backend") if k not in data]
        if missing:
            raise _damaged(path, "no " + ", ".join(f"'{k}'" for k in missing))
        if not all(isinstance(v, dict) for v in data.get("steps", {}).values()):
            raise _damaged(path, "a step's entry is not an object")
        known = set(RunRecord.__dataclass_fields__)  # a newer tenantml's keys are not an error
        return RunRecord(**{k: v for k, v in data.items() if k in known})


_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "run_id": str, "pipeline": str, "backend": str, "status": str, "started": (int, float),
    "ended": (int, float, type(None)), "reason": str, "steps": dict, "overrides": list, "options": dict}


def _damaged(path: Path, what: str) -> UserError:
    return UserError(f"the run record cannot be read: {what}.", file=path,
                     fix="run.json is written by tenantml: restore it, or start a new run of the pipeline "
                         "(without --resume)")


def propose_run_id(pipeline: Path) -> str:
    """A fresh run id (the folder is claimed later, exclusively, by :func:`new_run_dir`)."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", pipeline.stem)[:40] or "run"
    return f"{stem}_{time.strftime('%Y%m%d_%H%M%S')}_{secrets.token_hex(2)}"


def new_run_dir(home: Path, pipeline: Path, run_id: str | None = None) -> tuple[str, Path]:
    if run_id is not None:
        from tenantml.runfolder.names import check_run_id

        check_run_id(run_id)
    runs = home / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        rid = run_id or propose_run_id(pipeline)
        try:
            (runs / rid).mkdir()
            return rid, runs / rid
        except FileExistsError:
            if run_id:
                raise
    raise RuntimeError("could not create a unique run folder")


def list_runs(home: Path) -> list[Path]:
    runs = home / "runs"
    if not runs.is_dir():
        return []
    return sorted((p for p in runs.iterdir() if (p / "run.json").exists()), key=lambda p: os.path.getmtime(p))
