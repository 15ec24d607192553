"""Backends found through the ``tenantml.backends`` entry-point group.

Listing reads package metadata only; loading imports exactly one backend, and refuses one
that is not a complete :class:`~tenantml.backends.base.Backend`.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points

from tenantml.backends.base import Backend
from tenantml.errors import UserError
from tenantml.suggest import did_you_mean

GROUP = "tenantml.backends"
# When tenantml runs from a source tree that was never installed, metadata is missing:
# the built-in backends are still found.
BUILT_IN = {"local": "tenantml.backends.local:LocalBackend", "aml": "tenantml.backends.aml:AmlBackend"}


@dataclass(frozen=True)
class BackendRegistry:
    """The backends of one entry-point group, plus ``extra`` ones given as ``name -> "module:Class"``
    (a program or a test adds a backend to *this* registry object; nothing global changes)."""

    group: str = GROUP
    extra: Mapping[str, str] = field(default_factory=dict)

    def _entries(self) -> dict[str, str]:
        found = {ep.name: ep.value for ep in entry_points(group=self.group)}
        return {**(BUILT_IN if self.group == GROUP else {}), **found, **self.extra}

    def names(self) -> list[str]:
        return sorted(self._entries())

    def load(self, name: str) -> type[Backend]:
        entries = self._entries()
        if name not in entries:
            raise UserError(f"there is no backend named '{name}'; {did_you_mean(name, entries)}",
                            key="--backend", fix="choose one of: " + ", ".join(sorted(entries)))
        try:
            if self.group == GROUP and name in BUILT_IN and entries[name] == BUILT_IN[name]:
                module, _, attr = entries[name].partition(":")
                cls = getattr(import_module(module), attr)
            else:
                cls = EntryPoint(name, entries[name], self.group).load()  # imports one backend
        except ImportError as exc:
            raise UserError(f"backend '{name}' cannot be imported: {exc}.", key="--backend",
                            fix="install the package that provides it") from None
        if not (inspect.isclass(cls) and issubclass(cls, Backend)):
            raise UserError(f"backend '{name}' ({entries[name]}) is not a tenantml Backend.", key="--backend")
        missing = sorted(getattr(cls, "__abstractmethods__", ()))
        if missing:
            raise UserError(f"backend '{name}' ({entries[name]}) is incomplete: it does not implement "
                            + ", ".join(missing) + ".", key="--backend")
        return cls
