"""``${{inputs.x}}``, ``${{outputs.y}}`` and ``${{name}}`` inside one job's text.

A job's command, ``program_arguments`` and ``environment_variables`` name its own inputs and
outputs; here they are replaced by values (data paths, shell-quoted in a command) and every
name that does not resolve is a problem. ``$[[ ... ]]`` keeps its text only when every input it
names has a value, as Azure ML's optional blocks do.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import Any

from tenantml.bindings import BINDING, substitute
from tenantml.loading.schema import Problems, literal_text
from tenantml.spec import DataInput, DataOutput, Input, LiteralInput
from tenantml.suggest import did_you_mean
from tenantml.yamlio import YamlMap

Resolve = Callable[[str, str, "int | None"], "str | None"]  # (expression, key, line) -> text, None: a problem


def job_resolver(job: str, inputs: dict[str, Input], outputs: dict[str, DataOutput], run_id: str | None,
                 problems: Problems, quote: bool = False, declared: frozenset[str] = frozenset(),
                 reported: frozenset[str] = frozenset()) -> Resolve:
    """Resolve ``inputs.x``/``outputs.y``/``name``; for a shell command, paths are quoted and values verbatim.

    ``declared``: ``inputs.<n>``/``outputs.<n>`` the YAML declares. One declared but not resolved
    already has its problem reported where it is declared (or its upstream job's), so naming it is
    not a second problem (it was: "names input 'x', which job does not have; valid keys:" empty).
    ``reported``: the same for inputs whose own problem the resolver reported (a component's too)."""
    def path_text(data: DataInput | DataOutput) -> str:
        text = data.remote if data.remote is not None else str(data.path)  # data in Azure: its URI
        return shlex.quote(text) if quote else text

    def resolve(expr: str, key: str, line: int | None) -> str | None:
        kind, _, name = expr.partition(".")
        if kind == "inputs" and name in inputs:
            value = inputs[name]
            if isinstance(value, DataInput):
                if value.mode == "direct" and value.remote is None:  # Azure ML passes the storage URI, not a mount
                    uri = value.path.absolute().as_uri()
                    return shlex.quote(uri) if quote else uri
                return path_text(value)
            return literal_text(value.value)
        if kind == "outputs" and name in outputs:
            return path_text(outputs[name])
        if kind == "name":
            return run_id if run_id is not None else "${{name}}"
        if expr in reported:
            return None
        pool: dict[str, Input] | dict[str, DataOutput] = (
            inputs if kind == "inputs" else outputs if kind == "outputs" else {})
        if expr in declared:
            return None
        if kind in ("inputs", "outputs"):
            problems.add(f"'${{{{{expr}}}}}' names {kind[:-1]} '{name}', which job '{job}' does not have; "
                         f"{did_you_mean(name, pool)}", key=key, line=line,
                         fix=f"declare it under the job's {kind} or correct the name")
        else:
            problems.add(f"'${{{{{expr}}}}}' cannot be resolved; use ${{{{inputs.<name>}}}} or "
                         "${{outputs.<name>}}.", key=key, line=line)
        return None
    return resolve


def declared_names(raw: YamlMap) -> frozenset[str]:
    """``inputs.<n>`` and ``outputs.<n>`` a job's YAML declares (resolved or not)."""
    names: set[str] = set()
    for kind in ("inputs", "outputs"):
        section = raw.get(kind)
        if isinstance(section, YamlMap):
            names.update(f"{kind}.{name}" for name in section)
    return frozenset(names)


def program_arguments(task: YamlMap, prefix: str, resolve: Resolve, problems: Problems) -> tuple[str, ...]:
    raw = task.get("program_arguments")
    if raw is None:
        return ()
    key, line = f"{prefix}task.program_arguments", task.line_of("program_arguments")
    try:
        tokens = shlex.split(str(raw))
    except ValueError as exc:
        problems.add(f"program_arguments cannot be split into arguments: {exc}.", key=key, line=line,
                     fix="balance the quotes")
        return ()
    result: list[str] = []
    for token in tokens:
        def one(expr: str) -> str:
            return resolve(expr, key, line) or ""
        result.append(substitute(token, one))
    return tuple(result)


def environment_variables(holder: YamlMap, prefix: str, resolve: Resolve, problems: Problems) -> dict[str, str]:
    raw = holder.get("environment_variables")
    if raw is None:
        return {}
    key = f"{prefix}environment_variables"
    if not isinstance(raw, YamlMap):
        problems.add("environment_variables must be a mapping of NAME: value.", key=key,
                     line=holder.line_of("environment_variables"))
        return {}
    env: dict[str, str] = {}
    for name, value in raw.items():
        def one(expr: str, name: Any = name) -> str:
            return resolve(expr, f"{key}.{name}", raw.line_of(name)) or ""
        text = substitute(literal_text(value), one)
        # what no process environment can hold: subprocess refused it with a ValueError traceback
        if not str(name) or "=" in str(name) or "\0" in str(name) or "\0" in text:
            problems.add(f"environment variable {str(name)!r} cannot be set: a name must be non-empty without "
                         "'=' or NUL, and a value without NUL (\\0).", key=f"{key}.{name}", line=raw.line_of(name),
                         fix="rename the variable or remove the \\0 from its value")
            continue
        env[str(name)] = text
    return env


def optional_blocks(command: str, inputs: dict[str, Input]) -> str:
    """Azure ML's ``$[[ ... ]]``: keep the text when every input it names has a value, else drop it."""
    def keep(match: re.Match[str]) -> str:
        names = [e.split(".", 1)[1] for e in BINDING.findall(match.group(1)) if e.startswith("inputs.")]
        present = all(n in inputs and not _empty_literal(inputs[n]) for n in names)
        return match.group(1) if present else ""
    return re.sub(r"\$\[\[(.*?)\]\]", keep, command, flags=re.S)


def _empty_literal(value: Input) -> bool:
    return isinstance(value, LiteralInput) and value.value is None
