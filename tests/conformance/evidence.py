"""Azure ML's own evidence, as stored in fixtures/: every conformance case quotes from here.

Each fixture file starts with ``# source:`` lines naming where it came from (URL, repository
path and commit); :func:`quote` fails the test if the words a case relies on are not in the file,
so a case cannot cite evidence that is not there.
"""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


def text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def quote(name: str, words: str) -> str:
    """``words`` as they appear in fixture ``name`` (whitespace-insensitive)."""
    body = " ".join(text(name).split())
    wanted = " ".join(words.split())
    assert wanted in body, f"{name} does not say: {wanted}"
    return wanted


def source_of(name: str) -> str:
    first = text(name).splitlines()[0]
    assert first.startswith("#"), f"{name} must start with its source"
    return first
