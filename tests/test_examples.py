"""The examples users copy: each runs end to end (small sizes) and produces what examples/README.md promises.

Every test runs a copy of its example in a temp folder, so no datalake, registry or run folder leaks
between tests or into the repository (the tenants and many-models YAML runs are made once per session,
in tests/conftest.py, and shared with the SDK-equality tests). The data is generated, so the truth the models should find is known.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import tenantml

pytestmark = pytest.mark.slow  # end to end: the examples as users run them

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NAMES = ("tenants", "many-models", "batch-scoring")
FEATURES = ["price", "promotion", "temperature"]


def copy_example(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("datalake", ".tenantml", "__pycache__"))
    return target / "pipeline.yml"


def cli(*args: str, home: Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "TENANTML_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "tenantml.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def statuses(run) -> dict[str, str]:
    return {step.name: step.status for step in run.steps}


def registry_versions(registry: Path, tenant: str) -> list[dict]:
    return json.loads((registry / f"demand-{tenant}" / "versions.json").read_text())


def held_out_mae(model_file: Path, held_out: pd.DataFrame) -> float:
    import joblib

    predicted = joblib.load(model_file).predict(held_out[FEATURES])
    return float(np.mean(np.abs(held_out["demand"].to_numpy() - predicted)))


def assert_is_a_chart(path: Path) -> None:
    """A valid PNG of a readable size, with the bar colours of the chart in it (not a blank canvas)."""
    import matplotlib.image

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG file"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width >= 800 and height >= 400, (width, height)
    pixels = (matplotlib.image.imread(path)[:, :, :3] * 255).round().astype(int).reshape(-1, 3)
    colours = {tuple(p) for p in np.unique(pixels, axis=0)}
    assert (46, 125, 50) in colours, "no green (R² >= 0.8) bar"
    assert (198, 40, 40) in colours, "no red (R² < 0.3) bar"
    assert len(colours) > 50  # text, axes, bars: a drawn chart


@pytest.mark.parametrize("name", NAMES)
def test_example_is_complete_and_valid(name: str, tmp_path: Path):
    pipeline = copy_example(name, tmp_path)
    result = cli("validate", "pipeline.yml", home=tmp_path / "home", cwd=pipeline.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    # ready for --backend aml: every step names its compute and environment, every conda file exists
    document = yaml.safe_load(pipeline.read_text())
    assert document["settings"]["default_compute"] == "azureml:cpu-cluster"
    texts = [pipeline.read_text()] + [p.read_text() for p in pipeline.parent.glob("components/*.yml")]
    conda_files = []
    for path, text in zip([pipeline, *pipeline.parent.glob("components/*.yml")], texts):
        for line in text.splitlines():
            if line.strip().startswith("conda_file:"):
                conda_files.append((path.parent / line.split(":", 1)[1].strip()).resolve())
    assert conda_files and all(f.is_file() for f in conda_files), conda_files
    for job_name, job in document["jobs"].items():
        if "component" in job:
            job = {**yaml.safe_load((pipeline.parent / job["component"]).read_text()), **job}
        holder = job.get("task", {}) if job.get("type") == "parallel" else job
        assert "environment" in holder, f"{name}: job {job_name} names no environment"
    assert (pipeline.parent / "tenantml.yml").is_file()
    assert f"## examples/{name}" in (EXAMPLES / "README.md").read_text()


@pytest.mark.xdist_group("tenants_yaml_run")  # one process makes the shared run (make test: pytest -n 2)
def test_tenants_trains_evaluates_and_registers_only_models_that_beat_the_champion(tenants_yaml_run):
    example, home, first = tenants_yaml_run.example, tenants_yaml_run.home, tenants_yaml_run.run
    pipeline, small = example / "pipeline.yml", list(tenants_yaml_run.overrides)
    assert first.status == "Completed", statuses(first)
    profiles = pd.read_csv(first.outputs["generate"]["profiles"] / "tenant_profiles.csv").set_index("tenant")
    assert len(profiles) == 8
    kinds = profiles["kind"]
    trainable = sorted(profiles.index[~profiles["tiny"]])
    linear = [t for t in trainable if kinds[t] == "linear"]
    nonlinear = [t for t in trainable if kinds[t] == "nonlinear"]
    noise = [t for t in trainable if kinds[t] == "noise"]
    assert sorted(profiles.index[profiles["tiny"]]) == ["tenant_007"]
    assert linear and nonlinear and noise

    # data_engineering: one CSV per tenant and an MLTable listing them, in the datalake, under the run id
    training_data = first.outputs["data_engineering"]["training_data"]
    assert training_data == example / "datalake" / "tenants" / "training_data" / first.run_id
    assert sorted(p.stem for p in training_data.glob("*.csv")) == sorted(profiles.index)
    assert (training_data / "MLTable").read_text().count("- file: ./") == 8

    # training: a model and a card per trainable tenant; the tenant with too little data fails clearly
    models = first.outputs["training"]["models"]
    for tenant in trainable:
        assert (models / tenant / "model.pkl").stat().st_size > 0
        card = json.loads((models / tenant / "card.json").read_text())
        data = (training_data / f"{tenant}.csv").read_bytes()
        assert card["data_hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        assert card["rows"]["train"] + card["rows"]["test"] == len(pd.read_csv(training_data / f"{tenant}.csv"))
        assert card["parameters"] == {"model": "gbm", "n_estimators": 100, "max_depth": 3, "learning_rate": 0.1}
        assert set(card["metrics"]) == {"mae", "rmse", "r2"}
    assert not (models / "tenant_007").exists()
    ledger_lines = first.outputs["training"]["ledger"].read_text().splitlines()
    assert [line.split(",")[0] for line in ledger_lines] == trainable  # one line per trained tenant, in order
    for line in ledger_lines:  # tenant,model,train_rows,test_rows,mae,rmse,r2
        tenant, model, train_rows, test_rows, mae, _, _ = line.split(",")
        card = json.loads((models / tenant / "card.json").read_text())
        assert (model, int(train_rows), int(test_rows)) == ("gbm", card["rows"]["train"], card["rows"]["test"])
        assert float(mae) == pytest.approx(card["metrics"]["mae"], abs=1e-4)
    attempts = first.ledger[first.ledger["job"] == "training"]
    failed = attempts[attempts["final"] & (attempts["outcome"] != "succeeded")]
    assert failed["label"].tolist() == ["tenant_007.csv"]
    assert "MIN_TRAIN_ROWS=20" in failed["error_message"].iloc[0]
    assert (attempts["label"] == "tenant_007.csv").sum() == 2  # retry_settings.max_retries: 1
    job_result = (first.run_dir / "training" / "logs" / "job_result.txt").read_text()
    assert job_result.startswith("Status: Completed") and "tenant_007" in job_result
    shown = cli("show", first.run_id, "--failed", home=home, cwd=example)
    assert shown.returncode == 0 and "tenant_007" in shown.stdout, shown.stdout + shown.stderr

    # evaluation: per-tenant metrics that match the generated truth, a summary and a chart
    evaluation = first.outputs["evaluation"]["metrics"]
    metrics = pd.read_csv(evaluation / "metrics.csv", index_col="tenant")
    assert sorted(metrics.index) == trainable
    assert (metrics.loc[linear, "r2"] > 0.8).all(), metrics
    assert (metrics.loc[linear, "mae"] < 2 * profiles.loc[linear, "noise_sd"]).all(), metrics  # noise sd 2
    assert (metrics.loc[nonlinear, "r2"] > 0.5).all(), metrics  # trees find the price threshold
    assert (metrics.loc[noise, "r2"] < 0.3).all(), metrics  # nothing to learn
    summary = json.loads((evaluation / "summary.json").read_text())
    assert summary["tenants"] == len(trainable) and summary["models"] == ["gbm"]
    assert set(summary["tenants_r2_below_0.3"]) == set(noise)
    assert_is_a_chart(evaluation / "error_by_tenant.png")

    # register: every tenant's first model becomes version 1 in the registry in the datalake
    registry = example / "datalake" / "tenants" / "registry"
    report = pd.read_csv(first.outputs["register"]["report"] / "registrations.csv").set_index("tenant")
    assert report["registered"].all() and (report["new_version"] == 1).all()
    assert all([v["version"] for v in registry_versions(registry, t)] == [1] for t in trainable)
    assert "7 of 7 tenants got a new model version" in (first.outputs["register"]["report"] / "summary.txt").read_text()

    # the same run again: every step reused but the gate (is_deterministic: false), which registers nothing
    second = tenantml.run(pipeline, home=home, overrides=small)
    assert statuses(second) == {**{name: "Reused" for name in statuses(first)}, "register": "Completed"}
    report = pd.read_csv(second.outputs["register"]["report"] / "registrations.csv")
    assert not report["registered"].any()
    assert "0 of 7 tenants got a new model version" in (second.outputs["register"]["report"] / "summary.txt").read_text()

    # linear models: better where demand is linear (or pure noise), worse where it is not
    third = tenantml.run(pipeline, home=home, overrides=[*small, "inputs.model=ridge"])
    assert third.status == "Completed", statuses(third)
    assert statuses(third)["data_engineering"] == "Reused" and statuses(third)["training"] == "Completed"
    report = pd.read_csv(third.outputs["register"]["report"] / "registrations.csv").set_index("tenant")
    registered = sorted(report.index[report["registered"]])
    assert set(linear) <= set(registered), report
    assert not set(nonlinear) & set(registered), report
    predictions = third.outputs["training"]["predictions"]
    for tenant in trainable:
        versions = registry_versions(registry, tenant)
        held_out = pd.read_csv(predictions / f"{tenant}.csv")
        champion_mae = held_out_mae(registry / f"demand-{tenant}" / "1" / "model.pkl", held_out)
        if tenant in registered:
            assert [v["version"] for v in versions] == [1, 2]
            assert versions[1]["tags"]["model"] == "ridge" and versions[1]["tags"]["previous_version"] == "1"
            new_mae = held_out_mae(registry / f"demand-{tenant}" / "2" / "model.pkl", held_out)
            assert new_mae < 0.99 * champion_mae  # better on the same held-out rows, by the 1 % margin
        else:
            assert [v["version"] for v in versions] == [1]
            assert report.loc[tenant, "challenger_mae"] >= 0.99 * champion_mae


@pytest.mark.xdist_group("many_models_yaml_run")  # one process makes the shared run (make test: pytest -n 2)
def test_many_models_trains_one_model_per_store_and_brand_partition(many_models_yaml_run):
    run_dir = many_models_yaml_run.run.run_dir
    assert many_models_yaml_run.run.status == "Completed", statuses(many_models_yaml_run.run)
    record = json.loads((run_dir / "run.json").read_text())
    sales = Path(record["steps"]["prepare"]["outputs"]["sales"])
    assert sorted(p.name for p in sales.glob("*.csv")) == ["sales_2021.csv", "sales_2022.csv"]  # partitions span files

    columns = ["store", "brand", "weeks", "first_week", "last_week", "test_mape"]
    metrics = pd.read_csv(run_dir / "train" / "outputs" / "metrics", sep=" ", header=None, names=columns)
    brands = ["dominicks", "minute_maid", "tropicana"]
    assert list(zip(metrics["store"], metrics["brand"])) == [(f"store_{s:02d}", b) for s in (1, 2) for b in brands]
    assert (metrics["weeks"] == 60).all()  # every week of the partition, gathered from both files
    assert (metrics["first_week"] == "2021-01-04").all()
    assert (metrics["test_mape"] < 15).all() and metrics["test_mape"].median() < 8, metrics  # ~5 % noise
    for row in metrics.itertuples():
        assert (run_dir / "train" / "outputs" / "model_folder" / row.store / row.brand / "model.pkl").is_file()
    attempts = pd.read_csv(run_dir / "train" / "logs" / "sys" / "job_report" / "processed_mini-batches.csv")
    # one row returned for 60 rows in: a short return, counted as 59 failed items, never retried
    assert len(attempts) == 6 and (attempts["Outcome"] == "short_return").all()  # Azure ML's columns, then tenantml's
    assert (attempts["Succeeded"] == 1).all() and (attempts["Failed"] == 59).all()
    assert (attempts["Total"] == 60).all()  # one partition = all its rows, never split


def test_batch_scoring_scores_every_file_into_one_comma_separated_output(tmp_path: Path):
    import joblib

    pipeline = copy_example("batch-scoring", tmp_path)
    run = tenantml.run(pipeline, home=tmp_path / "home", overrides=["inputs.files=5", "inputs.rows_per_file=40"])
    assert run.status == "Completed", statuses(run)
    attempts = run.ledger[run.ledger["job"] == "score"]
    assert sorted(attempts["items"].tolist()) == [2, 3]  # 5 files, mini_batch_size 3

    model_folder = run.outputs["train_model"]["model"]
    card = json.loads((model_folder / "card.json").read_text())
    assert card["test_accuracy"] > 0.8  # the churn rule is learnable: it is logistic

    lines = run.outputs["score"]["scores"].read_text().splitlines()
    assert len(lines) == 5 * 40 and all(line.count(",") == 3 for line in lines)  # comma-separated, no header
    scores = pd.read_csv(run.outputs["score"]["scores"], header=None,
                         names=["file", "customer_id", "churn_probability", "churn"])
    incoming = run.outputs["make_inputs"]["incoming"]
    files = sorted(p.name for p in incoming.glob("*.csv"))
    assert files == [f"customers_{i:03d}.csv" for i in range(1, 6)]
    assert scores["file"].drop_duplicates().tolist() == files  # in mini-batch order
    model = joblib.load(model_folder / "model.pkl")
    for name, rows in scores.groupby("file"):
        customers = pd.read_csv(incoming / name)
        assert rows["customer_id"].tolist() == customers["customer_id"].tolist()
        expected = model.predict_proba(customers[card["features"]])[:, 1]
        assert np.allclose(rows["churn_probability"], expected, atol=1e-4)
    assert ((scores["churn_probability"] >= 0.5).astype(int) == scores["churn"]).all()
