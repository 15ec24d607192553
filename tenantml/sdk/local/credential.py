"""Credentials under ``tenantml exec``: every azure-identity credential class becomes one that
answers ``get_token`` at once with a local placeholder token, so a notebook's usual probe
(``credential.get_token("https://management.azure.com/.default")``) succeeds without a network
call, an ``az login`` or a browser. The token is never sent anywhere: the HTTP transports are blocked.
"""

from __future__ import annotations

import time
from typing import Any

TOKEN = "tenantml-exec-local-token"


class LocalCredential:
    """Accepts whatever the real class accepts; holds no secret."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args = args

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(TOKEN, int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo(TOKEN, int(time.time()) + 3600)

    def close(self) -> None:
        pass

    def __enter__(self) -> LocalCredential:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def local_credential(name: str) -> type[LocalCredential]:
    return type(name, (LocalCredential,), {"__module__": "azure.identity", "__doc__": LocalCredential.__doc__})
