"""A plain WSGI app (no framework) behind jwtgate.wsgi.JWTGateMiddleware, served by waitress.

Run it from the repository root (after ``pip install jwtgate waitress``)::

    JWTGATE_SECRET=dev-secret-change-me-0123456789ab python examples/wsgi_app.py

Any 32 or more random bytes make a secret. Then, in another terminal::

    curl -s -X POST localhost:8080/auth/token -H 'Content-Type: application/json' \\
         -d '{"username": "alice", "password": "wonderland"}'
    curl -s localhost:8080/me -H "Authorization: Bearer <access_token>"
"""

from __future__ import annotations

import argparse
import hmac
import json
from typing import Any

from jwtgate.endpoints import wsgi_app as token_endpoints
from jwtgate.wsgi import IDENTITY_KEY, JWTGateMiddleware

# memory:// lives in this one process; use sqlite:///jwtgate.db or redis:// with
# several worker processes (docs/deploying.md).
SETTINGS = {
    "SECRET": "env:JWTGATE_SECRET",
    "STORE": "memory://example",
    "CHECK_REVOCATION": True,
    "PUBLIC_PATHS": ["/auth/*"],  # the token endpoints check their own credentials
}
USERS = {"alice": "wonderland"}  # yours: a user table with password hashes


def authenticate(username: str, password: str) -> tuple[str, dict[str, str]] | None:
    """The subject and extra claims for good credentials, None otherwise."""
    expected = USERS.get(username)
    if expected is None or not hmac.compare_digest(expected, password):
        return None
    return username, {"scope": "read"}


auth = token_endpoints(SETTINGS, authenticate, secure=False)  # secure=False: plain HTTP demo


def site(environ: dict[str, Any], start_response: Any) -> Any:
    """/auth/* goes to the token endpoints; /me answers who the token belongs to."""
    if environ["PATH_INFO"].startswith("/auth/"):
        return auth(environ, start_response)
    if environ["PATH_INFO"] != "/me":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    identity = environ[IDENTITY_KEY]  # set by the middleware: only verified requests get here
    body = json.dumps({"subject": identity.subject, "scopes": sorted(identity.scopes)})
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body.encode()]


app = JWTGateMiddleware(site, settings=SETTINGS)

if __name__ == "__main__":
    from waitress import serve

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    serve(app, host="127.0.0.1", port=parser.parse_args().port)
