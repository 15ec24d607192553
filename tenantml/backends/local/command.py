"""A command step: its ``command`` run with bash in a copy of its code folder, output to ``logs/user_logs/std_log.txt``.

The working directory is ``<job>/exe/wd/``, a fresh copy of ``code`` for each run of the step
(:mod:`snapshot`, as Azure ML runs a command in its uploaded snapshot), so nothing the command writes
there reaches the user's source tree; reuse still fingerprints the source folder.

Inputs and outputs were substituted by the loader (data paths shell-quoted, so a path with
spaces, quotes, ``$`` or ``;`` reaches the program as one argument and runs nothing; literal
values verbatim, as Azure ML substitutes them). The step's process group is ended when the step
ends, however it ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tenantml.backends.local import mounts, procs, snapshot
from tenantml.errors import RunInterrupted
from tenantml.progress import Reporter
from tenantml.runfolder.storage import is_storage_error
from tenantml.spec import CommandJob, DataInput
from tenantml.status import RunStatus

#: folders Azure ML makes in a command's working directory and keeps as the job's artifacts ("Runs
#: automatically capture files in the specified output directory, which defaults to './outputs'";
#: "files that were written out to the ./outputs or ./logs folders during a run": azuremlsdk reference,
#: upload_folder_to_run / download_files_from_run)
ARTIFACT_FOLDERS = ("outputs", "logs")


@dataclass
class CommandReport:
    job: str
    status: RunStatus  # Completed, Failed, Interrupted
    reason: str = ""
    returncode: int | None = None
    elapsed: float = 0.0
    log: Path | None = None
    tail: list[str] = field(default_factory=list)
    outputs: dict[str, Path] = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        """What the closing summary says under the step's verdict."""
        lines = [f"    {self.elapsed:.1f} s; log: {self.log}"]
        if self.tail:
            lines.append("    last lines of its output:")
            lines += [f"      | {line}" for line in self.tail]
        return lines


class CommandStep:
    def __init__(self, job: CommandJob, job_dir: Path, reporter: Reporter, env: dict[str, str],
                 cancelled: Callable[[], bool] = lambda: False, interrupted: Callable[[], bool] = lambda: False,
                 never_copy: tuple[Path, ...] = ()):
        self.job = job
        self.never_copy = never_copy  # tenantml's own folders, when the code folder holds them
        self.job_dir = job_dir
        self.reporter = reporter
        self.env = env
        self.cancelled = cancelled
        self.interrupted = interrupted
        self.log = job_dir / "logs" / "user_logs" / "std_log.txt"

    def run(self) -> CommandReport:
        job = self.job
        started = time.time()
        outputs = {name: out.path for name, out in job.outputs.items()}
        missing = [f"{name} ({value.path})" for name, value in job.inputs.items()
                   if isinstance(value, DataInput) and not value.path.exists()]
        if missing:
            return CommandReport(job.name, RunStatus.FAILED, "input not found: " + ", ".join(missing), outputs=outputs)
        for out in job.outputs.values():
            (out.path.parent if out.type == "uri_file" else out.path).mkdir(parents=True, exist_ok=True)
        for staging in job.staged.values():  # the run's own state folder: empty for every session
            if staging.exists():
                shutil.rmtree(staging)
            staging.mkdir(parents=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, **job.environment_variables}
        try:
            copy = snapshot.copy_code(job.code if job.has_code else None, self.job_dir / "exe" / "wd", self.never_copy)
        except OSError as exc:
            if is_storage_error(exc):
                raise  # the run folder's disk, not the user's code: the run stops and says so
            return CommandReport(job.name, RunStatus.FAILED, f"the code folder {job.code} could not be copied to "
                                 f"the step's working directory: {exc}", outputs=outputs)
        for folder in ARTIFACT_FOLDERS:  # Azure ML makes them: `echo world > ./outputs/world.txt` works there
            if not (copy.path / folder).exists():
                (copy.path / folder).mkdir()
        too_big = copy.over_cap()
        if too_big:
            self.reporter.event(job.name, too_big)
        self.reporter.event(job.name, "started: " + _short(job.command))
        folders = mounts.mounted_folders(job)
        marker = self.log.parent / "recreated_outputs.txt"
        with open(self.log, "ab") as log:
            log.write(f"$ {job.command}\n".encode())
            log.flush()
            proc = procs.watched(subprocess.Popen(["bash", "-c", mounts.wrap(job.command, folders, marker)],
                                                  cwd=copy.path, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                                  stderr=subprocess.STDOUT, start_new_session=True))
        try:
            status, reason = self._wait(proc)
        finally:
            procs.end_all([proc], grace=1.0)  # the command's background children too
        recreated = mounts.restore(folders, marker)
        self._collect_artifacts(copy.path)
        if status == RunStatus.COMPLETED and job.staged:
            status, reason = self._upload(status, reason)
        if recreated:
            self.reporter.event(job.name, "the command removed rw_mount output folder(s) " + ", ".join(recreated)
                                + "; on Azure ML a mount point cannot be removed (rm -rf only empties it), "
                                "so tenantml put them back empty")
        report = CommandReport(job.name, status, reason, proc.returncode, time.time() - started, self.log,
                               _tail(self.log, 20) if status != RunStatus.COMPLETED else [], outputs)
        if status == RunStatus.INTERRUPTED:
            raise RunInterrupted(f"interrupted during command step '{job.name}'")
        return report

    def _upload(self, status: RunStatus, reason: str) -> tuple[RunStatus, str]:
        """What the command wrote into its ``mode: upload`` folders, copied onto the outputs: files of
        the same name are replaced, nothing else there is touched, as an upload at job end does. Only
        for a completed step: a failed one leaves the datastore as it was (no partial output)."""
        for name, folder in self.job.staged.items():
            try:
                shutil.copytree(folder, self.job.outputs[name].path, dirs_exist_ok=True)
            except (OSError, shutil.Error) as exc:
                if isinstance(exc, OSError) and is_storage_error(exc):
                    raise
                return RunStatus.FAILED, f"output '{name}' (mode: upload) could not be copied to " \
                                         f"{self.job.outputs[name].path}: {exc}"
        return status, reason

    def _collect_artifacts(self, wd: Path) -> None:
        """The job's ``artifacts`` output, when the pipeline binds it, holds what Azure ML keeps as the
        job's artifacts: ./outputs, ./logs and the user log (``${{parent.jobs.J.outputs.artifacts}}/
        outputs/world.txt`` in azureml-examples' hello-pipeline-default-artifacts.yml)."""
        out = self.job.outputs.get("artifacts")
        if out is None or out.type != "uri_folder" or not out.path.is_relative_to(self.job_dir):
            return  # not declared, or declared on a datastore path: an output like any other
        for folder in ARTIFACT_FOLDERS:
            if (wd / folder).is_dir():
                shutil.copytree(wd / folder, out.path / folder, symlinks=True, dirs_exist_ok=True)
        if self.log.is_file():
            (out.path / "user_logs").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.log, out.path / "user_logs" / self.log.name)

    def _wait(self, proc: subprocess.Popen[bytes]) -> tuple[RunStatus, str]:
        deadline = time.monotonic() + self.job.timeout if self.job.timeout else None
        while True:
            try:
                code = proc.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                if self.interrupted():
                    return RunStatus.INTERRUPTED, "interrupted"
                if self.cancelled():
                    return RunStatus.FAILED, "cancelled: another step failed"
                if deadline is not None and time.monotonic() > deadline:
                    return RunStatus.FAILED, f"the command ran longer than limits.timeout = {self.job.timeout:g} s"
                continue
            if code == 0:
                return RunStatus.COMPLETED, ""
            return RunStatus.FAILED, f"the command {procs.describe_exit(code)}"


def _tail(path: Path, lines: int) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 64 * 1024))
            return [line.decode(errors="replace") for line in deque(f.read().splitlines(), maxlen=lines)]
    except OSError:
        return []


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
