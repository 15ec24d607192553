"""Pipelines built with azure-ai-ml run locally unchanged: ``tenantml.run(job)`` and
``tenantml exec -- python submit.py``. The SDK versions of the examples must give the same
ledger outcomes and outputs as their YAML; the small pipelines cover a sub-pipeline, a
``command()`` job, typed parameters, ``Input(path=..., mode=...)`` with a relative path, an
unmapped registered asset and a service call that is not served."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tenantml
from tenantml.errors import UserError

pytest.importorskip("azure.ai.ml", reason="the aml extra is not installed (pip install -e '.[aml]')")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def copy_example(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("datalake", ".tenantml", "__pycache__"))
    return target


def load_module(path: Path):
    spec = importlib.util.spec_from_file_location(f"sdk_{path.parent.name.replace('-', '_')}_{id(path)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clean_environment(**extra: str) -> dict[str, str]:
    """os.environ without what the aml tests' fake cloud leaves behind (the SDK sets
    AZUREML_CURRENT_CLOUD in os.environ when a client names a cloud; a child would not know it)."""
    env = {k: v for k, v in os.environ.items() if k not in ("AZUREML_CURRENT_CLOUD", "AZUREML_DEV_URL_MFE")}
    return {**env, **extra}


def tenantml_cli(*args: str, home: Path, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    env = clean_environment(TENANTML_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "tenantml.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def outcomes(ledger, job: str) -> list[tuple]:
    final = ledger[(ledger["job"] == job) & ledger["final"]]
    return sorted(zip(final["label"], final["outcome"], final["items"], final["succeeded"], final["failed"]))


def final_attempts(run_dir: Path, job: str) -> list[tuple]:
    from tenantml.runfolder.ledger import read_ledgers

    return outcomes(read_ledgers(run_dir, [job]), job)


def only_run(home: Path) -> Path:
    runs = [p for p in (home / "runs").iterdir() if (p / "run.json").exists()]
    assert len(runs) == 1, runs
    return runs[0]


# ---------------------------------------------------------------------------------- the examples
@pytest.mark.slow
@pytest.mark.xdist_group("many_models_yaml_run")  # one process makes the shared run (make test: pytest -n 2)
def test_many_models_sdk_runs_equal_the_yaml_run_through_run_and_exec(tmp_path: Path, monkeypatch,
                                                                     many_models_yaml_run):
    example = copy_example("many-models", tmp_path)
    small = dict(stores=2, weeks=60)
    assert many_models_yaml_run.overrides == tuple(f"inputs.{k}={v}" for k, v in small.items())
    yaml_run = many_models_yaml_run.run
    assert yaml_run.status == "Completed"

    monkeypatch.chdir(example)  # as a notebook beside the example runs
    job = load_module(example / "pipeline_sdk.py").build_pipeline(**small)
    sdk_run = tenantml.run(job, home=tmp_path / "sdk")
    assert sdk_run.status == "Completed"
    assert [(s.name, s.status) for s in sdk_run.steps] == [(s.name, s.status) for s in yaml_run.steps]
    assert outcomes(sdk_run.ledger, "train") == outcomes(yaml_run.ledger, "train")
    assert len(outcomes(sdk_run.ledger, "train")) == 6  # 2 stores x 3 brands
    metrics = sorted(yaml_run.outputs["train"]["metrics"].read_text().splitlines())
    assert sorted(sdk_run.outputs["train"]["metrics"].read_text().splitlines()) == metrics
    assert sorted(p.name for p in sdk_run.outputs["train"]["model_folder"].iterdir()) == \
        sorted(p.name for p in yaml_run.outputs["train"]["model_folder"].iterdir())
    # the generated YAML is the run's source, in its folder, with the datastore mapping beside it
    record = json.loads((sdk_run.run_dir / "run.json").read_text())
    assert Path(record["pipeline"]).parent == sdk_run.run_dir
    assert sdk_run.outputs["prepare"]["sales"].is_relative_to(example / "datalake" / "many-models" / "sales")

    # the unchanged submission script under tenantml exec: credential probe, from_config, compute.get,
    # create_or_update, stream
    result = tenantml_cli("exec", "--", "python", "pipeline_sdk.py", "--stores", "2", "--weeks", "60",
                          home=tmp_path / "exec", cwd=example)
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = only_run(tmp_path / "exec")
    assert f"RunId: {run_dir.name}" in result.stdout and "Execution Summary" in result.stdout
    assert "cpu-cluster" in result.stdout  # print(ml_client.compute.get("cpu-cluster"))
    assert final_attempts(run_dir, "train") == outcomes(yaml_run.ledger, "train")
    assert sorted((run_dir / "train" / "outputs" / "metrics").read_text().splitlines()) == metrics


@pytest.mark.slow
@pytest.mark.xdist_group("tenants_yaml_run")  # one process makes the shared run (make test: pytest -n 2)
def test_tenants_sdk_run_equals_the_yaml_run(tmp_path: Path, monkeypatch, tenants_yaml_run):
    example = copy_example("tenants", tmp_path)
    assert tenants_yaml_run.overrides == ("inputs.tenants=8",)
    yaml_run = tenants_yaml_run.run
    monkeypatch.chdir(example)
    sdk_run = tenantml.run(load_module(example / "pipeline_sdk.py").build_pipeline(tenants=8), home=tmp_path / "sdk")
    assert [(s.name, s.status) for s in sdk_run.steps] == [(s.name, s.status) for s in yaml_run.steps]
    assert sdk_run.status == yaml_run.status == "Completed"
    failed = [row for row in outcomes(sdk_run.ledger, "training") if row[1] != "succeeded"]
    assert [row[0] for row in failed] == ["tenant_007.csv"]  # too little data: fails on both
    assert outcomes(sdk_run.ledger, "training") == outcomes(yaml_run.ledger, "training")
    assert sdk_run.outputs["training"]["ledger"].read_text() == yaml_run.outputs["training"]["ledger"].read_text()
    for name in ("predictions", "models"):
        assert sorted(str(p.relative_to(sdk_run.outputs["training"][name]))
                      for p in sdk_run.outputs["training"][name].rglob("*")) == \
            sorted(str(p.relative_to(yaml_run.outputs["training"][name]))
                   for p in yaml_run.outputs["training"][name].rglob("*"))
    metrics = "metrics.csv"
    assert (sdk_run.outputs["evaluation"]["metrics"] / metrics).read_text() == \
        (yaml_run.outputs["evaluation"]["metrics"] / metrics).read_text()


# ---------------------------------------------------------------------------------- small pipelines
STEP = """\
import argparse, os, pathlib
p = argparse.ArgumentParser()
p.add_argument("--data"); p.add_argument("--out"); p.add_argument("--count", type=int)
p.add_argument("--rate", type=float); p.add_argument("--flag"); p.add_argument("--label")
a = p.parse_args()
names = sorted(os.listdir(a.data))
pathlib.Path(a.out, "result.txt").write_text(f"{names} {a.count * 2} {a.rate} {a.flag} {a.label}\\n")
"""

BUILD = """\
from azure.ai.ml import Input, Output, command, dsl

step = command(
    code="./src",
    command="python step.py --data ${{inputs.data}} --out ${{outputs.out}} --count ${{inputs.count}} "
            "--rate ${{inputs.rate}} --flag ${{inputs.flag}} --label ${{inputs.label}}",
    inputs=dict(data=Input(type="uri_folder"), count=Input(type="integer"), rate=Input(type="number"),
                flag=Input(type="boolean"), label=Input(type="string")),
    outputs=dict(out=Output(type="uri_folder")),
    environment="azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest",
)


@dsl.pipeline(description="a sub-pipeline")
def prepare(data: Input, count: int = 1, rate: float = 0.5):
    prep = step(data=data, count=count, rate=rate, flag=True, label="inner")
    prep.inputs.data.mode = "ro_mount"  # the dump drops this input's type
    return {"prepared": prep.outputs.out}


@dsl.pipeline(display_name="nested", default_compute="cpu-cluster")
def nested(data: Input, count: int = 3, rate: float = 0.25, flag: bool = False):
    inner = prepare(data=data, count=count, rate=rate)
    consume = step(data=inner.outputs.prepared, count=4, rate=rate, flag=flag, label="outer")


def build(path="./data", count=3):
    return nested(data=Input(type="uri_folder", path=path, mode="ro_mount"), count=count)
"""


@pytest.fixture
def scripts(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "project"
    (folder / "src").mkdir(parents=True)
    (folder / "data").mkdir()
    (folder / "data" / "a.csv").write_text("x\n1\n")
    (folder / "data" / "b.csv").write_text("x\n2\n")
    (folder / "src" / "step.py").write_text(STEP)
    (folder / "build.py").write_text(BUILD)
    monkeypatch.chdir(folder)  # the SDK resolves relative paths against where the job is built
    return folder


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
def test_sub_pipeline_typed_parameters_and_a_relative_input_run_nested(scripts: Path, tmp_path: Path):
    home = tmp_path / "home"
    job = load_module(scripts / "build.py").build(count=5)
    run = tenantml.run(job, home=home)
    assert run.status == "Completed", [(s.name, s.status, s.reason) for s in run.steps]
    assert [s.name for s in run.steps] == ["inner_prep", "consume"]
    inner = (run.outputs["inner_prep"]["out"] / "result.txt").read_text()
    assert inner == "['a.csv', 'b.csv'] 10 0.25 True inner\n"  # count=5 reached the child through the node
    outer = (run.outputs["consume"]["out"] / "result.txt").read_text()
    assert outer == "['result.txt'] 8 0.25 False outer\n"  # it read the sub-pipeline's output
    assert (run.run_dir / "inner_prep" / "logs").is_dir()
    text = Path(json.loads((run.run_dir / "run.json").read_text())["pipeline"]).read_text()
    assert "azureml:./" not in text and str(scripts / "data") in text

    # a second run reuses both steps; show reads the run as any other
    again = tenantml.run(load_module(scripts / "build.py").build(count=5), home=home)
    assert [s.status for s in again.steps] == ["Reused", "Reused"]
    shown = tenantml_cli("show", run.run_id, home=home, cwd=scripts)
    assert shown.returncode == 0 and "inner_prep" in shown.stdout, shown.stdout + shown.stderr
    logs = tenantml_cli("logs", run.run_id, "inner_prep", home=home, cwd=scripts)
    assert logs.returncode == 0 and "std_log.txt" in logs.stdout, logs.stdout + logs.stderr


def test_a_flattened_name_that_another_step_has_is_a_clear_error(scripts: Path, tmp_path: Path):
    module = load_module(scripts / "build.py")
    from azure.ai.ml import Input, dsl

    @dsl.pipeline()
    def clash(data):
        inner = module.prepare(data=data)
        inner_prep = module.step(data=inner.outputs.prepared, count=1, rate=1.0, flag=True, label="x")

    with pytest.raises(UserError, match="'inner_prep' is also the name of another step"):
        tenantml.run(clash(data=Input(type="uri_folder", path="./data")), home=tmp_path / "home")


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
def test_resume_finishes_an_sdk_run_in_place(scripts: Path, tmp_path: Path):
    home = tmp_path / "home"
    (scripts / "src" / "step.py").write_text("import sys; sys.exit('broken')\n")
    failed = tenantml.run(load_module(scripts / "build.py").build(), home=home)
    assert failed.status == "Failed"
    (scripts / "src" / "step.py").write_text(STEP)
    resumed = tenantml.run(load_module(scripts / "build.py").build(), home=home, resume=failed.run_id)
    assert resumed.run_id == failed.run_id and resumed.status == "Completed"
    assert [p.name for p in (home / "runs").iterdir()] == [failed.run_id]
    # the CLI resumes it from the YAML in the run folder too
    source = json.loads((failed.run_dir / "run.json").read_text())["pipeline"]
    result = tenantml_cli("run", source, "--resume", failed.run_id, home=home, cwd=scripts)
    assert result.returncode == 0, result.stderr


def test_a_standalone_command_job_with_a_relative_input(scripts: Path, tmp_path: Path):
    from azure.ai.ml import Input, command

    job = command(code="./src", command="python step.py --data ${{inputs.data}} --out ${{outputs.out}} "
                  "--count ${{inputs.count}} --rate 1.5 --flag yes --label solo",
                  inputs=dict(data=Input(type="uri_folder", path="./data", mode="ro_mount"), count=2),
                  outputs=dict(out={"type": "uri_folder"}), display_name="solo",
                  environment="azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest")
    run = tenantml.run(job, home=tmp_path / "home")
    assert run.status == "Completed"
    assert [s.name for s in run.steps] == ["solo"]
    assert (run.outputs["solo"]["out"] / "result.txt").read_text() == "['a.csv', 'b.csv'] 4 1.5 yes solo\n"


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
def test_an_unmapped_registered_asset_is_a_clear_error(scripts: Path, tmp_path: Path):
    module = load_module(scripts / "build.py")
    with pytest.raises(UserError) as caught:
        tenantml.run(module.build(path="azureml:tenants_raw:3"), home=tmp_path / "home")
    assert "tenants_raw" in caught.value.render() and "tenantml.yml" in caught.value.render()
    assert not (tmp_path / "home" / "runs").exists() or not any((tmp_path / "home" / "runs").iterdir())

    # under exec: data.get of an unmapped asset, then (mapped) a pipeline on it
    (scripts / "get.py").write_text(textwrap.dedent("""\
        from azure.ai.ml import MLClient
        from azure.identity import DefaultAzureCredential
        ml_client = MLClient.from_config(credential=DefaultAzureCredential())
        data = ml_client.data.get("tenants_raw", version="3")
        print("PATH", data.path)
        import build
        job = ml_client.jobs.create_or_update(build.build(path=f"azureml:tenants_raw:3"))
        print("STATUS", job.status)
    """))
    result = tenantml_cli("exec", "--", "python", "get.py", home=tmp_path / "home", cwd=scripts)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "tenants_raw" in result.stderr and "tenantml.yml" in result.stderr and "Traceback" not in result.stderr
    (scripts / "tenantml.yml").write_text("assets:\n  tenants_raw: {\"3\": ./data}\n")
    result = tenantml_cli("exec", "--", "python", "get.py", home=tmp_path / "home", cwd=scripts)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"PATH {scripts / 'data'}" in result.stdout and "STATUS Completed" in result.stdout


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
def test_exec_serves_jobs_calls_and_refuses_any_other_service_call_at_once(scripts: Path, tmp_path: Path):
    (scripts / "submit.py").write_text(textwrap.dedent("""\
        import sys
        from azure.ai.ml import MLClient
        from azure.ai.ml.exceptions import JobException
        from azure.identity import DefaultAzureCredential
        credential = DefaultAzureCredential()
        credential.get_token("https://management.azure.com/.default")  # no network, no az login
        ml_client = MLClient.from_config(credential=credential)
        print(ml_client.workspaces.get(ml_client.workspace_name).name)
        import build
        job = ml_client.jobs.create_or_update(build.build(), experiment_name="exp")
        print("NAME", job.name, job.status)
        ml_client.jobs.stream(job.name)
        print("GET", ml_client.jobs.get(job.name).status)
        print("LIST", [j.name for j in ml_client.jobs.list()])
        print("CHILDREN", sorted(j.display_name for j in ml_client.jobs.list(parent_job_name=job.name)))
        ml_client.jobs.download(job.name, download_path="downloaded", output_name="out")
        open("src/step.py", "w").write("import sys; sys.exit('broken')")
        failed = ml_client.jobs.create_or_update(build.build(count=9))
        try:
            ml_client.jobs.stream(failed.name)
        except JobException as exc:
            print("RAISED", type(exc).__name__, failed.status)
        ml_client.online_endpoints.begin_delete(name="x")
    """))
    result = tenantml_cli("exec", "--", "python", "submit.py", home=tmp_path / "home", cwd=scripts)
    out = result.stdout
    assert result.returncode == 2, out + result.stderr
    name = next(line.split()[1] for line in out.splitlines() if line.startswith("NAME"))
    assert f"NAME {name} Completed" in out and f"GET Completed" in out and f"LIST ['{name}']" in out
    assert "CHILDREN ['consume', 'inner_prep']" in out
    assert (scripts / "downloaded" / "named-outputs" / "out" / "result.txt").is_file()
    assert "RAISED JobException Failed" in out
    assert "ml_client.online_endpoints.begin_delete()" in result.stderr and "Traceback" not in result.stderr


def test_exec_blocks_the_http_transport_and_keeps_the_exit_code(scripts: Path, tmp_path: Path):
    (scripts / "raw.py").write_text(textwrap.dedent("""\
        from azure.core.pipeline.transport import HttpRequest, RequestsTransport
        try:
            RequestsTransport().send(HttpRequest("GET", "https://management.azure.com/subscriptions"))
        except Exception as exc:
            print("BLOCKED", type(exc).__name__, "management.azure.com" in str(exc))
        raise SystemExit(7)
    """))
    result = tenantml_cli("exec", "--", "python", "raw.py", home=tmp_path / "home", cwd=scripts, timeout=60)
    assert result.returncode == 7, result.stdout + result.stderr
    assert "BLOCKED NotServedLocally True" in result.stdout
    result = tenantml_cli("exec", home=tmp_path / "home", cwd=scripts)
    assert result.returncode == 2 and "tenantml exec -- python" in result.stderr


def test_the_supported_sdk_range_is_checked():
    from tenantml.sdk import version

    assert version.problem(version.installed()) is None
    assert version.problem("1.20.0") is None and version.problem("1.35.2") is None
    assert "supports azure-ai-ml >=1.20,<2" in version.problem("1.19.1")
    assert version.problem("2.0.0") and version.problem(None) == "azure-ai-ml is not installed"


SLEEPY = """\
import os, time
def run(mini_batch):
    open(os.path.join(os.environ["MARKS"], "started-" + str(os.getpid())), "w").close()
    time.sleep(300)
    return mini_batch
"""

SLEEPY_SUBMIT = """\
from azure.ai.ml import Input, MLClient, Output, dsl
from azure.ai.ml.parallel import RunFunction, parallel_run_function
from azure.identity import DefaultAzureCredential

score = parallel_run_function(
    name="score", inputs=dict(data=Input(type="uri_folder")), outputs=dict(out=Output(type="uri_folder")),
    input_data="${{inputs.data}}", mini_batch_size="1", max_concurrency_per_instance=2,
    retry_settings=dict(max_retries=0, timeout=600),
    task=RunFunction(code="./src", entry_script="sleepy.py",
                     environment="azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest"))


@dsl.pipeline()
def sleepy(data):
    score(data=data)


ml_client = MLClient.from_config(credential=DefaultAzureCredential())
job = ml_client.jobs.create_or_update(sleepy(data=Input(type="uri_folder", path="./data")))
ml_client.jobs.stream(job.name)
"""


@pytest.mark.slow
def test_exec_passes_sigterm_on_so_the_run_ends_in_order(scripts: Path, tmp_path: Path):
    from test_interrupt import alive, descendants

    (scripts / "src" / "sleepy.py").write_text(SLEEPY)
    (scripts / "submit.py").write_text(SLEEPY_SUBMIT)
    marks = tmp_path / "marks"
    marks.mkdir()
    home = tmp_path / "home"
    proc = subprocess.Popen([sys.executable, "-m", "tenantml.cli", "exec", "--", "python", "submit.py"], cwd=scripts,
                            env=clean_environment(TENANTML_HOME=str(home), MARKS=str(marks)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = __import__("time").monotonic() + 90
    while len(list(marks.glob("started-*"))) < 2 and __import__("time").monotonic() < deadline:
        __import__("time").sleep(0.1)
    tree = descendants(proc.pid)
    assert len(tree) >= 3, tree  # the script and its 2 workers
    proc.send_signal(__import__("signal").SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert not [pid for pid in tree if alive(pid)]
    run_dir = only_run(home)
    assert json.loads((run_dir / "run.json").read_text())["status"] == "Interrupted"
    assert "Traceback" not in err


def test_a_notebook_runs_under_exec_with_nbconvert(scripts: Path, tmp_path: Path):
    pytest.importorskip("nbconvert", reason="jupyter nbconvert is not installed")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed")
    import nbformat

    cells = [
        "from azure.identity import DefaultAzureCredential\n"
        "credential = DefaultAzureCredential()\n"
        "credential.get_token('https://management.azure.com/.default')",
        "from azure.ai.ml import MLClient\nml_client = MLClient.from_config(credential=credential)\n"
        "print(ml_client.compute.get('cpu-cluster').name)",
        "import build\npipeline_job = ml_client.jobs.create_or_update(build.build(), experiment_name='nb')\n"
        "pipeline_job",
        "ml_client.jobs.stream(pipeline_job.name)",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbformat.write(notebook, str(scripts / "submit.ipynb"))
    result = tenantml_cli("exec", "--", "jupyter", "nbconvert", "--execute", "--to", "notebook",
                          "--output", "executed.ipynb", "submit.ipynb", home=tmp_path / "home", cwd=scripts)
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = only_run(tmp_path / "home")
    executed = (scripts / "executed.ipynb").read_text()
    assert f"RunId: {run_dir.name}" in executed and "cpu-cluster" in executed
    assert json.loads((run_dir / "run.json").read_text())["status"] == "Completed"


@pytest.mark.slow  # over ~1 s: kept out of make test-fast (measured with --durations)
def test_exec_serves_registrations_and_mapped_assets(scripts: Path, tmp_path: Path):
    (scripts / "component.yml").write_text(textwrap.dedent("""\
        $schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
        type: command
        name: prep
        version: 1
        inputs: {data: {type: uri_folder}}
        outputs: {out: {type: uri_folder}}
        code: ./src
        command: python step.py --data ${{inputs.data}} --out ${{outputs.out}} --count 1 --rate 1 --flag x --label y
        environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
    """))
    (scripts / "model.pkl").write_bytes(b"model")
    (scripts / "tenantml.yml").write_text(
        'assets:\n  raw: {"1": ./data}\n  prep: {"1": ./component.yml}\n  demand: {"4": ./model.pkl}\n')
    (scripts / "assets.py").write_text(textwrap.dedent("""\
        from azure.ai.ml import MLClient
        from azure.ai.ml.entities import Data, Environment
        from azure.identity import AzureCliCredential
        ml_client = MLClient(AzureCliCredential(), "sub", "rg", "ws")
        env = Environment(name="e", image="python:3.11")
        print("ENV", ml_client.environments.create_or_update(env) is env)
        data = Data(name="raw", path="./data", type="uri_folder")
        print("DATA", ml_client.data.create_or_update(data) is data)
        print("GOT", ml_client.data.get("raw", version="1").path, ml_client.data.get("raw", label="latest").type)
        print("MODEL", ml_client.models.get("demand", version="4").path)
        component = ml_client.components.get("prep", version="1")
        print("COMPONENT", component.name, component.type)
        print("WS", ml_client.workspaces.get("ws").name, ml_client.compute.get("gpu").name)
    """))
    result = tenantml_cli("exec", "--", "python", "assets.py", home=tmp_path / "home", cwd=scripts)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "ENV True" in out and "DATA True" in out
    assert f"GOT {scripts / 'data'} uri_folder" in out and f"MODEL {scripts / 'model.pkl'}" in out
    assert "COMPONENT prep command" in out and "WS ws gpu" in out
