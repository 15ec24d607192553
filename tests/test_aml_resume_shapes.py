"""--resume with --backend aml, one test per input shape a parallel step takes (files local, in the
cloud or from an upstream step; partitions local, in the cloud or from an upstream step; tabular cut
by size; registered data): the re-submitted job reads only what did not succeed, from storage paths
(never compute-node paths), with the input's mode kept; a shape that cannot be restricted is refused
with what to do instead."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_aml_logs import azure_tree

pytest.importorskip("azure.ai.ml", reason="the aml extra is not installed (pip install -e '.[aml]')")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NODE = "/mnt/azureml/cr/j/0c1d/cap/data-capability/wd/INPUT_data/"  # where a v2 compute node mounts input 'data'
SCRIPT = "def init():\n    pass\n\ndef run(mini_batch):\n    return list(mini_batch)\n"


def pipeline(root: Path, data: Any, *, partition_keys: list[str] | None = None, upstream: bool = False) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "score.py").write_text(SCRIPT, encoding="utf-8")
    (root / "src" / "prep.py").write_text("print('prep')\n", encoding="utf-8")
    jobs: dict[str, Any] = {}
    if upstream:
        jobs["prep"] = {"type": "command", "code": "./src", "command": "python prep.py --out ${{outputs.tenants}}",
                        "environment": "azureml:env:1",
                        "outputs": {"tenants": {"type": "mltable" if partition_keys else "uri_folder"}}}
        data = "${{parent.jobs.prep.outputs.tenants}}"
    score: dict[str, Any] = {
        "type": "parallel", "inputs": {"data": data}, "outputs": {"out": {"type": "uri_folder"}},
        "input_data": "${{inputs.data}}", "mini_batch_size": "1",
        "task": {"type": "run_function", "code": "./src", "entry_script": "score.py", "environment": "azureml:env:1"}}
    if partition_keys:
        score["partition_keys"] = partition_keys
    jobs["score"] = score
    doc = {"type": "pipeline", "settings": {"default_compute": "azureml:cpu-cluster"}, "jobs": jobs}
    path = root / "pipeline.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def fetched(home: Path, source: Path, rows: list[list]) -> Path:
    """A fetched Azure ML run whose step 'score' failed on some mini-batches."""
    from tenantml.backends.aml.run import AmlRecord
    from tenantml.runs import RunRecord

    run_dir = home / "runs" / "cloud_7"
    azure_tree(run_dir / "score" / "logs", rows)
    RunRecord("cloud_7", str(source), "aml", status="Failed",
              steps={"prep": {"type": "command", "status": "Completed", "azure_job": "cloud_7_prep_child"},
                     "score": {"type": "parallel", "status": "Failed", "azure_job": "cloud_7_score_child"}}).save(run_dir)
    AmlRecord("cloud_7", "", "exp", "sub", "rg", "ws").save(run_dir)
    return run_dir


def file_rows() -> list[list]:
    d = lambda name: json.dumps({"files": [NODE + name]})  # noqa: E731
    return [[0, 1, "1/process000", "t", 1, 1, 0, 1, 1, 1, "RUN_DONE", "", "", d("tenant_1.csv")],
            [1, 3, "1/process001", "t", 1, 0, 1, 1, 1, 1, "RUN_EXCEPTION", "UserError", "boom", d("sub/tenant_3.csv")]]


def partition_rows() -> list[list]:
    d = lambda store: json.dumps({"partition_key_value": {"store": store}})  # noqa: E731
    return [[0, 1, "1/process000", "t", 2, 2, 0, 1, 1, 1, "RUN_DONE", "", "", d("a")],
            [1, 3, "1/process001", "t", 1, 0, 1, 1, 1, 1, "RUN_EXCEPTION", "UserError", "boom", d("b")]]


def plan(tmp_path: Path, source: Path, rows: list[list]):
    from tenantml.backends.aml import AmlBackend
    from tenantml.backends.aml.job import rest_body
    from tenantml.backends.aml.options import AmlOptions
    from tenantml.backends.base import RunOptions

    home = tmp_path / "home"
    run_dir = fetched(home, source, rows)
    prepared = AmlBackend().plan(source, RunOptions(home=home, backend=AmlOptions(resume=run_dir)))
    return prepared, rest_body(prepared.job)["properties"]["jobs"]["score"]["inputs"]["data"]


def refused(tmp_path: Path, source: Path, rows: list[list]) -> str:
    from tenantml.errors import UserError

    with pytest.raises(UserError) as info:
        plan(tmp_path, source, rows)
    return info.value.message


def mltable_files(uri: str) -> list[str]:
    return [p["file"] for p in yaml.safe_load((Path(uri) / "MLTable").read_text())["paths"]]


def test_local_files_keep_their_mode(tmp_path):
    root = tmp_path / "p"
    (root / "data" / "sub").mkdir(parents=True)
    for name in ("tenant_1.csv", "sub/tenant_3.csv"):
        (root / "data" / name).write_text("x\n1\n", encoding="utf-8")
    prepared, data = plan(tmp_path, pipeline(root, {"type": "uri_folder", "path": "./data", "mode": "download"}),
                          file_rows())
    assert data["mode"] == "Download"
    staged = Path(data["uri"])
    assert [p.relative_to(staged).as_posix() for p in staged.rglob("*.csv")] == ["sub/tenant_3.csv"]
    assert prepared.restricted == {"score": ["tenant_3.csv"]}


def test_cloud_files_are_listed_by_storage_uri_not_node_path(tmp_path):
    source = pipeline(tmp_path / "p", {"type": "uri_folder", "path": "azureml://datastores/lake/paths/tenants/",
                                       "mode": "ro_mount"})
    _, data = plan(tmp_path, source, file_rows())
    assert mltable_files(data["uri"]) == ["azureml://datastores/lake/paths/tenants/sub/tenant_3.csv"]
    assert data["job_input_type"] == "mltable" and data["mode"] == "ReadOnlyMount"


def test_files_bound_to_an_upstream_step_are_read_from_its_output_in_storage(tmp_path):
    source = pipeline(tmp_path / "p", None, upstream=True)
    prepared, data = plan(tmp_path, source, file_rows())
    assert mltable_files(data["uri"]) == [
        "azureml://datastores/workspaceblobstore/paths/azureml/cloud_7_prep_child/tenants/sub/tenant_3.csv"]
    assert prepared.restricted == {"score": ["tenant_3.csv"]}


def test_local_partitions_are_filtered_and_keep_direct_mode(tmp_path):
    root = tmp_path / "p"
    (root / "sales").mkdir(parents=True)
    (root / "sales" / "sales.csv").write_text("store,x\na,1\nb,2\n", encoding="utf-8")
    (root / "sales" / "MLTable").write_text("paths:\n  - file: ./sales.csv\ntransformations:\n  - read_delimited:\n"
                                            "      delimiter: ','\n", encoding="utf-8")
    source = pipeline(root, {"type": "mltable", "path": "./sales", "mode": "direct"}, partition_keys=["store"])
    prepared, data = plan(tmp_path, source, partition_rows())
    spec = yaml.safe_load((Path(data["uri"]) / "MLTable").read_text())
    assert spec["transformations"][-1] == {"filter": '(col("store") == "b")'}
    assert data["mode"] == "Direct" and prepared.restricted == {"score": ["store=b"]}


def test_partitions_made_by_an_upstream_step_are_refused_with_what_to_do(tmp_path):
    message = refused(tmp_path, pipeline(tmp_path / "p", None, partition_keys=["store"], upstream=True),
                      partition_rows())
    assert "made by step 'prep'" in message and "without --resume" in message


def test_cloud_partitions_are_refused_with_what_to_do(tmp_path):
    source = pipeline(tmp_path / "p", {"type": "mltable", "path": "azureml://datastores/lake/paths/sales/"},
                      partition_keys=["store"])
    assert "without --resume" in refused(tmp_path, source, partition_rows())


def test_registered_data_is_refused_with_what_to_do(tmp_path):
    source = pipeline(tmp_path / "p", {"type": "uri_folder", "path": "azureml:tenants:3"})
    message = refused(tmp_path, source, file_rows())
    assert "registered data asset azureml:tenants:3" in message and "azureml://datastores/" in message


def test_tabular_input_cut_by_size_is_refused_with_what_to_do(tmp_path):
    root = tmp_path / "p"
    (root / "sales").mkdir(parents=True)
    (root / "sales" / "sales.csv").write_text("store,x\na,1\nb,2\n", encoding="utf-8")
    (root / "sales" / "MLTable").write_text("paths:\n  - file: ./sales.csv\ntransformations:\n  - read_delimited:\n"
                                            "      delimiter: ','\n", encoding="utf-8")
    source = pipeline(root, {"type": "mltable", "path": "./sales", "mode": "direct"})
    message = refused(tmp_path, source, partition_rows())
    assert "cuts tabular input by size" in message and "which rows" in message
    assert not (tmp_path / "home" / "staging").exists() or not any((tmp_path / "home" / "staging").rglob("*"))  # nothing staged, not even a folder
