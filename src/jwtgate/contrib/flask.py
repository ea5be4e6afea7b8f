"""Flask extension: bearer JWT authentication for a whole app, with per-view decorators.

``JWTGate(app)`` (or ``JWTGate()`` then ``init_app(app)`` in an app factory) reads
``app.config["JWTGATE"]``, validates it at once, and checks every request before
its view runs, through the same :class:`~jwtgate.Gate` as the WSGI and ASGI
middlewares (token sources, ``public_paths``, CORS preflight, ``rules``).

* App-wide protection: every endpoint needs a valid token, except the paths in
  ``public_paths`` (list ``/static/*`` there if the app serves static files).
* ``@optional``: the view also runs without a token (``current_identity`` is then
  anonymous); a token that is sent must still be valid.
* ``@requires_scopes("read", ...)``: the view runs only for a token carrying
  every scope listed (403 ``insufficient_scope`` otherwise). It wraps the view,
  so it also works on ``MethodView`` methods and Flask-RESTful resources.
* ``current_identity``: the request's :class:`~jwtgate.Identity`, kept on
  ``flask.g`` (``g._jwtgate``); the anonymous identity outside a checked request.
* ``current_user``: your user for the request's token, from the function decorated
  with ``@jwtgate.user_loader`` (loaded on first use, once per request; None
  without a token). A loader that finds no user answers 401 ``invalid_token``
  (``unknown or inactive user``).
* Token endpoints as a Blueprint: ``app.register_blueprint(token_blueprint(authenticate),
  url_prefix="/auth")`` (:mod:`jwtgate.contrib.flask_tokens`).

Refusals are answered by jwtgate itself (a response returned from a
``before_request`` hook or from the decorator, never an exception), so Flask's
error handlers, Flask-RESTful's included, cannot turn a 401 into a 500 or drop its
``WWW-Authenticate`` header. ``after_request`` hooks still run on them (CORS
headers stay).

Example::

    app = Flask(__name__)
    app.config["JWTGATE"] = {"SECRET": "env:JWT_SECRET", "PUBLIC_PATHS": ["/health"]}
    JWTGate(app)
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from flask import Flask, Response, abort, current_app, g, has_app_context, request
from werkzeug.local import LocalProxy

from jwtgate._fields import RENAMED
from jwtgate.config import Settings
from jwtgate.errors import ConfigurationError, Problem, UnknownUser
from jwtgate.gate import Gate
from jwtgate.http import Rejection
from jwtgate.identity import ANONYMOUS, Identity
from jwtgate.wsgi import read_request

__all__ = ["JWTGate", "current_identity", "current_user", "optional", "requires_scopes"]

F = TypeVar("F", bound=Callable[..., Any])

EXTENSION_KEY = "jwtgate"
_OPTIONAL_ATTR = "_jwtgate_optional"
PUBLIC_VIEW_ATTR = "_jwtgate_public"  # set by jwtgate.contrib.flask_tokens on its views
_SCOPES_ATTR = "_jwtgate_scopes"


def _identity() -> Identity:
    if not has_app_context():
        return ANONYMOUS
    identity: Identity = g.get("_jwtgate", ANONYMOUS)
    return identity


current_identity: Identity = cast(Identity, LocalProxy(_identity))
"""The current request's :class:`~jwtgate.Identity` (a proxy over ``g._jwtgate``)."""

_NO_USER = object()


def _user() -> Any:
    if not has_app_context():
        return None
    found = g.get("_jwtgate_user", _NO_USER)
    if found is not _NO_USER:
        return found
    identity = _identity()
    user = None
    if identity.is_authenticated:
        state: _State = current_app.extensions[EXTENSION_KEY]
        loader = state.extension.load_user
        if loader is None:
            raise RuntimeError(
                "current_user needs a user loader: decorate a function (identity) -> user "
                "with @jwtgate.user_loader, where jwtgate is your JWTGate(app)"
            )
        user = loader(identity)
        if user is None:  # a token for nobody: refused like a bad token, before the view
            abort(state.respond(state.gate.reject(UnknownUser())))
    g._jwtgate_user = user
    return user


current_user: Any = LocalProxy(_user)
"""The current request's user, from the ``@JWTGate.user_loader`` function (a proxy)."""


@dataclass(frozen=True)
class _State:
    """What one app keeps in ``app.extensions["jwtgate"]``."""

    gate: Gate
    optional_gate: Gate
    extension: JWTGate

    def respond(self, rejection: Rejection) -> Response:
        return current_app.response_class(
            rejection.body, status=rejection.status, headers=list(rejection.headers)
        )


class JWTGate:
    """The Flask extension; one instance may serve several apps.

    ``settings`` (a dict or :class:`~jwtgate.Settings`) replaces
    ``app.config["JWTGATE"]``, for tests and for apps that build settings
    themselves.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        settings: Settings | Mapping[str, Any] | None = None,
    ) -> None:
        self._settings = settings
        self.load_user: Callable[[Identity], Any] | None = None
        if app is not None:
            self.init_app(app)

    def user_loader(self, loader: Callable[[Identity], Any]) -> Callable[[Identity], Any]:
        """Decorate the function that returns your user for a verified identity (or None:
        the request is refused with 401), which :data:`current_user` calls."""
        self.load_user = loader
        return loader

    def init_app(self, app: Flask) -> None:
        """Validate the app's settings and protect every request of ``app``."""
        source = self._settings if self._settings is not None else _config(app)
        if isinstance(source, Settings):
            settings = source
        else:
            settings = Settings.from_dict(source, name="JWTGATE")
        gate = Gate(settings)
        optional_gate = Gate(settings.replace(credentials_required=False), verifier=gate.verifier)
        registered = EXTENSION_KEY in app.extensions
        app.extensions[EXTENSION_KEY] = _State(gate, optional_gate, self)
        if not registered:  # init_app again replaces the settings, not adds a second check
            app.before_request(_check_request)


def _config(app: Flask) -> Any:
    """``app.config["JWTGATE"]``; when it is missing, a ConfigurationError that says so
    and names what is there instead (another spelling, Flask-JWT-Extended's keys)."""
    if "JWTGATE" in app.config:
        return app.config["JWTGATE"]
    keys = [key for key in app.config if isinstance(key, str)]
    misspelt = [key for key in keys if key.upper() == "JWTGATE"]
    if misspelt:
        raise ConfigurationError(
            [
                Problem(
                    "jwtgate.E028",
                    "JWTGATE",
                    f"app.config has {misspelt[0]!r} but no 'JWTGATE' (config keys are "
                    "case-sensitive).",
                    f"Rename app.config[{misspelt[0]!r}] to app.config['JWTGATE'].",
                )
            ]
        )
    problems = [
        Problem(
            "jwtgate.E028",
            "JWTGATE",
            "app.config['JWTGATE'] is missing: jwtgate reads its settings dict from there.",
            "Set app.config['JWTGATE'] = {'SECRET': 'env:JWT_SECRET'} (docs/flask.md), "
            "or pass JWTGate(app, settings=...).",
        )
    ]
    for key in sorted(k for k in keys if k.startswith("JWT_") and k.lower() in RENAMED):
        target = RENAMED[key.lower()]
        problems.append(
            Problem(
                "jwtgate.E002",
                key,
                f"app.config[{key!r}] is Flask-JWT-Extended's setting, which jwtgate does "
                "not read.",
                f"Set app.config['JWTGATE'][{target.split(' ')[0].upper()!r}] instead ({target}).",
            )
        )
    raise ConfigurationError(problems)


def _check_request() -> Response | None:
    state: _State = current_app.extensions[EXTENSION_KEY]
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    gate = state.optional_gate if getattr(view, _OPTIONAL_ATTR, False) else state.gate
    outcome = gate.decide(read_request(request.environ, gate))
    if isinstance(outcome, Rejection):
        # The token endpoints read Authorization themselves (logout): a refresh that
        # carries a stale access token along must reach them, not be refused here.
        if not (outcome.about_the_token and getattr(view, PUBLIC_VIEW_ATTR, False)):
            return state.respond(outcome)
        outcome = ANONYMOUS
    g._jwtgate = outcome
    # Scopes a view asked for with @requires_scopes, enforced here too: the decorator
    # marks the function it is given, so it holds whichever side of @app.route it is on.
    required: tuple[str, ...] | None = getattr(view, _SCOPES_ATTR, None)
    return _scope_refusal(required) if required else None


def optional(view: F) -> F:
    """Let ``view`` run without a token (anonymous); a token that is sent must be valid."""
    setattr(view, _OPTIONAL_ATTR, True)
    return view


def _scope_refusal(required: tuple[str, ...]) -> Response | None:
    state: _State = current_app.extensions[EXTENSION_KEY]
    refused = state.gate.scope_refusal(_identity(), required)
    return None if refused is None else state.respond(refused)


def requires_scopes(*scopes: str) -> Callable[[F], F]:
    """Run the view only for a token that carries every one of ``scopes``.

    Without a token (an ``@optional`` view, a public path) the answer is 401; with
    a token that lacks a scope, 403 ``insufficient_scope`` naming the scopes. It
    holds above or below ``@app.route`` (above, it marks the function Flask has
    registered, and the request check enforces the mark).
    """
    required = tuple(sorted(set(scopes)))

    def refusal() -> Response | None:
        return _scope_refusal(required)

    def decorator(view: F) -> F:
        # The mark: above @app.route, Flask has registered this very function already.
        # (A bound method, as Flask-RESTful's method_decorators pass, takes no mark:
        # the wrapper below is what enforces it there.)
        marked = set(getattr(view, _SCOPES_ATTR, ())) | set(required)
        with contextlib.suppress(AttributeError):
            setattr(view, _SCOPES_ATTR, tuple(sorted(marked)))
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                refused = refusal()
                return refused if refused is not None else await view(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            refused = refusal()
            return refused if refused is not None else view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator
