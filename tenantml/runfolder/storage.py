"""Out-of-space and I/O errors: one clear paragraph naming the path, exit 2, never a traceback.

A full disk is not a bug of tenantml nor a mistake in the pipeline: the run stops, its record
says Failed with this reason, partial outputs stay aside (``.<name>.partial``) and are never
committed, renamed into place or recorded for reuse.
"""

from __future__ import annotations

import errno

from tenantml.errors import UserError

STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS})


def is_storage_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS


class StorageError(UserError):
    """Writing failed for lack of space, a file size limit, a read-only or failing device."""

    @classmethod
    def from_os(cls, exc: OSError, path: object = None, doing: str = "writing",
                resume: str = "tenantml run PIPELINE --resume RUN_ID") -> StorageError:
        where = exc.filename or path or "a file of the run"
        what = {errno.ENOSPC: "there is no space left on the device",
                errno.EDQUOT: "the disk quota is exhausted",
                errno.EFBIG: "the file grew beyond the allowed size",
                errno.EIO: "the device reported an I/O error",
                errno.EROFS: "the file system is read-only"}.get(exc.errno or 0, exc.strerror or str(exc))
        return cls(f"{doing} failed: {what}. The run stopped and is marked Failed; partial outputs were not "
                   "committed and will not be reused.", file=where,
                   fix="free space there (or point TENANTML_HOME / --datastore at a larger disk), then finish the "
                       f"run with: {resume}")
