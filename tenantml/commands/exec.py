"""``tenantml exec -- python submit.py [args]``: the user's own azure-ai-ml submission script (or
``-- jupyter nbconvert --execute nb.ipynb``) run unchanged, with its service calls served locally.

The command runs as a child process with ``tenantml/sdk/local/site`` first on ``PYTHONPATH``: its
``sitecustomize`` installs an import hook in that process and in every Python process it starts
(see :mod:`tenantml.sdk.local`). ``jobs.create_or_update`` then runs the pipeline with tenantml's
local backend; nothing ever reaches Azure. The exit code is the command's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tenantml.commands.common import add_location_arguments, datastores_from
from tenantml.errors import EXIT_INTERRUPTED, UserError

SITE = Path(__file__).resolve().parent.parent / "sdk" / "local" / "site"


def add_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] = ()) -> None:
    add_location_arguments(parser)
    parser.add_argument("--config", default=None, metavar="TENANTML_YML",
                        help="the tenantml.yml with datastore and asset mappings (default: the one in the folder "
                             "where the job is built, else beside the script, else here)")
    parser.add_argument("--max-workers", type=int, default=None, metavar="N",
                        help="cap on local worker processes (default: CPU count)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines while a job runs")
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARGS]",
                        help="the command to run, e.g. -- python submit.py")


def child_environment(args: argparse.Namespace, base: dict[str, str] | None = None) -> dict[str, str]:
    from tenantml.locations import home

    env = dict(os.environ if base is None else base)
    options = {
        "home": str(home()),
        "datastores": {k: str(v) for k, v in datastores_from(args).items()},
        "max_workers": args.max_workers,
        "config": str(Path(args.config).absolute()) if args.config else None,
        "quiet": bool(args.quiet),
    }
    env["TENANTML_EXEC"] = json.dumps(options)
    if getattr(args, "debug", False):
        env["TENANTML_DEBUG"] = "1"  # tracebacks of tenantml's errors inside the command too
    env["TENANTML_EXEC_PATH"] = str(Path(__file__).resolve().parent.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([str(SITE)] + [p for p in [env.get("PYTHONPATH")] if p])
    # ``python`` in the command is tenantml's Python, as in a local command step
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent)] + [p for p in [env.get("PATH")] if p])
    return env


def execute(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise UserError("no command to run.", key="exec", fix="tenantml exec -- python submit.py")
    if args.max_workers is not None and args.max_workers < 1:
        raise UserError(f"--max-workers is {args.max_workers}; it must be 1 or more.", key="--max-workers")
    if args.config and not Path(args.config).exists():
        raise UserError(f"{args.config} does not exist.", key="--config", fix="name an existing tenantml.yml")
    env = child_environment(args)
    if shutil.which(command[0], path=env["PATH"]) is None and not Path(command[0]).exists():
        raise UserError(f"command '{command[0]}' was not found.", key="exec",
                        fix="give the program to run after --, e.g. tenantml exec -- python submit.py")
    return _run_to_end(command, env)


def _run_to_end(command: list[str], env: dict[str, str]) -> int:
    """Run the command and wait for it, whatever happens to this process.

    Ctrl-C in a terminal reaches the command too (same process group): it finishes its own
    interrupt (a running job marks its run Interrupted and ends its workers) and we wait for it.
    SIGTERM to tenantml is passed on as SIGINT, for the same orderly end.
    """
    proc = subprocess.Popen(command, env=env)

    def forward(signum: int, frame: object) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                code = proc.wait()
                break
            except KeyboardInterrupt:
                continue  # the command got the same SIGINT; wait for its own end
    finally:
        signal.signal(signal.SIGTERM, previous)
    if code < 0:
        print(f"tenantml exec: {command[0]} ended by signal {-code}", file=sys.stderr)
        return EXIT_INTERRUPTED if -code in (signal.SIGINT, signal.SIGTERM) else 128 - code
    return code
