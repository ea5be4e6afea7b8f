"""A FastAPI app behind jwtgate.asgi.JWTGateMiddleware: a login route and protected ones.

Run it from the repository root (after ``pip install "jwtgate[fastapi]" uvicorn``)::

    JWTGATE_SECRET=dev-secret-change-me-0123456789ab uvicorn examples.fastapi_app:app

Any 32 or more random bytes make a secret. Open http://127.0.0.1:8000/docs (its
*Authorize* button takes the access token), or::

    curl -s -X POST localhost:8000/auth/token -H 'Content-Type: application/json' \\
         -d '{"username": "alice", "password": "wonderland"}'
    curl -s localhost:8000/me -H "Authorization: Bearer <access_token>"
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, FastAPI

from jwtgate import Identity
from jwtgate.asgi import JWTGateMiddleware
from jwtgate.contrib.fastapi import (
    current_identity,
    install,
    optional_identity,
    requires_scopes,
    token_router,
)

# memory:// lives in this one process; use sqlite:///jwtgate.db or redis:// with
# several worker processes (docs/deploying.md).
SETTINGS = {
    "SECRET": "env:JWTGATE_SECRET",
    "STORE": "memory://example",
    "CHECK_REVOCATION": True,
    "PUBLIC_PATHS": ["/auth/*", "/docs", "/openapi.json", "/hello"],
}
USERS = {"alice": "wonderland"}  # yours: a user table with password hashes


def authenticate(username: str, password: str) -> tuple[str, dict[str, str]] | None:
    """The subject and extra claims for good credentials, None otherwise."""
    expected = USERS.get(username)
    if expected is None or not hmac.compare_digest(expected, password):
        return None
    return username, {"scope": "read"}


app = FastAPI()
app.add_middleware(JWTGateMiddleware, settings=SETTINGS)
# Refusals get jwtgate's JSON body; /docs' Authorize logs in through /auth/token.
install(app, token_url="/auth/token")
# secure=False: the refresh cookie option would need HTTPS; this demo serves plain HTTP.
app.include_router(token_router(SETTINGS, authenticate, secure=False), prefix="/auth")


@app.get("/me")
async def me(identity: Annotated[Identity, Depends(current_identity)]) -> dict[str, object]:
    return {"subject": identity.subject, "scopes": sorted(identity.scopes)}


@app.get("/admin", dependencies=[Depends(requires_scopes("admin"))])
async def admin() -> dict[str, str]:
    return {"hello": "admin"}


@app.get("/hello")  # a public path: a token is optional here, and read if sent
async def hello(identity: Annotated[Identity, Depends(optional_identity)]) -> dict[str, str]:
    return {"hello": identity.subject or "stranger"}
