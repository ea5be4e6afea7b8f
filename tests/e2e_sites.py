"""Demo sites for the end-to-end tests: the token endpoints plus one protected route.

``python -m gunicorn 'e2e_sites:gunicorn_app()'`` (from tests/) serves the WSGI site
on the store the ``JWTGATE_E2E_STORE`` environment variable names, with the other
settings of ``JWTGATE_E2E_SETTINGS`` (a JSON object), if set.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from jwtgate import Gate, Settings, asgi, wsgi
from jwtgate.endpoints import asgi_app, wsgi_app

SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"  # fake, 50 bytes
USERS = {"alice": "wonderland", "bob": "builder"}


def authenticate(username: str, password: str) -> tuple[str, dict[str, str]] | None:
    """The test user database: alice gets scope 'read'."""
    if USERS.get(username) == password:
        return username, {"scope": "read"}
    return None


def asgi_site(settings: Settings) -> Callable[..., Any]:
    """The ASGI endpoints under /auth plus /api/me, behind jwtgate.asgi.JWTGateMiddleware."""
    auth = asgi_app(settings, authenticate, secure=False)

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan" or scope["path"] != "/api/me":
            await auth(scope, receive, send)
            return
        body = json.dumps({"sub": scope["user"].subject}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return asgi.JWTGateMiddleware(inner, settings)


def wsgi_site(settings: Settings) -> tuple[Callable[..., Any], Gate]:
    """The WSGI endpoints under /auth plus /api/me, behind jwtgate.wsgi.JWTGateMiddleware."""
    auth = wsgi_app(settings, authenticate, secure=False)

    def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/health":  # needs no store
            start_response("200 OK", [("content-type", "text/plain")])
            return [b"ok"]
        if environ["PATH_INFO"] != "/api/me":
            return list(auth(environ, start_response))
        identity = environ["jwtgate.identity"]
        start_response("200 OK", [("content-type", "application/json")])
        return [json.dumps({"sub": identity.subject}).encode()]

    app = wsgi.JWTGateMiddleware(inner, settings)
    return _Closing(app, auth), app.gate


class _Closing:
    """The protected site, closing both its Gate and the endpoints' store."""

    def __init__(self, app: wsgi.JWTGateMiddleware, auth: Any) -> None:
        self.app, self.auth = app, auth

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)

    def close(self) -> None:
        self.app.close()
        self.auth.close()


def e2e_settings(store: str, **more: Any) -> Settings:
    """Revocation-aware settings on ``store``; /auth/* and /health are public."""
    return Settings.from_dict(
        {
            "secret": SECRET,
            "store": store,
            "check_revocation": True,
            "public_paths": ["/auth/*", "/health"],
            **more,
        }
    )


def gunicorn_app() -> Callable[..., Any]:
    """The WSGI site for gunicorn; each response names the worker process that answered."""
    more = json.loads(os.environ.get("JWTGATE_E2E_SETTINGS", "{}"))
    app, _ = wsgi_site(e2e_settings(os.environ["JWTGATE_E2E_STORE"], **more))

    def named(environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            return start_response(status, [*headers, ("x-worker-pid", str(os.getpid()))], *exc_info)

        return app(environ, start)

    return named
