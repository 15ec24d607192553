"""``${{...}}`` binding expressions: finding them and substituting resolved values."""

from __future__ import annotations

import re
from collections.abc import Callable

BINDING = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def is_single_binding(text: object) -> str | None:
    """If ``text`` is exactly one binding (``${{parent.inputs.x}}``), its expression."""
    if isinstance(text, str):
        match = BINDING.fullmatch(text.strip())
        if match:
            return match.group(1)
    return None


def substitute(text: str, resolve: Callable[[str], str]) -> str:
    """Replace every ``${{expr}}`` in ``text`` with ``resolve(expr)``."""
    return BINDING.sub(lambda m: resolve(m.group(1)), text)
