"""Helpers shared by the ASGI, Starlette, FastAPI and uvicorn tests."""

from __future__ import annotations

import json
from typing import Any

from conftest import NOW, FakeClock, make_settings, make_token
from jwtgate import Gate
from jwtgate.asgi import Receive, Scope, Send

REALM = 'realm="api"'


def gate(clock: FakeClock | None = None, **overrides: Any) -> Gate:
    """A Gate over the test HS256 settings, on a fake clock at NOW."""
    return Gate(make_settings(**overrides), clock=clock or FakeClock())


def token(scope: str | None = None, **kwargs: Any) -> str:
    """A valid token for alice at NOW, with ``scope`` when given."""
    return make_token({"scope": scope} if scope is not None else None, **kwargs)


def bearer(value: str) -> dict[str, str]:
    """An Authorization header carrying ``value``."""
    return {"authorization": f"Bearer {value}"}


def challenge(error: str | None = None, description: str = "", scope: str = "") -> str:
    """The exact WWW-Authenticate value jwtgate sends for this error."""
    parts = [REALM]
    if error:
        parts += [f'error="{error}"', f'error_description="{description}"']
    if scope:
        parts.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(parts)


def body(error: str, description: str) -> dict[str, str]:
    """The JSON body jwtgate sends for this error."""
    return {"error": error, "error_description": description}


MISSING = (401, challenge(), body("authentication_required", "authentication required"))


class RecordingApp:
    """A ten-line raw ASGI app: records each scope it sees and echoes who the user is."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        user = scope["user"]
        payload = {"subject": user.subject, "scopes": scope["auth"].scopes}
        data = json.dumps(payload).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": data})


__all__ = [
    "MISSING",
    "NOW",
    "REALM",
    "FakeClock",
    "RecordingApp",
    "bearer",
    "body",
    "challenge",
    "gate",
    "token",
]
