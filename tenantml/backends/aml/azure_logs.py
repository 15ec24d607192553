"""Azure ML's log tree of a parallel step -> tenantml's ledger, so ``tenantml show`` reads a cloud
run exactly as a local one.

What Azure ML writes under a parallel step's ``logs/`` (documented in "ParallelRunStep performance
tuning" and "how-to-debug-parallel-run-step", kept by the v2 parallel job):

    logs/job_result.txt                          final verdict and, on failure, the reason
    logs/job_progress_overview.<yyyymmddhh>.txt  scheduled / processed / failed mini-batches, items
    logs/sys/job_report/processed_mini-batches.csv   one row per processed mini-batch attempt
        (logs/sys/report/processed_tasks.csv in old versions)
    logs/job_error.txt                           the error that failed the job (on failure)
    logs/user/error.txt                          the entry script's error, summarised
    logs/user/error/<node>/<process>.txt         tracebacks of the entry script
    logs/user/{stdout,stderr,entry_script_log}/<node>/<process>...
    logs/sys/master_role.<n>.txt                 the scheduler's log; "The master role failed with
                                                 error: ..." and its traceback when it fails

Real samples (tests/aml_log_samples/, each with its public source) decide the formats:
``job_progress_overview`` lines are timestamped sentences ("<iso time> Processed 4117 of 20000
mini batches in 5:02:14. Estimated remaining time 19:25:59.", "Scheduling finished. Scheduled 276
mini batches in 22 seconds. There are 276 tasks with 551 items.", "The overviewer on 7 stopped.");
a report row whose mini-batch id is ``N/A`` is a lifecycle event of a process (``Status``
ENTRY_SCRIPT_INIT_START...), never a mini-batch.

The columns of ``processed_mini-batches.csv``, as documented: Mini-batch Id, Picked Count,
Process, Start Time, Total, Succeeded, Failed, Elapsed Seconds, Process Seconds, Run Method
Seconds, Status, Error Category, Error Message, Mini-batch Detail (a JSON description of the
mini-batch). Column names are matched loosely (case, spaces, punctuation; old names such as
``Task Id``/``Dequeue Count``/``Error`` too), because Azure ML has renamed them over versions and
documents them with screenshots rather than a schema. Unknown columns are ignored.

:func:`convert` keeps Azure ML's file as ``processed_mini-batches.azureml.csv`` and writes the
local runner's columns (``tenantml/runfolder/ledger.py``) at the usual path.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tenantml.policy import Outcome
from tenantml.status import RunStatus

LEDGER = Path("sys") / "job_report" / "processed_mini-batches.csv"
AZURE_COPY = Path("sys") / "job_report" / "processed_mini-batches.azureml.csv"
LEGACY = Path("sys") / "report" / "processed_tasks.csv"

_ALIASES = {
    "mini_batch": ("minibatchid", "taskid", "id", "minibatchindex"),
    "attempt": ("pickedcount", "dequeuecount", "attempt", "retrycount"),
    "process": ("process", "processname", "agent"),
    "node": ("node", "nodeid", "ipaddress", "ip", "host"),
    "pid": ("processid", "pid"),
    "start": ("starttime", "processstarttime", "start"),
    "items": ("total", "items"),
    "succeeded": ("succeeded",),
    "failed": ("failed",),
    "duration": ("elapsedseconds", "duration"),
    "status": ("status",),
    "error_type": ("errorcategory", "errortype", "errorcode"),
    "error_message": ("errormessage", "error"),
    "detail": ("minibatchdetail", "detail", "minibatch"),
}

_S, _R, _T, _C, _W = (Outcome.SUCCEEDED, Outcome.RAISED, Outcome.TIMEOUT, Outcome.CRASHED, Outcome.WRONG_TYPE)
_OUTCOMES: dict[str, Outcome] = {  # Azure ML's status words -> tenantml's attempt outcomes
    "rundone": _S, "succeeded": _S, "completed": _S, "done": _S,
    "runexception": _R, "exception": _R, "failed": _R, "runfailed": _R,
    "runtimeout": _T, "timeout": _T, "loadtimeout": _T,
    "processcrashed": _C, "crashed": _C, "runprocessexit": _C, "processexit": _C,
    "loadexception": _R, "invalidreturn": _W, "wrongtype": _W,
}


@dataclass(frozen=True)
class MiniBatchItems:
    """What one Azure ML mini-batch held, as far as its detail column tells."""

    files: tuple[str, ...] = ()
    partition: dict[str, Any] = field(default_factory=dict)
    raw: str = ""

    @property
    def label(self) -> str:
        if self.partition:
            return ", ".join(f"{k}={v}" for k, v in self.partition.items())
        if self.files:
            names = [Path(f).name for f in self.files[:2]]
            return ", ".join(names) + (f" (+{len(self.files) - 2})" if len(self.files) > 2 else "")
        return self.raw[:80]


@dataclass
class AzureStepLogs:
    status: str | None  # Completed / Failed from job_result.txt, None when absent
    reason: str
    progress: dict[str, int]
    rows: list[dict[str, Any]]  # the local ledger's columns
    items: dict[int, MiniBatchItems]
    error_logs: list[Path]
    events: list[dict[str, str]] = field(default_factory=list)  # N/A rows: init/shutdown of a process
    progress_text: str = ""  # the newest job_progress_overview sentence, as Azure ML wrote it

    def unsucceeded(self) -> list[int]:
        """Mini-batches whose last attempt did not succeed."""
        last: dict[int, dict[str, Any]] = {}
        for row in self.rows:
            if row["mini_batch"] not in last or row["attempt"] >= last[row["mini_batch"]]["attempt"]:
                last[row["mini_batch"]] = row
        return sorted(i for i, r in last.items() if not Outcome(r["outcome"]).is_success)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _columns(header: list[str]) -> dict[str, int]:
    index = {_norm(h): i for i, h in enumerate(header)}
    found = {}
    for key, names in _ALIASES.items():
        for name in names:
            if name in index:
                found[key] = index[name]
                break
    return found


def parse_detail(text: str) -> MiniBatchItems:
    """The mini-batch detail column: JSON with files or partition key values (or anything else)."""
    text = (text or "").strip()
    if not text:
        return MiniBatchItems()
    try:
        data = json.loads(text)
    except ValueError:
        return MiniBatchItems(raw=text)
    files: list[str] = []
    partition: dict[str, Any] = {}

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                lowered = _norm(str(k))
                if lowered in ("partitionkeyvalue", "partitionkeyvalues", "partitionkeysvalue", "partition") \
                        and isinstance(v, dict):
                    partition.update(v)
                else:
                    walk(v, lowered)
        elif isinstance(value, list):
            if all(isinstance(v, str) for v in value) and key in ("files", "paths", "filepaths", "items", ""):
                files.extend(value)
            else:
                for v in value:
                    walk(v, key)
        elif isinstance(value, str) and key in ("file", "path", "filepath"):
            files.append(value)

    walk(data)
    return MiniBatchItems(tuple(files), partition, text)


def _int(value: str, default: int = 0) -> int:
    match = re.search(r"-?\d+", value or "")
    return int(match.group(0)) if match else default


def _float(value: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _outcome(status: str, items: int, succeeded: int, error: str) -> str:
    key = _norm(status)
    outcome = _OUTCOMES.get(key)
    if outcome is None:
        outcome = Outcome.RAISED if (error or "error" in key or "fail" in key) else (
            Outcome.SUCCEEDED if key else (Outcome.RAISED if error else Outcome.SUCCEEDED))
    if outcome is Outcome.SUCCEEDED:
        if items == 0:
            return Outcome.EMPTY.value
        if succeeded < items:
            return Outcome.SHORT.value
    return outcome.value


def read_processed(path: Path) -> tuple[list[dict[str, Any]], dict[int, MiniBatchItems]]:
    """Azure ML's processed_mini-batches.csv as rows with the local ledger's columns."""
    rows, items, _ = read_report(path)
    return rows, items


def read_report(path: Path) -> tuple[list[dict[str, Any]], dict[int, MiniBatchItems], list[dict[str, str]]]:
    """Azure ML's processed_mini-batches.csv: mini-batch attempts (the local ledger's columns), what
    each mini-batch held, and the process lifecycle events (rows whose mini-batch id is ``N/A``, as
    in the real 2020 report of MachineLearningNotebooks#957: ``N/A,N/A,<time>,N/A,...,ENTRY_SCRIPT_INIT_START``)."""
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # a torn last line of a job that was killed
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        return [], {}, []
    col = _columns(header)
    events: list[dict[str, str]] = []

    def get(row: list[str], key: str) -> str:
        i = col.get(key)
        return row[i].strip() if i is not None and i < len(row) else ""

    rows: list[dict[str, Any]] = []
    items: dict[int, MiniBatchItems] = {}
    for position, row in enumerate(reader):
        if not any(cell.strip() for cell in row):
            continue
        ident = get(row, "mini_batch")
        if "mini_batch" in col and not re.fullmatch(r"\d+", ident):
            # N/A (or empty): a process's init/shutdown, not a mini-batch; never numbered by position
            events.append({"status": get(row, "status"), "start": get(row, "start"), "process": get(row, "process"),
                           "error": " ".join(get(row, "error_message").split())[:500]})
            continue
        index = _int(ident, position)
        detail = parse_detail(get(row, "detail"))
        if detail.files or detail.partition or index not in items:
            items[index] = detail
        total = _int(get(row, "items"))
        succeeded = _int(get(row, "succeeded"))
        failed_raw = get(row, "failed")
        failed = _int(failed_raw) if failed_raw else max(total - succeeded, 0)
        error_message = get(row, "error_message")
        process = get(row, "process")
        node = get(row, "node")
        if not node and "/" in process:
            node, process = process.rsplit("/", 1)
        outcome = _outcome(get(row, "status"), total, succeeded, error_message)
        if not Outcome(outcome).is_success:
            succeeded, failed = 0, total
        rows.append({
            "mini_batch": index, "attempt": max(_int(get(row, "attempt"), 1), 1), "label": detail.label,
            "node": node, "process": process, "pid": _int(get(row, "pid")), "start": get(row, "start"),
            "duration_s": _float(get(row, "duration")), "items": total, "succeeded": succeeded, "failed": failed,
            "outcome": outcome, "final": False, "error_type": get(row, "error_type"),
            "error_message": " ".join(error_message.split())[:500],
        })
    # the last attempt of each mini-batch decides it (Azure ML delivers at least once; a later
    # success after a failure wins, as in the local runner's exactly-once accounting)
    last: dict[int, int] = {}
    for i, attempt in enumerate(rows):
        index = attempt["mini_batch"]
        if index not in last or attempt["attempt"] >= rows[last[index]]["attempt"]:
            last[index] = i
    for i in last.values():
        rows[i]["final"] = True
    rows.sort(key=lambda r: (r["mini_batch"], r["attempt"]))
    return rows, items, events


def read_result(path: Path) -> tuple[str | None, str]:
    """Status and reason from job_result.txt (free text: look for the verdict words)."""
    if not path.is_file():
        return None, ""
    text = path.read_text(encoding="utf-8", errors="replace")
    status = None
    match = re.search(r"\b(Completed|Failed|Canceled|Cancelled|Succeeded)\b", text, re.I)
    if match:
        word = match.group(1).lower()
        status = RunStatus.COMPLETED if word in ("completed", "succeeded") else RunStatus.FAILED
    reason = ""
    for line in text.splitlines():
        lowered = line.lower()
        if any(w in lowered for w in ("reason", "exceed", "threshold", "error", "exception")):
            reason = line.strip()
            break
    return status, reason


_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?\s+")
_PROCESSED = re.compile(r"Processed (\d+) of (\d+) mini batches in ([\d:. a-z,]+?)\.(?:\s|$)")
_REMAINING = re.compile(r"Estimated remaining time ([\d:. a-z,]+?)\.?$")
_SCHEDULED = re.compile(r"Scheduled (\d+) mini batches in (\d+) seconds?\. There are (\d+) tasks with (\d+) items")


def _seconds(text: str) -> int:
    """str(timedelta): "5:02:14", "1 day, 2:00:00" -> seconds."""
    days = re.match(r"(\d+) days?, ", text)
    clock = text[days.end():] if days else text
    parts = [int(float(x)) for x in clock.strip().split(":") if x.strip()]
    total = 0
    for part in parts:
        total = total * 60 + part
    return total + (int(days.group(1)) * 86400 if days else 0)


def read_progress(logs: Path) -> dict[str, int]:
    """The newest job_progress_overview.*.txt (or the old overview.txt) as numbers: ``scheduled``,
    ``tasks``, ``items``, ``processed``, ``total``, ``elapsed_s``, ``remaining_s``, ``stopped``
    (the overviewer said it stopped); older "label: number" lines too."""
    return _progress(logs)[0]


def _progress(logs: Path) -> tuple[dict[str, int], str]:
    candidates = sorted(logs.glob("job_progress_overview*.txt")) or sorted(logs.glob("overview.txt"))
    found: dict[str, int] = {}
    last = ""
    for candidate in candidates:  # oldest first: later hours overwrite earlier ones
        for raw in candidate.read_text(encoding="utf-8", errors="replace").splitlines():
            line = _STAMP.sub("", raw.strip())
            if not line:
                continue
            last = line
            if match := _SCHEDULED.search(line):
                found.update(scheduled=int(match.group(1)), tasks=int(match.group(3)), items=int(match.group(4)))
            if match := _PROCESSED.search(line):
                found.update(processed=int(match.group(1)), total=int(match.group(2)),
                             elapsed_s=_seconds(match.group(3)))
                if remaining := _REMAINING.search(line):
                    found["remaining_s"] = _seconds(remaining.group(1))
            if re.match(r"The overviewer on \S+ stopped", line):
                found["stopped"] = 1
            elif match := re.match(r"\s*([A-Za-z][A-Za-z \-_()]*?)\s*[:=]\s*(\d+)\b", line):
                found[_norm(match.group(1))] = int(match.group(2))
    return found, last


def read_errors(logs: Path) -> tuple[str, list[Path]]:
    """Why the step failed, from the files Azure ML writes for it (first that says something):
    ``job_error.txt``, ``user/error.txt``, then the master role's "failed with error" line in
    ``sys/master_role*.txt`` (MachineLearningNotebooks#1652); and every error file, for the user."""
    files = [logs / "job_error.txt", logs / "user" / "error.txt"]
    files += sorted((logs / "sys").glob("master_role*.txt")) if (logs / "sys").is_dir() else []
    reason = ""
    found = []
    for file in files:
        if not file.is_file():
            continue
        text = file.read_text(encoding="utf-8", errors="replace")
        line = _error_line(text, master=file.name.startswith("master_role"))
        if line:
            found.append(file)
            reason = reason or line
    return reason, found


def _error_line(text: str, master: bool) -> str:
    if master:
        match = re.search(r"The master role failed with error: (.+)", text)
        if match:
            return match.group(1).strip()[:500]
        for line in text.splitlines():
            if "|ERROR|" in line or "|CRITICAL|" in line:
                return line.split("|", 4)[-1].strip()[:500]
        return ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return ""
    # a traceback: its last line says what was raised
    if any(ln.startswith("Traceback (most recent call last)") for ln in lines):
        return lines[-1][:500]
    return lines[0][:500]


def parse_step_logs(logs: Path) -> AzureStepLogs:
    """Read one parallel step's Azure ML log folder (the ``logs/`` folder itself)."""
    source = next((p for p in (logs / AZURE_COPY, logs / LEDGER, logs / LEGACY) if p.is_file()), None)
    if source is not None and source == logs / LEDGER and _is_local_ledger(source):
        source = None
    rows, items, events = read_report(source) if source is not None else ([], {}, [])
    status, reason = read_result(logs / "job_result.txt")
    error_reason, error_files = read_errors(logs)
    if error_reason and status != RunStatus.COMPLETED:
        reason = error_reason if not reason else f"{reason} ({error_reason})" if error_reason not in reason else reason
    errors = sorted((logs / "user" / "error").rglob("*.txt")) if (logs / "user" / "error").is_dir() else []
    progress, last = _progress(logs)
    return AzureStepLogs(status, reason, progress, rows, items, errors + error_files, events, last)


def _is_local_ledger(path: Path) -> bool:
    from tenantml.ledger_columns import is_local_header

    with open(path, encoding="utf-8", errors="replace") as handle:
        first = handle.readline()
    return is_local_header(first)


def convert(logs: Path) -> AzureStepLogs:
    """Parse a downloaded step's logs and write the local ledger beside Azure ML's own (kept)."""
    from tenantml.ledger_columns import HEADER_NAMES, disk_values

    parsed = parse_step_logs(logs)
    ledger = logs / LEDGER
    copy = logs / AZURE_COPY
    if ledger.is_file() and not _is_local_ledger(ledger) and not copy.exists():
        ledger.replace(copy)
    ledger.parent.mkdir(parents=True, exist_ok=True)
    temp = ledger.with_name(ledger.name + ".tmp")
    with open(temp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER_NAMES)
        for row in parsed.rows:
            values = dict(row)
            values["duration_s"] = f"{row['duration_s']:.3f}"
            writer.writerow(disk_values(values))
    temp.replace(ledger)
    items = {str(k): asdict(v) for k, v in parsed.items.items()}
    (ledger.parent / "mini_batch_items.json").write_text(json.dumps(items, indent=1, default=str), encoding="utf-8")
    return parsed


def find_logs_folder(root: Path) -> Path | None:
    """The ``logs`` folder of a parallel step inside a downloaded job (``artifacts/logs`` usually)."""
    for candidate in (root / "logs", root / "artifacts" / "logs"):
        if (candidate / "job_result.txt").exists() or (candidate / LEDGER).exists() or (candidate / "sys").is_dir():
            return candidate
    for result in sorted(root.rglob("job_result.txt")):
        return result.parent
    for ledger in sorted(root.rglob("processed_mini-batches.csv")):
        return ledger.parent.parent.parent
    return None
