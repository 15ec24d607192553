"""Parse a parallel job's ``mini_batch_size`` into a number.

File input (``uri_folder``, ``uri_file``, an MLTable without a read transformation): the value is
a count of files per mini-batch, a positive integer (``10`` or ``"10"``).

Tabular input (an MLTable with ``read_delimited``/``read_parquet``/``read_json_lines``): the value
is an approximate size in bytes, ``^\\d+([kKmMgG][bB])?$``: a bare number is bytes,
KB = 1024, MB = 1024**2, GB = 1024**3 (``"100kb"``, ``"10MB"``, ``1048576``).

Defaults when the job leaves ``mini_batch_size`` out:

- file input: 1 file. Source: the CLI v2 YAML reference for parallel jobs
  (learn.microsoft.com, "reference-yaml-job-parallel", ``mini_batch_size`` row, default ``1``).
- tabular input: 1 MB. Source: azure-ai-ml's ``parallel_run_function`` / ``ParallelJob``
  docstrings and v1 ``ParallelRunConfig`` ("default value is 10 files for FileDataset and 1MB
  for TabularDataset"). The YAML reference's ``1`` cannot mean one byte for tabular input, so
  for tabular input the SDK's 1 MB is used. The SDK's "10 files" disagrees with the YAML
  reference's ``1``; tenantml runs CLI v2 YAML, so files default to the YAML reference's 1
  (prs-semantics.md says the same).
"""

from __future__ import annotations

import re

from tenantml.errors import UserError

DEFAULT_FILES_PER_MINI_BATCH = 1  # reference-yaml-job-parallel: mini_batch_size default 1
DEFAULT_TABULAR_BYTES = 1024**2  # azure-ai-ml ParallelJob docstring: "1MB for TabularDataset"

_SIZE = re.compile(r"(\d+)([kmg]b)?", re.IGNORECASE)  # used with fullmatch: ^...$ exactly
_UNITS = {None: 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}
_FILES_FIX = 'use a number of files such as "10"'
_BYTES_FIX = 'use a size such as "10kb", "1mb" or a number of bytes such as "1048576"'


def parse_mini_batch_size(value: str | int | None, *, tabular: bool, file: object = None,
                          key: str = "mini_batch_size") -> int:
    """Return files per mini-batch (file input) or approximate bytes per mini-batch (tabular).

    Raises :class:`UserError` naming ``key`` (and ``file``) for anything that is not a positive
    count (file input) or a positive size (tabular input).
    """
    if value is None:
        return DEFAULT_TABULAR_BYTES if tabular else DEFAULT_FILES_PER_MINI_BATCH
    text = _as_text(value, tabular=tabular, file=file, key=key)
    return _parse_bytes(text, file, key) if tabular else _parse_files(text, file, key)


def _as_text(value: object, *, tabular: bool, file: object, key: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise UserError(f"expected a string or integer, got {type(value).__name__} {value!r}.",
                        file=file, key=key, fix=_BYTES_FIX if tabular else _FILES_FIX)
    return str(value)


def _parse_files(text: str, file: object, key: str) -> int:
    """A count of files. A size with a unit ("10kb") is what azure-ai-ml turns into a number
    *before* sending it, whatever the input type (``Parallel.__init__``: ``"10kb"`` -> 10240), so
    Azure ML's runtime receives 10240 and takes that many files: so does tenantml (the loader warns)."""
    match = _SIZE.fullmatch(text) if text.isascii() else None
    count = int(match.group(1)) * _UNITS[(match.group(2) or "").lower() or None] if match else 0
    if count < 1:
        raise UserError(f"{text!r} is not a positive number of files.", file=file, key=key, fix=_FILES_FIX)
    return count


def sdk_unit_count(value: object) -> int | None:
    """What the SDK sends for a size with a unit ("10kb" -> 10240); None for anything else."""
    text = str(value)
    match = _SIZE.fullmatch(text) if text.isascii() else None
    if match is None or not match.group(2):
        return None
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def _parse_bytes(text: str, file: object, key: str) -> int:
    match = _SIZE.fullmatch(text) if text.isascii() else None
    size = int(match.group(1)) * _UNITS[(match.group(2) or "").lower() or None] if match else 0
    if size < 1:
        raise UserError(f"{text!r} is not a positive size for tabular input.",
                        file=file, key=key, fix=_BYTES_FIX)
    return size
