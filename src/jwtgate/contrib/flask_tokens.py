"""The token endpoints as a Flask Blueprint: login, refresh, logout, logout-all, verify.

Register it under any prefix::

    from jwtgate.contrib.flask import JWTGate
    from jwtgate.contrib.flask_tokens import token_blueprint

    app.config["JWTGATE"] = {"SECRET": "env:JWT_SECRET", "STORE": "sqlite:///jwtgate.db"}
    JWTGate(app)
    app.register_blueprint(token_blueprint(authenticate), url_prefix="/auth")

The five ``POST`` routes (``token``, ``refresh``, ``logout``, ``logout-all``,
``verify``) are the framework-neutral :class:`~jwtgate.endpoints.Endpoints` behind
Flask views, so bodies, cookies, the CSRF rules of cookie mode and every error
answer are those of the ASGI and WSGI token endpoints. Being Flask views, they run
Flask's ``before_request``/``after_request`` hooks, error handlers and extensions
(flask-cors), unlike the WSGI app mounted beside Flask with ``DispatcherMiddleware``;
and the prefix is the Blueprint's ``url_prefix``, with no option to keep in step.

The sessions are built from the app's jwtgate settings (those of ``JWTGate(app)``,
so the extension must be initialised) at the first request, one per app. The
views read no token through the extension (a refresh may carry a stale access
token in its ``Authorization`` header); ``/logout`` reads one itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, current_app, request

from jwtgate._endpoint_core import MAX_BODY
from jwtgate._session_core import store_url
from jwtgate.contrib.flask import EXTENSION_KEY, PUBLIC_VIEW_ATTR
from jwtgate.endpoints import ROUTES, EndpointRequest, Endpoints, _check_options
from jwtgate.sessions import Sessions

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from jwtgate.endpoints import EndpointOptions

__all__ = ["token_blueprint"]

_ENDPOINTS_KEY = "jwtgate.token_endpoints"


def token_blueprint(
    authenticate: Callable[[str, str], Any],
    *,
    name: str = "jwtgate_tokens",
    **options: Unpack[EndpointOptions],
) -> Blueprint:
    """A Blueprint serving the token endpoints; register it with ``url_prefix``.

    ``authenticate(username, password)`` returns the subject, ``(subject, claims)``
    or None (see :mod:`jwtgate.endpoints`). Options are those of
    :class:`~jwtgate.endpoints.Endpoints` (``cookie``, ``secure``, ``csrf_secret`` …)
    except ``prefix``: the Blueprint's ``url_prefix`` is the prefix. A misspelt or
    mistyped option is a TypeError here. ``name`` is the Blueprint's name (its URL
    endpoints are ``NAME.token`` …).
    """
    if "prefix" in options:
        raise TypeError("token_blueprint() takes no prefix: register it with url_prefix=")
    _check_options(options)
    blueprint = Blueprint(name, __name__)
    key = f"{_ENDPOINTS_KEY}.{name}"

    def endpoints() -> Endpoints:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        built: Endpoints | None = app.extensions.get(key)
        if built is None:
            if EXTENSION_KEY not in app.extensions:
                raise RuntimeError("token_blueprint() needs JWTGate(app) first")
            settings = app.extensions[EXTENSION_KEY].gate.settings
            built = app.extensions[key] = Endpoints(Sessions(settings), authenticate, **options)
        return built

    @blueprint.record_once
    def check_store(state: Any) -> None:
        # Sessions need a store: say so when the Blueprint is registered, not with a
        # 500 at the first login (JWTGate(app) first, as the module docs show).
        extension = state.app.extensions.get(EXTENSION_KEY)
        if extension is not None:
            store_url(extension.gate.settings)

    for route in ROUTES:
        blueprint.add_url_rule(f"/{route}", route, _view(endpoints, route), methods=["POST"])
    return blueprint


def _view(endpoints: Callable[[], Endpoints], route: str) -> Callable[[], Response]:
    def view() -> Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        authorization = headers.pop("authorization", None)
        answer = endpoints().handle(
            EndpointRequest(
                request.method,
                request.script_root + request.path,
                request.stream.read(MAX_BODY + 1),  # the core answers 413 beyond the cap
                headers,
                (authorization,) if authorization is not None else (),
                client_address=request.remote_addr,
                scheme=request.scheme,
            ),
            route=route,
        )
        response = current_app.response_class(answer.body, status=answer.status)
        response.headers.remove("Content-Type")  # only what the endpoints say
        for name, value in answer.headers:
            response.headers.add(name, value)
        return response

    view.__name__ = f"jwtgate_{route.replace('-', '_')}"
    setattr(view, PUBLIC_VIEW_ATTR, True)  # the extension reads no token for it
    return view
