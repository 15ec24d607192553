"""The closing summary of a run: per step its verdict, and what to look at next.

A parallel step shows its counts and every failed mini-batch (tenant file or partition key
values, with its last error); a failed command step shows the tail of its output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tenantml.status import RunStatus

if TYPE_CHECKING:
    from tenantml.api import Run


def render_summary(run: "Run") -> str:
    lines = [f"Run {run.run_id}: {run.status}", f"  folder: {run.run_dir}"]
    for step in run.steps:
        head = f"  {step.name} ({step.type}): {step.status}"
        if step.reason:
            head += f" - {step.reason}"
        lines.append(head)
        report = step.detail
        if hasattr(report, "tally"):
            lines += _parallel(report)
        elif hasattr(report, "tail"):
            lines += _command(report)
    if run.status != RunStatus.COMPLETED:
        lines.append(f"  Details: tenantml show {run.run_id} --failed")
        lines.append(f"  Finish what did not succeed: tenantml run {_pipeline(run)} --resume {run.run_id}")
    return "\n".join(lines)


def _parallel(report: Any) -> list[str]:
    t = report.tally
    lines = [f"    mini-batches: {t.processed}/{t.total_mini_batches} processed, "
             f"{t.processed - t.failed_mini_batches} succeeded, {t.failed_mini_batches} failed; "
             f"items: {t.succeeded_items} succeeded, {t.failed_items} failed; {report.elapsed:.1f} s"]
    if report.failed:
        lines.append("    failed mini-batches:")
        for index, label, error in report.failed[:50]:
            lines.append(f"      #{index} {label}: {error}")
        if len(report.failed) > 50:
            lines.append(f"      ... {len(report.failed) - 50} more in {report.logs}/job_result.txt")
    for name, path in report.outputs.items():
        lines.append(f"    output {name}: {path}")
    lines.append(f"    logs: {report.logs}")
    return lines


def _command(report: Any) -> list[str]:
    lines = [f"    {report.elapsed:.1f} s; log: {report.log}"]
    if report.tail:
        lines.append("    last lines of its output:")
        lines += [f"      | {line}" for line in report.tail]
    return lines


def _pipeline(run: "Run") -> str:
    pipeline = getattr(run.handle, "pipeline", None)
    source = getattr(pipeline, "source", None)
    return str(source) if source else "<pipeline.yml>"
