"""``python benchmarks/_coordinator.py ARGS...`` = ``tenantml ARGS...``, plus a report of this process.

The tenantml CLI process *is* the coordinator of a local run (workers and the tabular divider are
child processes). After ``tenantml.cli.main`` returns, this writes to ``$BENCH_REPORT``:

- ``vmhwm_kib``: peak resident set of this process alone (``VmHWM`` in ``/proc/self/status``);
- ``cpu_user_s``/``cpu_system_s``: CPU time of this process alone;
- ``children_maxrss_kib``: the largest peak RSS of any reaped child (a worker or the divider).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def _status(field: str) -> int:
    with open("/proc/self/status", "rb") as f:
        for line in f:
            if line.startswith(field.encode() + b":"):
                return int(line.split()[1])
    return 0


def main() -> None:
    started = time.time()
    from tenantml.cli import main as cli_main

    code = cli_main(sys.argv[1:])
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = {"code": code, "started": started, "ended": time.time(),
              "vmhwm_kib": _status("VmHWM"), "vmrss_kib": _status("VmRSS"),
              "cpu_user_s": me.ru_utime, "cpu_system_s": me.ru_stime,
              "children_maxrss_kib": children.ru_maxrss,
              "children_cpu_s": children.ru_utime + children.ru_stime,
              "mltable_imported": "mltable" in sys.modules, "pandas_imported": "pandas" in sys.modules}
    target = os.environ.get("BENCH_REPORT")
    if target:
        with open(target, "w", encoding="utf-8") as out:
            json.dump(report, out)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # as tenantml.cli.entry does when mltable was imported; nothing left to run


if __name__ == "__main__":
    main()
