"""FastAPI dependencies over :class:`jwtgate.asgi.JWTGateMiddleware`.

The middleware authenticates every request; these dependencies read what it
found and add per-endpoint scope requirements. They also declare the HTTP
bearer security scheme, so the OpenAPI document lists it and ``/docs`` shows
the *Authorize* button.

.. code-block:: python

    from fastapi import FastAPI
    from jwtgate import Identity
    from jwtgate.asgi import JWTGateMiddleware
    from jwtgate.contrib.fastapi import current_identity, install, require_scopes

    app = FastAPI()
    app.add_middleware(JWTGateMiddleware, settings={"SECRET": "…"})
    install(app)

    @app.get("/me")
    async def me(identity: Annotated[Identity, Depends(current_identity)]) -> dict[str, str]:
        return {"subject": identity.subject or ""}

    @app.delete("/items/{item_id}", dependencies=[Depends(require_scopes("admin"))])
    async def delete_item(item_id: int) -> None: ...

* :func:`current_identity` gives the request's :class:`~jwtgate.Identity` (the
  anonymous one when ``credentials_required`` is off and no token came).
* :func:`require_scopes` answers 401 to an anonymous request and 403
  ``insufficient_scope`` (with the needed ``scope`` in the challenge) to a token
  without every scope named.
* :func:`install` registers the handler that sends those refusals with
  jwtgate's JSON body; without it FastAPI's own handler still sends the right
  status and ``WWW-Authenticate`` header, with a ``{"detail": ...}`` body.

The dependencies never verify a token themselves: without the middleware (or
:mod:`jwtgate.contrib.starlette`'s backend) they raise ``RuntimeError``, because
serving an endpoint as if nobody had configured authentication would fail open.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import FastAPI, HTTPException, Request, Security, WebSocketException
from fastapi.security import HTTPBearer
from starlette.requests import HTTPConnection
from starlette.responses import Response

from jwtgate.contrib.starlette import rejection_response
from jwtgate.errors import InsufficientScope, MissingToken
from jwtgate.gate import Gate
from jwtgate.http import Rejection
from jwtgate.identity import Identity

__all__ = [
    "JWTGateHTTPException",
    "bearer_scheme",
    "current_identity",
    "install",
    "rejection_handler",
    "require_scopes",
]


class _BearerDeclaration(HTTPBearer):
    """The OpenAPI declaration (components.securitySchemes) behind the Authorize button.

    The middleware has already decided, so this reads nothing; it takes an
    ``HTTPConnection`` so that dependencies using it also work on websocket routes
    (FastAPI's own ``HTTPBearer`` asks for a ``Request``, which a websocket has not).
    """

    async def __call__(self, connection: HTTPConnection) -> None:  # type: ignore[override, unused-ignore]
        return None


# FastAPI 0.115 reads a callable object's annotations without its module's globals,
# so the string this module's future import makes of them would stay unresolved
# (and "connection" would become a query parameter): give it the class itself.
_BearerDeclaration.__call__.__annotations__["connection"] = HTTPConnection

bearer_scheme = _BearerDeclaration(
    scheme_name="jwtgate",
    bearerFormat="JWT",
    description="A JWT access token, sent as `Authorization: Bearer <token>`.",
    auto_error=False,
)

# Headers of the rejection that describe the refusal itself; the body's own
# length and type are set by whichever handler sends it.
_CHALLENGE_HEADERS = frozenset({"www-authenticate", "cache-control", "retry-after"})


class JWTGateHTTPException(HTTPException):
    """Raised by :func:`require_scopes` to refuse a request; ``rejection`` is jwtgate's answer."""

    def __init__(self, rejection: Rejection) -> None:
        self.rejection = rejection
        super().__init__(
            status_code=rejection.status,
            detail=rejection.error.description,
            headers={k: v for k, v in rejection.headers if k in _CHALLENGE_HEADERS},
        )


def _found(connection: HTTPConnection) -> tuple[Gate, Identity]:
    gate = connection.scope.get("jwtgate.gate")
    identity = connection.scope.get("user")
    if not isinstance(gate, Gate) or not isinstance(identity, Identity):
        raise RuntimeError(
            "jwtgate.contrib.fastapi dependencies need jwtgate.asgi.JWTGateMiddleware "
            "(app.add_middleware(JWTGateMiddleware, settings=...)) in front of the app"
        )
    return gate, identity


async def current_identity(
    connection: HTTPConnection, _declared: Annotated[None, Security(bearer_scheme)]
) -> Identity:
    """The request's (or websocket's) :class:`~jwtgate.Identity`, as the middleware found it."""
    return _found(connection)[1]


def require_scopes(*scopes: str) -> Callable[..., Awaitable[Identity]]:
    """A dependency that needs an authenticated identity holding every one of ``scopes``.

    With no scopes it only requires authentication (useful when
    ``credentials_required`` is off globally). It returns the identity.
    """
    if not all(isinstance(s, str) and s and " " not in s for s in scopes):  # type: ignore[redundant-expr]
        raise ValueError("require_scopes() takes scope names: non-empty strings without spaces")
    required = frozenset(scopes)

    # The bearer scheme is declared here too, so an endpoint that only lists
    # require_scopes(...) still shows the padlock in /docs.
    async def dependency(
        connection: HTTPConnection, _declared: Annotated[None, Security(bearer_scheme)]
    ) -> Identity:
        gate, identity = _found(connection)
        if not identity.is_authenticated:
            raise _refusal(connection, gate.reject(MissingToken()))
        if not required <= identity.scopes:
            raise _refusal(connection, gate.reject(InsufficientScope(sorted(required))))
        return identity

    return dependency


def _refusal(connection: HTTPConnection, rejection: Rejection) -> Exception:
    # A websocket handshake is refused with RFC 6455's 1008 "policy violation".
    if connection.scope["type"] == "websocket":
        return WebSocketException(code=1008, reason=rejection.error.description)
    return JWTGateHTTPException(rejection)


async def rejection_handler(request: Request, exc: Exception) -> Response:
    """Exception handler sending a :class:`JWTGateHTTPException` as jwtgate's answer."""
    if not isinstance(exc, JWTGateHTTPException):  # registered for that class only
        raise exc
    return rejection_response(exc.rejection)


def install(app: FastAPI) -> None:
    """Register :func:`rejection_handler` so refusals carry jwtgate's JSON body."""
    app.add_exception_handler(JWTGateHTTPException, rejection_handler)
