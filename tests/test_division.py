"""Division of an input into mini-batches: invariants, against real files and real mltable.

Tabular expectations are always mltable's own full read of the same MLTable: concatenating the
mini-batches in index order must give exactly that DataFrame, dtypes included.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

import tenantml.division as division
from tenantml.division import MiniBatch, is_tabular, iter_mini_batches, load_mini_batch
from tenantml.errors import UserError
from tenantml.minibatch_size import (DEFAULT_FILES_PER_MINI_BATCH, DEFAULT_TABULAR_BYTES,
                                     parse_mini_batch_size)
from tenantml.backends.local.mltable_support import route_mltable_logs, skip_discarded_call_stacks
from tenantml.spec import DataInput

REPO = Path(__file__).resolve().parents[1]
# Each mltable read costs 20-50 ms: modest example counts, and no shrinking (minutes when
# a case fails; the failing example is reported unshrunk).
MLTABLE_PHASES = (Phase.explicit, Phase.reuse, Phase.generate)


@pytest.fixture(scope="session", autouse=True)
def _mltable_logs(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep this test process's mltable logs out of $TMPDIR/azureml-logs, and halve its CPU.

    ``skip_discarded_call_stacks`` only drops a telemetry string nobody records; reads are real.
    """
    try:
        route_mltable_logs(tmp_path_factory.mktemp("mltable-logs"))
    except RuntimeError:  # another test module already started mltable's engine
        pass
    skip_discarded_call_stacks()


# --------------------------------------------------------------------------- helpers


def folder_input(path: Path) -> DataInput:
    return DataInput(name="data", type="uri_folder", path=path)


def mltable_input(path: Path) -> DataInput:
    return DataInput(name="data", type="mltable", path=path)


def write_mltable(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MLTable").write_text(textwrap.dedent(body), encoding="utf-8")
    return folder


def delimited_mltable(folder: Path, extra: str = "") -> Path:
    body = textwrap.dedent("""\
        paths:
          - pattern: ./*.csv
        transformations:
          - read_delimited:
              delimiter: ","
              header: all_files_same_headers
        """)
    return write_mltable(folder, body + extra)


def table_files(folder: Path, files: list, fmt: str) -> tuple[Path, int]:
    """An MLTable over one CSV or JSON-lines file per entry of ``files`` (rows of id, s, flag), and their bytes."""
    if fmt == "csv":
        folder = delimited_mltable(folder)
    else:
        folder = write_mltable(folder, "paths:\n  - pattern: ./*.jsonl\n"
                               "transformations:\n  - read_json_lines:\n      encoding: utf8\n")
    total = 0
    for i, rows in enumerate(files):
        frame = pd.DataFrame(rows, columns=["id", "s", "flag"])
        path = folder / f"part_{i}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_json(path, orient="records", lines=True)
        total += path.stat().st_size
    return folder, total


def divide(data: DataInput, spill: Path, size: str | int | None = None,
           keys: tuple[str, ...] = ()) -> list[MiniBatch]:
    return list(iter_mini_batches(data, mini_batch_size=size, partition_keys=keys,
                                  spill_dir=spill))


def mltable_read(folder: Path) -> pd.DataFrame:
    import mltable

    return mltable.load(str(folder)).to_pandas_dataframe()


def concat(batches: list[MiniBatch]) -> pd.DataFrame:
    """The rows run() would see, in index order (empty mini-batches never reach run())."""
    return pd.concat([load_mini_batch(mb) for mb in batches if mb.items], ignore_index=True)


def assert_dense(batches: list[MiniBatch]) -> None:
    assert [mb.index for mb in batches] == list(range(len(batches)))
    for mb in batches:
        assert MiniBatch.from_json(mb.to_json()) == mb
        assert mb.label


# --------------------------------------------------------------------------- mini_batch_size

UNITS = {"": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}
SIZE_RE = re.compile(r"[0-9]+([kKmMgG][bB])?")


@pytest.mark.parametrize("value, tabular, expected", [
    (None, False, 1), ("1", False, 1), (7, False, 7), ("010", False, 10),
    (None, True, 1024**2), ("10kb", True, 10240), ("10KB", True, 10240), ("1Mb", True, 1024**2),
    ("2gB", True, 2 * 1024**3), ("123", True, 123), (4096, True, 4096),
])
def test_mini_batch_size_valid(value: object, tabular: bool, expected: int) -> None:
    assert parse_mini_batch_size(value, tabular=tabular) == expected  # type: ignore[arg-type]


def test_mini_batch_size_defaults_are_documented_values() -> None:
    assert DEFAULT_FILES_PER_MINI_BATCH == 1
    assert DEFAULT_TABULAR_BYTES == 1024 * 1024


@pytest.mark.parametrize("value, tabular, fix", [
    ("0kb", False, 'number of files such as "10"'), ("0", False, "number of files"),
    ("-1", False, "number of files"), ("abc", False, "number of files"),
    ("1.5", False, "number of files"), ("", False, "number of files"), (0, False, "files"),
    (True, False, "files"), (1.5, False, "files"), ("٣", False, "files"),
    ("10xb", True, '"10kb", "1mb"'), ("0", True, "size"), ("-1", True, "size"),
    ("abc", True, "size"), ("0kb", True, "size"), ("10 kb", True, "size"), ("1tb", True, "size"),
    ("10k", True, "size"), ("١٠kb", True, "size"), ("10kb\n", True, "size"), (-5, True, "size"),
])
def test_mini_batch_size_invalid(value: object, tabular: bool, fix: str) -> None:
    with pytest.raises(UserError) as info:
        parse_mini_batch_size(value, tabular=tabular, file="job.yml",  # type: ignore[arg-type]
                              key="jobs.score.mini_batch_size")
    assert "job.yml: jobs.score.mini_batch_size:" in info.value.message
    assert fix in info.value.message


@settings(max_examples=200, deadline=None)
@given(number=st.integers(0, 10**7), unit=st.sampled_from(sorted(UNITS)),
       upper=st.lists(st.booleans(), min_size=2, max_size=2))
def test_mini_batch_size_regex_units(number: int, unit: str, upper: list[bool]) -> None:
    spelled = "".join(c.upper() if up else c for c, up in zip(unit, upper))
    text = f"{number}{spelled}"
    if number == 0:
        with pytest.raises(UserError):
            parse_mini_batch_size(text, tabular=True)
    else:
        assert parse_mini_batch_size(text, tabular=True) == number * UNITS[unit]
        # file input: azure-ai-ml sends the same number, and Azure ML counts files (conformance case)
        assert parse_mini_batch_size(text, tabular=False) == number * UNITS[unit]


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=8), st.from_regex(r"\A-?[0-9]{1,4}[a-zA-Z]{0,3}\Z")))
def test_mini_batch_size_accepts_exactly_the_regex(text: str) -> None:
    match = SIZE_RE.fullmatch(text)
    valid = match is not None and int(re.match(r"[0-9]+", text).group()) > 0  # type: ignore[union-attr]
    try:
        parse_mini_batch_size(text, tabular=True)
        accepted = True
    except UserError:
        accepted = False
    assert accepted == valid


# --------------------------------------------------------------------------- file input

FILE_PATHS = st.lists(
    st.tuples(st.lists(st.sampled_from(["d1", "d10", "d2", "D", "é"]), max_size=2),
              st.text(alphabet="abAB019_-.ü", min_size=1, max_size=6)),
    min_size=0, max_size=40)


@settings(max_examples=60, deadline=None)
@given(entries=FILE_PATHS, size=st.integers(1, 7))
def test_folder_division_invariants(tmp_path_factory: pytest.TempPathFactory,
                                    entries: list[tuple[list[str], str]], size: int) -> None:
    root = tmp_path_factory.mktemp("folder")
    created = set()
    for dirs, name in entries:
        assume(name not in (".", ".."))
        path = root.joinpath(*dirs, "f" + name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
        created.add(str(path))
    batches = divide(folder_input(root), root / "unused-spill", str(size))
    flat = [f for mb in batches for f in mb.files]
    assert flat == sorted(created)  # every file exactly once, sorted by path string
    assert all(mb.kind == "files" and mb.items == len(mb.files) for mb in batches)
    assert all(mb.items == size for mb in batches[:-1])
    assert all(1 <= mb.items <= size for mb in batches)
    assert_dense(batches)
    assert all(load_mini_batch(mb) == list(mb.files) for mb in batches)
    assert not (root / "unused-spill").exists()


def test_folder_order_is_lexicographic_like_azure_ml(tmp_path: Path) -> None:
    for i in (1, 2, 10, 11, 12):
        (tmp_path / f"tenant_{i}.csv").write_text("x")
    batches = divide(folder_input(tmp_path), tmp_path / "spill")
    assert [mb.label for mb in batches] == ["tenant_1.csv", "tenant_10.csv", "tenant_11.csv",
                                            "tenant_12.csv", "tenant_2.csv"]
    assert [len(mb.files) for mb in batches] == [1] * 5  # default: one file per mini-batch


def test_labels_of_multi_file_mini_batches(tmp_path: Path) -> None:
    for name in "abcde":
        (tmp_path / f"{name}.csv").write_text("x")
    labels = [mb.label for mb in divide(folder_input(tmp_path), tmp_path / "s", "5")]
    assert labels == ["a.csv, b.csv (+3)"]


def test_empty_folder_has_no_mini_batches(tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    assert divide(folder_input(tmp_path / "empty"), tmp_path / "spill") == []


def test_uri_file_is_one_mini_batch(tmp_path: Path) -> None:
    (tmp_path / "one.csv").write_text("a\n1\n")
    data = DataInput(name="data", type="uri_file", path=tmp_path / "one.csv")
    batches = divide(data, tmp_path / "spill", "10")
    assert [mb.files for mb in batches] == [(str(tmp_path / "one.csv"),)]


@pytest.fixture
def ram_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder in RAM when there is one: creating 100,000 files on a busy disk takes minutes."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(dir=shm, prefix="tenantml-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow  # mltable or 100k files
def test_hundred_thousand_files_fast_and_without_mltable(ram_dir: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    root = ram_dir / "many"
    for d in range(100):
        folder = root / f"tenant_{d}"
        folder.mkdir(parents=True)
        for i in range(1000):
            open(folder / f"part_{i}.csv", "w").close()  # noqa: SIM115
    monkeypatch.setitem(sys.modules, "mltable", None)  # any `import mltable` now fails
    started, cpu_started = time.perf_counter(), time.process_time()
    count = sum(mb.items for mb in iter_mini_batches(folder_input(root), mini_batch_size="1",
                                                     spill_dir=tmp_path / "spill"))
    cpu = time.process_time() - cpu_started  # user + system time: robust on a busy machine
    wall = time.perf_counter() - started
    assert count == 100_000
    assert cpu < 1.0, f"listing + yielding 100,000 files took {cpu:.2f} s CPU ({wall:.2f} s wall)"


# --------------------------------------------------------------------------- file MLTable


def test_file_mltable_never_yields_the_mltable_file(tmp_path: Path) -> None:
    folder = write_mltable(tmp_path / "m", "paths:\n  - folder: ./\n")
    (folder / "sub").mkdir()
    for name in ("b.txt", "a.txt", "sub/c.bin"):
        (folder / name).write_text("x")
    data = mltable_input(folder)
    assert not is_tabular(data)
    batches = divide(data, tmp_path / "spill", "2")
    assert [list(mb.files) for mb in batches] == [
        [str(folder / "a.txt"), str(folder / "b.txt")], [str(folder / "sub/c.bin")]]


def test_file_mltable_pattern_and_file_entries(tmp_path: Path) -> None:
    folder = write_mltable(tmp_path / "m", """\
        paths:
          - pattern: ./x/*.csv
          - file: ./y.csv
          - file: ./x/2.csv
        """)
    (folder / "x").mkdir()
    for name in ("x/2.csv", "x/1.csv", "x/skip.txt", "y.csv"):
        (folder / name).write_text("x")
    batches = divide(mltable_input(folder), tmp_path / "spill", 10)
    assert batches[0].files == tuple(str(folder / n) for n in ("x/1.csv", "x/2.csv", "y.csv"))
    assert len(batches) == 1


def test_file_mltable_missing_file_entry(tmp_path: Path) -> None:
    folder = write_mltable(tmp_path / "m", "paths:\n  - file: ./nope.csv\n")
    with pytest.raises(UserError) as info:
        divide(mltable_input(folder), tmp_path / "spill")
    assert "nope.csv" in info.value.message and str(folder / "MLTable") in info.value.message


def test_file_mltable_partition_format_partition_keys(tmp_path: Path) -> None:
    folder = write_mltable(tmp_path / "m", """\
        paths:
          - pattern: ./**/*.csv
        transformations:
          - extract_columns_from_partition_format:
              partition_format: /store={store}/{name}.csv
        """)
    for store, name in (("2", "g"), ("1", "f"), ("2", "h")):
        (folder / f"store={store}").mkdir(exist_ok=True)
        (folder / f"store={store}" / f"{name}.csv").write_text("x")
    batches = divide(mltable_input(folder), tmp_path / "spill", keys=("store",))
    assert [mb.partition_key_value for mb in batches] == [{"store": "1"}, {"store": "2"}]
    assert [mb.files for mb in batches] == [
        (str(folder / "store=1/f.csv"),),
        (str(folder / "store=2/g.csv"), str(folder / "store=2/h.csv"))]
    assert load_mini_batch(batches[1]) == list(batches[1].files)


# --------------------------------------------------------------------------- tabular input

HOSTILE_KEYS = ["", "\x00", "a", "a\x00b", "nul\x00end", "ünï", " ", "1"]

ROWS = st.lists(st.tuples(st.integers(-10**6, 10**6),
                          st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 3)),
                          st.text(alphabet="abcXYZ", min_size=1, max_size=12)),
                max_size=60)


@pytest.mark.slow  # mltable or 100k files
@settings(max_examples=15, deadline=None, phases=MLTABLE_PHASES,
          suppress_health_check=[HealthCheck.too_slow])
@given(files=st.lists(ROWS, min_size=1, max_size=3), data=st.data(),
       extra=st.sampled_from(["", "  - keep_columns: [s, id]\n",
                              "  - convert_column_types:\n      - columns: id\n"
                              "        column_type: float\n"]))
def test_table_division_matches_mltable(tmp_path_factory: pytest.TempPathFactory,
                                        files: list[list[tuple[int, float, str]]],
                                        data: st.DataObject, extra: str) -> None:
    root = tmp_path_factory.mktemp("table")
    folder = delimited_mltable(root / "t", extra)
    sizes = {}
    for i, rows in enumerate(files):
        path = folder / f"part_{i}.csv"
        pd.DataFrame(rows, columns=["id", "x", "s"]).to_csv(path, index=False)
        sizes[str(path)] = path.stat().st_size
    total = sum(sizes.values())
    size = data.draw(st.integers(max(16, total // 12), total + 50), label="mini_batch_size")

    batches = divide(mltable_input(folder), root / "spill", str(size))
    expected = mltable_read(folder)

    assert_dense(batches)
    if len(expected):
        pd.testing.assert_frame_equal(concat(batches), expected)  # every row once, in order, dtypes
    assert sum(mb.items for mb in batches) == len(expected)
    for mb in batches:
        frame = load_mini_batch(mb)
        assert isinstance(frame, pd.DataFrame) and mb.kind == "table"
        assert len(frame) == mb.items
        if mb.items:  # an empty byte range reads as a frame without columns
            assert dict(frame.dtypes) == dict(expected.dtypes)
        assert len(mb.sources) == 1  # never crosses a file
        assert Path(mb.data_path).parent == root / "spill"  # type: ignore[arg-type]
    order = [mb.sources[0] for mb in batches]
    assert order == sorted(order)  # files in path order, each file's mini-batches contiguous
    for path, nbytes in sizes.items():  # Azure ML's (mltable's) cut: ceil(bytes / size) ranges
        assert order.count(path) == math.ceil(nbytes / size)


def mltable_partition_reads(folder: Path, size: int, work: Path) -> list[pd.DataFrame]:
    """What Azure ML's workers read: the table with ``partition_size``, one
    ``select_partitions([i]).to_pandas_dataframe()`` per engine partition, files in path order."""
    import mltable
    import yaml
    from azureml.dataprep.api._rslex_executor import get_rslex_executor

    spec = yaml.safe_load(str(mltable.load(str(folder))))
    for step in spec["transformations"]:
        for reader in ("read_delimited", "read_json_lines"):
            if isinstance(step, dict) and reader in step:
                step[reader]["partition_size"] = size
    work.mkdir(parents=True)
    (work / "MLTable").write_text(yaml.safe_dump(spec), encoding="utf-8")
    table = mltable.load(str(work))
    _, per_stream = get_rslex_executor().get_partition_info(table._dataflow)
    ranges, first = [], 0
    for info, count in per_stream:
        ranges.append((str(getattr(info, "resource_identifier", info)), first, int(count)))
        first += int(count)
    return [table.select_partitions([i]).to_pandas_dataframe()
            for _, start, count in sorted(ranges) for i in range(start, start + count)]


NULLABLE_ROWS = st.lists(st.tuples(st.one_of(st.none(), st.integers(-10**6, 10**6)),
                                   st.text(alphabet="ab,\"x ", max_size=150),
                                   st.one_of(st.none(), st.booleans())),
                         max_size=40)


@pytest.mark.slow  # mltable or 100k files
@settings(max_examples=12, deadline=None, phases=MLTABLE_PHASES,
          suppress_health_check=[HealthCheck.too_slow])
@given(files=st.lists(NULLABLE_ROWS, min_size=1, max_size=3), data=st.data(),
       fmt=st.sampled_from(["csv", "jsonl"]))
def test_each_mini_batch_is_the_partition_azure_ml_reads(tmp_path_factory: pytest.TempPathFactory,
                                                         files: list[list[tuple[Any, str, Any]]],
                                                         data: st.DataObject, fmt: str) -> None:
    """Differential: tenantml cuts one read in memory (of ranges S/m bytes long, m at a time);
    Azure ML's worker reads its partition of S bytes alone.

    Every mini-batch must equal that per-partition read exactly, dtypes included: a range whose
    nullable integers hold no null is int64 there, float64 where one is missing; lines longer
    than the size leave ranges with no row start (empty mini-batches).
    """
    root = tmp_path_factory.mktemp("cut")
    folder, total = table_files(root / "t", files, fmt)
    size = data.draw(st.integers(16, max(16, total // 2)), label="mini_batch_size")
    # tenantml reads a mini-batch of S bytes as m engine ranges of S/m (>= _ENGINE_BYTES) bytes
    engine_bytes = data.draw(st.sampled_from([division._ENGINE_BYTES, 4, 8, 16]), label="engine bytes")

    with mock.patch.object(division, "_ENGINE_BYTES", engine_bytes):
        batches = divide(mltable_input(folder), root / "spill", str(size))
    reference = mltable_partition_reads(folder, size, root / "reference")

    assert len(batches) == len(reference)
    for mb, expected in zip(batches, reference):
        got = load_mini_batch(mb)
        pd.testing.assert_frame_equal(got, expected)
        assert mb.items == len(expected)


ELIGIBLE_ROWS = st.lists(st.tuples(st.integers(-10**4, 10**4),
                                   st.one_of(st.none(), st.floats(-99, 99, allow_nan=False).map(lambda x: round(x, 2))),
                                   st.one_of(st.none(), st.text(alphabet="ab,x ", max_size=4))),
                         min_size=8, max_size=40)  # short lines: ranges of 64+ bytes each hold a row start


@pytest.mark.slow  # mltable or 100k files
@settings(max_examples=10, deadline=None, phases=MLTABLE_PHASES,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(files=st.lists(ELIGIBLE_ROWS, min_size=1, max_size=3), data=st.data())
def test_small_mini_batches_converted_at_once_are_the_partitions_azure_ml_reads(
        tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
        files: list[list[tuple[int, Any, Any]]], data: st.DataObject) -> None:
    """Columns whose pandas dtype does not depend on which rows are converted together (integers
    without a null, floats and strings with missing values) are converted a window at a time and
    sliced: every mini-batch must still be exactly Azure ML's per-partition read."""
    root = tmp_path_factory.mktemp("once")
    folder = delimited_mltable(root / "t")
    total = 0
    for i, rows in enumerate(files):
        path = folder / f"part_{i}.csv"
        pd.DataFrame(rows, columns=["id", "x", "s"]).to_csv(path, index=False)
        total += path.stat().st_size
    size = data.draw(st.integers(64, max(64, total // 3)), label="mini_batch_size")
    convert_bytes = data.draw(st.sampled_from([1, 64, division._CONVERT_BYTES]), label="convert bytes")
    monkeypatch.setattr(division, "_CONVERT_BYTES", convert_bytes)
    batches = divide(mltable_input(folder), root / "spill", str(size))
    reference = mltable_partition_reads(folder, size, root / "reference")
    assert len(batches) == len(reference)
    for mb, expected in zip(batches, reference):
        pd.testing.assert_frame_equal(load_mini_batch(mb), expected)
        assert mb.items == len(expected)
    # about half the examples take the new path (measured); a range where a column is all missing
    # comes back typed otherwise, and such windows are converted group by group


def comparable(batches: list[MiniBatch]) -> list[tuple[Any, ...]]:
    """What a mini-batch is, without where its rows are stored."""
    return [(mb.index, mb.kind, mb.items, mb.sources, mb.partition_key_value, mb.label) for mb in batches]


@pytest.mark.slow  # mltable or 100k files
@settings(max_examples=8, deadline=None, phases=MLTABLE_PHASES,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(files=st.lists(NULLABLE_ROWS, min_size=1, max_size=3), data=st.data(),
       fmt=st.sampled_from(["csv", "jsonl"]))
def test_the_public_path_divides_as_the_private_one(tmp_path_factory: pytest.TempPathFactory,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    files: list[list[tuple[Any, str, Any]]],
                                                    data: st.DataObject, fmt: str) -> None:
    """A mltable whose private API differs is divided through the public one: the same
    mini-batches (rows, dtypes, boundaries, files, labels), by size and by partition_keys."""
    root = tmp_path_factory.mktemp("public")
    folder, total = table_files(root / "t", files, fmt)
    size = data.draw(st.integers(16, max(16, total // 2)), label="mini_batch_size")
    keys = data.draw(st.sampled_from([(), ("flag",)]), label="partition_keys")
    monkeypatch.setattr(division, "_ENGINE_BYTES", 8)  # the private path reads S/m-byte ranges, m > 1
    results = []
    for state in ([None], ["forced by the test"]):
        monkeypatch.setattr(division, "_PRIVATE_API_STATE", state)
        spill = root / f"spill{len(results)}"
        batches = divide(mltable_input(folder), spill, str(size), keys)
        results.append((comparable(batches), [load_mini_batch(mb) for mb in batches]))
    assert results[1][0] == results[0][0]
    for public, private in zip(results[1][1], results[0][1]):
        pd.testing.assert_frame_equal(public, private)


def test_the_private_mltable_api_is_as_checked() -> None:
    assert division._check_private_api() is None  # the installed mltable (1.7): the fast path


@pytest.mark.slow  # four divisions through the public path
def test_a_changed_private_api_falls_back_with_one_log_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """As if mltable had changed: the check expects what this one does not have."""
    api = list(division._PRIVATE_API)
    monkeypatch.setattr(division, "_PRIVATE_API", (*api, ("mltable.MLTable", "_no_such_method", ())))
    assert division._check_private_api() == "mltable.MLTable._no_such_method is missing"
    folder = delimited_mltable(tmp_path / "t")
    pd.DataFrame({"store": [1, 2, 1], "qty": [1.5, 2.5, 3.5]}).to_csv(folder / "f.csv", index=False)
    changes = [("_PRIVATE_API", (("mltable.MLTable", "_create_from_dict", ("spec", "pairs")), *api),
                "mltable.MLTable._create_from_dict(mltable_yaml_dict, path_pairs, load_uri) is not (spec, pairs)"),
               ("_PRIVATE_TABLE_ATTRIBUTES", ("_path_pairs", "_no_such_attribute"),
                "a loaded MLTable has no _no_such_attribute")]
    for case, (name, value, problem) in enumerate(changes):
        monkeypatch.setattr(division, "_PRIVATE_API", tuple(api))
        monkeypatch.setattr(division, name, value)
        monkeypatch.setattr(division, "_PRIVATE_API_STATE", [])
        caplog.clear()
        with caplog.at_level("WARNING", logger="tenantml.division"):
            batches = divide(mltable_input(folder), tmp_path / f"spill{case}", "10", ())
            divide(mltable_input(folder), tmp_path / f"spill{case}k", keys=("store",))
        assert [r.getMessage() for r in caplog.records] == [
            f"mltable {division._version('mltable')}: its private API differs from mltable 1.7's ({problem}); "
            "dividing through mltable's public API instead: the same mini-batches, one mltable call per "
            "mini-batch (slower)"]
        pd.testing.assert_frame_equal(concat(batches), mltable_read(folder))
        assert (tmp_path / f"spill{case}" / "mltable").is_dir()  # its MLTable files: in the division's own folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spill0", "spill0k", "spill1", "spill1k", "t"]


GROUP_VALUES = st.one_of(st.none(), st.just(float("nan")), st.booleans(), st.integers(-2, 2),
                         st.sampled_from([0.0, -0.0, 1.0, 2.5]), st.sampled_from(HOSTILE_KEYS))


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(GROUP_VALUES, GROUP_VALUES, st.integers(0, 3)), max_size=30),
       column_a=st.sampled_from(["mixed", "numbers", "strings"]),
       keys=st.sampled_from([("a",), ("a", "b"), ("b", "c"), ("c",), ("a", "c")]))
def test_vectorised_grouping_agrees_with_the_exact_reference(rows: list[tuple[Any, Any, int]],
                                                              column_a: str,
                                                              keys: tuple[str, ...]) -> None:
    from tenantml.division import _group_rows, _group_slices

    frame = pd.DataFrame(rows, columns=["a", "b", "c"])
    if column_a == "numbers":  # the numpy path: float columns with NaN, integer columns
        frame["a"] = pd.to_numeric(frame["a"].map(lambda v: v if isinstance(v, (int, float)) else None),
                                   errors="coerce").astype(float)
    elif column_a == "strings":  # the factorize path: strings (hostile ones too) and missing values
        frame["a"] = frame["a"].map(lambda v: v if isinstance(v, str) or v is None else
                                    (float("nan") if isinstance(v, float) and v != v else str(v))).astype(object)
    expected = {key: frame.take(positions).reset_index(drop=True)
                for key, positions in _group_rows(frame, keys).items()}
    got = list(_group_slices(frame, keys))
    assert len(got) == len(expected)
    for key, part in got:
        assert key in expected
        assert [type(v) for v in key] == [type(v) for v in next(k for k in expected if k == key)]
        pd.testing.assert_frame_equal(part, expected[key])


def test_table_small_file_is_its_own_mini_batch_and_labels(tmp_path: Path) -> None:
    folder = delimited_mltable(tmp_path / "t")
    pd.DataFrame({"id": range(3)}).to_csv(folder / "small.csv", index=False)
    pd.DataFrame({"id": range(400)}).to_csv(folder / "big.csv", index=False)
    batches = divide(mltable_input(folder), tmp_path / "spill", "1kb")
    big = (folder / "big.csv").stat().st_size
    assert [mb.sources[0] for mb in batches].count(str(folder / "small.csv")) == 1
    assert batches[-1].label == "small.csv rows 0-2"
    assert batches[0].label.startswith("big.csv rows 0-")
    assert len(batches) == math.ceil(big / 1024) + 1
    assert sum(mb.items for mb in batches) == 403


def test_table_dtypes_come_from_the_whole_table(tmp_path: Path) -> None:
    # Read alone, a.csv's column b is int64; in the table (b.csv has 2.5) mltable says float64.
    folder = delimited_mltable(tmp_path / "t")
    (folder / "a.csv").write_text("a,b\n" + "".join(f"{i},{i}\n" for i in range(10)))
    (folder / "b.csv").write_text("a,b\n" + "".join(f"{i},{i}.5\n" for i in range(10)))
    batches = divide(mltable_input(folder), tmp_path / "spill", "10mb")
    first = load_mini_batch(batches[0])
    assert batches[0].sources == (str(folder / "a.csv"),)
    assert str(first["b"].dtype) == str(mltable_read(folder)["b"].dtype) == "float64"


def test_lines_longer_than_the_size_give_empty_mini_batches(tmp_path: Path) -> None:
    folder = delimited_mltable(tmp_path / "t")
    (folder / "long.csv").write_text("a,b\n" + "".join(f"{i},{'x' * 300}\n" for i in range(4)))
    batches = divide(mltable_input(folder), tmp_path / "spill", "100")
    empty = [mb for mb in batches if mb.items == 0]
    assert empty, "some byte ranges hold no row start"
    assert len(load_mini_batch(empty[0])) == 0
    assert "no rows" in empty[0].label
    assert sum(mb.items for mb in batches) == 4
    assert_dense(batches)


def test_json_lines_is_cut_by_size(tmp_path: Path) -> None:
    folder = write_mltable(tmp_path / "j", """\
        paths:
          - pattern: ./*.jsonl
        transformations:
          - read_json_lines:
              encoding: utf8
        """)
    frame = pd.DataFrame({"id": range(500), "name": [f"n{i}" for i in range(500)]})
    frame.to_json(folder / "x.jsonl", orient="records", lines=True)
    batches = divide(mltable_input(folder), tmp_path / "spill", "4kb")
    assert len(batches) == math.ceil((folder / "x.jsonl").stat().st_size / 4096)
    pd.testing.assert_frame_equal(concat(batches), mltable_read(folder))


def parquet_mltable(folder: Path) -> Path:
    return write_mltable(folder, """\
        paths:
          - pattern: ./*.parquet
        transformations:
          - read_parquet:
              include_path_column: false
        """)


def test_parquet_groups_row_groups_and_never_splits_one_row_group(tmp_path: Path) -> None:
    folder = parquet_mltable(tmp_path / "p")
    frame = pd.DataFrame({"id": np.arange(10_000), "v": np.linspace(0, 1, 10_000)})
    pq.write_table(pa.Table.from_pandas(frame), folder / "multi.parquet", row_group_size=1000)
    pq.write_table(pa.Table.from_pandas(frame), folder / "single.parquet")
    size = (folder / "multi.parquet").stat().st_size // 3 + 1
    batches = divide(mltable_input(folder), tmp_path / "spill", size)
    per_file = [mb.sources[0].rsplit("/", 1)[1] for mb in batches]
    assert per_file == ["multi.parquet"] * 3 + ["single.parquet"]
    assert [mb.items for mb in batches] == [3000, 3000, 4000, 10_000]  # whole row groups
    tiny = divide(mltable_input(folder), tmp_path / "spill2", "1")
    assert [mb.items for mb in tiny] == [1000] * 10 + [10_000]  # at most one per row group
    pd.testing.assert_frame_equal(concat(batches), mltable_read(folder))


def test_tabular_folder_dot_trap_is_refused(tmp_path: Path) -> None:
    folder = write_mltable(tmp_path / "t", """\
        paths:
          - folder: ./
        transformations:
          - read_delimited:
              delimiter: ","
        """)
    (folder / "a.csv").write_text("a\n1\n")
    with pytest.raises(UserError) as info:
        divide(mltable_input(folder), tmp_path / "spill")
    assert "MLTable file itself" in info.value.message and "pattern" in info.value.message


def test_is_tabular(tmp_path: Path) -> None:
    assert is_tabular(mltable_input(delimited_mltable(tmp_path / "a")))
    assert is_tabular(mltable_input(parquet_mltable(tmp_path / "b")))
    files = write_mltable(tmp_path / "c", "paths:\n  - folder: ./\n")
    assert not is_tabular(mltable_input(files))
    listed = write_mltable(tmp_path / "d", "paths: [{file: ./x}]\ntransformations: [read_delimited]\n")
    assert is_tabular(mltable_input(listed))
    assert not is_tabular(folder_input(tmp_path / "a"))


# --------------------------------------------------------------------------- partition_keys

KEY_ROWS = st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["a", "b", "Zed"]),
                              st.integers(-100, 100)), min_size=1, max_size=40)


@settings(max_examples=12, deadline=None, phases=MLTABLE_PHASES,
          suppress_health_check=[HealthCheck.too_slow])
@given(files=st.lists(KEY_ROWS, min_size=1, max_size=3),
       keys=st.sampled_from([("store",), ("brand", "store"), ("brand",)]))
def test_partitions_are_exactly_the_groups(tmp_path_factory: pytest.TempPathFactory,
                                           files: list[list[tuple[int, str, int]]],
                                           keys: tuple[str, ...]) -> None:
    root = tmp_path_factory.mktemp("parts")
    folder = delimited_mltable(root / "t")
    for i, rows in enumerate(files):
        pd.DataFrame(rows, columns=["store", "brand", "qty"]).to_csv(folder / f"f{i}.csv",
                                                                     index=False)
    batches = divide(mltable_input(folder), root / "spill", "1", keys=keys)
    full = mltable_read(folder)
    groups = full.groupby(list(keys), sort=True)
    assert len(batches) == groups.ngroups
    assert_dense(batches)
    values = [tuple(mb.partition_key_value.values()) for mb in batches]  # type: ignore[union-attr]
    assert values == sorted(values)
    for mb in batches:
        assert list(mb.partition_key_value) == list(keys)  # type: ignore[arg-type]
        mask = np.logical_and.reduce([full[k] == v for k, v in mb.partition_key_value.items()])  # type: ignore[union-attr]
        expected = full[mask].reset_index(drop=True)
        got = load_mini_batch(mb)
        pd.testing.assert_frame_equal(got, expected)  # the group's rows, in order, same dtypes
        assert mb.items == len(expected)
        assert set(mb.sources) <= {str(folder / f"f{i}.csv") for i in range(len(files))}


def test_partitions_held_over_several_flushes_keep_their_rows_in_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(division, "_HOLD_BYTES", 1)  # write after every file
    folder = delimited_mltable(tmp_path / "t")
    for i in range(3):
        pd.DataFrame({"store": [1, 2, 1, i], "qty": [10 * i + k for k in range(4)]}).to_csv(
            folder / f"f{i}.csv", index=False)
    batches = divide(mltable_input(folder), tmp_path / "spill", keys=("store",))
    full = mltable_read(folder)
    assert [mb.partition_key_value for mb in batches] == [{"store": 0}, {"store": 1}, {"store": 2}]
    assert [len(mb.data_offsets) for mb in batches] == [1, 3, 3]  # one frame per flush it had rows in
    for mb in batches:
        expected = full[full["store"] == mb.partition_key_value["store"]].reset_index(drop=True)  # type: ignore[index]
        pd.testing.assert_frame_equal(load_mini_batch(mb), expected)


@pytest.mark.slow  # mltable reads of four files, twice
def test_partitions_over_files_typed_differently_are_each_files_rows_concatenated(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mltable infers ``day`` as boolean from the first rows; the file holding 2 and 3 reads as
    object (None). Held files are cut in runs of one dtype set: every partition must still be
    ``pandas.concat`` of its rows file by file, dtypes included, whatever is held at once."""
    folder = delimited_mltable(tmp_path / "t")
    for i, days in enumerate([[0, 1, 0, 1] * 60, [1, 0, 1, 0] * 60, [2, 3, 2, 3] * 60, [0, 1, 1, 0] * 60]):
        pd.DataFrame({"store": [k % 3 for k in range(len(days))], "day": days,
                      "n": range(len(days))}).to_csv(folder / f"f{i}.csv", index=False)
    data = mltable_input(folder)
    table = division._load_table(data, "read_delimited", division._KEYED_READ_BYTES, None, tmp_path / "work")
    files = [division._read(table, s.partitions, s.path, data, None)
             for s in division._streams(table, data, None, tmp_path / "work")]
    assert len({tuple(f.dtypes) for f in files}) == 2  # the case under test: files typed differently
    for hold in (1, 2**40):  # a flush per file; everything held in one flush
        monkeypatch.setattr(division, "_HOLD_BYTES", hold)
        batches = divide(data, tmp_path / f"spill{hold}", keys=("store",))
        assert [mb.partition_key_value for mb in batches] == [{"store": 0}, {"store": 1}, {"store": 2}]
        for mb in batches:
            store = mb.partition_key_value["store"]  # type: ignore[index]
            pieces = [f[f["store"] == store].reset_index(drop=True) for f in files]
            expected = pd.concat(pieces, ignore_index=True)  # a frame per flush: load_mini_batch concatenates
            pd.testing.assert_frame_equal(load_mini_batch(mb), expected)
            assert mb.items == len(expected)


HOSTILE = ["/", "..", "../../etc/passwd", "a/b", "\x00", "nul\x00end", "ünïcødé 中文", "", " ",
           "con", "*", "\\", "\n"]


def test_hostile_partition_values_are_safe(tmp_path: Path) -> None:
    folder = parquet_mltable(tmp_path / "p")
    rows = [(v, float(i % 2) if i % 5 else None, i) for i, v in enumerate(HOSTILE * 2)]
    frame = pd.DataFrame(rows, columns=["tenant", "flag", "n"])
    half = len(frame) // 2
    pq.write_table(pa.Table.from_pandas(frame.iloc[:half]), folder / "a.parquet")
    pq.write_table(pa.Table.from_pandas(frame.iloc[half:]), folder / "b.parquet")
    before = set(tmp_path.rglob("*"))
    spill = tmp_path / "spill"
    batches = divide(mltable_input(folder), spill, keys=("tenant", "flag"))
    full = mltable_read(folder)

    created = set(tmp_path.rglob("*")) - before
    assert all(spill in p.parents or p == spill for p in created), created
    assert [p.name for p in spill.glob("*.pkl")] == ["partitions.pkl"]  # never named by a key value
    assert all(Path(mb.data_path).parent == spill for mb in batches)  # type: ignore[arg-type]
    assert_dense(batches)
    values = [tuple(mb.partition_key_value.values()) for mb in batches]  # type: ignore[union-attr]
    expected_groups = {(t, None if pd.isna(f) else f) for t, f in zip(full["tenant"], full["flag"])}
    assert set(values) == expected_groups and len(values) == len(expected_groups)
    assert values == sorted(values, key=lambda v: (v[0], v[1] is None, v[1] or 0.0))  # None last
    assert sum(mb.items for mb in batches) == len(full)
    for mb in batches:
        tenant, flag = mb.partition_key_value["tenant"], mb.partition_key_value["flag"]  # type: ignore[index]
        mask = (full["tenant"] == tenant) & (full["flag"].isna() if flag is None
                                             else full["flag"] == flag)
        pd.testing.assert_frame_equal(load_mini_batch(mb), full[mask].reset_index(drop=True))
        assert json.loads(mb.to_json())["partition_key_value"] == mb.partition_key_value


def test_partition_key_that_is_not_a_column(tmp_path: Path) -> None:
    folder = delimited_mltable(tmp_path / "t")
    pd.DataFrame({"store_id": [1], "brand": ["x"]}).to_csv(folder / "a.csv", index=False)
    with pytest.raises(UserError) as info:
        divide(mltable_input(folder), tmp_path / "spill", keys=("storeid",))
    message = info.value.message
    assert "'storeid'" in message and "store_id, brand" in message
    assert "did you mean 'store_id'" in message and "partition_keys" in message


def test_partition_keys_need_columns(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("a\n1\n")
    with pytest.raises(UserError) as info:
        divide(folder_input(tmp_path), tmp_path / "spill", keys=("a",))
    assert "partition_keys needs a tabular MLTable" in info.value.message


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("kind", ["uri_folder", "uri_file", "mltable"])
def test_missing_input_path(tmp_path: Path, kind: str) -> None:
    data = DataInput(name="sales", type=kind, path=tmp_path / "nowhere")
    with pytest.raises(UserError) as info:
        iter_mini_batches(data, mini_batch_size=None, spill_dir=tmp_path / "s",
                          source_file="pipeline.yml")
    message = info.value.message
    assert "'sales'" in message and str(tmp_path / "nowhere") in message
    assert message.startswith("pipeline.yml: inputs.sales.path:")


def test_mltable_folder_without_mltable_file(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        divide(mltable_input(tmp_path), tmp_path / "spill")
    assert "MLTable" in info.value.message and "uri_folder" in info.value.message


def test_bad_mini_batch_size_for_input_kind(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")
    with pytest.raises(UserError, match="number of files"):
        divide(folder_input(tmp_path), tmp_path / "spill", "0kb")  # a size unit is a file count here (10kb = 10240 files, as the SDK sends)


def test_pattern_matching_nothing(tmp_path: Path) -> None:
    folder = delimited_mltable(tmp_path / "t")
    with pytest.raises(UserError, match="could not"):
        divide(mltable_input(folder), tmp_path / "spill")


# --------------------------------------------------------------------------- mltable logs


@pytest.mark.slow  # mltable or 100k files
def test_route_mltable_logs_and_exit_now(tmp_path: Path) -> None:
    folder = delimited_mltable(tmp_path / "t")
    (folder / "a.csv").write_text("a,b\n1,x\n2,y\n")
    tmpdir, logs = tmp_path / "tmp", tmp_path / "logs"
    tmpdir.mkdir()
    script = textwrap.dedent(f"""\
        import sys
        from pathlib import Path
        from tenantml.backends.local.mltable_support import (route_mltable_logs, skip_discarded_call_stacks,
                                                             exit_now, defer_mltable_rest_client)
        deferred = defer_mltable_rest_client()
        route_mltable_logs(Path({str(logs)!r}))
        import mltable
        heavy = [m for m in ("jwt", "msrest", "azure.mgmt.core", "requests") if m in sys.modules]
        rows = len(mltable.load({str(folder)!r}).to_pandas_dataframe())
        from mltable._aml_utilities import _aml_rest_client_helper as helper
        interval = helper.AzureMLTokenAuthentication.REFRESH_INTERVAL_IN_SECONDS  # imports the real module
        real = type(sys.modules["mltable._aml_utilities._azureml_token_authentication"]).__name__
        route_mltable_logs(Path({str(logs)!r}))  # same folder again: harmless
        try:
            route_mltable_logs(Path({str(tmp_path / "too-late")!r}))
            late = "moved"
        except RuntimeError:
            late = "refused"
        print(rows, late, deferred, heavy or "-", interval, real, "jwt" in sys.modules, flush=True)
        exit_now(0)
        """)
    env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    first_line = proc.stdout.readline()  # type: ignore[union-attr]
    printed_at = time.perf_counter()
    _, err = proc.communicate(timeout=60)
    exit_after = time.perf_counter() - printed_at
    assert proc.returncode == 0, err
    # the REST-client modules are not imported for a local read, and are when first used
    assert first_line.split() == ["2", "refused", "True", "-", "30", "module", "True"]
    assert list(tmpdir.rglob("*")) == []  # nothing in $TMPDIR, azureml-logs included
    assert [p for p in logs.rglob("*") if p.is_file()], "mltable's logs land in log_dir"
    assert exit_after < 1.5, f"exit took {exit_after:.2f} s (mltable's atexit pause is 3 s)"


def test_skip_discarded_call_stacks_only_when_telemetry_is_off(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import azureml.dataprep.api._loggerfactory as factory

    monkeypatch.setattr(factory._LoggerFactory, "get_stack",
                        staticmethod(lambda limit=3, start=1: "a stack"))
    monkeypatch.setattr(factory, "telemetry_enabled", True)
    assert skip_discarded_call_stacks() is False
    assert factory._LoggerFactory.get_stack() == "a stack"  # recorded stacks are left alone
    monkeypatch.setattr(factory, "telemetry_enabled", False)
    assert skip_discarded_call_stacks() is True
    assert factory._LoggerFactory.get_stack() is None


def test_the_folder_listing_finds_what_os_walk_finds_and_stops_when_asked(tmp_path: Path):
    """division._walk replaces os.walk so that Ctrl-C can stop it inside one huge folder: the same files
    (links to folders neither listed nor followed, links to files and broken links listed), sorted."""
    from tenantml import division

    root = tmp_path / "in"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "deep.csv").write_text("x")
    (root / "top.csv").write_text("x")
    (root / "z").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "hidden.csv").write_text("x")
    (root / "link_to_folder").symlink_to(tmp_path / "outside")
    (root / "link_to_file").symlink_to(root / "top.csv")
    (root / "broken").symlink_to(tmp_path / "nowhere")
    expected = sorted(os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names)
    assert division._walk(str(root)) == expected
    assert not any("hidden.csv" in p for p in expected)

    many = tmp_path / "many"
    many.mkdir()
    for i in range(division.LIST_STOP_EVERY + 1):
        (many / f"f{i}").touch()
    asked = []
    with pytest.raises(KeyboardInterrupt):
        division._walk(str(many), should_stop=lambda: asked.append(1) or True)
    assert asked == [1]


def test_a_json_lines_file_of_blank_lines_adds_no_partition_and_no_error(tmp_path: Path):
    """It has no rows, so no columns: it must not make partition_keys 'not a column' (it did)."""
    folder = write_mltable(tmp_path / "t", "paths:\n  - pattern: ./*.jsonl\n"
                           "transformations:\n  - read_json_lines:\n      encoding: utf8\n")
    (folder / "a.jsonl").write_text('{"tenant": "x", "v": 1}\n{"tenant": "y", "v": 2}\n')
    (folder / "b.jsonl").write_text("\n\n")
    batches = divide(mltable_input(folder), tmp_path / "spill", keys=("tenant",))
    assert [mb.partition_key_value for mb in batches] == [{"tenant": "x"}, {"tenant": "y"}]
    (folder / "a.jsonl").unlink()
    assert divide(mltable_input(folder), tmp_path / "spill2", keys=("tenant",)) == []
