"""What a parallel step's workers are told: argv, the output folder, ``append_row_to`` settings.

Pure functions of the job (and ``parallel_run_step.settings.json`` beside the entry script), so
any transport starts its workers with the same view of the world Azure ML gives them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tenantml.errors import UserError
from tenantml.spec import ParallelJob

SETTINGS_FILE = "parallel_run_step.settings.json"


def argv(job: ParallelJob) -> tuple[str, ...]:
    """The runner's own flags, then the job's program_arguments, as Azure ML passes them."""
    flags = [str(job.entry_script_path)]
    if job.partition_keys:
        flags += ["--partition_keys", json.dumps(list(job.partition_keys))]
    elif job.mini_batch_size is not None:
        flags += ["--mini_batch_size", str(job.mini_batch_size)]
    flags += ["--logging_level", job.logging_level,
              "--process_count_per_node", str(job.max_concurrency_per_instance),
              "--node_count", str(job.instance_count),
              "--run_invocation_timeout", f"{job.retry_settings.timeout:g}",
              "--run_max_try", str(job.retry_settings.max_retries + 1)]
    return tuple(flags) + job.program_arguments


def guarded_inputs(job: ParallelJob) -> tuple[tuple[str, str, str], ...]:
    """The inputs a worker must not write into: all data inputs but ``direct`` ones (a URI on Azure ML).

    ``ro_mount`` (the default) is read-only on Azure ML; ``download`` is a private copy there but
    the user's own files here (:mod:`input_guard`).
    """
    from tenantml.spec import DataInput

    return tuple((str(value.path), name, value.mode or "ro_mount") for name, value in sorted(job.inputs.items())
                 if isinstance(value, DataInput) and value.mode != "direct")


def worker_cwd(root: Path, node: str, agent: str) -> Path:
    """A worker's working directory: its own folder under the step's temp root, never the code folder.

    Azure ML's runtime starts in the code snapshot, "Then workers change to temp folder"
    (EntryScript.working_dir docstring of the 2020 runtime; docs/semantics.md), so writes to the
    working directory never reach the user's source tree and a relative open of a code file fails
    as it does there.
    """
    return root / node / agent


def output_dir(job: ParallelJob, job_dir: Path) -> Path:
    """``AZUREML_BI_OUTPUT_PATH``: the append_row_to output's folder, else the job's outputs folder."""
    if job.append_row_to:
        out = job.outputs[job.append_row_to]
        return out.path.parent if out.type == "uri_file" else out.path
    return job_dir / "outputs"


def append_target(job: ParallelJob) -> Path | None:
    """The file the final rows are appended to (``parallel_run_step.txt`` in a folder output)."""
    if job.append_row_to is None:
        return None
    out = job.outputs[job.append_row_to]
    return out.path if out.type == "uri_file" else out.path / "parallel_run_step.txt"


def append_row_settings(job: ParallelJob) -> dict[str, Any]:
    """``append_row.pandas.DataFrame.to_csv`` options from the settings file, if there is one."""
    path = job.entry_script_path.parent / SETTINGS_FILE
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        options = raw.get("append_row", {}).get("pandas.DataFrame.to_csv", {})
        if not isinstance(options, dict):
            raise ValueError("append_row.pandas.DataFrame.to_csv must be an object")
    except (ValueError, AttributeError) as exc:
        raise UserError(f"is not valid: {exc}.", file=path, key="append_row",
                        fix='write e.g. {"append_row": {"pandas.DataFrame.to_csv": {"sep": ","}}}') from None
    return options
