"""The entry script exists and defines ``run()``: checked from its AST, never imported."""

from __future__ import annotations

import ast
import os
import traceback
from pathlib import Path

from tenantml.loading.schema import Problems
from tenantml.suggest import did_you_mean
from tenantml.yamlio import YamlMap


def check_entry_script(task: YamlMap, prefix: str, code: Path, problems: Problems) -> str | None:
    """``task.entry_script`` relative to ``code``, or None after recording why it cannot run."""
    entry = task.get("entry_script")
    key, line = f"{prefix}task.entry_script", task.line_of("entry_script") or task.line
    if not entry:
        problems.add("a parallel task needs entry_script, the file with init() and run().", key=key, line=line,
                     fix="add entry_script: <file>.py")
        return None
    script = code / str(entry)
    if not Path(os.path.normpath(script)).is_relative_to(os.path.normpath(code)):
        # Azure ML uploads task.code as the job's snapshot and runs the script from it: a file outside
        # that folder is not on the node, so the job fails there (it ran here)
        problems.add(f"entry script {entry} is outside the code folder {code}; Azure ML uploads only the code "
                     "folder, so the script would not be there.", key=key, line=line,
                     fix="move the script into task.code (or point code at a folder that holds it) and name it "
                         "relative to that folder")
        return None
    if not script.is_file():
        near = did_you_mean(Path(str(entry)).name, [f.name for f in code.glob("*.py")])
        problems.add(f"entry script {script} {'is a folder' if script.is_dir() else 'does not exist'}; {near}",
                     key=key, line=line,
                     fix="correct entry_script; it is relative to task.code")
        return None
    problem = entry_script_problem(script)
    if problem is not None:
        message, details = problem
        problems.add(message, key=key, line=line, details=details, fix=None if details else
                     "define def run(mini_batch): ... returning a list or a pandas DataFrame")
    return str(entry)


def entry_script_problem(script: Path) -> tuple[str, str | None] | None:
    """A syntax error, or no top-level ``run``: what the user must fix before anything runs."""
    source = script.read_bytes()
    try:
        tree = ast.parse(source, filename=str(script))
    except SyntaxError as exc:
        details = "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
        return f"the entry script {script} has a syntax error (line {exc.lineno}).", details
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif not isinstance(node, (ast.Expr, ast.ClassDef, ast.AnnAssign)):
            return None  # conditional definitions: leave the verdict to the import in the worker
    if "run" not in names:
        return f"the entry script {script} defines no run() function.", None
    return None
