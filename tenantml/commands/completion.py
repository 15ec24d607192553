"""``tenantml completion bash|zsh``: print a shell completion script.

The script is generated from the command table and each command's own argparse parser, so it
never drifts from the options. Install it with ``eval "$(tenantml completion bash)"`` in
``~/.bashrc`` (zsh: ``eval "$(tenantml completion zsh)"`` in ``~/.zshrc``; it uses zsh's
``bashcompinit``). Run ids complete from ``<home>/runs``.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

SHELLS = ("bash", "zsh")
_RUN_ID_COMMANDS = ("show", "logs", "report")


def add_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] = ()) -> None:
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete in")


def options_of(name: str) -> list[str]:
    """Every option string of ``tenantml NAME``, from its parser."""
    from tenantml.cli import COMMANDS

    module = importlib.import_module(f"tenantml.commands.{name}")
    parser = argparse.ArgumentParser(prog=f"tenantml {name}", description=COMMANDS[name])
    parser.add_argument("--debug", action="store_true")
    module.add_arguments(parser, [])
    found: list[str] = []
    for action in parser._actions:
        found += [o for o in action.option_strings if o.startswith("--")]
    return sorted(set(found))


def script(shell: str) -> str:
    from tenantml.cli import COMMANDS

    cases = "\n".join(f'        {name}) opts="{" ".join(options_of(name))}" ;;' for name in COMMANDS)
    run_ids = "|".join(_RUN_ID_COMMANDS)
    body = f'''_tenantml() {{
    local cur prev cmd opts runs
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=( $(compgen -W "{" ".join(COMMANDS)} --help --version" -- "$cur") )
        return 0
    fi
    cmd="${{COMP_WORDS[1]}}"
    case "$cmd" in
{cases}
        *) opts="" ;;
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
        return 0
    fi
    case "$prev" in
        --resume) ;;
        --backend) COMPREPLY=( $(compgen -W "$(tenantml backends 2>/dev/null | awk 'NR>2 {{print $1}}')" -- "$cur") ); return 0 ;;
        *) case "$cmd" in
               {run_ids}) ;;
               run|validate) COMPREPLY=( $(compgen -f -- "$cur") ); return 0 ;;
               completion) COMPREPLY=( $(compgen -W "{" ".join(SHELLS)}" -- "$cur") ); return 0 ;;
               *) return 0 ;;
           esac ;;
    esac
    runs="$(tenantml runs --format csv --limit 0 2>/dev/null | tail -n +2 | cut -d, -f1)"
    COMPREPLY=( $(compgen -W "$runs latest" -- "$cur") )
}}
'''
    if shell == "zsh":
        return "autoload -U +X bashcompinit && bashcompinit\n" + body + "complete -o default -F _tenantml tenantml\n"
    return body + "complete -o default -F _tenantml tenantml\n"


def execute(args: argparse.Namespace) -> int:
    print(script(args.shell), end="")
    return 0
