"""One error hierarchy for tenantml, and the exit code each maps to.

Every mistake a user can make surfaces as a :class:`UserError` subclass whose message is one
short paragraph naming the file, the key and the fix. The CLI maps these to exit codes in one
place (``tenantml.cli``) and never prints a tenantml traceback for them (``--debug`` does).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class TenantmlError(Exception):
    """Base of every error tenantml raises on purpose."""

    exit_code = EXIT_FAILED


class UserError(TenantmlError):
    """Bad input or configuration: the user can fix it. Exit code 2."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, file: object | None = None, key: str | None = None,
                 line: int | None = None, fix: str | None = None, details: str | None = None):
        self.file = str(file) if file is not None else None
        self.key = key
        self.line = line
        self.fix = fix
        self.details = details
        self.text = message  # without location and fix (to re-anchor it elsewhere)
        where = ""
        if self.file:
            where = self.file + (f":{line}" if line else "")
            where += f": {key}: " if key else ": "
        elif key:
            where = f"{key}: "
        text = where + message
        if fix:
            text += f" Fix: {fix}"
        self.message = text
        super().__init__(text)

    def render(self) -> str:
        return self.message + (f"\n{self.details}" if self.details else "")


class LocalOnlyProblem(UserError):
    """A problem about running on *this machine* (no local copy of a registered component, a job
    type the local runner lacks, data not mapped here): a backend that runs elsewhere waives it,
    and Azure ML's SDK and service judge the YAML instead."""


class ValidationErrors(UserError):
    """Several problems found at once (validation reports everything before running)."""

    def __init__(self, problems: list[UserError]):
        self.problems = problems
        super().__init__("\n".join(p.render() for p in problems))

    def render(self) -> str:
        return "\n".join(p.render() for p in self.problems)


class RunInterrupted(TenantmlError):
    """The run was interrupted (Ctrl-C / SIGTERM). Exit code 130."""

    exit_code = EXIT_INTERRUPTED
