"""The per-attempt ledger (``logs/sys/job_report/processed_mini-batches.csv``).

Append-only and flushed after every attempt, so a coordinator killed at any point leaves an
exact account of what finished, which ``--resume`` reads back.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, TYPE_CHECKING

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


COLUMNS = [f.name for f in fields(AttemptRow)]
_DURATION = COLUMNS.index("duration_s")


class LedgerWriter:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        _drop_torn_tail(path)
        new = not path.exists() or path.stat().st_size == 0
        self._file: IO[str] = open(path, "a", encoding="utf-8", errors="backslashreplace", newline="")
        self._csv = csv.writer(self._file)
        if new:
            self._csv.writerow(COLUMNS)
            self._file.flush()

    def write(self, row: AttemptRow) -> None:
        values = [getattr(row, c) for c in COLUMNS]  # not dataclasses.asdict: it deep-copies, per attempt
        values[_DURATION] = f"{row.duration_s:.3f}"
        try:
            self._csv.writerow(values)
            self._file.flush()
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, exc.filename or self._file.name) from None

    def close(self) -> None:
        self._file.close()


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
    return list(csv.DictReader(io.StringIO(text)))


def read_ledgers(run_dir: Path, steps: list[str]) -> pd.DataFrame:
    """The ledgers of a run's parallel steps as one DataFrame with a ``job`` column (any backend:
    a fetched Azure ML run is laid out the same way)."""
    import pandas as pd

    frames = []
    for name in steps:
        path = run_dir / name / LEDGER
        if path.exists():
            frame = pd.read_csv(path, keep_default_na=False,
                                dtype={"error_type": str, "error_message": str, "label": str, "node": str})
            frame.insert(0, "job", name)
            frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["job", *COLUMNS])
    return pd.concat(frames, ignore_index=True)
