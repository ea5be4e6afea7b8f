"""Django views for the token endpoints: login, refresh, logout, logout-all, verify.

Mount them where you like::

    urlpatterns = [
        path("auth/", include("jwtgate.contrib.django_urls")),  # the defaults
        # or, with options:
        path("auth/", include(token_urls(cookie=True))),
    ]

The five views are ``POST`` routes named ``token``, ``refresh``, ``logout``,
``logout-all`` and ``verify`` (URL names ``jwtgate-token`` …). They are the
framework-neutral :class:`~jwtgate.endpoints.Endpoints` behind Django views, so
bodies, cookies, the CSRF rules of cookie mode and every error answer are those
of the ASGI and WSGI token endpoints; in cookie mode the refresh cookie's
``Path`` is the folder the views are mounted at.

* Username and password are checked by ``authenticate(request, username,
  password)``: by default :func:`authenticate_user`, Django's own
  ``django.contrib.auth.authenticate``. Yours may return a Django user, a
  subject string, ``(subject, claims)``, or None to refuse. A user's subject is
  its ``USER_FIELD`` (or ``USERNAME_FIELD``), the field ``LOAD_USER`` looks up.
* The sessions are :func:`~jwtgate.contrib.django.get_sessions`: built from
  ``settings.JWTGATE`` at the first request (nothing is read at import, so a
  settings error is reported by ``manage.py check``) and rebuilt when it changes.
* They are exempt from Django's CSRF middleware: no cookie authenticates them
  except the refresh cookie of cookie mode, whose signed double-submit check the
  endpoints make themselves. ``JWTGateMiddleware`` does not refuse a request to
  them for its token (a refresh may carry a stale access token along; ``/logout``
  judges that token itself), and they also work without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from django.http import HttpRequest, HttpResponse, RawPostDataException
from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt

from jwtgate._endpoint_core import _Authenticate, _Step
from jwtgate._sansio import run
from jwtgate.contrib.django import PUBLIC_VIEW_ATTR, get_sessions, optional
from jwtgate.contrib.django_checks import TOKEN_VIEW_ATTR
from jwtgate.endpoints import ROUTES, EndpointRequest, EndpointResponse, Endpoints, _check_options
from jwtgate.sessions import Sessions

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from jwtgate.endpoints import EndpointOptions

__all__ = ["authenticate_user", "endpoint_request", "token_urls"]

DjangoAuthenticate = Callable[[HttpRequest, str, str], Any]


def authenticate_user(request: HttpRequest, username: str, password: str) -> Any:
    """The default check: ``django.contrib.auth.authenticate`` (your backends, its signals)."""
    from django.contrib.auth import authenticate

    return authenticate(request, username=username, password=password)


def endpoint_request(request: HttpRequest) -> EndpointRequest:
    """What the endpoint core needs from a Django request (the path with the script prefix)."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    authorization = headers.pop("authorization", None)
    try:
        body = request.body
    except RawPostDataException:
        # Something read the stream as a form already (request.POST on a multipart
        # body): not JSON, and the core says so (415) rather than Django a 500.
        body = b"\0"
    return EndpointRequest(
        request.method or "GET",
        request.path,
        body,
        headers,
        (authorization,) if authorization is not None else (),
        client_address=request.META.get("REMOTE_ADDR") or None,
        scheme=request.scheme or "http",
    )


def _django_response(answer: EndpointResponse) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status)
    del response["Content-Type"]  # only what the endpoints say (a 204 has none)
    for name, value in answer.headers:
        if name == "set-cookie":
            response.cookies.load(value)
        else:
            response[name] = value
    return response


class _DjangoEndpoints:
    """The sync endpoint core, with the Django request handed to ``authenticate``."""

    def __init__(
        self, sessions: Sessions, authenticate: DjangoAuthenticate, options: dict[str, Any]
    ) -> None:
        # Endpoints never calls its own authenticate here: answer() performs that step.
        self.endpoints = Endpoints(sessions, cast(Any, authenticate), **options)
        self.sessions = sessions
        self.authenticate = authenticate

    def answer(self, request: HttpRequest, route: str) -> HttpResponse:
        endpoints = self.endpoints

        def perform(step: _Step) -> Any:
            if isinstance(step, _Authenticate):
                return self._subject(self.authenticate(request, step.username, step.password))
            return endpoints._do(step)

        flow = endpoints._core.flow(endpoint_request(request), route)
        return _django_response(run(flow, perform))

    def _subject(self, found: Any) -> Any:
        if found is None or isinstance(found, str | tuple):
            return found
        field = self.sessions.settings.user_field or found.USERNAME_FIELD
        return str(getattr(found, field))


class _Views:
    """One :func:`token_urls` mount: its options, and endpoints for the current settings."""

    def __init__(self, authenticate: DjangoAuthenticate, options: dict[str, Any]) -> None:
        self.authenticate = authenticate
        self.options = options
        self._built: _DjangoEndpoints | None = None

    def endpoints(self) -> _DjangoEndpoints:
        sessions = get_sessions()
        built = self._built
        if built is None or built.sessions is not sessions:
            built = self._built = _DjangoEndpoints(sessions, self.authenticate, self.options)
        return built

    def view(self, route: str) -> Callable[[HttpRequest], HttpResponse]:
        def view(request: HttpRequest) -> HttpResponse:
            return self.endpoints().answer(request, route)

        view.__name__ = view.__qualname__ = f"jwtgate_{route.replace('-', '_')}"
        setattr(view, TOKEN_VIEW_ATTR, True)  # for the STORE check (jwtgate.E062)
        # The endpoints read Authorization themselves (logout); the middleware must not
        # refuse a refresh for the stale access token a client sends along with it.
        setattr(view, PUBLIC_VIEW_ATTR, True)
        exempt: Callable[[HttpRequest], HttpResponse] = csrf_exempt(view)
        return optional(exempt)


def token_urls(
    authenticate: DjangoAuthenticate | None = None, **options: Unpack[EndpointOptions]
) -> list[URLPattern]:
    """URL patterns for the five token views, to ``include()`` under any prefix.

    Options are those of :class:`~jwtgate.endpoints.Endpoints` (``cookie``,
    ``secure``, ``csrf_secret`` …) except ``prefix``: where you include the
    patterns is the prefix. A misspelt or mistyped option is a TypeError here.
    """
    if "prefix" in options:
        raise TypeError("token_urls() takes no prefix: include() the patterns where you want them")
    _check_options(options)
    views = _Views(authenticate or authenticate_user, dict(options))
    return [path(route, views.view(route), name=f"jwtgate-{route}") for route in ROUTES]
