"""The claims hook (at login and at every refresh) and recent-login rules (``max_age``
against ``auth_time``, RFC 9470 step-up), through real ASGI and WSGI apps (#15 item 8)."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest
from flask import Flask

from conftest import NOW, FakeClock, make_settings, make_token
from jwtgate import AsyncSessions, ConfigurationError, Gate, Sessions, Verifier
from jwtgate.asgi import JWTGateMiddleware as ASGIMiddleware
from jwtgate.endpoints import wsgi_app
from jwtgate.wsgi import JWTGateMiddleware as WSGIMiddleware

ROLES = {"alice": "read"}


def current_roles(subject: str, claims: dict[str, Any]) -> dict[str, Any]:
    return {**claims, "scope": ROLES.get(subject, "")}


# -- the claims hook -----------------------------------------------------------------


def test_the_hook_sets_the_claims_at_login_and_again_at_every_refresh() -> None:
    ROLES["alice"] = "read"
    seen: list[tuple[str, dict[str, Any]]] = []

    def hook(subject: str, claims: dict[str, Any]) -> dict[str, Any]:
        seen.append((subject, claims))
        return current_roles(subject, claims)

    with Sessions(make_settings(), "memory://", claims=hook) as sessions:
        pair = sessions.login("alice", {"tenant": "acme"})
        verify = Verifier(sessions.settings).verify
        assert verify(pair.access_token).scopes == frozenset({"read"})
        ROLES["alice"] = "read write"  # granted while the session lives
        refreshed = sessions.refresh(pair.refresh_token)
        identity = verify(refreshed.access_token)
        assert identity.scopes == frozenset({"read", "write"})
        assert identity.claims["tenant"] == "acme"
    assert seen[0] == ("alice", {"tenant": "acme"})
    assert seen[1] == ("alice", {"tenant": "acme", "scope": "read"})


def test_an_async_hook_serves_async_sessions() -> None:
    async def hook(subject: str, claims: dict[str, Any]) -> dict[str, Any]:
        await anyio.lowlevel.checkpoint()
        return {**claims, "scope": "admin"}

    async def main() -> None:
        async with AsyncSessions(make_settings(), "memory://", claims=hook) as sessions:
            pair = await sessions.login("alice")
            refreshed = await sessions.refresh(pair.refresh_token)
            verify = Verifier(sessions.settings).verify
            assert verify(refreshed.access_token).scopes == frozenset({"admin"})

    anyio.run(main)


@pytest.mark.parametrize(
    ("answer", "error"),
    [({"sid": "mine"}, ValueError), ({"auth_time": 1}, ValueError), (["scope"], TypeError)],
)
def test_a_hook_may_not_set_session_claims(answer: Any, error: type[Exception]) -> None:
    with (
        Sessions(make_settings(), "memory://", claims=lambda s, c: answer) as sessions,
        pytest.raises(error),
    ):
        sessions.login("alice")


def test_a_hook_that_is_not_callable_is_refused_at_construction() -> None:
    with pytest.raises(TypeError, match="claims must be a function"):
        Sessions(make_settings(), "memory://", claims={"scope": "admin"})  # type: ignore[arg-type]


def test_the_wsgi_token_endpoints_take_the_hook() -> None:
    ROLES["alice"] = "read"
    app = wsgi_app(
        make_settings(),
        lambda username, password: username if password == "pw" else None,
        store="memory://",
        claims=current_roles,
    )
    flask = Flask(__name__)
    flask.wsgi_app = app  # type: ignore[method-assign]
    client = flask.test_client()
    body = client.post("/auth/token", json={"username": "alice", "password": "pw"}).get_json()
    verify = Verifier(make_settings()).verify
    assert verify(body["access_token"]).scopes == frozenset({"read"})
    ROLES["alice"] = "read admin"
    again = client.post("/auth/refresh", json={"refresh_token": body["refresh_token"]}).get_json()
    assert verify(again["access_token"]).scopes == frozenset({"read", "admin"})
    app.close()


# -- recent login: max_age against auth_time --------------------------------------------

RULES = [{"path": "/account/*", "methods": ["POST"], "max_age": 300}]


def asgi_app(gate: Gate) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return ASGIMiddleware(app, gate=gate)


def asgi_post(gate: Gate, path: str, token: str, method: str = "POST") -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=asgi_app(gate))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, headers={"authorization": f"Bearer {token}"})

    return anyio.run(call)


def flask_client(gate: Gate) -> Any:
    """A Flask app behind jwtgate's WSGI middleware (the Gate carries the test clock)."""
    app = Flask(__name__)

    @app.post("/account/password")
    def change() -> str:
        return "ok"

    app.wsgi_app = WSGIMiddleware(app.wsgi_app, gate=gate)  # type: ignore[method-assign]
    return app.test_client()


def test_a_login_older_than_max_age_gets_the_step_up_challenge_on_asgi() -> None:
    clock = FakeClock()
    settings = make_settings(rules=RULES, leeway=0, access_token_ttl=3600)
    gate = Gate(settings, clock=clock)
    with Sessions(settings, "memory://", clock=clock) as sessions:
        pair = sessions.login("alice")
        assert asgi_post(gate, "/account/password", pair.access_token).status_code == 200
        clock.advance(301)
        refreshed = sessions.refresh(pair.refresh_token)  # a refresh is not a login
    for token in (pair.access_token, refreshed.access_token):
        answer = asgi_post(gate, "/account/password", token)
        assert answer.status_code == 401
        challenge = answer.headers["www-authenticate"]
        assert 'error="insufficient_user_authentication"' in challenge
        assert 'max_age="300"' in challenge
        assert answer.json()["error"] == "insufficient_user_authentication"
    # The rule covers POST only, and other paths not at all.
    assert asgi_post(gate, "/account/password", refreshed.access_token, "GET").status_code == 200
    assert asgi_post(gate, "/elsewhere", refreshed.access_token).status_code == 200


def test_a_new_login_passes_again_and_a_token_without_auth_time_never_does() -> None:
    clock = FakeClock()
    settings = make_settings(rules=RULES, leeway=0, access_token_ttl=3600)
    gate = Gate(settings, clock=clock)
    with Sessions(settings, "memory://", clock=clock) as sessions:
        sessions.login("alice")
        clock.advance(1000)
        fresh = sessions.login("alice")
    assert asgi_post(gate, "/account/password", fresh.access_token).status_code == 200
    foreign = make_token({"sub": "alice", "exp": NOW + 3600, "iat": NOW}, now=NOW)
    assert asgi_post(gate, "/account/password", foreign).status_code == 401


def test_the_leeway_applies_to_max_age() -> None:
    clock = FakeClock()
    settings = make_settings(rules=RULES, leeway=30, access_token_ttl=3600)
    gate = Gate(settings, clock=clock)
    with Sessions(settings, "memory://", clock=clock) as sessions:
        token = sessions.login("alice").access_token
    clock.advance(329)
    assert asgi_post(gate, "/account/password", token).status_code == 200
    clock.advance(2)
    assert asgi_post(gate, "/account/password", token).status_code == 401


def test_max_age_through_flask_and_a_real_route() -> None:
    clock = FakeClock()
    settings = make_settings(rules=RULES, leeway=0, access_token_ttl=3600)
    client = flask_client(Gate(settings, clock=clock))
    with Sessions(settings, "memory://", clock=clock) as sessions:
        token = sessions.login("alice").access_token
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/account/password", headers=headers).status_code == 200
    clock.advance(301)
    answer = client.post("/account/password", headers=headers)
    assert answer.status_code == 401
    assert 'max_age="300"' in answer.headers["WWW-Authenticate"]
    assert json.loads(answer.data)["error"] == "insufficient_user_authentication"


@pytest.mark.parametrize(
    "rule",
    [
        {"path": "/x", "max_age": 0},
        {"path": "/x", "max_age": 1.5},
        {"path": "/x", "max_age": True},
        {"path": "/x", "max_age": "300"},
        {"path": "/x"},
        {"path": "/x", "scopes": []},
    ],
)
def test_a_bad_max_age_or_an_empty_rule_fails_at_startup(rule: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="E019"):
        make_settings(rules=[rule])


def test_a_rule_may_combine_scopes_and_max_age() -> None:
    clock = FakeClock()
    rules = [{"path": "/admin/*", "scopes": ["admin"], "max_age": 60}]
    settings = make_settings(rules=rules, leeway=0, access_token_ttl=3600)
    gate = Gate(settings, clock=clock)
    with Sessions(settings, "memory://", clock=clock) as sessions:
        reader = sessions.login("bob", {"scope": "read"}).access_token
        admin = sessions.login("alice", {"scope": "admin"}).access_token
    assert asgi_post(gate, "/admin/x", reader).status_code == 403
    assert asgi_post(gate, "/admin/x", admin).status_code == 200
    clock.advance(61)
    assert asgi_post(gate, "/admin/x", admin).status_code == 401


HOOK = "test_claims_and_freshness:current_roles"


def test_the_claims_hook_setting_serves_sessions_built_from_settings() -> None:
    """The ``claims_hook`` setting (a dotted name here) reaches Sessions built from the
    settings alone, as the Django token views build theirs; ``claims=`` overrides it."""
    ROLES["alice"] = "read"
    settings = make_settings(claims_hook=HOOK)
    assert settings.claims_hook is current_roles
    with Sessions(settings, "memory://") as sessions:
        access = sessions.login("alice").access_token
        assert Verifier(settings).verify(access).scopes == frozenset({"read"})
    with Sessions(settings, "memory://", claims=lambda s, c: {"scope": "other"}) as sessions:
        access = sessions.login("alice").access_token
        assert Verifier(settings).verify(access).scopes == frozenset({"other"})


def test_a_claims_hook_that_cannot_be_found_fails_at_startup() -> None:
    with pytest.raises(ConfigurationError, match="E037") as caught:
        make_settings(claims_hook="test_claims_and_freshness:nothing_here")
    assert "CLAIMS_HOOK" in str(caught.value) or "claims_hook" in str(caught.value)
