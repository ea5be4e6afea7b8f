"""A Flask app behind jwtgate: a login route and a protected one.

Run it from the repository root (after ``pip install "jwtgate[flask]"``)::

    JWTGATE_SECRET=dev-secret-change-me-0123456789ab flask --app examples/flask_app.py run

Any 32 or more random bytes make a secret. Then, in another terminal::

    curl -s -X POST localhost:5000/auth/token -H 'Content-Type: application/json' \\
         -d '{"username": "alice", "password": "wonderland"}'
    curl -s localhost:5000/me -H "Authorization: Bearer <access_token>"

``/auth/token``, ``/auth/refresh``, ``/auth/logout`` and ``/auth/logout-all`` are
jwtgate's ready-made token endpoints; every other route needs a valid token.
"""

from __future__ import annotations

import hmac

from flask import Flask

from jwtgate.contrib.flask import JWTGate, current_identity, optional, requires_scopes
from jwtgate.contrib.flask_tokens import token_blueprint

# memory:// lives in this one process; use sqlite:///jwtgate.db or redis:// with
# several worker processes (docs/deploying.md).
SETTINGS = {"SECRET": "env:JWTGATE_SECRET", "STORE": "memory://example", "CHECK_REVOCATION": True}
USERS = {"alice": "wonderland"}  # yours: a user table with password hashes


def authenticate(username: str, password: str) -> tuple[str, dict[str, str]] | None:
    """The subject and extra claims for good credentials, None otherwise."""
    expected = USERS.get(username)
    if expected is None or not hmac.compare_digest(expected, password):
        return None
    return username, {"scope": "read"}


app = Flask(__name__)
app.config["JWTGATE"] = SETTINGS
JWTGate(app)  # every Flask route needs a valid token, except the token routes
# secure=False: the refresh cookie option would need HTTPS; this demo serves plain HTTP.
app.register_blueprint(token_blueprint(authenticate, secure=False), url_prefix="/auth")


@app.get("/me")
def me() -> dict[str, object]:
    return {"subject": current_identity.subject, "scopes": sorted(current_identity.scopes)}


@app.get("/hello")
@optional
def hello() -> dict[str, str]:
    """Runs with or without a token (a token that is sent must be valid)."""
    return {"hello": current_identity.subject or "stranger"}


@app.get("/admin")
@requires_scopes("admin")
def admin() -> dict[str, str]:
    return {"hello": "admin"}
