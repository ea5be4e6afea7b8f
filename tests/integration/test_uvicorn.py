"""JWTGateMiddleware under a real uvicorn on 127.0.0.1, with real HTTP and websocket clients."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("websockets")

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import connect

from asgi_support import MISSING, FakeClock, bearer, body, challenge, gate, token
from jwtgate.asgi import JWTGateMiddleware

pytestmark = pytest.mark.slow  # a real uvicorn server


@dataclass
class Served:
    """A running server: its base URLs, its fake clock and what the app saw."""

    http: str
    ws: str
    clock: FakeClock
    events: list[str] = field(default_factory=list)


def build_app(served: Served) -> JWTGateMiddleware:
    """A Starlette app with a lifespan hook, /me and an echo websocket, behind the middleware."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        served.events.append("startup")
        yield
        served.events.append("shutdown")

    async def me(request: Request) -> Response:
        served.events.append("me")
        return JSONResponse({"subject": request.user.display_name})

    async def echo(websocket: WebSocket) -> None:
        served.events.append("ws")
        await websocket.accept()
        try:
            while True:
                text = await websocket.receive_text()
                await websocket.send_text(f"{websocket.user.display_name}:{text}")
        except WebSocketDisconnect as exc:
            served.events.append(f"ws-closed-{exc.code}")

    app = Starlette(routes=[Route("/me", me), WebSocketRoute("/ws", echo)], lifespan=lifespan)
    settings = {"token_sources": ["header", "query"], "leeway": 5}
    return JWTGateMiddleware(app, gate=gate(served.clock, **settings))


@pytest.fixture
def served() -> Iterator[Served]:
    """uvicorn serving the wrapped app on a free port of 127.0.0.1, in a thread, stopped after."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    served = Served(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", FakeClock())
    config = uvicorn.Config(build_app(served), lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield served
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
    assert served.events[-1] == "shutdown"


def test_lifespan_reaches_the_wrapped_app(served: Served) -> None:
    """uvicorn's lifespan startup passes through the middleware and the app's hook runs."""
    assert served.events == ["startup"]


def test_http_request_with_a_token_is_served(served: Served) -> None:
    """A real HTTP request with a valid bearer token reaches the endpoint."""
    response = httpx.get(f"{served.http}/me", headers=bearer(token()))
    assert response.status_code == 200
    assert response.json() == {"subject": "alice"}
    assert served.events == ["startup", "me"]


def test_http_request_without_a_token_is_refused(served: Served) -> None:
    """A real HTTP request without a token gets 401, the bare challenge and JSON; no endpoint."""
    status, www, expected = MISSING
    response = httpx.get(f"{served.http}/me")
    assert response.status_code == status
    assert response.headers.get_list("www-authenticate") == [www]
    assert response.json() == expected
    assert served.events == ["startup"]


def test_http_request_with_an_expired_token_is_refused(served: Served) -> None:
    """A real HTTP request whose token is past exp + leeway gets 401 invalid_token."""
    response = httpx.get(f"{served.http}/me", headers=bearer(token(ttl=-6)))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge("invalid_token", "token expired")
    assert response.json() == body("invalid_token", "token expired")
    assert served.events == ["startup"]


def test_websocket_handshake_without_a_token_is_an_http_401(served: Served) -> None:
    """uvicorn supports the denial extension, so a refused handshake is a real HTTP 401."""
    status, www, expected = MISSING
    with pytest.raises(InvalidStatus) as info, connect(f"{served.ws}/ws", open_timeout=10):
        pass
    response = info.value.response
    assert response.status_code == status
    assert response.headers.get_all("www-authenticate") == [www]
    assert json.loads(response.body) == expected
    assert served.events == ["startup"]


def test_websocket_handshake_with_a_bad_token_is_refused(served: Served) -> None:
    """A handshake with an invalid token gets an HTTP 401 invalid_token; the app never runs."""
    with (
        pytest.raises(InvalidStatus) as info,
        connect(f"{served.ws}/ws?access_token=abc.def", open_timeout=10),
    ):
        pass
    response = info.value.response
    assert response.status_code == 401
    assert response.headers.get_all("www-authenticate") == [
        challenge("invalid_token", "malformed token")
    ]
    assert json.loads(response.body) == body("invalid_token", "malformed token")
    assert served.events == ["startup"]


def test_websocket_is_closed_1008_after_the_token_expires(served: Served) -> None:
    """An accepted websocket echoes until exp + leeway passes, then the next message closes 1008."""
    with connect(f"{served.ws}/ws?access_token={token(ttl=60)}", open_timeout=10) as ws:
        ws.send("hi")
        assert ws.recv(timeout=10) == "alice:hi"
        served.clock.advance(60 + 5 + 1)
        ws.send("late")
        with pytest.raises(ConnectionClosedError) as info:
            ws.recv(timeout=10)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1008
    assert info.value.rcvd.reason == "token expired"
    assert served.events[:2] == ["startup", "ws"]
