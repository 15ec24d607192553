"""Lenient reading of values found in run files (a number may be missing, a string, or garbage)."""

from __future__ import annotations

import time
from typing import Any


def elapsed(started: float | None, ended: float | None, *, running: bool) -> float | None:
    if started is None:
        return None
    if ended is None:
        return time.time() - started if running else None
    return max(0.0, ended - started)


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def int_or(value: Any, default: int) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default

