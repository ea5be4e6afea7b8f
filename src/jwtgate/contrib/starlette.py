"""Starlette's own authentication model, answered with jwtgate's errors.

Most apps should simply wrap themselves in :class:`jwtgate.asgi.JWTGateMiddleware`:
it fills ``request.user`` and ``request.auth`` so ``@requires("admin")`` works,
and it handles websockets fully. This module is for those who prefer
Starlette's ``AuthenticationMiddleware`` with a backend:

.. code-block:: python

    from starlette.applications import Starlette
    from jwtgate.contrib.starlette import authentication_middleware

    app = Starlette(routes=..., middleware=[authentication_middleware({"SECRET": "…"})])

:class:`JWTGateBackend` returns ``(AuthCredentials(scopes), identity)``, so
``request.user`` is the :class:`~jwtgate.Identity` and ``request.auth.scopes``
its scopes. A refused request does not get Starlette's default answer (400 with
the exception text): :func:`on_error` sends jwtgate's RFC 6750 answer (401,
403, 400 or 503 with ``WWW-Authenticate`` and the small JSON body).

Websockets: Starlette's ``AuthenticationMiddleware`` closes a refused handshake
with code 1000 whatever the error says, and cannot close a connection whose
token expires. Use ``JWTGateMiddleware`` when you serve websockets.

Protected resource metadata (RFC 9728): ``JWTGateMiddleware`` serves it by itself
when ``RESOURCE`` is set. Where no jwtgate middleware sees the request (FastAPI's
``JWTGateAuth`` dependencies, a sub-app), :func:`metadata_routes` gives the routes
to add: ``Starlette(routes=[*metadata_routes(SETTINGS), ...])``, or
``app.router.routes.extend(metadata_routes(SETTINGS))`` in FastAPI.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.websockets import WebSocket

from jwtgate.asgi import attach, request_reader
from jwtgate.config import Settings
from jwtgate.errors import InvalidToken
from jwtgate.gate import Gate, resolve_gate
from jwtgate.http import Rejection, render
from jwtgate.identity import ANONYMOUS, Identity
from jwtgate.resource_metadata import metadata_paths, metadata_response

__all__ = [
    "JWTGateAuthenticationError",
    "JWTGateBackend",
    "authentication_middleware",
    "metadata_routes",
    "on_error",
    "optional",
    "rejection_response",
    "requires_scopes",
]

F = TypeVar("F", bound=Callable[..., Any])


class JWTGateAuthenticationError(AuthenticationError):
    """Raised by :class:`JWTGateBackend` when the Gate refuses; ``rejection`` is the answer."""

    def __init__(self, rejection: Rejection) -> None:
        self.rejection = rejection
        super().__init__(rejection.error.description)


class JWTGateBackend(AuthenticationBackend):
    """A Starlette ``AuthenticationBackend`` that asks a jwtgate :class:`~jwtgate.Gate`."""

    def __init__(
        self,
        settings: Settings | Mapping[str, Any] | None = None,
        *,
        gate: Gate | None = None,
    ) -> None:
        self.gate = resolve_gate(settings, gate, "JWTGateBackend")
        self._read = request_reader(self.gate)

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser]:
        """The credentials and identity of ``conn``, or raise with jwtgate's answer."""
        decision = await self.gate.decide_async(self._read(conn.scope))
        if isinstance(decision, Rejection):
            raise JWTGateAuthenticationError(decision)
        # AuthenticationMiddleware sets user/auth from our return value; attach()
        # adds the rest (state, the gate for contrib.fastapi) like the middleware does.
        attach(conn.scope, decision, self.gate)
        # Identity has BaseUser's shape without inheriting from it (the core
        # imports no framework).
        return AuthCredentials(decision.credentials.scopes), cast(BaseUser, decision)


def rejection_response(rejection: Rejection) -> Response:
    """A Starlette ``Response`` carrying a jwtgate :class:`~jwtgate.Rejection`."""
    return Response(rejection.body, status_code=rejection.status, headers=dict(rejection.headers))


def on_error(conn: HTTPConnection, exc: AuthenticationError) -> Response:
    """``AuthenticationMiddleware``'s ``on_error``: jwtgate's answer, never a bare 400.

    An ``AuthenticationError`` from some other backend gets a generic 401
    ``invalid_token``: its message is not sent, since it could say too much.
    """
    if isinstance(exc, JWTGateAuthenticationError):
        return rejection_response(exc.rejection)
    return rejection_response(render(InvalidToken(), "api"))


def authentication_middleware(
    settings: Settings | Mapping[str, Any] | None = None, *, gate: Gate | None = None
) -> Middleware:
    """``Middleware(AuthenticationMiddleware, backend=JWTGateBackend(...), on_error=on_error)``."""
    return Middleware(
        AuthenticationMiddleware,
        backend=JWTGateBackend(settings, gate=gate),
        on_error=on_error,
    )


def optional(endpoint: F) -> F:
    """For an endpoint on a public path: it sees the identity of a token that is sent
    (``request.user``, ``request.auth``), and anonymous without one; a token that is
    sent must be valid (401 otherwise). The middleware reads no token on a public path,
    so this decorator does, through the middleware's Gate."""

    @functools.wraps(endpoint)
    async def run(request: Request) -> Response:
        gate = request.scope.get("jwtgate.gate")
        if not isinstance(gate, Gate):
            raise RuntimeError("optional needs JWTGateMiddleware in front of the app")
        user = request.scope.get("user")
        if not (isinstance(user, Identity) and user.is_authenticated):
            reading = gate.per_route(required=False)
            decision = await reading.decide_async(request_reader(reading)(request.scope))
            if isinstance(decision, Rejection):
                return rejection_response(decision)
            attach(request.scope, decision, gate)
        answer: Response = await endpoint(request)
        return answer

    return cast(F, run)


def requires_scopes(*scopes: str) -> Callable[[F], F]:
    """Starlette's ``@requires``, answered the RFC 6750 way: an endpoint decorated with
    ``@requires_scopes("admin")`` runs only for a token holding every scope named;
    otherwise 401 (no token) or 403 ``insufficient_scope`` with the ``WWW-Authenticate``
    challenge and jwtgate's JSON body (Starlette's own decorator sends a plain-text 403
    without a challenge). A refused websocket handshake gets that answer as its denial
    response where the server supports them, else a 1008 close before it is accepted.

    The endpoint takes a ``request`` or ``websocket`` argument, as with ``@requires``;
    the identity is what :class:`jwtgate.asgi.JWTGateMiddleware` or
    :class:`JWTGateBackend` found.
    """
    required = tuple(sorted(set(scopes)))

    def decorator(endpoint: F) -> F:
        names = list(inspect.signature(endpoint).parameters)
        where = next((i for i, n in enumerate(names) if n in ("request", "websocket")), None)
        if where is None:
            raise TypeError(f"{endpoint.__name__} takes no 'request' or 'websocket' argument")

        def connection_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> HTTPConnection:
            found = kwargs.get(names[where], args[where] if where < len(args) else None)
            if not isinstance(found, HTTPConnection):
                raise TypeError(f"{endpoint.__name__} was called without its request")
            return found

        def refusal(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Rejection | None:
            connection = connection_of(args, kwargs)
            gate = connection.scope.get("jwtgate.gate")
            if not isinstance(gate, Gate):
                raise RuntimeError("requires_scopes needs JWTGateMiddleware or JWTGateBackend")
            identity = connection.scope.get("user")
            return gate.scope_refusal(
                identity if isinstance(identity, Identity) else ANONYMOUS, required
            )

        if inspect.iscoroutinefunction(endpoint):

            @functools.wraps(endpoint)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                refused = refusal(args, kwargs)
                if refused is None:
                    return await endpoint(*args, **kwargs)
                connection = connection_of(args, kwargs)
                if isinstance(connection, WebSocket):
                    # The handshake's HTTP answer where the server can send one (the
                    # status and challenge reach the client), else a 1008 close.
                    if "websocket.http.response" in (connection.scope.get("extensions") or {}):
                        await connection.send_denial_response(rejection_response(refused))
                    else:
                        await connection.close(code=1008, reason=refused.error.description)
                    return None
                return rejection_response(refused)

            return cast(F, run_async)

        @functools.wraps(endpoint)
        def run(*args: Any, **kwargs: Any) -> Any:
            refused = refusal(args, kwargs)
            return endpoint(*args, **kwargs) if refused is None else rejection_response(refused)

        return cast(F, run)

    return decorator


def metadata_routes(settings: Settings | Mapping[str, Any]) -> list[Route]:
    """Starlette routes serving the RFC 9728 document of ``settings`` (``GET`` and
    ``HEAD``) where :func:`jwtgate.resource_metadata.metadata_paths` puts it."""
    if not isinstance(settings, Settings):
        settings = Settings.from_dict(settings)
    if settings.resource is None:
        raise ValueError("metadata_routes needs the RESOURCE setting")
    body, headers = metadata_response(settings)

    async def protected_resource_metadata(request: Request) -> Response:
        return Response(body, headers=dict(headers))

    return [
        Route(path, protected_resource_metadata, methods=["GET"])
        for path in metadata_paths(settings.resource)
    ]
