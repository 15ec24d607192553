"""A command step's ``rw_mount`` outputs behave as mount points: ``rm -rf`` empties them, never removes them.

On Azure ML an ``rw_mount`` output is a mounted folder; a mount point cannot be removed, so
``rm -rf ${{outputs.x}}`` (the seed's own pipeline does it) leaves an empty folder and the next
write into it works. Locally the folder is a plain one and would vanish, and the next write
would fail with no hint why.

Decision (docs/semantics.md, "Outputs"): *restore and say so*. Without privileges a folder
cannot be made unremovable for root, so the command runs under a bash ``DEBUG`` trap
(inherited by functions and subshells through ``set -o functrace``) that, before every simple
command, recreates any output folder that has gone missing and notes it in a marker file; after
the command the step recreates one last time and warns with the marker's content. The cost is
one ``[ -d ]`` test per output per simple command of the user's shell script; programs the
command starts (python, ...) are not slowed at all.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from tenantml.spec import CommandJob


def mounted_folders(job: CommandJob) -> list[Path]:
    """The folder outputs Azure ML would mount read-write (``rw_mount``, the default mode)."""
    return [out.path for out in job.outputs.values()
            if out.type != "uri_file" and (out.mode or "rw_mount") == "rw_mount"]


def wrap(command: str, folders: list[Path], marker: Path) -> str:
    """``command`` preceded by the trap that keeps ``folders`` in place."""
    if not folders:
        return command
    quoted = " ".join(shlex.quote(str(f)) for f in folders)
    keep = (f'__tenantml_keep_mounts() {{ for d in {quoted}; do [ -d "$d" ] || '
            f'{{ mkdir -p -- "$d" && printf "%s\\n" "$d" >> {shlex.quote(str(marker))}; }}; done; }}')
    return f"{keep}\nset -o functrace\ntrap __tenantml_keep_mounts DEBUG\n{command}"


def restore(folders: list[Path], marker: Path) -> list[str]:
    """Recreate what the command removed last; return every folder that had to be recreated."""
    for folder in folders:
        if not folder.is_dir() and not folder.exists():
            folder.mkdir(parents=True, exist_ok=True)
            with open(marker, "a", encoding="utf-8") as out:
                out.write(f"{folder}\n")
    if not marker.exists():
        return []
    return sorted(set(marker.read_text(encoding="utf-8").split("\n")) - {""})
