"""Shared helpers: build a real pipeline (YAML, entry script, data files) in a temp folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

os.environ.setdefault("TENANTML_TEST", "1")
# The CLI wraps tables to $COLUMNS when it is set; pytest-xdist's workers (make test runs -n 2) inherit
# one, and the tests read whole rows as a script piping the output does. A test that wants a width sets it.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

# A tabular MLTable over every CSV beside it, as users write them.
CSV_MLTABLE = """
paths:
  - pattern: ./*.csv
transformations:
  - read_delimited:
      delimiter: ','
      header: all_files_same_headers
"""


@dataclass
class Project:
    root: Path

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def pipeline(self) -> Path:
        return self.root / "pipeline.yml"

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def tenants(self, count: int, folder: str = "data", rows: int = 3) -> Path:
        target = self.root / folder
        target.mkdir(parents=True, exist_ok=True)
        for i in range(1, count + 1):
            lines = ["x,y"] + [f"{j},{2 * j + i}" for j in range(rows)]
            (target / f"tenant_{i}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return target

    def parallel_pipeline(self, script: str, *, job: dict[str, Any] | None = None, task: dict[str, Any] | None = None,
                          data: str = "data", data_type: str = "uri_folder", name: str = "score") -> Path:
        """A pipeline with one parallel job over ``data`` and a folder output ``out``."""
        self.write("src/entry.py", script)
        spec: dict[str, Any] = {
            "type": "parallel",
            "inputs": {"data": {"type": data_type, "path": f"./{data}"}},
            "outputs": {"out": {"type": "uri_folder"}},
            "input_data": "${{inputs.data}}",
            "mini_batch_size": "1",
            "resources": {"instance_count": 1},
            "max_concurrency_per_instance": 1,
            "retry_settings": {"max_retries": 2, "timeout": 30},
            "task": {"type": "run_function", "code": "./src", "entry_script": "entry.py",
                     "environment": {"image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04"},
                     "append_row_to": "${{outputs.out}}"},
        }
        for key, value in (job or {}).items():
            if value is None:
                spec.pop(key, None)
            else:
                spec[key] = value
        for key, value in (task or {}).items():
            if value is None:
                spec["task"].pop(key, None)
            else:
                spec["task"][key] = value
        document = {"$schema": "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json",
                    "type": "pipeline", "jobs": {name: spec}}
        self.pipeline.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        return self.pipeline

    def run(self, **options: Any):
        import tenantml

        options.setdefault("home", self.home)
        return tenantml.run(self.pipeline, **options)

    def cli(self, *args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        full_env = {**os.environ, "TENANTML_HOME": str(self.home), **(env or {})}
        return subprocess.run([sys.executable, "-m", "tenantml.cli", *args], cwd=self.root, env=full_env,
                              capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def job_dir(run, job: str = "score") -> Path:
    return run.run_dir / job


# ------------------------------------------------------------------ the examples, each run once
# The tenants and many-models examples take tens of seconds each; the example's own test and the
# SDK-equality test both need the YAML run, so it is made once per session. A test that goes on
# from it (reuse, a challenger) only adds runs of its own: a finished run's folder and outputs are
# never changed by later runs, which is what lets the other test read them afterwards.
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def copy_example(name: str, target: Path) -> Path:
    """A copy of examples/<name> without anything a run left there; returns the folder."""
    folder = target / name
    shutil.copytree(EXAMPLES / name, folder, ignore=shutil.ignore_patterns("datalake", ".tenantml", "__pycache__"))
    return folder


@dataclass(frozen=True)
class ExampleRun:
    example: Path  # the copied example folder the run used
    home: Path
    overrides: tuple[str, ...]
    run: Any  # tenantml.Run


def _run_example(name: str, overrides: tuple[str, ...], factory: pytest.TempPathFactory) -> ExampleRun:
    import tenantml

    base = factory.mktemp(f"{name}-yaml")
    example = copy_example(name, base)
    run = tenantml.run(example / "pipeline.yml", home=base / "home", overrides=list(overrides))
    return ExampleRun(example, base / "home", overrides, run)


@pytest.fixture(scope="session")
def tenants_yaml_run(tmp_path_factory: pytest.TempPathFactory) -> ExampleRun:
    """examples/tenants at 8 tenants, run from its YAML."""
    return _run_example("tenants", ("inputs.tenants=8",), tmp_path_factory)


@pytest.fixture(scope="session")
def many_models_yaml_run(tmp_path_factory: pytest.TempPathFactory) -> ExampleRun:
    """examples/many-models at 2 stores x 60 weeks (2021-01-04 on: the partitions span both yearly files)."""
    return _run_example("many-models", ("inputs.stores=2", "inputs.weeks=60"), tmp_path_factory)
