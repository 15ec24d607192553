"""5. Step environments: what ``--environments isolated`` costs next to ``current``.

One pipeline: a command step and a file-input parallel step (2 files, 2 workers), both naming one
conda file (``python=3.11``, ``pip: [packaging==24.1, six==1.16.0]``). Every run is ``tenantml run
--force --quiet --max-workers 2`` through the real CLI:

- ``current``: the steps run in tenantml's own environment (nothing built);
- ``isolated, cold``: an empty ``TENANTML_HOME`` (no environment cached) and an empty uv cache
  (``UV_CACHE_DIR``): uv downloads the wheels from PyPI and builds the virtualenv;
- ``isolated, new env, uv cache warm``: an empty ``TENANTML_HOME``, uv's cache kept: the build
  from cached wheels (a second pipeline with the same packages in another home, say);
- ``isolated, warm``: the environment already in ``<home>/envs/``: nothing is built.

Medians of ``repeats`` runs (cold: one run, it measures PyPI as much as tenantml).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from benchmarks import common

ENTRY = '''
import packaging, six

def run(mini_batch):
    return [f"{p} {packaging.__version__}" for p in mini_batch]
'''


def _pipeline(root: Path) -> Path:
    common.empty_files(root / "data", 2)
    src = root / "src"
    src.mkdir(parents=True, exist_ok=True)
    (src / "entry.py").write_text(ENTRY, encoding="utf-8")
    (root / "conda.yml").write_text(yaml.safe_dump({"dependencies": [
        "python=3.11", "pip", {"pip": ["packaging==24.1", "six==1.16.0"]}]}), encoding="utf-8")
    env = {"image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04", "conda_file": "./conda.yml"}
    jobs = {
        "prepare": {"type": "command", "code": "./src", "command": "python -c 'import packaging, six'",
                    "environment": env},
        "score": {"type": "parallel", "inputs": {"data": {"type": "uri_folder", "path": "./data"}},
                  "outputs": {"out": {"type": "uri_folder"}}, "input_data": "${{inputs.data}}",
                  "mini_batch_size": "1", "max_concurrency_per_instance": 2,
                  "task": {"type": "run_function", "code": "./src", "entry_script": "entry.py",
                           "append_row_to": "${{outputs.out}}", "environment": env}},
    }
    path = root / "pipeline.yml"
    path.write_text(yaml.safe_dump({"type": "pipeline", "jobs": jobs}, sort_keys=False), encoding="utf-8")
    return path


def _run(pipeline: Path, home: Path, mode: str, env: dict[str, str] | None = None) -> float:
    cmd = [common.PYTHON, str(common.COORDINATOR), "run", str(pipeline), "--max-workers", "2", "--quiet",
           "--force", "--environments", mode]
    return common.measure(cmd, cwd=pipeline.parent,
                          env={"TENANTML_HOME": str(home), **(env or {})}).check(f"tenantml run ({mode})").wall


def run(base: Path, quick: bool) -> dict[str, Any]:
    repeats = 1 if quick else 3
    root = base / "environments"
    root.mkdir(parents=True, exist_ok=True)
    pipeline = _pipeline(root)
    uv_cache = root / "uv-cache"
    times: dict[str, list[float]] = {"current": [], "cold": [], "new_env": [], "warm": []}
    common.wait_quiet()
    times["cold"].append(_run(pipeline, root / "home-cold", "isolated", {"UV_CACHE_DIR": str(uv_cache)}))
    for i in range(repeats):
        common.wait_quiet()
        times["current"].append(_run(pipeline, root / "home-current", "current"))
        fresh = root / f"home-new-{i}"
        times["new_env"].append(_run(pipeline, fresh, "isolated", {"UV_CACHE_DIR": str(uv_cache)}))
        times["warm"].append(_run(pipeline, root / "home-cold", "isolated", {"UV_CACHE_DIR": str(uv_cache)}))
        shutil.rmtree(fresh, ignore_errors=True)
    med = {k: common.median(v) for k, v in times.items()}
    extra = med["warm"] - med["current"]
    common.say(f"  environments: current {med['current']:.2f} s, isolated cold {med['cold']:.2f} s, "
               f"new env {med['new_env']:.2f} s, warm {med['warm']:.2f} s")
    return {
        "times": times, "median": med, "repeats": repeats, "warm_extra_s": extra,
        "targets": [{"name": "a cached environment adds under 0.5 s to a run", "value": f"{extra:+.2f} s",
                     "pass": extra < 0.5}],
    }
