"""Taming the two process-wide side effects of importing ``mltable``.

``mltable`` (through ``azureml.dataprep``) does two things tenantml must not let leak:

1. **Logs in ``$TMPDIR/azureml-logs``.** ``azureml/dataprep/api/_loggerfactory.py`` computes
   ``log_directory = os.path.join(tempfile.gettempdir(), 'azureml-logs', 'dataprep')`` once, at
   import, creates it, and ``_rslex_executor`` copies that value (``from ._loggerfactory import
   log_directory``) before handing it to the Rust engine in ``rslex.init_environment`` the first
   time data is read. Measured here: ~3 MB of ``rslex.log.*`` per 1,000 files read, never
   cleaned up. :func:`route_mltable_logs` must run before anything imports ``mltable`` or
   ``azureml.dataprep``: it imports the logger factory with ``tempfile.tempdir`` pointing at the
   run's log folder (so the import-time ``makedirs`` happens there, not in ``/tmp``), restores
   ``tempfile.tempdir`` at once, and then points both module-level copies of ``log_directory``
   at ``log_dir`` itself, before the engine is initialised. Nothing else in the process sees a
   changed temp dir. The alternatives were worse: setting ``AZUREML_RUN_ID`` also switches
   dataprep into "inside an Azure ML run" mode; patching after a plain import still leaves
   ``$TMPDIR/azureml-logs/dataprep`` created.

2. **A 3 s pause at interpreter exit.** ``_rslex_executor.ensure_rslex_environment`` registers
   ``atexit.register(rslex.release_environment)``, and that call blocks for 3.0 s (its telemetry
   shutdown). Measured on this machine (2 cores, Python 3.11, mltable 1.7.0, azureml-dataprep
   5.5.0, rslex 2.26.0), a script that imports mltable and reads a 3-row MLTable:
   ``rslex.release_environment()`` alone takes 3.00 s; the whole process takes 4.35 s wall
   with a normal exit and 1.3 s with :func:`exit_now` (import ~0.5 s + read ~0.5 s). The rslex
   log file is written as it goes, so ending with ``os._exit`` loses no log lines that matter.
   Any process that imported mltable (the divider, the CLI) should end with
   :func:`exit_now`; workers read spilled pickles and never import mltable at all.

3. **A call stack captured on every mltable call, then thrown away.** Every public mltable
   method is wrapped by dataprep's ``track``/``track_activity``, which calls
   ``_LoggerFactory.get_stack()``: ``inspect.stack()`` with source context for *every* frame of
   the caller's stack, to put three lines of it into a telemetry record. Without
   ``azureml.telemetry`` installed (tenantml never installs it) telemetry is off and the record
   is discarded unread (``_run_without_logging``). The cost grows with stack depth: in this
   module's test file it was more than half of all CPU time (user 32.2 s -> 14.5 s with the
   capture skipped). :func:`skip_discarded_call_stacks` replaces ``get_stack`` with a function
   returning ``None`` (the value dataprep itself uses when capture fails), and only while
   telemetry is off, so no recorded data changes. It is opt-in.

4. **Azure REST-client modules imported for local reads.** ``mltable.mltable`` imports
   ``mltable._aml_utilities._aml_rest_client_helper``, which imports the workspace REST client
   (``msrest``, ``azure.mgmt.core``, ``requests``) and the run-token authentication (``jwt``,
   ``cryptography``) at import time. They are used only to resolve ``azureml:`` data assets, which
   tenantml resolves itself before mltable sees a path. ``-X importtime`` of the divider: 1.26 s of
   mltable's 1.46 s under load (0.22 s of 0.28 s on a quieter minute). :func:`defer_mltable_rest_client`
   puts a stand-in for those two modules into ``sys.modules`` before mltable is imported; each name
   imported from a stand-in is a proxy that imports the real module on first use (a call or an
   attribute), so mltable behaves the same if it ever needs them. Opt-in, for tenantml's own
   divider process.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import tempfile
import types
from pathlib import Path
from typing import Any, NoReturn

_LOGGER_FACTORY = "azureml.dataprep.api._loggerfactory"


def route_mltable_logs(log_dir: Path) -> None:
    """Make azureml.dataprep (and so mltable) write its logs into ``log_dir``.

    Call once per process, before ``mltable`` or ``azureml.dataprep`` is imported (importing them
    is what this function does). Calling it again with the same folder is harmless. If they were
    imported earlier but have not read data yet, the logs still move, but that import has already
    created an (empty) ``$TMPDIR/azureml-logs/dataprep``. Raises ``RuntimeError`` once the data
    engine has started logging elsewhere: its log folder can no longer be moved.
    """
    log_dir = Path(log_dir).absolute()
    log_dir.mkdir(parents=True, exist_ok=True)
    if _LOGGER_FACTORY not in sys.modules:
        _import_logger_factory_with_tempdir(log_dir)
    _retarget(log_dir)


def _import_logger_factory_with_tempdir(log_dir: Path) -> None:
    saved = tempfile.tempdir
    tempfile.tempdir = str(log_dir)
    try:
        import azureml.dataprep.api._loggerfactory  # noqa: F401  (import for its side effect)
        import azureml.dataprep.api._rslex_executor  # noqa: F401
    finally:
        tempfile.tempdir = saved
    if not os.environ.get("ENABLE_SPAN_JSONL"):  # that exporter keeps the import-time folder
        _remove_empty_dirs(log_dir / "azureml-logs" / "dataprep", stop=log_dir)


def _retarget(log_dir: Path) -> None:
    import azureml.dataprep.api._loggerfactory as factory
    import azureml.dataprep.api._rslex_executor as executor

    target = str(log_dir)
    if executor._rslex_environment_init and executor.log_directory != target:
        raise RuntimeError(
            f"route_mltable_logs({target!r}) called after mltable started logging to "
            f"{executor.log_directory!r}; call it before the first mltable read"
        )
    factory.log_directory = target
    executor.log_directory = target


def _remove_empty_dirs(path: Path, *, stop: Path) -> None:
    """Remove ``path`` and its empty parents up to (not including) ``stop``."""
    while path != stop and stop in path.parents:
        try:
            path.rmdir()
        except OSError:
            return
        path = path.parent


def skip_discarded_call_stacks() -> bool:
    """Stop dataprep from capturing a call stack per mltable call when nothing records it.

    Returns True if the capture was switched off, False if dataprep telemetry is on (then the
    stack is recorded and left alone). Imports azureml.dataprep: call
    :func:`route_mltable_logs` first.
    """
    import azureml.dataprep.api._loggerfactory as factory

    if factory.telemetry_enabled:
        return False
    factory._LoggerFactory.get_stack = staticmethod(_no_stack)
    return True


def _no_stack(limit: int = 3, start: int = 1) -> None:
    return None


# Imported by mltable._aml_utilities._aml_rest_client_helper at import time, used only by its
# functions that call the Azure ML workspace service (checked on mltable 1.7).
_REST_CLIENT_MODULES = ("mltable._aml_utilities._restclient._azure_machine_learning_workspaces",
                        "mltable._aml_utilities._azureml_token_authentication")


def defer_mltable_rest_client() -> bool:
    """Let ``import mltable`` skip its Azure REST-client modules until something uses them.

    Returns False (and changes nothing) if mltable or one of those modules is already imported.
    """
    if "mltable" in sys.modules or any(name in sys.modules for name in _REST_CLIENT_MODULES):
        return False
    for name in _REST_CLIENT_MODULES:
        sys.modules[name] = _DeferredModule(name)
    return True


class _DeferredModule(types.ModuleType):
    """Stands in for a module: every public name is a :class:`_Deferred` proxy."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Deferred(self.__name__, attr)


class _Deferred:
    """A name of a deferred module; the module is imported when the name is first used."""

    def __init__(self, module: str, attr: str) -> None:
        self._module, self._attr = module, attr

    def _target(self) -> Any:
        if isinstance(sys.modules.get(self._module), _DeferredModule):
            del sys.modules[self._module]
        return getattr(importlib.import_module(self._module), self._attr)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._target()(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self._target(), attr)


def exit_now(code: int) -> NoReturn:
    """End the process at once with ``code``, skipping atexit handlers.

    Flushes stdout, stderr and every logging handler first. This is how a process that imported
    mltable avoids the 3 s ``rslex.release_environment`` pause at exit (see the module docstring
    for the measurements). Anything else registered with ``atexit`` is skipped too: only call it
    once the process's own work, including closing its files, is done.
    """
    _flush_logging()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(code)


def _flush_logging() -> None:
    loggers = [logging.getLogger()]
    loggers += [lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            try:
                handler.flush()
            except Exception:  # a broken handler must not keep the process alive
                pass
