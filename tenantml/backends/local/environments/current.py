"""``--environments current``: the step runs in tenantml's own environment; say where that differs
from the environment the step names, because on Azure ML the step gets only what it names.

- a pin (``scikit-learn==0.23.2``) that the installed version does not satisfy;
- a top-level import in the step's code folder whose distribution its environment does not list,
  directly or as a dependency of what it lists (it works here and fails there with
  ModuleNotFoundError). Imports are found with ``ast``; import names map to distributions with
  ``importlib.metadata.packages_distributions()``.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

from tenantml.backends.local.environments.definition import EnvDefinition, normalise
from tenantml.spec import Job

_SKIP_DIRS = {"__pycache__", ".git", ".venv", ".tenantml", "node_modules", ".ipynb_checkpoints"}
_MAX_FILES = 2000
#: what the step's environment on Azure ML has without listing it (the parallel runtime's shim)
_PROVIDED = {"azureml_user"}
# what a listed package brings that is not installed here to be read from its metadata: `mlflow` requires
# mlflow-skinny (the `mlflow` module's distribution here) and so does azureml-mlflow; azureml-examples'
# 1a_oj_sales_prediction (pip: mlflow) and image_classification_with_densenet (pip: azureml-mlflow)
# import mlflow on Azure ML
_BRINGS = {"mlflow": ("mlflow-skinny",), "azureml-mlflow": ("mlflow-skinny",)}


def warnings_for(job: Job, definition: EnvDefinition) -> list[str]:
    out = []
    differing = []
    for name, spec in sorted(definition.pins.items()):
        installed = _installed(name)
        if installed is not None and not _satisfies(installed, spec):
            differing.append(f"{name}{spec}; running with {installed}")
    if differing:
        out.append(f"step {job.name} pins {', '.join(differing)} — use --environments isolated to run it with "
                   "its own pins")
    missing = unlisted_imports(job, definition)
    if missing:
        listed = ", ".join(f"'{module}' ({dist})" for module, dist in missing)
        out.append(f"step {job.name} imports {listed}, which its environment ({definition.label}) does not list: "
                   "it runs here and fails on Azure ML with ModuleNotFoundError — add it to the conda file")
    return out


def unlisted_imports(job: Job, definition: EnvDefinition) -> list[tuple[str, str]]:
    if definition.interpreter is not None:
        return []  # a mapped interpreter: its packages are whatever it has
    if not getattr(job, "has_code", True):
        return []  # a command without `code:` uploads nothing: the YAML's folder is not the step's code
    code = job.code
    local = {p.stem for p in code.iterdir()} if code.is_dir() else set()
    listed = definition.names
    available = _closure(listed | {brought for name in listed for brought in _BRINGS.get(name, ())})
    mapping = metadata.packages_distributions()
    found = []
    for module in sorted(_imports(code)):
        if module in sys.stdlib_module_names or module in local or module in _PROVIDED:
            continue
        dists = mapping.get(module)
        if not dists:
            continue  # not installed here either: the step fails here too, with its own message
        if not any(normalise(d) in available for d in dists):
            found.append((module, dists[0]))
    return found


def _imports(code: Path) -> set[str]:
    names: set[str] = set()
    count = 0
    walked = [(str(code.parent), [], [code.name])] if code.is_file() else os.walk(code)  # code: one file
    for folder, dirs, files in walked:
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS]
        for file in files:
            if not file.endswith(".py"):
                continue
            count += 1
            if count > _MAX_FILES:
                return names
            try:
                tree = ast.parse(Path(folder, file).read_bytes())
            except (SyntaxError, ValueError, OSError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names.add(node.module.split(".")[0])
    return names


def _closure(names: set[str]) -> set[str]:
    """The listed distributions and, as installed here, everything they depend on."""
    seen: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending += _requires(name)
    return seen


@cache
def _requires(name: str) -> tuple[str, ...]:
    try:
        reqs = metadata.requires(name) or []
    except metadata.PackageNotFoundError:
        return ()
    out = []
    for req in reqs:
        if "extra ==" in req or "extra==" in req:
            continue
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)", req)
        if match:
            out.append(normalise(match[1]))
    return tuple(out)


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _satisfies(version: str, spec: str) -> bool:
    try:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
    except ImportError:  # packaging is everywhere pip is; without it, compare exact pins only
        exact = re.fullmatch(r"==\s*([^,*]+)", spec)
        return exact is None or exact[1].strip() == version
    try:
        return SpecifierSet(spec).contains(version, prereleases=True)
    except InvalidSpecifier:
        return True
