"""3. Scale: many files, and a big table cut by ``partition_keys``; the coordinator stays small.

Files. A folder of ``files`` empty files, ``mini_batch_size: "10"``, a ``run()`` that returns its
mini-batch (10 rows each, all written through ``append_row_to``), 2 workers. The same run at a
tenth of the size shows whether the coordinator's peak RSS grows with the number of mini-batches
and returned rows.

Table. ``rows`` rows in 10 CSV files (an MLTable with ``read_delimited``), ``groups`` distinct
``tenant`` values spread over every file, ``partition_keys: [tenant]``; ``run()`` returns one row
per input row. "Read once" is shown two independent ways, in the same run:

- rows: ``benchmarks/_probe/sitecustomize.py`` (on ``PYTHONPATH`` for this run only) counts the
  rows every ``MLTable.to_pandas_dataframe`` call returns inside the divider process; read once
  means their sum equals the table's row count (once per partition would be ``groups`` times
  the table);
- bytes: the divider's ``rchar`` (``/proc/<pid>/io``: bytes it read through system calls) is
  polled while it runs and compared with the same counter for one plain ``mltable`` read of the
  whole table in a separate process. It is a few times one full read, whatever the number of
  partitions: tenantml reads the table one file at a time, and every mltable read re-samples the
  whole table for column types (measured: ~55 MiB of reads per 14 MiB file), plus one scan for
  the partition layout. Once per partition would be ``groups`` times.

The target passes when the rows returned by mltable sum to the table exactly and the number of
mltable reads is at most the number of files.

Times are seconds from spawning ``tenantml run`` (first ``run()`` call and exit); peak RSS is
``VmHWM`` of the coordinator process alone, reported by ``benchmarks/_coordinator.py``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import common

FILES_ENTRY = common.MARKERS + '''
FIRST = True

def init():
    _mark("init")

def run(mini_batch):
    global FIRST
    if FIRST:
        FIRST = False
        _mark("run")
    return mini_batch
'''

TABLE_ENTRY = common.MARKERS + '''
FIRST = True

def init():
    _mark("init")

def run(mini_batch, context):
    global FIRST
    if FIRST:
        FIRST = False
        _mark("run")
    tenant = context.partition_key_value["tenant"]
    return [f"{tenant} {value:.4f}" for value in mini_batch["y"]]
'''

MLTABLE = """\
paths:
  - pattern: ./*.csv
transformations:
  - read_delimited:
      delimiter: ","
      header: all_files_same_headers
"""

FULL_READ = '''
import json, sys
from pathlib import Path
from tenantml.backends.local.mltable_support import exit_now, route_mltable_logs
route_mltable_logs(Path(sys.argv[2]))
import mltable, time

def rchar():
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("rchar")).split()[1])

before, start = rchar(), time.perf_counter()
rows = len(mltable.load(sys.argv[1]).to_pandas_dataframe())
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - start, "rchar": rchar() - before}))
exit_now(0)
'''

PROBE = Path(__file__).resolve().parent / "_probe"


# --------------------------------------------------------------------------- data

TABLE_FILES = 10


def make_table(folder: Path, rows: int, groups: int, files: int = TABLE_FILES) -> int:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MLTable").write_text(MLTABLE, encoding="utf-8")
    rng = np.random.default_rng(11)
    per = rows // files
    for i in range(files):
        count = per if i < files - 1 else rows - per * (files - 1)
        tenants = rng.integers(0, groups, count)
        if i == 0:
            tenants[:groups] = np.arange(groups)  # every group exists
        table = pa.table({"tenant": tenants, "day": np.full(count, i),
                          "x1": rng.normal(size=count).round(4), "x2": rng.normal(size=count).round(4),
                          "y": rng.normal(size=count).round(4)})
        pcsv.write_csv(table, folder / f"part{i:03d}.csv",
                       write_options=pcsv.WriteOptions(quoting_style="none"))
    return sum(p.stat().st_size for p in folder.glob("*.csv"))


# --------------------------------------------------------------------------- divider I/O

class DividerWatch:
    """Polls the coordinator's children for the divider and keeps its last ``rchar``."""

    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self.rchar = 0
        self.seconds = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, coordinator_cmd_marker: str) -> None:
        self._thread = threading.Thread(target=self._loop, args=(coordinator_cmd_marker,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _loop(self, marker: str) -> None:
        divider = None
        first_seen = 0.0
        while not self._stop.is_set():
            if divider is None:
                divider = _find_process("tenantml.backends.local.divide", marker)
                first_seen = time.monotonic()
            if divider is not None:
                try:
                    with open(f"/proc/{divider}/io") as f:
                        self.rchar = int(next(ln for ln in f if ln.startswith("rchar")).split()[1])
                    self.seconds = time.monotonic() - first_seen
                except (OSError, StopIteration):
                    return  # it ended; the last reading stays
            self._stop.wait(self.interval)


def _find_process(needle: str, marker: str) -> int | None:
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            if needle in cmd and marker in cmd:
                return int(entry.name)
        except OSError:
            continue
    return None


# --------------------------------------------------------------------------- benchmarks

def files_case(base: Path, count: int) -> dict[str, Any]:
    root = base / f"files_{count}"
    common.timed(f"create {count} files", lambda: common.empty_files(root / "data", count))
    pipeline = common.write_pipeline(root, FILES_ENTRY, mini_batch_size="10", workers=2)
    common.wait_quiet()
    m = common.tenantml_run(pipeline, root / "home", workers=2, sample_rss=0.1)
    common.remove(root)
    samples = m.rss_samples
    first_run = m.markers.get("run", float("nan"))
    after_first = [mib for t, mib in samples if t >= first_run] or [0.0]
    return {"files": count, "mini_batches": -(-count // 10), "rows": count, "wall": m.wall,
            "first_init": m.markers.get("init"), "first_run": first_run,
            "peak_mib": m.coordinator_peak_mib, "rss_at_first_run_mib": after_first[0],
            "rss_at_end_mib": samples[-1][1] if samples else 0.0,
            "rss_max_sampled_after_first_run_mib": max(after_first),
            "coordinator_cpu_s": m.report["cpu_user_s"] + m.report["cpu_system_s"],
            "worker_peak_mib": m.report["children_maxrss_kib"] / 1024}


def table_case(base: Path, rows: int, groups: int) -> dict[str, Any]:
    root = base / f"table_{rows}"
    data = root / "data"
    size = common.timed(f"create a {rows}-row table", lambda: make_table(data, rows, groups))
    pipeline = common.write_pipeline(root, TABLE_ENTRY, data_type="mltable", partition_keys=["tenant"],
                                     workers=2)
    counts = root / "_reads.jsonl"
    env = {"PYTHONPATH": str(PROBE), "BENCH_COUNT_READS": str(counts)}
    watch = DividerWatch()
    watch.start(str(root))  # the divider's request file lives under this run's folder
    common.wait_quiet()
    m = common.tenantml_run(pipeline, root / "home", workers=2, sample_rss=0.2, env=env, keep=True)
    watch.stop()
    run_dir = Path(m.report["run_dirs"][0]) / "score"
    out = run_dir / "outputs" / "out" / "parallel_run_step.txt"
    out_rows = _count_lines(out)
    mini_batches = _count_lines(run_dir / "state" / "mini_batches.jsonl")
    common.remove(root / "home")
    reads = [json.loads(line) for line in counts.read_text().splitlines()] if counts.exists() else []
    rows_read = sum(r["rows"] for r in reads)
    # one plain read of the whole table, for the byte counter and the time
    script = root / "full_read.py"
    script.write_text(FULL_READ, encoding="utf-8")
    common.wait_quiet()
    full_stats = _full_read(script, data, root)
    common.remove(root)
    return {"rows": rows, "groups": groups, "bytes": size, "wall": m.wall,
            "first_init": m.markers.get("init"), "first_run": m.markers.get("run", float("nan")),
            "peak_mib": m.coordinator_peak_mib, "divider_or_worker_peak_mib": m.report["children_maxrss_kib"] / 1024,
            "mini_batches": mini_batches, "output_rows": out_rows,
            "mltable_reads": len(reads), "rows_read": rows_read, "rows_read_ratio": rows_read / rows,
            "divider_rchar": watch.rchar, "divider_seconds": watch.seconds,
            "full_read_rchar": full_stats["rchar"], "full_read_seconds": full_stats["seconds"],
            "rchar_ratio": watch.rchar / full_stats["rchar"] if full_stats["rchar"] else float("nan")}


def _full_read(script: Path, data: Path, root: Path) -> dict[str, Any]:
    import subprocess

    env = common.measured_env()
    out = subprocess.run([common.PYTHON, str(script), str(data), str(root / "mltable-logs")], cwd=root, env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def run(base: Path, quick: bool) -> dict[str, Any]:
    big_files, small_files = (2_000, 200) if quick else (100_000, 10_000)
    rows, groups = (100_000, 200) if quick else (5_000_000, 10_000)
    files_small = files_case(base, small_files)
    common.say(f"  scale files {small_files}: {files_small['wall']:.1f} s, peak {files_small['peak_mib']:.0f} MiB")
    files_big = files_case(base, big_files)
    common.say(f"  scale files {big_files}: {files_big['wall']:.1f} s, first run {files_big['first_run']:.2f} s, "
               f"peak {files_big['peak_mib']:.0f} MiB")
    table = table_case(base, rows, groups)
    common.say(f"  scale table {rows} rows/{groups} groups: {table['wall']:.1f} s, "
               f"first run {table['first_run']:.1f} s, rows read {table['rows_read_ratio']:.2f}x")
    growth = files_big["peak_mib"] - files_small["peak_mib"]
    dispatch_growth = files_big["rss_max_sampled_after_first_run_mib"] - files_big["rss_at_first_run_mib"]
    targets = [
        {"name": f"{big_files:,} files: first run() within 3 s", "value": f"{files_big['first_run']:.2f} s",
         "pass": files_big["first_run"] <= 3.0},
        {"name": f"{big_files:,} files: coordinator peak RSS < 300 MB", "value": f"{files_big['peak_mib']:.0f} MiB",
         "pass": files_big["peak_mib"] * 2**20 < 300e6},
        {"name": f"coordinator RSS flat while {files_big['mini_batches']:,} mini-batches and {big_files:,} rows "
                 "stream through (first run() to end)",
         "value": f"{files_big['rss_at_first_run_mib']:.1f} -> max {files_big['rss_max_sampled_after_first_run_mib']:.1f}"
                  f" MiB ({dispatch_growth:+.1f}); peak {files_small['peak_mib']:.0f} MiB at {small_files:,} files,"
                  f" {files_big['peak_mib']:.0f} MiB at {big_files:,}",
         "pass": dispatch_growth < 5 + 0.05 * files_big["rss_at_first_run_mib"]},
        {"name": f"{groups:,} partitions of {rows:,} rows: input read once, not once per partition",
         "value": f"{table['mltable_reads']} mltable reads (one per file) returned {table['rows_read']:,} rows "
                  f"({table['rows_read_ratio']:.2f}x the table); bytes {table['rchar_ratio']:.1f}x one plain full read",
         "pass": table["rows_read"] == rows and 0 < table["mltable_reads"] <= TABLE_FILES},
    ]
    return {"files_small": files_small, "files_big": files_big, "table": table, "targets": targets}
