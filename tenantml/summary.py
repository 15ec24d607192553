"""The closing summary of a run: per step its verdict, counts and every failed mini-batch."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tenantml.api import Run


def render_summary(run: "Run") -> str:
    lines = [f"Run {run.run_id}: {run.status}", f"  folder: {run.run_dir}"]
    for step in run.steps:
        report = step.detail
        head = f"  {step.name} ({step.type}): {step.status}"
        if step.reason:
            head += f" - {step.reason}"
        lines.append(head)
        if report is None:
            continue
        t = report.tally
        lines.append(f"    mini-batches: {t.processed}/{t.total_mini_batches} processed, "
                     f"{t.processed - t.failed_mini_batches} succeeded, {t.failed_mini_batches} failed; "
                     f"items: {t.succeeded_items} succeeded, {t.failed_items} failed; {report.elapsed:.1f} s")
        if report.failed:
            lines.append("    failed mini-batches:")
            for index, label, error in report.failed[:50]:
                lines.append(f"      #{index} {label}: {error}")
            if len(report.failed) > 50:
                lines.append(f"      ... {len(report.failed) - 50} more in {report.logs}/job_result.txt")
        for name, path in report.outputs.items():
            lines.append(f"    output {name}: {path}")
        lines.append(f"    logs: {report.logs}")
    if run.status != "Completed":
        lines.append("  See job_result.txt and sys/job_report/processed_mini-batches.csv in the logs above;"
                     " tracebacks are in user/error/.")
    return "\n".join(lines)
