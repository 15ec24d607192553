"""Names that become paths: Azure ML's own rules, and containment of every computed path.

Sources (azure-ai-ml, github.com/Azure/azure-sdk-for-python, sdk/ml/azure-ai-ml):

- job (node) names: ``azure/ai/ml/_schema/core/fields.py`` ``PipelineNodeNameStr`` (the keys of
  ``jobs:``) calls ``azure/ai/ml/_utils/utils.py`` ``is_valid_node_name``: ``name.isidentifier()``
  and ``re.fullmatch(r"^[a-z_][a-z\\d_]*", name)`` -- "Node name must start with a lower letter
  or underscore, and can only contain lower letters, numbers and underscore."
- input and output names: ``azure/ai/ml/constants/_component.py`` ``IOConstants.VALID_KEY_PATTERN``
  ``^([a-zA-Z_]+[a-zA-Z0-9_]*)([.]([a-zA-Z_]+[a-zA-Z0-9_]*))*$``, checked by
  ``Component._validate_io_names`` ("is not a valid parameter name, must be composed letters,
  numbers, and underscores").
- run ids are tenantml's own: a plain folder name (letters, digits, ``_ . -``, not starting with
  a dot), so ``--run-id ../../x`` cannot name a folder outside ``runs/``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tenantml.errors import UserError

NODE_NAME = re.compile(r"[a-z_][a-z0-9_]*")
IO_NAME = re.compile(r"([a-zA-Z_]+[a-zA-Z0-9_]*)([.]([a-zA-Z_]+[a-zA-Z0-9_]*))*")
RUN_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}")


def node_name_problem(name: object) -> str | None:
    if isinstance(name, str) and name.isidentifier() and NODE_NAME.fullmatch(name):
        return None
    return (f"job name {str(name)!r} is not a valid Azure ML node name: it must start with a lower-case letter or "
            "underscore and contain only lower-case letters, digits and underscores")


def io_name_problem(name: object, what: str) -> str | None:
    if isinstance(name, str) and IO_NAME.fullmatch(name):
        return None
    return (f"{what} name {str(name)!r} is not a valid Azure ML parameter name: letters, digits and underscores, "
            "not starting with a digit")


def check_node_name(name: str) -> None:
    problem = node_name_problem(name)
    if problem:
        raise UserError(problem + ".", key=f"jobs.{name}", fix="rename the job, e.g. 'score_tenants'")


def check_io_name(name: str, what: str, key: str) -> None:
    problem = io_name_problem(name, what)
    if problem:
        raise UserError(problem + ".", key=key, fix="rename it, e.g. 'scores'")


def check_run_id(run_id: str, option: str = "--run-id") -> None:
    if not RUN_ID.fullmatch(run_id) or run_id in (".", ".."):
        raise UserError(f"'{run_id}' is not a plain run id.", key=option,
                        fix="use letters, digits, '_', '-' and '.' only (no '/' and not starting with '.')")


def check_inside(root: Path, path: Path, what: str) -> Path:
    """``path`` normalised; a UserError when it is not ``root`` or below it."""
    root_n = Path(os.path.normpath(root.absolute()))
    path_n = Path(os.path.normpath(path.absolute()))
    if path_n != root_n and root_n not in path_n.parents:
        raise UserError(f"{what} {path_n} is outside {root_n}.", fix="remove '..' and absolute parts from the name")
    return path_n
