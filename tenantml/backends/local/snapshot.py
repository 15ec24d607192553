"""A command step's working directory: a copy of its code folder inside the run folder, as on Azure ML.

Azure ML "jobs training scripts by copying the entire source directory" (how-to-save-write-experiment-
files, v1 and v2 views) and runs the command in that copy on the node: tracebacks users paste show the
code under ``/mnt/azureml/cr/j/<job>/exe/wd/`` (e.g. ``.../exe/wd/common/db_handler.py``). So a command
that writes to its working directory (MLflow's ``./mlruns``, downloads, ``./outputs``) never changes the
source tree, and relative reads of code files still work.

Locally each run of the step gets ``<job>/exe/wd/``, a fresh copy of ``code`` (a command without
``code`` has no snapshot on Azure ML either: it gets an empty ``wd``). What the SDK leaves out of the
upload is left out here: the patterns of ``.amlignore``, else ``.gitignore``, at the code folder's root
(azure-ai-ml ``_asset_utils.get_ignore_file``; a subset of git's syntax: ``name``, ``*.ext``,
``dir/``, ``/anchored/path``, ``**``; ``!`` re-inclusion is not honoured). tenantml's own run home and
the copy's target are never copied into themselves.

Cost: one copy per step run (``shutil.copy2``: in-kernel copies, metadata kept). Azure ML caps a
snapshot at "300 MB and/or 2000 files"; a bigger code folder is copied all the same and the step
warns with the figures, since the cap is what makes such a folder slow or refused there.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

MAX_FILES = 2000  # how-to-save-write-experiment-files: "300 MB and/or 2000 files"
MAX_BYTES = 300 * 1024 * 1024
IGNORE_FILES = (".amlignore", ".gitignore")  # the first that exists wins, as in azure-ai-ml


@dataclass(frozen=True)
class Snapshot:
    path: Path
    files: int
    size: int

    def over_cap(self) -> str:
        """The sentence a step warns with when Azure ML would find the snapshot too big, else ''."""
        if self.files <= MAX_FILES and self.size <= MAX_BYTES:
            return ""
        return (f"the code folder holds {self.files} files, {self.size / 2**20:.1f} MB (after .amlignore/.gitignore); "
                "Azure ML limits a job's snapshot to 300 MB and/or 2000 files: move data out of the code folder "
                "(to an input) or list it in .amlignore")


def ignore_patterns(code: Path) -> list[str]:
    for name in IGNORE_FILES:
        path = code / name
        if path.is_file():
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith(("#", "!"))]
    return []


def excluded(relative: str, patterns: list[str]) -> bool:
    """Whether the path (``/``-separated, relative to the code folder) matches an ignore pattern."""
    name = relative.rsplit("/", 1)[-1]
    for raw in patterns:
        pattern = raw.rstrip("/")
        if not pattern:
            continue
        if "/" in pattern:  # anchored at the code folder's root
            anchored = pattern.lstrip("/").replace("**/", "*").replace("/**", "/*")
            if fnmatch.fnmatchcase(relative, anchored):
                return True
        elif fnmatch.fnmatchcase(name, pattern.replace("**", "*")):
            return True
    return False


def copy_code(code: Path | None, target: Path, never: tuple[Path, ...] = ()) -> Snapshot:
    """Make ``target`` a fresh copy of ``code`` (an empty folder when there is no code).

    ``target`` must be a folder the run created (it is replaced); ``never`` are folders not to copy
    (tenantml's home, when it lies inside the code folder).
    """
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    if code is None:
        return Snapshot(target, 0, 0)
    patterns = ignore_patterns(code)
    skip = {os.path.realpath(p) for p in (*never, target)}
    seen = {os.path.realpath(code)}
    files = size = 0
    # links are followed (a link's content is what an upload reads, and a write into the copy must never
    # reach the folder a link points to); a folder already copied (a link loop) is not copied again
    for folder, dirs, names in os.walk(code, followlinks=True):
        here = Path(folder)
        relative_dir = here.relative_to(code).as_posix()
        prefix = "" if relative_dir == "." else relative_dir + "/"
        keep = []
        for d in sorted(dirs):
            real = os.path.realpath(here / d)
            if real in skip or real in seen or excluded(prefix + d, patterns):
                continue
            seen.add(real)
            (target / (prefix + d)).mkdir()
            keep.append(d)
        dirs[:] = keep
        for n in names:
            relative = prefix + n
            source = here / n
            if excluded(relative, patterns) or not source.is_file():  # ignored, a dangling link, a fifo or socket
                continue
            destination = target / relative
            shutil.copy2(source, destination)
            files += 1
            size += destination.stat().st_size
    return Snapshot(target, files, size)
