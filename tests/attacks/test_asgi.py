"""The attack table through the raw ASGI middleware (httpx.ASGITransport)."""

from __future__ import annotations

import json
from functools import cache

import pytest

from attacks.cases import Case, params, profile_settings
from attacks.stacks import asgi_request, check, clock
from jwtgate import Gate
from jwtgate.asgi import JWTGateMiddleware, Receive, Scope, Send


class App:
    """A bare ASGI app that counts its calls and echoes the subject."""

    calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        App.calls += 1
        data = json.dumps({"subject": scope["user"].subject}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": data})


@cache
def middleware(profile: str) -> JWTGateMiddleware:
    """The middleware for ``profile``, on the fixed clock."""
    return JWTGateMiddleware(App(), gate=Gate(profile_settings(profile), clock=clock()))


@pytest.mark.parametrize("case", params())
def test_attack(case: Case) -> None:
    """The raw ASGI middleware answers each hostile request exactly as the table says."""
    App.calls = 0
    answer = asgi_request(middleware(case.profile), case)
    check(case, answer, App.calls, wsgi=False)
