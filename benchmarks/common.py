"""Shared pieces of the benchmarks: machine facts, data generation, pipelines, timed runs.

Every measured run is a fresh process started from here, so tenantml and its peers pay the same
interpreter start and imports. A tenantml run goes through ``benchmarks/_coordinator.py``, which
calls the real CLI (``tenantml.cli.main``) and, when it returns, reports the coordinator's own
peak RSS (``VmHWM`` of ``/proc/self/status``: this process alone, never its workers) and CPU time.
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
COORDINATOR = HERE / "_coordinator.py"

# Every process of every tool runs single-threaded numerics, so 2 workers mean 2 cores.
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "NUMEXPR_NUM_THREADS": "1"}
# Removed from measured processes: with it, no module is ever cached as bytecode and every process
# compiles tenantml from source, which is not what a user's shell does.
DROPPED_ENV = ("PYTHONDONTWRITEBYTECODE",)

_CODE_PATH: str | None = None


def code_path() -> str:
    """A folder whose ``tenantml`` package is this checkout's ``tenantml/``.

    ``pip install -e`` maps ``tenantml`` to the checkout that ran it last;
    a virtualenv shared by two checkouts can point at the other one. Every measured process gets
    this folder first on ``PYTHONPATH``, so the figures are those of the code beside the benchmarks
    (``run_all.py`` prints which files were imported), or of the checkout named by
    ``$TENANTML_BENCH_CODE`` (a folder with ``tenantml/``), to measure a candidate fix.
    """
    global _CODE_PATH
    if _CODE_PATH is None:
        code = Path(os.environ.get("TENANTML_BENCH_CODE") or ROOT)  # another checkout, to compare a fix
        shim = Path(tempfile.mkdtemp(prefix="tenantml-bench-code-"))
        (shim / "tenantml").symlink_to(code / "tenantml")
        atexit.register(shutil.rmtree, shim, True)
        _CODE_PATH = str(shim)
    return _CODE_PATH


def prepare_code() -> dict[str, str]:
    """Byte-compile the measured code once (as an installed package is) and say what it is."""
    env = measured_env()
    subprocess.run([PYTHON, "-m", "compileall", "-q", "-r", "10", code_path() + "/tenantml"], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    probe = ("import os, tenantml, tenantml.backends.local.scheduler as s; "
             "print(os.path.realpath(tenantml.__file__)); print(os.path.realpath(s.__file__))")
    out = subprocess.run([PYTHON, "-c", probe], env=env, cwd=tempfile.gettempdir(), capture_output=True,
                         text=True, check=True).stdout.split()
    info = {"tenantml": str(Path(out[0]).parent), "backends": str(Path(out[1]).parent.parent)}
    if os.environ.get("TENANTML_BENCH_CODE"):
        info["commit"] = f"the checkout in $TENANTML_BENCH_CODE={os.environ['TENANTML_BENCH_CODE']}"
        return info
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.split("\n")
        changed = [line[3:] for line in dirty if line.strip()]
        info["commit"] = head[:90] + (f" + uncommitted changes in {', '.join(changed)}" if changed else "")
    except (OSError, subprocess.CalledProcessError):
        info["commit"] = "unknown (not a git checkout)"
    return info


def measured_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a measured process: ours, single-threaded numerics, this checkout first."""
    full = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    full.update(THREAD_ENV)
    extra = dict(env or {})
    paths = [extra.pop("PYTHONPATH", ""), code_path(), os.environ.get("PYTHONPATH", "")]
    full.update(extra)
    full["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return full


# --------------------------------------------------------------------------- machine

def machine_info() -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        info["cpu"] = platform.processor() or "unknown"
    info["cores"] = str(os.cpu_count())
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram"] = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    except OSError:
        pass
    info["os"] = f"{platform.system()} {platform.release()}"
    info["python"] = platform.python_version()
    versions = []
    for name in ("tenantml", "pandas", "numpy", "joblib", "scikit-learn", "mltable", "pyarrow"):
        try:
            from importlib.metadata import version

            versions.append(f"{name} {version(name)}")
        except Exception:  # noqa: BLE001 - not installed: say so
            versions.append(f"{name} -")
    info["versions"] = ", ".join(versions)
    try:
        info["load"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        pass
    return info


def load_average() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError):
        return 0.0


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values[:8]), idle


def background_busy(seconds: float = 1.0) -> float:
    """Fraction of all CPUs busy over ``seconds`` while this process sleeps (others' load)."""
    try:
        total0, idle0 = _cpu_times()
        time.sleep(seconds)
        total1, idle1 = _cpu_times()
    except OSError:
        return 0.0
    total = total1 - total0
    return 0.0 if total <= 0 else 1.0 - (idle1 - idle0) / total


BUSY_SEEN: list[float] = []  # background load measured before each measured block
MAX_QUIET_WAIT = 30.0  # run_all lowers it for --quick


def wait_quiet(limit: float = 0.3, max_wait: float | None = None) -> float:
    """Wait (at most ``max_wait`` s) until other processes use under ``limit`` of the CPUs.

    The machine is shared: a measurement taken while someone runs a test suite says little.
    Returns, and records in ``BUSY_SEEN``, the background load seen last.
    """
    deadline = time.monotonic() + (MAX_QUIET_WAIT if max_wait is None else max_wait)
    busy = background_busy(0.5)
    while busy > limit and time.monotonic() < deadline:
        busy = background_busy(1.0)
    BUSY_SEEN.append(busy)
    return busy


# --------------------------------------------------------------------------- data

def empty_files(folder: Path, count: int, prefix: str = "f", content: bytes = b"") -> Path:
    """``count`` files named ``<prefix>000001.txt``...; fast (no Path objects per file)."""
    folder.mkdir(parents=True, exist_ok=True)
    base = str(folder)
    width = max(6, len(str(count)))
    for i in range(1, count + 1):
        fd = os.open(f"{base}/{prefix}{i:0{width}d}.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        if content:
            os.write(fd, content)
        os.close(fd)
    return folder


def scratch(name: str, base: Path | None = None) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"tenantml-bench-{name}-", dir=base))


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- pipelines

def write_pipeline(root: Path, script: str, *, data: str = "data", data_type: str = "uri_folder",
                   mini_batch_size: str | None = "1", partition_keys: list[str] | None = None,
                   workers: int = 2, append_row: bool = True, timeout: int = 600,
                   extra_files: dict[str, str] | None = None) -> Path:
    """A one-step pipeline (one parallel job ``score``) over ``root/data`` with code in ``root/src``."""
    src = root / "src"
    src.mkdir(parents=True, exist_ok=True)
    (src / "entry.py").write_text(textwrap.dedent(script), encoding="utf-8")
    for name, text in (extra_files or {}).items():
        (src / name).write_text(textwrap.dedent(text), encoding="utf-8")
    job: dict[str, Any] = {
        "type": "parallel",
        "inputs": {"data": {"type": data_type, "path": f"./{data}"}},
        "outputs": {"out": {"type": "uri_folder"}},
        "input_data": "${{inputs.data}}",
        "resources": {"instance_count": 1},
        "max_concurrency_per_instance": workers,
        "retry_settings": {"max_retries": 2, "timeout": timeout},
        # azure-ai-ml (and so tenantml, since main 4b8b2d8) refuses a parallel task without one;
        # locally the current Python runs it
        "task": {"type": "run_function", "code": "./src", "entry_script": "entry.py",
                 "environment": {"image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04"}},
    }
    if partition_keys:
        job["partition_keys"] = partition_keys
    elif mini_batch_size is not None:
        job["mini_batch_size"] = mini_batch_size
    if append_row:
        job["task"]["append_row_to"] = "${{outputs.out}}"
    document = {"$schema": "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json",
                "type": "pipeline", "jobs": {"score": job}}
    path = root / "pipeline.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


# Entry-script snippet: the first init() and the first run() of the whole job each leave a
# wall-clock timestamp in $BENCH_MARKERS/{init,run} (O_EXCL: only the first process wins).
MARKERS = '''
import os as _os, time as _time

def _mark(name):
    folder = _os.environ.get("BENCH_MARKERS")
    if not folder:
        return
    try:
        fd = _os.open(_os.path.join(folder, name), _os.O_WRONLY | _os.O_CREAT | _os.O_EXCL, 0o644)
    except FileExistsError:
        return
    _os.write(fd, repr(_time.time()).encode())
    _os.close(fd)
'''


# --------------------------------------------------------------------------- measured runs

@dataclass
class Measured:
    """One measured process: wall time from spawn to exit, and what it reported."""

    wall: float
    returncode: int
    report: dict[str, Any] = field(default_factory=dict)
    markers: dict[str, float] = field(default_factory=dict)  # seconds after spawn
    rss_samples: list[tuple[float, float]] = field(default_factory=list)  # (s after spawn, MiB)
    stderr: str = ""

    @property
    def coordinator_peak_mib(self) -> float:
        return self.report.get("vmhwm_kib", 0) / 1024

    def check(self, what: str) -> "Measured":
        if self.returncode != 0:
            raise RuntimeError(f"{what} exited with {self.returncode}:\n{self.stderr[-3000:]}")
        return self


def _sample_rss(pid: int, t0: float, out: list[tuple[float, float]], stop: threading.Event,
                interval: float) -> None:
    path = f"/proc/{pid}/status"
    while not stop.is_set():
        try:
            with open(path, "rb") as f:
                for line in f:
                    if line.startswith(b"VmRSS:"):
                        out.append((time.time() - t0, int(line.split()[1]) / 1024))
                        break
        except OSError:
            return
        stop.wait(interval)


def measure(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None, markers: Path | None = None,
            report: Path | None = None, sample_rss: float = 0.0, timeout: float = 1800) -> Measured:
    """Run ``cmd`` to its end; wall time from just before spawn to reaping."""
    full_env = measured_env(env)
    if markers is not None:
        remove(markers)
        markers.mkdir(parents=True)
        full_env["BENCH_MARKERS"] = str(markers)
    if report is not None:
        report.unlink(missing_ok=True)
        full_env["BENCH_REPORT"] = str(report)
    err_file = tempfile.TemporaryFile()
    t0 = time.time()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=err_file)
    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    sampler = None
    if sample_rss:
        sampler = threading.Thread(target=_sample_rss, args=(proc.pid, t0, samples, stop, sample_rss), daemon=True)
        sampler.start()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    wall = time.perf_counter() - start
    stop.set()
    if sampler is not None:
        sampler.join()
    err_file.seek(0)
    stderr = err_file.read().decode(errors="replace")
    err_file.close()
    result = Measured(wall, code, stderr=stderr, rss_samples=samples)
    if report is not None and report.exists():
        result.report = json.loads(report.read_text())
    if markers is not None:
        for mark in markers.iterdir():
            result.markers[mark.name] = float(mark.read_text()) - t0
    return result


def tenantml_run(pipeline: Path, home: Path, *, workers: int = 2, sample_rss: float = 0.0,
                 env: dict[str, str] | None = None, keep: bool = False) -> Measured:
    """``tenantml run PIPELINE --max-workers N --quiet`` through the real CLI, measured."""
    work = pipeline.parent
    markers, report = work / "_markers", work / "_report.json"
    remove(home)
    cmd = [PYTHON, str(COORDINATOR), "run", str(pipeline), "--max-workers", str(workers), "--quiet"]
    result = measure(cmd, cwd=work, env={"TENANTML_HOME": str(home), **(env or {})}, markers=markers,
                     report=report, sample_rss=sample_rss).check(f"tenantml run {pipeline}")
    result.report["run_dirs"] = [str(p) for p in (home / "runs").iterdir()] if (home / "runs").exists() else []
    if not keep:
        remove(home)
    return result


def python_script(path: Path, args: list[str], *, cwd: Path, env: dict[str, str] | None = None,
                  sample_rss: float = 0.0) -> Measured:
    markers = path.parent / "_markers"
    return measure([PYTHON, str(path), *args], cwd=cwd, env=env, markers=markers,
                   sample_rss=sample_rss).check(f"{path.name} {' '.join(args)}")


# --------------------------------------------------------------------------- statistics

def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float]) -> str:
    """'median (min-max, n=)' for a noisy figure measured several times."""
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3g}"
    return f"{median(values):.3g} ({min(values):.3g}-{max(values):.3g}, n={len(values)})"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def timed(label: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    value = fn()
    say(f"  {label}: {time.perf_counter() - start:.1f} s")
    return value
