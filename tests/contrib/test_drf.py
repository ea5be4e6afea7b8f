"""jwtgate.contrib.drf in the test project: 401 with the Bearer challenge, 403 for scopes."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from django_project import settings as project_settings
from frameworks import (
    REALM,
    USER_REFUSED,
    UnreachableKeys,
    assert_refused,
    bearer,
    body,
    refusal,
    refusals,
    scope_refusal,
)
from jwtgate.contrib.django import get_gate
from jwtgate.contrib.drf import HasScopes, JWTGateAuthentication, requires_scopes

NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("users")]


def test_valid_token_with_scope(client: Any, calls: list[str]) -> None:
    """A valid token with the view's scope reaches it: user is the loaded user, auth the token's."""
    response = client.get("/api/items", headers=bearer({"scope": "items:read"}))
    assert response.status_code == 200
    assert response.json() == {"user": "alice", "subject": "alice"}
    assert calls == ["api-items"]


@pytest.mark.parametrize("path", ["/api/items", "/api/admin"], ids=["IsAuthenticated", "HasScopes"])
def test_no_token_is_401_with_bearer_challenge(client: Any, calls: list[str], path: str) -> None:
    """Without a token DRF answers 401 (not 403) with the bare Bearer challenge."""
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == REALM
    assert response.json() == NOT_PROVIDED
    assert calls == []


@pytest.mark.parametrize("refusal", refusals("missing"))
def test_bad_tokens(client: Any, calls: list[str], refusal: Any) -> None:
    """A bad token gets jwtgate's exact status, challenge and body from DRF too."""
    response = client.get("/api/items", headers=refusal.headers)
    assert_refused(response, refusal)
    assert calls == []


def test_inactive_user_is_401(client: Any, calls: list[str]) -> None:
    """With load_user on, an inactive user is refused with 401 invalid_token."""
    response = client.get("/api/items", headers=bearer({"sub": "carol", "scope": "items:read"}))
    assert_refused(response, USER_REFUSED)
    assert calls == []


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        pytest.param("/api/items", "items:read", id="view-required_scopes"),
        pytest.param("/api/admin", "admin", id="requires_scopes-factory"),
    ],
)
def test_missing_scope_is_403(client: Any, calls: list[str], path: str, scope: str) -> None:
    """A valid token without the required scope gets 403 insufficient_scope with the challenge."""
    response = client.get(path, headers=bearer({"scope": "other"}))
    assert_refused(response, scope_refusal(scope))
    assert calls == []


def test_identity_from_middleware_is_reused(client: Any, calls: list[str]) -> None:
    """When the middleware already verified the token, DRF uses request.jwt as it is."""
    protected = {**project_settings.JWTGATE, "PUBLIC_PATHS": ["/health"], "LOAD_USER": False}
    with override_settings(JWTGATE=protected):
        response = client.get("/api/admin", headers=bearer({"scope": "admin"}))
        assert response.status_code == 200
        assert response.json() == {"admin": "alice"}  # the Identity serves as request.user
        assert_refused(client.get("/api/admin"), refusal("missing"))
    assert calls == ["api-admin"]


def test_unreachable_keys_are_503(client: Any, calls: list[str], monkeypatch: Any) -> None:
    """Keys that cannot be fetched are the server's fault: 503 with Retry-After, not 401."""
    monkeypatch.setattr(get_gate().verifier, "keys", UnreachableKeys())
    response = client.get("/api/items", headers=bearer({"scope": "items:read"}))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "WWW-Authenticate" not in response.headers
    assert response.json() == body(
        "temporarily_unavailable", "signing keys temporarily unavailable"
    )
    assert calls == []


def test_classes_shape() -> None:
    """requires_scopes builds a HasScopes subclass; the authenticator names the Bearer scheme."""
    permission = requires_scopes("b", "a")
    assert issubclass(permission, HasScopes)
    assert permission.required_scopes == ("b", "a")
    assert JWTGateAuthentication().authenticate_header(object()) == REALM  # type: ignore[arg-type]
