"""The public surface: ``__all__`` lists exactly the public names, and they all exist."""

from __future__ import annotations

import importlib
import types

import pytest

import jwtgate
from conftest import core_modules


def public_names(module: types.ModuleType) -> set[str]:
    """Names a user sees on the package: not private, not a submodule, not a __future__ flag."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and type(value).__module__ != "__future__"
    }


def test_package_all_matches_public_names() -> None:
    """jwtgate.__all__ is the package's public names, plus errors and __version__."""
    assert set(jwtgate.__all__) == public_names(jwtgate) | {"errors", "__version__"}
    assert len(jwtgate.__all__) == len(set(jwtgate.__all__))


@pytest.mark.parametrize("name", [m for m in core_modules() if "._" not in m])
def test_every_name_in_all_exists(name: str) -> None:
    """Every name a public module lists in __all__ can be imported from it."""
    module = importlib.import_module(name)
    for exported in getattr(module, "__all__", ()):
        assert hasattr(module, exported), f"{name}.{exported}"


def test_version_is_a_string() -> None:
    """__version__ is the package version string."""
    assert isinstance(jwtgate.__version__, str)
    assert jwtgate.__version__[0].isdigit()


def test_error_classes_are_all_exported() -> None:
    """Every exception class in jwtgate.errors is listed in its __all__."""
    from jwtgate import errors

    classes = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and value.__module__ == "jwtgate.errors"
    }
    assert classes <= set(errors.__all__)


@pytest.mark.parametrize(
    ("module", "door"),
    [
        pytest.param(
            "jwtgate.asgi",
            {"ASGIApp", "ConnectionExpired", "JWTGateMiddleware", "Receive", "Scope", "Send"},
            id="asgi",
        ),
        pytest.param("jwtgate.wsgi", {"IDENTITY_KEY", "JWTGateMiddleware"}, id="wsgi"),
    ],
)
def test_an_adapter_module_exports_its_door_only(module: str, door: set[str]) -> None:
    """The ASGI and WSGI modules export their middleware and what its user types."""
    assert set(importlib.import_module(module).__all__) == door


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("jwtgate.asgi.token_endpoints", "jwtgate.endpoints.asgi_app", id="asgi-ep"),
        pytest.param("jwtgate.asgi.jwks_endpoint", "jwtgate.jwks.jwks_asgi_app", id="asgi-jwks"),
        pytest.param("jwtgate.wsgi.token_endpoints", "jwtgate.endpoints.wsgi_app", id="wsgi-ep"),
        pytest.param("jwtgate.wsgi.jwks_endpoint", "jwtgate.jwks.jwks_wsgi_app", id="wsgi-jwks"),
    ],
)
def test_moved_names_still_work_for_one_release(old: str, new: str) -> None:
    """An old name gives the very same object as its new home, with a DeprecationWarning."""
    old_module, _, old_name = old.rpartition(".")
    new_module, _, new_name = new.rpartition(".")
    with pytest.warns(DeprecationWarning, match=f"moved to {new}"):
        found = getattr(importlib.import_module(old_module), old_name)
    assert found is getattr(importlib.import_module(new_module), new_name)
    with pytest.raises(AttributeError):
        importlib.import_module(old_module).no_such_name  # noqa: B018
