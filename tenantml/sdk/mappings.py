"""The ``tenantml.yml`` of an azure-ai-ml job: which one, and its mappings with absolute paths.

A YAML pipeline's ``tenantml.yml`` is the one beside it. A job object has no file: its mappings
are the ``tenantml.yml`` given (``config=`` / ``tenantml exec --config``), else the one in the
folder where the job was built (the SDK's base path), else beside the ``__main__`` script, else in
the current folder. The run folder gets a copy with absolute paths, which the backend reads as
the one beside the generated YAML; the backend also checks its format.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from tenantml.assets import Assets
from tenantml.errors import UserError
from tenantml.yamlio import load_yaml

FILE_NAME = "tenantml.yml"


def find_config(base: Path, explicit: str | os.PathLike[str] | None) -> Path | None:
    if explicit is not None:
        path = Path(explicit).absolute()
        if path.is_dir():
            path = path / FILE_NAME
        if not path.is_file():
            raise UserError(f"{path} does not exist.", key="config", fix="name an existing tenantml.yml")
        return path
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    for folder in (base, Path(main).absolute().parent if main else None, Path.cwd()):
        if folder is not None and (folder / FILE_NAME).is_file():
            return folder / FILE_NAME
    return None


def _absolute(value: Any, base: Path) -> Any:
    if not isinstance(value, str):
        return value  # the backend reports a wrong type, naming the copy's key
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).absolute())


def absolute_mappings(source: Path) -> dict[str, Any]:
    """``datastores:`` and ``assets:`` of ``source`` with every path absolute (other keys kept)."""
    raw = load_yaml(source, what="tenantml.yml")
    if not isinstance(raw, dict):
        return {} if raw is None else {"datastores": raw}  # not a mapping: the backend says so
    body: dict[str, Any] = {str(k): v for k, v in raw.items()}
    base = source.parent
    if isinstance(raw.get("datastores"), dict):
        body["datastores"] = {str(k): _absolute(v, base) for k, v in raw["datastores"].items()}
    if isinstance(raw.get("assets"), dict):
        body["assets"] = {str(name): ({str(v): _absolute(p, base) for v, p in versions.items()}
                                      if isinstance(versions, dict) else versions)
                          for name, versions in raw["assets"].items()}
    return body


def assets_of(source: Path | None) -> Assets | None:
    """The data assets ``source`` maps (for ``data.get`` under ``tenantml exec``)."""
    if source is None:
        return None
    body = absolute_mappings(source)
    entries = {name: {v: Path(p) for v, p in versions.items() if isinstance(p, str)}
               for name, versions in (body.get("assets") or {}).items() if isinstance(versions, dict)}
    return Assets(entries, source)


def write_copy(folder: Path, source: Path | None) -> bool:
    if source is None:
        return False
    import yaml

    header = f"# the mappings of {source}, with absolute paths (written by tenantml for an azure-ai-ml job)\n"
    temp = folder / (FILE_NAME + ".tmp")
    temp.write_text(header + yaml.safe_dump(absolute_mappings(source), sort_keys=False), encoding="utf-8")
    temp.replace(folder / FILE_NAME)
    return True
