"""Everything that touches ``azure.ai.ml``: imported only on the aml backend's paths.

- :func:`quiet_sdk` keeps the SDK's own chatter (experimental-class notices, upload progress,
  telemetry) off the user's terminal, and never lets a log record carry a token.
- :func:`make_client` builds an ``MLClient`` whose every HTTP pipeline fails fast: few retries,
  a short connection timeout.
- :func:`translate` turns SDK and azure-core exceptions into tenantml errors that say what is
  wrong and how to fix it, without a traceback.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tenantml.backends.aml.options import RETRY_BACKOFF_S, AmlOptions
from tenantml.backends.aml.workspace import Workspace
from tenantml.errors import TenantmlError, UserError

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

_NOISY_LOGGERS = ("azure", "azure.ai.ml", "azure.identity", "azure.core", "msal", "urllib3",
                  "opentelemetry", "azure.monitor")


class ServiceUnreachable(UserError):
    """Azure ML (or its storage) could not be reached: network, proxy or firewall."""


class ServiceBusy(TenantmlError):
    """Azure ML answered 5xx or 429: a passing condition, worth asking again later."""


class NotFound(UserError):
    """Azure ML answered 404 for what was being looked up (the message says what)."""


@contextlib.contextmanager
def quiet_sdk() -> Iterator[None]:
    """Silence the SDK's logging and stray prints for the duration (errors still raise)."""
    saved = {name: logging.getLogger(name).level for name in _NOISY_LOGGERS}
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    os.environ.setdefault("AZUREML_LOG_LEVEL", "CRITICAL")
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink):
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def import_sdk() -> Any:
    """``azure.ai.ml``, or a UserError that says how to install it."""
    try:
        with quiet_sdk():
            import azure.ai.ml as aml
    except ImportError as exc:
        raise UserError(f"the aml backend needs the Azure ML SDK, which is not installed ({exc}).",
                        key="--backend aml", fix='pip install "tenantml[aml]" (azure-ai-ml and azure-identity)') from None
    except Exception as exc:  # noqa: BLE001 - azure-ai-ml reads AZUREML_CURRENT_CLOUD when it is imported
        if type(exc).__name__ == "MlException" and "cloud" in str(exc).lower():
            raise UserError(f"the Azure ML SDK refused the cloud named by AZUREML_CURRENT_CLOUD: {exc}",
                            key="AZUREML_CURRENT_CLOUD",
                            fix="unset it (the public cloud) or name AzureCloud, AzureChinaCloud or "
                                "AzureUSGovernment") from None
        raise
    return aml


def default_credential() -> Any:
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise UserError("the aml backend needs azure-identity, which is not installed.", key="--backend aml",
                        fix='pip install "tenantml[aml]"') from None
    return DefaultAzureCredential()


def client_kwargs(options: AmlOptions) -> dict[str, Any]:
    """Keyword arguments every azure-core pipeline of the client takes: fail in seconds, not minutes."""
    kwargs: dict[str, Any] = {
        "retry_total": options.retry_total, "retry_connect": options.retry_total, "retry_read": options.retry_total,
        "retry_status": options.retry_total, "retry_backoff_factor": RETRY_BACKOFF_S, "retry_backoff_max": 4,
        "connection_timeout": options.connection_timeout, "read_timeout": options.read_timeout,
        "show_progress": False, "enable_telemetry": False,
    }
    if options.cloud:
        kwargs["cloud"] = options.cloud
    if options.cloud_metadata:
        kwargs["cloud_metadata"] = dict(options.cloud_metadata)
    if options.transport is not None:
        kwargs["transport"] = options.transport
    kwargs.update(options.extra_client_kwargs)
    return kwargs


def make_client(workspace: Workspace, options: AmlOptions) -> MLClient:
    aml = import_sdk()
    credential = options.credential if options.credential is not None else default_credential()
    with quiet_sdk():
        client: MLClient = aml.MLClient(credential, workspace.subscription, workspace.resource_group, workspace.name,
                                        **client_kwargs(options))
    return client


def step_log_files(client: MLClient, run_id: str) -> dict[str, str]:
    """A step run's log files (name -> URL with a SAS) as run history lists them: what
    ``MLClient.jobs.stream`` (``az ml job create --stream``) reads, through the same operations."""
    details = client.jobs._runs_operations.get_run_details(run_id)
    return dict(getattr(details, "log_files", None) or {})


# What ``MLClient.jobs.stream`` (``az ml job create --stream``, ``az ml job stream``) follows, read in
# azure-ai-ml 1.35.2's operations/_job_ops_helper.py stream_logs_until_completion and _job_operations.py
# JobOperations.stream:
# - a pipeline's child step is refused (PipelineChildJobError): only the pipeline job itself is streamed;
# - its log files come from the datastore folder of the job's ``default`` uri_folder output when it has
#   one (list_logs_in_datastore: <prefix>/user_logs/ and <prefix>/logs/azureml/ for a pipeline), else
#   from run history's RunDetails.logFiles;
# - _get_sorted_filtered_logs keeps the primary process's common-runtime log
#   (JobLogPattern.COMMON_RUNTIME_STREAM_LOG_PATTERN, user_logs/std_log[\D]*[0]*(?:_ps)?\.txt) and, when
#   there is none, a pipeline's logs/azureml/executionlogs.txt (PIPELINE_JOB_LOG_PATTERN), sorted by name.
def stream_source(job: Any) -> tuple[str, str] | None:
    """(datastore, prefix) of a job's ``default`` uri_folder output, where ``jobs.stream`` lists its logs;
    None: run history's logFiles, as for a job without one."""
    default = (getattr(job, "outputs", None) or {}).get("default")
    path = str(getattr(default, "path", "") or "")
    if default is None or str(getattr(default, "type", "")) != "uri_folder" or "datastores/" not in path:
        return None
    datastore, _, prefix = path.split("datastores/", 1)[1].partition("/")
    return datastore, prefix.rstrip("/")


def streamed_logs(client: MLClient, run_id: str, job_type: str, source: tuple[str, str] | None = None,
                  printed: set[str] | frozenset[str] = frozenset()) -> dict[str, str]:
    """The log files ``jobs.stream`` prints for a run now (name -> URL with a SAS), in its order, from the
    last file already printed on (the SDK's own selection, so a change there follows here)."""
    from azure.ai.ml.operations._job_ops_helper import _get_sorted_filtered_logs

    if source is None:
        logs = step_log_files(client, run_id)
    else:
        from azure.ai.ml._artifacts._artifact_utilities import get_datastore_info, list_logs_in_datastore

        info = get_datastore_info(client.jobs._datastore_operations, source[0])
        legacy = "/logs/azureml/" if job_type.lower() in "pipeline" else "/azureml-logs/"
        logs = list_logs_in_datastore(info, prefix=source[1], legacy_log_folder_name=legacy)
    names = _get_sorted_filtered_logs(logs, job_type, {name: 1 for name in printed})
    return {name: logs[name] for name in names}


def output_names(client: MLClient, run_id: str) -> list[str]:
    """The named outputs run history lists for a run (``rundata``: runMetadata.outputs), sorted."""
    metadata = client.jobs._runs_operations.get_run_data(run_id).run_metadata
    return sorted(getattr(metadata, "outputs", None) or {})


def download_text(client: MLClient, url: str) -> str:
    """A log file's text, fetched as the SDK's own log streaming fetches it."""
    from azure.ai.ml._utils.utils import create_requests_pipeline_with_retry, download_text_from_url

    pipeline = create_requests_pipeline_with_retry(requests_pipeline=client.jobs._requests_pipeline)
    return str(download_text_from_url(url, pipeline, timeout=(5, 30)))


def check_workspace(client: MLClient, workspace: Workspace) -> None:
    """One cheap call that proves the credential, the network and the workspace name."""
    started = time.monotonic()
    with translating(workspace, what=f"looking up workspace '{workspace.name}'", started=started), quiet_sdk():
        client.workspaces.get(workspace.name)


@contextlib.contextmanager
def translating(workspace: Workspace | None, *, what: str, started: float | None = None) -> Iterator[None]:
    """Turn azure exceptions raised inside into clear tenantml errors."""
    started = time.monotonic() if started is None else started
    try:
        yield
    except TenantmlError:
        raise
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - every SDK failure is translated or re-raised
        translated = translate(exc, workspace, what=what, elapsed=time.monotonic() - started)
        if translated is None:
            raise
        raise translated from None


def translate(exc: BaseException, workspace: Workspace | None, *, what: str, elapsed: float = 0.0) -> TenantmlError | None:
    from azure.core import exceptions as core

    where = f" ({workspace})" if workspace else ""
    name = type(exc).__name__
    text = _scrub(str(exc))
    if name in ("CredentialUnavailableError", "ClientAuthenticationError") or isinstance(exc, core.ClientAuthenticationError):
        first = text.strip().splitlines()[0] if text.strip() else name
        return UserError(f"no Azure credential could be obtained while {what}: {first}", key="credential",
                         fix="sign in with 'az login', or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET "
                             "(service principal), or run where a managed identity is assigned")
    if isinstance(exc, (core.ServiceRequestError, core.ServiceResponseError)) or name in (
            "ConnectionError", "ConnectTimeout", "ReadTimeout", "SSLError"):
        return ServiceUnreachable(f"Azure ML could not be reached while {what} (gave up after {elapsed:.1f} s): "
                                  f"{_first_line(text)}", key="network",
                                  fix="check the network, proxy (HTTPS_PROXY) and firewall; then run again")
    if isinstance(exc, core.ResourceNotFoundError) or getattr(exc, "status_code", None) == 404:
        # say what was not found: the workspace only when the workspace itself was being looked up
        if what.startswith("looking up workspace"):
            return NotFound(f"the workspace was not found while {what}{where}: {_first_line(text)}",
                             key="workspace", fix="check the workspace name, its resource group and subscription")
        return NotFound(f"not found while {what}{where}: {_first_line(text)}", key="azure ml",
                         fix="check that name in the YAML (or on the command line); the workspace itself was found")
    if isinstance(exc, core.HttpResponseError) and getattr(exc, "status_code", None) in (401, 403):
        return UserError(f"access denied while {what}{where}: {_first_line(text)}", key="credential",
                         fix="the signed-in identity needs a role on the workspace (e.g. AzureML Data Scientist)")
    if name in ("ValidationException", "ValidationError", "JobException", "UserErrorException", "MlException",
                "EmptyDirectoryError", "AssetException"):
        return UserError(f"Azure ML's SDK refused the job while {what}: {_validation_text(text)}", key="azure-ai-ml",
                         fix="correct the YAML at the path named above")
    status = getattr(exc, "status_code", None)
    if isinstance(exc, core.HttpResponseError) and isinstance(status, int) and (status >= 500 or status == 429):
        return ServiceBusy(f"Azure ML answered {status} while {what}{where}: {_first_line(text)}")
    if isinstance(exc, core.HttpResponseError):
        return TenantmlError(f"Azure ML answered an error while {what}{where}: {_first_line(text)}")
    return None


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        line = line.strip()
        if line:
            return line[:500]
    return "(no message)"


def _validation_text(text: str) -> str:
    """The SDK's validation errors as "path: message" lines."""
    import json

    match = re.search(r"\{\s*\"result\".*?\n\}", text, re.S)
    if match:
        try:
            data = json.loads(match.group(0))
            items = [f"{e.get('path', '?')}: {e.get('message', '')}" for e in data.get("errors", [])]
            if items:
                return "; ".join(items)
        except ValueError:
            pass
    return _first_line(text)


_TOKEN = re.compile(r"(Bearer\s+)[A-Za-z0-9._\-]+|(sig=)[^&\s\"']+|(AccountKey=)[^;\s\"']+", re.I)


def _scrub(text: str) -> str:
    """Remove anything token-like (bearer tokens, SAS signatures, account keys) from a message."""
    return _TOKEN.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + "***", text)

