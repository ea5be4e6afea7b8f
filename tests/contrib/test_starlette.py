"""Starlette apps behind JWTGateMiddleware, and jwtgate.contrib.starlette's backend."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("starlette")

from starlette.applications import Starlette
from starlette.authentication import AuthenticationError, requires
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from asgi_support import MISSING, bearer, body, challenge, gate, token
from conftest import CountingDecisions
from jwtgate import Gate, Identity
from jwtgate.asgi import JWTGateMiddleware
from jwtgate.contrib.starlette import (
    JWTGateBackend,
    authentication_middleware,
    on_error,
)


class Calls:
    """Counts how often the endpoints ran."""

    count = 0


def build(middleware: Middleware) -> tuple[Starlette, Calls]:
    """A Starlette app with /me, an admin-only /admin and a websocket, behind ``middleware``."""
    calls = Calls()

    async def me(request: Request) -> Response:
        calls.count += 1
        return JSONResponse(
            {
                "subject": request.user.display_name,
                "authenticated": request.user.is_authenticated,
                "scopes": request.auth.scopes,
                "identity": isinstance(request.user, Identity),
            }
        )

    @requires("admin")
    async def admin(request: Request) -> Response:
        calls.count += 1
        return JSONResponse({"hello": request.user.display_name})

    async def ws(websocket: WebSocket) -> None:
        calls.count += 1
        await websocket.accept()
        await websocket.send_text(websocket.user.display_name)
        await websocket.close()

    routes = [Route("/me", me), Route("/admin", admin), WebSocketRoute("/ws", ws)]
    return Starlette(routes=routes, middleware=[middleware]), calls


def raw(**overrides: Any) -> Middleware:
    """Middleware(JWTGateMiddleware, ...) on the test gate."""
    return Middleware(JWTGateMiddleware, gate=gate(**overrides))


def backend(**overrides: Any) -> Middleware:
    """Starlette's AuthenticationMiddleware with jwtgate's backend on the test gate."""
    return authentication_middleware(gate=gate(**overrides))


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend_name(request: pytest.FixtureRequest) -> str:
    """The event loop Starlette's TestClient runs the app on."""
    return str(request.param)


@pytest.mark.parametrize("middleware", [raw, backend])
def test_requires_admin_is_200_with_the_scope(middleware: Any, anyio_backend_name: str) -> None:
    """@requires("admin") lets a token carrying the admin scope through (200)."""
    app, calls = build(middleware())
    with TestClient(app, backend=anyio_backend_name) as http:
        response = http.get("/admin", headers=bearer(token("read admin")))
    assert response.status_code == 200
    assert response.json() == {"hello": "alice"}
    assert calls.count == 1


@pytest.mark.parametrize("middleware", [raw, backend])
def test_requires_admin_is_403_without_the_scope(middleware: Any, anyio_backend_name: str) -> None:
    """@requires("admin") refuses a valid token without the admin scope with 403."""
    app, calls = build(middleware())
    with TestClient(app, backend=anyio_backend_name) as http:
        response = http.get("/admin", headers=bearer(token("read")))
    assert response.status_code == 403
    assert calls.count == 0


@pytest.mark.parametrize("middleware", [raw, backend])
def test_request_user_and_auth_are_set(middleware: Any) -> None:
    """request.user is the jwtgate Identity and request.auth.scopes its sorted scopes."""
    app, _ = build(middleware())
    with TestClient(app) as http:
        response = http.get("/me", headers=bearer(token("write read")))
    assert response.json() == {
        "subject": "alice",
        "authenticated": True,
        "scopes": ["authenticated", "read", "write"],
        "identity": True,
    }


@pytest.mark.parametrize("middleware", [raw, backend])
def test_anonymous_when_credentials_are_optional(middleware: Any) -> None:
    """With credentials_required off, a request without a token is anonymous, and admin is 403."""
    app, calls = build(middleware(credentials_required=False))
    with TestClient(app) as http:
        me = http.get("/me")
        admin = http.get("/admin")
    assert me.json() == {"subject": "", "authenticated": False, "scopes": [], "identity": True}
    assert admin.status_code == 403
    assert calls.count == 1


REJECTIONS = [
    pytest.param({}, {}, *MISSING, id="no-token"),
    pytest.param(
        {},
        {"authorization": "Bearer abc.def"},
        401,
        challenge("invalid_token", "malformed token"),
        body("invalid_token", "malformed token"),
        id="malformed",
    ),
    pytest.param(
        {},
        bearer(token(ttl=-1)),
        401,
        challenge("invalid_token", "token expired"),
        body("invalid_token", "token expired"),
        id="expired",
    ),
    pytest.param(
        {},
        {"authorization": "Bearer a b"},
        400,
        challenge("invalid_request", "malformed authorization header"),
        body("invalid_request", "malformed authorization header"),
        id="bad-header",
    ),
    pytest.param(
        {"rules": [{"path": "/me", "scopes": ["profile"]}]},
        bearer(token("read")),
        403,
        challenge("insufficient_scope", "insufficient scope", scope="profile"),
        body("insufficient_scope", "insufficient scope"),
        id="insufficient-scope",
    ),
]


@pytest.mark.parametrize("middleware", [raw, backend])
@pytest.mark.parametrize(("overrides", "headers", "status", "www", "expected"), REJECTIONS)
def test_rejections_are_jwtgate_answers_not_starlettes_400(
    middleware: Any,
    overrides: dict[str, Any],
    headers: dict[str, str],
    status: int,
    www: str,
    expected: dict[str, str],
) -> None:
    """Refusals carry status, exact WWW-Authenticate and JSON body, and the endpoint never runs."""
    app, calls = build(middleware(**overrides))
    with TestClient(app) as http:
        response = http.get("/me", headers=headers)
    assert response.status_code == status
    assert response.headers.get_list("www-authenticate") == [www]
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == expected
    assert calls.count == 0


def test_backend_websocket_sees_the_identity() -> None:
    """Through the backend an accepted websocket's user is the identity from the token."""
    app, _ = build(backend(token_sources=["query"]))
    with TestClient(app) as http, http.websocket_connect(f"/ws?access_token={token()}") as ws:
        assert ws.receive_text() == "alice"


def test_backend_refused_websocket_never_reaches_the_endpoint() -> None:
    """Through the backend a refused handshake is closed before the endpoint runs."""
    app, calls = build(backend(token_sources=["query"]))
    with (
        TestClient(app) as http,
        pytest.raises(WebSocketDisconnect),
        http.websocket_connect("/ws") as ws,
    ):
        ws.receive_text()
    assert calls.count == 0


def test_on_error_hides_foreign_error_text() -> None:
    """An AuthenticationError from elsewhere becomes a generic 401 without its message."""
    conn = HTTPConnection({"type": "http", "headers": [], "path": "/", "query_string": b""})
    response = on_error(conn, AuthenticationError("user 42 is locked in tenant acme"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge("invalid_token", "invalid token")
    assert b"acme" not in response.body


def test_backend_needs_exactly_one_of_settings_or_gate() -> None:
    """JWTGateBackend refuses to be built without settings or with both settings and a gate."""
    with pytest.raises(TypeError, match="needs settings"):
        JWTGateBackend()
    with pytest.raises(TypeError, match="not both"):
        JWTGateBackend({"secret": "x"}, gate=gate())
    assert isinstance(JWTGateBackend(gate=gate()).gate, Gate)


def test_cors_outside_jwtgate_adds_cors_headers_to_refusals_and_answers_preflights() -> None:
    """With CORS outermost, a 401 carries the CORS headers and a preflight is answered by CORS."""
    from starlette.middleware.cors import CORSMiddleware

    calls = Calls()

    async def me(request: Request) -> Response:
        calls.count += 1
        return JSONResponse({})

    cors = Middleware(
        CORSMiddleware, allow_origins=["https://app.example"], allow_headers=["authorization"]
    )
    app = Starlette(routes=[Route("/me", me)], middleware=[cors, raw()])
    origin = {"origin": "https://app.example"}
    with TestClient(app) as http:
        refused = http.get("/me", headers=origin)
        preflight = http.options("/me", headers={**origin, "access-control-request-method": "GET"})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "https://app.example"
    assert refused.headers["www-authenticate"] == challenge()
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert calls.count == 0


@pytest.mark.parametrize("middleware", [JWTGateMiddleware, authentication_middleware])
def test_a_repeated_token_takes_the_fast_path(middleware: Any) -> None:
    """Only the first request of a token is decided in full; the answers stay the same."""
    shared = gate()
    counting = CountingDecisions(shared)
    wrapped = (
        Middleware(JWTGateMiddleware, gate=shared)
        if middleware is JWTGateMiddleware
        else authentication_middleware(gate=shared)
    )
    app, calls = build(wrapped)
    headers = bearer(token("write read"))
    with TestClient(app) as http:
        for _ in range(3):
            response = http.get("/me", headers=headers)
            assert response.json()["scopes"] == ["authenticated", "read", "write"]
        assert http.get("/admin", headers=headers).status_code == 403  # Starlette's @requires
    assert calls.count == 3
    assert counting.calls == 1


@pytest.mark.parametrize("middleware", [raw, backend])
def test_requires_authenticated_works_on_http_and_websocket_routes(middleware: Any) -> None:
    """Starlette's documented idiom, @requires("authenticated"), lets a valid token through
    on an HTTP and a websocket route, and refuses a request without one (credentials
    optional, so the anonymous request reaches Starlette's check)."""

    @requires("authenticated")
    async def page(request: Request) -> Response:
        return JSONResponse({"subject": request.user.display_name})

    @requires("authenticated")
    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.user.display_name)
        await websocket.close()

    app = Starlette(
        routes=[Route("/page", page), WebSocketRoute("/socket", socket)],
        middleware=[middleware(credentials_required=False)],
    )
    with TestClient(app) as http:
        assert http.get("/page", headers=bearer(token("read"))).json() == {"subject": "alice"}
        assert http.get("/page").status_code == 403  # anonymous: Starlette's own refusal
        with http.websocket_connect("/socket", headers=bearer(token("read"))) as ws:
            assert ws.receive_text() == "alice"
        with pytest.raises(WebSocketDisconnect), http.websocket_connect("/socket") as ws:
            ws.receive_text()


def test_authenticated_is_no_token_scope() -> None:
    """The "authenticated" credential is Starlette's convention, not a scope of the token:
    scope rules and has_scopes() never see it."""
    identity = Identity("alice", scopes=["read"])
    assert identity.credentials.scopes == ["authenticated", "read"]
    assert identity.scopes == frozenset({"read"})
    assert not identity.has_scopes("authenticated")
    assert Identity(None).credentials.scopes == []
