"""One worker process of the local parallel-job runner.

Started by the coordinator as ``python -m tenantml.backends.local.worker FD PARENT_PID`` in a
new session (its own process group), with a temp folder of its own as working directory (the
code folder stays first on ``sys.path``, as on Azure ML, where "workers change to temp folder")
and stdout/stderr already redirected to ``logs/user/{stdout,stderr}/<node>/<agent>.*.txt``.
Before the entry script is imported, the root logger gets a handler at the job's
``logging_level`` (default INFO) writing to that stdout file, as Azure ML's runtime does, and
writes into the step's mounted inputs are refused (:mod:`input_guard`).

    recv WorkerConfig -> set sys.path/argv, EntryScript -> import entry script -> init()
    -> send Ready -> loop { recv Call -> run(mini_batch) -> send Result } -> recv Stop
    -> shutdown() -> send Stopped -> exit without the interpreter's exit handlers

The worker never enforces timeouts itself: the coordinator kills it (no ``signal.alarm``).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import inspect
import io
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType
from typing import Any

from tenantml.backends.local.messages import Call, ErrorInfo, Ready, Result, StartupFailed, Stop, Stopped, WorkerConfig
from tenantml.policy import Outcome
from tenantml.runfolder.rows import RowsJournal
from tenantml.runfolder.storage import STORAGE_ERRNOS


def _shims_dir() -> str:
    return str(Path(__file__).parent / "_shims")


@dataclass
class MiniBatchContext:
    """The second argument of ``run(mini_batch, mini_batch_context)``: what Azure ML documents.

    ``partition_key_value`` (the partition's key -> value, else None) and ``dataset``: the
    mini-batch's own data (the partition's DataFrame, or the file list), "a subset of the input
    dataset filtered by condition specified in partition_key_value" (MachineLearningNotebooks,
    parallel-run/Code/total_file_size.py). Azure ML documents no other attribute, so asking for
    one fails here as it would there.
    """

    partition_key_value: dict[str, Any] | None
    dataset: Any

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"mini_batch_context has no attribute {name!r}: Azure ML's mini_batch_context "
                             "offers only partition_key_value and dataset")


class _RouteMltableLogs(importlib.abc.MetaPathFinder):
    """On the entry script's first ``import mltable`` (or azureml.dataprep), send its logs to the
    run folder. Workers that never read an MLTable never pay for importing it."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name in ("mltable", "azureml.dataprep"):
            sys.meta_path.remove(self)
            from tenantml.backends.local.mltable_support import route_mltable_logs

            try:
                route_mltable_logs(self.log_dir)
            except ImportError:  # not installed in the step's environment: the user's import says so
                pass
        return None


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when the coordinator dies (no orphans)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(0)


def _user_traceback(exc: BaseException) -> str:
    """The traceback without tenantml's and importlib's own frames."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith("<frozen importlib") and f.filename != __file__]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames),
             *traceback.format_exception_only(type(exc), exc)]
    return "".join(lines)


def _error(exc: BaseException, where: str = "run()", before: dict[str, tuple[str, int]] | None = None) -> ErrorInfo:
    if isinstance(exc, SystemExit):
        said = _last_stderr_line(before) if before is not None else ""
        message = f"{where} called sys.exit({_shown(exc.code, repr)})" + (f": {said}" if said else "")
        return ErrorInfo("SystemExit", message, _user_traceback(exc))
    return ErrorInfo(type(exc).__name__, _shown(exc, str), _user_traceback(exc))


def _shown(value: object, how: Callable[[object], str]) -> str:
    """``str()``/``repr()`` of the user's object, which may itself raise: the attempt's error is
    reported either way (the worker must not die describing it), as ``traceback`` does."""
    try:
        return how(value)
    except BaseException as exc:  # noqa: BLE001 - the user's __str__ failed: say so, go on
        return f"<{how.__name__}() of {type(value).__name__} failed: {type(exc).__name__}>"


def _last_stderr_line(before: dict[str, tuple[str, int]]) -> str:
    """The last line the call wrote to stderr: why a script exits is usually said there first
    (argparse: "entry.py: error: the following arguments are required: --model_dir")."""
    _flush()
    if "stderr" not in before:
        return ""
    path, start = before["stderr"]
    try:
        with open(path, "rb") as err:
            err.seek(max(start, os.fstat(err.fileno()).st_size - 4096))
            text = err.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:500] if lines else ""


class Worker:
    def __init__(self, conn: Connection, config: WorkerConfig):
        self.conn = conn
        self.config = config
        logs = Path(config.logs_dir)
        self.error_file = logs / "user" / "error" / config.node / f"{config.agent}.txt"
        self.run_fn: Callable[..., Any] | None = None
        self.pass_context = False
        self.journal = RowsJournal(Path(config.rows_journal)) if config.append_row and config.rows_journal else None
        self._outputs: dict[int, tuple[str, int, int]] = {}  # fd -> (path, st_dev, st_ino) last seen

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        cfg = self.config
        sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd(), cfg.code_dir)]
        sys.path.insert(0, cfg.code_dir)
        if cfg.cwd:
            os.makedirs(cfg.cwd, exist_ok=True)
            os.chdir(cfg.cwd)
        sys.path.append(_shims_dir())
        sys.argv = list(cfg.argv)
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, io.TextIOWrapper):
                try:
                    stream.reconfigure(line_buffering=True)
                except ValueError:
                    pass
        if cfg.mltable_log_dir:
            sys.meta_path.insert(0, _RouteMltableLogs(Path(cfg.mltable_log_dir)))
        _root_logging(cfg.logging_level)
        self._dump_stack_on_request()
        from tenantml.backends.local import input_guard

        input_guard.install(cfg.guarded_inputs)
        from azureml_user import parallel_run  # type: ignore[import-not-found]

        parallel_run._configure(log_dir=cfg.logs_dir, node=cfg.node, agent_name=cfg.agent,
                                output_dir=cfg.output_dir, working_dir=cfg.code_dir,
                                logging_level=cfg.logging_level)

    def _dump_stack_on_request(self) -> None:
        """SIGUSR1 writes every thread's Python stack to this worker's error file: the coordinator
        sends it before killing a worker whose run() passed its timeout, so the log shows where
        the tenant hung. faulthandler writes from the signal handler itself, in C, so a worker
        stuck in a C call or holding the GIL in a loop still answers."""
        if not hasattr(signal, "SIGUSR1"):
            return
        import faulthandler

        self.error_file.parent.mkdir(parents=True, exist_ok=True)
        self._stack_out = open(self.error_file, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the worker
        faulthandler.register(signal.SIGUSR1, file=self._stack_out, all_threads=True)

    def load(self) -> ModuleType | StartupFailed:
        script = Path(self.config.entry_script)
        name = script.stem
        try:
            spec = importlib.util.spec_from_file_location(name, script)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            # an entry script named like a module this process already holds (json.py, tenantml.py,
            # azureml_user.py) must not replace it: the worker's own later imports would get the script
            # and the worker died (exit 3) at its first mini-batch
            if name not in sys.modules:
                sys.modules[name] = module
            spec.loader.exec_module(module)
        except BaseException as exc:  # noqa: BLE001 - the user's import failed: report, don't die
            return StartupFailed("import", _error(exc, where="the entry script's import"))
        run = getattr(module, "run", None)
        if not callable(run):
            return StartupFailed("no_run", ErrorInfo("AttributeError", f"{script.name} defines no run() function", ""))
        self.run_fn = run
        self.pass_context = _accepts_two(run)
        return module

    # ------------------------------------------------------------------ the loop
    def serve(self) -> None:
        loaded = self.load()
        if isinstance(loaded, StartupFailed):
            self._log_error("import of the entry script", loaded.error)
            self.conn.send(loaded)
            return
        init = getattr(loaded, "init", None)
        if callable(init):
            before = self._output_offsets()
            try:
                init()
            except BaseException as exc:  # noqa: BLE001
                error = _error(exc, "init()", before)
                self._log_error("init()", error)
                self.conn.send(StartupFailed("init", error))
                return
        self.conn.send(Ready(os.getpid()))
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                return  # the coordinator is gone: nothing to report to
            if isinstance(message, Stop):
                break
            assert isinstance(message, Call)
            self.conn.send(self.call(message))
        stopped = Stopped()
        shutdown = getattr(loaded, "shutdown", None)
        if callable(shutdown):
            try:
                shutdown()
            except BaseException as exc:  # noqa: BLE001
                stopped = Stopped(_error(exc))
                self._log_error("shutdown()", stopped.error)  # type: ignore[arg-type]
        self.conn.send(stopped)

    def call(self, call: Call) -> Result:
        from tenantml.division import MiniBatch, load_mini_batch

        started = time.time()
        mb = MiniBatch.from_json(call.mini_batch)
        start = time.monotonic()

        def result(outcome: Outcome, items: int, returned: int, error: ErrorInfo | None = None, warning: str = "",
                   rows: tuple[str, int, int] | None = None) -> Result:
            times = os.times()
            return Result(mb.index, call.attempt, outcome.value, items, returned, time.monotonic() - start, error,
                          warning, rows, started, times.user + times.system)

        try:
            mini_batch = load_mini_batch(mb)
        except BaseException as exc:  # noqa: BLE001
            error = _error(exc)
            self._log_error(f"loading mini-batch {mb.index}", error)
            return result(Outcome.RAISED, mb.items, 0, error)
        if mb.kind == "table" and len(mini_batch) == 0:
            return result(Outcome.EMPTY, 0, 0, rows=self._write_rows(mb.index, call, []))
        assert self.run_fn is not None
        _flush()
        before = self._output_offsets()
        try:
            if self.pass_context:
                context = MiniBatchContext(mb.partition_key_value, mini_batch)
                returned = self.run_fn(mini_batch, context)
            else:
                returned = self.run_fn(mini_batch)
        except BaseException as exc:  # noqa: BLE001 - SystemExit in run() fails the attempt only
            error = _error(exc, "run()", before)
            self._log_error(f"run() of mini-batch {mb.index} attempt {call.attempt}", error)
            return result(Outcome.RAISED, mb.items, 0, error)
        finally:
            _flush()
            self._index_output(mb.index, call.attempt, before)
        kind = _result_kind(returned)
        if kind is None:
            error = ErrorInfo("TypeError", "run() must return a list, tuple or pandas.DataFrame, got "
                              f"{type(returned).__name__}", "")
            self._log_error(f"run() of mini-batch {mb.index} attempt {call.attempt}", error)
            return result(Outcome.WRONG_TYPE, mb.items, 0, error)
        count = len(returned)
        try:
            rows = self._write_rows(mb.index, call, returned if kind == "list" else self._frame_rows(returned))
        except BaseException as exc:  # noqa: BLE001 - e.g. a bad to_csv option or an unprintable row
            error = _error(exc)
            if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:  # not the script's fault: stop the run
                error = ErrorInfo("StorageError", f"{exc.strerror} ({Path(exc.filename or '').name})", "")
            self._log_error(f"writing the rows of mini-batch {mb.index}", error)
            return result(Outcome.RAISED, mb.items, 0, error)
        outcome = Outcome.SUCCEEDED if count >= mb.items else Outcome.SHORT
        warning = ""
        if count > mb.items:
            warning = f"run() returned {count} results for {mb.items} items"
        return result(outcome, mb.items, count, None, warning, rows)

    # ------------------------------------------------------------------ outputs and logs
    def _frame_rows(self, frame: Any) -> list[str] | str:
        options = {"header": False, "index": False, "sep": " ", **self.config.to_csv_options}
        return frame.to_csv(**options) or ""

    def _write_rows(self, index: int, call: Call, rows: Any) -> tuple[str, int, int] | None:
        """The attempt's rows as one record of this worker's journal (runfolder.rows): no file is
        created per attempt. Written before the Result is sent; a record torn by a kill belongs to an
        attempt whose Result was never sent, which nothing reads."""
        if self.journal is None:
            return None
        if isinstance(rows, str):
            data = rows.encode("utf-8", "surrogateescape")
        else:
            data = "".join([f"{row}\n" for row in rows]).encode("utf-8", "surrogateescape")
        spill = self.journal.append(index, call.attempt, data, call.seq)
        return spill.name, spill.offset, spill.length

    def _index_output(self, index: int, attempt: int, before: dict[str, tuple[str, int]]) -> None:
        """What this run() call printed: byte ranges of the stdout/stderr files, one JSON line per
        attempt in ``<job>/state/output_index/`` (tenantml's own, beside the Azure ML log tree), so
        ``tenantml logs RUN JOB --mini-batch N`` prints each attempt's output under its name."""
        after = self._output_offsets()
        spans = {k: [path, start, after[k][1]] for k, (path, start) in before.items()
                 if k in after and after[k][0] == path and after[k][1] > start}
        if not spans:
            return
        folder = Path(self.config.rows_dir).parent / "output_index"
        folder.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"mini_batch": index, "attempt": attempt, **spans})
        with open(folder / f"{self.config.node}.{self.config.agent}.jsonl", "a", encoding="utf-8") as out:
            out.write(line + "\n")

    def _output_offsets(self) -> dict[str, tuple[str, int]]:
        """The file behind stdout and stderr (Linux: /proc/self/fd) and its size now. The name is
        looked up again only when the descriptor points at another file (a script may redirect it)."""
        found = {}
        for name, fd in (("stdout", 1), ("stderr", 2)):
            try:
                st = os.fstat(fd)
                seen = self._outputs.get(fd)
                if seen is None or seen[1] != st.st_dev or seen[2] != st.st_ino:
                    seen = self._outputs[fd] = (os.readlink(f"/proc/self/fd/{fd}"), st.st_dev, st.st_ino)
            except OSError:
                continue
            found[name] = (seen[0], st.st_size)
        return found

    def _log_error(self, where: str, error: ErrorInfo) -> None:
        self.error_file.parent.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with open(self.error_file, "a", encoding="utf-8") as out:
            out.write(f"{stamp} {self.config.agent} failed in {where}:\n{error.traceback or error.one_line()}\n")


def _root_logging(level: str) -> None:
    """A handler on the root logger that writes to this process's stdout file, at ``logging_level``.

    how-to-debug-parallel-run-step, "Where does the message from Python logging sink to?":
    "ParallelRunStep sets a handler on the root logger, which sinks the message to
    logs/user/stdout/<node_id>/processNNN.stdout.txt. logging defaults to INFO level."
    """
    import logging

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s|%(name)s|%(levelname)s|%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)


def _accepts_two(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


def _result_kind(value: Any) -> str | None:
    if isinstance(value, (list, tuple)):
        return "list"
    cls = type(value)
    if cls.__name__ == "DataFrame" and cls.__module__.startswith("pandas"):
        return "frame"
    return None


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def main() -> None:
    fd, parent = int(sys.argv[1]), int(sys.argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator decides what Ctrl-C means
    _die_with_parent(parent)
    os.set_inheritable(fd, False)  # run()'s own children must not hold the coordinator's pipe open
    conn = Connection(fd)
    code = 0
    try:
        config = conn.recv()
        worker = Worker(conn, config)
        worker.setup()
        worker.serve()
    except (EOFError, BrokenPipeError, ConnectionResetError):
        code = 0  # the coordinator went away
    except BaseException:  # noqa: BLE001 - a tenantml bug: keep its traceback in stderr
        traceback.print_exc()
        code = 3
    _flush()
    # Leave without atexit handlers: mltable's telemetry would pause ~3 s here, and on Azure ML
    # the runtime also ends workers without running interpreter exit hooks.
    os._exit(code)


if __name__ == "__main__":
    main()
