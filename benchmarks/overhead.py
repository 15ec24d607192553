"""1. Overhead: N one-file mini-batches of a no-op ``run`` through tenantml, Pool and joblib.

Each tool runs in a fresh process over the same folder of empty files, 2 workers:

- tenantml: ``tenantml run`` (``mini_batch_size: "1"``, ``append_row_to`` on, so the ledger,
  the log tree and the output rows are all written), ``--max-workers 2``;
- Pool: ``multiprocessing.Pool(2).map(noop, [[f] for f in files], chunksize=1)``;
- joblib: ``joblib.Parallel(n_jobs=2)(delayed(noop)([f]) for f in files)``.

The peers list the folder (sorted) and write the returned rows to a file too, so every tool
does the same visible work. Per-mini-batch overhead is the *marginal* wall time: each tool is
timed at N and at N0 mini-batches and ``(T(N) - T(N0)) / (N - N0)`` is reported, which removes
fixed costs (interpreter start, imports, worker start) that the start-up benchmark covers.
Each figure is the median of ``repeats`` runs, tools interleaved so drift hits all alike.

For tenantml the same marginal is also taken of the parallel step alone (its start and end in
``run.json``: division, workers, every ledger row, journal record and output row, the commit),
which leaves out what the CLI does after the run (the summary and ``report.html``, whose cost
also grows with the number of mini-batches), and of the coordinator's CPU time and peak RSS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks import common

WORK = '''
def noop(mini_batch):
    return mini_batch
'''

ENTRY = common.MARKERS + '''
from work import noop

def init():
    _mark("init")

FIRST = True

def run(mini_batch):
    global FIRST
    if FIRST:
        FIRST = False
        _mark("run")
    return noop(mini_batch)
'''

PEER = '''
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "src"))
from work import noop

def main():
    tool, folder, out = sys.argv[1], sys.argv[2], sys.argv[3]
    files = sorted(os.path.join(d, n) for d, _, names in os.walk(folder) for n in names)
    batches = [[f] for f in files]
    if tool == "pool":
        from multiprocessing import Pool
        with Pool(2) as pool:
            results = pool.map(noop, batches, chunksize=1)
    elif tool == "joblib":
        from joblib import Parallel, delayed
        results = Parallel(n_jobs=2)(delayed(noop)(b) for b in batches)
    else:
        results = [noop(b) for b in batches]
    with open(out, "w") as f:
        for rows in results:
            for row in rows:
                f.write(f"{row}\\n")

if __name__ == "__main__":
    main()
'''

TOOLS = ("tenantml", "pool", "joblib")


def run(base: Path, quick: bool) -> dict[str, Any]:
    n, n0 = (400, 100) if quick else (5000, 500)
    repeats = 1 if quick else 3
    root = base / "overhead"
    sizes = {n: root / f"data_{n}", n0: root / f"data_{n0}"}
    for count, folder in sizes.items():
        common.empty_files(folder, count)
    pipelines = {}
    for count in sizes:
        project = root / f"p{count}"
        pipelines[count] = common.write_pipeline(project, ENTRY, data=f"../data_{count}", mini_batch_size="1",
                                                 workers=2, extra_files={"work.py": WORK})
    peer = root / f"p{n}" / "peer.py"
    peer.write_text(PEER, encoding="utf-8")

    times: dict[tuple[str, int], list[float]] = {}
    detail: dict[str, Any] = {"coordinator_cpu_s": {n: [], n0: []}, "children_cpu_s": {n: [], n0: []},
                              "first_run": {n: [], n0: []}, "dispatch": [], "step_s": {n: [], n0: []},
                              "rss_mib": {n: [], n0: []}, "peak_mib": {n: [], n0: []}}
    load_before = common.load_average()
    for rep in range(repeats):
        common.wait_quiet()
        order = TOOLS[rep % 3:] + TOOLS[:rep % 3]
        for count in (n, n0):
            for tool in order:
                if tool == "tenantml":
                    m = common.tenantml_run(pipelines[count], root / "home", workers=2, keep=True, sample_rss=0.02)
                    detail["first_run"][count].append(m.markers["run"])
                    detail["coordinator_cpu_s"][count].append(m.report["cpu_user_s"] + m.report["cpu_system_s"])
                    detail["children_cpu_s"][count].append(m.report["children_cpu_s"])
                    detail["peak_mib"][count].append(m.report["vmhwm_kib"] / 1024)
                    step = json.loads((Path(m.report["run_dirs"][0]) / "run.json").read_text())["steps"]["score"]
                    detail["step_s"][count].append(step["ended"] - step["started"])
                    spawn = m.report["ended"] - m.wall  # the samples' clock: seconds since spawn
                    during = [mib for t, mib in m.rss_samples if m.markers["run"] <= t <= step["ended"] - spawn]
                    detail["rss_mib"][count].append(max(during or [0.0]))
                    common.remove(root / "home")
                    if count == n:
                        detail["dispatch"].append(m.wall - m.markers["run"])
                else:
                    m = common.python_script(peer, [tool, str(sizes[count]), str(root / "peer_out.txt")],
                                             cwd=root)
                times.setdefault((tool, count), []).append(m.wall)
                common.say(f"  overhead rep {rep + 1}/{repeats} {tool:8s} N={count}: {m.wall:.2f} s")

    figures: dict[str, dict[str, float]] = {}
    for tool in TOOLS:
        t_n, t_n0 = common.median(times[(tool, n)]), common.median(times[(tool, n0)])
        figures[tool] = {"wall_n": t_n, "wall_n0": t_n0, "marginal_ms": (t_n - t_n0) / (n - n0) * 1000,
                         "per_mb_total_ms": t_n / n * 1000}
    best_peer = min(figures["pool"]["marginal_ms"], figures["joblib"]["marginal_ms"])
    tm = figures["tenantml"]["marginal_ms"]

    def marginal(values: dict[int, list[float]]) -> float:
        return (common.median(values[n]) - common.median(values[n0])) / (n - n0) * 1000
    return {
        "n": n, "n0": n0, "repeats": repeats, "times": {f"{k[0]}@{k[1]}": v for k, v in times.items()},
        "figures": figures, "best_peer_marginal_ms": best_peer,
        "ratio_to_best_peer": tm / best_peer if best_peer > 0 else float("inf"),
        "tenantml_first_run_s": {str(k): common.median(v) for k, v in detail["first_run"].items()},
        "tenantml_before_first_run_ms_per_file": (common.median(detail["first_run"][n])
                                                  - common.median(detail["first_run"][n0])) / (n - n0) * 1000,
        "tenantml_dispatch_ms_per_mb": common.median(detail["dispatch"]) / n * 1000,
        "step_marginal_ms": marginal(detail["step_s"]),
        "step_s": {str(k): v for k, v in detail["step_s"].items()},
        "coordinator_cpu_ms_per_mb": marginal(detail["coordinator_cpu_s"]),
        "workers_cpu_ms_per_mb": marginal(detail["children_cpu_s"]),
        "coordinator_rss_mib": {str(k): common.median(v) for k, v in detail["rss_mib"].items()},
        "coordinator_peak_mib": {str(k): common.median(v) for k, v in detail["peak_mib"].items()},
        "load_average": [load_before, common.load_average()],
        "target": {"name": "per-mini-batch overhead <= 1 ms (ledger, logs and rows written)",
                   "value": f"{tm:.3f} ms", "pass": tm <= 1.0},
        "targets": [{"name": "dispatch <= 0.1 ms per mini-batch with ledger, logs and append_row_to written",
                     "value": f"{tm:.3f} ms (Pool {figures['pool']['marginal_ms']:.3f} ms); the parallel step alone "
                              f"{marginal(detail['step_s']):.3f} ms", "pass": tm <= 0.1},
                    {"name": "coordinator RSS flat in the number of mini-batches (overhead run: the most sampled "
                             "from the first run() to the step's commit)",
                     "value": " vs ".join(f"{common.median(detail['rss_mib'][k]):.1f} MiB at {k:,}" for k in (n0, n)),
                     "pass": common.median(detail["rss_mib"][n]) <= common.median(detail["rss_mib"][n0]) + 5}],
    }
