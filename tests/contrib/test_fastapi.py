"""FastAPI behind JWTGateMiddleware with jwtgate.contrib.fastapi's dependencies."""

from __future__ import annotations

from typing import Annotated, Any

import pytest

pytest.importorskip("fastapi")

from fastapi import Depends, FastAPI, WebSocket
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from asgi_support import MISSING, bearer, body, challenge, gate, token
from jwtgate import Identity
from jwtgate.asgi import JWTGateMiddleware
from jwtgate.contrib.fastapi import current_identity, install, requires_scopes


def build(*, handler: bool = True, **overrides: Any) -> tuple[FastAPI, list[str]]:
    """A FastAPI app with /me, /items (write scope) and /open, behind the middleware."""
    app = FastAPI()
    app.add_middleware(JWTGateMiddleware, gate=gate(**overrides))
    if handler:
        install(app)
    calls: list[str] = []

    @app.get("/me")
    async def me(identity: Annotated[Identity, Depends(current_identity)]) -> dict[str, Any]:
        calls.append("me")
        return {"subject": identity.subject, "scopes": sorted(identity.scopes)}

    @app.post("/items", dependencies=[Depends(requires_scopes("write", "items"))])
    async def create_item() -> dict[str, str]:
        calls.append("items")
        return {"created": "yes"}

    @app.get("/account")
    async def account(identity: Annotated[Identity, Depends(requires_scopes())]) -> str:
        calls.append("account")
        return identity.subject or ""

    return app, calls


def test_current_identity_reads_what_the_middleware_found() -> None:
    """Depends(current_identity) gives the verified identity with its scopes."""
    app, calls = build()
    with TestClient(app) as http:
        response = http.get("/me", headers=bearer(token("read write")))
    assert response.status_code == 200
    assert response.json() == {"subject": "alice", "scopes": ["read", "write"]}
    assert calls == ["me"]


def test_require_scopes_lets_a_token_with_every_scope_through() -> None:
    """requires_scopes("write", "items") passes a token holding both scopes."""
    app, calls = build()
    with TestClient(app) as http:
        response = http.post("/items", headers=bearer(token("items write")))
    assert response.status_code == 200
    assert calls == ["items"]


INSUFFICIENT = (
    403,
    challenge("insufficient_scope", "insufficient scope", scope="items write"),
    body("insufficient_scope", "insufficient scope"),
)


@pytest.mark.parametrize(
    ("overrides", "method", "url", "headers", "status", "www", "expected"),
    [
        pytest.param({}, "POST", "/items", bearer(token("write")), *INSUFFICIENT, id="missing-one"),
        pytest.param({}, "POST", "/items", {}, *MISSING, id="middleware-no-token"),
        pytest.param(
            {"credentials_required": False}, "POST", "/items", {}, *MISSING, id="anonymous-scopes"
        ),
        pytest.param(
            {"credentials_required": False}, "GET", "/account", {}, *MISSING, id="anonymous-auth"
        ),
        pytest.param(
            {"credentials_required": False},
            "GET",
            "/me",
            {"authorization": "Bearer abc.def"},
            401,
            challenge("invalid_token", "malformed token"),
            body("invalid_token", "malformed token"),
            id="bad-token",
        ),
    ],
)
def test_refusals(
    overrides: dict[str, Any],
    method: str,
    url: str,
    headers: dict[str, str],
    status: int,
    www: str,
    expected: dict[str, str],
) -> None:
    """Middleware and dependency refusals carry jwtgate's answer; the endpoint never runs."""
    app, calls = build(**overrides)
    with TestClient(app) as http:
        response = http.request(method, url, headers=headers)
    assert response.status_code == status
    assert response.headers.get_list("www-authenticate") == [www]
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == expected
    assert calls == []


def test_without_install_fastapi_body_but_right_status_and_challenge() -> None:
    """Without install() a scope refusal keeps status and challenge, in FastAPI's detail body."""
    app, calls = build(handler=False)
    with TestClient(app) as http:
        response = http.post("/items", headers=bearer(token("write")))
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == INSUFFICIENT[1]
    assert response.json() == {"detail": "insufficient scope"}
    assert calls == []


def test_anonymous_identity_when_credentials_are_optional() -> None:
    """With credentials_required off, current_identity is the anonymous identity."""
    app, _ = build(credentials_required=False)
    with TestClient(app) as http:
        response = http.get("/me")
    assert response.json() == {"subject": None, "scopes": []}


def test_openapi_declares_the_bearer_scheme() -> None:
    """The OpenAPI document declares HTTP bearer (JWT) and every protected operation uses it."""
    app, _ = build(public_paths=["/openapi.json", "/docs"])
    with TestClient(app) as http:
        document = http.get("/openapi.json").json()
        docs = http.get("/docs")
    assert document["components"]["securitySchemes"]["jwtgate"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT access token, sent as `Authorization: Bearer <token>`.",
    }
    for path, method in [("/me", "get"), ("/items", "post"), ("/account", "get")]:
        assert document["paths"][path][method]["security"] == [{"jwtgate": []}]
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text


def test_dependencies_without_the_middleware_fail_loudly() -> None:
    """Without JWTGateMiddleware the dependencies raise instead of serving as if authenticated."""
    app = FastAPI()

    @app.get("/me")
    async def me(identity: Annotated[Identity, Depends(current_identity)]) -> str:
        return "unreachable"

    with TestClient(app) as http, pytest.raises(RuntimeError, match="JWTGateMiddleware"):
        http.get("/me")


def test_require_scopes_checks_its_arguments() -> None:
    """requires_scopes refuses scope names that are empty or contain spaces, at import time."""
    with pytest.raises(ValueError, match="scope names"):
        requires_scopes("read write")
    with pytest.raises(ValueError, match="scope names"):
        requires_scopes("")


@pytest.mark.anyio
async def test_rejection_handler_reraises_other_exceptions() -> None:
    """rejection_handler only answers JWTGateHTTPException; anything else propagates unchanged."""
    from starlette.requests import Request

    from jwtgate.contrib.fastapi import rejection_handler

    request = Request({"type": "http", "headers": [], "path": "/", "query_string": b""})
    error = LookupError("not ours")
    with pytest.raises(LookupError) as info:
        await rejection_handler(request, error)
    assert info.value is error


def test_the_dependencies_work_on_websocket_routes() -> None:
    """Depends(current_identity) and requires_scopes(...) on @app.websocket routes: the
    identity reaches the handler, and a missing scope refuses the handshake with 1008
    (they used to fail every handshake: FastAPI's HTTPBearer asks for a Request)."""
    app = FastAPI()
    app.add_middleware(JWTGateMiddleware, gate=gate(credentials_required=False))
    install(app)

    @app.websocket("/who")
    async def who(
        socket: WebSocket, identity: Annotated[Identity, Depends(current_identity)]
    ) -> None:
        await socket.accept()
        await socket.send_json({"subject": identity.subject, "scopes": sorted(identity.scopes)})
        await socket.close()

    @app.websocket("/admin")
    async def admin(
        socket: WebSocket, identity: Annotated[Identity, Depends(requires_scopes("admin"))]
    ) -> None:
        await socket.accept()
        await socket.send_text(identity.subject or "")
        await socket.close()

    with TestClient(app) as http:
        with http.websocket_connect("/who", headers=bearer(token("read"))) as ws:
            assert ws.receive_json() == {"subject": "alice", "scopes": ["read"]}
        with http.websocket_connect("/who") as ws:
            assert ws.receive_json() == {"subject": None, "scopes": []}
        with http.websocket_connect("/admin", headers=bearer(token("admin"))) as ws:
            assert ws.receive_text() == "alice"
        for headers in (bearer(token("read")), {}):
            with (
                pytest.raises(WebSocketDisconnect) as refused,
                http.websocket_connect("/admin", headers=headers) as ws,
            ):
                ws.receive_text()
            assert refused.value.code == 1008
