"""A command step's working directory: a copy of its code folder inside the run folder, as on Azure ML.

Azure ML "jobs training scripts by copying the entire source directory" (how-to-save-write-experiment-
files, v1 and v2 views) and runs the command in that copy on the node: tracebacks users paste show the
code under ``/mnt/azureml/cr/j/<job>/exe/wd/`` (e.g. ``.../exe/wd/common/db_handler.py``). So a command
that writes to its working directory (MLflow's ``./mlruns``, downloads, ``./outputs``) never changes the
source tree, and relative reads of code files still work.

Locally each run of the step gets ``<job>/exe/wd/``, a fresh copy of ``code`` (a command without
``code`` has no snapshot on Azure ML either: it gets an empty ``wd``). What the SDK leaves out of the
upload is left out here: the patterns of ``.amlignore``, else ``.gitignore``, at the code folder's root
(azure-ai-ml ``_asset_utils.get_ignore_file``), read as the SDK reads them: every line a gitignore
pattern, and for each file the last pattern that matches its path decides (``IgnoreFile.is_file_excluded``),
so ``!keep.csv`` after ``data/`` brings ``data/keep.csv`` back, file by file (git itself would not look
inside an excluded folder). The patterns are compiled by ``pathspec`` (``GitIgnoreSpecPattern``, what
the SDK's vendored ``GitWildMatchPattern`` became in pathspec 1.0); tests/test_command_snapshot.py
checks the result against the SDK's own file list. tenantml's own run home and the copy's target are
never copied into themselves.

Cost: one copy per step run (``shutil.copy2``: in-kernel copies, metadata kept). Azure ML caps a
snapshot at "300 MB and/or 2000 files"; a bigger code folder is copied all the same and the step
warns with the figures, since the cap is what makes such a folder slow or refused there.
"""

from __future__ import annotations

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


class IgnoreRules:
    """The patterns of one ignore file, compiled; a file's path (``/``-separated, relative to the
    code folder) is excluded when the last pattern that matches it is not a ``!`` pattern."""

    def __init__(self, lines: list[str]) -> None:
        from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

        compiled = []
        for line in lines:
            try:
                pattern = GitIgnoreSpecPattern(line)
            except ValueError:  # a line pathspec cannot compile (e.g. a lone '!'): the SDK fails on it too
                continue
            if pattern.include is not None:  # comments and blank lines are None
                compiled.append(pattern)
        self.patterns = compiled
        self.reinclude = any(not p.include for p in compiled)

    def excludes(self, relative: str) -> bool:
        verdict = False
        for pattern in self.patterns:
            if pattern.match_file(relative) is not None:
                verdict = bool(pattern.include)
        return verdict

    def prunes(self, relative_dir: str) -> bool:
        """Whether nothing below this folder can be copied (so it need not be walked): it matches a
        pattern as a folder and no ``!`` pattern could bring a file below it back."""
        return not self.reinclude and self.excludes(relative_dir + "/")


def ignore_rules(code: Path) -> IgnoreRules:
    for name in IGNORE_FILES:
        path = code / name
        if path.is_file():
            return IgnoreRules([line.rstrip() for line in
                                path.read_text(encoding="utf-8", errors="replace").splitlines()])
    return IgnoreRules([])


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
    if code.is_file():  # a single file as code (a command job's): the snapshot holds that one file
        destination = target / code.name
        shutil.copy2(code, destination)
        return Snapshot(target, 1, destination.stat().st_size)
    rules = ignore_rules(code)
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
            if real in skip or real in seen or rules.prunes(prefix + d):
                continue
            seen.add(real)
            keep.append(d)
        dirs[:] = keep
        for n in names:
            relative = prefix + n
            source = here / n
            if rules.excludes(relative) or not source.is_file():  # ignored, a dangling link, a fifo or socket
                continue
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)  # files only, as an upload holds them
            shutil.copy2(source, destination)
            files += 1
            size += destination.stat().st_size
    return Snapshot(target, files, size)
