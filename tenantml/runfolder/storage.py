"""Out-of-space and I/O errors: one clear paragraph naming the path, exit 2, never a traceback.

A full disk is not a bug of tenantml nor a mistake in the pipeline: the run stops, its record
says Failed with this reason, partial outputs stay aside (``.<name>.partial``) and are never
committed, renamed into place or recorded for reuse.
"""

from __future__ import annotations

import errno
from pathlib import Path

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


# A path that is not what the run needs there: made (or changed) by a person, not by tenantml.
PATH_PROBLEMS = {errno.ENOTDIR: "a part of this path is a file where a folder is needed",
                 errno.EEXIST: "a file is there where a folder is needed",
                 errno.EISDIR: "a folder is there where a file is needed",
                 errno.EACCES: "permission denied", errno.EPERM: "the operation is not permitted",
                 errno.ENAMETOOLONG: "the name is too long for the file system",
                 errno.ELOOP: "symbolic links there loop"}


class PathError(UserError):
    """The run cannot read or write a path because of what is (or is not allowed) there."""

    @classmethod
    def from_os(cls, exc: OSError, run_dir: Path | None = None, resume: str | None = None) -> PathError:
        where = Path(str(exc.filename))
        what = PATH_PROBLEMS.get(exc.errno or 0, exc.strerror or str(exc))
        if run_dir is not None and (run_dir == where or run_dir in where.parents):
            return cls(f"the run folder was changed by hand: {what}. The run stopped and is marked Failed.",
                       file=where, fix="start a new run of the pipeline (without --resume); this run is left as "
                                       "it is")
        if resume is None:
            return cls(f"tenantml cannot use this path: {what}. Nothing there was changed.", file=where,
                       fix="move what is there aside, or point tenantml elsewhere (TENANTML_HOME, --datastore, "
                           "the pipeline's paths)")
        return cls(f"the run cannot use this path: {what}. The run stopped and is marked Failed; nothing there "
                   "was deleted.", file=where,
                   fix="move what is there aside (or point the output or --datastore elsewhere), then finish the run "
                       f"with: {resume}")


def user_os_error(exc: OSError, run_dir: Path | None = None, resume: str | None = None) -> UserError | None:
    """The clear error for an OSError a user can fix (a full disk, a file where a folder belongs),
    or None for one that is tenantml's own bug (left to surface as such)."""
    if is_storage_error(exc):
        return StorageError.from_os(exc, resume=resume or "tenantml run PIPELINE --resume RUN_ID")
    if exc.errno in PATH_PROBLEMS and exc.filename:
        return PathError.from_os(exc, run_dir, resume)
    return None
