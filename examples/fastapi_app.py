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
from jwtgate.contrib.fastapi import current_identity, install, require_scopes
from jwtgate.endpoints import asgi_app as token_endpoints

# memory:// lives in this one process; use sqlite:///jwtgate.db or redis:// with
# several worker processes (docs/deploying.md).
SETTINGS = {
    "SECRET": "env:JWTGATE_SECRET",
    "STORE": "memory://example",
    "CHECK_REVOCATION": True,
    "PUBLIC_PATHS": ["/auth/*", "/docs", "/openapi.json"],
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
install(app)  # refusals raised by the dependencies get jwtgate's JSON body
# secure=False: the refresh cookie option would need HTTPS; this demo serves plain HTTP.
app.mount("/auth", token_endpoints(SETTINGS, authenticate, secure=False))


@app.get("/me")
async def me(identity: Annotated[Identity, Depends(current_identity)]) -> dict[str, object]:
    return {"subject": identity.subject, "scopes": sorted(identity.scopes)}


@app.get("/admin", dependencies=[Depends(require_scopes("admin"))])
async def admin() -> dict[str, str]:
    return {"hello": "admin"}
