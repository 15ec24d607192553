"""6. Set-up: ``make run`` on a fresh clone, with the package caches as they are (warm after a first run).

The checkout's HEAD commit is cloned (``git clone``, local, so uncommitted changes are not in it)
into a temporary folder, and there ``make .venv/.installed-run`` (the set-up ``make run`` does
first: venv creation, the uv bootstrap, the install of the local path, no Azure SDK) and then
``make run`` (the example pipeline to its result, nothing left to install) are timed from spawn
to exit; their sum is ``make run`` on a fresh clone (one more ``make`` start, ~10 ms). Checks
that go with it: the clone's interpreter imports the clone's own ``tenantml`` (not a build that
uv cached for another checkout), ``azure.ai.ml`` is not installed, and the size of ``.venv``.

The environment is the user's: no ``PYTHONPATH``/``VIRTUAL_ENV`` from this process and no
``PYTHONDONTWRITEBYTECODE``.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import common


def _env() -> dict[str, str]:
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE", "PYTHONHOME"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    venv_bin = str(common.ROOT / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return env


def _timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         check=False)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} in {cwd} exited {out.returncode}:\n{out.stdout[-2000:]}\n"
                           f"{out.stderr[-3000:]}")
    return wall, out.stdout


def _venv_mib(venv: Path) -> float:
    total = 0
    for folder, _dirs, names in os.walk(venv):
        for name in names:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total / 2**20


def run(base: Path, quick: bool) -> dict[str, Any]:
    clone = base / "setup_clone"
    head = subprocess.run(["git", "-C", str(common.ROOT), "log", "-1", "--format=%h"], capture_output=True,
                          text=True, check=True).stdout.strip()
    subprocess.run(["git", "clone", "-q", str(common.ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", head], check=True)
    busy = common.wait_quiet()
    install, _ = _timed(["make", ".venv/.installed-run"], clone)
    example, output = _timed(["make", "run"], clone)
    first = install + example
    python = clone / ".venv" / "bin" / "python"
    imported = subprocess.run([str(python), "-c", "import tenantml, os; print(os.path.realpath(tenantml.__file__))"],
                              cwd=tempfile.gettempdir(), env=_env(), capture_output=True, text=True,
                              check=True).stdout.strip()
    azure = subprocess.run([str(python), "-c", "import azure.ai.ml"], cwd=tempfile.gettempdir(), env=_env(),
                           capture_output=True, text=True, check=False).returncode == 0
    size = _venv_mib(clone / ".venv")
    completed = "Completed" in output
    own = imported.startswith(str(clone.resolve()) + os.sep)
    common.remove(clone)
    return {"commit": head, "first": first, "again": example, "setup": install, "busy": busy,
            "imported": imported, "own_tenantml": own, "azure_sdk": azure, "venv_mib": size,
            "completed": completed,
            "targets": [
                {"name": "`make run` on a fresh clone, warm package cache: <= 90 s to the example's result",
                 "value": f"{first:.1f} s (set-up {install:.1f} s + example {example:.1f} s)",
                 "pass": first <= 90 and completed},
                {"name": "fresh clone imports its own tenantml; local path installs no Azure SDK",
                 "value": f"{'own' if own else 'OTHER: ' + imported}; azure-ai-ml "
                          f"{'installed' if azure else 'absent'}; .venv {size:.0f} MiB",
                 "pass": own and not azure},
            ]}
