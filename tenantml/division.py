"""Divide a parallel job's ``input_data`` into mini-batches, streaming.

Data flow. :func:`iter_mini_batches` validates the input (path, MLTable file, ``mini_batch_size``)
when called, then yields :class:`MiniBatch` records lazily, in index order. A record is small and
JSON-serialisable (:meth:`MiniBatch.to_json`): the runner queues it and a worker turns it back
into what ``run()`` receives with :func:`load_mini_batch`. Workers never touch mltable.

- **File input** (``uri_folder``, ``uri_file``, an MLTable without a read transformation): the
  files are listed (``os.walk`` for a folder; mltable itself resolves an MLTable's ``paths:``
  entries, ``file``/``folder``/``pattern``, relative to the MLTable folder), de-duplicated,
  sorted by path string (Azure ML logged ``tenant_1, tenant_10, tenant_11, tenant_2``), and cut
  into runs of ``mini_batch_size`` files. Only path strings are held; a folder of 100,000 files
  is listed and yielded in about 0.5 s. Hidden files count; symlinked sub-folders are not
  entered (``os.walk``'s default, no loops). The ``MLTable`` file itself is never data:
  ``paths: - folder: ./`` lists it, and it is dropped.
- **Tabular input** (an MLTable with ``read_delimited``/``read_json_lines``/``read_parquet``):
  rows are read through mltable, one engine call per ~64 MiB of a file, cut in memory into
  mini-batches, and each mini-batch is pickled (pickle keeps dtypes exactly) into one spill file
  under ``spill_dir``; the record carries the spill path and the frame's offset in it.
- **partition_keys**: the table is read once, file by file; each file's rows are coded by the
  keys (``dropna=False``) and held until ~32 MiB of input is read, then the held rows are sorted
  by partition once and each partition's rows go to the spill file as one frame (file names
  never come from key values). Once all files are
  read, one mini-batch per distinct key combination is yielded, sorted by key values: numbers before
  strings, missing values (None/NaN/NaT) last, key by key. Azure ML gives no order; a sorted one
  is deterministic and easy to scan in summaries. A file MLTable whose
  ``extract_columns_from_partition_format`` derives columns from paths is partitioned the same
  way, and its mini-batches are file lists.

How tabular input is cut, and why mltable's own partitioning is used. Azure ML's parallel run
runtime does not cut tables itself: its task provider (v1 ParallelRunStep runtime,
``TabularDatasetProvider.get_tasks``, public copy read here) calls
``dataflow._with_partition_size(mini_batch_size)``, then ``get_partition_count()``, and makes
one task per partition, which the worker reads with ``select_partitions([i])``. Experiments with
mltable 1.7 / rslex 2.26 show what that partitioning is: delimited and JSON-lines files are cut
into byte ranges of ``partition_size`` (a file of ``B`` bytes gives exactly ``ceil(B / size)``
partitions, rows belong to the range they start in, so a range can hold 0 rows when lines are
longer than the size), never across files; multi-line CSV (``support_multi_line: true``) is
never cut; parquet is partitioned by row group and cannot be re-partitioned
(``_with_partition_size`` raises for ``read_parquet``). So tenantml uses mltable's partitioning,
which reproduces Azure ML's boundaries, not only its counts. Three details matter:

- ``MLTable._with_partition_size`` (rslex ``set_partition_size``) fails with "found multiple
  instances of read_delimited & read_json_lines" as soon as any transformation follows the read
  (``keep_columns``, ``convert_column_types``, ``filter``, ``take``...). tenantml instead takes
  the loaded MLTable's YAML (``str(table)``: mltable's own resolution of ``paths`` to absolute
  URIs), sets ``partition_size`` in the read step and builds a table from that dict with
  ``MLTable._create_from_dict``, which is what mltable's own fallback in
  ``_with_partition_size`` does (no second schema validation, no file written).
- Rows are read from the whole table's dataflow with ``select_partitions``, never by re-loading
  an MLTable per source file: column type inference (``infer_column_types``) samples the whole
  table, so a per-file MLTable can give other dtypes (measured: a file of integers read alone is
  ``int64``; inside a table whose next file has ``2.5`` it is ``float64``, which is what
  ``run()`` gets on Azure ML).
- Which partitions belong to which file comes from the engine's ``get_partition_info`` (private,
  used in one function below and checked against the partition count). Files are taken in
  sorted path order, as on Azure ML's blob listing (mltable lists a local ``folder:`` in
  directory order).

For parquet, consecutive row groups of one file are grouped into ``ceil(file_bytes / size)``
mini-batches of about equal row-group counts (at most one per row group), so a file with one
row group is never split. An empty range is still a mini-batch with ``items=0``; the runner
counts it as succeeded without calling ``run()``.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import pickle
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tenantml.errors import UserError
from tenantml.minibatch_size import parse_mini_batch_size
from tenantml.spec import DataInput

if TYPE_CHECKING:  # Self: typing 3.11; workers of an isolated environment may run Python 3.8
    from typing import Self

    import pandas as pd

MLTABLE_FILE = "MLTable"
TABULAR_READERS = ("read_delimited", "read_parquet", "read_json_lines")
_SIZED_READERS = ("read_delimited", "read_json_lines")  # mltable partitions these by byte size
_OTHER_READERS = ("read_delta_lake", "read_files")
_PARTITION_FORMAT = "extract_columns_from_partition_format"
_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class MiniBatch:
    """One unit of work: what one ``run()`` call receives, described without the data."""

    index: int  # 0-based, dense, in order
    kind: Literal["files", "table"]
    items: int  # number of files, or exact number of rows
    files: tuple[str, ...] = ()  # kind=files: absolute local paths, what run() receives
    data_path: str | None = None  # kind=table: spill file holding the rows
    data_offsets: tuple[int, ...] = ()  # kind=table: where its pickled frames start; () = all of them
    sources: tuple[str, ...] = ()  # kind=table: source data files the rows came from
    partition_key_value: dict[str, Any] | None = None  # JSON-able python scalars
    label: str = ""  # human name for summaries

    def to_json(self) -> str:
        # a shallow dict, not dataclasses.asdict (a deep copy): the same JSON, once per attempt
        return json.dumps({name: getattr(self, name) for name in _MINI_BATCH_FIELDS}, ensure_ascii=False)

    @staticmethod
    def from_json(s: str) -> MiniBatch:
        raw = json.loads(s)
        raw["files"] = tuple(raw["files"])
        raw["sources"] = tuple(raw["sources"])
        raw["data_offsets"] = tuple(raw.get("data_offsets", ()))  # a plan written before offsets
        return MiniBatch(**raw)


_MINI_BATCH_FIELDS = tuple(f.name for f in fields(MiniBatch))


# --------------------------------------------------------------------------- public API


def is_tabular(data: DataInput) -> bool:
    """True for an mltable input whose MLTable file has a tabular read transformation."""
    if data.type != "mltable":
        return False
    return _reader(_mltable_spec(data, None)) in TABULAR_READERS


def iter_mini_batches(data: DataInput, *, mini_batch_size: str | int | None,
                      partition_keys: Sequence[str] = (), spill_dir: Path,
                      source_file: object = None,
                      should_stop: Callable[[], bool] = lambda: False) -> Iterator[MiniBatch]:
    """Yield the mini-batches of ``data`` in index order (see the module docstring).

    ``should_stop()`` is asked while a folder input is listed (every :data:`LIST_STOP_EVERY`
    entries); once true, KeyboardInterrupt is raised: a million files take seconds to list.

    Configuration errors (missing path, bad ``mini_batch_size``, ``partition_keys`` on input
    that has no columns) raise :class:`UserError` here, before iteration. Errors found while
    reading (a partition key that is not a column, unreadable data) raise from the iterator,
    before the mini-batch concerned is yielded. ``mini_batch_size`` is ignored, not validated,
    when ``partition_keys`` is given (``partition_keys`` wins; the caller warns).
    """
    _check_input_path(data, source_file)
    spec = _mltable_spec(data, source_file) if data.type == "mltable" else None
    reader = _reader(spec) if spec is not None else None
    if spec is not None:
        _check_mltable_paths(data, spec, source_file)
    if reader in _OTHER_READERS:
        raise UserError(f"input {data.name!r}: the MLTable uses {reader}, which tenantml does not "
                        "read.", file=_where(data, source_file), key=f"inputs.{data.name}",
                        fix="use read_delimited, read_parquet or read_json_lines")
    spill = Path(spill_dir)
    tabular = reader in TABULAR_READERS
    if partition_keys:
        keys = _check_partition_keys(partition_keys, data, spec, tabular, source_file)
        spill.mkdir(parents=True, exist_ok=True)
        if tabular:
            return _partitioned_table(data, reader, keys, spill, source_file)
        return _partitioned_files(data, keys, source_file)
    size = parse_mini_batch_size(mini_batch_size, tabular=tabular, file=_where(data, source_file))
    if tabular:
        spill.mkdir(parents=True, exist_ok=True)
        return _table_mini_batches(data, reader, size, spill, source_file)
    return _file_mini_batches(_list_files(data, source_file, should_stop), size)


def load_mini_batch(mb: MiniBatch) -> list[str] | pd.DataFrame:
    """What ``run()`` receives for ``mb``: a list of paths, or the rows as one DataFrame."""
    if mb.kind == "files":
        return list(mb.files)
    if mb.data_path is None:
        raise ValueError(f"mini-batch {mb.index} of kind 'table' has no data_path")
    return _read_spill(Path(mb.data_path), mb.data_offsets)


# --------------------------------------------------------------------------- checks


def _where(data: DataInput, source_file: object) -> object:
    if source_file is not None:
        return source_file
    return data.where.file if data.where is not None else None


def _fail(data: DataInput, source_file: object, message: str, fix: str, key: str = "") -> UserError:
    line = data.where.line if data.where is not None and source_file is None else None
    return UserError(message, file=_where(data, source_file), key=key or f"inputs.{data.name}",
                     line=line, fix=fix)


def _check_input_path(data: DataInput, source_file: object) -> None:
    if data.type not in ("uri_file", "uri_folder", "mltable"):
        raise _fail(data, source_file, f"input {data.name!r} has type {data.type!r}, which cannot "
                    "be divided into mini-batches.", "use uri_folder, uri_file or mltable")
    path = Path(data.path)
    if not path.exists():
        raise _fail(data, source_file, f"input {data.name!r} ({data.type}): path does not exist: "
                    f"{path}", "check the path; relative paths are resolved against the folder "
                    "of the YAML file that declares them", key=f"inputs.{data.name}.path")
    if data.type == "uri_file" and not path.is_file():
        raise _fail(data, source_file, f"input {data.name!r} is a uri_file but {path} is not a "
                    "file.", "use type: uri_folder for a folder")
    if data.type in ("uri_folder", "mltable") and not path.is_dir():
        fix = ("use type: uri_file for a single file" if data.type == "uri_folder"
               else f"point path at the folder that holds the MLTable file ({path.parent})")
        raise _fail(data, source_file, f"input {data.name!r} is a {data.type} but {path} is not "
                    "a folder.", fix)


def _mltable_spec(data: DataInput, source_file: object) -> dict[str, Any]:
    file = Path(data.path) / MLTABLE_FILE
    if not file.is_file():
        raise _fail(data, source_file, f"input {data.name!r} is an mltable but {file} does not "
                    "exist.", "add an MLTable file to the folder, or use type: uri_folder")
    import yaml  # here, not at the top: the worker imports this module in a step's own environment

    try:
        spec = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"not valid YAML: {exc}", file=file,
                        fix="fix the MLTable file's YAML syntax") from exc
    if not isinstance(spec, dict):
        raise UserError("an MLTable file must be a YAML mapping with a 'paths' list.", file=file,
                        fix="start the file with 'paths:'")
    return spec


def _transformation_names(spec: dict[str, Any]) -> list[str]:
    steps = spec.get("transformations") or []
    names: list[str] = []
    for step in steps if isinstance(steps, list) else []:
        names.extend(step.keys() if isinstance(step, dict) else [str(step)])
    return names


def _reader(spec: dict[str, Any] | None) -> str | None:
    names = _transformation_names(spec) if spec is not None else []
    return next((n for n in names if n in TABULAR_READERS + _OTHER_READERS), None)


def _check_mltable_paths(data: DataInput, spec: dict[str, Any], source_file: object) -> None:
    """Local ``file``/``folder`` entries must exist (mltable's own errors are cryptic)."""
    mltable_file = Path(data.path) / MLTABLE_FILE
    entries = spec.get("paths")
    if not isinstance(entries, list) or not entries:
        raise UserError("the MLTable has no 'paths' list.", file=mltable_file, key="paths",
                        fix="add e.g. 'paths: [{pattern: ./*.csv}]'")
    for entry in entries:
        for kind, value in (entry.items() if isinstance(entry, dict) else []):
            local = _local_path(str(value), Path(data.path))
            if kind in ("file", "folder") and local is not None and not local.exists():
                raise UserError(f"{kind} {value!r} does not exist ({local}).", file=mltable_file,
                                key="paths", fix="fix the path; it is relative to the MLTable "
                                "file's folder")


def _local_path(value: str, base: Path) -> Path | None:
    if value.startswith("file://"):
        value = value[len("file://"):]
    elif _URI_SCHEME.match(value):
        return None
    return Path(os.path.normpath(base / value))


def _check_partition_keys(keys: Sequence[str], data: DataInput, spec: dict[str, Any] | None,
                          tabular: bool, source_file: object) -> tuple[str, ...]:
    if isinstance(keys, str) or not all(isinstance(k, str) and k for k in keys):
        raise UserError(f"expected a list of column names, got {keys!r}.",
                        file=_where(data, source_file), key="partition_keys",
                        fix="write partition_keys: [column_a, column_b]")
    has_columns = tabular or (spec is not None and _PARTITION_FORMAT in _transformation_names(spec))
    if not has_columns:
        raise UserError(f"partition_keys needs a tabular MLTable input, but input {data.name!r} "
                        f"is a {data.type} without columns.", file=_where(data, source_file),
                        key="partition_keys", fix="use an mltable input with read_delimited, "
                        "read_parquet or read_json_lines (or extract_columns_from_partition_format "
                        "for files), or remove partition_keys and use mini_batch_size")
    return tuple(keys)


def _check_columns(keys: Sequence[str], columns: Iterable[str], data: DataInput,
                   source_file: object) -> None:
    present = [str(c) for c in columns]
    for key in keys:
        if key not in present:
            near = difflib.get_close_matches(key, present, n=1, cutoff=0.5)
            fix = f"did you mean {near[0]!r}?" if near else "use one of the columns listed"
            raise UserError(f"partition key {key!r} is not a column of input {data.name!r}; its "
                            f"columns are: {', '.join(present)}.", file=_where(data, source_file),
                            key="partition_keys", fix=fix)


# --------------------------------------------------------------------------- file input


def _list_files(data: DataInput, source_file: object,
                should_stop: Callable[[], bool] = lambda: False) -> list[str]:
    root = os.path.abspath(data.path)
    if data.type == "uri_file":
        return [root]
    if data.type == "uri_folder":
        return _walk(root, should_stop)
    frame = _mltable_frame(data, source_file)
    return sorted(_stream_paths(frame["Path"], root))


LIST_STOP_EVERY = 8192  # entries listed between two looks at should_stop (~40 ms here)


def _walk(root: str, should_stop: Callable[[], bool] = lambda: False) -> list[str]:
    """Every file under ``root`` as ``os.walk`` finds them (a link to a folder is neither listed nor
    followed; errors reading a folder are ignored), sorted; interruptible inside one huge folder."""
    found: list[str] = []
    stack = [root]
    seen = 0
    while stack:
        folder = stack.pop()
        prefix = folder if folder.endswith(os.sep) else folder + os.sep  # os.path.join, without a call per file
        try:
            listing = os.scandir(folder)
        except OSError:
            continue
        with listing:
            for entry in listing:
                seen += 1
                if seen % LIST_STOP_EVERY == 0 and should_stop():
                    raise KeyboardInterrupt
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                if not is_dir:
                    found.append(prefix + entry.name)
                elif not entry.is_symlink():
                    stack.append(prefix + entry.name)
    found.sort()
    return found


def _mltable_frame(data: DataInput, source_file: object) -> pd.DataFrame:
    """A file MLTable as mltable resolves it: a ``Path`` column (plus partition columns)."""
    import mltable

    try:
        return mltable.load(str(data.path)).to_pandas_dataframe()
    except Exception as exc:  # mltable raises its own exception types
        raise _fail(data, source_file, f"mltable could not list the files of input "
                    f"{data.name!r}: {_short(exc)}", "check the MLTable 'paths' entries: a "
                    "pattern that matches no file is an error") from exc


def _stream_paths(values: Iterable[Any], root: str) -> set[str]:
    """Local paths of mltable stream values, without the MLTable file itself."""
    mltable_file = os.path.join(root, MLTABLE_FILE)
    paths = {_stream_path(v) for v in values}
    paths.discard(mltable_file)
    return paths


def _stream_path(value: Any) -> str:
    text = str(getattr(value, "resource_identifier", value))
    return text[len("file://"):] if text.startswith("file://") else text


def _file_mini_batches(paths: list[str], size: int) -> Iterator[MiniBatch]:
    for index, start in enumerate(range(0, len(paths), size)):
        chunk = tuple(paths[start:start + size])
        yield MiniBatch(index=index, kind="files", items=len(chunk), files=chunk,
                        label=_files_label(chunk))


def _files_label(paths: Sequence[str]) -> str:
    names = [os.path.basename(p) for p in paths[:2]]
    more = f" (+{len(paths) - 2})" if len(paths) > 2 else ""
    return ", ".join(names) + more


# --------------------------------------------------------------------------- tabular input


@dataclass(frozen=True)
class _Stream:
    """One source file of a table and the engine partitions it was cut into."""

    path: str
    first: int
    count: int

    @property
    def partitions(self) -> list[int]:
        return list(range(self.first, self.first + self.count))


def _table_mini_batches(data: DataInput, reader: str | None, size: int, spill_dir: Path,
                        source_file: object) -> Iterator[MiniBatch]:
    split = _engine_split(size) if reader in _SIZED_READERS and private_api_problem() is None else 1
    table = _load_table(data, reader, size // split, source_file, spill_dir)
    exact = _ExactReads(data, reader, size, source_file, spill_dir) if split > 1 else None
    with _Spill(spill_dir / "minibatches.pkl") as spill:
        yield from _cut_streams(table, reader, size, split, exact, spill, data, source_file, spill_dir)


def _engine_split(size: int) -> int:
    """How many engine partitions of ``size // split`` bytes make one mini-batch of ``size`` bytes.

    The engine cuts a file into byte ranges and a row belongs to the range it starts in, so the
    ranges of ``size / m`` bytes, taken ``m`` at a time, hold exactly the rows of the ranges of
    ``size`` bytes (the differential test checks it against reads at ``size`` itself). Smaller
    ranges are read in parallel and listed at once (see ``_KEYED_READ_BYTES``): the largest
    ``m`` that divides ``size`` and keeps ranges of at least ``_ENGINE_BYTES``.
    """
    for split in range(max(1, size // _ENGINE_BYTES), 1, -1):
        if size % split == 0:
            return split
    return 1


def _cut_streams(table: Any, reader: str | None, size: int, split: int, exact: _ExactReads | None,
                 spill: _Spill, data: DataInput, source_file: object, work: Path) -> Iterator[MiniBatch]:
    index = 0
    for stream in _streams(table, data, source_file, work):
        if reader in _SIZED_READERS:
            parts = stream.partitions
            groups = [parts[k:k + split] for k in range(0, len(parts), split)]
        else:
            groups = _split_evenly(stream.partitions, math.ceil(os.path.getsize(stream.path) / size))
        row = 0
        per_read = max(1, _READ_BYTES // max(1, size))  # mini-batches per engine call, ~_READ_BYTES
        for first in range(0, len(groups), per_read):
            chunk = groups[first:first + per_read]

            def fallback(position: int, first: int = first, path: str = stream.path,
                         groups: list[list[int]] = groups) -> pd.DataFrame:
                if exact is not None:  # read at ``size`` itself, as Azure ML does
                    return exact.read(path, first + position)
                return _read(table, groups[first + position], path, data, source_file)

            for part, frame in enumerate(_read_groups(table, chunk, fallback), first):
                offset = spill.write(frame)
                label = _rows_label(stream.path, row, len(frame), part, len(groups))
                yield MiniBatch(index=index, kind="table", items=len(frame), data_path=str(spill.path),
                                data_offsets=(offset,), sources=(stream.path,), label=label)
                row += len(frame)
                index += 1


# Smallest engine partition a mini-batch is read as (see _engine_split).
_ENGINE_BYTES = 1024 * 1024

# Source bytes read per engine call when cutting a file: one call per mini-batch costs ~8 ms of
# engine start-up (measured), one call per ~64 MiB keeps memory bounded by a chunk, not the file.
_READ_BYTES = 64 * 1024 * 1024


def _read_groups(table: Any, groups: list[list[int]],
                 fallback: Callable[[int], pd.DataFrame]) -> list[pd.DataFrame]:
    """The rows of each group of engine partitions, as a DataFrame, with one engine call for all.

    The engine (rslex) returns one arrow record batch per non-empty partition, in partition
    order, and none for an empty one (measured with mltable 1.7: 1 to 2,000,000-row partitions
    are one batch each). So when a call over ``groups`` returns exactly one batch per partition,
    batch ``k`` is partition ``k``; otherwise (some range holds no row start) the groups are
    halved until that holds or one group is left, whose batches are all its rows. Each group's
    batches become a DataFrame through mltable's own converter, the code ``to_pandas_dataframe``
    runs, so dtypes are those of a per-mini-batch read; the differential test checks it. A group
    whose batches do not share one arrow schema (a range where a column is all missing can come
    back typed otherwise), or anything unexpected, is read by ``fallback(position in groups)``.
    """
    if private_api_problem() is not None:  # mltable's public API: one call per mini-batch
        return [fallback(position) for position in range(len(groups))]
    try:
        from azureml.dataprep.api._dataframereader import (
            get_dataframe_reader,  # private, as above
        )
        from azureml.dataprep.api._rslex_executor import get_rslex_executor

        partitions = [i for group in groups for i in group]
        batches, _, stream_columns = get_rslex_executor().execute_dataflow(
            table.select_partitions(partitions)._dataflow, True, False, False, False, "", None)
        columns = list(stream_columns) if stream_columns is not None else None
    except Exception:  # noqa: BLE001 - the engine's own path in fallback() raises the clear error
        return [fallback(position) for position in range(len(groups))]
    if len(groups) == 1 or len(batches) == len(partitions):
        reader = get_dataframe_reader()
        if len(groups) > 1 and _convertible_at_once(batches, columns):
            return _convert_at_once(reader, batches, groups)
        frames, at = [], 0
        for position, group in enumerate(groups):
            take = len(batches) if len(groups) == 1 else len(group)
            mine = batches[at:at + take]
            at += take
            try:
                if any(not b.schema.equals(mine[0].schema) for b in mine[1:]):
                    raise ValueError("the ranges of one mini-batch came back with different types")
                frames.append(reader.process_rslex_batches(
                    mine, columns[at - take:at] if columns is not None else None))
            except Exception:  # noqa: BLE001 - see the docstring
                frames.append(fallback(position))
        return frames
    half = len(groups) // 2
    return (_read_groups(table, groups[:half], fallback)
            + _read_groups(table, groups[half:], lambda position: fallback(position + half)))


def _convertible_at_once(batches: list[Any], columns: list[Any] | None) -> bool:
    """True when converting the batches of several groups at once, then slicing, gives each group
    exactly the frame mltable's converter gives it alone.

    The converter (``process_rslex_batches``) resolves column types over the batches it is given
    and converts with ``pyarrow.Table.to_pandas``, where only null-free integer and boolean columns
    keep their type (one missing value makes them float64 / object). So: one schema for every
    batch, no empty batch, no stream columns, and only types whose pandas dtype does not depend on
    which rows are converted together: integers and booleans without any null, floats, strings,
    timestamps and dates. Anything else is converted group by group, as before.
    """
    import pyarrow as pa

    if columns is not None and any(columns):
        return False
    schema = batches[0].schema
    if any(b.num_rows == 0 or not b.schema.equals(schema) for b in batches):
        return False
    for i, column in enumerate(schema):
        kind = column.type
        if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
            if any(b.column(i).null_count for b in batches):
                return False
        elif not (pa.types.is_floating(kind) or pa.types.is_string(kind) or pa.types.is_large_string(kind)
                  or pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
            return False
    return True


# Source bytes converted to pandas at once when small mini-batches are converted together: a
# conversion per mini-batch cost ~0.3 ms (608 mini-batches of 100 bytes); this bounds the frame held.
_CONVERT_BYTES = 8 * 1024 * 1024


def _convert_at_once(reader: Any, batches: list[Any], groups: list[list[int]]) -> list[pd.DataFrame]:
    """Each group's rows: windows of groups (~_CONVERT_BYTES) converted by mltable's converter
    at once and sliced (see :func:`_convertible_at_once` for when this equals group by group)."""
    import itertools

    import pandas as pd

    bounds = [0, *itertools.accumulate(len(group) for group in groups)]  # group k: batches bounds[k]:bounds[k+1]
    rows = [sum(b.num_rows for b in batches[bounds[k]:bounds[k + 1]]) for k in range(len(groups))]
    frames: list[pd.DataFrame] = []
    start = 0
    while start < len(groups):
        end, size = start, 0
        while end < len(groups) and (end == start or size < _CONVERT_BYTES):
            size += sum(b.nbytes for b in batches[bounds[end]:bounds[end + 1]])
            end += 1
        whole = reader.process_rslex_batches(batches[bounds[start]:bounds[end]], None)
        row = 0
        for k in range(start, end):
            part = whole.iloc[row:row + rows[k]]
            part.index = pd.RangeIndex(rows[k])  # a new frame object: sets its own axis, no copy
            frames.append(part)
            row += rows[k]
        start = end
    return frames


class _ExactReads:
    """Mini-batch ``k`` of a file read as Azure ML's worker reads it: partition ``k`` of the file
    in the table cut at ``size`` bytes. Loaded on first use (listing large ranges is slow)."""

    def __init__(self, data: DataInput, reader: str | None, size: int, source_file: object, work: Path) -> None:
        self.data, self.reader, self.size, self.source_file, self.work = data, reader, size, source_file, work
        self.table: Any = None
        self.first: dict[str, int] = {}

    def read(self, path: str, k: int) -> pd.DataFrame:
        if self.table is None:
            self.table = _load_table(self.data, self.reader, self.size, self.source_file, self.work)
            self.first = {s.path: s.first for s in _streams(self.table, self.data, self.source_file, self.work)}
        return _read(self.table, [self.first[path] + k], path, self.data, self.source_file)


def _load_table(data: DataInput, reader: str | None, size: int | None,
                source_file: object, work: Path) -> Any:
    """The input's MLTable; for byte-sized readers with ``partition_size`` set to ``size``.

    ``work`` is a folder of this division's own, for the public path's MLTable files.
    """
    import mltable
    import yaml

    try:
        table = mltable.load(str(data.path))
        missing = [name for name in _PRIVATE_TABLE_ATTRIBUTES if not hasattr(table, name)]
        if missing and private_api_problem() is None:
            _private_api_differs(f"a loaded MLTable has no {', '.join(missing)}")
        if size is None or reader not in _SIZED_READERS:
            return table
        spec = yaml.safe_load(str(table))  # paths already resolved to absolute URIs by mltable
        for step in spec["transformations"]:
            if isinstance(step, dict) and reader in step:
                step[reader]["partition_size"] = size
        if private_api_problem() is not None:  # public: the edited YAML as an MLTable file, loaded
            return mltable.load(str(_write_mltable(work, f"sized-{size}", spec)))
        # mltable's own fallback in _with_partition_size: a table from the edited YAML dict
        return type(table)._create_from_dict(spec, table._path_pairs, table._load_uri)
    except Exception as exc:
        raise _fail(data, source_file, f"mltable could not load input {data.name!r}: "
                    f"{_short(exc)}", "check the MLTable file against the MLTable schema") from exc


def _streams(table: Any, data: DataInput, source_file: object, work: Path) -> list[_Stream]:
    """Source files of ``table`` in sorted path order, with their partition index ranges."""
    try:
        if private_api_problem() is not None:
            total, per_stream = _public_partition_info(table, work)
        else:
            from azureml.dataprep.api._rslex_executor import (
                get_rslex_executor,  # private, see docstring
            )

            total, per_stream = get_rslex_executor().get_partition_info(table._dataflow)
    except Exception as exc:
        raise _fail(data, source_file, f"mltable could not list the files of input "
                    f"{data.name!r}: {_short(exc)}", "check the MLTable 'paths' entries: a "
                    "pattern that matches no file is an error") from exc
    streams, first = [], 0
    for info, count in per_stream or []:
        streams.append(_Stream(_stream_path(info), first, int(count)))
        first += int(count)
    if first != total:
        raise RuntimeError(f"mltable reported {total} partitions but {first} per file")
    _refuse_mltable_file_as_data(streams, data)
    return sorted(streams, key=lambda s: s.path)


def _public_partition_info(table: Any, work: Path) -> tuple[int, list[tuple[str, int]]]:
    """``get_partition_info`` through mltable's public API: the table's files as mltable lists
    them (its ``paths`` without transformations), and each file's partition count from a table
    that is the same YAML with that file alone (partitions never cross files, and a file's
    partitions depend only on it and the read step). Checked against the table's own count."""
    import mltable
    import yaml

    spec = yaml.safe_load(str(table))
    listing = {"paths": spec["paths"]}
    files = [_stream_path(v) for v in
             mltable.load(str(_write_mltable(work, "files", listing))).to_pandas_dataframe()["Path"]]
    per_stream = []
    for number, path in enumerate(files):
        alone = dict(spec, paths=[{"file": path}])
        count = mltable.load(str(_write_mltable(work, f"file-{number}", alone))).get_partition_count()
        per_stream.append((path, int(count)))
    total = int(table.get_partition_count())
    if sum(count for _, count in per_stream) != total:
        raise RuntimeError(f"mltable reported {total} partitions but {sum(c for _, c in per_stream)} "
                           "over its files one by one")
    return total, per_stream


def _write_mltable(work: Path, name: str, spec: dict[str, Any]) -> Path:
    """A folder under ``work`` (this division's own) holding ``spec`` as its MLTable file."""
    import yaml

    folder = work / "mltable" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MLTABLE_FILE).write_text(yaml.safe_dump(spec), encoding="utf-8")
    return folder


def _refuse_mltable_file_as_data(streams: list[_Stream], data: DataInput) -> None:
    mltable_file = os.path.join(os.path.abspath(data.path), MLTABLE_FILE)
    if any(s.path == mltable_file for s in streams):
        raise UserError("the MLTable's paths include the MLTable file itself, which would be read "
                        "as data (on Azure ML too).", file=mltable_file, key="paths",
                        fix="list the data files, e.g. 'paths: [{pattern: ./*.csv}]', instead of "
                        "'folder: ./'")


def _split_evenly(items: list[int], chunks: int) -> list[list[int]]:
    """Cut ``items`` into ``chunks`` contiguous runs of about equal length (at most one each)."""
    if not items:
        return []
    chunks = max(1, min(len(items), chunks))
    bounds = [len(items) * k // chunks for k in range(chunks + 1)]
    return [items[bounds[k]:bounds[k + 1]] for k in range(chunks)]


def _read(table: Any, partitions: list[int], path: str, data: DataInput,
          source_file: object) -> pd.DataFrame:
    try:
        return table.select_partitions(partitions).to_pandas_dataframe()
    except Exception as exc:
        raise _fail(data, source_file, f"mltable could not read {path} of input {data.name!r}: "
                    f"{_short(exc)}", "check that the file matches the MLTable's read "
                    "transformation (delimiter, header, encoding)") from exc


def _rows_label(path: str, start: int, rows: int, part: int, parts: int) -> str:
    name = os.path.basename(path)
    if rows:
        return f"{name} rows {start}-{start + rows - 1}"
    return f"{name} no rows (range {part + 1} of {parts})"


def _short(exc: BaseException) -> str:
    """mltable errors span many lines; keep the lines that say what went wrong."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    picked = [ln for ln in lines if ln.startswith(("Error Code", "Error Message"))] or lines[:1]
    return " ".join(picked)[:400] or type(exc).__name__


# --------------------------------------------------------------------------- mltable's private API

# What the fast path calls, as mltable 1.7.0 / azureml-dataprep 5.5.0 define it: (owner, name,
# parameters). A version where any of these is missing or takes other parameters is divided
# through mltable's public API instead (same mini-batches, one mltable call per mini-batch).
# The attributes of a loaded MLTable it reads are checked on the input's own table.
_PRIVATE_TABLE_ATTRIBUTES = ("_path_pairs", "_load_uri", "_dataflow")
_PRIVATE_API: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("mltable.MLTable", "_create_from_dict", ("mltable_yaml_dict", "path_pairs", "load_uri")),
    ("azureml.dataprep.api._rslex_executor", "get_rslex_executor", ()),
    ("rslex executor", "get_partition_info", ("script", "traceparent")),
    ("rslex executor", "execute_dataflow", ("script", "collect_results", "fail_on_error", "fail_on_mixed_types",
                                            "fail_on_out_of_range_datetime", "traceparent", "partition_ids")),
    ("azureml.dataprep.api._dataframereader", "get_dataframe_reader", ()),
    ("dataframe reader", "process_rslex_batches", ("batches", "stream_columns")),
)
_PRIVATE_API_STATE: list[str | None] = []  # [] until checked, then [None] or [what differs]


def private_api_problem() -> str | None:
    """None if the private mltable API of the fast path is as checked on mltable 1.7; else what
    differs (the first time, also logged once as a warning of logger ``tenantml.division``)."""
    if not _PRIVATE_API_STATE:
        problem = _check_private_api()
        _PRIVATE_API_STATE.append(None)
        if problem is not None:
            _private_api_differs(problem)
    return _PRIVATE_API_STATE[0]


def _private_api_differs(problem: str) -> None:
    """From now on, the public path; said once."""
    import logging

    _PRIVATE_API_STATE[:] = [problem]
    logging.getLogger("tenantml.division").warning(
        "mltable %s: its private API differs from mltable 1.7's (%s); dividing through mltable's "
        "public API instead: the same mini-batches, one mltable call per mini-batch (slower)",
        _version("mltable"), problem)


def _check_private_api() -> str | None:
    import inspect

    try:
        import mltable
        from azureml.dataprep.api import _dataframereader, _rslex_executor

        owners: dict[str, Any] = {"mltable.MLTable": mltable.MLTable,
                                  "azureml.dataprep.api._rslex_executor": _rslex_executor,
                                  "azureml.dataprep.api._dataframereader": _dataframereader}
        owners["rslex executor"] = type(_rslex_executor.get_rslex_executor())
        owners["dataframe reader"] = type(_dataframereader.get_dataframe_reader())
    except Exception as exc:  # noqa: BLE001 - any failure here means: do not use it
        return f"{type(exc).__name__}: {exc}"
    for owner, name, parameters in _PRIVATE_API:
        function = getattr(owners[owner], name, None)
        if not callable(function):
            return f"{owner}.{name} is missing"
        try:
            got = tuple(p for p in inspect.signature(function).parameters if p != "self")
        except (TypeError, ValueError):
            return f"{owner}.{name} has no signature to check"
        if got != parameters:
            return f"{owner}.{name}({', '.join(got)}) is not ({', '.join(parameters)})"
    return None


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "(version unknown)"


# --------------------------------------------------------------------------- spill files


class _Spill:
    """One spill file per division: each mini-batch's rows are a pickled frame at an offset.

    One file, not one per mini-batch: creating a file cost more than cutting and pickling a small
    mini-batch (measured ~0.3 ms per file on ext4). Pickle keeps dtypes exactly. Flushed before
    each offset is handed out, so a reader never sees a partial frame at a published offset.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = open(path, "wb")  # noqa: SIM115 - a context manager itself: closed by __exit__

    def write(self, frame: pd.DataFrame) -> int:
        offset = self._fh.tell()
        pickle.dump(frame, self._fh, protocol=pickle.HIGHEST_PROTOCOL)
        self._fh.flush()
        return offset

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


def _read_spill(path: Path, offsets: Sequence[int] = ()) -> pd.DataFrame:
    """The frames pickled at ``offsets`` of ``path`` (all of them if none), as one frame."""
    import pandas as pd

    frames = []
    with open(path, "rb") as fh:
        if offsets:
            for offset in offsets:
                fh.seek(offset)
                frames.append(pickle.load(fh))
        else:
            while True:
                try:
                    frames.append(pickle.load(fh))
                except EOFError:
                    break
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# --------------------------------------------------------------------------- partition_keys


@dataclass
class _Partition:
    number: int  # order of first appearance
    rows: int = 0
    offsets: list[int] = field(default_factory=list)  # its frames in the spill file
    sources: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def _partitioned_table(data: DataInput, reader: str | None, keys: tuple[str, ...], spill_dir: Path,
                       source_file: object) -> Iterator[MiniBatch]:
    table = _load_table(data, reader, _KEYED_READ_BYTES, source_file, spill_dir)
    parts: dict[tuple[Any, ...], _Partition] = {}
    held = _Held()
    with _Spill(spill_dir / "partitions.pkl") as spill:
        for stream in _streams(table, data, source_file, spill_dir):
            if not stream.count:
                continue
            frame = _read(table, stream.partitions, stream.path, data, source_file)
            if frame.empty and not len(frame.columns):
                continue  # a JSON-lines file of blank lines: no rows, so no columns to look for
            _check_columns(keys, frame.columns, data, source_file)
            held.add(frame, _partition_codes(frame, keys, parts, stream.path), os.path.getsize(stream.path))
            del frame  # held: the only reference, so a flush frees it
            if held.bytes >= _HOLD_BYTES:
                held.flush(parts, spill)
        held.flush(parts, spill)
    for index, (key, part) in enumerate(sorted(parts.items(), key=lambda kv: _sort_key(kv[0]))):
        yield MiniBatch(index=index, kind="table", items=part.rows, data_path=str(spill.path),
                        data_offsets=tuple(part.offsets), sources=tuple(part.sources),
                        partition_key_value=dict(zip(keys, key)), label=_partition_label(keys, key))


# Engine partitions of this size when a table is read whole for partition_keys: the engine reads
# partitions in parallel, and lists small ones at once (measured, a 36 MB CSV: listing 1.7 s and
# reading 3.9 s with the default 20 MB partitions; 0.06 s and 1.5 s with 1 MiB ones). Which
# partition a row lands in does not matter here: a file's partitions are read whole, in order.
_KEYED_READ_BYTES = 1024 * 1024

# Rows of several files are held before they go to the spill file, so a partition spread over
# many files costs one frame per ~_HOLD_BYTES of input, not one per file. Memory is bounded by
# this, not the input: the held rows, and at a flush their concatenation sorted by partition.
# Measured on the scale benchmark's table (10 CSV files of 14 MiB, 5,000,000 rows, 10,000
# partitions; mltable types files 0-1 and 2-9 differently, so the first flush holds two runs), in
# process at load average ~3: the code before this layout (one concat per partition, 128 MiB):
# 24.9 s, 19.5 s CPU, peak RSS 845 MiB, a worker loads a mini-batch (one frame) in 0.15 ms. Now,
# 128 MiB: 15.0 s, 11.4 s CPU, 917 MiB, 2 frames, 0.58 ms; 32 MiB: 12.9 s, 12.6 s CPU, 501 MiB,
# 4-5 frames, 1.0 ms; a flush per file: 370 MiB, 10 frames, 2 ms (the floor, imports and one
# mltable read, is ~260 MiB). pandas.concat's ~0.5 ms is paid from two frames on, so past one frame
# a smaller hold costs workers little more.
_HOLD_BYTES = 32 * 1024 * 1024


def _partition_codes(frame: pd.DataFrame, keys: Sequence[str], parts: dict[tuple[Any, ...], _Partition],
                     path: str) -> Any:
    """Each row's partition number (first appearance over the whole input), counting its rows."""
    import numpy as np

    codes, groups = _group_codes(frame, keys)
    numbers = np.empty(len(groups), dtype=np.int64)
    counts = np.bincount(codes, minlength=len(groups)).tolist() if len(groups) else []
    for group, key in enumerate(groups):
        part = parts.setdefault(key, _Partition(len(parts)))
        numbers[group] = part.number
        part.rows += counts[group]
        if not part.sources or part.sources[-1] != path:  # files are read one after the other
            part.sources.append(path)
    return numbers[codes] if len(groups) else codes


class _Held:
    """Source rows read but not yet in the spill file, with each row's partition number."""

    def __init__(self) -> None:
        self.frames: list[pd.DataFrame] = []
        self.codes: list[Any] = []
        self.bytes = 0  # source bytes behind the held rows

    def add(self, frame: pd.DataFrame, codes: Any, nbytes: int) -> None:
        self.frames.append(frame)
        self.codes.append(codes)
        self.bytes += nbytes

    def flush(self, parts: dict[tuple[Any, ...], _Partition], spill: _Spill) -> None:
        """Write each partition's held rows to the spill, in input order.

        Consecutive held frames with one set of dtypes (mltable types the files of a table alike
        unless a file holds values its inferred type cannot take) are concatenated once, put in
        partition order by one stable sort and sliced: one concat, sort and take per such run of
        files, and one frame per partition and run. :func:`load_mini_batch` concatenates a
        partition's frames in input order, so its dtypes are what ``pandas.concat`` of its rows
        file by file gives (a run is all-missing in a column exactly when its files' rows are).
        """
        import numpy as np
        import pandas as pd

        runs: list[tuple[list[pd.DataFrame], list[Any]]] = []
        for frame, codes in zip(self.frames, self.codes):
            if runs and runs[-1][0][0].dtypes.equals(frame.dtypes):
                runs[-1][0].append(frame)
                runs[-1][1].append(codes)
            else:
                runs.append(([frame], [codes]))
        self.frames, self.codes, self.bytes = [], [], 0
        by_number = {part.number: part for part in parts.values()}
        while runs:
            frames, codes = runs.pop(0)
            whole = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
            del frames
            for number, rows in _slices_by_code(whole, codes[0] if len(codes) == 1 else np.concatenate(codes),
                                                len(by_number)):
                by_number[number].offsets.append(spill.write(rows))
            del whole


def _slices_by_code(frame: pd.DataFrame, codes: Any, count: int) -> Iterator[tuple[int, pd.DataFrame]]:
    """The rows of ``frame`` with each code in ``range(count)`` that has any, in row order."""
    import numpy as np
    import pandas as pd

    small = codes.astype(np.int16) if count < 2**15 else codes  # numpy radix-sorts 16-bit ints
    order = np.argsort(small, kind="stable")
    sizes = np.bincount(codes, minlength=count)
    bounds = np.concatenate(([0], np.cumsum(sizes))).tolist()
    ordered = frame.take(order)
    for code in np.flatnonzero(sizes).tolist():
        rows = ordered.iloc[bounds[code]:bounds[code + 1]]
        rows.index = pd.RangeIndex(len(rows))  # a new frame object: sets its own axis, no copy
        yield code, rows


def _partitioned_files(data: DataInput, keys: tuple[str, ...],
                       source_file: object) -> Iterator[MiniBatch]:
    frame = _mltable_frame(data, source_file)
    _check_columns(keys, frame.columns, data, source_file)
    root = os.path.abspath(data.path)
    parts: dict[tuple[Any, ...], _Partition] = {}
    paths = frame["Path"].tolist()
    for key, rows in _group_rows(frame, keys).items():
        part = parts.setdefault(key, _Partition(len(parts)))
        part.files.extend(_stream_paths([paths[i] for i in rows], root))
    ordered = sorted(parts.items(), key=lambda kv: _sort_key(kv[0]))
    for index, (key, part) in enumerate(ordered):
        files = tuple(sorted(set(part.files)))
        yield MiniBatch(index=index, kind="files", items=len(files), files=files,
                        partition_key_value=dict(zip(keys, key)), label=_partition_label(keys, key))


def _group_slices(frame: pd.DataFrame,
                  keys: Sequence[str]) -> Iterator[tuple[tuple[Any, ...], pd.DataFrame]]:
    """Each distinct key combination of ``frame`` with its rows, as :func:`_group_rows` groups them
    (the same groups, keys and first-seen order; a property test checks it)."""
    codes, groups = _group_codes(frame, keys)
    for code, rows in _slices_by_code(frame, codes, len(groups)):
        yield groups[code], rows


def _group_codes(frame: pd.DataFrame, keys: Sequence[str]) -> tuple[Any, list[tuple[Any, ...]]]:
    """Each row's group number and each group's key tuple, groups numbered in first-seen order.

    The groups of :func:`_group_rows` (that exact reference) without a Python step per row and key:
    values are coded per column (:func:`_column_codes`), codes combined with numpy, and
    combinations whose key tuples are equal as dict keys merged (``True == 1``, every missing value
    is None).
    """
    import numpy as np

    codes, values = _combined_codes(frame, keys)
    first = np.full(len(values), len(frame), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(frame), dtype=np.int64))
    canonical: dict[tuple[Any, ...], int] = {}
    groups: list[tuple[Any, ...]] = []
    remap = np.empty(len(values), dtype=np.int64)
    for code in np.argsort(first, kind="stable").tolist():
        if values[code] not in canonical:
            canonical[values[code]] = len(groups)
            groups.append(values[code])
        remap[code] = canonical[values[code]]
    return (remap[codes] if len(values) else codes), groups


def _combined_codes(frame: pd.DataFrame, keys: Sequence[str]) -> tuple[Any, list[tuple[Any, ...]]]:
    """Dense codes of the key columns' value combinations, and each code's tuple of key values."""
    import numpy as np

    codes, normals = _column_codes(frame[keys[0]])
    values = [(normal,) for normal in normals]
    for key in keys[1:]:
        column_codes, normals = _column_codes(frame[key])
        width = max(1, len(normals))
        unique, inverse = np.unique(codes * width + column_codes, return_inverse=True)
        values = [values[u // width] + (normals[u % width],) for u in unique.tolist()]
        codes = inverse.reshape(-1)
    return codes, values


def _column_codes(column: pd.Series) -> tuple[Any, list[Any]]:
    """Dense integer codes of a column's distinct values, and each one's key (:func:`_json_scalar`).

    Numbers, booleans and datetimes are coded by numpy (exact). Columns of strings (and missing
    values) by ``pandas.factorize``, checked value by value against the uniques it returns (pandas
    has hashed object strings as C strings, so ``""`` and ``"\x00"`` could share a code); other
    columns, and strings that fail the check, by a Python dict of ``(type, value)`` (exact; the type
    keeps ``True`` and ``1`` apart here, :func:`_group_slices` merges equal keys as the reference).
    """
    import numpy as np
    import pandas as pd

    array = column.to_numpy() if isinstance(column.dtype, np.dtype) else None
    if array is not None and array.dtype.kind in "biufM":
        unique, inverse = np.unique(array, return_inverse=True)
        return inverse.reshape(-1), [_json_scalar(v) for v in unique]
    if array is not None and array.dtype == object and pd.api.types.infer_dtype(array, skipna=True) == "string":
        codes, uniques = pd.factorize(array, use_na_sentinel=False)
        uniques = np.asarray(uniques, dtype=object)
        differ = np.flatnonzero(uniques[codes] != array)  # only missing values may differ (NaN != NaN)
        if not len(differ) or bool(pd.isna(array[differ]).all() and pd.isna(uniques[codes[differ]]).all()):
            return codes.astype(np.int64), [_json_scalar(v) for v in uniques]
    cells = column.tolist()
    seen: dict[Any, int] = {}
    try:
        raw = [seen.setdefault((type(v), v), len(seen)) for v in cells]
    except TypeError:  # an unhashable cell: one code per row
        return np.arange(len(cells), dtype=np.int64), [_json_scalar(v) for v in cells]
    return np.asarray(raw, dtype=np.int64), [_json_scalar(v) for _, v in seen]


def _group_rows(frame: pd.DataFrame, keys: Sequence[str]) -> dict[tuple[Any, ...], list[int]]:
    """Row positions of each distinct key combination, in first-seen order.

    Not ``DataFrame.groupby``: pandas hashes object strings as C strings, so ``""`` and
    ``"\\x00"`` (and ``"a"``/``"a\\x00b"``) land in one group. Python's own hashing is exact;
    values are normalised once per distinct value (every missing value is one key, None).
    """
    memo: dict[Any, Any] = {}

    def normal(value: Any) -> Any:
        token = (type(value), value)  # the type too: True, 1 and 1.0 are equal dict keys
        try:
            return memo[token]
        except KeyError:
            memo[token] = _json_scalar(value)
            return memo[token]
        except TypeError:  # unhashable cell
            return _json_scalar(value)

    groups: dict[tuple[Any, ...], list[int]] = {}
    columns = [frame[k].tolist() for k in keys]
    for position, values in enumerate(zip(*columns)):
        groups.setdefault(tuple(normal(v) for v in values), []).append(position)
    return groups


def _json_scalar(value: Any) -> Any:
    """A key value as a JSON-able python scalar; every kind of missing value becomes None."""
    import numpy as np
    import pandas as pd

    if value is None or isinstance(value, str):
        return value
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):  # not a scalar
        pass
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bool, int, float)):
        return value
    return str(value)


def _sort_key(key: tuple[Any, ...]) -> tuple[tuple[int, Any], ...]:
    return tuple((2, 0) if v is None else (1, v) if isinstance(v, str) else (0, v) for v in key)


def _partition_label(keys: Sequence[str], values: Sequence[Any]) -> str:
    return ", ".join(f"{k}={_label_value(v)}" for k, v in zip(keys, values))


def _label_value(value: Any) -> str:
    text = "(missing)" if value is None else str(value)
    return text if text.isprintable() else repr(text)
