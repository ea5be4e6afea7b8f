"""The apps every benchmark measures: bare, jwtgate, and the peers' usual recipes.

Module-level objects so servers can load them (``uvicorn benchmarks.apps:asgi_jwtgate``).
Every app answers ``200 ok`` to an authenticated GET; the peers use the recipes their
documentation shows: Starlette's ``AuthenticationMiddleware`` with a backend calling
``jwt.decode``, and Flask-JWT-Extended's ``@jwt_required()``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import jwt

from jwtgate import asgi, wsgi

SECRET = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
# Servers read the settings variant from the environment (0 turns the cache off).
CACHE = int(os.environ.get("JWTGATE_BENCH_CACHE", "1024"))
SETTINGS: dict[str, Any] = {"secret": SECRET, "verify_cache_size": CACHE}


async def asgi_bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The smallest ASGI app: 200 ``ok`` (lifespan acknowledged)."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})


asgi_jwtgate = asgi.JWTGateMiddleware(asgi_bare, SETTINGS)


def wsgi_bare(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The smallest WSGI app: 200 ``ok``."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


wsgi_jwtgate = wsgi.JWTGateMiddleware(wsgi_bare, SETTINGS)


def starlette_apps() -> dict[str, Any]:
    """Bare Starlette, the usual Starlette + PyJWT recipe, and jwtgate around Starlette."""
    from starlette.applications import Starlette
    from starlette.authentication import (
        AuthCredentials,
        AuthenticationBackend,
        AuthenticationError,
        SimpleUser,
        requires,
    )
    from starlette.middleware import Middleware
    from starlette.middleware.authentication import AuthenticationMiddleware
    from starlette.requests import HTTPConnection, Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    class JWTBackend(AuthenticationBackend):
        async def authenticate(self, conn: HTTPConnection) -> Any:
            header = conn.headers.get("authorization")
            if not header:
                return None
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer":
                return None
            try:
                claims = jwt.decode(token, SECRET, algorithms=["HS256"])
            except jwt.PyJWTError as exc:
                raise AuthenticationError("invalid token") from exc
            return AuthCredentials(["authenticated"]), SimpleUser(claims["sub"])

    async def plain(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    @requires("authenticated")
    async def protected(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    bare = Starlette(routes=[Route("/", plain)])
    recipe = Starlette(
        routes=[Route("/", protected)],
        middleware=[Middleware(AuthenticationMiddleware, backend=JWTBackend())],
    )
    return {
        "bare": bare,
        "recipe": recipe,
        "jwtgate": asgi.JWTGateMiddleware(Starlette(routes=[Route("/", plain)]), SETTINGS),
    }


def flask_apps() -> dict[str, Any]:
    """Bare Flask, Flask-JWT-Extended's ``@jwt_required()``, and jwtgate around Flask.

    Also a token Flask-JWT-Extended minted (it wants its own claims), under ``token``.
    """
    from flask import Flask
    from flask_jwt_extended import JWTManager, create_access_token, jwt_required

    bare = Flask("bare")
    bare.add_url_rule("/", "plain", lambda: "ok")
    extended = Flask("extended")
    extended.config["JWT_SECRET_KEY"] = SECRET
    JWTManager(extended)

    @jwt_required()
    def protected() -> str:
        return "ok"

    extended.add_url_rule("/", "protected", protected)
    with extended.app_context():
        token = create_access_token("alice", expires_delta=False)
    with_jwtgate = Flask("jwtgate")
    with_jwtgate.add_url_rule("/", "plain", lambda: "ok")
    with_jwtgate.wsgi_app = wsgi.JWTGateMiddleware(  # type: ignore[method-assign]
        with_jwtgate.wsgi_app, {**SETTINGS, "required_claims": ["sub"]}
    )
    return {"bare": bare, "extended": extended, "jwtgate": with_jwtgate, "token": token}


def __getattr__(name: str) -> Any:
    """``starlette_bare`` / ``starlette_recipe`` / ``starlette_jwtgate``, built on first use."""
    if name.startswith("starlette_"):
        return starlette_apps()[name.removeprefix("starlette_")]
    raise AttributeError(name)
