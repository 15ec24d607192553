"""Where things live locally: tenantml's home, run folders, and datastore/URI mapping.

``azureml://datastores/<name>/paths/<p>`` maps to a local folder per datastore: from
``--datastore name=PATH``, a ``tenantml.yml`` beside the pipeline (``datastores:``), else
``<home>/datastores/<name>``. A path never escapes its datastore root.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from tenantml.errors import UserError

# The short form and the long one that names the workspace too (azure-ai-ml constants/_common.py:
# SHORT_URI_REGEX_FORMAT, LONG_URI_REGEX_FORMAT "azureml://subscriptions/([^/]+)/resource[gG]roups/([^/]+)/
# workspaces/([^/]+)/datastores/([^/]+)/paths/(.+)"); locally both name a datastore mapped to a folder.
DATASTORE_URI = re.compile(r"^azureml://(?:subscriptions/[^/]+/resource[gG]roups/[^/]+/workspaces/[^/]+/)?"
                           r"datastores/(?P<name>[^/]+)/paths/(?P<path>.*)$")
DEFAULT_DATASTORE = "workspaceblobstore"
# The datastores a workspace creates itself: workspaceblobstore and workspacefilestore (a user's
# listing in Azure/MachineLearningNotebooks#517), workspaceworkingdirectory (the prompt flow FAQ
# on learn.microsoft.com: "a datastore named workspaceworkingdirectory ... It should be a file
# share type"; promptflow's azure constants use it as DEFAULT_STORAGE) and workspaceartifactstore
# (Microsoft's Azure ML evaluation component code builds azureml://datastores/workspaceartifactstore/
# paths/... URIs for a run's artifacts).
WORKSPACE_DATASTORES = frozenset({"workspaceblobstore", "workspacefilestore", "workspaceartifactstore",
                                  "workspaceworkingdirectory"})
# Data that lives in Azure, not on this machine: datastore URIs, data assets, storage URLs.
REMOTE_URI = re.compile(r"^(azureml:|https?://|wasbs?://|abfss?://|adl://)")


def home() -> Path:
    """``$TENANTML_HOME``, else the nearest ``.tenantml`` folder in the current folder or a parent
    (as git finds ``.git``, so ``cd sub && tenantml runs`` sees the project's runs), else
    ``./.tenantml`` (created by the first run)."""
    env = os.environ.get("TENANTML_HOME")
    if env:
        chosen = Path(env).expanduser().absolute()
        if chosen.exists() and not chosen.is_dir():  # `runs` said "No runs in FILE/runs", exit 0
            raise UserError("TENANTML_HOME names a file; it must be the folder that holds (or will hold) "
                            "tenantml's runs/.", file=chosen,
                            fix="point TENANTML_HOME at a folder, or unset it to use ./.tenantml")
        return chosen
    here = Path.cwd()
    for folder in (here, *here.parents):
        candidate = folder / ".tenantml"
        if candidate.is_dir():
            return candidate
    return here / ".tenantml"


@dataclass(frozen=True)
class Datastores:
    home: Path
    roots: dict[str, Path] = field(default_factory=dict)

    def root(self, name: str) -> Path:
        return (self.roots.get(name) or self.home / "datastores" / name).absolute()

    def known(self) -> set[str]:
        """Names that mean a folder: mapped ones, the workspace's own, and folders already under
        ``<home>/datastores``."""
        folder = self.home / "datastores"
        existing = {p.name for p in folder.iterdir() if p.is_dir()} if folder.is_dir() else set()
        return set(self.roots) | WORKSPACE_DATASTORES | existing

    def check_name(self, name: str, uri: str, *, file: object = None, key: str | None = None) -> None:
        """A datastore that nothing maps is an error, as on Azure ML, where naming a datastore the
        workspace does not have fails with "(UserError) Could not find datastore" (a log pasted in
        Azure/MachineLearningNotebooks#789; the aml backend's pre-flight looks every datastore up
        for the same reason); a typo must not
        quietly write to a new folder. With no mapping at all, an unknown name that is near no
        known one keeps the implicit ``<home>/datastores/<name>`` folder."""
        known = self.known()
        if name in known:
            return
        from tenantml.suggest import nearest

        guess = nearest(name, known - WORKSPACE_DATASTORES) or nearest(name, known)
        if guess is None and not self.roots:
            return
        mapped = ", ".join(sorted(self.roots)) or "none"
        raise UserError(f"'{uri}' names datastore '{name}', which nothing maps (mapped: {mapped}).",
                        file=file, key=key,
                        fix=(f"correct it to '{guess}', or map it: " if guess else "map it: ")
                        + f"add '{name}: ./folder' under datastores: in tenantml.yml, "
                          f"or pass --datastore {name}=PATH")

    def resolve(self, uri: str, *, file: object = None, key: str | None = None, writing: bool = False) -> Path:
        """The local path of a datastore URI, inside the datastore's folder. A path to be written is
        also checked with its symbolic links followed: a link inside the datastore to elsewhere
        would have the run write (and, on resume, replace) files outside every root it was given."""
        match = DATASTORE_URI.match(uri)
        if not match:
            raise UserError(f"'{uri}' is not a datastore path.", file=file, key=key,
                            fix="write azureml://datastores/<name>/paths/<path>")
        self.check_name(match["name"], uri, file=file, key=key)
        root = self.root(match["name"])
        target = Path(os.path.normpath(root / match["path"]))
        if target != root and root not in target.parents:
            raise UserError(f"'{uri}' leaves the root of datastore '{match['name']}' ({root}).",
                            file=file, key=key, fix="remove the '..' parts of the path")
        if writing:
            real_root, real_target = root.resolve(), target.resolve()
            if real_target != real_root and real_root not in real_target.parents:
                raise UserError(f"'{uri}' goes through a symbolic link inside datastore '{match['name']}' to "
                                f"{real_target}, outside the datastore's folder ({root}); tenantml writes outputs only "
                                "inside the folders it is given.", file=file, key=key,
                                fix=f"map the datastore to where the data should go (--datastore "
                                    f"{match['name']}=PATH), or replace the link with a folder")
        return target


def parse_datastore_option(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise UserError(f"--datastore '{text}' is not NAME=PATH.", fix="write e.g. --datastore datalake=./data")
    return name, Path(path).expanduser().absolute()


def local_path(value: str, *, base: Path, datastores: Datastores, file: object = None,
               key: str | None = None, writing: bool = False) -> Path:
    """A YAML path (relative, absolute, ``file:``, datastore URI) as an absolute local path."""
    if value.startswith("azureml://"):
        return datastores.resolve(value, file=file, key=key, writing=writing)
    if value.startswith("azureml:"):
        raise UserError(f"'{value}' names an Azure ML data asset, which has no local copy.", file=file,
                        key=key, fix="point the input at a local path (data asset mapping comes with tenantml.yml)")
    if re.match(r"^(https?|wasbs?|abfss?|adl)://", value):
        raise UserError(f"'{value}' is a remote URL, which tenantml cannot read locally.", file=file, key=key,
                        fix="download the data and use a local path or a datastore path")
    if value.startswith("file:"):
        value = value[len("file:"):]
        if value.startswith("//"):
            value = value[2:]
    path = Path(value).expanduser()
    return Path(os.path.normpath(path if path.is_absolute() else base / path))
