"""The per-attempt ledger (``logs/sys/job_report/processed_mini-batches.csv``).

Append-only and flushed after every attempt, so a coordinator killed at any point leaves an
exact account of what finished, which ``--resume`` reads back.

On disk the columns are Azure ML's, in its order ("ParallelRunStep Performance Tuning Guide",
"Columns of the table": Mini-batch Id, Picked Count, Process, Start Time, Total, Succeeded,
Failed, Elapsed Seconds, Process Seconds, Run Method Seconds, Status, Error Category, Error
Message, Mini-batch Detail), with ``Node`` before ``Start Time`` (how-to-debug-parallel-run-step:
the table "shows ... its execution agent node id and process name"; the tuning guide's own
example puts Start Time in column E, so one column sits between Process and Start Time), then
tenantml's own columns (Label, Pid, Outcome, Final). Readers get tenantml's internal names
(:data:`COLUMNS`) whichever header the file has: :func:`normalize` maps them.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, TYPE_CHECKING

from tenantml.ledger_columns import HEADER, HEADER_NAMES, disk_values, is_local_header, normalize

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

class LedgerWriter:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        _drop_torn_tail(path)
        new = not path.exists() or path.stat().st_size == 0
        self._file: IO[str] = open(path, "a", encoding="utf-8", errors="backslashreplace", newline="")
        self._csv = csv.writer(self._file)
        if new:
            self._csv.writerow(HEADER_NAMES)
            self._file.flush()

    def write(self, row: AttemptRow) -> None:
        values = {f: getattr(row, f) for f in _FIELDS}  # not dataclasses.asdict: it deep-copies, per attempt
        values["duration_s"] = f"{row.duration_s:.3f}"
        try:
            self._csv.writerow(disk_values(values))
            self._file.flush()
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, exc.filename or self._file.name) from None

    def close(self) -> None:
        self._file.close()


_FIELDS = [f.name for f in fields(AttemptRow)]


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
