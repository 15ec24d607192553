"""Catch every write into a step's read-only inputs: a tree signature taken before the step and after it.

Azure ML mounts a ``ro_mount`` input read-only (reference-yaml-job-parallel / reference-yaml-job-command,
``mode``), so a write into it fails there whoever writes: Python, a C extension (pyarrow, HDF5), a
subprocess (``sed -i``, ``rm``). :mod:`input_guard` refuses Python's own writes inside parallel workers
before they happen; this module is the net under it, for command steps too: the signature of each
guarded input is one ``lstat`` per entry (relative path, type, size, ``mtime_ns``, inode and
``ctime_ns``, the last of which no user code can set back), each hashed and the hashes summed. Reads change
none of them. The input itself is only read, never touched.

Where: once before the step and once when it ends, not per attempt: one signature of 100,000 files
took 1.0 s on the shared 2-core machine at load 7 (1.24x a bare ``scandir`` + ``lstat`` walk,
``benchmarks/input_watch.py``), too much to pay per mini-batch. A difference
fails a ``ro_mount`` (or ``eval_mount``) step with a message naming the input, the entries changed
since the step started (by ``ctime``), and the fix; on a ``download`` input it is a warning: Azure ML
hands the script a private copy there, so the write works there, but here it changed the user's files.
``direct`` inputs (a URI on Azure ML) are not watched. azure-ai-ml accepts no writable input mode
(``DataInputSchema``: download, ro_mount, direct; ``MLTableInputSchema`` adds eval_mount, eval_download).
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tenantml.spec import DataInput, Job

MAX_ENTRIES = 1_000_000  # ~10 s per signature here: an input bigger than this is not watched (and that is said)
READ_ONLY = ("ro_mount", "eval_mount")
PRIVATE_COPY = ("download", "eval_download")
SHOWN = 5  # changed entries named in a message


@dataclass(frozen=True)
class Watched:
    name: str
    mode: str
    path: Path
    digest: str
    entries: int
    started_ns: int


def watched_inputs(job: Job) -> list[tuple[str, str, Path]]:
    """(input name, mode, local path) of every data input Azure ML would not let the step write."""
    out = []
    for name, value in sorted(job.inputs.items()):
        if isinstance(value, DataInput):
            mode = value.mode or "ro_mount"
            if mode in READ_ONLY + PRIVATE_COPY:
                out.append((name, mode, value.path))
    return out


def take(job: Job, never: tuple[Path, ...] = (), note: Callable[[str], None] = lambda text: None,
         limit: int = MAX_ENTRIES) -> list[Watched]:
    """The signatures before the step runs (``never``: tenantml's own folders, skipped if inside an input)."""
    started = time.time_ns()
    skip = {os.path.realpath(p) for p in never}
    result = []
    for name, mode, path in watched_inputs(job):
        digest, entries = signature(path, skip, limit)
        if entries > limit:
            note(f"input '{name}' holds more than {limit:,} entries: writes into it are not checked after the "
                 "step (Azure ML mounts it read-only; only Python's own writes in parallel workers are refused)")
            continue
        result.append(Watched(name, mode, path, digest, entries, started))
    return result


def signature(root: Path, skip: set[str] | None = None, limit: int | None = None) -> tuple[str, int]:
    """A hash of every entry's (path, type, size, mtime_ns, inode, ctime_ns) under ``root``, and their count
    (the walk stops once the count passes ``limit``). Each entry is hashed alone and the hashes are
    added modulo 2**128, so the walk needs no sorted listing: a folder of 100,000 files is streamed, not
    held (a sorted name list of it was ~6 MiB at the end of every step)."""
    total = 0
    count = 0
    for relative, st in _entries(root, skip or set()):
        text = f"{relative}\0{st.st_mode}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\0{st.st_ctime_ns}"
        total += int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=16).digest())
        count += 1
        if limit is not None and count > limit:
            break
    return f"{total % (1 << 128):032x}", count


def _entries(root: Path, skip: set[str]) -> Iterator[tuple[str, os.stat_result]]:
    try:
        top = os.lstat(root)
    except FileNotFoundError:
        yield "<missing>", os.stat_result((0,) * 10)
        return
    yield ".", top
    if not stat.S_ISDIR(top.st_mode):
        return
    stack = [(str(root), "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            listing = os.scandir(folder)  # streamed: the signature's sum does not depend on the order
        except OSError:
            continue
        with listing:
            for entry in listing:
                relative = prefix + entry.name
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    if os.path.realpath(entry.path) in skip:
                        continue
                    stack.append((entry.path, relative + "/"))
                yield relative, st


def changes(before: list[Watched], never: tuple[Path, ...] = ()) -> list[tuple[Watched, str]]:
    """Each watched input whose signature differs now, with a sentence saying what changed."""
    skip = {os.path.realpath(p) for p in never}
    found = []
    for w in before:
        digest, entries = signature(w.path, skip)
        if digest == w.digest:
            continue
        touched = sorted(w.path.name if rel == "." else rel for rel, st in _entries(w.path, skip)
                         if st.st_ctime_ns >= w.started_ns and (rel != "." or not w.path.is_dir()))
        what = ", ".join(touched[:SHOWN]) + (f" and {len(touched) - SHOWN} more" if len(touched) > SHOWN else "")
        said = f"changed: {what}" if touched else "entries were removed or changed"
        if entries != w.entries:
            said += f" ({w.entries} entries before, {entries} after)"
        found.append((w, said))
    return found


def message(w: Watched, said: str) -> str:
    if w.mode in PRIVATE_COPY:
        return (f"input '{w.name}' ({w.path}) was written while the step ran ({said}). It is a {w.mode} input: "
                "Azure ML gives the step a private copy, so this works there, but tenantml reads your files in "
                "place and the step changed them. Copy the input first, or write to an output instead")
    return (f"input '{w.name}' ({w.path}) was written while the step ran ({said}; by the step, or by a step "
            "running beside it that reads the same input). Azure ML mounts it read-only "
            f"(mode: {w.mode}; azure-ai-ml allows no writable mode for an input), so this write fails there "
            "(Read-only file system). Write to an output instead (${{outputs.x}}, or EntryScript().output_dir in a "
            "parallel step); to change the data, copy it into an output first")
