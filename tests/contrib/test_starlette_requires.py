"""Starlette's @requires answered the RFC 6750 way (#15):
jwtgate.contrib.starlette.requires_scopes on HTTP and websocket endpoints."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse

from conftest import SECRET
from jwtgate.asgi import JWTGateMiddleware
from jwtgate.contrib.starlette import requires_scopes as starlette_requires_scopes
from jwtgate.testing import TokenFactory

SETTINGS = {"SECRET": SECRET}
tokens = TokenFactory(SETTINGS)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- Starlette's @requires, the RFC 6750 way -------------------------------------------


def starlette_client() -> TestClient:
    @starlette_requires_scopes("admin")
    async def admin(request: Request) -> JSONResponse:
        return JSONResponse({"hello": str(request.user.subject)})

    @starlette_requires_scopes("admin")
    async def live(websocket: Any) -> None:
        await websocket.accept()
        await websocket.close()

    app = Starlette(routes=[Route("/admin", admin), WebSocketRoute("/live", live)])
    return TestClient(JWTGateMiddleware(app, {**SETTINGS, "CREDENTIALS_REQUIRED": False}))


def test_starlette_requires_scopes_answers_with_the_challenge() -> None:
    client = starlette_client()
    anonymous = client.get("/admin")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="api"'
    reader = client.get("/admin", headers=bearer(tokens("bob", scopes=["read"])))
    assert reader.status_code == 403
    assert (
        'error="insufficient_scope", error_description="insufficient scope", scope="admin"'
        in (reader.headers["www-authenticate"])
    )
    assert reader.json()["error"] == "insufficient_scope"
    admin = client.get("/admin", headers=bearer(tokens("alice", scopes=["admin"])))
    assert admin.json() == {"hello": "alice"}
    # The test client supports denial responses: the handshake gets the 403 itself.
    with (
        pytest.raises(WebSocketDenialResponse) as denied,
        client.websocket_connect("/live", headers=bearer(tokens("bob", scopes=["read"]))),
    ):
        pass
    assert denied.value.status_code == 403
    assert 'error="insufficient_scope"' in denied.value.headers["www-authenticate"]


def test_optional_reads_a_token_on_a_public_path() -> None:
    """@optional on a public path: a valid token's identity, anonymous without one, and a
    bad token refused (the middleware itself reads no token there)."""
    from jwtgate.contrib.starlette import optional

    @optional
    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"hello": request.user.identity, "scopes": request.auth.scopes})

    async def plain(request: Request) -> JSONResponse:
        return JSONResponse({"hello": request.user.identity})

    app = Starlette(routes=[Route("/hello", hello), Route("/plain", plain)])
    client = TestClient(JWTGateMiddleware(app, {**SETTINGS, "PUBLIC_PATHS": ["/hello", "/plain"]}))
    token = tokens("alice", scopes=["read"])
    assert client.get("/hello").json() == {"hello": "", "scopes": []}
    assert client.get("/hello", headers=bearer(token)).json() == {
        "hello": "alice",
        "scopes": ["authenticated", "read"],
    }
    assert client.get("/hello", headers=bearer(tokens.forged())).status_code == 401
    # Without the decorator a public path stays anonymous, token or not.
    assert client.get("/plain", headers=bearer(token)).json() == {"hello": ""}


def test_without_denial_responses_a_refused_handshake_is_closed_with_1008() -> None:
    """A server without the websocket.http.response extension: a 1008 close."""
    import anyio

    @starlette_requires_scopes("admin")
    async def live(websocket: Any) -> None:
        await websocket.accept()

    app = JWTGateMiddleware(
        Starlette(routes=[WebSocketRoute("/live", live)]),
        {**SETTINGS, "CREDENTIALS_REQUIRED": False},
    )
    token = tokens("bob", scopes=["read"])
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/live",
        "raw_path": b"/live",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"t"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "subprotocols": [],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(app, scope, receive, send)
    assert sent[-1]["type"] == "websocket.close"
    assert sent[-1]["code"] == 1008
