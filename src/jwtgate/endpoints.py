"""Ready-made token endpoints: login, refresh, logout, logout everywhere, verify; ASGI and WSGI.

Five ``POST`` routes under a prefix (default ``/auth``), JSON in and out:

=====================  ==========================================  =====================
route                  request                                     answer
=====================  ==========================================  =====================
``/auth/token``        ``{"username": …, "password": …}``          200 token pair
``/auth/refresh``      ``{"refresh_token": …}`` (or the cookie)    200 the next pair
``/auth/logout``       ``{"refresh_token": …}``, the cookie, or    204
                       ``Authorization: Bearer <access token>``
``/auth/logout-all``   the same credentials as logout              204
``/auth/verify``       ``{"token": …}`` (access or refresh)        200 ``{"active": true, …}``
=====================  ==========================================  =====================

``authenticate(username, password)`` is yours, sync or async: return the subject
(a string), ``(subject, claims)`` to put extra claims (``scope``…) in the
tokens, or ``None`` to refuse. In the ASGI app a sync ``authenticate`` runs in
a worker thread (password hashing and database calls must not block the loop).

Errors follow RFC 6749 §5.2 for the grant routes: 400 ``invalid_request`` (bad
JSON or fields), 400 ``invalid_grant`` (wrong password; a bad, expired, revoked or
reused refresh token). A bad access token in ``Authorization``, or a bad, expired
or revoked token sent to ``/verify``, is a 401 with
``WWW-Authenticate`` (RFC 6750), an unreachable store a 503 with
``Retry-After``. Every answer carries ``Cache-Control: no-store``.

**Cookie mode** (``cookie=True``): the refresh token travels in an ``HttpOnly``,
``Secure``, ``SameSite=Strict`` cookie whose ``Path`` is the prefix (so it is sent
to these routes only, never to the API), and is left out of the JSON body. A
cookie is ambient (the browser attaches it), so every request it authenticates
must also prove it comes from your page: the login answer sets a readable CSRF
cookie and returns its value as ``csrf_token``; send it back in the
``X-CSRF-Token`` header (double-submit). The value is signed and bound to the
session (OWASP's signed double-submit cookie): ``<nonce>.<HMAC-SHA256(key,
session id ! nonce)>``, so a cookie planted by a sibling subdomain (cookie
tossing) cannot pass, nor can a valid value of another session. The key is
derived with HKDF from the signing key, or is the ``csrf_secret`` option. Without
a matching header the request is a 403, checked before anything changes. Each
login and refresh sets a fresh value. JSON bodies must be ``application/json``
(a cross-site HTML form cannot send that without a CORS preflight).

Mount it::

    app = jwtgate.endpoints.asgi_app(settings, authenticate)        # ASGI
    app = jwtgate.endpoints.wsgi_app(settings, authenticate)        # WSGI

or call the framework-neutral core yourself: :class:`Endpoints` (sync) and
:class:`AsyncEndpoints` map an :class:`EndpointRequest` to an
:class:`EndpointResponse`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypedDict, TypeVar

import anyio.to_thread

from ._csrf import csrf_key as csrf_key
from ._csrf import csrf_token as csrf_token
from ._csrf import csrf_valid as csrf_valid
from ._endpoint_core import (
    _REASONS,
    MAX_BODY,
    EndpointRequest,
    EndpointResponse,
    _Authenticate,
    _Core,
    _Step,
)
from ._endpoint_core import ROUTES as ROUTES
from ._sansio import arun, run
from ._session_core import ClaimsHook
from .config import Settings
from .sessions import AsyncSessions, Sessions
from .stores import AsyncStore, Store

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "AsyncEndpoints",
    "EndpointOptions",
    "EndpointRequest",
    "EndpointResponse",
    "Endpoints",
    "asgi_app",
    "wsgi_app",
]

SessionsT = TypeVar("SessionsT", Sessions, AsyncSessions)

AuthResult: TypeAlias = "str | tuple[str, Mapping[str, Any]] | None"
Authenticate: TypeAlias = Callable[[str, str], "AuthResult | Awaitable[AuthResult]"]


class EndpointOptions(TypedDict, total=False):
    """The keyword options of :class:`Endpoints`, :func:`asgi_app` and :func:`wsgi_app`."""

    prefix: str
    cookie: bool
    cookie_name: str
    csrf_cookie_name: str
    csrf_header: str
    csrf_secret: str | bytes | None
    secure: bool


_OPTION_DEFAULTS: EndpointOptions = {
    "prefix": "/auth",
    "cookie": False,
    "cookie_name": "jwtgate_refresh",
    "csrf_cookie_name": "jwtgate_csrf",
    "csrf_header": "X-CSRF-Token",
    "csrf_secret": None,
    "secure": True,
}
_OPTION_TYPES: dict[str, type | tuple[type, ...]] = {
    "prefix": str,
    "cookie": bool,
    "cookie_name": str,
    "csrf_cookie_name": str,
    "csrf_header": str,
    "csrf_secret": (str, bytes, type(None)),
    "secure": bool,
}


def _core(settings: Settings, options: Mapping[str, Any]) -> _Core:
    """The endpoint core for ``options``: a misspelt or mistyped option is a TypeError
    at construction (silently ignoring ``secure=False`` or ``cookies=True`` would
    leave the endpoints doing something else than asked)."""
    _check_options(options)
    given = {**_OPTION_DEFAULTS, **options}
    return _Core(
        settings,
        prefix=given["prefix"],
        cookie=given["cookie"],
        cookie_name=given["cookie_name"],
        csrf_cookie_name=given["csrf_cookie_name"],
        csrf_header=given["csrf_header"],
        secure=given["secure"],
        csrf_secret=given["csrf_secret"],
    )


def _check_options(options: Mapping[str, Any]) -> None:
    """Raise TypeError for an unknown or mistyped endpoint option (see :class:`Endpoints`)."""
    unknown = sorted(set(options) - set(_OPTION_TYPES))
    if unknown:
        raise TypeError(
            f"unexpected endpoint option(s) {', '.join(map(repr, unknown))}; "
            f"the options are {', '.join(_OPTION_TYPES)}"
        )
    for name, value in options.items():
        if not isinstance(value, _OPTION_TYPES[name]):
            kind = type(value).__name__
            raise TypeError(f"endpoint option {name!r} cannot be a {kind} (see Endpoints)")


class _Twin(Generic[SessionsT]):
    """The constructor both endpoint classes share."""

    def __init__(
        self,
        sessions: SessionsT,
        authenticate: Callable[[str, str], Any],
        **options: Unpack[EndpointOptions],
    ) -> None:
        self.sessions: SessionsT = sessions
        self.authenticate = authenticate
        self._core = _core(sessions.settings, options)


class Endpoints(_Twin[Sessions]):
    """The sync endpoint core: ``handle(EndpointRequest) -> EndpointResponse``.

    Options: ``prefix`` (``"/auth"``), ``cookie`` (False), ``cookie_name``
    (``"jwtgate_refresh"``), ``csrf_cookie_name`` (``"jwtgate_csrf"``),
    ``csrf_header`` (``"X-CSRF-Token"``), ``csrf_secret`` (the CSRF signing key,
    at least 32 bytes; by default derived from the signing key, so rotating that
    key makes older CSRF values fail once), ``secure`` (True; False only for
    plain-HTTP development, since browsers drop ``Secure`` cookies there).
    """

    def handle(self, request: EndpointRequest, *, route: str | None = None) -> EndpointResponse:
        """The answer to ``request``.

        ``route`` (one of :data:`ROUTES`) is for a framework that has routed the
        request itself: the path's prefix is then not checked, and its folder is
        the refresh cookie's ``Path``.
        """
        return run(self._core.flow(request, route), self._do)

    def _do(self, step: _Step) -> Any:
        if isinstance(step, _Authenticate):
            return self.authenticate(step.username, step.password)
        return step.on(self.sessions)


class AsyncEndpoints(_Twin[AsyncSessions]):
    """The async endpoint core, over :class:`~jwtgate.AsyncSessions`; see :class:`Endpoints`."""

    async def handle(
        self, request: EndpointRequest, *, route: str | None = None
    ) -> EndpointResponse:
        """The answer to ``request``; see :meth:`Endpoints.handle`."""
        return await arun(self._core.flow(request, route), self._do)

    async def _do(self, step: _Step) -> Any:
        if not isinstance(step, _Authenticate):
            return await step.on(self.sessions)
        authenticate, username, password = self.authenticate, step.username, step.password
        if inspect.iscoroutinefunction(authenticate):
            return await authenticate(username, password)
        result = await anyio.to_thread.run_sync(authenticate, username, password)
        return await result if inspect.isawaitable(result) else result


# -- raw ASGI and WSGI apps ------------------------------------------------------------


class _ASGIApp:
    """A raw ASGI 3 app serving :class:`AsyncEndpoints` (no framework)."""

    def __init__(self, endpoints: AsyncEndpoints) -> None:
        self.endpoints = endpoints

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > MAX_BODY + 1 or not message.get("more_body", False):
                break
        headers: dict[str, str] = {}
        authorization: list[str] = []
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            if name == "authorization":
                authorization.append(value)
            headers[name] = (
                f"{headers[name]}; {value}" if name == "cookie" and name in headers else value
            )
        client = scope.get("client")
        request = EndpointRequest(
            scope["method"],
            scope["path"],
            body,
            headers,
            tuple(authorization),
            client_address=str(client[0]) if client else None,
            scheme=scope.get("scheme", "http"),
        )
        response = await self.endpoints.handle(request)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    (k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers
                ],
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.endpoints.sessions.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


class _WSGIApp:
    """A raw WSGI app serving :class:`Endpoints` (no framework)."""

    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints

    def close(self) -> None:
        """Close the store the sessions opened (WSGI has no shutdown hook: call it yourself)."""
        self.endpoints.sessions.close()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(min(length, MAX_BODY + 1)) if length > 0 else b""
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        authorization = headers.pop("authorization", None)
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        request = EndpointRequest(
            environ["REQUEST_METHOD"],
            path,
            body,
            headers,
            (authorization,) if authorization is not None else (),
            client_address=environ.get("REMOTE_ADDR") or None,
            scheme=environ.get("wsgi.url_scheme", "http"),
        )
        response = self.endpoints.handle(request)
        start_response(f"{response.status} {_REASONS[response.status]}", list(response.headers))
        return [response.body]


def asgi_app(
    settings: Settings | Mapping[str, Any],
    authenticate: Callable[[str, str], Any],
    *,
    store: AsyncStore | str | None = None,
    claims: ClaimsHook | None = None,
    **options: Unpack[EndpointOptions],
) -> Any:
    """A raw ASGI app serving the token endpoints (options: see :class:`Endpoints`).

    The store (the ``store`` setting by default) is closed at lifespan shutdown;
    ``claims`` is the sessions' claims hook (see :class:`~jwtgate.Sessions`).
    """
    sessions = AsyncSessions(settings, store, claims=claims)
    return _ASGIApp(AsyncEndpoints(sessions, authenticate, **options))


def wsgi_app(
    settings: Settings | Mapping[str, Any],
    authenticate: Callable[[str, str], Any],
    *,
    store: Store | str | None = None,
    claims: ClaimsHook | None = None,
    **options: Unpack[EndpointOptions],
) -> Any:
    """A WSGI app serving the token endpoints (options: see :class:`Endpoints`).

    Its ``close()`` closes the store it opened; ``claims`` is the sessions' claims
    hook (see :class:`~jwtgate.Sessions`).
    """
    return _WSGIApp(Endpoints(Sessions(settings, store, claims=claims), authenticate, **options))
