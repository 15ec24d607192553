"""``append_row_to``: each mini-batch's rows, from its final attempt, in mini-batch index order.

Workers spill the rows of every attempt to ``state/rows/<index>.<attempt>.txt``. When a
mini-batch becomes final, the coordinator marks it here; rows are appended to the output as
soon as every lower index is final too. Memory holds only the indices that finished ahead of
a slower one, never rows. Spills are kept until the step completes, so a resumed step rewrites
the output from the start, complete and in order, as if the run had never failed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import IO


class RowAppender:
    def __init__(self, target: Path | None, rows_dir: Path, start: int = 0):
        self.target = target
        self.rows_dir = rows_dir
        self.next = start
        self.ready: dict[int, int | None] = {}  # index -> final successful attempt (None: failed)
        self._out: IO[bytes] | None = None
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._out = open(target, "wb")

    def finalize(self, index: int, attempt: int | None) -> None:
        if self._out is None:
            return
        self.ready[index] = attempt
        while self.next in self.ready:
            self._write(self.next, self.ready.pop(self.next))
            self.next += 1

    def _write(self, index: int, attempt: int | None) -> None:
        assert self._out is not None
        if attempt is not None:
            spill = self.rows_dir / f"{index}.{attempt}.txt"
            if spill.exists():
                with open(spill, "rb") as rows:
                    shutil.copyfileobj(rows, self._out)
                self._out.flush()

    def discard_spills(self) -> None:
        """Called once the step completed: the output is whole, the spills are no longer needed."""
        shutil.rmtree(self.rows_dir, ignore_errors=True)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
