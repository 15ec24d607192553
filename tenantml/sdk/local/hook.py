"""The import hook ``tenantml exec`` installs in every Python process of the command.

A meta-path finder wraps the loaders of a few modules; once the real module has executed, its
patch runs, before the importing code sees the module:

    azure.ai.ml                                   version check; MLClient -> the served client
    azure.identity                                every credential -> a local one (no token probe)
    azure.core.pipeline.transport._requests_basic  HTTP send -> NotServedLocally (the backstop)
    azure.core.pipeline.transport._aiohttp         the same for async clients

Nothing is imported here until one of those modules is, so processes that never touch Azure
(tenantml's own workers, say) pay nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

CREDENTIALS = (
    "DefaultAzureCredential", "InteractiveBrowserCredential", "AzureCliCredential", "ManagedIdentityCredential",
    "EnvironmentCredential", "ClientSecretCredential", "CertificateCredential", "DeviceCodeCredential",
    "AzurePowerShellCredential", "AzureDeveloperCliCredential", "WorkloadIdentityCredential",
    "ChainedTokenCredential", "SharedTokenCacheCredential", "VisualStudioCodeCredential",
    "UsernamePasswordCredential", "OnBehalfOfCredential", "ClientAssertionCredential", "AzurePipelinesCredential",
    "AuthorizationCodeCredential")


def _patch_ml(module: ModuleType) -> None:
    from tenantml.sdk import version

    text = version.problem(str(getattr(sys.modules.get("azure.ai.ml._version"), "VERSION", None) or
                               version.installed()))
    if text:
        print(f"error: tenantml exec: {text}. Fix: pip install \"azure-ai-ml{version.RANGE}\"", file=sys.stderr)
        raise SystemExit(2)
    from tenantml.sdk.local.client import LocalMLClient

    module.MLClient = LocalMLClient  # type: ignore[attr-defined]
    inner = sys.modules.get("azure.ai.ml._ml_client")
    if inner is not None:
        inner.MLClient = LocalMLClient  # type: ignore[attr-defined]


def _patch_identity(module: ModuleType) -> None:
    from tenantml.sdk.local.credential import local_credential

    for name in CREDENTIALS:
        if hasattr(module, name):
            setattr(module, name, local_credential(name))


def _blocked_send(transport: str) -> Callable[..., Any]:
    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        from tenantml.sdk.local.errors import NotServedLocally

        raise NotServedLocally(f"an HTTP request ({getattr(request, 'method', '?')} "
                               f"{getattr(request, 'url', '?')}, through {transport})")
    return send


def _patch_requests(module: ModuleType) -> None:
    cls = getattr(module, "RequestsTransport", None)
    if cls is not None:
        cls.send = _blocked_send("RequestsTransport")


def _patch_aiohttp(module: ModuleType) -> None:
    cls = getattr(module, "AioHttpTransport", None)
    if cls is not None:
        send = _blocked_send("AioHttpTransport")

        async def asend(self: Any, request: Any, **kwargs: Any) -> Any:
            return send(self, request)
        cls.send = asend


PATCHES: dict[str, Callable[[ModuleType], None]] = {
    "azure.ai.ml": _patch_ml,
    "azure.identity": _patch_identity,
    "azure.core.pipeline.transport._requests_basic": _patch_requests,
    "azure.core.pipeline.transport._aiohttp": _patch_aiohttp,
}


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, patch: Callable[[ModuleType], None]):
        self.loader = loader
        self.patch = patch

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        self.patch(module)

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, ... of the real loader
        return getattr(self.loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        patch = PATCHES.get(name)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _PatchingLoader(spec.loader, patch)
                return spec
        return None


def install() -> None:
    """Install the hook once; modules already imported are patched now."""
    if any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    from tenantml.sdk.local.errors import excepthook

    sys.meta_path.insert(0, _Finder())
    sys.excepthook = excepthook
    for name, patch in PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
