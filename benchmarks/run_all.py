"""Run every tenantml benchmark side by side in one invocation and write ``benchmarks/RESULTS.md``.

    make bench                                   # = .venv/bin/python benchmarks/run_all.py
    .venv/bin/python benchmarks/run_all.py --quick --output /tmp/RESULTS.md   # smoke version
    .venv/bin/python benchmarks/run_all.py --only overhead,startup

Benchmarks (one module each): 1. ``overhead`` 2. ``many_models`` 3. ``scale`` 4. ``startup``
5. ``division`` 6. ``setup`` (``make run`` on a fresh clone of HEAD) 7. ``environments``
(``--environments isolated``: cold build, warm reuse, next to ``current``).
Generated data lives in a temporary folder that is removed at the end (``--keep`` keeps it).
A full run also rewrites ``benchmarks/RESULTS.md``; ``--quick`` writes only where ``--output``
says (its sizes are too small to judge the targets). Exit code 0 whether targets pass or miss;
1 if a benchmark itself failed to run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common, division, environments, many_models, overhead, scale, setup, startup  # noqa: E402

BENCHMARKS = {"overhead": overhead, "many_models": many_models, "scale": scale, "startup": startup,
              "division": division, "setup": setup, "environments": environments}
ORDER = ("startup", "overhead", "division", "many_models", "scale", "setup", "environments")
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "RESULTS.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test of the harness")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"where to write the Markdown (default: {DEFAULT_OUTPUT} for a full run, "
                             "nowhere for --quick)")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures as JSON")
    parser.add_argument("--only", default="", help="comma-separated subset of: " + ", ".join(ORDER))
    parser.add_argument("--tmp", type=Path, default=None, help="parent folder for generated data")
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    args = parser.parse_args(argv)

    chosen = [name.strip() for name in args.only.split(",") if name.strip()] or list(ORDER)
    unknown = [n for n in chosen if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(ORDER)}")
    output = args.output if args.output is not None else (None if args.quick else DEFAULT_OUTPUT)

    if args.quick:
        common.MAX_QUIET_WAIT = 3.0
    machine = common.machine_info()
    code = common.prepare_code()
    machine["code"] = (f"{code['commit']}; tenantml imported from {code['tenantml']}, "
                       f"tenantml.backends from {code['backends']}")
    base = common.scratch("all", args.tmp)
    started = time.time()
    results: dict[str, Any] = {}
    failed = False
    common.say(f"benchmarks in {base} ({'quick' if args.quick else 'full'}): {', '.join(chosen)}")
    try:
        for name in [n for n in ORDER if n in chosen]:
            common.say(f"[{name}]")
            t0 = time.time()
            try:
                results[name] = BENCHMARKS[name].run(base, args.quick)
            except Exception as exc:  # noqa: BLE001 - report it and go on with the others
                failed = True
                results[name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
                common.say(traceback.format_exc())
            results[name]["seconds"] = time.time() - t0
    finally:
        if not args.keep:
            common.remove(base)
    elapsed = time.time() - started
    text = render(machine, results, elapsed, args.quick)
    print(text)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        common.say(f"wrote {output}")
    if args.json is not None:
        args.json.write_text(json.dumps({"machine": machine, "results": results, "elapsed": elapsed,
                                         "background_busy": common.BUSY_SEEN}, indent=1, default=str))
    return 1 if failed else 0


# --------------------------------------------------------------------------- rendering

def _f(value: Any, digits: int = 2, unit: str = "") -> str:
    if value is None:
        return "-"
    try:
        if value != value:  # NaN
            return "-"
        return f"{value:.{digits}f}{unit}"
    except (TypeError, ValueError):
        return str(value)


def _spread(values: list[float], digits: int = 2) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return _f(values[0], digits)
    return f"{_f(common.median(values), digits)} ({_f(min(values), digits)}-{_f(max(values), digits)})"


def _targets(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for name in ORDER:
        r = results.get(name)
        if not r:
            continue
        if "error" in r:
            found.append((name, {"name": f"{name}: the benchmark failed", "value": r["error"][:200], "pass": False}))
            continue
        for t in ([r["target"]] if "target" in r else []) + r.get("targets", []):
            found.append((name, t))
    return found


def render(machine: dict[str, str], results: dict[str, Any], elapsed: float, quick: bool) -> str:
    out: list[str] = []
    w = out.append
    w("# tenantml benchmarks")
    w("")
    w(f"Written by `make bench` (`benchmarks/run_all.py{' --quick' if quick else ''}`) on "
      f"{time.strftime('%Y-%m-%d %H:%M %Z')}; the whole invocation took {elapsed / 60:.1f} min. "
      "Every tool runs in a fresh process on the same data in the same invocation, 2 workers each.")
    if quick:
        w("")
        w("**Quick run: sizes are far below the issue's; PASS/MISS below do not judge the targets.**")
    w("")
    w("## Machine")
    w("")
    w("| | |")
    w("|---|---|")
    for key in ("cpu", "cores", "ram", "os", "python", "versions", "code", "load"):
        if key in machine:
            label = {"load": "load average at start"}.get(key, key)
            w(f"| {label} | {machine[key]} |")
    if common.BUSY_SEEN:
        w(f"| background CPU use before measured blocks | median {common.median(common.BUSY_SEEN):.0%}, "
          f"max {max(common.BUSY_SEEN):.0%} of all cores (the machine is shared; each block waits up to "
          f"{common.MAX_QUIET_WAIT:.0f} s for it to fall under 30%) |")
    w("")
    w("## Targets")
    w("")
    w("| benchmark | target | measured | result |")
    w("|---|---|---|---|")
    for name, t in _targets(results):
        w(f"| {name} | {t['name']} | {t['value']} | {'PASS' if t['pass'] else '**MISS**'} |")
    w("")
    if "overhead" in results and "error" not in results["overhead"]:
        _overhead(w, results["overhead"])
    if "many_models" in results and "error" not in results["many_models"]:
        _many(w, results["many_models"])
    if "scale" in results and "error" not in results["scale"]:
        _scale(w, results["scale"])
    if "startup" in results and "error" not in results["startup"]:
        _startup(w, results["startup"])
    if "division" in results and "error" not in results["division"]:
        _division(w, results["division"])
    if "setup" in results and "error" not in results["setup"]:
        _setup(w, results["setup"])
    if "environments" in results and "error" not in results["environments"]:
        _environments(w, results["environments"])
    for name in ORDER:
        r = results.get(name)
        if r and "error" in r:
            w(f"## {name}: failed")
            w("")
            w("```")
            w(r["traceback"].rstrip())
            w("```")
            w("")
    w("## How each figure is measured")
    w("")
    w("- Wall times: `time.perf_counter()` around `subprocess.Popen(...).wait()` of a fresh process "
      "(`tenantml run PIPELINE --max-workers 2 --quiet` through `benchmarks/_coordinator.py`, which is "
      "`tenantml.cli.main` plus a report; the peers are small scripts written next to the data).")
    w("- Coordinator peak RSS: `VmHWM` of `/proc/self/status` read by the coordinator process itself when "
      "`tenantml.cli.main` returns: that process alone, not its workers or the divider.")
    w("- Time to first `init()`/`run()`: the entry script writes `time.time()` to a file (`O_EXCL`, first "
      "process wins) at the start of `init()` and of its first `run()`; minus the spawn time.")
    w("- Overhead per mini-batch: `(T(N) - T(N0)) / (N - N0)` with a no-op `run`, so fixed start-up costs "
      "cancel; medians over interleaved repeats.")
    w("- Read once: rows returned by every `MLTable.to_pandas_dataframe` call in the divider process "
      "(`benchmarks/_probe/sitecustomize.py`, on `PYTHONPATH` for that run only), and the divider's "
      "`rchar` from `/proc/<pid>/io` against one plain `mltable` read of the whole table.")
    w("- Re-run one benchmark: `.venv/bin/python benchmarks/run_all.py --only NAME --output /tmp/r.md` "
      "(`overhead`, `many_models`, `scale`, `startup`, `division`, `setup`, `environments`).")
    w("")
    return "\n".join(out)


def _overhead(w, r: dict[str, Any]) -> None:
    n, n0 = r["n"], r["n0"]
    w(f"## 1. Overhead: {n:,} one-file mini-batches of a no-op `run`")
    w("")
    w(f"Median of {r['repeats']} interleaved runs per tool and size (min-max); marginal = "
      f"(T({n}) - T({n0})) / {n - n0}, so start-up costs cancel.")
    w("")
    w(f"| tool | wall, {n:,} mini-batches (s) | wall, {n0:,} (s) | marginal per mini-batch (ms) | "
      f"wall at {n:,} vs best peer |")
    w("|---|---|---|---|---|")
    best_wall = min(r["figures"]["pool"]["wall_n"], r["figures"]["joblib"]["wall_n"])
    for tool, label in (("tenantml", "tenantml (ledger, logs, append_row_to)"),
                        ("pool", "multiprocessing.Pool(2).map(chunksize=1)"), ("joblib", "joblib.Parallel(n_jobs=2)")):
        f = r["figures"][tool]
        w(f"| {label} | {_spread(r['times'][f'{tool}@{n}'])} | {_spread(r['times'][f'{tool}@{n0}'])} | "
          f"{_f(f['marginal_ms'], 3)} | {_f(f['wall_n'] / best_wall, 1)}x |")
    w("")
    first = r["tenantml_first_run_s"]
    w(f"tenantml breakdown: first `run()` call at {_f(first[str(n)])} s with {n:,} files, {_f(first[str(n0)])} s "
      f"with {n0:,} ({_f(r['tenantml_before_first_run_ms_per_file'], 3)} ms per input file before any work "
      f"starts); dispatch loop (first `run()` to exit) {_f(r['tenantml_dispatch_ms_per_mb'], 3)} ms per "
      f"mini-batch. Marginal per mini-batch: the parallel step alone (its start to its commit in `run.json`) "
      f"{_f(r['step_marginal_ms'], 3)} ms (step {_spread(r['step_s'][str(n)])} s at {n:,}, "
      f"{_spread(r['step_s'][str(n0)])} s at {n0:,}); CPU: coordinator {_f(r['coordinator_cpu_ms_per_mb'], 3)} ms, "
      f"workers {_f(r['workers_cpu_ms_per_mb'], 3)} ms. Coordinator RSS while the step runs (most sampled every "
      f"20 ms from the first `run()` to the commit): {_f(r['coordinator_rss_mib'][str(n0)], 1)} MiB at {n0:,}, "
      f"{_f(r['coordinator_rss_mib'][str(n)], 1)} MiB at {n:,}; peak of the whole CLI process (`VmHWM`, "
      f"summary and report.html included) {_f(r['coordinator_peak_mib'][str(n0)], 1)} and "
      f"{_f(r['coordinator_peak_mib'][str(n)], 1)} MiB. Load average {_f(r['load_average'][0], 2)} before, {_f(r['load_average'][1], 2)} after. joblib "
      "batches tasks itself (`batch_size='auto'`), so its marginal cost is close to nothing; Pool sends one task "
      "per message, as tenantml does.")
    w("")


def _many(w, r: dict[str, Any]) -> None:
    w(f"## 2. Many models: {r['tenants']} tenant CSVs ({r['rows']} rows each), one GradientBoostingRegressor each")
    w("")
    w(f"Median of {r['repeats']} interleaved runs per tool (min-max); imports and worker start included.")
    w("")
    w("| tool | wall (s) | speed-up over serial | ratio to best peer |")
    w("|---|---|---|---|")
    best = min(r["wall"]["pool"], r["wall"]["joblib"])
    for tool, label in (("tenantml", "tenantml, 2 workers"), ("pool", "multiprocessing.Pool(2)"),
                        ("joblib", "joblib.Parallel(n_jobs=2)"), ("serial", "serial loop")):
        speed = r["wall"]["serial"] / r["wall"][tool]
        w(f"| {label} | {_spread(r['times'][tool])} | {_f(speed)}x | {_f(r['wall'][tool] / best, 3)}x |")
    w("")
    best_speed = max(r["wall"]["serial"] / r["wall"]["pool"], r["wall"]["serial"] / r["wall"]["joblib"])
    if "first_task_s" in r:
        w("Where the time goes (medians): from spawn to the first `train()` call of any process, and from "
          "there to exit.")
        w("")
        w("| tool | spawn to first task (s) | first task to exit (s) |")
        w("|---|---|---|")
        for tool in ("tenantml", "pool", "joblib", "serial"):
            w(f"| {tool} | {_f(r['first_task_s'][tool])} | {_f(r['after_first_task_s'][tool])} |")
        w("")
    w(f"tenantml's first `run()` call came {_f(r['tenantml_first_run_s'])} s after spawn. The best peer's "
      f"speed-up, {_f(best_speed)}x, is what 2 processes get from this workload on this machine; tenantml "
      f"reaches {r['wall']['serial'] / r['wall']['tenantml'] / best_speed:.0%} of it.")
    w("")


def _scale(w, r: dict[str, Any]) -> None:
    small, big, table = r["files_small"], r["files_big"], r["table"]
    w("## 3. Scale")
    w("")
    w("Files, `mini_batch_size: \"10\"`, `run()` returns its 10 paths (all written through `append_row_to`):")
    w("")
    w("| input | mini-batches | first init() (s) | first run() (s) | total (s) | coordinator peak RSS (MiB) | "
      "RSS at first run() / at end (MiB) | coordinator CPU (s) |")
    w("|---|---|---|---|---|---|---|---|")
    for c in (small, big):
        w(f"| {c['files']:,} files | {c['mini_batches']:,} | {_f(c['first_init'])} | {_f(c['first_run'])} | "
          f"{_f(c['wall'], 1)} | {_f(c['peak_mib'], 1)} | {_f(c['rss_at_first_run_mib'], 1)} / "
          f"{_f(c['rss_at_end_mib'], 1)} | {_f(c['coordinator_cpu_s'], 1)} |")
    w("")
    w(f"Table: {table['rows']:,} rows in 10 CSV files ({table['bytes'] / 2**20:.0f} MiB, `read_delimited`), "
      f"`partition_keys: [tenant]` with {table['groups']:,} groups; `run()` returns one row per input row.")
    w("")
    w("| figure | value |")
    w("|---|---|")
    w(f"| mini-batches / output rows | {table['mini_batches']:,} / {table['output_rows']:,} |")
    w(f"| first init() / first run() / total (s) | {_f(table['first_init'])} / {_f(table['first_run'], 1)} / "
      f"{_f(table['wall'], 1)} |")
    w(f"| coordinator peak RSS (MiB) | {_f(table['peak_mib'], 1)} |")
    w(f"| largest child peak RSS: the divider (MiB) | {_f(table['divider_or_worker_peak_mib'], 0)} |")
    w(f"| mltable reads in the divider / rows they returned | {table['mltable_reads']} / {table['rows_read']:,} "
      f"({_f(table['rows_read_ratio'])}x the table) |")
    w(f"| divider bytes read (`rchar`) vs one plain full read | {table['divider_rchar'] / 2**20:.0f} MiB vs "
      f"{table['full_read_rchar'] / 2**20:.0f} MiB ({_f(table['rchar_ratio'])}x) |")
    w(f"| divider lifetime vs one plain full read (s) | {_f(table['divider_seconds'], 1)} vs "
      f"{_f(table['full_read_seconds'], 1)} |")
    w("")


def _division(w, r: dict[str, Any]) -> None:
    w("## 5. Tabular division: the divider process against pandas on the same CSV")
    w("")
    w(f"Each figure is the median of {r['repeats']} interleaved runs (min-max), every tool a fresh process timed "
      "from spawn to exit (interpreter, imports, read, cut, write). `tenantml` is the divider "
      "`python -m tenantml.backends.local.divide` (mltable read: Azure ML's dtypes and byte boundaries; every "
      "mini-batch pickled to the spill file, the plan written); `pandas` is `read_csv` + `np.array_split` / "
      "`groupby(sort=True)` into the same number of pieces, held in memory; `pandas + spill` also pickles each "
      "piece to its own file. Background CPU use of the machine before each repeat is shown: the machine is "
      "shared, so only ratios within one row mean much.")
    w("")
    w("| input | mini-batches | tenantml (s) | pandas (s) | pandas + spill (s) | tenantml / pandas | "
      "beyond the pandas read, per mini-batch (ms) | marginal per mini-batch (ms) | background CPU |")
    w("|---|---|---|---|---|---|---|---|---|")
    for c in r["cases"]:
        what = ("`partition_keys: [tenant]`" if c["keys"] else f"`mini_batch_size: \"{c['size']}\"`")
        size = f"{c['bytes'] / 1e6:.1f} MB" if c["bytes"] >= 1e6 else f"{c['bytes'] / 1e3:.0f} KB"
        marginal = "-" if c["marginal_ms"] is None else (
            f"{_f(c['marginal_ms'], 2)} (vs `\"{c['small_size']}\"`: {c['mini_batches_n0']} mini-batches)")
        busy = ", ".join(f"{b:.0%}" for b in c["busy"])
        w(f"| {c['rows']:,} rows, {size}, {what} | {c['mini_batches']:,} | {_spread(c['times']['tenantml'])} | "
          f"{_spread(c['times']['pandas'])} | {_spread(c['times']['pandas_spill'])} | {_f(c['ratio'])}x | "
          f"{_f(c['beyond_read_ms'], 2)} | {marginal} | {busy} |")
    w("")
    w("Marginal = (T(N) - T(N0)) / (N - N0) for the same file divided at two sizes, so the read and the start-up "
      "cancel. Beyond the read = (T(tenantml) - T(pandas)) / N, start-up differences included.")
    w("")
    floor = r.get("floor")
    if floor:
        ft, fp = floor["median"]["tenantml"], floor["median"]["pandas"]
        w(f"Start-up alone (a 10-row table, one mini-batch): tenantml {_f(ft)} s, pandas {_f(fp)} s. The divider's "
          "fixed cost is its imports (tenantml, pandas, pyarrow, mltable with its REST-client modules) and the "
          "mltable engine's start; pandas pays only its own import. Ratio of the work after start-up "
          "((T - start-up) / (T(pandas) - start-up of pandas)): "
          + ", ".join(f"{c['name']} {_f(c.get('ratio_after_startup'), unit='x')}" for c in r["cases"])
          + " (- where the start-up is larger than the measured difference: noise).")
        w("")


def _setup(w, r: dict[str, Any]) -> None:
    w("## 6. Set-up: `make run` on a fresh clone")
    w("")
    w(f"`git clone` of commit {r['commit']} into a temporary folder; there `make .venv/.installed-run` (what "
      "`make run` does first: `python3 -m venv`, pip installs uv into it, `uv pip install -e \".[examples]\"`) "
      "then `make run` (the example pipeline `examples/tenants/pipeline.yml` to its summary), each timed; package "
      f"caches (uv, pip) as this machine has them (warm). Background CPU use before: {r['busy']:.0%}.")
    w("")
    w("| figure | value |")
    w("|---|---|")
    w(f"| `make run`, fresh clone, to the example's result (s) | {_f(r['first'], 1)} |")
    w(f"| of which set-up (venv + uv + install) (s) | {_f(r['setup'], 1)} |")
    w(f"| of which the example pipeline (s) | {_f(r['again'], 1)} |")
    w(f"| `.venv` size (MiB) | {_f(r['venv_mib'], 0)} |")
    w(f"| `azure-ai-ml` installed by `make run` | {'yes' if r['azure_sdk'] else 'no'} |")
    w(f"| `import tenantml` from `/tmp` with the clone's python | `{r['imported']}` |")
    w("")


def _startup(w, r: dict[str, Any]) -> None:
    w("## 4. Start-up")
    w("")
    w("| command | seconds, median (min-max) |")
    w("|---|---|")
    w(f"| `python -c pass` (floor) | {_spread(r['python_floor'], 3)} |")
    w(f"| `tenantml --help` | {_spread(r['help'], 3)} |")
    w(f"| `tenantml run` (1 file, 2 workers) until the first `init()` starts | {_spread(r['to_init'])} |")
    w(f"| `tenantml run` (1 file) until the first `run()` | {_spread(r['to_run'])} |")
    w(f"| `tenantml run` (1 file) to exit | {_spread(r['run_wall'])} |")
    w("")



def _environments(w, r: dict[str, Any]) -> None:
    w("## 7. Step environments: `--environments isolated` next to `current`")
    w("")
    w("A command step and a 2-file parallel step naming one conda file (`packaging==24.1`, `six==1.16.0`); "
      f"`tenantml run --force`, median of {r['repeats']} (cold: one run).")
    w("")
    w("| mode | wall (s) | vs current |")
    w("|---|---|---|")
    base = r["median"]["current"]
    for key, label in (("current", "current (no environment built)"),
                       ("cold", "isolated, cold: empty home and empty uv cache (wheels from PyPI)"),
                       ("new_env", "isolated, environment not cached, uv's wheel cache warm"),
                       ("warm", "isolated, environment cached in <home>/envs (nothing built)")):
        w(f"| {label} | {_spread(r['times'][key])} | {_f(r['median'][key] / base, 2)}x |")
    w("")


if __name__ == "__main__":
    sys.exit(main())
