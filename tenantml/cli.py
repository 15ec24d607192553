"""``tenantml`` command line: a lazily imported command table and one error wrapper.

Each command lives in ``tenantml.commands.<name>`` with ``add_arguments(parser, argv)`` and
``execute(args) -> int``; only the chosen one is imported, so ``tenantml --help`` stays fast
and never imports pandas or mltable. Every error is mapped to an exit code here, once:
0 Completed, 1 Failed, 2 bad input or configuration, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

from tenantml.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, TenantmlError, UserError

COMMANDS: dict[str, str] = {
    "run": "run a pipeline YAML (locally by default; --backend aml submits it to Azure ML)",
    "exec": "run an azure-ai-ml submission script or notebook locally: tenantml exec -- python submit.py",
    "validate": "check a pipeline YAML without running it",
    "runs": "list the runs, newest first",
    "show": "a run's steps and per-tenant mini-batches (default: the latest run)",
    "logs": "where a step's logs are, with its tracebacks or output",
    "report": "write one self-contained HTML page of a run: DAG, per-tenant grid, worker timeline",
    "fetch": "download a finished Azure ML job's logs and outputs into a run folder (for show)",
    "backends": "list the installed backends",
    "completion": "print a shell completion script: eval \"$(tenantml completion bash)\" (or zsh)",
}


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tenantml",
        description="Run Azure ML pipelines with parallel (per-tenant) steps locally, with Azure ML's semantics.",
        epilog="commands:\n" + "\n".join(f"  {name:<10} {text}" for name, text in COMMANDS.items())
        + "\n\nRun 'tenantml COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"tenantml {_version()}")
    parser.add_argument("command", metavar="COMMAND", help="one of: " + ", ".join(COMMANDS))
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def _version() -> str:
    from tenantml import __version__

    return __version__


def _on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    head = argv[: argv.index("--")] if "--" in argv else argv  # after --: another program's arguments
    debug = "--debug" in head
    if debug:
        argv.remove("--debug")
    top = _top_parser()
    if not argv or argv[0] in ("-h", "--help"):
        top.print_help()
        return 0 if argv else EXIT_BAD_INPUT
    if argv[0] == "--version":
        top.parse_args(argv)
    name = argv[0]
    if name not in COMMANDS:
        from tenantml.suggest import did_you_mean

        print(f"tenantml: unknown command '{name}'; {did_you_mean(name, COMMANDS)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    module = importlib.import_module(f"tenantml.commands.{name}")
    parser = argparse.ArgumentParser(prog=f"tenantml {name}", description=COMMANDS[name])
    parser.add_argument("--debug", action="store_true", help="show tracebacks of tenantml's own errors")
    module.add_arguments(parser, argv[1:])  # a command may add options that depend on others (--backend)
    args = parser.parse_args(argv[1:])
    args.debug = debug
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = int(module.execute(args))
    except UserError as exc:
        if debug:
            raise
        print(f"error: {exc.render()}", file=sys.stderr)
        code = exc.exit_code
    except TenantmlError as exc:
        if debug:
            raise
        print(f"tenantml: {exc}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        print("tenantml: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    except OSError as exc:
        from tenantml.runfolder.storage import user_os_error

        error = user_os_error(exc)
        if debug or error is None:
            raise
        print(f"error: {error.render()}", file=sys.stderr)
        code = error.exit_code
    finally:
        signal.signal(signal.SIGTERM, previous)
    return code


def entry() -> None:
    try:
        code = main()
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        # The reader went away (``tenantml show --format csv | head``): stop quietly, as ``cat`` does.
        # stdout is pointed at /dev/null so the interpreter's own flush at exit cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 141  # 128 + SIGPIPE, what a shell reports for a writer killed by a closed pipe
    if "mltable" in sys.modules or "azureml.dataprep" in sys.modules:
        os._exit(code)  # skip mltable's ~3 s telemetry pause at interpreter exit
    sys.exit(code)


if __name__ == "__main__":
    entry()
