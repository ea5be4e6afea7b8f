"""Raw ASGI and WSGI apps behind a DPoP Gate, and how a request reaches each."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from jwtgate import Gate, Issuer, Settings
from jwtgate.asgi import JWTGateMiddleware as ASGIGate
from jwtgate.testing import DPoPKey, FrozenClock
from jwtgate.wsgi import JWTGateMiddleware as WSGIGate

NOW = 1_800_000_000
SECRET = "dpop-test-secret-" + "x" * 32
HOST = "api.example"
URL = f"http://{HOST}/orders"


def dpop_settings(**overrides: Any) -> Settings:
    """Settings with DPoP allowed, an HS256 secret, the fixed clock's world."""
    return Settings.from_dict({"secret": SECRET, "dpop": "allow", **overrides})


def mint(
    settings: Settings,
    key: DPoPKey | None = None,
    subject: str = "alice",
    clock: Callable[[], float] = lambda: NOW,
) -> str:
    """An access token for ``subject``, bound to ``key`` when one is given."""
    issuer = Issuer(settings, clock=clock)
    return issuer.access_token(subject, claims=key.cnf if key is not None else None)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


async def _asgi_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": scope["user"].subject.encode()})


def _wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("content-type", "text/plain")])
    return [environ["jwtgate.identity"].subject.encode()]


class Stack:
    """One Gate behind a raw ASGI or WSGI middleware, on a frozen clock."""

    def __init__(self, kind: str, settings: Settings, clock: FrozenClock) -> None:
        self.kind = kind
        self.gate = Gate(settings, clock=clock)
        self.app: Any = (
            ASGIGate(_asgi_app, gate=self.gate)
            if kind == "asgi"
            else WSGIGate(_wsgi_app, gate=self.gate)
        )

    def request(self, method: str, path: str, headers: list[tuple[str, str]]) -> Answer:
        if self.kind == "asgi":
            return self._asgi(method, path, headers)
        return self._wsgi(method, path, headers)

    def _asgi(self, method: str, path: str, headers: list[tuple[str, str]]) -> Answer:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport) as client:
                return await client.request(method, f"http://{HOST}{path}", headers=headers)

        response = asyncio.run(send())
        return Answer(response.status_code, dict(response.headers), response.content)

    def _wsgi(self, method: str, path: str, headers: list[tuple[str, str]]) -> Answer:
        # As a server builds it: repeated header lines joined with ",".
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": HOST,
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "HTTP_HOST": HOST,
        }
        for name, value in headers:
            key = "HTTP_" + name.upper().replace("-", "_")
            environ[key] = (
                f"{environ[key]},{value}" if key in environ and key != "HTTP_HOST" else value
            )
        started: list[Any] = []
        body = b"".join(self.app(environ, lambda s, h, e=None: started.append((s, h))))
        status, pairs = started[0]
        return Answer(int(status.split()[0]), {k.lower(): v for k, v in pairs}, body)
