"""Options of the aml backend: a typed object, no magic keys (importing this costs nothing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Fast, clear failures: an unreachable service must fail in seconds, not after minutes of
# azure-core's default retries (10 tries, exponential back-off, 300 s connection timeout).
CONNECTION_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 120.0  # uploads and the job PUT can take a while on a slow link
RETRY_TOTAL = 2
RETRY_BACKOFF_S = 0.5
POLL_INTERVAL_S = 10.0
OUTAGE_BUDGET_S = 15 * 60.0  # waiting survives this long without an answer, backing off to MAX_BACKOFF_S
MAX_BACKOFF_S = 120.0


@dataclass(frozen=True)
class AmlOptions:
    """What ``tenantml run --backend aml`` and ``tenantml fetch`` are told.

    ``credential``, ``cloud``, ``cloud_metadata`` and ``transport`` are for programs (and the
    tests' loopback fake of Azure ML); the command line always uses ``DefaultAzureCredential``
    and the public cloud (or the one ``AZUREML_CURRENT_CLOUD`` names).
    """

    subscription: str | None = None
    resource_group: str | None = None
    workspace: str | None = None
    experiment: str | None = None
    wait: bool = True
    cancel_on_interrupt: bool | None = None  # None: ask on a terminal, keep the job otherwise
    overrides: tuple[str, ...] = ()  # --set, added to RunOptions.overrides
    resume: Path | None = None  # a fetched aml run folder whose unsucceeded mini-batches are re-run
    #                             (default: <home>/runs/<RunOptions.resume>)
    config_search_from: Path | None = None  # where config.json is looked for (default: the cwd)
    poll_interval: float = POLL_INTERVAL_S
    outage_budget: float = OUTAGE_BUDGET_S  # how long waiting rides out an unreachable service
    fetch_outputs: bool = False  # tenantml fetch --outputs: named outputs too (default: logs only)
    connection_timeout: float = CONNECTION_TIMEOUT_S
    read_timeout: float = READ_TIMEOUT_S
    retry_total: int = RETRY_TOTAL
    credential: Any = None
    cloud: str | None = None
    cloud_metadata: dict[str, str] | None = None
    transport: Any = None
    extra_client_kwargs: dict[str, Any] = field(default_factory=dict)
