"""The live view on a terminal, drawn with rich (imported only when a run draws on a terminal).

One block per running parallel step, redrawn in place by ``rich.live.Live`` (which knows the
terminal's width and height, so a redraw never leaves stale copies behind)::

    training  ━━━━━━━━━━━━━━━━━━━━━━━╺━━━━━━━━━━━━━━━━  31/80  1 failed  ETA 1m05s
      31/80 mini-batches done, 1 failed, 0 retrying, 4 running; 42.1s
      running now: tenant_17.csv 12s, tenant_33.csv 3s, tenant_34.csv 1s (+1)

Event lines (retries, failures, notes) are printed above the blocks. When a step ends its
block is replaced by its last line, printed once.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from tenantml.progress import Snapshot, _duration


class LiveView:
    def __init__(self, stream: TextIO):
        # the Reporter decided this is a terminal (or was told to draw live): draw as on one
        self.console = Console(file=stream, highlight=False, soft_wrap=False, force_terminal=True)
        self.snaps: dict[str, Snapshot] = {}
        self.live: Live | None = None

    def _start(self) -> Live:
        if self.live is None:
            self.live = Live(Group(), console=self.console, auto_refresh=False, transient=True,
                             redirect_stdout=False, redirect_stderr=False)
            self.live.start()
        return self.live

    def print(self, text: str) -> None:
        self.console.print(Text(text, overflow="fold"), soft_wrap=False)
        if self.live is not None:
            self.live.refresh()

    def update(self, snap: Snapshot) -> None:
        self.snaps[snap.job] = snap
        live = self._start()
        live.update(self._render(), refresh=True)

    def done(self, job: str) -> None:
        snap = self.snaps.pop(job, None)
        if self.live is not None:
            self.live.update(self._render(), refresh=True)
        if snap is not None:
            self.print(_clip(snap.line(), self.console.width))
        if not self.snaps:
            self.stop()

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def _render(self) -> Group:
        width = self.console.width
        parts = []
        for snap in self.snaps.values():
            parts += self._block(snap, width)
        return Group(*parts)

    def _block(self, snap: Snapshot, width: int) -> list[Table | Text]:
        t = snap.tally
        total = max(1, t.total_mini_batches)
        eta = snap.eta()
        right = f" {t.processed}/{t.total_mini_batches}"
        if t.failed_mini_batches:
            right += f" {t.failed_mini_batches} failed"
        right += f" ETA {_duration(eta)}" if eta is not None and not t.complete else f" {_duration(snap.elapsed)}"
        name = _clip(snap.job, max(8, width // 4))
        bar_width = max(10, width - len(name) - len(right) - 2)
        head = Table.grid(padding=(0, 1))
        head.add_column(no_wrap=True)
        head.add_column(no_wrap=True, width=bar_width)
        head.add_column(no_wrap=True)
        bar = ProgressBar(total=total, completed=t.processed, width=bar_width,
                          complete_style="red" if t.failed_mini_batches else "green")
        head.add_row(Text(name, style="bold"), bar, Text(right.strip()))
        lines: list[Table | Text] = [head]
        detail = snap.counts() + f"; {_duration(snap.elapsed)}"
        if snap.phase:
            detail = f"{snap.phase}; " + detail
        lines.append(Text(_clip("  " + detail, width), no_wrap=True, overflow="crop"))
        if snap.now_running:
            shown: list[str] = []
            text = "  running now: "
            for i, (label, seconds) in enumerate(snap.now_running):
                piece = f"{label} {_duration(seconds)}"
                rest = len(snap.now_running) - i - 1
                candidate = text + ", ".join([*shown, piece]) + (f" (+{rest})" if rest else "")
                if len(candidate) > width and shown:
                    break
                shown.append(piece)
            hidden = len(snap.now_running) - len(shown)
            line = text + ", ".join(shown) + (f" (+{hidden})" if hidden else "")
            lines.append(Text(_clip(line, width), no_wrap=True, overflow="crop"))
        return lines


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
