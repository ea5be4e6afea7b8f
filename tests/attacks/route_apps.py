"""One protected API, written for each framework's real router, for the route attack table.

Every app serves the same routes behind jwtgate, configured from the environment
(``ROUTES_JWTGATE``: the settings as JSON), and every handler appends its name to
the file ``ROUTES_RAN_LOG`` before answering, so a test can tell whether a
protected handler ran, even for a HEAD request whose body is empty.

=========================  =========================================  ==============
route                      what serves it                             logged as
=========================  =========================================  ==============
``/admin``                 a view                                     ``admin-root``
``/admin/users``           a view (any method)                        ``admin-users``
``/admin/users/<name>``    a view with a path parameter (GET, DELETE)  ``admin-user``
``/admin/files/<path>``    the framework's static file serving        ``admin-files``
``/admin/sub/x``           a mounted sub-app / blueprint / include    ``admin-sub``
``/reports/<q>``           GET and POST views                         ``reports-get``,
                                                                      ``reports-post``
``/customers``             a view for every method (OPTIONS too)      ``customers``
``/public/<path>``         a view                                     ``public``
=========================  =========================================  ==============

Started as ``uvicorn attacks.route_apps:starlette_app`` (``fastapi_app``,
``django_asgi``), ``gunicorn attacks.route_apps:flask_app`` (``django_wsgi``), or
waitress / Werkzeug's server with the same names; Django reads its settings from
this module too (``DJANGO_SETTINGS_MODULE=attacks.route_apps``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SECRET_FILE = "secret.txt"
SECRET_BODY = b"TOP-SECRET-FILE-CONTENT"


def jwtgate_settings() -> dict[str, Any]:
    """The jwtgate settings the apps run with (from ``ROUTES_JWTGATE``)."""
    settings: dict[str, Any] = json.loads(os.environ["ROUTES_JWTGATE"])
    return settings


def ran(name: str) -> None:
    """Record that handler ``name`` ran."""
    with open(os.environ["ROUTES_RAN_LOG"], "a", encoding="utf-8") as log:
        log.write(name + "\n")


def static_dir() -> Path:
    """The directory the static routes serve (it holds ``secret.txt``)."""
    return Path(os.environ["ROUTES_STATIC"])


# -- Starlette ----------------------------------------------------------------------------


def _starlette(*, fastapi: bool) -> Any:
    from starlette.applications import Starlette
    from starlette.endpoints import HTTPEndpoint
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from jwtgate.asgi import JWTGateMiddleware

    def view(name: str) -> Any:
        async def endpoint(request: Request) -> Response:
            ran(name)
            return PlainTextResponse(f"ran {name}")

        return endpoint

    class Customers(HTTPEndpoint):
        async def get(self, request: Request) -> Response:
            ran("customers")
            return PlainTextResponse("ran customers")

        async def options(self, request: Request) -> Response:
            ran("customers")
            return PlainTextResponse("ran customers")

    files = StaticFiles(directory=static_dir())

    async def logged_files(scope: Any, receive: Any, send: Any) -> None:
        ran("admin-files")
        await files(scope, receive, send)

    sub = Starlette(routes=[Route("/x", view("admin-sub"))])
    routes = [
        Route("/admin", view("admin-root")),
        Route("/admin/users", view("admin-users"), methods=["GET", "POST", "DELETE", "OPTIONS"]),
        Route("/admin/users/{name}", view("admin-user"), methods=["GET", "DELETE"]),
        Mount("/admin/files", app=logged_files),
        Mount("/admin/sub", app=sub),
        Route("/reports/{q}", view("reports-get"), methods=["GET"]),
        Route("/reports/{q}", view("reports-post"), methods=["POST"]),
        Route("/customers", Customers),
        Route("/public/{rest:path}", view("public")),
    ]
    if not fastapi:
        return JWTGateMiddleware(Starlette(routes=routes), settings=jwtgate_settings())

    from fastapi import APIRouter, FastAPI

    app = FastAPI()
    router = APIRouter(prefix="/admin/sub")

    @router.get("/x")
    async def sub_x() -> dict[str, str]:
        ran("admin-sub")
        return {"ran": "admin-sub"}

    @app.api_route("/admin", methods=["GET"])
    async def admin_root() -> dict[str, str]:
        ran("admin-root")
        return {"ran": "admin-root"}

    @app.api_route("/admin/users", methods=["GET", "POST", "DELETE", "OPTIONS"])
    async def admin_users() -> dict[str, str]:
        ran("admin-users")
        return {"ran": "admin-users"}

    @app.api_route("/admin/users/{name}", methods=["GET", "DELETE"])
    async def admin_user(name: str) -> dict[str, str]:
        ran("admin-user")
        return {"ran": "admin-user"}

    @app.api_route("/reports/{q}", methods=["GET", "HEAD"])  # FastAPI adds no HEAD itself
    async def reports_get(q: str) -> dict[str, str]:
        ran("reports-get")
        return {"ran": "reports-get"}

    @app.post("/reports/{q}")
    async def reports_post(q: str) -> dict[str, str]:
        ran("reports-post")
        return {"ran": "reports-post"}

    @app.api_route("/customers", methods=["GET", "OPTIONS"])
    async def customers() -> dict[str, str]:
        ran("customers")
        return {"ran": "customers"}

    @app.get("/public/{rest:path}")
    async def public(rest: str) -> dict[str, str]:
        ran("public")
        return {"ran": "public"}

    app.include_router(router)
    app.mount("/admin/files", logged_files)
    app.add_middleware(JWTGateMiddleware, settings=jwtgate_settings())
    return app


def __getattr__(name: str) -> Any:
    # Apps are built on first access, in the server process, from its environment.
    if name == "starlette_app":
        return _starlette(fastapi=False)
    if name == "fastapi_app":
        return _starlette(fastapi=True)
    if name == "flask_app":
        return _flask()
    if name in ("django_wsgi", "django_asgi"):
        return _django(asgi=name == "django_asgi")
    if name == "urlpatterns":  # read by Django's resolver once the apps are ready
        return _django_urls()
    raise AttributeError(name)


# -- Flask ------------------------------------------------------------------------------


def _flask() -> Any:
    from flask import Blueprint, Flask, send_from_directory

    from jwtgate.contrib.flask import JWTGate

    app = Flask(__name__)
    app.config["JWTGATE"] = jwtgate_settings()
    JWTGate(app)

    def add(rule: str, name: str, methods: list[str] | None = None) -> None:
        def view(**kwargs: Any) -> str:
            ran(name)
            return f"ran {name}"

        app.add_url_rule(rule, name, view, methods=methods)

    add("/admin", "admin-root")
    add("/admin/users", "admin-users", ["GET", "POST", "DELETE", "OPTIONS"])
    add("/admin/users/<name>", "admin-user", ["GET", "DELETE"])
    add("/reports/<q>", "reports-get", ["GET"])
    add("/reports/<q>", "reports-post", ["POST"])
    add("/customers", "customers", ["GET", "POST", "OPTIONS"])
    add("/public/<path:rest>", "public")

    @app.route("/admin/files/<path:name>")
    def admin_files(name: str) -> Any:
        ran("admin-files")
        return send_from_directory(static_dir(), name)

    blueprint = Blueprint("sub", __name__, url_prefix="/admin/sub")

    @blueprint.route("/x")
    def sub_x() -> str:
        ran("admin-sub")
        return "ran admin-sub"

    app.register_blueprint(blueprint)
    return app


# -- Django and DRF (this module is also the settings module and the URLconf) -------------

SECRET_KEY = "route-attack-table-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = __name__
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
MIDDLEWARE = ["jwtgate.contrib.django.JWTGateMiddleware"]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["jwtgate.contrib.drf.JWTGateAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
if "ROUTES_JWTGATE" in os.environ:
    JWTGATE = jwtgate_settings()
if os.environ.get("ROUTES_FORCE_SCRIPT_NAME"):
    FORCE_SCRIPT_NAME = os.environ["ROUTES_FORCE_SCRIPT_NAME"]


def _django_urls() -> list[Any]:
    from django.http import HttpRequest, HttpResponse
    from django.urls import include, path, re_path
    from django.views.static import serve
    from rest_framework import routers, viewsets
    from rest_framework.request import Request
    from rest_framework.response import Response

    def view(name: str) -> Any:
        def endpoint(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            ran(name)
            return HttpResponse(f"ran {name}")

        return endpoint

    def files(request: HttpRequest, path: str) -> HttpResponse:
        ran("admin-files")
        response: HttpResponse = serve(request, path, document_root=str(static_dir()))
        return response

    def reports(request: HttpRequest, q: str) -> HttpResponse:
        ran("reports-post" if request.method == "POST" else "reports-get")
        return HttpResponse("ran reports")

    class Things(viewsets.ViewSet):
        def list(self, request: Request) -> Response:
            ran("admin-drf")
            return Response({"ran": "admin-drf"})

    router = routers.SimpleRouter()
    router.register("admin/drf", Things, basename="things")
    return [
        path("admin", view("admin-root")),
        path("admin/users", view("admin-users")),
        path("admin/users/<str:name>", view("admin-user")),
        re_path(r"^admin/files/(?P<path>.*)$", files),
        path("admin/sub/", include([path("x", view("admin-sub"))])),
        path("reports/<str:q>", reports),
        path("customers", view("customers")),
        path("public/<path:rest>", view("public")),
        *router.urls,
    ]


def _django(*, asgi: bool) -> Any:
    if asgi:
        from django.core.asgi import get_asgi_application

        return get_asgi_application()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()
