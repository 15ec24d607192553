"""The per-attempt ledger (``logs/sys/job_report/processed_mini-batches.csv``).

Append-only. Rows are handed to the kernel at most :data:`FLUSH_EVERY` seconds after they are
written (the scheduler wakes up for it, :meth:`LedgerWriter.flush_due_in`), and always before
the step commits, so a coordinator killed at any point leaves an account of what finished that
``--resume`` reads back, short of at most the last fraction of a second. A row lost that way
only means its mini-batch runs again: the rows of an attempt are found through the rows
journals (:mod:`tenantml.runfolder.rows`), which also number the resumed attempts above the
lost one, so no (mini-batch, attempt) is ever written twice.

On disk the columns are Azure ML's, in its order, then tenantml's own; readers get tenantml's
internal names whichever header the file has (:mod:`tenantml.ledger_columns` says which, and why).
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, TYPE_CHECKING

from tenantml.ledger_columns import AZURE_STATUS, HEADER, HEADER_NAMES, disk_values, is_local_header, normalize

__all__ = ["HEADER", "HEADER_NAMES", "disk_values", "is_local_header", "normalize", "AttemptRow", "COLUMNS",
           "LedgerWriter", "read_rows", "read_ledgers", "iso", "LEDGER"]

if TYPE_CHECKING:
    import pandas as pd

LEDGER = Path("logs") / "sys" / "job_report" / "processed_mini-batches.csv"  # inside a step's folder


@dataclass(frozen=True)
class AttemptRow:
    mini_batch: int
    attempt: int
    label: str
    node: str
    process: str
    pid: int
    start: str  # ISO local time
    duration_s: float
    items: int
    succeeded: int
    failed: int
    outcome: str
    final: bool  # this attempt decided the mini-batch (succeeded, or failed after the last retry)
    error_type: str
    error_message: str
    process_seconds: str = ""  # user + system CPU seconds of the worker process so far, "" when gone


COLUMNS = [f.name for f in fields(AttemptRow) if f.name != "process_seconds"]

FLUSH_EVERY = 0.2  # s: the most of the ledger a SIGKILL of the coordinator can take


class LedgerWriter:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        _drop_torn_tail(path)
        new = not path.exists() or path.stat().st_size == 0
        self._file: IO[str] = open(path, "a", encoding="utf-8", errors="backslashreplace", newline="")  # noqa: SIM115
        self._csv = csv.writer(self._file)
        self._unflushed_since: float | None = None  # monotonic time of the oldest row not flushed
        if new:
            self._csv.writerow(HEADER_NAMES)
            self.flush()

    def write(self, row: AttemptRow) -> None:
        try:
            self._csv.writerow(disk_row(row))
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, exc.filename or self._file.name) from None
        now = time.monotonic()
        if self._unflushed_since is None:
            self._unflushed_since = now
        elif now - self._unflushed_since >= FLUSH_EVERY:
            self.flush()

    def flush_due_in(self) -> float:
        """Seconds until the rows written are due to be flushed (inf: none waiting)."""
        if self._unflushed_since is None:
            return float("inf")
        return max(0.0, self._unflushed_since + FLUSH_EVERY - time.monotonic())

    def flush(self) -> None:
        try:
            self._file.flush()
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, exc.filename or self._file.name) from None
        self._unflushed_since = None

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._file.close()


def disk_row(row: AttemptRow) -> list[object]:
    """:func:`disk_values` of one attempt, without building a dict per attempt (the same cells:
    tests/test_ledger.py checks it against disk_values)."""
    duration = f"{row.duration_s:.3f}"
    return [row.mini_batch, row.attempt, row.process, row.node, row.start, row.items, row.succeeded, row.failed,
            duration, row.process_seconds, duration, AZURE_STATUS.get(row.outcome, ""), row.error_type,
            row.error_message, f'{{"index": {row.mini_batch}, "label": {json.dumps(row.label)}}}', row.label,
            row.pid, row.outcome, row.final]


_DISK_ROW_HEADER = ["Mini-batch Id", "Picked Count", "Process", "Node", "Start Time", "Total", "Succeeded", "Failed",
                    "Elapsed Seconds", "Process Seconds", "Run Method Seconds", "Status", "Error Category",
                    "Error Message", "Mini-batch Detail", "Label", "Pid", "Outcome", "Final"]
if HEADER_NAMES != _DISK_ROW_HEADER:  # pragma: no cover - ledger_columns changed: disk_row must follow
    raise ImportError("tenantml.ledger_columns.HEADER changed; update runfolder.ledger.disk_row to match")




def _drop_torn_tail(path: Path) -> None:
    """A writer killed mid-row leaves a partial last line: cut it so the next row starts clean."""
    if not path.exists():
        return
    with open(path, "rb+") as f:
        size = f.seek(0, 2)
        if size == 0:
            return
        f.seek(max(0, size - 65536))
        tail = f.read()
        if tail.endswith(b"\n"):
            return
        cut = tail.rfind(b"\n")
        f.truncate(size - len(tail) + cut + 1 if cut >= 0 else 0)


_ISO_SECOND: tuple[int, str] = (-1, "")  # the last second formatted: localtime() + strftime once a second


def iso(ts: float) -> str:
    global _ISO_SECOND
    second, text = _ISO_SECOND
    if second != int(ts):
        second, text = _ISO_SECOND = (int(ts), time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(ts)))
    return text + f".{int(ts % 1 * 1000):03d}"


def read_rows(path: Path) -> list[dict[str, str]]:
    """The ledger as dicts (no pandas needed); tolerates a torn last line from a killed writer."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    reader = csv.reader(io.StringIO(text))
    header = normalize(next(reader, []))
    return [dict(zip(header, row)) for row in reader]


def read_ledgers(run_dir: Path, steps: list[str]) -> pd.DataFrame:
    """The ledgers of a run's parallel steps as one DataFrame with a ``job`` column (any backend:
    a fetched Azure ML run is laid out the same way)."""
    import pandas as pd

    frames = []
    for name in steps:
        path = run_dir / name / LEDGER
        if path.exists():
            text_columns = ("error_type", "error_message", "label", "node", "process")
            frame = pd.read_csv(path, keep_default_na=False, dtype=str)
            frame.columns = normalize(list(frame.columns))
            frame = frame[[c for c in COLUMNS if c in frame.columns]]
            for column in frame.columns:
                if column == "final":
                    frame[column] = frame[column] == "True"
                elif column not in text_columns and column != "start" and column != "outcome":
                    frame[column] = pd.to_numeric(frame[column], errors="coerce")
            frame.insert(0, "job", name)
            frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["job", *COLUMNS])
    return pd.concat(frames, ignore_index=True)
