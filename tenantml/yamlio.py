"""Reading user YAML safely, keeping the line of every key for error messages.

- Only plain data: ``yaml.SafeLoader`` never constructs objects from tags.
- Bounded: documents over ``MAX_BYTES`` and alias graphs that expand past ``MAX_NODES``
  (billion-laughs) are refused before they cost memory.
- Every mapping is a :class:`YamlMap`, a ``dict`` that also knows the line of each key.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from tenantml.errors import UserError

MAX_BYTES = 5 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 100  # levels of nesting; a pipeline needs fewer than 10


class Line(int):
    """A 1-based line number that also knows its file (components live in their own files)."""

    file: Path | None

    def __new__(cls, value: int, file: Path | None = None) -> Line:
        line = super().__new__(cls, value)
        line.file = file
        return line


class YamlMap(dict[Any, Any]):
    """A mapping from YAML that remembers where its keys are (1-based lines, with their file)."""

    lines: dict[Any, int | None]  # None: a key added by tenantml (no line of its own)
    line: int | None
    duplicates: list[tuple[Any, int, int]]  # (key, line it was first written, line that won)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines = {}
        self.line = None
        self.duplicates = []

    def line_of(self, key: Any) -> int | None:
        return self.lines.get(key, self.line)


class LimitError(yaml.YAMLError):
    """A document nested too deeply or expanding to too many nodes (refused, never cut short)."""


class _Loader(yaml.SafeLoader):
    def __init__(self, stream: str, path: Path | None = None) -> None:
        super().__init__(stream)
        self._expanded = 0
        self._depth = 0
        self._path = path

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:  # before Python's recursion limit turns it into a RecursionError
                raise LimitError(f"the document is nested more than {MAX_DEPTH} levels deep")
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        self._expanded += _weight(node)
        if self._expanded > MAX_NODES:
            raise LimitError(f"the document expands to more than {MAX_NODES} nodes (an alias bomb?)")
        return node

    def construct_yaml_map(self, node: yaml.MappingNode) -> Any:
        data = YamlMap()
        data.line = Line(node.start_mark.line + 1, self._path)
        yield data
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                here = Line(key_node.start_mark.line + 1, self._path)
                first = data.lines.get(key)
                if first is not None:
                    data.duplicates.append((key, first, here))
                data.lines[key] = here
            except TypeError:  # unhashable key: the constructor below reports it
                pass
        data.update(self.construct_mapping(node, deep=True))


def duplicate_keys(value: Any, file: Path) -> Iterator[str]:
    """A warning for each key written twice in one mapping. azure-ai-ml reads YAML with
    ``yaml.safe_load`` (``azure.ai.ml._utils.utils.load_yaml``), which keeps the last one silently, and
    so does tenantml; two jobs of one name usually mean a copy-paste that forgot to rename one."""
    if isinstance(value, YamlMap):
        for key, first, last in value.duplicates:
            yield (f"{file}:{last}: key '{key}' is written twice in one mapping (lines {first} and {last}); "
                   "Azure ML (yaml.safe_load in azure-ai-ml) keeps the last one silently, and so does tenantml.")
        children: Iterable[Any] = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return
    for child in children:
        yield from duplicate_keys(child, file)


def _weight(node: Any) -> int:
    """Nodes an alias stands for, counted once per use (so shared subtrees are paid for)."""
    seen = getattr(node, "_tenantml_weight", None)
    if isinstance(seen, int):
        return seen
    if isinstance(node, yaml.MappingNode):
        weight = 1 + sum(_weight(k) + _weight(v) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        weight = 1 + sum(_weight(v) for v in node.value)
    else:
        weight = 1
    node._tenantml_weight = weight
    return min(weight, MAX_NODES + 1)


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_yaml_map)


def load_yaml(path: Path, *, what: str = "YAML file") -> Any:
    """Read one YAML document, or raise a UserError that names the file and line."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise UserError(f"{what} not found.", file=path, fix="check the path") from None
    except OSError as exc:
        raise UserError(f"cannot read {what}: {exc.strerror}.", file=path) from None
    if path.is_dir():
        raise UserError(f"is a folder, expected a {what}.", file=path, fix="name the .yml file")
    if size > MAX_BYTES:
        raise UserError(f"{what} is {size} bytes; tenantml reads at most {MAX_BYTES}.", file=path,
                        fix="a pipeline definition should be small: move data out of the YAML")
    with open(path, "rb") as handle:  # bounded: a device or pipe (/dev/zero) has no size to check first
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise UserError(f"{what} is more than {MAX_BYTES} bytes; tenantml reads at most {MAX_BYTES}.", file=path,
                        fix="a pipeline definition should be small: move data out of the YAML")
    try:
        text = data.decode("utf-8")  # strictly: a replaced byte would silently change a value
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UserError(f"{what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}).", file=path,
                        line=line, fix="save the file as UTF-8") from None
    return parse_yaml(text, path)


def load_value(text: str) -> Any:
    """One YAML value given on the command line (``--set k=v``), bounded as a file is: raises
    :class:`LimitError` when it is too deep or too large, another ``yaml.YAMLError`` when it is not YAML."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def parse_yaml(text: str, path: Path) -> Any:
    try:
        loader = _Loader(text, path)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = " ".join(filter(None, [exc.context, exc.problem]))
        if "could not determine a constructor" in problem:
            problem = "YAML tags that construct objects are not allowed (" + problem + ")"
        raise UserError(f"invalid YAML: {problem}.", file=path, line=line,
                        fix="correct the YAML syntax at that line") from None
    except yaml.YAMLError as exc:
        raise UserError(f"invalid YAML: {exc}.", file=path, fix="correct the YAML") from None
