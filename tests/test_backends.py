"""The backend registry: entry points, refusing incomplete backends, no silent fallback."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from tenantml.backends.base import Backend
from tenantml.backends.registry import BackendRegistry
from tenantml.errors import UserError


class Incomplete(Backend):
    name = "incomplete"


class NotABackend:
    pass


def test_local_is_registered_through_the_entry_point_group():
    assert "local" in BackendRegistry().names()
    assert BackendRegistry().load("local").__name__ == "LocalBackend"


def _registry_with(monkeypatch, value: str) -> BackendRegistry:
    import tenantml.backends.registry as registry

    monkeypatch.setattr(registry, "entry_points",
                        lambda group: [EntryPoint("thirdparty", value, group)])
    return BackendRegistry(group="tenantml.test_backends")


def test_an_incomplete_backend_is_refused_at_load(monkeypatch):
    registry = _registry_with(monkeypatch, f"{__name__}:Incomplete")
    with pytest.raises(UserError, match="incomplete: it does not implement submit"):
        registry.load("thirdparty")


def test_a_class_that_is_not_a_backend_is_refused(monkeypatch):
    registry = _registry_with(monkeypatch, f"{__name__}:NotABackend")
    with pytest.raises(UserError, match="is not a tenantml Backend"):
        registry.load("thirdparty")


def test_an_unknown_name_never_falls_back_to_a_default():
    with pytest.raises(UserError, match="did you mean 'local'"):
        BackendRegistry().load("lcoal")
