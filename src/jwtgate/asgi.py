"""JWT bearer authentication for any ASGI 3 application.

``JWTGateMiddleware`` wraps an ASGI app (Starlette, FastAPI, Django under ASGI,
Quart, Litestar, a bare callable) and checks every ``http`` request and every
``websocket`` handshake with one :class:`~jwtgate.Gate`. It speaks the raw
protocol: no request wrapper, no framework import.

* **Accepted**: ``scope["user"]`` is the :class:`~jwtgate.Identity` (the anonymous
  one when ``credentials_required`` is off and no token came), ``scope["auth"]``
  is a :class:`~jwtgate.Credentials` whose ``.scopes`` Starlette's ``requires``
  reads, and ``scope["state"]["jwtgate"]`` is the identity too when the server
  provides lifespan state. Then the app runs.
* **Refused**: the RFC 6750 answer (401/403/400/503, ``WWW-Authenticate``, small
  JSON body) is sent and the app is never called. A refused websocket handshake
  gets that answer as an HTTP response when the server supports the
  ``websocket.http.response`` extension, and otherwise a close with code 1008
  (policy violation) before the connection is accepted.
* **Expired websockets**: an accepted connection whose token passes ``exp`` plus
  ``leeway`` is closed with 1008 the next time the app sends or receives.
* **Everything else** (``lifespan`` and any other scope type) reaches the app
  untouched.

Placement: put it *inside* ``CORSMiddleware`` (CORS outermost), so that CORS
headers are added to jwtgate's 401s too and the browser can read them, and
preflights are answered before they reach jwtgate. A preflight that does reach
jwtgate is answered by jwtgate (204, no app code runs) unless ``cors_preflight``
is ``"forward"``. Rules and public paths match the routed path (``path`` without
``root_path``); non-canonical paths are refused (docs/security.md). Example::

    from jwtgate.asgi import JWTGateMiddleware

    app = JWTGateMiddleware(app, settings={"SECRET": "…", "PUBLIC_PATHS": ["/health"]})

Security: the decision never blocks the event loop (key sources and stores are
awaited through their async side). Neither the token nor any key appears in a
response or a log line. See docs/asgi.md.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any

from ._dpop_request import asgi_dpop
from ._moved import moved_names
from .config import Settings
from .gate import Gate, Reads, RequestFields, RequestInfo, reads_everything, resolve_gate
from .http import Rejection
from .identity import Identity

# The door: the middleware and what an ASGI user types. The helpers below
# (read_request, route_path, attach, send_rejection, refuse_websocket) serve
# jwtgate's own adapters; the token endpoints and the JWKS app have modules of their
# own (jwtgate.endpoints, jwtgate.jwks).
__all__ = ["ASGIApp", "ConnectionExpired", "JWTGateMiddleware", "Receive", "Scope", "Send"]

__getattr__ = moved_names(
    __name__,
    {
        "token_endpoints": "jwtgate.endpoints.asgi_app",
        "jwks_endpoint": "jwtgate.jwks.jwks_asgi_app",
    },
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# RFC 6455 §7.4.1: 1008 "policy violation" is the generic refusal code; 1000
# (what Starlette's AuthenticationMiddleware sends) would mean "all is well".
WS_POLICY_VIOLATION = 1008


def route_path(scope: Scope) -> str:
    """The path the app's router routes: ``path`` without ``root_path``.

    Servers put the mount prefix in both (``uvicorn --root-path /api`` makes
    ``path`` ``/api/admin`` and ``root_path`` ``/api``); routers strip it at a
    segment boundary, as Starlette's ``get_route_path`` does, and so does jwtgate,
    so rules mean the same under any root path. The root itself is ``/``.
    """
    path: str = scope.get("path", "/")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        if len(path) == len(root):
            return "/"
        if path[len(root)] == "/":
            return path[len(root) :]
    return path


def _raw_path(scope: Scope) -> str | None:
    raw = scope.get("raw_path")
    return raw.decode("latin-1") if raw else None


def request_reader(gate: Reads) -> Callable[[Scope], RequestFields]:
    """A function reading what ``gate`` needs from an ``http`` or ``websocket`` scope.

    Header names in ASGI are lower-case bytes; values are decoded as latin-1
    (RFC 9110 §5.5: anything else is opaque bytes, never UTF-8 by assumption).
    Only what this Gate reads is read, chosen once here: the cookie when it takes
    cookie tokens, the query when it takes query tokens, the raw path when paths
    decide anything, and ``Origin`` / ``Access-Control-Request-Method`` for an
    ``OPTIONS`` request (``preflight`` is true only for one).
    """
    wanted = gate.header_bytes

    def read(scope: Scope) -> RequestFields:
        headers = scope.get("headers", ())
        authorization: tuple[str, ...] = ()
        for name, value in headers:
            if name == wanted:
                authorization += (value.decode("latin-1"),)
        # A websocket handshake is a GET (RFC 6455 §4.1); its scope has no method.
        method: str = scope.get("method", "GET") if scope["type"] == "http" else "GET"
        preflight = len(method) == 7 and method.upper() == "OPTIONS" and _is_preflight(headers)
        path: str = route_path(scope) if scope.get("root_path") else scope.get("path", "/")
        return (method, path, authorization, None, "", preflight, None, None)

    if not (gate.reads_cookie or gate.reads_query or gate.judges_paths or gate.reads_dpop):
        return read
    cookies, query, raw = gate.reads_cookie, gate.reads_query, gate.judges_paths
    dpop = gate.reads_dpop

    def read_more(scope: Scope) -> RequestFields:
        method, path, authorization, _, _, preflight, _, _ = read(scope)
        return (
            method,
            path,
            authorization,
            _cookie(scope) if cookies else None,
            scope.get("query_string", b"").decode("latin-1") if query else "",
            preflight,
            _raw_path(scope) if raw else None,
            asgi_dpop(scope) if dpop else None,
        )

    return read_more


def read_request(scope: Scope, gate: Reads) -> RequestFields:
    """What ``gate`` needs from ``scope`` (see :func:`request_reader`, which adapters
    build once)."""
    return request_reader(gate)(scope)


def _is_preflight(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    present = {name for name, _ in headers}
    return b"origin" in present and b"access-control-request-method" in present


def _cookie(scope: Scope) -> str | None:
    found = [
        value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"cookie"
    ]
    # HTTP/2 may split cookies across header lines (RFC 9113 §8.2.3).
    return "; ".join(found) if found else None


def request_info(scope: Scope, header_name: str | bytes = b"authorization") -> RequestInfo:
    """Deprecated: use :func:`read_request` (what a given Gate needs). Removed in the
    next release."""
    warnings.warn(
        "jwtgate.asgi.request_info is deprecated: use jwtgate.asgi.read_request(scope, gate)",
        DeprecationWarning,
        stacklevel=2,
    )
    name = header_name if isinstance(header_name, str) else header_name.decode("latin-1")
    return RequestInfo._make(read_request(scope, reads_everything(name)))


def admit(gate: Gate, scope: Scope, header_name: bytes = b"authorization") -> Identity | None:
    """Deprecated: ``await gate.decide_async(read_request(scope, gate))`` recalls a
    token verified before by itself. Removed in the next release."""
    warnings.warn(
        "jwtgate.asgi.admit is deprecated: gate.decide_async(read_request(scope, gate)) "
        "recalls a token verified before by itself",
        DeprecationWarning,
        stacklevel=2,
    )
    found = [value for name, value in scope.get("headers", ()) if name == header_name]
    if len(found) != 1:
        return None
    method: str = scope.get("method", "GET")
    header = found[0].decode("latin-1")
    return gate._admit(method, route_path(scope), header, False, _raw_path(scope))


def attach(scope: Scope, identity: Identity, gate: Gate) -> None:
    """Put ``identity`` where ASGI apps and Starlette look for it."""
    scope["user"] = identity
    scope["auth"] = identity.credentials
    scope["jwtgate.gate"] = gate
    state = scope.get("state")
    # type() first: an isinstance check against the ABC costs more than the copy.
    if state is not None and (type(state) is dict or isinstance(state, MutableMapping)):
        # The spec says servers pass a per-request copy of the lifespan state;
        # copying again means a server that does not can never leak one
        # request's identity into the next.
        if state:
            state = dict(state) if type(state) is not dict else state.copy()
            state["jwtgate"] = identity
            scope["state"] = state
        else:
            scope["state"] = {"jwtgate": identity}


class JWTGateMiddleware:
    """ASGI 3 middleware: authenticate ``http`` and ``websocket`` scopes with a Gate.

    ``settings`` is a settings dict (either key case) or a
    :class:`~jwtgate.Settings`; ``gate`` instead injects a ready
    :class:`~jwtgate.Gate` (tests use it to control the clock). Everything is
    validated here, at construction, never at the first request.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings | Mapping[str, Any] | None = None,
        *,
        gate: Gate | None = None,
    ) -> None:
        self.app = app
        self.gate = resolve_gate(settings, gate, "JWTGateMiddleware")
        self._read = request_reader(self.gate)
        self._never_waits = self.gate.never_waits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            if kind == "lifespan":
                await self.app(scope, receive, self._closing_on_shutdown(send))
            else:
                await self.app(scope, receive, send)
            return
        fields = self._read(scope)
        if self._never_waits:  # nothing to await: the same decision, without a coroutine
            decision = self.gate.decide(fields)
        else:
            decision = await self.gate.decide_async(fields)
        if isinstance(decision, Rejection):
            if kind == "http":
                await send_rejection(send, decision)
            else:
                await refuse_websocket(scope, send, decision)
            return
        attach(scope, decision, self.gate)
        if kind == "websocket":
            deadline = self.gate.expires_at(decision)
            if deadline is not None:
                watch = _ExpiryWatch(deadline, self.gate.verifier.clock, receive, send)
                await self.app(scope, watch.receive, watch.send)
                return
        await self.app(scope, receive, send)

    def _closing_on_shutdown(self, send: Send) -> Send:
        # The messages pass unchanged. Remote keys (jwks_url) are fetched before the
        # app reports startup complete, so the first request does not wait for them;
        # the Gate's store connections are closed just before it reports shutdown
        # complete, because a server may cancel the app right after that message.
        async def send_after_closing(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                await self.gate.prefetch_async()
            elif message["type"] == "lifespan.shutdown.complete":
                await self.gate.aclose()
            await send(message)

        return send_after_closing


def _raw_headers(rejection: Rejection) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in rejection.headers]


async def send_rejection(send: Send, rejection: Rejection) -> None:
    """Send ``rejection`` as a complete HTTP response."""
    await send(
        {
            "type": "http.response.start",
            "status": rejection.status,
            "headers": _raw_headers(rejection),
        }
    )
    await send({"type": "http.response.body", "body": rejection.body})


async def refuse_websocket(scope: Scope, send: Send, rejection: Rejection) -> None:
    """Refuse a websocket handshake before it is accepted.

    With the denial-response extension the client gets the same HTTP answer as
    a plain request (status, ``WWW-Authenticate``, JSON body); without it, the
    only thing ASGI lets us say is a close code, and 1008 says "policy".
    """
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": rejection.status,
                "headers": _raw_headers(rejection),
            }
        )
        await send({"type": "websocket.http.response.body", "body": rejection.body})
        return
    await send(
        {
            "type": "websocket.close",
            "code": WS_POLICY_VIOLATION,
            "reason": rejection.error.description,
        }
    )


class ConnectionExpired(OSError):
    """Raised to an app that sends on a websocket jwtgate closed because its token expired.

    ASGI servers raise an ``OSError`` subclass for a send on a closed
    connection; Starlette turns it into ``WebSocketDisconnect``.
    """


class _ExpiryWatch:
    """Wraps receive/send of one accepted websocket to enforce ``exp`` + leeway.

    The check runs when the app next sends or receives: a connection that sits
    idle is not woken just to be closed, and a live one cannot outlast its token.
    """

    def __init__(
        self, deadline: float, clock: Callable[[], float], receive: Receive, send: Send
    ) -> None:
        self._deadline = deadline
        self._clock = clock
        self._receive = receive
        self._send = send
        self._accepted = False
        self._closed = False

    def _expired(self) -> bool:
        return self._clock() > self._deadline

    async def _close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._send(
                {"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": "token expired"}
            )

    def _disconnect(self) -> Message:
        return {"type": "websocket.disconnect", "code": WS_POLICY_VIOLATION, "reason": ""}

    async def receive(self) -> Message:
        if self._closed:
            return self._disconnect()
        if self._accepted and self._expired():
            await self._close()
            return self._disconnect()
        message = await self._receive()
        if message["type"] == "websocket.receive" and self._expired():
            await self._close()
            return self._disconnect()
        if message["type"] == "websocket.disconnect":
            self._closed = True
        return message

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if self._closed and kind == "websocket.close":
            return  # we already closed it; the app's own close has nothing left to do
        if kind == "websocket.send" and (self._closed or self._expired()):
            await self._close()
            raise ConnectionExpired("websocket closed: token expired")
        if kind == "websocket.accept":
            self._accepted = True
        await self._send(message)
