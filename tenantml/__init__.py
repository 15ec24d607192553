"""tenantml: Azure ML parallel-job pipelines, run locally with the same semantics.

    import tenantml
    run = tenantml.run("pipeline.yml")           # local backend
    run.status, run.outputs, run.ledger           # "Completed", paths, per-attempt DataFrame

Heavy modules (pandas, mltable, the Azure SDK) are imported only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from tenantml.api import Run


def run(path: Any, backend: str = "local", **options: Any) -> Run:
    """Run a pipeline YAML and return its :class:`~tenantml.api.Run` (see ``tenantml.api.run``)."""
    from tenantml.api import run as _run

    return _run(path, backend=backend, **options)


__all__ = ["run", "__version__"]
