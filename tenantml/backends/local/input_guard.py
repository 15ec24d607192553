"""Refuse writes into a parallel step's inputs, inside the worker, as Azure ML's read-only mount does.

Azure ML mounts a ``ro_mount`` input read-only (reference-yaml-job-parallel, "Job inputs",
``mode``: "For read-only mount (``ro_mount``), the data will be consumed as a mount path"), so
an entry script that writes into it fails there with ``OSError: [Errno 30] Read-only file
system``. Locally the input is the user's own folder, and tenantml usually runs as root, where
``chmod`` stops nothing. A Python audit hook (:func:`sys.addaudithook`) sees every ``open`` for
writing and every ``os.remove``/``rename``/``mkdir``/``rmdir``/``truncate``/``chmod``/``utime``/
``link``/``symlink`` and ``shutil.rmtree`` *before* it happens, and raises the same ``OSError``
with a sentence saying why. Cost: one string-prefix test per write-like call; reads are not
looked at beyond their mode.

``download`` inputs are guarded too: Azure ML hands the script a private copy there, but
tenantml does not copy the input, so a write would change the user's source data. That is a
local refusal of something Azure ML allows, and the message says so (docs/semantics.md).

Not covered here: writes from C code that bypasses Python's ``open`` (e.g. pyarrow writers) and
from subprocesses the script starts. :mod:`input_watch` catches those after the fact (a tree
signature of the input before and after the step) and fails the step.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_PATH_EVENTS = {"os.remove": (0,), "os.rename": (0, 1), "os.rmdir": (0,), "os.mkdir": (0,),
                "os.truncate": (0,), "os.chmod": (0,), "os.utime": (0,), "os.link": (0, 1),
                "os.symlink": (1,), "shutil.rmtree": (0,), "os.chown": (0,)}


class InputGuard:
    def __init__(self, guarded: tuple[tuple[str, str, str], ...]):
        self.roots = [(os.path.realpath(path), name, mode) for path, name, mode in guarded]

    def owner(self, path: Any) -> tuple[str, str, str] | None:
        """The guarded input ``path`` lies in, if any."""
        if isinstance(path, int) or path is None:
            return None
        try:
            text = os.fsdecode(os.fspath(path))
        except TypeError:
            return None
        absolute = os.path.abspath(text)
        for root, name, mode in self.roots:
            if absolute == root or absolute.startswith(root + os.sep):
                return root, name, mode
            real = os.path.realpath(absolute)  # only when the plain prefix did not match: symlinks
            if real == root or real.startswith(root + os.sep):
                return root, name, mode
        return None

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            if isinstance(mode, str):
                if not any(c in mode for c in "wax+"):
                    return
            elif not (isinstance(flags, int) and flags & _WRITE_FLAGS):
                return
            self._check(event, path)
            return
        positions = _PATH_EVENTS.get(event)
        if positions is not None:
            for i in positions:
                if i < len(args):
                    self._check(event, args[i])

    def _check(self, event: str, path: Any) -> None:
        hit = self.owner(path)
        if hit is None:
            return
        _, name, mode = hit
        if mode == "download":
            why = (f"input '{name}' is a download input: Azure ML gives the script a private copy, but tenantml "
                   "reads your own files in place and will not let a script change them; write to an output "
                   "(EntryScript().output_dir or ${{outputs.x}}) instead")
        else:
            why = (f"Azure ML mounts input '{name}' read-only (mode: {mode or 'ro_mount'}), so this write fails "
                   "there too; write to an output (EntryScript().output_dir or ${{outputs.x}}) instead")
        raise OSError(errno.EROFS, f"Read-only file system: {why}", os.fsdecode(os.fspath(path)))


def install(guarded: tuple[tuple[str, str, str], ...]) -> None:
    if guarded:
        sys.addaudithook(InputGuard(guarded))
