"""FastAPI dependencies: behind :class:`jwtgate.asgi.JWTGateMiddleware`, or on their own.

Behind the middleware, which authenticates every request, these dependencies read
what it found and add per-route needs; :class:`JWTGateAuth` gives the same three
dependencies without the middleware, each verifying through its own Gate. They
declare the bearer security scheme, so ``/docs`` shows the *Authorize* button.

.. code-block:: python

    from fastapi import FastAPI
    from jwtgate import Identity
    from jwtgate.asgi import JWTGateMiddleware
    from jwtgate.contrib.fastapi import current_identity, install, requires_scopes

    app = FastAPI()
    app.add_middleware(JWTGateMiddleware, settings={"SECRET": "…"})
    install(app)

    @app.get("/me")
    async def me(identity: Annotated[Identity, Depends(current_identity)]) -> dict[str, str]:
        return {"subject": identity.subject or ""}

    @app.delete("/items/{item_id}", dependencies=[Depends(requires_scopes("admin"))])
    async def delete_item(item_id: int) -> None: ...

* :func:`current_identity` gives the request's :class:`~jwtgate.Identity` (the
  anonymous one when ``credentials_required`` is off and no token came);
  :func:`optional_identity` is the same, documented as optional.
* :func:`requires_scopes` answers 401 to an anonymous request and 403
  ``insufficient_scope`` (with the needed ``scope`` in the challenge) to a token
  without every scope named.
* :func:`install` registers the handler that sends those refusals with
  jwtgate's JSON body, and makes the OpenAPI document exact.
* :func:`token_router` serves the token endpoints as FastAPI routes.

Without the middleware (or :class:`JWTGateAuth`) the module's dependencies raise
``RuntimeError``: serving an endpoint as if nobody had configured authentication
would fail open.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Request, Security, WebSocketException
from fastapi.security import HTTPBearer
from starlette.requests import HTTPConnection
from starlette.responses import Response

from jwtgate.asgi import request_reader
from jwtgate.config import Settings
from jwtgate.contrib.starlette import rejection_response
from jwtgate.errors import ConfigurationError, InsufficientScope, Problem
from jwtgate.gate import Gate, resolve_gate
from jwtgate.http import Rejection
from jwtgate.identity import Identity

__all__ = [
    "JWTGateAuth",
    "JWTGateHTTPException",
    "bearer_scheme",
    "current_identity",
    "install",
    "optional_identity",
    "rejection_handler",
    "require_scopes",
    "requires_scopes",
    "token_router",
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
            "(app.add_middleware(JWTGateMiddleware, settings=...)) in front of the app, "
            "or a JWTGateAuth(settings) whose dependencies verify by themselves"
        )
    return gate, identity


async def _decide(connection: HTTPConnection, gate: Gate) -> Identity:
    decision = await gate.decide_async(request_reader(gate)(connection.scope))
    if isinstance(decision, Rejection):
        raise _refusal(connection, decision)
    return decision


async def _identity(connection: HTTPConnection, gate: Gate | None, *, needed: bool) -> Identity:
    """The identity a dependency gives: with the middleware, what it found (reading the
    token itself where the middleware did not, on a public path); with a ``gate`` of
    its own (:class:`JWTGateAuth`), that Gate's decision. ``needed``: anonymous is 401."""
    if gate is None:
        gate, identity = _found(connection)
        if identity.is_authenticated:
            return identity
    return await _decide(connection, gate.per_route(required=needed))


def _scoped(gate: Gate | None, scopes: tuple[str, ...]) -> Callable[..., Awaitable[Identity]]:
    """The dependency of ``requires_scopes(*scopes)`` over the middleware or ``gate``."""
    if not all(isinstance(s, str) and s and " " not in s for s in scopes):  # type: ignore[redundant-expr]
        raise ValueError("requires_scopes() takes scope names: non-empty strings without spaces")
    required = frozenset(scopes)

    # The bearer scheme is declared here too, so an endpoint that only lists
    # requires_scopes(...) still shows the padlock in /docs.
    async def dependency(
        connection: HTTPConnection, _declared: Annotated[None, Security(bearer_scheme)]
    ) -> Identity:
        identity = await _identity(connection, gate, needed=True)
        if not required <= identity.scopes:
            own = gate if gate is not None else _found(connection)[0]
            raise _refusal(connection, own.reject(InsufficientScope(sorted(required))))
        return identity

    _mark(dependency, "required", required)
    return dependency


def _mark(dependency: Callable[..., Any], kind: str, scopes: frozenset[str] = frozenset()) -> None:
    """What :func:`install` reads to document the operations that use ``dependency``."""
    dependency._jwtgate_openapi = (kind, scopes)  # type: ignore[attr-defined]


async def current_identity(
    connection: HTTPConnection, _declared: Annotated[None, Security(bearer_scheme)]
) -> Identity:
    """The request's (or websocket's) :class:`~jwtgate.Identity`, as the middleware found
    it; on a public path, where the middleware reads no token, the token's identity if
    one came (it must then be valid)."""
    return await _identity(connection, None, needed=False)


async def optional_identity(
    connection: HTTPConnection, _declared: Annotated[None, Security(bearer_scheme)]
) -> Identity:
    """Like :func:`current_identity`, and documented as optional in OpenAPI: for a route
    (typically a public path) that serves anonymous requests and valid tokens alike."""
    return await _identity(connection, None, needed=False)


def requires_scopes(*scopes: str) -> Callable[..., Awaitable[Identity]]:
    """A dependency that needs an authenticated identity holding every one of ``scopes``:
    401 without a token, 403 ``insufficient_scope`` without a scope. With no scopes it
    only requires authentication (useful on a public path, or with
    ``credentials_required`` off). It returns the identity."""
    return _scoped(None, scopes)


_mark(current_identity, "middleware")
_mark(optional_identity, "optional")


def require_scopes(*scopes: str) -> Callable[..., Awaitable[Identity]]:
    """Deprecated: :func:`requires_scopes`, the name every jwtgate door uses."""
    warnings.warn(
        "jwtgate.contrib.fastapi.require_scopes is deprecated; use requires_scopes",
        DeprecationWarning,
        stacklevel=2,
    )
    return requires_scopes(*scopes)


class JWTGateAuth:
    """Dependency-only mode: the dependencies verify the token themselves through this
    object's :class:`~jwtgate.Gate`, with no middleware. Which routes need a token,
    which take one optionally and which need scopes is then FastAPI's own dependency
    model, and so is the OpenAPI document (see :func:`install`)::

        auth = JWTGateAuth({"SECRET": "env:JWT_SECRET"})

        @app.get("/me")
        async def me(identity: Annotated[Identity, Depends(auth.current_identity)]): ...

        @app.get("/feed")
        async def feed(identity: Annotated[Identity, Depends(auth.optional_identity)]): ...

        @app.delete("/items/{id}", dependencies=[Depends(auth.requires_scopes("admin"))])
        async def delete(id: int): ...

    ``public_paths`` and ``credentials_required`` do not apply here (each route says
    what it needs); ``rules`` still do. Close it with ``await auth.aclose()`` (a
    revocation store), for example in the app's lifespan.
    """

    def __init__(
        self, settings: Settings | Mapping[str, Any] | None = None, *, gate: Gate | None = None
    ) -> None:
        self.gate = resolve_gate(settings, gate, "JWTGateAuth")
        if self.gate.settings.source.get("public_paths"):
            raise ConfigurationError(
                [
                    Problem(
                        "jwtgate.E091",
                        "PUBLIC_PATHS",
                        "public_paths do not apply to JWTGateAuth: each route says what it "
                        "needs through its dependencies.",
                        "Drop PUBLIC_PATHS; a route without a jwtgate dependency is public, "
                        "and optional_identity serves a route that takes a token optionally.",
                    )
                ]
            )

    async def current_identity(
        self, connection: HTTPConnection, _declared: Annotated[None, Security(bearer_scheme)]
    ) -> Identity:
        """The token's identity; 401 without a valid token."""
        return await _identity(connection, self.gate, needed=True)

    async def optional_identity(
        self, connection: HTTPConnection, _declared: Annotated[None, Security(bearer_scheme)]
    ) -> Identity:
        """The token's identity, or anonymous without one; a token sent must be valid."""
        return await _identity(connection, self.gate, needed=False)

    def requires_scopes(self, *scopes: str) -> Callable[..., Awaitable[Identity]]:
        """A dependency needing a valid token with every one of ``scopes`` (401, 403)."""
        return _scoped(self.gate, scopes)

    async def aclose(self) -> None:
        """Close the Gate's store connections."""
        await self.gate.aclose()


_mark(JWTGateAuth.current_identity, "required")
_mark(JWTGateAuth.optional_identity, "optional")


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


def install(app: FastAPI, *, token_url: str | None = None) -> None:
    """Register :func:`rejection_handler` (refusals carry jwtgate's JSON body) and make
    the OpenAPI document say exactly which operations need what.

    An operation that uses :func:`current_identity` (of :class:`JWTGateAuth`) or
    :func:`requires_scopes` requires the bearer scheme and documents its 401 (and
    403 with scopes); one that uses only :func:`optional_identity` lists the scheme
    as optional (``security: [{}, {"jwtgate": []}]``) and documents the 401 of a bad
    token; others carry no security. ``token_url`` (e.g. ``"/auth/token"``, where
    :func:`token_router` is mounted) declares the scheme as OAuth2's password flow,
    so ``/docs``' *Authorize* logs in with a username and password.
    """
    app.add_exception_handler(JWTGateHTTPException, rejection_handler)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _exact_security(app, build(), token_url)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_REFUSED = {"description": "No valid token (RFC 6750 `WWW-Authenticate: Bearer`)"}
_BAD_TOKEN = {"description": "The token sent is not valid (RFC 6750 `WWW-Authenticate`)"}
_FORBIDDEN = {"description": 'The token lacks a scope (`error="insufficient_scope"`)'}


def _exact_security(app: FastAPI, schema: dict[str, Any], token_url: str | None) -> dict[str, Any]:
    from fastapi.routing import APIRoute

    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        marks = [getattr(call, "_jwtgate_openapi", None) for call in _calls(route.dependant)]
        kinds = {mark[0] for mark in marks if mark is not None}
        scopes = frozenset().union(*(mark[1] for mark in marks if mark is not None))
        for method in route.methods or ():
            operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is None or not kinds:
                continue
            responses = operation.setdefault("responses", {})
            if kinds & {"required", "middleware"}:
                operation["security"] = [{"jwtgate": []}]
                responses.setdefault("401", _REFUSED)
            else:
                operation["security"] = [{}, {"jwtgate": []}]
                responses.setdefault("401", _BAD_TOKEN)
            if scopes:
                responses.setdefault("403", _FORBIDDEN)
    if token_url is not None:
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["jwtgate"] = {
            "type": "oauth2",
            "description": "Log in with a username and password; sent as a bearer JWT.",
            "flows": {"password": {"tokenUrl": token_url, "scopes": {}}},
        }
    return schema


def _calls(dependant: Any) -> Iterator[Any]:
    """Every dependency callable of a route, sub-dependencies included."""
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def token_router(
    settings: Settings | Mapping[str, Any],
    authenticate: Callable[[str, str], Any],
    *,
    store: Any = None,
    claims: Any = None,
    **options: Any,
) -> APIRouter:
    """The token endpoints as a FastAPI router, listed in the OpenAPI document.

    ``app.include_router(token_router(settings, authenticate), prefix="/auth")``
    serves ``POST /auth/token``, ``/refresh``, ``/logout``, ``/logout-all`` and
    ``/verify``: the framework-neutral :class:`~jwtgate.endpoints.AsyncEndpoints`
    behind FastAPI routes (bodies, cookie mode, every error answer). ``/token`` also
    takes RFC 6749's password grant as a form (``grant_type=password``), which
    ``/docs``' *Authorize* sends once :func:`install` is given the ``token_url``.
    Options are those of :class:`~jwtgate.endpoints.Endpoints` except ``prefix``;
    ``store`` and ``claims`` are those of :class:`~jwtgate.AsyncSessions`. List the
    prefix in ``PUBLIC_PATHS`` when the middleware guards the app.
    """
    from jwtgate.contrib.fastapi_tokens import build_router

    return build_router(settings, authenticate, store=store, claims=claims, options=options)
