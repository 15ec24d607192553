"""The local backend: runs a pipeline's steps as processes on this machine."""

from __future__ import annotations

from pathlib import Path

from tenantml.backends.base import Backend, RunHandle, RunOptions
from tenantml.backends.local.run import LocalRun


class LocalBackend(Backend):
    name = "local"
    supports_resume = False
    supports_log_download = False

    def submit(self, pipeline: Path, options: RunOptions) -> RunHandle:
        return LocalRun.create(pipeline, options)


__all__ = ["LocalBackend"]
