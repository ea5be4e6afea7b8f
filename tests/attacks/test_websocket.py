"""The attack table against websocket handshakes through the raw ASGI middleware.

With the ``websocket.http.response`` extension a refused handshake gets the same
HTTP answer as a plain request; an accepted one reaches the app, which accepts
the connection and sends the subject.
"""

from __future__ import annotations

import asyncio
import json
from functools import cache
from typing import Any

import pytest

from attacks.cases import Case, params, profile_settings
from attacks.stacks import Answer, check, clock, grouped
from jwtgate import Gate
from jwtgate.asgi import JWTGateMiddleware, Message, Receive, Scope, Send


class App:
    """A websocket app that counts its calls, accepts, and sends the subject."""

    calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        App.calls += 1
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        await send(
            {"type": "websocket.send", "text": json.dumps({"subject": scope["user"].subject})}
        )
        await send({"type": "websocket.close", "code": 1000})


@cache
def middleware(profile: str) -> JWTGateMiddleware:
    """The middleware for ``profile``, on the fixed clock."""
    return JWTGateMiddleware(App(), gate=Gate(profile_settings(profile), clock=clock()))


def handshake(app: Any, case: Case) -> Answer:
    """Open a websocket with the case's headers; the denial response or the accepted stream."""
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/",
        "raw_path": b"/",
        "query_string": case.query.encode("latin-1"),
        "headers": list(case.headers),
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}},
    }
    sent: list[Message] = []
    incoming = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    if sent[0]["type"] == "websocket.accept":
        assert [m["type"] for m in sent] == [
            "websocket.accept",
            "websocket.send",
            "websocket.close",
        ]
        return Answer(200, {}, sent[1]["text"].encode())
    start, body = sent
    assert (start["type"], body["type"]) == (
        "websocket.http.response.start",
        "websocket.http.response.body",
    )
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
    return Answer(start["status"], grouped(headers), body["body"])


@pytest.mark.parametrize("case", params())
def test_attack(case: Case) -> None:
    """A websocket handshake is refused or accepted exactly as the table says."""
    App.calls = 0
    check(case, handshake(middleware(case.profile), case), App.calls, wsgi=False)
