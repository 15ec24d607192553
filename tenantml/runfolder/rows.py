"""``append_row_to``: each mini-batch's rows, from its final attempt, in mini-batch index order.

Each worker process appends the rows of every attempt it makes to its own journal,
``state/rows/<session>.<node>.<agent>.rows`` (:class:`RowsJournal`): one record per attempt, a
header line ``<index> <attempt> <length> <seq>`` then ``length`` bytes of rows, written with one
``write`` before the attempt's Result is sent. The Result names the record (:class:`Spill`:
journal, offset, length), so the coordinator copies it without a look-up, and creates no file
per attempt. When a mini-batch becomes final, the coordinator marks it here; rows are copied as
soon as every lower index is final too. Memory holds only the spills of indices that finished
ahead of a slower one, never rows.

A resume finds the records of the attempts its ledger calls final by scanning the journals'
headers (:func:`scan_journals`), and numbers its own attempts above every attempt found there
or in the ledger, so an attempt whose ledger row was lost (a coordinator killed before writing
it) is never confused with a later one: (mini-batch, attempt) names one record. A torn last
record (a worker killed mid-write) ends the scan of its journal; it belongs to an attempt whose
Result was never sent, which no ledger row calls final.

The output is built aside (``.<name>.partial`` beside it) and renamed into place by
:meth:`RowAppender.commit`, so the real output is never truncated or half-written by a session
that has not rebuilt it whole (a resume after a crash, a resume that fails on a bad ledger).
Spills are kept until the step is committed (:mod:`tenantml.runfolder.commit`), so a resumed
step rebuilds the output from the start, complete and in order.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tenantml.runfolder.atomic import fsync_dir
from tenantml.runfolder.written import WrittenFiles

JOURNAL_SUFFIX = ".rows"
_HEADER = re.compile(rb"(\d+) (\d+) (\d+) (\d+)\n")  # index, attempt, length, seq
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Spill:
    """Where the rows of one attempt are: ``length`` bytes at ``offset`` of the journal ``name``
    in the rows folder (``length`` -1: the whole file, a spill of an older tenantml)."""

    name: str
    offset: int
    length: int


def journal_name(session: str, node: str, agent: str) -> str:
    """The journal of one worker process: unique per session (a random token), node and processNNN."""
    return f"{node}.{agent}.{session}{JOURNAL_SUFFIX}"


class RowsJournal:
    """A worker's append-only journal of rows (created on its first record, never reopened)."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None
        self._size = 0

    def append(self, index: int, attempt: int, data: bytes, seq: int = 0) -> Spill:
        """One record, in one ``write`` where the kernel allows: the header, then the rows. ``seq``
        orders the calls of one session: a call sent again (its first worker was killed after
        finishing it, before its Result was read) has a higher one, and its record wins."""
        if self._fd is None:
            self._fd = self._create()
        header = b"%d %d %d %d\n" % (index, attempt, len(data), seq)
        view = memoryview(header + data)
        start = self._size
        while view:
            written = os.write(self._fd, view)
            self._size += written
            view = view[written:]
        return Spill(self.path.name, start + len(header), len(data))

    def _create(self) -> int:
        """A file no one else wrote: a name left by an earlier session gets a numbered suffix."""
        stem = self.path.name[: -len(JOURNAL_SUFFIX)]
        for n in range(1000):
            if n:
                self.path = self.path.with_name(f"{stem}-{n}{JOURNAL_SUFFIX}")
            try:
                return os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            except FileExistsError:
                continue
        raise FileExistsError(17, "no free name for a rows journal", str(self.path))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def scan_journals(rows_dir: Path, wanted: Iterable[tuple[int, int]] | None = None
                  ) -> tuple[dict[tuple[int, int], Spill], dict[int, int]]:
    """The records of every journal in ``rows_dir``: the spills of the ``wanted`` (mini-batch,
    attempt) pairs (all when None), and the highest attempt recorded per mini-batch. Reads the
    headers only; a torn or foreign tail ends a journal's scan."""
    want = None if wanted is None else set(wanted)
    found: dict[tuple[int, int], Spill] = {}
    seqs: dict[tuple[int, int], int] = {}
    highest: dict[int, int] = {}
    try:
        names = sorted(n for n in os.listdir(rows_dir) if n.endswith(JOURNAL_SUFFIX))
    except OSError:
        return found, highest
    for name in names:
        try:
            with open(rows_dir / name, "rb") as journal:
                size = os.fstat(journal.fileno()).st_size
                offset = 0
                while offset < size:
                    journal.seek(offset)
                    match = _HEADER.fullmatch(journal.readline(64))
                    if match is None:
                        break
                    index, attempt, length, seq = (int(g) for g in match.groups())
                    data_at = offset + match.end()
                    if data_at + length > size:
                        break  # torn: its worker died while writing it
                    highest[index] = max(highest.get(index, 0), attempt)
                    key = (index, attempt)
                    if (want is None or key in want) and seq >= seqs.get(key, -1):
                        found[key], seqs[key] = Spill(name, data_at, length), seq
                    offset = data_at + length
        except OSError:
            continue
    if want is not None:  # spills of an older tenantml: one file per attempt
        for index, attempt in want - found.keys():
            legacy = f"{index}.{attempt}.txt"
            if (rows_dir / legacy).is_file():
                found[(index, attempt)] = Spill(legacy, 0, -1)
    return found, highest


class RowAppender:
    def __init__(self, target: Path | None, rows_dir: Path, start: int = 0, written: WrittenFiles | None = None):
        self.target = target
        self.written = written  # a target outside the run folder: stamped as this run's before the rename
        self.rows_dir = rows_dir
        self.next = start
        self.ready: dict[int, Spill | None] = {}  # index -> rows of its final attempt (None: failed, or no rows)
        self._out: IO[bytes] | None = None
        self._journals: dict[str, int] = {}  # journal name -> read fd
        self.aside = target.with_name(f".{target.name}.partial") if target is not None else None

    def open(self) -> None:
        """Start building the output aside (called once what to keep is known)."""
        if self.aside is not None and self._out is None:
            self.aside.parent.mkdir(parents=True, exist_ok=True)
            self._out = open(self.aside, "wb")  # noqa: SIM115 - closed by commit()/close()

    def finalize(self, index: int, spill: Spill | None) -> None:
        if self.aside is None:
            return
        self.open()
        self.ready[index] = spill
        while self.next in self.ready:
            self._write(self.ready.pop(self.next))
            self.next += 1

    def _write(self, spill: Spill | None) -> None:
        """Copy one attempt's rows into the output being built (buffered: the aside file is rebuilt
        whole by a resume, so nothing is flushed per mini-batch)."""
        assert self._out is not None
        if spill is None or spill.length == 0:
            return
        try:
            fd = self._journal(spill.name)
            offset, left = spill.offset, spill.length if spill.length >= 0 else os.fstat(fd).st_size
            while left > 0:
                data = os.pread(fd, min(left, _CHUNK), offset)
                if not data:
                    raise OSError(5, "the rows journal is shorter than its record", str(self.rows_dir / spill.name))
                self._out.write(data)
                offset += len(data)
                left -= len(data)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, exc.filename or str(self.aside)) from None

    def _journal(self, name: str) -> int:
        fd = self._journals.get(name)
        if fd is None:
            if len(self._journals) >= 64:  # workers replaced many times: keep few files open
                self._close_journals()
            fd = self._journals[name] = os.open(self.rows_dir / name, os.O_RDONLY)
        return fd

    def _close_journals(self) -> None:
        for fd in self._journals.values():
            os.close(fd)
        self._journals.clear()

    def commit(self) -> None:
        """The output is whole: make it durable and rename it into place."""
        if self.aside is None or self.target is None:
            return
        self.open()
        assert self._out is not None
        try:
            self._out.flush()
            os.fsync(self._out.fileno())
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, exc.filename or str(self.aside)) from None
        self.close()
        if self.target.is_dir() and not self.target.is_symlink():
            from tenantml.errors import UserError

            raise UserError(f"the append_row_to output {self.target} is a folder; tenantml replaces only a file "
                            "there.", file=self.target, fix="remove it, or point the output at another path")
        if self.written is not None:
            self.written.stamp(self.aside, self.target)
        os.replace(self.aside, self.target)
        fsync_dir(self.target.parent)

    def discard_aside(self) -> None:
        """The step failed: the half-built output is not the output; remove it (it is ours)."""
        try:
            self.close()
        except OSError:
            pass  # its buffered tail could not be written (a full disk): it is removed anyway
        if self.aside is not None:
            try:
                self.aside.unlink()
            except OSError:
                pass

    def discard_spills(self) -> None:
        """Called once the step is committed: the output is whole, the spills are no longer needed."""
        shutil.rmtree(self.rows_dir, ignore_errors=True)

    def close(self) -> None:
        self._close_journals()
        if self._out is not None:
            out, self._out = self._out, None
            try:
                out.close()
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, exc.filename or str(self.aside)) from None
