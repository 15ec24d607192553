"""The run's reaper: every process group a run starts ends when the coordinator dies.

    coordinator --"+pgid start"--> [pipe] --> reaper (own session; ignores SIGINT/SIGTERM/SIGHUP)
                --"-pgid"------->                 EOF (the coordinator died, by any signal):
                                                  SIGKILL every group still registered, exit

A cluster node tears down everything a job ran when the job ends; locally the coordinator can
be killed with ``kill -9``, which runs no handler. Every child the run starts (a command step's
``bash``, parallel workers, the divider) leads its own process group (``start_new_session``), so
the group also holds whatever that child started (``sleep 120 &``, processes of ``run()``).
The reaper holds the read end of a pipe whose only writer is the coordinator: the kernel
closes it when the coordinator dies, however it dies. A group whose leader's pid was reused by
another process since (start time differs) is left alone. Then every process whose environment
carries the run's token (``TENANTML_RUN_TOKEN``, set when the reaper starts and inherited by all
the run starts) is killed too: that catches what left its group (``setsid``) and what was started
in the instant before it was registered.

One reaper per coordinator process, started on first use.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading

_CODE = r"""
import os, signal, sys
if os.fork():
    os._exit(0)  # the reaper itself is no child of the coordinator: it outlives it by design
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
needle = b"\0TENANTML_RUN_TOKEN=" + sys.argv[1].encode() + b"\0"
def start(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None
groups = {}
for line in sys.stdin.buffer:
    parts = line.split()
    if parts and parts[0].startswith(b"+"):
        groups[int(parts[0][1:])] = parts[1].decode() if len(parts) > 1 and parts[1] != b"-" else None
    elif parts and parts[0].startswith(b"-"):
        groups.pop(int(parts[0][1:]), None)
for pgid, started in groups.items():
    now = start(pgid)
    if now is not None and started is not None and now != started:
        continue  # the pid was reused: not ours
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
for _ in range(3):  # and every process that carries the run's token (setsid'd, double-forked, not yet registered)
    found = False
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                env = b"\0" + f.read() + b"\0"
        except OSError:
            continue
        if needle in env:
            found = True
            try:
                os.kill(int(name), signal.SIGKILL)
            except OSError:
                pass
    if not found:
        break
"""

TOKEN = "TENANTML_RUN_TOKEN"
_lock = threading.Lock()
_state: dict[str, object] = {}


def _writer() -> int | None:
    with _lock:
        if _state.get("pid") == os.getpid():
            return _state["fd"]  # type: ignore[return-value]
        read, write = os.pipe()  # not inheritable: no other child keeps the pipe open
        token = f"{os.getpid()}-{secrets.token_hex(8)}"
        env = {k: v for k, v in os.environ.items() if k != TOKEN}
        try:
            subprocess.Popen([sys.executable, "-I", "-S", "-c", _CODE, token], stdin=read, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True, env=env).wait()
        except OSError:
            os.close(write)
            return None
        finally:
            os.close(read)
        _state.update(pid=os.getpid(), fd=write)
        os.environ[TOKEN] = token  # inherited by every process the run starts from now on
        return write


def start() -> None:
    """Start the reaper before the run starts its first process."""
    _writer()


def _send(text: str) -> None:
    fd = _writer()
    if fd is None:
        return
    try:
        os.write(fd, text.encode())
    except OSError:
        pass


def watch(pid: int) -> None:
    """Register the process group led by ``pid`` (a child started with ``start_new_session``)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            started = f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        started = "-"
    _send(f"+{pid} {started}\n")


def forget(pid: int) -> None:
    """The group ended (or was ended) by the coordinator itself."""
    _send(f"-{pid}\n")
