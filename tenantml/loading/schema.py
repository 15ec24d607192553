"""What keys each block of the YAML may hold, and how problems are collected and values read.

Every check adds to one :class:`Problems` list; the loader raises them all at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenantml.errors import LocalOnlyProblem, UserError
from tenantml.suggest import did_you_mean
from tenantml.yamlio import YamlMap

PIPELINE_KEYS = frozenset({
    "$schema", "type", "name", "display_name", "description", "tags", "properties", "experiment_name",
    "settings", "inputs", "outputs", "jobs", "compute", "identity", "services"})
SETTINGS_KEYS = frozenset({
    "default_compute", "default_datastore", "continue_on_step_failure", "force_rerun", "default_environment"})
PARALLEL_KEYS = frozenset({
    "$schema", "type", "name", "display_name", "description", "tags", "properties", "experiment_name",
    "compute", "environment", "inputs", "outputs", "input_data", "mini_batch_size", "partition_keys",
    "resources", "max_concurrency_per_instance", "logging_level", "mini_batch_error_threshold",
    "error_threshold", "retry_settings", "task", "environment_variables", "identity", "services", "is_deterministic",
    "component", "version"})
TASK_KEYS = frozenset({
    "type", "code", "entry_script", "program_arguments", "model", "append_row_to", "environment",
    "environment_variables"})
COMMAND_KEYS = frozenset({
    "$schema", "type", "name", "display_name", "description", "tags", "properties", "experiment_name",
    "compute", "environment", "inputs", "outputs", "code", "command", "environment_variables", "resources",
    "limits", "distribution", "identity", "services", "queue_settings", "component", "is_deterministic",
    "version"})
PIPELINE_NODE_KEYS = frozenset({
    "type", "component", "inputs", "outputs", "compute", "settings", "display_name", "description", "tags",
    "properties", "name", "experiment_name"})
COMPONENT_ONLY_KEYS = frozenset({"$schema", "name", "version", "display_name", "description", "tags",
                                 "is_deterministic", "inputs", "outputs"})
LIMITS_KEYS = frozenset({"timeout"})
RETRY_KEYS = frozenset({"max_retries", "timeout"})
RESOURCES_KEYS = frozenset({"instance_count", "instance_type", "properties", "shm_size", "docker_args",
                            "locations", "max_instance_count"})
DATA_INPUT_KEYS = frozenset({"type", "path", "mode", "description", "optional", "datastore", "default"})
LITERAL_INPUT_KEYS = frozenset({"type", "default", "value", "description", "optional", "min", "max", "enum"})
OUTPUT_KEYS = frozenset({"type", "path", "mode", "description", "name", "version"})


@dataclass
class Problems:
    """Every problem found while loading."""

    file: Path
    items: list[UserError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # each said once

    def warn_once(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def add(self, message: str, *, key: str, line: int | None, fix: str | None = None,
            details: str | None = None, file: Path | None = None, local_only: bool = False) -> None:
        """``local_only``: the problem is about running on this machine (see LocalOnlyProblem)."""
        file = file or getattr(line, "file", None) or self.file
        kind = LocalOnlyProblem if local_only else UserError
        problem = kind(message, file=file, key=key, line=line, fix=fix, details=details)
        if any(type(p) is kind and p.render() == problem.render() for p in self.items):
            return  # one expression written twice in a command is one problem, said once
        self.items.append(problem)

    def unknown_keys(self, raw: YamlMap, valid: frozenset[str], prefix: str, what: str) -> None:
        for key in raw:
            if key == "comment" and what in ("a parallel job", "a command job"):
                self.add("'comment' is accepted on a node that uses 'component:' (BaseNodeSchema), but az ml job "
                         "create rejects it on an inline job such as this one.", key=f"{prefix}{key}",
                         line=raw.line_of(key), fix="remove it, or move the job into a component file and "
                                                    "reference it with component:")
            elif key not in valid:
                self.add(f"unknown key in {what}; {did_you_mean(str(key), valid)}", key=f"{prefix}{key}",
                         line=raw.line_of(key), fix="remove or rename the key")

    def whole_number(self, raw: Any, key: str, prefix: str, default: int, minimum: int) -> int:
        if not isinstance(raw, YamlMap) or key not in raw:
            return default
        value = raw[key]
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.add(f"{key} is {value!r}; it must be a whole number >= {minimum}.", key=f"{prefix}{key}",
                     line=raw.line_of(key), fix=f"set it to e.g. {max(default, minimum)}")
            return default
        return value

    def number(self, raw: Any, key: str, prefix: str, default: float, above: float) -> float:
        if not isinstance(raw, YamlMap) or key not in raw:
            return default
        value = raw[key]
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if isinstance(value, bool) or not number > above:
            self.add(f"{key} is {value!r}; it must be a number > {above:g}.", key=f"{prefix}{key}",
                     line=raw.line_of(key), fix=f"set it to e.g. {default:g}")
            return default
        return number


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def plain(value: Any) -> Any:
    """YAML data as plain JSON-able data (for fingerprints)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def literal_text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return "" if value is None else str(value)


def bare(exc: UserError) -> str:
    """A UserError's message without its location and fix (to re-anchor it at a YAML key)."""
    return exc.text


def file_of(holder: Any, default: Path, key: str | None = None) -> Path:
    """The YAML file a key (or mapping) came from: components live in their own files."""
    if isinstance(holder, YamlMap):
        line = holder.lines.get(key) if key is not None else None
        for candidate in (line, holder.line):
            file = getattr(candidate, "file", None)
            if file is not None:
                return Path(file)
    return default
