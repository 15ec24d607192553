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

With ``backend="aml"`` the original object is submitted with ``jobs.create_or_update``, never a
reloaded dump; the dump is only validated by tenantml and kept in the run folder.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenantml.errors import UserError
from tenantml.local_config import FILE_NAME, read_local_config
from tenantml.locations import home as default_home
from tenantml.runs import RunRecord, propose_run_id
from tenantml.sdk import version
from tenantml.sdk.dump import Document, job_document

if TYPE_CHECKING:
    from tenantml.backends.base import RunHandle


def submit_job(job: Any, backend: str = "local", *, config: str | os.PathLike[str] | None = None,
               aml: Any = None, **options: Any) -> "RunHandle":
    version.check("running an azure-ai-ml job object")
    document = job_document(job)
    home = Path(options["home"]).absolute() if options.get("home") else default_home()
    options["home"] = home
    mappings = find_config(document.base, config)
    if backend == "aml":
        return _submit_aml(job, document, mappings, aml, options)
    from tenantml.api import submit

    if options.get("resume"):
        path = _resume_target(home, str(options["resume"]))
        config = path.parent / FILE_NAME
        kept = {p: p.read_text(encoding="utf-8") for p in (path, config) if p.is_file()}
        try:
            _write(path, document.text())
            _write_config(path.parent, mappings)
            return submit(path, backend, **options)
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
        if _write_config(run_dir, mappings):
            written.append(run_dir / FILE_NAME)
        RunRecord(run_id, str(path), backend, status="NotStarted").save(run_dir)
        written.append(run_dir / "run.json")
        try:
            return submit(path, backend, **{**options, "resume": run_id})
        except UserError as exc:
            raise _about_the_job(exc, path, document, mappings) from None
    except BaseException:
        for file in written + [run_dir / "run.json.tmp"]:
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


def find_config(base: Path, explicit: str | os.PathLike[str] | None) -> Path | None:
    """The tenantml.yml for a job object: given, beside where the job was built, or beside the script."""
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


def _write_config(folder: Path, source: Path | None) -> bool:
    """The mappings of ``source`` with absolute paths, as ``folder/tenantml.yml``."""
    if source is None:
        return False
    import yaml

    config = read_local_config(source.parent / "pipeline.yml")
    body: dict[str, Any] = {}
    if config.datastores:
        body["datastores"] = {name: str(path) for name, path in config.datastores.items()}
    if config.assets.entries:
        body["assets"] = {name: {v: str(p) for v, p in versions.items()}
                          for name, versions in config.assets.entries.items()}
    header = f"# the mappings of {source}, with absolute paths (written by tenantml for an azure-ai-ml job)\n"
    _write(folder / FILE_NAME, header + yaml.safe_dump(body, sort_keys=False))
    return True


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


def _submit_aml(job: Any, document: Document, mappings: Path | None, aml: Any, options: dict[str, Any]) -> "RunHandle":
    """The original object through ``jobs.create_or_update``; the dump is validated and kept beside it."""
    from tenantml.backends.aml import AmlBackend
    from tenantml.backends.aml.job import Prepared, tenantml_validate
    from tenantml.backends.base import RunOptions

    home: Path = options["home"]
    staging = home / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    folder = Path(__import__("tempfile").mkdtemp(prefix="sdk-", dir=staging))
    path = folder / f"{document.stem}.yml"
    try:
        _write(path, document.text())
        _write_config(folder, mappings)
        warnings = tenantml_validate(path, ())
        experiment = str(getattr(job, "experiment_name", None) or document.body.get("experiment_name")
                         or document.base.name)
        prepared = Prepared(source=path, job=job, experiment=experiment, warnings=warnings)
        run_options = RunOptions(home=home, run_id=options.get("run_id"), reporter=options.get("reporter"), aml=aml)
        handle = AmlBackend().submit_prepared(prepared, run_options)
        kept = handle.run_dir / path.name
        shutil.copy2(path, kept)
        record = RunRecord.load(handle.run_dir)
        record.pipeline = str(kept)
        record.save(handle.run_dir)
        return handle
    finally:
        shutil.rmtree(folder, ignore_errors=True)
