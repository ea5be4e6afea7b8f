"""Demo sites for the end-to-end tests: the token endpoints plus one protected route.

``python -m gunicorn 'e2e_sites:gunicorn_app()'`` (from tests/) serves the WSGI site
with the settings in the ``JWTGATE_E2E_STORE`` environment variable's store.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from jwtgate import Gate, Identity, Rejection, RequestInfo, Settings
from jwtgate.asgi import JWTGateMiddleware
from jwtgate.endpoints import asgi_app, wsgi_app

SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"  # fake, 50 bytes
USERS = {"alice": "wonderland", "bob": "builder"}


def authenticate(username: str, password: str) -> tuple[str, dict[str, str]] | None:
    """The test user database: alice gets scope 'read'."""
    if USERS.get(username) == password:
        return username, {"scope": "read"}
    return None


def _identity_response(result: Identity | Rejection) -> tuple[int, list[tuple[str, str]], bytes]:
    if isinstance(result, Rejection):
        return result.status, list(result.headers), result.body
    body = json.dumps({"sub": result.subject}).encode()
    return 200, [("content-type", "application/json")], body


def asgi_site(settings: Settings) -> Callable[..., Any]:
    """The ASGI endpoints under /auth plus /api/me, behind jwtgate.asgi.JWTGateMiddleware."""
    auth = asgi_app(settings, authenticate, secure=False)
    gate = Gate(settings)

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":

            async def send_after_cleanup(message: dict[str, Any]) -> None:
                # The server may cancel the app once shutdown is complete: close first.
                if message["type"] == "lifespan.shutdown.complete":
                    await gate.aclose()
                await send(message)

            await auth(scope, receive, send_after_cleanup)
            return
        if scope["path"] != "/api/me":
            await auth(scope, receive, send)
            return
        body = json.dumps({"sub": scope["user"].subject}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return JWTGateMiddleware(inner, gate=gate)


def wsgi_site(settings: Settings) -> tuple[Callable[..., Any], Gate]:
    """The WSGI endpoints under /auth plus /api/me protected by Gate.decide."""
    auth = wsgi_app(settings, authenticate, secure=False)
    gate = Gate(settings)

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] != "/api/me":
            return list(auth(environ, start_response))
        authorization = environ.get("HTTP_AUTHORIZATION")
        info = RequestInfo(
            environ["REQUEST_METHOD"],
            environ["PATH_INFO"],
            (authorization,) if authorization else (),
        )
        status, headers, body = _identity_response(gate.decide(info))
        start_response(f"{status} X", headers)
        return [body]

    app.close = lambda: (gate.close(), auth.endpoints.sessions.close())  # type: ignore[attr-defined]
    return app, gate


def e2e_settings(store: str) -> Settings:
    """Revocation-aware settings on ``store``; /auth/* is public."""
    return Settings.from_dict(
        {
            "secret": SECRET,
            "store": store,
            "check_revocation": True,
            "public_paths": ["/auth/*"],
        }
    )


def gunicorn_app() -> Callable[..., Any]:
    """The WSGI site for gunicorn; each response names the worker process that answered."""
    app, _ = wsgi_site(e2e_settings(os.environ["JWTGATE_E2E_STORE"]))

    def named(environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            return start_response(status, [*headers, ("x-worker-pid", str(os.getpid()))], *exc_info)

        return app(environ, start)

    return named
