"""Build (or reuse) a step environment: ``<home>/envs/<key>/``, a virtualenv made with uv.

    lock <home>/envs/<key>.lock (flock: two runs building one environment wait for each other)
      <key>/tenantml-env.json exists -> reuse, nothing runs (works offline)
      else: uv venv --relocatable <key>.tmp-<pid>; uv pip install (--offline first: uv's own cache),
            then online; pip freeze -> tenantml-env.json; rename to <key>   (a failure removes the
            .tmp folder it made: the cache never holds a half-built environment)
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tenantml.backends.local.environments.definition import EnvDefinition
from tenantml.errors import UserError

MARKER = "tenantml-env.json"


@dataclass(frozen=True)
class StepEnvironment:
    """A built environment, as a step runs in it."""

    key: str
    label: str
    python: str  # the interpreter
    root: Path | None  # the virtualenv (None: a mapped interpreter, used as is)
    packages: tuple[str, ...] = ()  # name==version, as installed
    built: bool = False  # this run built it (else: reused from the cache)
    seconds: float = 0.0

    @property
    def bin(self) -> str:
        return str(Path(self.python).parent)

    def record(self) -> dict[str, object]:
        return {"id": self.key, "label": self.label, "python": self.python,
                "path": str(self.root) if self.root else None, "built": self.built}


def find_uv() -> str:
    """uv on PATH, else beside this interpreter (the project's venv), else a clear error."""
    for candidate in (shutil.which("uv"), str(Path(sys.prefix) / "bin" / "uv"), str(Path(sys.executable).parent / "uv")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise UserError("--environments isolated builds each step's environment with uv, which is not installed.",
                    key="--environments", fix=f"{sys.executable} -m pip install uv (or make install)")


def ensure(definition: EnvDefinition, home: Path, note: Callable[[str], None] = lambda _: None) -> StepEnvironment:
    if definition.interpreter is not None:
        return StepEnvironment(definition.key, definition.label, definition.interpreter, None)
    envs = home / "envs"
    envs.mkdir(parents=True, exist_ok=True)
    final = envs / definition.key
    with open(envs / f"{definition.key}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if (final / MARKER).is_file():
                return _load(final, definition)
            if final.exists():  # not ours to delete blindly: a folder without the marker is a foreign one
                raise UserError(f"{final} exists but is not a finished tenantml environment.", key="--environments",
                                fix=f"remove {final} and run again")
            note(f"building environment {definition.key} ({definition.label}) with uv")
            started = time.monotonic()
            tmp = envs / f"{definition.key}.tmp-{os.getpid()}"
            try:
                packages = _build(definition, tmp, note)
                os.rename(tmp, final)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
            seconds = time.monotonic() - started
            note(f"environment {definition.key} built in {seconds:.1f} s ({len(packages)} packages)")
            return StepEnvironment(definition.key, definition.label, str(final / "bin" / "python"), final,
                                   tuple(packages), built=True, seconds=seconds)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _load(root: Path, definition: EnvDefinition) -> StepEnvironment:
    info = json.loads((root / MARKER).read_text(encoding="utf-8"))
    return StepEnvironment(definition.key, definition.label, str(root / "bin" / "python"), root,
                           tuple(info.get("packages", ())))


def _build(definition: EnvDefinition, tmp: Path, note: Callable[[str], None]) -> list[str]:
    uv = find_uv()
    python = _interpreter(uv, definition, note)
    _uv([uv, "venv", "--quiet", "--relocatable", "--python", python, str(tmp)], definition, "create the virtualenv")
    target = str(tmp / "bin" / "python")
    if definition.requirements:
        install = [uv, "pip", "install", "--quiet", "--python", target, *definition.requirements]
        offline = subprocess.run([*install, "--offline"], capture_output=True, text=True)
        if offline.returncode != 0:
            _uv(install, definition, "install its packages")
    freeze = subprocess.run([uv, "pip", "freeze", "--python", target], capture_output=True, text=True, check=True)
    packages = [line for line in freeze.stdout.splitlines() if line.strip()]
    (tmp / MARKER).write_text(json.dumps({"label": definition.label, "source": definition.source,
                                          "python": definition.python, "requirements": definition.requirements,
                                          "image": definition.image, "packages": packages}, indent=1) + "\n",
                              encoding="utf-8")
    return packages


def _interpreter(uv: str, definition: EnvDefinition, note: Callable[[str], None]) -> str:
    """The requested Python X.Y if uv finds it here; else this interpreter, said once (uv cannot fetch
    Python builds without internet access to GitHub)."""
    if not definition.python:
        return sys.executable
    found = find_python(uv, definition.python)
    if found is not None:
        return found
    note(f"warning: {definition.label} asks for Python {definition.python}, which is not installed "
          f"here; building it with Python {sys.version_info.major}.{sys.version_info.minor} ({sys.executable}). "
          f"Install Python {definition.python} (uv python install {definition.python}) for a faithful environment.")
    return sys.executable


def find_python(uv: str, version: str) -> str | None:
    """An installed Python X.Y: what uv finds (PATH, uv's own), else pyenv's versions folder (uv does
    not look there, and pyenv's shims refuse versions that are not selected)."""
    found = subprocess.run([uv, "python", "find", "--no-python-downloads", version], capture_output=True, text=True)
    if found.returncode == 0 and found.stdout.strip():
        return found.stdout.strip()
    roots = [Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"]
    for root in roots:
        for candidate in sorted(root.glob(f"{version}.*/bin/python{version}"), reverse=True):
            if os.access(candidate, os.X_OK):
                return str(candidate)
    return None


def _uv(cmd: list[str], definition: EnvDefinition, what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        detail = " ".join(line.strip() for line in done.stderr.strip().splitlines() if line.strip())
        detail = detail if len(detail) <= 1200 else detail[:1200] + " ..."
        raise UserError(f"uv could not {what} for {definition.label}: {detail}", file=Path(definition.source)
                        if definition.source and not definition.source.startswith("http") else None,
                        key="dependencies",
                        fix="correct or remove the package in the conda file (its pip name and a version that "
                            "exists for this Python), or run with --environments current")
