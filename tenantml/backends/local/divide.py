"""Writing a parallel step's division plan: one JSON line per mini-batch, in index order.

File input is divided in the coordinator (it only lists paths). Tabular input is read through
``mltable`` in a separate short-lived process (``python -m tenantml.backends.local.divide
REQUEST.json``): the coordinator never imports pandas or mltable, never holds rows, and neither
pays mltable's exit pause nor lets its logs reach ``$TMPDIR``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tenantml.backends.local import procs
from tenantml.errors import UserError
from tenantml.spec import DataInput


@dataclass(frozen=True)
class DivisionRequest:
    input: DataInput
    mini_batch_size: str | None
    partition_keys: tuple[str, ...]
    spill_dir: Path
    plan: Path
    source_file: Path
    mltable_log_dir: Path

    def to_json(self) -> str:
        return json.dumps({
            "input": {"name": self.input.name, "type": self.input.type, "path": str(self.input.path),
                      "mode": self.input.mode},
            "mini_batch_size": self.mini_batch_size, "partition_keys": list(self.partition_keys),
            "spill_dir": str(self.spill_dir), "plan": str(self.plan), "source_file": str(self.source_file),
            "mltable_log_dir": str(self.mltable_log_dir)})

    @staticmethod
    def from_json(text: str) -> DivisionRequest:
        raw = json.loads(text)
        i = raw["input"]
        return DivisionRequest(DataInput(i["name"], i["type"], Path(i["path"]), i["mode"]), raw["mini_batch_size"],
                               tuple(raw["partition_keys"]), Path(raw["spill_dir"]), Path(raw["plan"]),
                               Path(raw["source_file"]), Path(raw["mltable_log_dir"]))


STOP_CHECK_EVERY = 512  # mini-batches between two looks at should_stop (100,000 files: ~10 ms apart)


def write_plan(request: DivisionRequest, should_stop: Callable[[], bool] = lambda: False) -> int:
    """Divide the input and write the plan; return the number of mini-batches.

    In the coordinator (file input) a large input takes seconds to divide; ``should_stop()`` is
    asked every :data:`STOP_CHECK_EVERY` mini-batches and, once true, the half-written plan is
    removed and KeyboardInterrupt raised, as :func:`finish` does for the division process."""
    from tenantml.division import iter_mini_batches

    request.spill_dir.mkdir(parents=True, exist_ok=True)
    temp = request.plan.with_suffix(".tmp")
    count = 0
    try:
        with open(temp, "w", encoding="utf-8", errors="surrogateescape") as out:  # non-UTF-8 file names too
            for mb in iter_mini_batches(request.input, mini_batch_size=request.mini_batch_size,
                                        partition_keys=request.partition_keys, spill_dir=request.spill_dir,
                                        source_file=request.source_file, should_stop=should_stop):
                out.write(mb.to_json() + "\n")
                count += 1
                if count % STOP_CHECK_EVERY == 0 and should_stop():
                    raise KeyboardInterrupt
            out.flush()
            os.fsync(out.fileno())  # whole on disk before it is renamed into place: a resume trusts it
    except BaseException:
        temp.unlink(missing_ok=True)  # ours: created above; never a plan another session relies on
        raise
    os.replace(temp, request.plan)
    return count


def plan_size(plan: Path, should_stop: Callable[[], bool] = lambda: False) -> int | None:
    """Mini-batches in a plan an earlier session wrote, or None when it is damaged (a line that is
    not mini-batch N of its place, or cut): a resume divides the input again then. Every line is
    parsed (100,000 in ~0.3 s); ``should_stop()`` (Ctrl-C) is asked every 4,096 lines and raises
    KeyboardInterrupt."""
    count = 0
    try:
        with open(plan, encoding="utf-8", errors="surrogateescape") as lines:
            for line in lines:
                if not line.endswith("\n") or json.loads(line).get("index") != count:
                    return None
                count += 1
                if count % 4096 == 0 and should_stop():
                    raise KeyboardInterrupt
    except (OSError, ValueError, AttributeError):
        return None
    return count


def needs_process(request: DivisionRequest) -> bool:
    from tenantml.division import is_tabular

    return bool(request.partition_keys) or is_tabular(request.input)


def start(request: DivisionRequest, request_file: Path) -> subprocess.Popen[bytes]:
    """Start the division process (the caller waits for it with :func:`finish`)."""
    request_file.write_text(request.to_json(), encoding="utf-8")
    with open(request_file.with_suffix(".stderr.txt"), "wb") as err:
        return procs.watched(subprocess.Popen(
            [sys.executable, "-m", "tenantml.backends.local.divide", str(request_file)],
            stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT, start_new_session=True))


def finish(proc: subprocess.Popen[bytes], request: DivisionRequest, request_file: Path,
           should_stop: Callable[[], bool] = lambda: False) -> int:
    """Wait for the division process; if ``should_stop()`` turns true, kill it and raise KeyboardInterrupt."""
    while True:
        try:
            proc.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            if should_stop():
                from tenantml.backends.local.procs import end_all

                end_all([proc], grace=0.5)
                raise KeyboardInterrupt from None
    procs.end_all([proc], grace=0)  # anything it left in its group; and the reaper forgets it
    err = request_file.with_suffix(".stderr.txt").read_bytes()[-20000:]
    error_file = request_file.with_suffix(".error.json")
    if error_file.exists():
        raw = json.loads(error_file.read_text(encoding="utf-8"))
        raise UserError(raw.get("text", raw["message"]), fix=raw.get("fix"), file=raw.get("file"),
                        key=raw.get("key"), line=raw.get("line"))
    if proc.returncode != 0:
        raise RuntimeError(f"the division process failed (exit {proc.returncode}):\n{err.decode(errors='replace')}")
    return sum(1 for _ in open(request.plan, encoding="utf-8", errors="surrogateescape"))


def main() -> None:
    import logging
    import threading

    from tenantml.backends.local.mltable_support import (
        defer_mltable_rest_client,
        exit_now,
        route_mltable_logs,
        skip_discarded_call_stacks,
    )

    # pandas (with numpy and pyarrow) and azureml.dataprep + mltable share almost no modules, and
    # an import spends part of its time outside the interpreter (files, shared libraries): on 2
    # cores, importing pandas in a thread while this one imports mltable ends the imports sooner
    # (measured 0.67-0.90 s vs 0.96-1.03 s under load). Nothing here waits for it: the first use
    # of pandas joins that import through the import lock.
    threading.Thread(target=_import_quietly, args=("pandas",), daemon=True).start()
    defer_mltable_rest_client()
    request_file = Path(sys.argv[1])
    request = DivisionRequest.from_json(request_file.read_text(encoding="utf-8"))
    route_mltable_logs(request.mltable_log_dir)
    skip_discarded_call_stacks()  # this process is tenantml's own: no telemetry stack per mltable call
    _log_notes(request.mltable_log_dir / "division.txt")
    # dataprep's loggers are at DEBUG with no handler here (telemetry off): every mini-batch made
    # ~5 INFO records that nothing kept (cProfile, 608 mini-batches: 0.10 s of 0.62 s). Warnings stay.
    logging.disable(logging.INFO)
    code = 0
    try:
        write_plan(request)
    except UserError as exc:
        request_file.with_suffix(".error.json").write_text(
            json.dumps({"message": exc.message, "text": exc.text, "fix": exc.fix, "file": exc.file, "key": exc.key,
                        "line": exc.line}), encoding="utf-8")
        code = 2
    except BaseException:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        code = 1
    exit_now(code)


def _log_notes(path: Path) -> None:
    """Warnings of the division (e.g. mltable's public API used) go to the step's logs folder,
    next to mltable's own logs, and to this process's stderr file."""
    import logging

    logger = logging.getLogger("tenantml.division")
    for handler in (logging.FileHandler(path, encoding="utf-8", delay=True), logging.StreamHandler(sys.stderr)):
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _import_quietly(name: str) -> None:
    try:
        __import__(name)
    except BaseException:  # noqa: BLE001 - the main thread's own import of it reports the error
        pass


if __name__ == "__main__":
    main()
