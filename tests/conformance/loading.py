"""Load a pipeline in-process the way ``tenantml validate`` does (no subprocess: fast enough for hypothesis)."""

from __future__ import annotations

from pathlib import Path

from tenantml.errors import UserError
from tenantml.loader import LoadContext, Pipeline, load_pipeline
from tenantml.backends.local.local_config import datastores_for


def load(path: Path, home: Path) -> Pipeline:
    datastores, assets = datastores_for(path, home, {})
    return load_pipeline(path, LoadContext(None, None, datastores, (), assets))  # as the local backend's plan


def rejection(path: Path, home: Path) -> str | None:
    """tenantml validate's verdict: None when valid, else the error text."""
    try:
        load(path, home)
    except UserError as exc:
        return str(exc)
    return None
