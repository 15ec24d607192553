"""What a step's processes left in its logs: error entries of ``user/error/<node>/<process>.txt``
(a stamped header line and the traceback under it) and what each attempt printed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tenantml.runfolder.layout import ERROR_DIR, OUTPUT_INDEX
from tenantml.runfolder.ledgerfold import MiniBatchState, Verdict
from tenantml.runfolder.values import int_or

_STAMP = re.compile(r"^(?P<stamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?P<text>.*)$")
_MINI_BATCH = re.compile(r"mini-batch (?P<index>\d+)(?: attempt (?P<attempt>\d+))?")


@dataclass(frozen=True)
class ErrorEntry:
    """One failure written to ``user/error/<node>/<process>.txt``: a header line and its text."""

    file: Path
    stamp: str
    header: str  # e.g. "process000 failed in run() of mini-batch 3 attempt 2:"
    body: str  # the traceback, or the coordinator's one-line message
    mini_batch: str | None
    attempt: str | None

    @property
    def text(self) -> str:
        return f"{self.stamp} {self.header}\n{self.body}".rstrip()


def read_error_file(path: Path) -> list[ErrorEntry]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    entries: list[ErrorEntry] = []
    current: tuple[str, str] | None = None
    body: list[str] = []

    def close() -> None:
        if current is None:
            return
        stamp, text = current
        found = _MINI_BATCH.search(text)
        header, message = text, ""
        if found and not text.endswith(":"):  # coordinator: "mini-batch N attempt A: <message>"
            cut = text.find(": ", found.end())
            if cut >= 0:
                header, message = text[: cut + 1], text[cut + 2:]
        lines_out = ([message] if message else []) + body
        entries.append(ErrorEntry(path, stamp, header, "\n".join(lines_out).strip("\n"),
                                  found["index"] if found else None, found["attempt"] if found else None))

    for line in lines:
        match = _STAMP.match(line)
        if match:
            close()
            current, body = (match["stamp"], match["text"]), []
        elif current is not None:
            body.append(line)
    close()
    return entries


def error_files(logs: Path) -> list[Path]:
    root = logs / ERROR_DIR
    return sorted(p for p in root.rglob("*.txt") if p.is_file()) if root.is_dir() else []


def error_entries(logs: Path, mini_batch: str | None = None) -> list[ErrorEntry]:
    """Every error entry of a step (or of one mini-batch), oldest first."""
    found = [e for path in error_files(logs) for e in read_error_file(path)
             if mini_batch is None or e.mini_batch == mini_batch]
    return sorted(found, key=lambda e: (e.stamp, int_or(e.attempt, 0)))


def error_log_for(logs: Path, mb: MiniBatchState) -> Path | None:
    """The file holding the traceback of the mini-batch's last failed attempt."""
    if not mb.error_attempt and mb.state is Verdict.SUCCEEDED:
        return None
    if mb.error_node and mb.error_process:
        candidate = logs / ERROR_DIR / mb.error_node / f"{mb.error_process}.txt"
        if candidate.is_file():
            return candidate
    entries = error_entries(logs, mb.mini_batch)  # another layout (e.g. a cloud run): search
    same = [e for e in entries if e.attempt == mb.error_attempt] or entries
    return same[-1].file if same else None


def output_of(logs: Path, mini_batch: str, limit: int = 64 * 1024) -> Iterator[tuple[str, str, Path, str]]:
    """(attempt, "stdout"|"stderr", file, text) of what each attempt of a mini-batch printed,
    from ``<job>/state/output_index/*.jsonl`` (byte ranges the local worker records); at most
    ``limit`` bytes per range (its end). Nothing for runs without the index (cloud runs)."""
    folder = logs.parent / OUTPUT_INDEX
    if not folder.is_dir():
        return
    spans: list[tuple[int, str, Path, int, int]] = []
    for index_file in sorted(folder.glob("*.jsonl")):
        try:
            lines = index_file.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if str(entry.get("mini_batch")) != mini_batch:
                continue
            for stream in ("stdout", "stderr"):
                span = entry.get(stream)
                if isinstance(span, list) and len(span) == 3:
                    spans.append((int_or(entry.get("attempt"), 0), stream, Path(str(span[0])), int(span[1]),
                                  int(span[2])))
    for attempt, stream, path, start, end in sorted(spans, key=lambda s: (s[0], s[1])):
        try:
            with open(path, "rb") as handle:
                handle.seek(max(start, end - limit))
                data = handle.read(end - max(start, end - limit))
        except OSError:
            continue
        yield str(attempt), stream, path, data.decode("utf-8", errors="replace")
