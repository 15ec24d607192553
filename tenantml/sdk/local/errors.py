"""Errors of ``tenantml exec`` inside the user's process, and how an uncaught one ends it."""

from __future__ import annotations

import os
import sys
from types import TracebackType

from tenantml.errors import EXIT_BAD_INPUT, UserError


class NotServedLocally(UserError):
    """An Azure ML service call that ``tenantml exec`` does not serve (it never reaches Azure)."""

    def __init__(self, call: str):
        super().__init__(f"{call} is an Azure ML service call that tenantml exec does not serve locally; "
                         "nothing was sent to Azure.", key="tenantml exec",
                         fix="run this part against Azure ML without tenantml exec, or leave it out of the local run "
                             "(see docs/sdk.md for the served calls)")
        self.call = call


def excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """tenantml's own errors: one paragraph and exit 2, no traceback (``TENANTML_DEBUG=1`` shows it)."""
    if isinstance(exc, UserError) and not os.environ.get("TENANTML_DEBUG"):
        sys.stdout.flush()
        print(f"error: {exc.render()}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(EXIT_BAD_INPUT)
    sys.__excepthook__(kind, exc, tb)
