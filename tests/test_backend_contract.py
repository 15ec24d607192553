"""The backend contract: the same small pipelines through every backend, the same answers.

Backends: ``local`` (processes on this machine), ``inprocess`` (the example in
examples/backends/inprocess: "adding a backend is a folder plus an entry point", registered
here on a registry object, nothing global) and ``aml`` (the real azure-ai-ml client against
the loopback fake of Azure ML in tests/aml_fake.py; the fake runs no code, so the verdict of a
cloud job is what the fake service reports, and outputs come only with ``tenantml fetch``).

What every backend must do:
- ``submit`` validates, makes ``<home>/runs/<run-id>/run.json``, returns a handle;
- ``wait`` ends Completed or Failed, the same in ``status()``, ``steps()`` and run.json;
- Ctrl-C while waiting goes through :func:`tenantml.api.wait`: ``RunInterrupted`` (exit 130),
  status Interrupted in the handle and in run.json, no process left behind.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from tenantml.api import submit, wait
from tenantml.backends.registry import BackendRegistry
from tenantml.errors import RunInterrupted
from tenantml.status import RunStatus

try:  # the aml world: the loopback fake and Azurite, started once per module by this fixture
    from test_aml_submit import azure  # noqa: F401  (a pytest fixture, used by name)
except pytest.skip.Exception:  # the aml extra is not installed: its cases skip
    pass

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_BACKEND = ROOT / "examples" / "backends" / "inprocess"

OK = "def init():\n    pass\n\ndef run(mini_batch):\n    return [os.path.basename(p) for p in mini_batch]\n"
FAILS_ON_2 = ("def run(mini_batch):\n    if any('tenant_2' in p for p in mini_batch):\n"
              "        raise KeyError('tenant config')\n    return list(mini_batch)\n")
SLOW = "def run(mini_batch):\n    time.sleep(0.5)\n    return list(mini_batch)\n"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # marshmallow 4 notices inside the SDK

BACKENDS = ["local", "inprocess", pytest.param("aml", marks=pytest.mark.slow)]


@pytest.fixture
def registry(monkeypatch) -> BackendRegistry:
    monkeypatch.syspath_prepend(str(EXAMPLE_BACKEND))
    return BackendRegistry(extra={"inprocess": "tenantml_inprocess:InProcessBackend"})


def write_pipeline(root: Path, script: str, tenants: int = 3, mini_batch_error_threshold: int = -1) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "score.py").write_text("import os, time\n\n" + script, encoding="utf-8")
    (root / "data").mkdir()
    for i in range(1, tenants + 1):
        (root / "data" / f"tenant_{i}.csv").write_text(f"x,y\n{i},{2 * i}\n", encoding="utf-8")
    path = root / "pipeline.yml"
    doc = {"type": "pipeline", "experiment_name": "contract", "settings": {"default_compute": "azureml:cpu-cluster"},
           "jobs": {"score": {
               "type": "parallel", "inputs": {"data": {"type": "uri_folder", "path": "./data"}},
               "outputs": {"out": {"type": "uri_folder"}}, "input_data": "${{inputs.data}}", "mini_batch_size": "1",
               "retry_settings": {"max_retries": 0, "timeout": 30},
               "mini_batch_error_threshold": mini_batch_error_threshold,
               "task": {"type": "run_function", "code": "./src", "entry_script": "score.py",
                        "environment": "azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest",
                        "append_row_to": "${{outputs.out}}"}}}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


class Azure:
    """The aml backend's world: the loopback fake (started once, by test_aml_submit's fixture)."""

    def __init__(self, request: pytest.FixtureRequest):
        self.ws, _ = request.getfixturevalue("azure")

    def options(self, **kw: Any) -> Any:
        from test_aml_submit import aml_options

        return aml_options(self.ws, wait=True, **kw)


@pytest.fixture
def world(request: pytest.FixtureRequest):
    def options(backend: str, **kw: Any) -> Any:
        if backend == "aml":
            return Azure(request).options(**kw)
        if backend == "local":
            from tenantml.backends.local import LocalOptions

            return LocalOptions(max_workers=1)
        return None
    return options


def _record(handle) -> dict[str, Any]:
    return json.loads((handle.run_dir / "run.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_good_pipeline_completes_the_same_way(backend, registry, world, tmp_path):
    pipeline = write_pipeline(tmp_path / "proj", OK)
    handle = submit(pipeline, backend, home=tmp_path / "home", options=world(backend), registry=registry)
    assert (handle.run_dir / "run.json").exists()
    assert wait(handle) is RunStatus.COMPLETED
    assert handle.status() is RunStatus.COMPLETED
    assert [(s.name, s.status) for s in handle.steps()] == [("score", RunStatus.COMPLETED)]
    assert _record(handle)["status"] == "Completed"
    if not registry.load(backend).supports_fetch:  # it ran here: its outputs are here
        out = handle.outputs()["score"]["out"] / "parallel_run_step.txt"
        assert sorted(out.read_text().split()) == ["tenant_1.csv", "tenant_2.csv", "tenant_3.csv"]
        ledger = handle.ledger()
        assert sorted(ledger["mini_batch"].astype(int)) == [0, 1, 2]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failing_tenant_fails_the_run_the_same_way(backend, registry, world, request, tmp_path):
    if backend == "aml":  # the fake runs no code: the service says Failed
        azure = Azure(request)
        azure.ws.final_status = "Failed"
        request.addfinalizer(lambda: setattr(azure.ws, "final_status", "Completed"))
    pipeline = write_pipeline(tmp_path / "proj", FAILS_ON_2, mini_batch_error_threshold=0)  # 1 failure fails it
    handle = submit(pipeline, backend, home=tmp_path / "home", options=world(backend), registry=registry)
    assert wait(handle) is RunStatus.FAILED
    assert handle.status() is RunStatus.FAILED
    assert [(s.name, s.status) for s in handle.steps()] == [("score", RunStatus.FAILED)]
    assert _record(handle)["status"] == "Failed"


@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_while_waiting_is_the_same_contract_everywhere(backend, registry, world, request, tmp_path):
    from test_interrupt import descendants

    kw: dict[str, Any] = {}
    if backend == "aml":
        azure = Azure(request)
        saved = azure.ws.polls_to_finish
        azure.ws.polls_to_finish = 10**6  # the cloud job keeps running
        request.addfinalizer(lambda: setattr(azure.ws, "polls_to_finish", saved))
        kw = {"cancel_on_interrupt": True}
    options = Azure(request).options(**kw) if backend == "aml" else world(backend)
    before = descendants(os.getpid())
    pipeline = write_pipeline(tmp_path / "proj", SLOW, tenants=20)
    handle = submit(pipeline, backend, home=tmp_path / "home", options=options, registry=registry)
    timer = threading.Timer(1.0, signal.raise_signal, args=(signal.SIGINT,))
    timer.start()
    try:
        with pytest.raises(RunInterrupted) as info:
            wait(handle)
    finally:
        timer.cancel()
    assert info.value.exit_code == 130
    assert handle.status() is RunStatus.INTERRUPTED
    assert _record(handle)["status"] == "Interrupted"
    assert descendants(os.getpid()) <= before  # every worker ended; nothing left behind


def test_the_example_backend_is_a_folder_plus_an_entry_point(registry):
    text = (EXAMPLE_BACKEND / "pyproject.toml").read_text(encoding="utf-8")
    assert '[project.entry-points."tenantml.backends"]' in text
    assert 'inprocess = "tenantml_inprocess:InProcessBackend"' in text
    assert "inprocess" in registry.names() and "inprocess" not in BackendRegistry().names()  # nothing global
    cls = registry.load("inprocess")
    assert cls.options_type.__name__ == "InProcessOptions" and not cls.supports_resume


def test_core_imports_no_backend():
    """tenantml/ outside tenantml/backends/ reaches backends only through base.py and registry.py."""
    import ast

    core = [p for p in (ROOT / "tenantml").rglob("*.py") if "backends" not in p.relative_to(ROOT / "tenantml").parts]
    allowed = {"tenantml.backends.base", "tenantml.backends.registry"}
    found = []
    for path in core:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            found += [f"{path.name}: {n}" for n in names if n.startswith("tenantml.backends") and n not in allowed]
    assert core and not found


def test_the_command_line_reads_capability_flags(tmp_path, monkeypatch, capsys):
    from tenantml.cli import main

    monkeypatch.setenv("TENANTML_HOME", str(tmp_path / "home"))
    pipeline = write_pipeline(tmp_path / "proj", OK)
    assert main(["fetch", "some_run", "--backend", "local"]) == 2  # local: supports_fetch = False
    assert "nothing to fetch" in capsys.readouterr().err
    assert main(["run", str(pipeline), "--dry-run"]) == 0  # local: supports_plan = True, nothing runs
    assert "valid (1 job(s): score)" in capsys.readouterr().out
    assert not (tmp_path / "home" / "runs").exists()


def test_the_local_parallel_step_reaches_its_workers_only_through_the_transport(tmp_path):
    """Another engine (Ray, Dask) replaces only pool.Transport: here a transport that records
    what the scheduling loop asks of it runs the same pipeline to the same result."""
    from tenantml.backends.local import LocalOptions
    from tenantml.backends.local.pool import ProcessPool

    calls: list[str] = []

    class Recording(ProcessPool):
        def start(self, *args: Any, **kwargs: Any) -> Any:
            calls.append("start")
            return super().start(*args, **kwargs)

        def send(self, worker: Any, message: object) -> bool:
            calls.append(type(message).__name__)
            return super().send(worker, message)

    pipeline = write_pipeline(tmp_path / "proj", OK)
    handle = submit(pipeline, home=tmp_path / "home", options=LocalOptions(max_workers=1, transport=Recording))
    assert wait(handle) is RunStatus.COMPLETED
    out = handle.outputs()["score"]["out"] / "parallel_run_step.txt"
    assert sorted(out.read_text().split()) == ["tenant_1.csv", "tenant_2.csv", "tenant_3.csv"]
    assert calls.count("start") == 1 and calls.count("Call") == 3 and calls[-1] == "Stop"
