"""The local backend: runs a pipeline's steps as processes on this machine.

Everything that only this backend needs lives in this folder: the DAG (``run.py``), a command
step (``command.py``), a parallel step's scheduling loop (``scheduler.py``) and its worker-pool
transport (``pool.py``), the worker (``worker.py``), step reuse (``reuse.py``), the local
datastore/asset map (``local_config.py``) and the MLTable reader shims (``mltable_support.py``,
``_shims/``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from tenantml.backends.base import Backend, Plan, RunHandle, RunOptions
from tenantml.backends.local import options as _options
from tenantml.backends.local.options import LocalOptions


@dataclass
class LocalPlan(Plan):
    """A pipeline that passed every check a local run makes before it starts."""

    source: Path
    jobs: list[str]
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"{self.source}: valid ({len(self.jobs)} job(s): {', '.join(self.jobs)})"]


class LocalBackend(Backend):
    name = "local"
    options_type = LocalOptions
    supports_resume = True  # --resume RUN finishes a local run in place
    supports_plan = True  # --dry-run / tenantml validate: every check that needs no run

    @classmethod
    def add_arguments(cls, group: argparse._ArgumentGroup) -> None:
        _options.add_arguments(group)

    @classmethod
    def options_from_args(cls, args: argparse.Namespace) -> LocalOptions:
        return _options.options_from_args(args)

    def plan(self, pipeline: Path, options: RunOptions) -> Plan:
        from tenantml.backends.local.local_config import datastores_for
        from tenantml.loader import LoadContext, load_pipeline

        datastores, assets = datastores_for(pipeline, options.home, dict(options.datastores))
        # Validated as for a local run, without one: no run folder, ${{name}} stays as written.
        loaded = load_pipeline(pipeline, LoadContext(None, None, datastores, options.overrides, assets))
        from tenantml.backends.local.environments import steps as environments
        from tenantml.backends.local.local_config import read_local_config

        config = read_local_config(pipeline)  # environments resolved (conda files translated), not built
        envs = environments.resolve_all(loaded.jobs, config,
                                        environments.mode_of(options.backend_options(LocalOptions).environments, config))
        return LocalPlan(pipeline, list(loaded.jobs), list(loaded.warnings) + envs.warnings)

    def submit(self, pipeline: Path, options: RunOptions) -> RunHandle:
        from tenantml.backends.local.run import LocalRun

        return LocalRun.create(pipeline, options)


__all__ = ["LocalBackend", "LocalOptions"]
