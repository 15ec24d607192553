"""Pipelines built in Python with azure-ai-ml, run by tenantml.

    dump.py     job object -> the pipeline YAML tenantml runs (the SDK's own dump, repaired)
    submit.py   tenantml.run(job) / tenantml.submit(job): the YAML written into the run folder
    version.py  the azure-ai-ml versions tenantml supports, checked before use
    local/      what ``tenantml exec`` puts in the user's Python (served MLClient, credentials)

Nothing here is imported unless a job object (or ``tenantml exec``) asks for it.
"""

from __future__ import annotations

from typing import Any


def is_sdk_job(value: Any) -> bool:
    """An azure-ai-ml job object (PipelineJob, a command()/parallel builder), without importing the SDK."""
    module = type(value).__module__ or ""
    return module.startswith("azure.ai.ml.") and hasattr(value, "_to_dict")
