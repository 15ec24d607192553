"""Once a run is stopping, a further Ctrl-C (or SIGTERM) waits for the stop instead of cutting it.

The local backend engages the guard from the first Ctrl-C until its record says Interrupted;
the aml backend while it records that the user stopped waiting.

    first Ctrl-C   --> KeyboardInterrupt in the main thread --> engage(): later signals are absorbed
                       steps end their workers, statuses set, run.json saved (Interrupted)
                   --> release(): the handlers the run found are back

Without the guard a second Ctrl-C lands wherever the main thread is in that orderly stop (saving
``run.json``, joining the step threads) and the run folder says ``Running`` for a run that
ended. Users press Ctrl-C twice: the second one is absorbed with one line saying what is still
going on; Ctrl-\\ (SIGQUIT) still ends tenantml at once and the reaper ends every worker
(:mod:`tenantml.backends.local.reaper`). Only the main thread can set handlers: elsewhere (a run
waited on from a thread) the guard does nothing.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopGuard:
    def __init__(self, doing: str = "writing the run record") -> None:
        self._note = f"\ntenantml: still stopping: {doing} (Ctrl-\\ quits at once)\n".encode()
        self._previous: dict[int, Any] = {}
        self._told = False

    @property
    def engaged(self) -> bool:
        return bool(self._previous)

    def engage(self) -> None:
        """Absorb SIGINT/SIGTERM from now on (idempotent; the main thread only)."""
        if self._previous or threading.current_thread() is not threading.main_thread():
            return
        for sig in _SIGNALS:
            self._previous[sig] = signal.signal(sig, self._absorb)

    def release(self) -> None:
        """Give back the handlers found at :meth:`engage`."""
        previous, self._previous = self._previous, {}
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Engaged for a block (what was engaged before stays engaged after)."""
        engaged = self.engaged
        self.engage()
        try:
            yield
        finally:
            if not engaged:
                self.release()

    def _absorb(self, signum: int, frame: FrameType | None) -> None:
        if not self._told:  # os.write: a handler may run while the main thread holds the reporter's lock
            self._told = True
            try:
                os.write(2, self._note)
            except OSError:
                pass
