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
from jwtgate.http import Rejection
from jwtgate.wsgi import IDENTITY_KEY, JWTGateMiddleware, read_request, send_rejection

# memory:// lives in this one process; use sqlite:///jwtgate.db or redis:// with
# several worker processes (docs/deploying.md).
SETTINGS = {
    "SECRET": "env:JWTGATE_SECRET",
    "STORE": "memory://example",
    "CHECK_REVOCATION": True,
    # The token endpoints check their own credentials; /hello takes a token optionally.
    "PUBLIC_PATHS": ["/auth/*", "/hello"],
    "RULES": [{"path": "/admin", "scopes": ["admin"]}],  # 403 without the scope
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
    """/auth/* goes to the token endpoints; /me and /admin answer who the token belongs
    to (a token is required, /admin also needs the admin scope); /hello greets anyone."""
    path = environ["PATH_INFO"]
    if path.startswith("/auth/"):
        return auth(environ, start_response)
    if path == "/hello":
        return hello(environ, start_response)
    if path not in ("/me", "/admin"):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    identity = environ[IDENTITY_KEY]  # set by the middleware: only verified requests get here
    return answer(start_response, {"subject": identity.subject, "scopes": sorted(identity.scopes)})


def hello(environ: dict[str, Any], start_response: Any) -> Any:
    """A public path reads no token; this route asks for one optionally, itself."""
    gate = app.gate.per_route(required=False)
    decision = gate.decide(read_request(environ, gate))
    if isinstance(decision, Rejection):  # a token was sent, and it is not valid
        return send_rejection(decision, start_response)
    return answer(start_response, {"hello": decision.subject or "stranger"})


def answer(start_response: Any, body: dict[str, Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


app = JWTGateMiddleware(site, settings=SETTINGS)

if __name__ == "__main__":
    from waitress import serve

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    serve(app, host="127.0.0.1", port=parser.parse_args().port)
