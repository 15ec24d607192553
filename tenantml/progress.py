"""What a run shows while it works: a live line on a terminal, plain log lines elsewhere.

Backends report events to a :class:`Reporter`; it decides how they look. On a terminal one
status line per parallel step is redrawn (mini-batches done / failed / retrying, items, ETA);
when output is a file or a pipe, a plain line is printed at most every ``interval`` seconds,
plus one line for every retry and every failed mini-batch.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import TextIO

from tenantml.policy import Tally


@dataclass(frozen=True)
class Snapshot:
    job: str
    tally: Tally
    running: int
    retrying: int
    elapsed: float

    def eta(self) -> float | None:
        done = self.tally.processed
        if done == 0 or self.elapsed <= 0:
            return None
        return (self.tally.total_mini_batches - done) * self.elapsed / done

    def line(self) -> str:
        t = self.tally
        eta = self.eta()
        eta_text = "" if eta is None or t.complete else f", ETA {_duration(eta)}"
        return (f"{self.job}: {t.processed}/{t.total_mini_batches} mini-batches done, "
                f"{t.failed_mini_batches} failed, {self.retrying} retrying, {self.running} running; "
                f"items {t.succeeded_items} ok / {t.failed_items} failed; {_duration(self.elapsed)}{eta_text}")


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Reporter:
    """Prints progress to ``stream`` (stderr by default). Thread-safe."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None, interval: float = 10.0,
                 quiet: bool = False):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.interval = interval
        self.quiet = quiet
        self._lock = threading.Lock()
        self._last_plain: dict[str, float] = {}
        self._last_draw = 0.0
        self._drawn = False

    def _write(self, text: str) -> None:
        if self.quiet:
            return
        with self._lock:
            if self._drawn:
                self.stream.write("\r\033[K")
                self._drawn = False
            self.stream.write(text + "\n")
            self.stream.flush()

    def note(self, text: str) -> None:
        self._write(text)

    def event(self, job: str, text: str) -> None:
        self._write(f"{job}: {text}")

    def progress(self, snap: Snapshot, *, force: bool = False) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if self.live:
            if not force and now - self._last_draw < 0.1:
                return
            with self._lock:
                self.stream.write("\r\033[K" + snap.line()[: 200])
                self.stream.flush()
                self._drawn = True
                self._last_draw = now
            return
        if force or now - self._last_plain.get(snap.job, 0.0) >= self.interval:
            self._last_plain[snap.job] = now
            self._write(snap.line())

    def finish_line(self) -> None:
        with self._lock:
            if self._drawn:
                self.stream.write("\n")
                self.stream.flush()
                self._drawn = False
