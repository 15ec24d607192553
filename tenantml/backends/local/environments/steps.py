"""The environments of one run: resolved before the run folder exists, built before any step runs."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tenantml.backends.local.environments import build, current, kit
from tenantml.backends.local.environments.build import StepEnvironment
from tenantml.backends.local.environments.definition import EnvDefinition, resolve
from tenantml.backends.local.local_config import LocalConfig
from tenantml.errors import UserError, ValidationErrors
from tenantml.spec import Job


@dataclass
class RunEnvironments:
    mode: str  # "current" | "isolated"
    definitions: dict[str, EnvDefinition] = field(default_factory=dict)  # job -> what it names
    built: dict[str, StepEnvironment] = field(default_factory=dict)  # job -> where it runs (isolated)
    warnings: list[str] = field(default_factory=list)
    worker_path: Path | None = None  # tenantml's worker modules, for isolated parallel steps

    def key(self, job: str) -> str | None:
        """What reuse fingerprints: the definition's content key and the mode (a step run with its own
        pins is not the step run with tenantml's packages); None: the step names no environment."""
        definition = self.definitions.get(job)
        if definition is None:
            return None
        return definition.key if job in self.built else f"{self.mode}:{definition.key}"

    def record(self, job: str) -> dict[str, object]:
        """The run record's ``environment`` of a step."""
        env = self.built.get(job)
        if env is not None:
            return {"mode": self.mode, **env.record(), "label": self.definitions[job].label}
        definition = self.definitions.get(job)
        return {"mode": self.mode, "id": definition.key if definition else None,
                "label": definition.label if definition else None, "python": None}

    def step_env(self, job: Job, base: dict[str, str]) -> tuple[dict[str, str], str | None]:
        """The variables a step's processes get, and the interpreter its workers run (None: this one)."""
        env = self.built.get(job.name)
        if env is None:
            return base, None
        out = dict(base)
        out["PATH"] = os.pathsep.join([env.bin, os.environ.get("PATH", "")])
        if env.root is not None:
            out["VIRTUAL_ENV"] = str(env.root)
        if job.type == "parallel" and self.worker_path is not None:
            out["PYTHONPATH"] = os.pathsep.join(p for p in [str(self.worker_path), os.environ.get("PYTHONPATH", "")] if p)
        return out, env.python

    def describe(self, job: str) -> str:
        env = self.built.get(job)
        if env is None:
            return ""
        lines = [f"environment {env.key}: {self.definitions[job].label}", f"python: {env.python}"]
        if env.root is not None:
            lines.append(f"virtualenv: {env.root}")
        lines += ["packages:"] + [f"  {p}" for p in env.packages]
        return "\n".join(lines) + "\n"


def mode_of(cli: str | None, config: LocalConfig) -> str:
    return cli or config.environments or "current"


def resolve_all(jobs: dict[str, Job], config: LocalConfig, mode: str) -> RunEnvironments:
    """Every step's environment definition (all problems at once), and current-mode warnings."""
    envs = RunEnvironments(mode)
    problems: list[UserError] = []
    for name, job in jobs.items():
        try:
            definition = resolve(job, config)
        except UserError as exc:
            problems.append(exc)
            continue
        if definition is not None:
            envs.definitions[name] = definition
    if mode == "current":  # the step runs here anyway, as it always did: say what could not be checked
        envs.warnings += [f"{p.render()} (--environments current runs the step anyway; isolated would stop here)"
                          for p in problems]
    elif len(problems) == 1:
        raise problems[0]
    elif problems:
        raise ValidationErrors(problems)
    if mode == "current":
        for name, definition in envs.definitions.items():
            envs.warnings += current.warnings_for(jobs[name], definition)
    return envs


def build_all(envs: RunEnvironments, jobs: dict[str, Job], home: Path, note: Callable[[str], None]) -> None:
    """Isolated mode: each distinct environment built or reused (a failure is a UserError, before any step)."""
    if envs.mode != "isolated":
        return
    by_key: dict[str, StepEnvironment] = {}
    for name, definition in envs.definitions.items():
        if definition.key not in by_key:
            by_key[definition.key] = build.ensure(definition, home, note)
        envs.built[name] = by_key[definition.key]
    for name in jobs:
        if name not in envs.definitions:
            note(f"warning: step {name} names no environment; it runs in tenantml's own (as --environments current)")
    if any(jobs[name].type == "parallel" for name in envs.built):
        envs.worker_path = kit.worker_path(home)
