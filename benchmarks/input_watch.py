"""What a read-only input's tree signature costs (tenantml/backends/local/input_watch.py), side by side.

    .venv/bin/python benchmarks/input_watch.py [--files 100000] [--rounds 5]

Builds ``--files`` small files in 1,000 folders (a tenant-per-folder input), then times, interleaved
round by round so machine load hits both alike: the floor (``os.scandir`` + ``lstat`` of every entry,
nothing kept) and tenantml's signature (the same walk, sorted, hashed). Prints the medians and the
ratio. Not part of ``run_all.py`` (a stand-alone measurement that chose where the check runs: per
step, not per attempt).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tenantml.backends.local.input_watch import signature  # noqa: E402


def floor(root: str) -> int:
    count, stack = 0, [root]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                entry.stat(follow_symlinks=False)
                count += 1
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="tenantml-bench-watch-"))
    try:
        root = base / "input"
        for i in range(args.files):
            folder = root / f"tenant_{i % 1000}"
            if i < 1000:
                folder.mkdir(parents=True)
            (folder / f"part_{i}.csv").write_bytes(b"x,y\n1,2\n")
        floors, sigs = [], []
        for _ in range(args.rounds):
            start = time.perf_counter()
            floor(str(root))
            floors.append(time.perf_counter() - start)
            start = time.perf_counter()
            signature(root)
            sigs.append(time.perf_counter() - start)
        f, s = statistics.median(floors), statistics.median(sigs)
        print(f"{args.files} files in 1000 folders, {args.rounds} rounds, load {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} cores")
        print(f"  scandir + lstat (floor) : {f:.3f} s")
        print(f"  tenantml signature      : {s:.3f} s   ratio {s / f:.2f}x")
    finally:
        shutil.rmtree(base)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
