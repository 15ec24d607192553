"""Small process utilities: reading /proc, and ending a worker's whole process group."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from tenantml.backends.local import reaper

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def rss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


def cpu_seconds(pid: int) -> tuple[float, float] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[11]) / _TICK, int(fields[12]) / _TICK
    except (OSError, IndexError, ValueError):
        return None


def kill_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Signal the worker and everything it started (it leads its own session)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


def end_all(procs: list[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERM every group, wait up to ``grace`` seconds, SIGKILL what is left, reap all."""
    alive = [p for p in procs if p.poll() is None]
    for p in alive:
        kill_group(p, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in alive:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for p in procs:
        kill_group(p, signal.SIGKILL)  # also children a worker left behind in its group
        try:
            p.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        reaper.forget(p.pid)


def watched(proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    """Register a child that leads its own process group with the run's reaper (no orphans)."""
    reaper.watch(proc.pid)
    return proc


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "is still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"exited with code {returncode}"
