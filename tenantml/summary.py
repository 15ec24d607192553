"""The closing summary of a run: per step its verdict, and what to look at next.

Under each step come the lines its backend rendered (``StepStatus.summary``): for the local
backend, a parallel step's counts and every failed mini-batch (tenant file or partition key
values, with its last error), a failed command step's last lines of output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantml.status import RunStatus

if TYPE_CHECKING:
    from tenantml.api import Run


def render_summary(run: Run, *, fetch_first: bool = False) -> str:
    """``fetch_first``: the run's logs are elsewhere until ``tenantml fetch`` brings them
    (a backend with ``supports_log_download``)."""
    lines = [f"Run {run.run_id}: {run.status}", f"  folder: {run.run_dir}"]
    for step in run.steps:
        head = f"  {step.name} ({step.type}): {step.status}"
        if step.reason:
            head += f" - {step.reason}"
        lines.append(head)
        lines += step.summary
    if run.status != RunStatus.COMPLETED:
        if fetch_first:
            lines.append(f"  Fetch its logs: tenantml fetch {run.run_id}")
        lines.append(f"  Details: tenantml show {run.run_id} --failed")
        lines.append(f"  Finish what did not succeed: tenantml run {_pipeline(run)} --resume {run.run_id}")
    return "\n".join(lines)


def _pipeline(run: Run) -> str:
    source = run.handle.source
    return str(source) if source else "<pipeline.yml>"
