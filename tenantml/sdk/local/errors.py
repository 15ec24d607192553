"""Errors of ``tenantml exec`` inside the user's process, and how an uncaught one ends it."""

from __future__ import annotations

import os
import sys
from types import TracebackType

from tenantml.errors import TenantmlError, UserError


class NotServedLocally(UserError):
    """An Azure ML service call that ``tenantml exec`` does not serve (it never reaches Azure)."""

    def __init__(self, call: str):
        super().__init__(f"{call} is an Azure ML service call that tenantml exec does not serve locally; "
                         "nothing was sent to Azure.", key="tenantml exec",
                         fix="run this part against Azure ML without tenantml exec, or leave it out of the local run "
                             "(see docs/sdk.md for the served calls)")
        self.call = call


def excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """tenantml's own errors, uncaught: one paragraph and their exit code (2 for bad input, 130
    interrupted), no traceback (``TENANTML_DEBUG=1`` shows it). Anything else as Python shows it."""
    if isinstance(exc, TenantmlError) and not os.environ.get("TENANTML_DEBUG"):
        sys.stdout.flush()
        text = exc.render() if isinstance(exc, UserError) else str(exc)
        print(f"error: {text}" if isinstance(exc, UserError) else f"tenantml: {text}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(exc.exit_code)
    sys.__excepthook__(kind, exc, tb)
