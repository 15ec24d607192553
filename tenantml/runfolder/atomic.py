"""Atomic replacement of small files: a unique temp file in the same folder, fsync, rename.

A crash leaves either the old file or the new one, never a torn one; the temp file is removed
when writing fails (a full disk), so no empty ``*.tmp`` is left behind.
"""

from __future__ import annotations

import os
from pathlib import Path


def atomic_write(path: Path, data: str | bytes) -> None:
    payload = data.encode("utf-8", "backslashreplace") if isinstance(data, str) else data  # a non-UTF-8 file name
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        try:
            temp.unlink()
        except OSError:
            pass
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def overwrite_in_place(path: Path, data: str) -> None:
    """Last resort on a full disk: rewrite a file over its own blocks (fits when not longer, padded
    with spaces, which JSON ignores). Raises when it does not fit."""
    payload = data.encode("utf-8")
    size = path.stat().st_size
    if len(payload) > size:
        raise OSError(28, "No space left on device", str(path))
    with open(path, "r+b") as f:
        f.write(payload + b" " * (size - len(payload)))
        f.flush()
        os.fsync(f.fileno())
