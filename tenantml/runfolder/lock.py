"""Exclusive locks: one writer per run, one writer per datastore output.

``flock`` on a lock file holding the writer's pid. The kernel releases the lock when the
holder's process ends however it ends (``kill -9`` included), so a stale lock of a dead
process is simply taken over by the next writer; the pid in the file is only for the message.
Workers and command steps never inherit the descriptor (it is not inheritable), so an orphan
cannot keep a run locked.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

from tenantml.errors import UserError


class LockHeld(UserError):
    """Another live process writes this run (or this output)."""


class PathLock:
    def __init__(self, lock_file: Path, what: str, fix: str):
        self.lock_file = lock_file
        self.what = what
        self.fix = fix
        self._fd: int | None = None

    def acquire(self) -> PathLock:
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise LockHeld(f"{self.what} is being written by another tenantml process"
                           + (f" (pid {holder})" if holder else "") + ".", file=self.lock_file,
                           fix=self.fix) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass
            os.close(fd)  # closing releases the flock

    def __enter__(self) -> PathLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).split()[0])
    except (OSError, ValueError, IndexError):
        return None


class RunLock(PathLock):
    def __init__(self, run_dir: Path):
        super().__init__(run_dir / ".lock", f"run '{run_dir.name}'",
                         "wait for that process to end (or stop it), then run again")


def output_lock(home: Path, output: Path) -> PathLock:
    """The lock of one datastore output, kept under the home (never inside the user's data)."""
    digest = hashlib.sha256(str(output).encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return PathLock(home / "locks" / f"{digest}.lock", f"output {output}",
                    "let that run finish first, or write this output to another path")


def writer_alive(run_dir: Path) -> bool | None:
    """Whether the process that holds (or last held) the run's lock is alive; None when the run has
    no lock file (made before runs were locked). Reads the pid only: probing the lock itself could
    make a starting writer fail."""
    try:
        text = (run_dir / ".lock").read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return False
    if not text.isdigit():
        return False  # released (emptied) or never written: nobody writes the run
    try:
        with open(f"/proc/{int(text)}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        try:
            os.kill(int(text), 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
