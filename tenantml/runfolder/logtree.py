"""The log tree of a parallel step, with Azure ML's file names so its users find their way.

    logs/job_result.txt                         Completed/Failed, counts, reason, where to look
    logs/job_error.txt                          the errors of the entry script, summarised
    logs/job_progress_overview.<ts>.txt         scheduled / processed / failed, items
    logs/readme.txt                             this map
    logs/sys/coordinator.txt                    the coordinator's own log lines
    logs/sys/job_report/processed_mini-batches.csv   one row per attempt
    logs/sys/perf/<node>/<agent>.csv            resource snapshots (--resource_monitor_interval)
    logs/user/entry_script_log/<node>/<agent>.log.txt   EntryScript().logger
    logs/user/stdout/<node>/<agent>.stdout.txt  print() and the root logger of the entry script
    logs/user/stderr/<node>/<agent>.stderr.txt
    logs/user/error/<node>/<agent>.txt          tracebacks of init/run/shutdown
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from tenantml.policy import Tally
from tenantml.status import RunStatus

README = __doc__.split("\n\n", 1)[1].strip() + """

Nodes are named by index (0, 1, ...) and processes processNNN; a worker that replaces one that
died gets the next unused processNNN on its node, as on Azure ML.

Every mini-batch attempt is a row of sys/job_report/processed_mini-batches.csv, with Azure ML's
columns (Mini-batch Id, Picked Count, Process, Node, Start Time, Total, Succeeded, Failed,
Elapsed Seconds, Process Seconds, Run Method Seconds, Status, Error Category, Error Message,
Mini-batch Detail) and tenantml's own (Label, Pid, Outcome: succeeded, short_return, empty,
raised, wrong_type, timeout, crashed, memory_limit, interrupted; Final: this attempt decided the
mini-batch). For a failed mini-batch, the traceback is in user/error/ under the node and process
named on its row.
"""


@dataclass(frozen=True)
class LogTree:
    root: Path  # <job>/logs

    @property
    def job_result(self) -> Path:
        return self.root / "job_result.txt"

    @property
    def job_error(self) -> Path:
        return self.root / "job_error.txt"

    @property
    def ledger(self) -> Path:
        return self.root / "sys" / "job_report" / "processed_mini-batches.csv"

    @property
    def coordinator(self) -> Path:
        return self.root / "sys" / "coordinator.txt"

    def user(self, kind: str, node: str, agent: str) -> Path:
        suffix = {"stdout": ".stdout.txt", "stderr": ".stderr.txt", "error": ".txt",
                  "entry_script_log": ".log.txt"}[kind]
        return self.root / "user" / kind / node / f"{agent}{suffix}"

    def perf(self, node: str, agent: str) -> Path:
        return self.root / "sys" / "perf" / node / f"{agent}.csv"

    def append_perf(self, node: str, agent: str, pid: int, rss: int | None, cpu: tuple[float, float]) -> None:
        """One resource snapshot of one worker (``--resource_monitor_interval``)."""
        from tenantml.runfolder.ledger import iso

        path = self.perf(node, agent)
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists()
        with open(path, "a", encoding="utf-8") as out:
            if new:
                out.write("time,pid,rss_mib,cpu_user_s,cpu_system_s\n")
            out.write(f"{iso(time.time())},{pid},{(rss or 0) / 2**20:.1f},{cpu[0]:.2f},{cpu[1]:.2f}\n")

    def append_user_error(self, node: str, agent: str, index: int, attempt: int, text: str) -> None:
        """A line in user/error/<node>/<agent>.txt for an attempt whose worker was killed or died."""
        path = self.user("error", node, agent)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} mini-batch {index} attempt {attempt}: {text}\n")

    def create(self) -> None:
        for part in ("sys/job_report", "user/stdout", "user/stderr", "user/error", "user/entry_script_log"):
            (self.root / part).mkdir(parents=True, exist_ok=True)
        self.root.joinpath("readme.txt").write_text(README + "\n", encoding="utf-8")

    def write_progress(self, started: float, tally: Tally, retrying: int, status: str) -> None:
        stamp = time.strftime("%Y%m%d%H%M%S", time.localtime(started))
        text = (f"Status: {status}\n"
                f"Updated: {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
                f"Total mini-batches scheduled: {tally.total_mini_batches}\n"
                f"Mini-batches processed: {tally.processed}\n"
                f"Mini-batches failed: {tally.failed_mini_batches}\n"
                f"Mini-batches waiting for a retry: {retrying}\n"
                f"Items processed: {tally.items}\n"
                f"Items succeeded: {tally.succeeded_items}\n"
                f"Items failed: {tally.failed_items}\n")
        _atomic_write(self.root / f"job_progress_overview.{stamp}.txt", text)

    def write_result(self, status: str, reason: str, tally: Tally, failed: list[str], elapsed: float) -> None:
        lines = [f"Status: {status}"]
        if reason:
            lines.append(f"Reason: {reason}")
        lines += [
            f"Mini-batches: {tally.total_mini_batches} scheduled, {tally.processed} processed, "
            f"{tally.processed - tally.failed_mini_batches} succeeded, {tally.failed_mini_batches} failed",
            f"Items: {tally.items} processed, {tally.succeeded_items} succeeded, {tally.failed_items} failed",
            f"Elapsed: {elapsed:.1f} s",
        ]
        if failed:
            lines.append("Failed mini-batches (index, label, last error):")
            lines += [f"  {line}" for line in failed[:200]]
            if len(failed) > 200:
                lines.append(f"  ... and {len(failed) - 200} more: see sys/job_report/processed_mini-batches.csv")
        if status != RunStatus.COMPLETED:
            lines.append("Where to look: sys/job_report/processed_mini-batches.csv (every attempt), "
                         "user/error/<node>/<process>.txt (tracebacks), user/stderr/ (what the script printed).")
        _atomic_write(self.job_result, "\n".join(lines) + "\n")


    def write_errors(self, failed: list[str], init_error: str | None) -> None:
        """``job_error.txt``: "This file summarizes the errors in your script." (how-to-debug-parallel-run-step)."""
        lines = []
        if init_error:
            lines.append(f"init() failed: {init_error}")
        if failed:
            lines.append(f"{len(failed)} mini-batch(es) failed (index, label, last error):")
            lines += [f"  {line}" for line in failed[:200]]
            if len(failed) > 200:
                lines.append(f"  ... and {len(failed) - 200} more: see sys/job_report/processed_mini-batches.csv")
        if lines:
            lines.append("Tracebacks: user/error/<node>/<process>.txt")
        else:
            lines.append("No errors.")
        _atomic_write(self.job_error, "\n".join(lines) + "\n")


def _atomic_write(path: Path, text: str) -> None:
    from tenantml.runfolder.atomic import atomic_write

    atomic_write(path, text)
