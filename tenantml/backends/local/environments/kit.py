"""tenantml's worker side, importable in a step's environment without tenantml's dependencies.

A parallel step's workers run ``python -m tenantml.backends.local.worker`` with the step
environment's interpreter. That environment has what the step's conda file lists and nothing
else, as on Azure ML, where the parallel runtime needs only mltable/pandas for tabular input.
So the worker gets a copy of tenantml's own source files (``<home>/envs/_tenantml-<hash>/``,
put on ``PYTHONPATH``) and none of its dependencies: the modules a worker imports use the
standard library at top level (pandas, mltable and yaml only inside the functions that read
tabular data). ``tests/test_environments.py`` runs a file-input step in an environment that has
only ``packaging`` to hold that line.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from functools import cache
from pathlib import Path

import tenantml

_PACKAGE = Path(tenantml.__file__).resolve().parent
_SUFFIXES = (".py", ".md")


def _files() -> list[Path]:
    return sorted(p for p in _PACKAGE.rglob("*") if p.suffix in _SUFFIXES and "__pycache__" not in p.parts)


@cache
def _digest() -> str:
    h = hashlib.sha256()
    for path in _files():
        h.update(str(path.relative_to(_PACKAGE)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def worker_path(home: Path) -> Path:
    """A folder holding ``tenantml/`` (source only), made once per tenantml version; built aside, renamed."""
    final = home / "envs" / f"_tenantml-{_digest()}"
    if final.is_dir():
        return final
    tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
    try:
        for path in _files():
            target = tmp / "tenantml" / path.relative_to(_PACKAGE)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():  # another run renamed the same content first: theirs is as good
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
