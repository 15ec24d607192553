"""Offline stand-ins for Azure ML: a loopback HTTPS fake of the workspace service, and Azurite.

Azure cannot be reached from the machines this project is tested on, so the aml backend is
tested against:

- :class:`FakeWorkspace`: a small threaded ``http.server`` behind TLS (a self-signed certificate
  made here with ``cryptography``) that answers the REST calls the real ``azure-ai-ml`` client
  makes when it submits a pipeline job: compute and datastore look-ups, the datastore's secrets,
  code and data asset versions, anonymous components, the job ``PUT``, the job ``GET`` the
  status is polled with, child jobs and cancel; run history (child runs, run details with their log
  files, the pipeline's own log files, rundata with a step's named outputs) and the dataset data
  plane that resolves those outputs to storage. It records every request so tests can assert the
  bodies. Unknown routes answer 404 with the ARM error shape, so a new SDK call shows up as a
  clear failure naming the route.
- Azurite (npm package ``azurite``, Microsoft's storage emulator), started on loopback with the
  same certificate, receives the uploads of local code and data. The SDK builds blob URLs as
  ``https://<account>.blob.<storage endpoint>``; Azurite reads the account from such
  production-style host names, and :func:`loopback_localhost_names` makes ``*.localhost`` resolve
  to 127.0.0.1 in this process (RFC 6761 says ``.localhost`` names are loopback; glibc here does
  not implement that).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import ipaddress
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SUB, RG, WS = "00000000-0000-0000-0000-000000000001", "rg-tenants", "ws-tenants"
ARM = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/{WS}"
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's documented, public development key (not a secret).
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CONTAINER = "azureml-blobstore-fake"
WS_ID = "11111111-2222-3333-4444-555555555555"


# --------------------------------------------------------------------------- certificate
def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, localhost and *.blob.localhost (valid one day)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tenantml test loopback")])
    now = datetime.datetime.now(datetime.UTC)
    sans = [x509.DNSName("localhost"), x509.DNSName(f"{AZURITE_ACCOUNT}.blob.core.localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@contextlib.contextmanager
def loopback_localhost_names():
    """Resolve ``<anything>.localhost`` to 127.0.0.1 in this process (RFC 6761 section 6.3)."""
    original = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return original(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = original


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- the workspace fake
@dataclass
class Recorded:
    method: str
    path: str  # without the query
    query: dict[str, str]
    body: Any  # parsed JSON, or raw bytes

    def __repr__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class FakeWorkspace:
    """The Azure ML workspace REST service (management front end), on https://127.0.0.1:<port>."""

    cert: Path
    key: Path
    storage_endpoint: str = "core.localhost:10000"  # <account>.blob.<endpoint>, as core.windows.net
    computes: set[str] = field(default_factory=lambda: {"cpu-cluster"})
    datastores: set[str] = field(default_factory=lambda: {"workspaceblobstore"})
    final_status: str = "Completed"  # what a submitted job reaches after `polls_to_finish` GETs
    polls_to_finish: int = 2
    requests: list[Recorded] = field(default_factory=list)
    jobs: dict[str, dict] = field(default_factory=dict)
    assets: dict[str, dict] = field(default_factory=dict)
    sas_for: Callable[[str], str] | None = None  # container -> SAS query string (set by the fixture)
    unavailable: int = 0  # the next N job GETs answer 503 (a short outage of the service)
    log_files: dict[str, dict[str, str]] = field(default_factory=dict)  # run id -> {log name: URL}

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._polls: dict[str, int] = {}
        handler = _handler_for(self)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-azureml", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # what tests look at
    def calls(self, method: str, pattern: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]

    def cloud_metadata(self) -> dict[str, str]:
        """``cloud_metadata=`` for MLClient: every Azure endpoint on this fake, storage on Azurite."""
        return {"azure_portal": self.url + "/", "resource_manager": self.url + "/",
                "active_directory": self.url + "/", "aml_resource_id": self.url + "/",
                "storage_endpoint": self.storage_endpoint, "registry_discovery_endpoint": self.url + "/"}

    # ------------------------------------------------------------------ routing
    def handle(self, method: str, raw_path: str, body: bytes) -> tuple[int, Any]:
        parsed = urllib.parse.urlsplit(raw_path)
        path = urllib.parse.unquote(parsed.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        try:
            payload: Any = json.loads(body) if body else None
        except ValueError:
            payload = body
        with self._lock:
            self.requests.append(Recorded(method, path, query, payload))
        if path == "/discovery":
            # the workspace's discoveryUrl answers the data-plane hosts (run history, artifacts...)
            return 200, {k: self.url for k in ("api", "catalog", "experimentation", "history", "modelmanagement",
                                               "pipelines", "studiometadata")}
        if path.startswith("/history/v1.0" + ARM):
            return self._history(method, path[len("/history/v1.0" + ARM):], payload)
        if path.startswith("/data/v1.0" + ARM):
            return self._dataplane(method, path[len("/data/v1.0" + ARM):], payload)
        if not path.startswith(ARM):
            if path.startswith(f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/"
                               "Microsoft.MachineLearningServices/workspaces/"):
                return _not_found("Workspace", path.split("/workspaces/")[1].split("/")[0])
            return _not_found("Route", path)
        rest = path[len(ARM):]
        for pattern, name in _ROUTES:
            match = re.fullmatch(pattern, rest)
            if match and (name.split("_", 1)[0] == method.lower()):
                return getattr(self, name)(path, match, query, payload)
        if rest == "":
            return 200, self._workspace()
        return _not_found("Route", f"{method} {path}")

    def _workspace(self) -> dict:
        return {"id": ARM, "name": WS, "location": "westeurope", "type": "Microsoft.MachineLearningServices/workspaces",
                "properties": {"workspaceId": WS_ID, "discoveryUrl": self.url + "/discovery",
                               "mlFlowTrackingUri": f"azureml://westeurope.api.azureml.ms/mlflow/v1.0{ARM}"}}

    def get_computes(self, path, m, q, body):
        values = [self.get_compute(f"{path}/{n}", {"name": n}, q, body)[1] for n in sorted(self.computes)]
        return 200, {"value": values}

    def get_compute(self, path, m, q, body):
        name = m["name"]
        if name not in self.computes:
            return _not_found("Compute", name)
        return 200, {"id": path, "name": name, "type": "Microsoft.MachineLearningServices/workspaces/computes",
                     "location": "westeurope",
                     "properties": {"computeType": "AmlCompute", "provisioningState": "Succeeded",
                                    "properties": {"vmSize": "STANDARD_DS3_V2",
                                                   "scaleSettings": {"maxNodeCount": 4, "minNodeCount": 0}}}}

    def _datastore(self, name: str) -> dict:
        return {"id": f"{ARM}/datastores/{name}", "name": name,
                "type": "Microsoft.MachineLearningServices/workspaces/datastores",
                "properties": {"datastoreType": "AzureBlob", "accountName": AZURITE_ACCOUNT, "containerName": CONTAINER,
                               "endpoint": self.storage_endpoint, "protocol": "https",
                               "isDefault": name == "workspaceblobstore",
                               "credentials": {"credentialsType": "AccountKey"}}}

    def get_datastores(self, path, m, q, body):
        values = [self._datastore(n) for n in sorted(self.datastores)]
        if q.get("isDefault") == "true":
            values = [v for v in values if v["properties"]["isDefault"]]
        return 200, {"value": values}

    def get_datastore(self, path, m, q, body):
        if m["name"] not in self.datastores:
            return _not_found("Datastore", m["name"])
        return 200, self._datastore(m["name"])

    def post_datastore_secrets(self, path, m, q, body):
        return 200, {"secretsType": "AccountKey", "key": AZURITE_KEY}

    def get_asset_versions(self, path, m, q, body):  # list by hash: nothing is there yet
        return 200, {"value": []}

    def post_pending_upload(self, path, m, q, body):
        # a container URL with a container SAS; the SDK uploads to LocalUpload/<hash>/ inside it
        container_url = f"https://{AZURITE_ACCOUNT}.blob.{self.storage_endpoint}/{CONTAINER}"
        sas = self.sas_for(CONTAINER) if self.sas_for else "sv=fake"
        return 200, {"blobReferenceForConsumption": {
            "blobUri": container_url,
            "storageAccountArmId": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Storage/"
                                   f"storageAccounts/{AZURITE_ACCOUNT}",
            "credential": {"credentialType": "SAS", "sasUri": f"{container_url}?{sas}"}},
            "pendingUploadId": None, "pendingUploadType": "TemporaryBlobReference"}

    def put_asset_version(self, path, m, q, body):
        # shapes as recorded by the SDK's own tests, e.g. the environment PUT (201, name = the version,
        # properties echoed with environmentType/osType added): Azure/azure-sdk-for-python
        # sdk/ml/azure-ai-ml/tests/recordings/environment/e2etests/
        # test_environment.pyTestEnvironmenttest_environment_create_conda_inline.json
        result = dict(body or {})
        result.update(id=path, name=m["version"], type=f"Microsoft.MachineLearningServices/workspaces/{m['kind']}/versions")
        result.setdefault("properties", {})
        if m["kind"] == "environments":
            result["properties"].update(environmentType="UserCreated", osType="Linux", isArchived=False)
        with self._lock:
            self.assets[path] = result
        return 201, result

    def get_asset_version(self, path, m, q, body):
        if path in self.assets:
            return 200, self.assets[path]
        return _not_found(m["kind"], f"{m['name']}:{m['version']}")

    def get_environment_versions(self, path, m, q, body):  # azureml:<env>@latest
        name = m["name"]
        return 200, {"value": [{"id": f"{ARM}/environments/{name}/versions/7", "name": "7",
                                "properties": {"image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"}}]}

    def put_job(self, path, m, q, body):
        name = m["name"]
        result = json.loads(json.dumps(body))
        result.update(id=path, name=name, type="Microsoft.MachineLearningServices/workspaces/jobs")
        props = result.setdefault("properties", {})
        props["status"] = "NotStarted"
        props["services"] = {"Studio": {"endpoint": f"https://ml.azure.com/runs/{name}?wsid={ARM}",
                                        "jobServiceType": "Studio"}}
        with self._lock:
            self.jobs[name] = result
            self._polls[name] = 0
        return 201, result

    def get_job(self, path, m, q, body):
        name = m["name"]
        with self._lock:
            if self.unavailable > 0:
                self.unavailable -= 1
                return 503, {"error": {"code": "ServiceUnavailable", "message": "fake outage (tenantml fake)"}}
            job = self.jobs.get(name)
            if job is None and self._child(name) is not None:
                return 200, {"id": path, "name": name, "type": "Microsoft.MachineLearningServices/workspaces/jobs"}
            if job is None:
                return _not_found("Job", name)
            props = job["properties"]
            if props["status"] not in ("Completed", "Failed", "Canceled"):
                self._polls[name] += 1
                props["status"] = self.final_status if self._polls[name] >= self.polls_to_finish else "Running"
            return 200, job

    # ------------------------------------------------------------------ run history (data plane)
    # Shapes from the SDK's recordings of a pipeline's child runs and their download:
    # Azure/azure-sdk-for-python sdk/ml/azure-ai-ml/tests/recordings/pipeline_job/e2etests/
    # test_pipeline_job.pyTestPipelineJobLongRunningtest_pipeline_job_get_child_run.json: children are a
    # page {"value": [Run...]} whose runs carry displayName (the node's name), runType
    # "azureml.StepRun", a hash in properties["azureml.nodeid"] (not the node's name) and
    # dataContainerId "dcid.<run>"; a child job's ARM GET has no "properties", so the SDK reads the run
    # from /history/v1.0/.../runs/<id>. (Run ids are GUIDs there; here <parent>_<node>, for tests.)
    def _children(self, parent: str) -> list[dict]:
        job = self.jobs.get(parent)
        if job is None:
            return []
        status = job["properties"]["status"]
        return [{"runId": f"{parent}_{node}", "parentRunId": parent, "rootRunId": parent, "displayName": node,
                 "status": status, "runType": "azureml.StepRun", "experimentId": "exp-0",
                 "dataContainerId": f"dcid.{parent}_{node}",
                 "properties": {"azureml.nodeid": hashlib.sha1(node.encode()).hexdigest()[:8],
                                "azureml.pipelinerunid": parent, "azureml.runsource": "azureml.StepRun"},
                 "tags": {}}
                for node in sorted(job["properties"].get("jobs") or {})]

    def _child(self, name: str) -> dict | None:
        parent = name.rsplit("_", 1)[0]
        while parent and parent not in self.jobs and "_" in parent:
            parent = parent.rsplit("_", 1)[0]
        return next((c for c in self._children(parent) if c["runId"] == name), None)

    def _history(self, method: str, rest: str, body: Any) -> tuple[int, Any]:
        with self._lock:
            match = re.fullmatch(r"/runs/(?P<run>[^/]+)/children", rest)
            if match and method == "GET":
                return 200, {"value": self._children(match["run"]), "nextLink": None}
            match = re.fullmatch(r"/runs/(?P<run>[^/]+)/details", rest)
            if match and method == "GET":  # RunDetails: logFiles maps names to SAS URLs
                child = self._child(match["run"])
                parent = self.jobs.get(match["run"])
                if child is None and parent is None:
                    return _not_found("Run", match["run"])
                status = child["status"] if child else parent["properties"]["status"]  # type: ignore[index]
                return 200, {"runId": match["run"], "status": status, "logFiles": self.log_files.get(match["run"], {})}
            match = re.fullmatch(r"/runs/(?P<run>[^/]+)", rest)
            if match and method == "GET":
                child = self._child(match["run"])
                return (200, child) if child else _not_found("Run", match["run"])
            if rest == "/rundata" and method == "POST":
                run = (body or {}).get("runId")
                return 200, {"runMetadata": {"runId": run, "outputs": self._run_outputs(str(run))}}
        return _not_found("Route", f"{method} /history/v1.0{ARM}{rest}")

    # ------------------------------------------------------------------ named outputs (data plane)
    # Run history's POST /rundata answers runMetadata.outputs {name: {assetId, type}}, recorded for a
    # pipeline as {"job_out_path_1": {"assetId": "azureml://locations/eastus2/workspaces/<workspace id>/data/
    # azureml_<run>_output_data_component_out_path_1/versions/1", "type": "UriFolder"}} in
    # Azure/azure-sdk-for-python sdk/ml/azure-ai-ml/tests/recordings/pipeline_job/e2etests/
    # test_pipeline_job.pyTestPipelineJobLongRunningtest_pipeline_job_download.json (`output_type`, below).
    # azure-ai-ml 1.35 (operations/_job_ops_helper.py get_job_output_uris_from_dataplane) resolves only
    # outputs whose type is a DataType value (uri_file, uri_folder, mltable), through the dataset data
    # plane's POST .../dataversion/batchGetResolvedUris {"values": [assetId...]} -> {"values": {assetId:
    # {"uri", "type"}}} (BatchGetResolvedURIs / BatchDataUriResponse of its generated client,
    # _restclient/dataset_dataplane; no recording of that call was found); the recorded "UriFolder" is
    # not one, and then JobOperations.download(output_name=...) looks in the default datastore at
    # azureml/<run>/<output>/ and dataset/<run>/<output>/. `output_path` is the first, where Azure ML
    # writes an undeclared step output.
    output_type = "UriFolder"

    def _run_outputs(self, run: str) -> dict[str, dict[str, str]]:
        child = self._child(run)
        if child is None:
            return {}
        node = (self.jobs[child["parentRunId"]]["properties"].get("jobs") or {}).get(child["displayName"]) or {}
        return {name: {"assetId": self._output_asset(run, name), "type": self.output_type}
                for name in sorted(node.get("outputs") or {})}

    def _output_asset(self, run: str, output: str) -> str:
        return f"azureml://locations/westeurope/workspaces/{WS_ID}/data/azureml_{run}_output_data_{output}/versions/1"

    def output_path(self, run: str, output: str) -> str:
        """Where a step run's named output lives in the default datastore's container."""
        return f"azureml/{run}/{output}/"

    def _dataplane(self, method: str, rest: str, body: Any) -> tuple[int, Any]:
        if rest == "/dataversion/batchGetResolvedUris" and method == "POST":
            resolved = {}
            with self._lock:
                for asset in (body or {}).get("values") or []:
                    match = re.fullmatch(r".*/data/azureml_(?P<run>.+)_output_data_(?P<out>[^/]+)/versions/1", asset)
                    if match and self._child(match["run"]) is not None:
                        resolved[asset] = {"uri": f"azureml://subscriptions/{SUB}/resourcegroups/{RG}/workspaces/{WS}/"
                                                  f"datastores/workspaceblobstore/paths/"
                                                  f"{self.output_path(match['run'], match['out'])}",
                                           "type": "uri_folder"}
            return 200, {"values": resolved}
        return _not_found("Route", f"{method} /data/v1.0{ARM}{rest}")

    def post_job_cancel(self, path, m, q, body):
        with self._lock:
            job = self.jobs.get(m["name"])
            if job is None:
                return _not_found("Job", m["name"])
            job["properties"]["status"] = "Canceled"
        return 202, None


_ROUTES = [
    (r"/computes", "get_computes"),
    (r"/computes/(?P<name>[^/]+)", "get_compute"),
    (r"/datastores", "get_datastores"),
    (r"/datastores/(?P<name>[^/]+)", "get_datastore"),
    (r"/datastores/(?P<name>[^/]+)/listSecrets", "post_datastore_secrets"),
    (r"/(?P<kind>codes|data)/(?P<name>[^/]+)/versions", "get_asset_versions"),
    (r"/(?P<kind>codes|data)/(?P<name>[^/]+)/versions/(?P<version>[^/]+)/startPendingUpload", "post_pending_upload"),
    (r"/(?P<kind>codes|data|components|environments)/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", "put_asset_version"),
    (r"/(?P<kind>codes|data|components|environments)/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", "get_asset_version"),
    (r"/environments/(?P<name>[^/]+)/versions", "get_environment_versions"),
    (r"/jobs/(?P<name>[^/]+)", "put_job"),
    (r"/jobs/(?P<name>[^/]+)", "get_job"),
    (r"/jobs/(?P<name>[^/]+)/cancel", "post_job_cancel"),
]


def _not_found(kind: str, name: str) -> tuple[int, dict]:
    return 404, {"error": {"code": "ResourceNotFound", "message": f"{kind} '{name}' was not found (tenantml fake)."}}


def _handler_for(fake: FakeWorkspace):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                status, payload = fake.handle(self.command, self.path, body)
            except Exception as exc:  # a bug in the fake: say so in the response
                status, payload = 500, {"error": {"code": "FakeError", "message": repr(exc)}}
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-ms-request-id", "fake")
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _serve

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


# --------------------------------------------------------------------------- Azurite
AZURITE_VERSION = "3.35.0"  # the Makefile reads this line: `make test` installs this version


def azurite_dir(prefix: Path) -> Path:
    """Where the set-up step (``make test``/``make azurite``) installs Azurite: in the venv, by version."""
    return prefix / "tools" / f"azurite-{AZURITE_VERSION}"


def azurite_command(prefix: Path) -> list[str] | None:
    """``azurite-blob`` as installed by the set-up step into the venv at ``prefix``; None if absent.

    Tests install nothing: the npm install happens in ``make test``'s set-up, once per version.
    """
    binary = azurite_dir(prefix) / "node_modules" / ".bin" / "azurite-blob"
    return [str(binary)] if binary.exists() else None


def _die_with_parent() -> None:
    """Linux: Azurite gets SIGTERM if the test process dies without running its fixture teardown."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class Azurite:
    process: subprocess.Popen
    port: int

    @classmethod
    def start(cls, command: list[str], workdir: Path, cert: Path, key: Path) -> Azurite:
        port = free_port()
        log = open(workdir / "azurite.log", "wb")
        process = subprocess.Popen(
            [*command, "--blobHost", "127.0.0.1", "--blobPort", str(port),
             "--cert", str(cert), "--key", str(key), "--skipApiVersionCheck", "--loose", "--inMemoryPersistence"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("azurite exited: " + (workdir / "azurite.log").read_text(errors="replace"))
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return cls(process, port)
            time.sleep(0.1)
        process.kill()
        raise RuntimeError("azurite did not start listening within 30 s")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def container_sas(self, container: str) -> str:
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        return generate_container_sas(AZURITE_ACCOUNT, container, account_key=AZURITE_KEY,
                                      permission=ContainerSasPermissions(read=True, write=True, list=True,
                                                                         create=True, add=True),
                                      expiry=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1))

    def service(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient(f"https://{AZURITE_ACCOUNT}.blob.core.localhost:{self.port}", credential=AZURITE_KEY)


class FakeCredential:
    """A TokenCredential minting unsigned-looking JWTs (the SDK reads ``aud`` and ``tid`` from them)."""

    SECRET_MARK = "tenantml-test-secret-token"

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any):
        import jwt
        from azure.core.credentials import AccessToken

        self.scopes.extend(scopes)
        audience = scopes[0].removesuffix("/.default") if scopes else ""
        expires = int(time.time()) + 3600
        token = jwt.encode({"aud": audience, "tid": "tenant-0000", "oid": "user-0000", "exp": expires,
                            "mark": self.SECRET_MARK}, key="not-a-real-key-but-long-enough-for-hs256!", algorithm="HS256")
        return AccessToken(token, expires)
