"""What a step's ``environment:`` means here: a Python version and pip requirements, with a key.

Azure ML accepts (https://learn.microsoft.com/azure/machine-learning/reference-yaml-environment):

- inline ``{image: ..., conda_file: ./conda.yml}`` (or the conda file's content inline);
- ``azureml:NAME@latest`` / ``azureml:NAME:VERSION``, a registered environment: mapped here by
  ``registered_environments:`` in ``tenantml.yml`` to a conda file or an existing interpreter;
- a curated environment of the ``azureml`` registry
  (``azureml://registries/azureml/environments/NAME/versions/N`` or ``/labels/latest``, and the older
  ``azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest``): resolved from :mod:`curated`.

The key is a hash of what the environment is made of (conda file content, image, Python version,
requirements as translated), so the same definition in two pipelines is one cached environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tenantml.backends.local.environments import curated
from tenantml.backends.local.environments.conda import CondaSpecError, translate
from tenantml.backends.local.local_config import LocalConfig
from tenantml.errors import UserError
from tenantml.spec import Job

FORMAT = 1  # bump when the way an environment is built changes


@dataclass(frozen=True)
class EnvDefinition:
    label: str  # how the step named it, for messages and `show`
    python: str | None = None  # "3.10", or None: this interpreter's version
    requirements: tuple[str, ...] = ()
    image: str | None = None
    conda_text: str = ""
    source: str = ""  # the conda file (or tenantml.yml / curated table) it was read from
    interpreter: str | None = None  # an existing interpreter mapped in tenantml.yml: used as is, not built

    @property
    def key(self) -> str:
        payload = {"format": FORMAT, "python": self.python, "requirements": self.requirements, "image": self.image,
                   "conda": self.conda_text, "interpreter": self.interpreter}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def pins(self) -> dict[str, str]:
        """Requirement name (normalised) -> its specifier, for the ones that constrain a version."""
        out = {}
        for req in self.requirements:
            match = re.match(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*([<>=!~].*)?$", req)
            if match and match[2]:
                out[normalise(match[1])] = match[2].strip()
        return out

    @property
    def names(self) -> set[str]:
        names = set()
        for req in self.requirements:
            match = re.match(r"^\s*([A-Za-z0-9_.\-]+)", req)
            if match:
                names.add(normalise(match[1]))
        return names


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def raw_environment(job: Job) -> Any:
    """The ``environment`` a job names (a parallel job's ``task.environment`` wins), or None."""
    definition = job.definition
    task = definition.get("task")
    if isinstance(task, dict) and task.get("environment") is not None:
        return task["environment"]
    return definition.get("environment")


def resolve(job: Job, config: LocalConfig) -> EnvDefinition | None:
    """The job's environment as something we can build; UserError naming file, key and fix."""
    raw = raw_environment(job)
    if raw is None:
        return None
    key = f"jobs.{job.name}.environment"
    base = job.source.absolute().parent
    if isinstance(raw, str):
        return _named(raw, job, config, key)
    if isinstance(raw, dict):
        return _inline(raw, base, job.source, key, label="inline environment")
    raise UserError("environment must be azureml:NAME@latest, azureml:NAME:VERSION or a mapping with "
                    "conda_file and image.", file=job.source, key=key)


def _inline(raw: dict[str, Any], base: Path, file: Path, key: str, label: str) -> EnvDefinition:
    image = raw.get("image")
    conda = raw.get("conda_file")
    if conda is None:
        # An image and no conda file: the image's Python with nothing installed by pip (as far as
        # tenantml can know; map it in tenantml.yml if the image brings packages the step imports).
        return EnvDefinition(label=f"{label}, image {image} (no conda file)", image=str(image) if image else None,
                             source=str(file))
    if isinstance(conda, str):
        path = Path(conda.removeprefix("file:"))
        path = Path(os.path.normpath(path if path.is_absolute() else base / path))
        if not path.is_file():
            raise UserError(f"conda file {path} does not exist.", file=file, key=f"{key}.conda_file",
                            fix="correct the path; it is relative to the YAML file that names it")
        text = path.read_text(encoding="utf-8")
        try:
            content = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UserError(f"is not valid YAML: {exc}", file=path) from None
        return from_conda(content, text, path, label=f"{label}, conda_file {_shown(path, base)}", image=image)
    if isinstance(conda, dict):
        text = json.dumps(conda, sort_keys=True)
        return from_conda(conda, text, file, label=label, image=image, key=f"{key}.conda_file")
    raise UserError("conda_file must be a path or the conda file's content.", file=file, key=f"{key}.conda_file")


def _shown(path: Path, base: Path) -> str:
    try:
        return "./" + str(path.relative_to(base))
    except ValueError:
        return str(path)


def from_conda(content: Any, text: str, file: Path, *, label: str, image: Any = None,
               key: str = "dependencies") -> EnvDefinition:
    """A conda environment file's ``dependencies`` as pip requirements (see :mod:`conda`)."""
    if not isinstance(content, dict):
        raise UserError("a conda file is a mapping with dependencies:.", file=file)
    deps = content.get("dependencies") or []
    if not isinstance(deps, list):
        raise UserError("dependencies must be a list.", file=file, key=key)
    python = None
    reqs: list[str] = []
    problems: list[str] = []
    for dep in deps:
        if isinstance(dep, dict):
            pip = dep.get("pip") or []
            if not isinstance(pip, list):
                raise UserError("pip: must be a list of requirements.", file=file, key=f"{key}.pip")
            reqs += [str(r).strip() for r in pip if str(r).strip()]
            continue
        try:
            name, req = translate(str(dep))
        except CondaSpecError as exc:
            problems.append(str(exc))
            continue
        if name == "python":
            python = req or None
        elif req is not None:
            reqs.append(req)
    if problems:
        raise UserError(f"cannot be built with pip: {'; '.join(problems)}.", file=file, key=key,
                        fix="remove the package, or run this pipeline with --environments current (the Python "
                            "environment tenantml runs in)")
    return EnvDefinition(label=label, python=python, requirements=tuple(reqs), image=str(image) if image else None,
                         conda_text=text, source=str(file))


_REGISTERED = re.compile(r"^azureml:(?P<name>[^:@/]+)(?:@(?P<label>[\w.\-]+)|:(?P<version>[\w.\-]+))?$")
_REGISTRY = re.compile(r"^azureml://registries/(?P<registry>[^/]+)/environments/(?P<name>[^/]+)(?:/.*)?$")


def _named(ref: str, job: Job, config: LocalConfig, key: str) -> EnvDefinition:
    registry = _REGISTRY.match(ref)
    registered = _REGISTERED.match(ref)
    matched = registry or registered
    where = config.path or job.source.absolute().parent / "tenantml.yml"
    if matched is None:
        raise UserError(f"environment '{ref}' is neither azureml:NAME@latest, azureml:NAME:VERSION nor "
                        "azureml://registries/REGISTRY/environments/NAME/....", file=job.source, key=key)
    name = matched["name"]
    candidates = [ref.removeprefix("azureml:"), name]
    if registered and registered["version"]:
        candidates.insert(1, f"{name}:{registered['version']}")
    for candidate in candidates:
        if candidate in config.registered_environments:
            return _mapped(candidate, config.registered_environments[candidate], where, ref)
    if registry is None or registry["registry"] == "azureml":
        found = curated.lookup(name)
        if found is not None:
            return found
    raise UserError(f"environment '{ref}' is registered in Azure ML; there is no local definition of it.",
                    file=job.source, key=key,
                    fix=f"map it in {where}: registered_environments: {{{name}: ./conda.yml}} (its conda file), "
                        f"or {{{name}: {{python: /path/to/python}}}} (an interpreter that has its packages)")


def _mapped(name: str, value: Any, where: Path, ref: str) -> EnvDefinition:
    key = f"registered_environments.{name}"
    base = where.parent
    if isinstance(value, str):
        value = {"conda_file": value}
    if not isinstance(value, dict):
        raise UserError("maps to a conda file path, {conda_file: PATH, image: NAME} or {python: PATH}.", file=where,
                        key=key)
    if value.get("python") is not None:
        python = Path(str(value["python"])).expanduser()
        python = python if python.is_absolute() else base / python
        if not python.exists():
            raise UserError(f"interpreter {python} does not exist.", file=where, key=f"{key}.python",
                            fix="name a python executable that has the environment's packages")
        return EnvDefinition(label=ref, interpreter=str(python), source=str(where))
    return _inline(value, base, where, key, label=ref)
