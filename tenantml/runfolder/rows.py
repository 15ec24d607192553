"""``append_row_to``: each mini-batch's rows, from its final attempt, in mini-batch index order.

Workers spill the rows of every attempt to ``state/rows/<index>.<attempt>.txt``. When a
mini-batch becomes final, the coordinator marks it here; rows are appended as soon as every
lower index is final too. Memory holds only the indices that finished ahead of a slower one,
never rows.

The output is built aside (``.<name>.partial`` beside it) and renamed into place by
:meth:`RowAppender.commit`, so the real output is never truncated or half-written by a session
that has not rebuilt it whole (a resume after a crash, a resume that fails on a bad ledger).
Spills are kept until the step is committed (:mod:`tenantml.runfolder.commit`), so a resumed
step rebuilds the output from the start, complete and in order.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import IO

from tenantml.runfolder.atomic import fsync_dir


class RowAppender:
    def __init__(self, target: Path | None, rows_dir: Path, start: int = 0):
        self.target = target
        self.rows_dir = rows_dir
        self.next = start
        self.ready: dict[int, int | None] = {}  # index -> final successful attempt (None: failed)
        self._out: IO[bytes] | None = None
        self.aside = target.with_name(f".{target.name}.partial") if target is not None else None

    def open(self) -> None:
        """Start building the output aside (called once what to keep is known)."""
        if self.aside is not None and self._out is None:
            self.aside.parent.mkdir(parents=True, exist_ok=True)
            self._out = open(self.aside, "wb")

    def finalize(self, index: int, attempt: int | None) -> None:
        if self.aside is None:
            return
        self.open()
        self.ready[index] = attempt
        while self.next in self.ready:
            self._write(self.next, self.ready.pop(self.next))
            self.next += 1

    def _write(self, index: int, attempt: int | None) -> None:
        assert self._out is not None
        if attempt is not None:
            spill = self.rows_dir / f"{index}.{attempt}.txt"
            if spill.exists():
                try:
                    with open(spill, "rb") as rows:
                        shutil.copyfileobj(rows, self._out)
                    self._out.flush()
                except OSError as exc:
                    raise OSError(exc.errno, exc.strerror, exc.filename or str(self.aside)) from None

    def commit(self) -> None:
        """The output is whole: make it durable and rename it into place."""
        if self.aside is None or self.target is None:
            return
        self.open()
        assert self._out is not None
        self._out.flush()
        os.fsync(self._out.fileno())
        self.close()
        if self.target.is_dir() and not self.target.is_symlink():
            from tenantml.errors import UserError

            raise UserError(f"the append_row_to output {self.target} is a folder; tenantml replaces only a file "
                            "there.", file=self.target, fix="remove it, or point the output at another path")
        os.replace(self.aside, self.target)
        fsync_dir(self.target.parent)

    def discard_aside(self) -> None:
        """The step failed: the half-built output is not the output; remove it (it is ours)."""
        self.close()
        if self.aside is not None:
            try:
                self.aside.unlink()
            except OSError:
                pass

    def discard_spills(self) -> None:
        """Called once the step is committed: the output is whole, the spills are no longer needed."""
        shutil.rmtree(self.rows_dir, ignore_errors=True)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
