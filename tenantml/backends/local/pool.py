"""The worker-pool transport of a local parallel step: worker processes and their pipes.

::

    ParallelStep (scheduler.py: the loop, policy, ledger)
        |  start(slot, config)   --> Popen(python -m tenantml.backends.local.worker) + a socketpair
        |  send(worker, Call)    --> [that worker's own pipe] --> run(mini_batch)
        |  receive(workers, t)   <-- Ready | Result | StartupFailed | Stopped, or None: EOF, it died
        |  kill(worker)          --> SIGKILL to its process group (a deadline, a memory limit)
        |  retire(worker)        --> close its pipe, reap the process
        v  end_all(grace)        --> SIGTERM every group, SIGKILL what is left, reap all

The scheduler knows workers only as :class:`Worker` records and talks to them only through a
:class:`Transport`. Another engine (Ray actors, Dask workers) is another ``Transport``: the
scheduling loop, the policy and the run folder stay as they are. What crosses the transport is
the frozen dataclasses of :mod:`messages`.

``ProcessPool`` batches both ways (issue 17): messages sent to a worker are written together
when the loop next waits, and every whole message waiting on a pipe is taken with one read, in
``multiprocessing.connection.Connection``'s framing, which the worker's own ``Connection`` speaks.
"""

from __future__ import annotations

import enum
import os
import pickle
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Protocol

from tenantml.backends.local import procs, reaper
from tenantml.backends.local.messages import WorkerConfig
from tenantml.division import MiniBatch

DEATH_CHECK_INTERVAL = 0.25  # s between looks at whether a worker's process ended without an EOF
_READ_SIZE = 1 << 16
_LENGTH = struct.Struct("!i")
_LONG_LENGTH = struct.Struct("!Q")


@dataclass(frozen=True)
class Slot:
    node: str
    agent: str


class WorkerState(enum.Enum):
    STARTING = "starting"  # importing the entry script and running init()
    IDLE = "idle"
    BUSY = "busy"  # running one mini-batch attempt (and maybe holding more, queued behind it)
    STOPPING = "stopping"  # asked to run shutdown() and leave
    GONE = "gone"


@dataclass(eq=False)
class Worker:
    """One worker as the scheduling loop sees it (identity, not value: one per started process)."""

    slot: Slot
    pid: int
    state: WorkerState = WorkerState.STARTING
    mb: MiniBatch | None = None
    attempt: int = 0
    started_at: float = 0.0  # wall clock of the current call
    deadline: float = float("inf")  # monotonic
    queued: deque[tuple[MiniBatch, int, str]] = field(default_factory=deque)  # sent, behind mb: (mb, attempt, plan line)
    line: str = ""  # the plan line of the current call
    last_duration: float = float("inf")  # s, of its last run() call: short calls get the next one queued


class Transport(Protocol):
    """What the scheduling loop needs from a pool of workers."""

    def start(self, slot: Slot, config: WorkerConfig, *, cwd: Path, env: dict[str, str], stdout: Path,
              stderr: Path) -> Worker: ...

    def send(self, worker: Worker, message: object) -> bool:
        """Deliver one message (it may leave with the next ``receive``); False when the worker is gone."""
        ...

    def receive(self, workers: list[Worker], timeout: float) -> Iterator[tuple[Worker, object | None]]:
        """Messages from any of ``workers`` within ``timeout`` s; None for a worker that died."""
        ...

    def kill(self, worker: Worker) -> None: ...

    def retire(self, worker: Worker) -> None: ...

    def exit_description(self, worker: Worker) -> str:
        """How a dead worker ended ("was killed by SIGKILL"), once it is reaped."""
        ...

    def end_all(self, grace: float) -> None: ...

    def rss_bytes(self, worker: Worker) -> int | None: ...

    def cpu_seconds(self, worker: Worker) -> tuple[float, float] | None: ...


class ProcessPool:
    """Workers as fresh interpreters in their own process group, one socketpair each."""

    def __init__(self, python: str | None = None) -> None:
        self.python = python or sys.executable  # a step's own environment (--environments isolated)
        self._procs: dict[Worker, subprocess.Popen[bytes]] = {}
        self._conns: dict[Worker, Connection] = {}
        self._next_death_check = 0.0
        self._inbox: dict[Worker, bytearray] = {}  # bytes read from a pipe, not yet a whole message
        self._outbox: dict[Worker, bytearray] = {}  # messages sent, written at the next receive()
        self._selector = selectors.PollSelector()  # every pipe not retired: the loop's wait, without a new
        # selector per wait (multiprocessing.connection.wait builds one each call)

    def start(self, slot: Slot, config: WorkerConfig, *, cwd: Path, env: dict[str, str], stdout: Path,
              stderr: Path) -> Worker:
        parent_sock, child_sock = socket.socketpair()
        stdout.parent.mkdir(parents=True, exist_ok=True)
        stderr.parent.mkdir(parents=True, exist_ok=True)
        with open(stdout, "ab") as out, open(stderr, "ab") as err:
            proc = subprocess.Popen(
                [self.python, "-m", "tenantml.backends.local.worker", str(child_sock.fileno()), str(os.getpid())],
                cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                pass_fds=(child_sock.fileno(),), start_new_session=True)
        procs.watched(proc)  # the run's reaper ends its group if the coordinator dies
        child_sock.close()
        conn = Connection(parent_sock.detach())
        worker = Worker(slot, proc.pid)
        self._procs[worker] = proc
        self._conns[worker] = conn
        self._selector.register(conn, selectors.EVENT_READ, worker)
        conn.send(config)
        return worker

    def send(self, worker: Worker, message: object) -> bool:
        """Queued, in Connection's framing, and written with the worker's other messages when the
        loop next waits (:meth:`receive`): one write, and one wake-up of the worker, per batch."""
        if self._conns[worker].closed:
            return False
        payload = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        out = self._outbox.setdefault(worker, bytearray())
        if len(payload) > 0x7FFFFFFF:
            out += _LENGTH.pack(-1) + _LONG_LENGTH.pack(len(payload))
        else:
            out += _LENGTH.pack(len(payload))
        out += payload
        return True

    def _flush(self) -> list[Worker]:
        """Write every queued message; the workers whose pipe is broken (they died)."""
        broken = []
        for worker, out in self._outbox.items():
            view = memoryview(out)
            try:
                fd = self._conns[worker].fileno()
                while view:
                    view = view[os.write(fd, view):]
            except OSError:
                broken.append(worker)
            finally:
                view.release()
        self._outbox.clear()
        return broken

    def receive(self, workers: list[Worker], timeout: float) -> Iterator[tuple[Worker, object | None]]:
        broken = self._flush()
        for worker in broken:
            if worker in workers:
                yield worker, None
        workers = [w for w in workers if w not in broken]
        by_conn = {self._conns[w]: w for w in workers}
        registered = self._selector.get_map()
        ready: Sequence[object]
        if len(by_conn) == len(registered) and all(not c.closed and c.fileno() in registered for c in by_conn):
            ready = [key.fileobj for key, _ in self._selector.select(timeout)]
        else:
            ready = wait(list(by_conn), timeout)
        for conn in ready:
            assert isinstance(conn, Connection)
            worker = by_conn[conn]
            messages, ended = self._read(worker, conn)
            for message in messages:
                yield worker, message
            if ended:
                yield worker, None
        # Death is known from the process, not only from the pipe's EOF: a child that inherited the
        # pipe (os.fork in run()) keeps it open after the worker died, and no EOF ever comes.
        # Looked at a few times a second, not per message (a waitpid per worker per mini-batch).
        now = time.monotonic()
        if now < self._next_death_check:
            return
        self._next_death_check = now + DEATH_CHECK_INTERVAL
        for conn, worker in by_conn.items():
            if worker.state is not WorkerState.GONE and conn not in ready and \
                    self._procs[worker].poll() is not None and not _pending(conn):
                yield worker, None

    def _read(self, worker: Worker, conn: Connection) -> tuple[list[object], bool]:
        """Every whole message waiting on a readable pipe, with one read (Connection.recv makes two
        per message: its length, then its body), and whether the pipe reached its end. The framing
        is Connection's (what the worker's Connection.send writes): a 4-byte big-endian length, or
        -1 and an 8-byte one, then the pickle."""
        try:
            chunk = os.read(conn.fileno(), _READ_SIZE)
        except BlockingIOError:
            return [], False
        except OSError:
            return [], True
        buf = self._inbox.setdefault(worker, bytearray())
        buf += chunk
        messages: list[object] = []
        at, end = 0, len(buf)
        while end - at >= 4:
            (size,) = _LENGTH.unpack_from(buf, at)
            head = 4
            if size == -1:
                if end - at < 12:
                    break
                (size,) = _LONG_LENGTH.unpack_from(buf, at + 4)
                head = 12
            if end - at - head < size:
                break
            messages.append(pickle.loads(bytes(buf[at + head:at + head + size])))
            at += head + size
        del buf[:at]
        return messages, not chunk

    def kill(self, worker: Worker) -> None:
        procs.kill_group(self._procs[worker])

    def dump_stack(self, worker: Worker, into: Path, wait: float = 1.0) -> bool:
        """Ask the worker for its Python stack (SIGUSR1: the worker's faulthandler writes it to
        ``into``), and wait until the file stops growing, at most ``wait`` s."""
        try:
            before = into.stat().st_size if into.exists() else 0
            os.kill(self._procs[worker].pid, signal.SIGUSR1)
        except (ProcessLookupError, PermissionError, OSError, AttributeError):
            return False
        deadline, last, still = time.monotonic() + wait, before, 0
        while time.monotonic() < deadline:
            time.sleep(0.05)
            size = into.stat().st_size if into.exists() else 0
            still = still + 1 if size == last and size > before else 0
            if still >= 2:
                return True
            last = size
        return last > before

    def retire(self, worker: Worker) -> None:
        try:
            self._selector.unregister(self._conns[worker])
        except (KeyError, ValueError):
            pass
        self._inbox.pop(worker, None)
        self._outbox.pop(worker, None)
        try:
            self._conns[worker].close()
        except OSError:
            pass
        proc = self._procs[worker]
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        procs.kill_group(proc)  # and what it left behind in its group, as a node ends a job's processes
        proc.wait()
        reaper.forget(proc.pid)

    def exit_description(self, worker: Worker) -> str:
        proc = self._procs[worker]
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            procs.kill_group(proc)
        return procs.describe_exit(proc.returncode)

    def end_all(self, grace: float) -> None:
        procs.end_all(list(self._procs.values()), grace=grace)

    def rss_bytes(self, worker: Worker) -> int | None:
        return procs.rss_bytes(worker.pid)

    def cpu_seconds(self, worker: Worker) -> tuple[float, float] | None:
        return procs.cpu_seconds(worker.pid)


def _pending(conn: Connection) -> bool:
    try:
        return conn.poll(0)
    except (EOFError, OSError):
        return True  # its EOF is the message: receive() reports it
