"""Nearest-name suggestions for misspelled keys and names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def nearest(word: str, choices: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if matches:
        return matches[0]
    lowered = {c.lower(): c for c in choices}
    return lowered.get(word.lower())


def did_you_mean(word: str, choices: Iterable[str], listing: str = "valid keys") -> str:
    choices = list(choices)
    if not choices:
        return f"{listing}: none"
    guess = nearest(word, choices)
    if guess:
        return f"did you mean '{guess}'?"
    return f"{listing}: " + ", ".join(sorted(choices))
