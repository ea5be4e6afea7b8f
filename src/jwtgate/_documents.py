"""Raw ASGI and WSGI apps serving one fixed JSON document on ``GET`` and ``HEAD``.

The published JWKS (:mod:`jwtgate.jwks_publish`) and the protected resource
metadata (:mod:`jwtgate.resource_metadata`) are each one such app: a body and its
headers computed once, 405 with ``Allow`` for any other method.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["ASGIApp", "document_asgi_app", "document_wsgi_app"]

Scope = MutableMapping[str, Any]
ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_NOT_ALLOWED = b'{"error":"method_not_allowed"}'
_NOT_ALLOWED_HEADERS = [
    ("Content-Type", "application/json"),
    ("Allow", "GET, HEAD"),
    ("Content-Length", str(len(_NOT_ALLOWED))),
]


def document_asgi_app(body: bytes, headers: Sequence[tuple[str, str]]) -> ASGIApp:
    """A raw ASGI app answering ``GET``/``HEAD`` with ``body`` and ``headers``."""
    raw_headers = [(n.lower().encode(), v.encode()) for n, v in headers]
    raw_not_allowed = [(n.lower().encode(), v.encode()) for n, v in _NOT_ALLOWED_HEADERS]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        if scope["method"] not in ("GET", "HEAD"):
            await send({"type": "http.response.start", "status": 405, "headers": raw_not_allowed})
            await send({"type": "http.response.body", "body": _NOT_ALLOWED})
            return
        await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    return app


def document_wsgi_app(body: bytes, headers: Sequence[tuple[str, str]]) -> WSGIApplication:
    """A WSGI app answering ``GET``/``HEAD`` with ``body`` and ``headers``."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", list(_NOT_ALLOWED_HEADERS))
            return [_NOT_ALLOWED]
        start_response("200 OK", list(headers))
        return [b""] if method == "HEAD" else [body]

    return app
