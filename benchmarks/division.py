"""5. Tabular division: tenantml's divider against one ``pandas.read_csv`` + split/``groupby``.

The divider is the process ``tenantml run`` starts for a tabular input
(``python -m tenantml.backends.local.divide REQUEST.json``): it reads the MLTable through mltable
(Azure ML's reader: its dtypes and byte boundaries), cuts it into mini-batches and writes each
one to a spill file and the plan. It is timed alone, from spawn to exit, against two peers in
fresh processes on the same CSV in the same invocation:

- ``pandas``: ``pandas.read_csv`` of the file, then the same number of pieces (``np.array_split``
  for a byte size, ``groupby(keys, sort=True)`` for ``partition_keys``), held in memory;
- ``pandas + spill``: the same, plus one ``pickle.dump`` per piece to its own file, which is the
  output the divider writes for its workers.

Ratios are to the plain ``pandas`` peer (the issue's target: <= 1.5x); the marginal cost per
mini-batch is measured by dividing the same file at two sizes, ``(T(N) - T(N0)) / (N - N0)``, so
the read and the start-up cancel (target <= 1 ms). Medians of interleaved repeats.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks import common

PEER = '''
import os, pickle, sys
import numpy as np
import pandas as pd

path, pieces, keys, spill = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
frame = pd.read_csv(path)
if keys:
    parts = [part for _, part in frame.groupby(keys.split(","), sort=True, dropna=False)]
else:
    parts = [frame.iloc[idx[0]:idx[-1] + 1] if len(idx) else frame.iloc[0:0]
             for idx in np.array_split(np.arange(len(frame)), pieces)]
if spill != "-":
    for i, part in enumerate(parts):
        with open(os.path.join(spill, f"piece{i:06d}.pkl"), "wb") as fh:
            pickle.dump(part.reset_index(drop=True), fh, protocol=pickle.HIGHEST_PROTOCOL)
print(len(parts))
'''

MLTABLE = ("paths:\n  - pattern: ./*.csv\ntransformations:\n  - read_delimited:\n      delimiter: ','\n"
           "      header: all_files_same_headers\n")


def make_csv(folder: Path, rows: int, tenants: int) -> int:
    import numpy as np
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(17)
    frame = pd.DataFrame({"tenant": [f"tenant_{i:05d}" for i in rng.integers(0, tenants, rows)],
                          "x": rng.normal(size=rows).round(4), "qty": rng.integers(0, 1000, rows)})
    frame.to_csv(folder / "data.csv", index=False)
    (folder / "MLTable").write_text(MLTABLE, encoding="utf-8")
    return (folder / "data.csv").stat().st_size


def divider(case: Path, data: Path, size: str | None, keys: list[str], tag: str) -> tuple[float, int]:
    """One divider process, timed; returns (wall, mini-batches)."""
    work = case / f"div_{tag}"
    common.remove(work)
    work.mkdir(parents=True)
    request = {"input": {"name": "data", "type": "mltable", "path": str(data), "mode": "direct"},
               "mini_batch_size": size, "partition_keys": keys, "spill_dir": str(work / "spill"),
               "plan": str(work / "plan.jsonl"), "source_file": str(case / "pipeline.yml"),
               "mltable_log_dir": str(work / "mltable-logs")}
    req = work / "request.json"
    req.write_text(json.dumps(request), encoding="utf-8")
    m = common.measure([common.PYTHON, "-m", "tenantml.backends.local.divide", str(req)], cwd=work)
    if m.returncode != 0 or not (work / "plan.jsonl").exists():
        raise RuntimeError(f"divider failed ({m.returncode}): {m.stderr[-2000:]}")
    count = len((work / "plan.jsonl").read_text(encoding="utf-8").splitlines())
    common.remove(work)
    return m.wall, count


def peer(case: Path, data: Path, pieces: int, keys: list[str], spill: bool) -> float:
    script = case / "peer.py"
    script.write_text(PEER, encoding="utf-8")
    out = case / "peer_spill"
    common.remove(out)
    out.mkdir()
    m = common.measure([common.PYTHON, str(script), str(data / "data.csv"), str(pieces), ",".join(keys),
                        str(out) if spill else "-"], cwd=case).check("pandas peer")
    common.remove(out)
    return m.wall


def case_run(base: Path, name: str, rows: int, tenants: int, size: str | None, keys: list[str],
             small_size: str | None, repeats: int) -> dict[str, Any]:
    case = base / name
    data = case / "data"
    nbytes = make_csv(data, rows, tenants)
    times: dict[str, list[float]] = {"tenantml": [], "tenantml_n0": [], "pandas": [], "pandas_spill": []}
    counts: dict[str, int] = {}
    busy: list[float] = []
    for _ in range(repeats):
        busy.append(common.wait_quiet())
        wall, counts["n"] = divider(case, data, size, keys, "n")
        times["tenantml"].append(wall)
        if small_size is not None:
            wall, counts["n0"] = divider(case, data, small_size, keys, "n0")
            times["tenantml_n0"].append(wall)
        times["pandas"].append(peer(case, data, counts["n"], keys, spill=False))
        times["pandas_spill"].append(peer(case, data, counts["n"], keys, spill=True))
    common.remove(case)
    med = {k: common.median(v) for k, v in times.items() if v}
    marginal = None
    if small_size is not None and counts["n"] != counts["n0"]:
        marginal = (med["tenantml"] - med["tenantml_n0"]) / (counts["n"] - counts["n0"]) * 1000
    return {"name": name, "rows": rows, "tenants": tenants, "bytes": nbytes, "size": size, "keys": keys,
            "small_size": small_size, "busy": busy, "mini_batches": counts["n"], "mini_batches_n0": counts.get("n0"),
            "times": times, "median": med, "ratio": med["tenantml"] / med["pandas"],
            "ratio_spill": med["tenantml"] / med["pandas_spill"],
            "beyond_read_ms": (med["tenantml"] - med["pandas"]) / counts["n"] * 1000,
            "marginal_ms": marginal}


def run(base: Path, quick: bool) -> dict[str, Any]:
    repeats = 1 if quick else 3
    scale = 10 if quick else 1
    # start-up alone: a 10-row table, one mini-batch (interpreter, imports, engine start; no work)
    floor = case_run(base, "start-up", 10, 2, "10mb", [], None, repeats)
    cases = [
        # the 55 KB CSV at "100" (~550 mini-batches); marginal against "10kb" (~6)
        case_run(base, "size_small", 2_500 // scale, 50, "100", [], "10kb", repeats),
        # 200,000 rows (~6.7 MB) at "10kb" (~660 mini-batches); marginal against "1mb" (~7)
        case_run(base, "size_large", 200_000 // scale, 1_000, "10kb", [], "1mb", repeats),
        # the partition_keys case: 200,000 rows, 1,000 tenants
        case_run(base, "partitions", 200_000 // scale, 1_000 // scale, None, ["tenant"], None, repeats),
        # where the fixed start-up no longer dominates: 2,000,000 rows (~50 MB)
        case_run(base, "size_huge", 2_000_000 // scale, 1_000, "1mb", [], "16mb", repeats),
        case_run(base, "partitions_huge", 2_000_000 // scale, 1_000 // scale, None, ["tenant"], None, repeats),
    ]
    fixed_t, fixed_p = floor["median"]["tenantml"], floor["median"]["pandas"]
    for c in cases:
        work_t, work_p = c["median"]["tenantml"] - fixed_t, c["median"]["pandas"] - fixed_p
        c["ratio_after_startup"] = work_t / work_p if work_p > 0 and work_t > 0 else float("nan")  # noise
        common.say(f"  division {c['name']}: tenantml {c['median']['tenantml']:.2f} s, pandas "
                   f"{c['median']['pandas']:.2f} s ({c['ratio']:.2f}x), {c['mini_batches']} mini-batches")
    targets = []
    for c in cases:
        what = f"partition_keys [tenant], {c['tenants']:,} groups" if c["keys"] else \
            f"mini_batch_size \"{c['size']}\", {c['mini_batches']:,} mini-batches"
        targets.append({"name": f"division of {_size(c['bytes'])} ({what}) <= 1.5x pandas read_csv + "
                                "split/groupby",
                        "value": f"{c['ratio']:.2f}x ({c['median']['tenantml']:.2f} s vs {c['median']['pandas']:.2f} s)",
                        "pass": c["ratio"] <= 1.5})
        if c["marginal_ms"] is not None:
            targets.append({"name": f"division of {_size(c['bytes'])}: marginal cost per mini-batch <= 1 ms",
                            "value": f"{c['marginal_ms']:.2f} ms", "pass": c["marginal_ms"] <= 1.0})
    return {"cases": cases, "floor": floor, "repeats": repeats, "targets": targets}


def _size(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB" if nbytes >= 1e6 else f"{nbytes / 1e3:.0f} KB"
