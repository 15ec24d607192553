"""Waiting for an Azure ML job rides out a short outage of the service (back-off), and when the
outage lasts, it stops waiting without advice that would submit a duplicate job: the job goes on,
and `tenantml fetch` follows it. Served by the loopback fake (no Azurite needed: nothing is uploaded)."""

from __future__ import annotations

import json
from pathlib import Path

import aml_fake as fake_mod
import pytest
from aml_fake import ARM, FakeWorkspace

pytest.importorskip("azure.ai.ml", reason="the aml extra is not installed (pip install -e '.[aml]')")
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.slow]  # the loopback fake


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    import os

    work = tmp_path_factory.mktemp("fake")
    cert, key = fake_mod.make_certificate(work)
    saved = {k: os.environ.get(k) for k in ("REQUESTS_CA_BUNDLE", "AZUREML_DEV_URL_MFE")}
    fake = FakeWorkspace(cert, key)
    os.environ["REQUESTS_CA_BUNDLE"] = str(cert)
    os.environ["AZUREML_DEV_URL_MFE"] = fake.url
    try:
        yield fake
    finally:
        fake.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def handle(ws: FakeWorkspace, tmp_path: Path, name: str, **kw):
    from test_aml_submit import aml_options

    from tenantml.backends.aml import sdk
    from tenantml.backends.aml.run import AmlRecord, AmlRun
    from tenantml.backends.aml.workspace import Workspace
    from tenantml.progress import Reporter
    from tenantml.runs import RunRecord

    ws.put_job(f"{ARM}/jobs/{name}", {"name": name}, {}, {"properties": {"jobType": "Pipeline", "jobs": {}}})
    options = aml_options(ws, retry_total=0)
    workspace = Workspace(options.subscription, options.resource_group, options.workspace, "test")
    client = sdk.make_client(workspace, options)
    run_dir = tmp_path / name
    run_dir.mkdir()
    RunRecord(name, "p.yml", "aml").save(run_dir)
    record = AmlRecord(name, "https://ml.azure.com/runs/x", "exp", options.subscription, options.resource_group,
                       options.workspace)
    lines: list[str] = []
    reporter = Reporter(quiet=True)
    reporter.note = lines.append  # type: ignore[method-assign]
    return AmlRun(client, record, run_dir, ["score"], reporter, poll_interval=0.01, **kw), lines


def test_a_short_outage_is_ridden_out_with_back_off(ws, tmp_path):
    run, lines = handle(ws, tmp_path, "outage_short", outage_budget=60, max_backoff=0.05)
    ws.unavailable = 3
    assert run.wait().value == "Completed"
    assert sum("not reachable" in line for line in lines) == 3
    assert any("reachable again" in line for line in lines)
    assert json.loads((run.run_dir / "run.json").read_text())["status"] == "Completed"


def test_a_long_outage_stops_waiting_and_says_fetch_not_submit(ws, tmp_path):
    from tenantml.backends.aml.run import WaitLost

    run, lines = handle(ws, tmp_path, "outage_long", outage_budget=0.2, max_backoff=0.05)
    ws.unavailable = 10_000
    try:
        with pytest.raises(WaitLost) as info:
            run.wait()
    finally:
        ws.unavailable = 0
    text = str(info.value)
    assert "tenantml fetch outage_long" in text and "do not submit it again" in text
    assert info.value.exit_code == 1
    assert json.loads((run.run_dir / "run.json").read_text())["status"] != "Failed"  # the job goes on
