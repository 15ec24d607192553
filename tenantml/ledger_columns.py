"""The columns of ``processed_mini-batches.csv``: Azure ML's names on disk, tenantml's names in memory.

On disk the columns are Azure ML's, in its order ("ParallelRunStep Performance Tuning Guide",
"Columns of the table": Mini-batch Id, Picked Count, Process, Start Time, Total, Succeeded,
Failed, Elapsed Seconds, Process Seconds, Run Method Seconds, Status, Error Category, Error
Message, Mini-batch Detail), with ``Node`` before ``Start Time`` (how-to-debug-parallel-run-step:
the table "shows ... its execution agent node id and process name"; the tuning guide's own
example puts Start Time in column E, so one column sits between Process and Start Time), then
tenantml's own columns (Label, Pid, Outcome, Final). Readers (the local ledger, ``show``,
``logs``, a fetched Azure ML run) get tenantml's internal names whichever header a file has.
Core: no backend is imported here.
"""

from __future__ import annotations

import json

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
