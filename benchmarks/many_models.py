"""2. Many models: one scikit-learn model trained per tenant CSV, four ways, 2 workers each.

The same ``train(path, out_dir)`` (read the tenant's CSV with pandas, fit a
``GradientBoostingRegressor``, ``joblib.dump`` it, return one summary row) runs:

- tenantml: ``tenantml run`` over the folder, ``mini_batch_size: "1"``, ``--max-workers 2``,
  ``append_row_to`` on; the entry script imports the workload at the top, as users write it;
- Pool: ``multiprocessing.Pool(2).map(train, files, chunksize=1)`` (fork: children inherit the
  parent's imports);
- joblib: ``joblib.Parallel(n_jobs=2)(delayed(train)(f) for f in files)`` (loky workers);
- serial: a plain loop in one process.

Every tool is a fresh process timed from spawn to exit (imports included, as a user waits for
them). Numerics are single-threaded everywhere (``OMP_NUM_THREADS=1`` ...). Figures are medians
of ``repeats`` interleaved runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks import common

WORK = common.MARKERS + '''
import os
import joblib
import pandas as pd
from sklearn.ensemble import GradientBoostingRegressor

ESTIMATORS = int(os.environ.get("BENCH_ESTIMATORS", "40"))

def train(path, out_dir):
    _mark("task")  # the first task of any process, for every tool: start-up vs work
    frame = pd.read_csv(path)
    X, y = frame.drop(columns=["y"]).to_numpy(), frame["y"].to_numpy()
    model = GradientBoostingRegressor(n_estimators=ESTIMATORS, max_depth=3, random_state=0).fit(X, y)
    name = os.path.splitext(os.path.basename(path))[0]
    joblib.dump(model, os.path.join(out_dir, name + ".joblib"))
    return f"{name} {len(frame)} {model.score(X, y):.4f}"
'''

ENTRY = common.MARKERS + '''
import os
from work import train

def init():
    _mark("init")

def run(mini_batch):
    _mark("run")
    out_dir = os.environ["BENCH_MODELS"]
    return [train(path, out_dir) for path in mini_batch]
'''

PEER = '''
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "src"))
from functools import partial
from work import train

def main():
    tool, folder, out = sys.argv[1], sys.argv[2], sys.argv[3]
    models = os.environ["BENCH_MODELS"]
    files = sorted(os.path.join(folder, n) for n in os.listdir(folder))
    job = partial(train, out_dir=models)
    if tool == "pool":
        from multiprocessing import Pool
        with Pool(2) as pool:
            rows = pool.map(job, files, chunksize=1)
    elif tool == "joblib":
        from joblib import Parallel, delayed
        rows = Parallel(n_jobs=2)(delayed(train)(f, models) for f in files)
    else:
        rows = [job(f) for f in files]
    with open(out, "w") as f:
        f.writelines(row + "\\n" for row in rows)

if __name__ == "__main__":
    main()
'''

TOOLS = ("tenantml", "pool", "joblib", "serial")


def make_tenants(folder: Path, count: int, rows: int) -> None:
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    header = ",".join([f"x{i}" for i in range(8)] + ["y"])
    for t in range(count):
        X = rng.normal(size=(rows, 8))
        y = X @ rng.normal(size=8) + np.sin(X[:, 0] * (1 + t % 5)) + rng.normal(scale=0.1, size=rows)
        np.savetxt(folder / f"tenant_{t:04d}.csv", np.column_stack([X, y]), delimiter=",", fmt="%.5f",
                   header=header, comments="")


def run(base: Path, quick: bool) -> dict[str, Any]:
    tenants, rows = (20, 300) if quick else (200, 800)
    repeats = 1 if quick else 2
    root = base / "many_models"
    data = root / "data"
    make_tenants(data, tenants, rows)
    pipeline = common.write_pipeline(root / "project", ENTRY, data="../data", mini_batch_size="1", workers=2,
                                     extra_files={"work.py": WORK})
    peer = root / "project" / "peer.py"
    peer.write_text(PEER, encoding="utf-8")
    models = root / "models"

    times: dict[str, list[float]] = {t: [] for t in TOOLS}
    first_run: list[float] = []
    first_task: dict[str, list[float]] = {t: [] for t in TOOLS}
    for rep in range(repeats):
        order = TOOLS[rep % 4:] + TOOLS[:rep % 4]
        for tool in order:
            common.remove(models)
            models.mkdir(parents=True)
            env = {"BENCH_MODELS": str(models)}
            if tool == "tenantml":
                m = common.tenantml_run(pipeline, root / "home", workers=2, env=env)
                first_run.append(m.markers.get("run", float("nan")))
            else:
                m = common.python_script(peer, [tool, str(data), str(root / "peer_out.txt")], cwd=root, env=env)
            made = len(list(models.iterdir()))
            if made != tenants:
                raise RuntimeError(f"many_models/{tool}: {made} models written, expected {tenants}")
            times[tool].append(m.wall)
            first_task[tool].append(m.markers.get("task", float("nan")))
            common.say(f"  many-models rep {rep + 1}/{repeats} {tool:8s}: {m.wall:.2f} s")

    wall = {t: common.median(v) for t, v in times.items()}
    best_peer = min(wall["pool"], wall["joblib"])
    ratio = wall["tenantml"] / best_peer
    speedup = wall["serial"] / wall["tenantml"]
    return {
        "tenants": tenants, "rows": rows, "repeats": repeats, "times": times, "wall": wall,
        "speedup": {t: wall["serial"] / wall[t] for t in ("tenantml", "pool", "joblib")},
        "ratio_to_best_peer": ratio, "best_peer": "pool" if wall["pool"] <= wall["joblib"] else "joblib",
        "tenantml_first_run_s": common.median(first_run),
        "first_task_s": {t: common.median(v) for t, v in first_task.items()},
        "after_first_task_s": {t: common.median([w - f for w, f in zip(times[t], first_task[t])]) for t in TOOLS},
        "targets": [
            {"name": "many models: tenantml wall <= 1.03x best of Pool and joblib",
             "value": f"{ratio:.3f}x", "pass": ratio <= 1.03},
            {"name": "many models: speed-up over serial >= 1.8x on 2 workers",
             "value": f"{speedup:.2f}x", "pass": speedup >= 1.8},
        ],
    }
