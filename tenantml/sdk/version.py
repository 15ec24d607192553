"""The azure-ai-ml versions tenantml reads job objects from and serves under ``tenantml exec``.

tenantml uses the SDK's public dump (``_to_dict``, what ``job.dump()`` writes) and replaces
``MLClient`` under ``exec``; both were checked on the oldest and the newest version of the range
(see docs/sdk.md). The range is pinned in pyproject's ``aml`` extra too.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from tenantml.errors import UserError

OLDEST = (1, 20, 0)
BEFORE = (2, 0, 0)
RANGE = ">=1.20,<2"


def _parse(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def installed() -> str | None:
    try:
        return version("azure-ai-ml")
    except PackageNotFoundError:
        return None


def problem(found: str | None) -> str | None:
    """Why this azure-ai-ml version cannot be used, or None."""
    if found is None:
        return "azure-ai-ml is not installed"
    if not OLDEST <= _parse(found) < BEFORE:
        return f"azure-ai-ml {found} is installed; tenantml supports azure-ai-ml {RANGE}"
    return None


def check(what: str) -> None:
    """Raise a UserError if the installed azure-ai-ml is missing or outside the supported range."""
    text = problem(installed())
    if text:
        raise UserError(f"{what} needs azure-ai-ml: {text}.", key="azure-ai-ml",
                        fix=f'pip install "azure-ai-ml{RANGE}" (or pip install "tenantml[aml]")')
