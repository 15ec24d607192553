"""``tenantml.run(job)`` / ``tenantml.submit(job)`` for an azure-ai-ml job object.

Locally, the job becomes a pipeline YAML (:mod:`tenantml.sdk.dump`) that lives **in the run
folder** (``<home>/runs/<run-id>/<name>.yml``, with a ``tenantml.yml`` holding the datastore and
asset mappings found beside the script), so ``show``, ``logs``, ``--resume`` and step reuse work
as for a YAML run::

    <home>/runs/<run-id>/            claimed exclusively, as every run folder
        <name>.yml                   the generated pipeline (the run's source)
        tenantml.yml                 the mappings in force, with absolute paths
        run.json                     written NotStarted first, then the run resumes it from nothing

The run is started by *resuming* that NotStarted record, so the backend's own loading,
validation and locking are used unchanged. Bad input removes the folder again (it holds only
what this module wrote). ``--resume RUN`` (``resume=``) rewrites the YAML of RUN from the job
given now and finishes it in place, as ``tenantml run RUN/<name>.yml --resume RUN`` would.

A backend that declares ``supports_job_object`` (aml) gets the object itself through
``submit_job_object(job, dump, options)``: aml submits it with ``jobs.create_or_update``, never a
reloaded dump; the dump is only validated by tenantml and kept in the run folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from tenantml.backends.registry import BackendRegistry
from tenantml.errors import UserError
from tenantml.locations import home as default_home
from tenantml.runs import RunRecord, propose_run_id
from tenantml.sdk import version
from tenantml.sdk.dump import Document, job_document
from tenantml.sdk.mappings import FILE_NAME, find_config, write_copy
from tenantml.status import RunStatus

if TYPE_CHECKING:
    from tenantml.backends.base import Backend, RunHandle, RunOptions


class _TakesJobObject(Protocol):
    """A backend with ``supports_job_object``."""

    def submit_job_object(self, job: Any, pipeline: Path, options: RunOptions) -> RunHandle: ...


def submit_job(job: Any, backend: str = "local", *, config: str | os.PathLike[str] | None = None,
               registry: BackendRegistry | None = None, **options: Any) -> RunHandle:
    version.check("running an azure-ai-ml job object")
    document = job_document(job)
    home = Path(options["home"]).absolute() if options.get("home") else default_home()
    options["home"] = home
    mappings = find_config(document.base, config)
    backend_cls = (registry or BackendRegistry()).load(backend)
    if getattr(backend_cls, "supports_job_object", False):
        return _submit_object(backend_cls, backend, job, document, mappings, options)
    from tenantml.api import submit

    if options.get("resume"):
        path = _resume_target(home, str(options["resume"]))
        config = path.parent / FILE_NAME
        kept = {p: p.read_text(encoding="utf-8") for p in (path, config) if p.is_file()}
        try:
            _write(path, document.text())
            write_copy(path.parent, mappings)
            return submit(path, backend, registry=registry, **options)
        except UserError:
            for file, text in kept.items():  # bad input: the run's source is as it was
                _write(file, text)
            if config not in kept:
                config.unlink(missing_ok=True)
            raise
    run_id, run_dir = _claim(home, document, options.pop("run_id", None))
    path = run_dir / f"{document.stem}.yml"
    written = [path]
    try:
        _write(path, document.text())
        if write_copy(run_dir, mappings):
            written.append(run_dir / FILE_NAME)
        RunRecord(run_id, str(path), backend, status=RunStatus.NOT_STARTED).save(run_dir)
        written.append(run_dir / "run.json")
        try:
            return submit(path, backend, registry=registry, **{**options, "resume": run_id})
        except UserError as exc:
            raise _about_the_job(exc, path, document, mappings) from None
    except BaseException:
        for file in written + [run_dir / "run.json.tmp", run_dir / ".lock"]:  # .lock: the backend's, of this run
            file.unlink(missing_ok=True)
        try:
            run_dir.rmdir()  # only if nothing else is in it
        except OSError:
            pass
        raise


def _about_the_job(exc: UserError, path: Path, document: Document, mappings: Path | None) -> UserError:
    """The loader's error about the generated YAML (which is removed again), said of the job."""
    where = f"the azure-ai-ml job built in {document.base} (as YAML)"
    config = str(mappings or document.base / FILE_NAME)
    text = exc.render().replace(str(path), where).replace("tenantml.yml (beside the pipeline)", config)
    return UserError(text)


def _write(path: Path, text: str) -> None:
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(text, encoding="utf-8")
    temp.replace(path)


def _claim(home: Path, document: Document, run_id: str | None) -> tuple[str, Path]:
    runs = home / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        rid = run_id or propose_run_id(Path(document.stem + ".yml"))
        try:
            (runs / rid).mkdir()
            return rid, runs / rid
        except FileExistsError:
            if run_id:
                raise UserError(f"there is already a run '{run_id}' in {runs}.", key="run_id",
                                fix="choose another run_id, or finish that run with resume=") from None
    raise RuntimeError("could not create a unique run folder")


def _resume_target(home: Path, run_id: str) -> Path:
    run_dir = home / "runs" / run_id
    if not (run_dir / "run.json").exists():
        raise UserError(f"there is no run '{run_id}' in {home / 'runs'}.", key="resume",
                        fix="name a run listed by 'tenantml runs'")
    record = RunRecord.load(run_dir)
    path = Path(record.pipeline)
    if path.parent != run_dir:
        raise UserError(f"run '{run_id}' ran the YAML file {path}, not an azure-ai-ml job.", key="resume",
                        fix=f"tenantml run {path} --resume {run_id}")
    return path


def _submit_object(backend_cls: type[Backend], backend: str, job: Any, document: Document,
                   mappings: Path | None, options: dict[str, Any]) -> RunHandle:
    """A backend that takes the job object itself (``supports_job_object``: aml, which submits it
    with ``jobs.create_or_update``): the dump is staged for its validation, then kept in the run folder."""
    import tempfile

    from tenantml.api import run_options_for

    run_options = run_options_for(backend_cls, backend, **options)
    staging = run_options.home / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="sdk-", dir=staging))
    path = folder / f"{document.stem}.yml"
    try:
        _write(path, document.text())
        write_copy(folder, mappings)
        handle = cast("_TakesJobObject", backend_cls()).submit_job_object(job, path, run_options)
        kept = handle.run_dir / path.name
        shutil.copy2(path, kept)
        record = RunRecord.load(handle.run_dir)
        record.pipeline = str(kept)
        record.save(handle.run_dir)
        return handle
    finally:
        shutil.rmtree(folder, ignore_errors=True)
