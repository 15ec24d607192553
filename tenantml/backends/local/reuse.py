"""Step reuse, as Azure ML does it: a step whose resolved definition, code folder content and
input content are unchanged since a completed run is not run again; its outputs are reused.

The fingerprint is a hash of (definition as written, literal input values, every data input,
the code folder, output types and modes). A data input that another step produced is
identified by that step's fingerprint, as Azure ML identifies it by the producing node: a step
that writes into its input folder (an MLTable file beside the predictions, say) does not make
itself look changed. Other data inputs and code folders are identified by a signature of every
file in them: relative path, size and modification time (nanoseconds). That is what build
tools trust, costs one ``stat`` per file (100,000 input files: a fraction of a second, where
hashing their bytes cost minutes before the first ``run()``), and errs on the safe side: a file
rewritten with the same bytes only forgoes reuse. The index is one SQLite file under ``<home>/cache/``: safe when two runs share a home.

Outputs are sealed: when a run ends, the content of every completed or reused step's outputs is
digested and stored with its entry. A later lookup refuses the entry if those outputs changed
since (another run wrote the same datastore path with other data, say), so a step is never
"reused" onto data it did not produce. The digest is taken at the end of the run, not of the
step, because a downstream step may legitimately add to an output (an MLTable file beside the
predictions).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from tenantml.errors import RunInterrupted
from tenantml.spec import DataInput, Job, LiteralInput

_SKIP_DIRS = {"__pycache__", ".git", ".ipynb_checkpoints", ".tenantml", ".venv"}


@dataclass(frozen=True)
class CachedStep:
    run_id: str
    job: str
    outputs: dict[str, str]


class ReuseCache:
    def __init__(self, home: Path):
        self.path = home / "cache" / "reuse.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute("CREATE TABLE IF NOT EXISTS steps (fingerprint TEXT PRIMARY KEY, run_id TEXT, job TEXT,"
                       " outputs TEXT, created REAL, sealed TEXT)")
            columns = {row[1] for row in db.execute("PRAGMA table_info(steps)")}
            if "sealed" not in columns:  # a cache from before outputs were sealed
                db.execute("ALTER TABLE steps ADD COLUMN sealed TEXT")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        # Switching to WAL needs an exclusive lock and SQLite does not wait for it (the busy timeout
        # does not apply): two runs opening a new cache at once made one fail with "database is
        # locked" (the flaky two-runs test). WAL is persistent, so switch only when not yet WAL and
        # retry while another connection holds the file.
        deadline = time.monotonic() + 30
        while db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            try:
                db.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        return db

    # ------------------------------------------------------------------ fingerprints
    def fingerprint(self, job: Job, upstream: dict[str, str] | None = None, environment: str | None = None,
                    should_stop: Callable[[], bool] = lambda: False) -> str:
        """``upstream`` maps a producing job's name to its fingerprint (absent: hash the content);
        ``environment`` is the content key of the step's environment definition (its conda file's
        content, image and Python version: editing the conda file runs the step again).
        ``should_stop()`` (Ctrl-C) is asked while large folders are read: RunInterrupted."""
        inputs: dict[str, object] = {}
        for name, value in sorted(job.inputs.items()):
            if isinstance(value, LiteralInput):
                inputs[name] = ["literal", value.value]
            elif isinstance(value, DataInput):
                producer, _, output = (value.producer or "").partition(".")
                if producer and upstream and producer in upstream:
                    inputs[name] = [value.type, "produced", upstream[producer], output]
                else:
                    inputs[name] = [value.type, self.content(value.path, should_stop)]
        outputs = {name: [o.type, o.mode] for name, o in sorted(job.outputs.items())}
        code = self.content(job.code, should_stop) if getattr(job, "has_code", True) else None
        payload: dict[str, object] = {"type": job.type, "definition": job.definition, "inputs": inputs,
                                      "code": code, "outputs": outputs}
        if environment is not None:
            payload["environment"] = environment
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def content(self, path: Path, should_stop: Callable[[], bool] = lambda: False) -> str:
        """A signature of a file's or folder's content: names, sizes, modification times."""
        if not path.exists():
            return "missing"
        h = hashlib.sha256()
        if path.is_file():
            st = path.stat()
            h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
            return h.hexdigest()
        pending = [path]
        seen = 0
        while pending:  # names sorted, one stat each: no list of 100,000 DirEntry objects held
            folder = pending.pop()
            rel = os.path.relpath(folder, path)
            for name in sorted(os.listdir(folder)):
                seen += 1
                if seen % 1024 == 0 and should_stop():  # a million files take seconds: Ctrl-C stops it
                    raise RunInterrupted(f"interrupted while reading {path}")
                full = os.path.join(folder, name)
                try:
                    st = os.stat(full, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    if name not in _SKIP_DIRS:
                        pending.append(Path(full))
                elif stat.S_ISREG(st.st_mode):
                    h.update(f"{rel}/{name}\0{st.st_size}:{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
        return h.hexdigest()

    # ------------------------------------------------------------------ index
    def lookup(self, fingerprint: str) -> CachedStep | None:
        with closing(self._connect()) as db:
            row = db.execute("SELECT run_id, job, outputs, sealed FROM steps WHERE fingerprint = ?",
                             (fingerprint,)).fetchone()
        if row is None:
            return None
        cached = CachedStep(row[0], row[1], json.loads(row[2]))
        if not all(Path(p).exists() for p in cached.outputs.values()):
            return None  # the earlier outputs were deleted: run again
        if row[3] is None or row[3] != self._outputs_digest(cached.outputs):
            return None  # never sealed (its run did not end), or changed since: run again
        return cached

    def seal(self, fingerprint: str) -> None:
        """Digest the entry's outputs as they are now (called when the run ends)."""
        with closing(self._connect()) as db:
            row = db.execute("SELECT outputs FROM steps WHERE fingerprint = ?", (fingerprint,)).fetchone()
            if row is None:
                return
            digest = self._outputs_digest(json.loads(row[0]))
            with db:
                db.execute("UPDATE steps SET sealed = ? WHERE fingerprint = ?", (digest, fingerprint))

    def _outputs_digest(self, outputs: dict[str, str]) -> str:
        return hashlib.sha256(json.dumps({k: self.content(Path(v)) for k, v in sorted(outputs.items())})
                              .encode()).hexdigest()

    def record(self, fingerprint: str, run_id: str, job: str, outputs: dict[str, Path]) -> None:
        with closing(self._connect()) as db, db:
            db.execute("INSERT OR REPLACE INTO steps VALUES (?, ?, ?, ?, ?, NULL)",
                       (fingerprint, run_id, job, json.dumps({k: str(v) for k, v in outputs.items()}), time.time()))
