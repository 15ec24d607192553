"""Files tenantml itself writes outside a run folder: a later run replaces one only while it is
still the file a tenantml run wrote there.

    RowAppender.commit: stamp(built)  --> <home>/written/<sha256(path)[:24]>.json
                        rename built onto the target (a rename keeps inode, size and mtime)
    next run, before the step: foreign(target)?  the file there is not the stamped one
                        --> the step is refused (exit 2), the file untouched

The one such file is ``append_row_to``'s ``parallel_run_step.txt`` (or its ``uri_file``) on a
datastore path; what the entry script or a command writes there is the user's own code. Azure ML
would overwrite the file whoever wrote it; tenantml does not overwrite what no tenantml run wrote
(DEVELOPERS.md: never overwrite a path the run did not create), so a copy of earlier Azure ML
outputs, or a file of the user's with that name, fails the run first, with what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

from tenantml.runfolder.atomic import atomic_write


class WrittenFiles:
    def __init__(self, home: Path, run_id: str) -> None:
        self.folder = home / "written"
        self.run_id = run_id

    def _record(self, target: Path) -> Path:
        digest = hashlib.sha256(str(target).encode("utf-8", "surrogateescape")).hexdigest()[:24]
        return self.folder / f"{digest}.json"

    def stamp(self, built: Path, target: Path) -> None:
        """Before ``built`` is renamed onto ``target``: that file is this run's."""
        st = built.stat()
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self._record(target), json.dumps({"path": str(target), "ino": st.st_ino, "size": st.st_size,
                                                      "mtime_ns": st.st_mtime_ns, "run_id": self.run_id}))

    def foreign(self, target: Path) -> bool:
        """Whether ``target`` holds something that is not the file a tenantml run last wrote there."""
        try:
            st = os.lstat(target)
        except FileNotFoundError:
            return False
        if not stat.S_ISREG(st.st_mode):
            return True  # a link, a folder, a device: never the file tenantml wrote
        try:
            record = json.loads(self._record(target).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return True
        return not isinstance(record, dict) or record.get("path") != str(target) or (
            record.get("ino"), record.get("size"), record.get("mtime_ns")) != (st.st_ino, st.st_size, st.st_mtime_ns)
