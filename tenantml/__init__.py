"""tenantml: Azure ML parallel-job pipelines, run locally with the same semantics.

    import tenantml
    run = tenantml.run("pipeline.yml")           # local backend
    run = tenantml.run(pipeline_job)              # an azure-ai-ml @dsl.pipeline / command() job
    run.status, run.outputs, run.ledger           # "Completed", paths, per-attempt DataFrame

Heavy modules (pandas, mltable, the Azure SDK) are imported only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from tenantml.api import Run
    from tenantml.backends.base import RunHandle


def run(path: Any, backend: str = "local", **options: Any) -> Run:
    """Run a pipeline YAML and return its :class:`~tenantml.api.Run` (see ``tenantml.api.run``)."""
    from tenantml.api import run as _run

    return _run(path, backend=backend, **options)


def submit(path: Any, backend: str = "local", **options: Any) -> RunHandle:
    """Validate and start a pipeline YAML or azure-ai-ml job; the handle is not waited on."""
    from tenantml.api import submit as _submit

    return _submit(path, backend=backend, **options)


__all__ = ["run", "submit", "__version__"]
