"""What a run shows while it works: a live view on a terminal, plain log lines elsewhere.

Backends report events to a :class:`Reporter`; it decides how they look.

- On a terminal, :mod:`tenantml.live` (built on rich, imported only then) redraws one block per
  running parallel step: a bar sized to the terminal, counts, a smoothed ETA, the phase
  (dividing the input, workers in ``init()``) and the tenants running now with how long they
  have run. Event lines scroll above it; nothing is ever wider than the terminal.
- Elsewhere (a file, a pipe, CI logs) every event is one plain line, and a progress line is
  printed at most every ``interval`` seconds.

Failures are grouped: the first few lines of one error are printed, the rest counted and said
once when the step ends ("... and 96 more mini-batches failed with the same error"), so 99
failing partitions do not print 300 lines.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from tenantml.policy import Tally

if TYPE_CHECKING:
    from tenantml.live import LiveView

#: Lines printed for one (step, kind, error) before the rest are only counted.
GROUP_AFTER = 3


@dataclass(frozen=True)
class Snapshot:
    job: str
    tally: Tally
    running: int
    retrying: int
    elapsed: float
    starting: int = 0  # workers importing the entry script / in init()
    kept: int = 0  # mini-batches that succeeded in an earlier session (--resume)
    phase: str = ""  # what the step does before mini-batches run: "dividing the input", ...
    now_running: tuple[tuple[str, float], ...] = ()  # (tenant label, seconds in run()), longest first
    smoothed_eta: float | None = None  # set by the Reporter; None: not known yet
    eta_known: bool = False

    def eta(self) -> float | None:
        if self.eta_known:
            return self.smoothed_eta
        done = self.tally.processed - self.kept  # this session's work only: a resume starts at 0
        if done <= 0 or self.elapsed <= 0:
            return None
        return (self.tally.total_mini_batches - self.tally.processed) * self.elapsed / done

    def counts(self) -> str:
        t = self.tally
        text = (f"{t.processed}/{t.total_mini_batches} mini-batches done, {t.failed_mini_batches} failed, "
                f"{self.retrying} retrying, {self.running} running")
        if self.starting:
            text += f", {self.starting} in init()"
        return text

    def line(self) -> str:
        t = self.tally
        eta = self.eta()
        eta_text = "" if eta is None or t.complete else f", ETA {_duration(eta)}"
        phase = f" [{self.phase}]" if self.phase else ""
        return (f"{self.job}:{phase} {self.counts()}; "
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


class Eta:
    """A remaining-time estimate that does not jump.

    The rate is measured from the first finished mini-batch of this session on (so neither the
    workers' ``init()`` nor the mini-batches kept by a resume count), is not given before three
    mini-batches have finished, and each new estimate moves the previous one (counted down by
    the time that passed) only a fifth of the way.
    """

    MIN_DONE = 3
    WEIGHT = 0.2

    def __init__(self) -> None:
        self.first: tuple[float, int] | None = None  # (elapsed, done) at the first finish
        self.value: float | None = None
        self.at = 0.0
        self.last_done = -1

    def update(self, done: int, remaining: int, elapsed: float) -> float | None:
        if done <= 0:
            return None
        if self.first is None:
            self.first = (elapsed, done)
        t0, d0 = self.first
        if remaining <= 0:
            self.value, self.at = 0.0, elapsed
            return 0.0
        if done < self.MIN_DONE or done <= d0 or elapsed <= t0:
            return None
        if done == self.last_done and self.value is not None:  # nothing new: count down
            return max(0.0, self.value - (elapsed - self.at))
        self.last_done = done
        raw = remaining * (elapsed - t0) / (done - d0)
        if self.value is None:
            self.value = raw
        else:
            predicted = max(0.0, self.value - (elapsed - self.at))
            self.value = predicted + self.WEIGHT * (raw - predicted)
        self.at = elapsed
        return self.value


@dataclass
class _Group:
    shown: int = 0
    hidden: int = 0
    example: str = ""


def error_key(message: str) -> str:
    """The same error for different tenants: numbers, quoted values and paths do not count."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", message)
    return re.sub(r"\d+", "#", text)


class Reporter:
    """Prints progress to ``stream`` (stderr by default). Thread-safe."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None, interval: float = 10.0,
                 quiet: bool = False):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.interval = interval
        self.quiet = quiet
        self._lock = threading.RLock()
        self._last_plain: dict[str, float] = {}
        self._etas: dict[str, Eta] = {}
        self._groups: dict[tuple[str, str, str], _Group] = {}
        self._view: LiveView | None = None

    # ------------------------------------------------------------------ output
    def _live_view(self) -> LiveView:
        if self._view is None:
            from tenantml.live import LiveView

            self._view = LiveView(self.stream)
        return self._view

    def _write(self, text: str) -> None:
        if self.quiet:
            return
        with self._lock:
            if self.live:
                self._live_view().print(text)
                return
            self.stream.write(text + "\n")
            self.stream.flush()

    def note(self, text: str) -> None:
        self._write(text)

    def event(self, job: str, text: str) -> None:
        self._write(f"{job}: {text}")

    def failure(self, job: str, kind: str, text: str, error: str) -> None:
        """A failed attempt (``kind`` "retry", "failed" or "init"): printed for the first
        :data:`GROUP_AFTER` of the same error, counted after that."""
        with self._lock:
            group = self._groups.setdefault((job, kind, error_key(error)), _Group(example=error))
            if group.shown < GROUP_AFTER:
                group.shown += 1
                self.event(job, text)
            else:
                group.hidden += 1

    def _flush_groups(self, job: str | None = None) -> None:
        words = {"retry": "attempts failed and will be retried", "failed": "mini-batches failed",
                 "init": "init() calls failed"}
        with self._lock:
            for key in [k for k in self._groups if job is None or k[0] == job]:
                group = self._groups.pop(key)
                if group.hidden:
                    self.event(key[0], f"... and {group.hidden} more {words.get(key[1], key[1])} with the same "
                                       f"error: {group.example}")

    def progress(self, snap: Snapshot, *, force: bool = False) -> None:
        if self.quiet:
            return
        eta = self._etas.setdefault(snap.job, Eta()).update(
            snap.tally.processed - snap.kept, snap.tally.total_mini_batches - snap.tally.processed, snap.elapsed)
        snap = dataclasses.replace(snap, smoothed_eta=eta, eta_known=True)
        now = time.monotonic()
        if self.live:
            if not force and now - self._last_plain.get(snap.job, 0.0) < 0.1:
                return
            self._last_plain[snap.job] = now
            with self._lock:
                self._live_view().update(snap)
            return
        if force or now - self._last_plain.get(snap.job, 0.0) >= self.interval:
            self._last_plain[snap.job] = now
            line = snap.line()
            if snap.now_running:
                line += "; running now: " + ", ".join(f"{label} {_duration(s)}" for label, s in snap.now_running[:3])
                if len(snap.now_running) > 3:
                    line += f" (+{len(snap.now_running) - 3})"
            self._write(line)

    def step_done(self, job: str) -> None:
        """A step ended: say what was grouped, and take its block off the live view."""
        self._flush_groups(job)
        with self._lock:
            if self._view is not None:
                self._view.done(job)

    def finish_line(self) -> None:
        self._flush_groups()
        with self._lock:
            if self._view is not None:
                self._view.stop()
                self._view = None

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.finish_line()
