"""A Starlette app behind jwtgate.asgi.JWTGateMiddleware: a login route and protected ones.

Run it from the repository root (after ``pip install "jwtgate[starlette]" uvicorn``)::

    JWTGATE_SECRET=dev-secret-change-me-0123456789ab uvicorn examples.starlette_app:app

Any 32 or more random bytes make a secret. Then, in another terminal::

    curl -s -X POST localhost:8000/auth/token -H 'Content-Type: application/json' \\
         -d '{"username": "alice", "password": "wonderland"}'
    curl -s localhost:8000/me -H "Authorization: Bearer <access_token>"
"""

from __future__ import annotations

import hmac

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from jwtgate.asgi import JWTGateMiddleware
from jwtgate.contrib.starlette import optional, requires_scopes
from jwtgate.endpoints import asgi_app as token_endpoints

# memory:// lives in this one process; use sqlite:///jwtgate.db or redis:// with
# several worker processes (docs/deploying.md).
SETTINGS = {
    "SECRET": "env:JWTGATE_SECRET",
    "STORE": "memory://example",
    "CHECK_REVOCATION": True,
    # The token endpoints check their own credentials; /hello takes a token optionally.
    "PUBLIC_PATHS": ["/auth/*", "/hello"],
}
USERS = {"alice": "wonderland"}  # yours: a user table with password hashes


def authenticate(username: str, password: str) -> tuple[str, dict[str, str]] | None:
    """The subject and extra claims for good credentials, None otherwise."""
    expected = USERS.get(username)
    if expected is None or not hmac.compare_digest(expected, password):
        return None
    return username, {"scope": "read"}


async def me(request: Request) -> JSONResponse:
    return JSONResponse({"subject": request.user.identity, "scopes": request.auth.scopes})


@requires_scopes("admin")  # 403 insufficient_scope with the RFC 6750 challenge without it
async def admin(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "admin"})


@optional  # a public path: a token is optional here, and read if sent
async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": request.user.identity or "stranger"})


app = Starlette(
    routes=[
        Route("/me", me),
        Route("/admin", admin),
        Route("/hello", hello),
        # secure=False: the refresh cookie option would need HTTPS; this demo serves plain HTTP.
        Mount("/auth", app=token_endpoints(SETTINGS, authenticate, secure=False)),
    ],
    middleware=[Middleware(JWTGateMiddleware, settings=SETTINGS)],
)
