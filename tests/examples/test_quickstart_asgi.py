"""The raw ASGI app of docs/quickstart/wsgi-asgi.md works as the page says."""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from jwtgate.testing import TokenFactory, assert_rfc6750

PAGE = Path(__file__).resolve().parents[2] / "docs" / "quickstart" / "wsgi-asgi.md"
SECRET = "dev-secret-change-me-0123456789ab"


@pytest.fixture
def page_app(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The page's only ```python block, run as a module with JWTGATE_SECRET set."""
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.DOTALL)
    assert len(blocks) == 1, "the page should hold one python block"
    monkeypatch.setenv("JWTGATE_SECRET", SECRET)
    module = types.ModuleType("quickstart_asgi")
    exec(compile(blocks[0], str(PAGE), "exec"), module.__dict__)
    return module


@pytest.fixture
def jwtgate_settings(page_app: types.ModuleType) -> dict[str, Any]:
    """The page's settings, as a user's conftest would return them."""
    settings: dict[str, Any] = page_app.SETTINGS
    return settings


@pytest.fixture
def client(page_app: types.ModuleType) -> Iterator[TestClient]:
    """A client of the page's app, with its lifespan run."""
    with TestClient(page_app.app) as client:
        yield client


def test_no_token_is_refused_with_the_bare_challenge(client: TestClient) -> None:
    """Without a token the app answers 401 with WWW-Authenticate: Bearer realm="api"."""
    response = client.get("/me")
    assert assert_rfc6750(response, 401) == {"realm": "api"}


def test_a_plugin_token_is_served(client: TestClient, jwtgate_token: TokenFactory) -> None:
    """A token minted from the page's settings reaches the app, which names its subject."""
    response = client.get("/me", headers={"Authorization": f"Bearer {jwtgate_token('alice')}"})
    assert response.status_code == 200
    assert response.json() == {"subject": "alice"}


def test_the_login_route_issues_a_working_token(client: TestClient) -> None:
    """POST /auth/token with the page's user gives an access token the app accepts."""
    login = client.post("/auth/token", json={"username": "alice", "password": "wonderland"})
    assert login.status_code == 200
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert client.get("/me", headers=bearer).json() == {"subject": "alice"}
