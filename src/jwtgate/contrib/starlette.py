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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import Response

from jwtgate.asgi import attach, request_reader
from jwtgate.config import Settings
from jwtgate.errors import InvalidToken
from jwtgate.gate import Gate, resolve_gate
from jwtgate.http import Rejection, render

__all__ = [
    "JWTGateAuthenticationError",
    "JWTGateBackend",
    "authentication_middleware",
    "on_error",
    "rejection_response",
]


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
