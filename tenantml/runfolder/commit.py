"""A step's commit record: what it started from, and the one truth that it is done.

``state/inputs.json`` holds the signature of the step's definition, code and inputs when it
started; ``state/committed.json`` is written once the step's outputs are in place and before
anything they were built from (the row spills) is deleted. See :mod:`tenantml.runfolder`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tenantml.runfolder import layout
from tenantml.runfolder.atomic import atomic_write

STATE = "state"
INPUTS = "inputs.json"
COMMITTED = "committed.json"
LEDGER = Path(layout.LOGS) / layout.LEDGER


def write_inputs(job_dir: Path, signature: str | None) -> None:
    (job_dir / STATE).mkdir(parents=True, exist_ok=True)
    atomic_write(job_dir / STATE / INPUTS, json.dumps({"signature": signature}))


def read_inputs(job_dir: Path) -> str | None:
    try:
        value = json.loads((job_dir / STATE / INPUTS).read_text(encoding="utf-8")).get("signature")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def write_committed(job_dir: Path, status: str, reason: str, signature: str | None) -> None:
    (job_dir / STATE).mkdir(parents=True, exist_ok=True)
    atomic_write(job_dir / STATE / COMMITTED, json.dumps({"status": status, "reason": reason,
                                                          "signature": signature}))


def read_committed(job_dir: Path) -> dict[str, Any] | None:
    try:
        value = json.loads((job_dir / STATE / COMMITTED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) and value.get("status") == "Completed" else None


def discard_step_state(job_dir: Path) -> None:
    """Forget an earlier session of a step (files this run created: plan, spills, ledger, result)."""
    shutil.rmtree(job_dir / STATE, ignore_errors=True)
    for path in (job_dir / LEDGER, job_dir / layout.LOGS / layout.JOB_RESULT):
        try:
            path.unlink()
        except FileNotFoundError:
            pass
