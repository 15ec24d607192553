"""Tabular MLTable input and partition_keys through the real runner and real mltable."""

from __future__ import annotations

import pytest

import os

import pandas as pd

from conftest import CSV_MLTABLE as MLTABLE
from conftest import Project, job_dir


def sales(project: Project, stores: int = 3, brands: int = 2, weeks: int = 4) -> None:
    for store in range(1, stores + 1):
        rows = ["store,brand,week,amount,day"]
        for brand in ("tide", "dove", "omo")[:brands]:
            for week in range(weeks):
                rows.append(f"{store},{brand},{week},{store * 10 + week}.5,2024-01-0{1 + week % 9}")
        project.write(f"sales/store_{store}.csv", "\n".join(rows) + "\n")
    project.write("sales/MLTable", MLTABLE)


@pytest.mark.slow
def test_partition_keys_give_one_mini_batch_per_combination_with_context(project: Project):
    sales(project)
    project.parallel_pipeline("""
import json
def run(mini_batch, mini_batch_context):
    key = mini_batch_context.partition_key_value
    assert set(mini_batch["store"]) == {key["store"]} and set(mini_batch["brand"]) == {key["brand"]}
    return [json.dumps({"key": key, "rows": len(mini_batch), "dtypes": {c: str(t) for c, t in mini_batch.dtypes.items()}})]
""", data="sales", data_type="mltable", job={"partition_keys": ["store", "brand"], "mini_batch_size": None,
                                              "resources": {"instance_count": 2}})
    tmp = project.root / "tmp"
    tmp.mkdir()
    os.environ["TMPDIR"] = str(tmp)
    try:
        run = project.run()
    finally:
        del os.environ["TMPDIR"]
    assert run.status == "Completed"
    import json

    rows = [json.loads(line) for line in
            (run.outputs["score"]["out"] / "parallel_run_step.txt").read_text().splitlines()]
    keys = [(r["key"]["store"], r["key"]["brand"]) for r in rows]
    assert sorted(keys) == sorted((s, b) for s in (1, 2, 3) for b in ("tide", "dove"))
    assert keys == sorted(keys)  # deterministic: mini-batch order = sorted key values
    assert all(r["rows"] == 4 for r in rows)
    assert rows[0]["dtypes"] == {"store": "int64", "brand": "object", "week": "int64", "amount": "float64",
                                 "day": "datetime64[ns]"}  # what mltable hands over on Azure ML
    labels = list(run.ledger["label"])
    assert any("store=1" in label and "brand=dove" in label for label in labels)
    # mltable's own logs land in the run folder, never in $TMPDIR
    assert not (tmp / "azureml-logs").exists() or not any((tmp / "azureml-logs").rglob("*.log*"))
    assert any((job_dir(run) / "logs" / "sys" / "mltable").rglob("*"))


@pytest.mark.slow
def test_tabular_input_is_split_by_byte_size_and_never_crosses_files(project: Project):
    sales(project, stores=2, brands=3, weeks=40)  # two files of ~3.5 KB
    project.parallel_pipeline("""
import os
def run(mini_batch):
    return [f"{len(mini_batch)} {sorted(set(mini_batch['store']))}"]
""", data="sales", data_type="mltable", job={"mini_batch_size": "1kb"})
    run = project.run()
    assert run.status == "Completed"
    lines = (run.outputs["score"]["out"] / "parallel_run_step.txt").read_text().splitlines()
    assert len(lines) >= 6  # each ~3.5 KB file is cut into several ~1 KB row ranges
    assert all(line.split(" ", 1)[1] in ("[1]", "[2]") for line in lines)  # one file per mini-batch
    assert sum(int(line.split()[0]) for line in lines) == 240
    ledger = run.ledger
    # one row is one item: a short return counts only the missing rows
    assert ledger["items"].sum() == 240 and ledger["failed"].sum() == 240 - len(lines)


@pytest.mark.slow
def test_dataframe_return_of_a_partition_is_appended_in_order(project: Project):
    sales(project, stores=2, brands=1, weeks=3)  # weeks 0/1 only would be read as booleans, as on Azure ML
    project.parallel_pipeline("""
def run(mini_batch, ctx):
    out = mini_batch[["store", "week", "amount"]].copy()
    out["amount"] = out["amount"] * 2
    return out
""", data="sales", data_type="mltable", job={"partition_keys": ["store"], "mini_batch_size": None})
    run = project.run()
    rows = (run.outputs["score"]["out"] / "parallel_run_step.txt").read_text().splitlines()
    assert rows == ["1 0 21.0", "1 1 23.0", "1 2 25.0", "2 0 41.0", "2 1 43.0", "2 2 45.0"]
    assert set(run.ledger["outcome"]) == {"succeeded"}


@pytest.mark.slow
def test_the_coordinator_never_imports_mltable_and_the_cli_pays_no_exit_pause(project: Project):
    sales(project, stores=1, brands=1, weeks=2)
    project.parallel_pipeline("def run(mini_batch):\n    return list(range(len(mini_batch)))\n",
                              data="sales", data_type="mltable", job={"partition_keys": ["store"], "mini_batch_size": None})
    result = project.cli("run", "pipeline.yml", "--quiet")
    assert result.returncode == 0, result.stderr
    # The pause lives in mltable's atexit hook: a process that never imports mltable cannot pay it.
    import subprocess
    import sys
    probe = subprocess.run([sys.executable, "-c", (
        "import sys, tenantml, tenantml.cli\n"
        f"tenantml.run({str(project.pipeline)!r}, home={str(project.home)!r})\n"
        f"code = tenantml.cli.main(['run', {str(project.pipeline)!r}, '--quiet', '--force'])\n"
        "print(code, 'mltable' in sys.modules, 'pandas' in sys.modules)")],
        capture_output=True, text=True, env={**os.environ, "TENANTML_HOME": str(project.home)})
    assert probe.stdout.split()[-3:] == ["0", "False", "False"], probe.stderr


@pytest.mark.slow
def test_an_empty_dataframe_is_not_passed_to_run(project: Project):
    project.write("sales/a.csv", "store,amount\n")
    project.write("sales/b.csv", "store,amount\n1,2.0\n")
    project.write("sales/MLTable", MLTABLE)
    project.parallel_pipeline("""
def run(mini_batch):
    assert len(mini_batch) > 0
    return [len(mini_batch)]
""", data="sales", data_type="mltable", job={"mini_batch_size": "1mb"})
    run = project.run()
    assert run.status == "Completed"
    assert sorted(run.ledger["outcome"]) == ["empty", "succeeded"]
