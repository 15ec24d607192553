"""``--set KEY=VALUE``: change one value of a job YAML before it is validated or submitted.

The same syntax as ``az ml job create --set``: ``KEY`` is a dotted path into the YAML
(``jobs.score.mini_batch_size``, ``jobs.score.retry_settings.max_retries``); a segment that is a
number indexes a list (``jobs.score.partition_keys.0``). ``VALUE`` is read as a YAML scalar or
flow collection, so ``2`` is a number, ``true`` a boolean, ``"10kb"`` or ``10kb`` a string and
``[store, brand]`` a list. Missing mappings on the way are created; a path through a value that
is neither a mapping nor a list is an error that names the option.

Works on plain dicts and lists and on :class:`tenantml.yamlio.YamlMap` (new mappings take the
type of their parent, so line numbers of the untouched keys survive).
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from tenantml.errors import UserError

_FIX = "write --set jobs.<job>.<key>=<value>, e.g. --set jobs.score.mini_batch_size=2"


@dataclass(frozen=True)
class Override:
    path: tuple[str, ...]
    value: Any  # the value read as YAML
    text: str  # the option as the user wrote it
    raw: str = ""  # the value as written (quotes of a quoted string removed)

    @property
    def key(self) -> str:
        return ".".join(self.path)


def parse_override(text: str) -> Override:
    """``"jobs.x.mini_batch_size=2"`` -> Override(("jobs", "x", "mini_batch_size"), 2)."""
    import yaml

    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UserError(f"--set '{text}' is not KEY=VALUE.", key="--set", fix=_FIX)
    path = tuple(part.strip() for part in key.split("."))
    if any(not part for part in path):
        raise UserError(f"--set '{text}': the key '{key}' has an empty part.", key="--set", fix=_FIX)
    from tenantml.yamlio import LimitError, load_value

    try:
        value = load_value(raw) if raw.strip() else ""
    except LimitError as exc:  # as a pipeline file's would be: never a RecursionError
        raise UserError(f"--set '{key}=...': {str(exc).replace('the document', 'the value')}.", key="--set",
                        fix="give a plain value") from None
    except yaml.YAMLError:
        value = raw  # not YAML: keep the text as it was written
    raw_text = value if isinstance(value, str) else raw.strip()
    return Override(path, value, text, raw_text)


def apply_overrides(document: MutableMapping[str, Any], overrides: Iterable[str | Override]) -> MutableMapping[str, Any]:
    """Apply every ``KEY=VALUE`` to ``document`` in place, in order, and return it."""
    for item in overrides:
        override = item if isinstance(item, Override) else parse_override(item)
        _set(document, override)
    return document


def _set(document: MutableMapping[str, Any], override: Override) -> None:
    _check_job_name(document, override)
    node: Any = document
    *parents, last = override.path
    for depth, part in enumerate(parents):
        child = _child(node, part, override, depth)
        if child is None:
            child = type(node)() if isinstance(node, MutableMapping) else {}
            _assign(node, part, child, override, depth)
        elif not isinstance(child, (MutableMapping, list)):
            where = ".".join(override.path[: depth + 1])
            raise UserError(f"--set '{override.text}': '{where}' is {child!r}, not a mapping or a list.",
                            key="--set", fix=_FIX)
        node = child
    value = override.value
    if last == "mini_batch_size" and isinstance(value, int) and not isinstance(value, bool):
        # az ml job create --set passes scalars as text (as_sdk_params), so --set ...mini_batch_size=4 is
        # the string "4" Azure ML's schema wants, not the number an unquoted YAML value is (rejected)
        value = override.raw
    _assign(node, last, value, override, len(parents))


def _check_job_name(document: MutableMapping[str, Any], override: Override) -> None:
    """``jobs.<name>`` must name a job of the pipeline: a typo would otherwise add a job that is
    half a definition (or, for a key that tenantml ignores, nothing at all)."""
    if len(override.path) < 3 or override.path[0] != "jobs":
        return
    jobs = document.get("jobs") if isinstance(document, MutableMapping) else None
    if not isinstance(jobs, MutableMapping) or override.path[1] in jobs:
        return
    from tenantml.suggest import nearest

    guess = nearest(override.path[1], [str(k) for k in jobs])
    names = ", ".join(str(k) for k in jobs)
    raise UserError(f"--set '{override.text}': the pipeline has no job '{override.path[1]}' (its jobs: {names}).",
                    key="--set", fix=f"did you mean '{guess}'? write --set jobs.{guess}.{'.'.join(override.path[2:])}=..."
                    if guess else _FIX)


def _child(node: Any, part: str, override: Override, depth: int) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, override, depth)]
    return node.get(part)


def _assign(node: Any, part: str, value: Any, override: Override, depth: int) -> None:
    if isinstance(node, list):
        node[_index(node, part, override, depth)] = value
    else:
        node[part] = value


def _index(node: list[Any], part: str, override: Override, depth: int) -> int:
    where = ".".join(override.path[:depth])
    if not part.lstrip("-").isdigit():
        raise UserError(f"--set '{override.text}': '{where}' is a list; '{part}' is not an index.",
                        key="--set", fix="index lists with a number, e.g. partition_keys.0")
    index = int(part)
    if not -len(node) <= index < len(node):
        raise UserError(f"--set '{override.text}': '{where}' has {len(node)} item(s); index {index} is outside it.",
                        key="--set")
    return index


def as_sdk_params(overrides: Iterable[str | Override]) -> list[dict[str, Any]]:
    """The overrides as ``azure.ai.ml.load_job(params_override=...)`` takes them, as ``az ml --set`` does.

    Scalars stay text (the SDK's schema converts ``"2"`` to an integer where it wants one, and
    insists on a string for ``mini_batch_size``); lists and mappings are passed parsed.
    """
    parsed = [o if isinstance(o, Override) else parse_override(o) for o in overrides]
    return [{o.key: o.value if isinstance(o.value, (list, dict)) else o.raw} for o in parsed]
