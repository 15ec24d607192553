"""4. Start-up: ``tenantml --help``, and ``tenantml run`` until the first ``init()`` starts.

- ``tenantml --help`` is the installed console script (``.venv/bin/tenantml``), timed from spawn
  to exit, next to ``python -c pass`` (the interpreter's own floor) on the same machine;
- ``tenantml run`` on a one-file input with 2 workers: seconds from spawning the CLI to the
  first line of the entry script's ``init()`` (a timestamp file), and to exit.

Each figure is the median of ``repeats`` runs (min and max shown).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks import common

ENTRY = common.MARKERS + '''
def init():
    _mark("init")

def run(mini_batch):
    _mark("run")
    return mini_batch
'''


def run(base: Path, quick: bool) -> dict[str, Any]:
    repeats = 3 if quick else 10
    run_repeats = 2 if quick else 5
    root = base / "startup"
    root.mkdir(parents=True, exist_ok=True)
    script = Path(common.PYTHON).parent / "tenantml"
    help_cmd = [str(script), "--help"] if script.exists() else [common.PYTHON, "-m", "tenantml.cli", "--help"]
    common.wait_quiet()
    helps, floors = [], []
    for _ in range(repeats):
        helps.append(common.measure(help_cmd, cwd=root).check("tenantml --help").wall)
        floors.append(common.measure([common.PYTHON, "-c", "pass"], cwd=root).check("python -c pass").wall)
    common.empty_files(root / "data", 1)
    pipeline = common.write_pipeline(root, ENTRY, mini_batch_size="1", workers=2)
    to_init, to_run, walls = [], [], []
    for _ in range(run_repeats):
        m = common.tenantml_run(pipeline, root / "home", workers=2)
        to_init.append(m.markers["init"])
        to_run.append(m.markers["run"])
        walls.append(m.wall)
    help_s = common.median(helps)
    common.say(f"  start-up: --help {help_s:.3f} s, run -> init() {common.median(to_init):.2f} s")
    return {
        "help": helps, "python_floor": floors, "to_init": to_init, "to_run": to_run, "run_wall": walls,
        "help_median": help_s, "to_init_median": common.median(to_init),
        "targets": [{"name": "tenantml --help under 0.3 s", "value": f"{help_s:.3f} s", "pass": help_s < 0.3}],
    }
