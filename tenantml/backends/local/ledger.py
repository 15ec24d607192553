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
import json
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
    process_seconds: str = ""  # user + system CPU seconds of the worker process so far, "" when gone


COLUMNS = [f.name for f in fields(AttemptRow) if f.name != "process_seconds"]

# (Azure ML's column name, the AttemptRow field it shows); None: computed in disk_values()
HEADER: list[tuple[str, str | None]] = [
    ("Mini-batch Id", "mini_batch"), ("Picked Count", "attempt"), ("Process", "process"), ("Node", "node"),
    ("Start Time", "start"), ("Total", "items"), ("Succeeded", "succeeded"), ("Failed", "failed"),
    ("Elapsed Seconds", "duration_s"), ("Process Seconds", "process_seconds"), ("Run Method Seconds", None),
    ("Status", None), ("Error Category", "error_type"), ("Error Message", "error_message"),
    ("Mini-batch Detail", None), ("Label", "label"), ("Pid", "pid"), ("Outcome", "outcome"), ("Final", "final")]
HEADER_NAMES = [name for name, _ in HEADER]
_INTERNAL = {name: field for name, field in HEADER if field is not None}

# tenantml's outcome -> Azure ML's Status words (tuning guide: "LOAD_DONE, LOAD_TIMEOUT, RUN_DONE, RUN_TIMEOUT,
# RUN_EXCEPTION, etc."); the words for a dead or stopped process are not published: tenantml's own.
AZURE_STATUS = {"succeeded": "RUN_DONE", "short_return": "RUN_DONE", "empty": "RUN_DONE", "raised": "RUN_EXCEPTION",
                "wrong_type": "RUN_EXCEPTION", "timeout": "RUN_TIMEOUT", "crashed": "PROCESS_EXIT",
                "memory_limit": "PROCESS_EXIT", "interrupted": "STOPPED"}


def disk_values(values: dict[str, object]) -> list[object]:
    """One row in :data:`HEADER` order from a dict keyed by tenantml's field names."""
    out: list[object] = []
    for name, key in HEADER:
        if key is not None:
            out.append(values.get(key, ""))
        elif name == "Run Method Seconds":
            out.append(values.get("duration_s", ""))
        elif name == "Status":
            out.append(AZURE_STATUS.get(str(values.get("outcome", "")), ""))
        else:  # Mini-batch Detail
            out.append(json.dumps({"index": values.get("mini_batch"), "label": values.get("label")}))
    return out


def normalize(header: list[str]) -> list[str]:
    """A ledger header in tenantml's internal names (Azure ML's names mapped, old internal names kept)."""
    return [_INTERNAL.get(name, name) for name in header]


def is_local_header(first_line: str) -> bool:
    """The header of a ledger tenantml wrote (this layout or the earlier internal one)."""
    line = first_line.strip()
    return line.startswith("mini_batch,attempt,") or line == ",".join(HEADER_NAMES)


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
