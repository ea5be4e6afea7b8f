"""Django integration: one middleware for sync and async Django, system checks.

Settings live in ``settings.JWTGATE`` (the same dict every stack uses, keys in
either case), read through :func:`get_gate` so ``override_settings`` in tests
takes effect at the next request. Setup::

    INSTALLED_APPS = [..., "jwtgate.contrib.django.JWTGateConfig"]
    MIDDLEWARE = [
        ...,
        "django.contrib.auth.middleware.AuthenticationMiddleware",  # if used
        "jwtgate.contrib.django.JWTGateMiddleware",
        ...,
    ]
    JWTGATE = {"SECRET": "env:JWT_SECRET", "PUBLIC_PATHS": ["/health"]}

``JWTGateMiddleware`` works under WSGI and ASGI alike (``sync_capable`` and
``async_capable``; in async mode no thread is spent on the decision). It asks the
shared :class:`~jwtgate.Gate`, so token sources, ``public_paths``, CORS preflight,
``rules`` and the RFC 6750 answers are those of every other jwtgate stack, and
it sets:

* ``request.jwt``: the :class:`~jwtgate.Identity` (anonymous on public paths);
* with ``LOAD_USER`` on, ``request.user`` (and ``await request.auser()``): the
  user whose ``USERNAME_FIELD`` (or ``USER_FIELD``) equals the subject, loaded
  on first use only (no query unless the view reads it). An unknown or inactive
  user is refused with 401 ``invalid_token`` when it is first read in a view.

Place it after ``AuthenticationMiddleware`` when ``LOAD_USER`` is on (or it is
overwritten), and after ``corsheaders`` (which answers preflights itself).
The path rules see is ``request.path_info`` (without the script prefix).

Per view: ``@optional`` lets a view run without a token (the middleware answers
no-token requests for it with the anonymous identity instead of 401), and
``@requires_scopes("a", ...)`` runs a view, sync or async, only for a token with
those scopes (401 without one, 403 ``insufficient_scope`` without a scope). Both
work without the middleware too.

``JWTGateConfig`` registers the system checks (:mod:`jwtgate.contrib.django_checks`):
``manage.py check`` reports every problem in ``settings.JWTGATE`` with the same
ids as :class:`~jwtgate.ConfigurationError` (``jwtgate.E001`` …), and the
middleware placed before ``AuthenticationMiddleware`` with ``LOAD_USER`` on
(``jwtgate.E090``). The token views are in :mod:`jwtgate.contrib.django_views`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.apps import AppConfig
from django.conf import settings as django_settings
from django.core import checks
from django.core.exceptions import PermissionDenied
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, get_resolver
from django.utils.functional import SimpleLazyObject

from jwtgate.config import Settings
from jwtgate.contrib.django_checks import (
    CSRF_MIDDLEWARE,
    SETTING,
    check_jwtgate_settings,
    check_middleware_order,
    check_store_database,
    middleware_position,
)
from jwtgate.errors import MissingToken, UnknownUser
from jwtgate.gate import Gate, RequestFields
from jwtgate.http import Rejection
from jwtgate.identity import ANONYMOUS, Identity
from jwtgate.sessions import Sessions
from jwtgate.wsgi import read_request

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

__all__ = [
    "JWTGateConfig",
    "JWTGateMiddleware",
    "UserRefused",
    "aload_user",
    "check_jwtgate_settings",
    "check_middleware_order",
    "django_decide",
    "django_decide_async",
    "django_request_info",
    "get_gate",
    "get_optional_gate",
    "get_sessions",
    "load_user",
    "optional",
    "rejection_response",
    "requires_scopes",
]

V = TypeVar("V", bound=Callable[..., Any])


# -- settings accessor -------------------------------------------------------------


class _Cache:
    gate: Gate | None = None
    optional_gate: Gate | None = None
    view_gate: Gate | None = None
    sessions: Sessions | None = None


def get_gate() -> Gate:
    """The Gate for the current ``settings.JWTGATE``, built once and rebuilt when it changes."""
    gate = _Cache.gate
    if gate is None:
        gate = _Cache.gate = Gate(Settings.from_dict(getattr(django_settings, SETTING, None)))
    return gate


def get_optional_gate() -> Gate:
    """:func:`get_gate` without path rules and with credentials optional.

    For code that decides itself what needs a token (DRF's permission classes):
    no token gives the anonymous identity; a bad token is still refused.
    """
    gate = _Cache.optional_gate
    if gate is None:
        main = get_gate()
        changed = main.settings.replace(
            credentials_required=False, public_paths=[], rules=[], cors_preflight="forward"
        )
        gate = _Cache.optional_gate = Gate(changed, verifier=main.verifier)
    return gate


def _optional_view_gate() -> Gate:
    """:func:`get_gate` with credentials optional (for ``@optional`` views): path
    rules still apply, and a token that is sent must still be valid."""
    gate = _Cache.view_gate
    if gate is None:
        main = get_gate()
        changed = main.settings.replace(credentials_required=False)
        gate = _Cache.view_gate = Gate(changed, verifier=main.verifier)
    return gate


def get_sessions() -> Sessions:
    """:class:`~jwtgate.Sessions` over the current ``settings.JWTGATE`` (its ``STORE``),
    built on first use and rebuilt when the setting changes; the token views use it."""
    sessions = _Cache.sessions
    if sessions is None:
        sessions = _Cache.sessions = Sessions(get_gate().settings)
    return sessions


def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING:
        sessions = _Cache.sessions
        gates = (_Cache.gate, _Cache.optional_gate, _Cache.view_gate)
        _Cache.gate = _Cache.optional_gate = _Cache.view_gate = _Cache.sessions = None
        if sessions is not None:
            sessions.close()
        # Each Gate's revocation feed is a thread polling the store: stop it with the
        # settings it served (under the test runner, before it flushes the database).
        for gate in gates:
            if gate is not None:
                gate.close()


setting_changed.connect(_reset, dispatch_uid="jwtgate.contrib.django.reset")


def django_request_info(gate: Gate, request: HttpRequest) -> RequestFields:
    """What the Gate needs from a Django request (``META`` is CGI-style under WSGI and
    ASGI; the path is ``path_info``, the one Django's URL resolver matches)."""
    return read_request(request.META, gate, path=request.path_info)


def django_decide(gate: Gate, request: HttpRequest) -> Identity | Rejection:
    """The Gate's answer for a Django request."""
    return gate.decide(read_request(request.META, gate, path=request.path_info))


async def django_decide_async(gate: Gate, request: HttpRequest) -> Identity | Rejection:
    """:func:`django_decide` for async middleware (never blocks the event loop)."""
    return await gate.decide_async(read_request(request.META, gate, path=request.path_info))


def rejection_response(rejection: Rejection) -> HttpResponse:
    """A Django response carrying ``rejection`` as it is."""
    return HttpResponse(rejection.body, status=rejection.status, headers=dict(rejection.headers))


# -- users -------------------------------------------------------------------------


class UserRefused(UnknownUser, PermissionDenied):
    """Raised when a valid token's subject is no user, or an inactive one (answered 401).

    It is also a ``PermissionDenied``, so where the middleware cannot answer it
    (outside a view) Django still answers 403, never 500.
    """


def _lookup(field: str | None) -> tuple[Any, str]:
    from django.contrib.auth import get_user_model

    model = get_user_model()
    return model._default_manager, field or model.USERNAME_FIELD


def _check_active(user: AbstractBaseUser) -> AbstractBaseUser:
    # Same rule as ModelBackend.user_can_authenticate: a user without the field is active.
    if not getattr(user, "is_active", True):
        raise UserRefused()
    return user


def load_user(identity: Identity, field: str | None = None) -> AbstractBaseUser:
    """The active user whose ``field`` (default ``USERNAME_FIELD``) equals the subject."""
    manager, lookup = _lookup(field)
    try:
        user = manager.get(**{lookup: identity.subject})
    except manager.model.DoesNotExist:
        raise UserRefused() from None
    return _check_active(user)


async def aload_user(identity: Identity, field: str | None = None) -> AbstractBaseUser:
    """:func:`load_user` for async views, with Django's async ORM."""
    manager, lookup = _lookup(field)
    try:
        user = await manager.aget(**{lookup: identity.subject})
    except manager.model.DoesNotExist:
        raise UserRefused() from None
    return _check_active(user)


# -- middleware --------------------------------------------------------------------


class JWTGateMiddleware:
    """Authenticates every request with a bearer JWT; works in sync and async mode."""

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponse]
        | Callable[[HttpRequest], Awaitable[HttpResponse]],
    ) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        get_gate()  # bad settings fail when the middleware chain is built

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        gate = get_gate()
        outcome = django_decide(gate, request)
        if _tokenless(outcome) and _optional_view(request):
            gate = _optional_view_gate()
            outcome = django_decide(gate, request)
        if isinstance(outcome, Rejection):
            if not _public_view(request, outcome):
                return rejection_response(outcome)
            outcome = ANONYMOUS
        self.annotate(gate, request, outcome)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        gate = get_gate()
        outcome = await django_decide_async(gate, request)
        if _tokenless(outcome) and _optional_view(request):
            gate = _optional_view_gate()
            outcome = await django_decide_async(gate, request)
        if isinstance(outcome, Rejection):
            if not _public_view(request, outcome):
                return rejection_response(outcome)
            outcome = ANONYMOUS
        self.annotate(gate, request, outcome)
        response: HttpResponse = await self.get_response(request)
        return response

    @staticmethod
    def annotate(gate: Gate, request: HttpRequest, identity: Identity) -> None:
        """Set ``request.jwt`` and, with ``load_user``, the lazy ``request.user``."""
        request.jwt = identity
        settings = gate.settings
        if settings.load_user and identity.is_authenticated:
            field = settings.user_field
            request.user = SimpleLazyObject(lambda: load_user(identity, field))
            request.auser = functools.partial(aload_user, identity, field)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Answer a refused user (read lazily in the view) with jwtgate's 401."""
        if isinstance(exception, UserRefused):
            return rejection_response(get_gate().reject(exception))
        return None


# -- per-view decorators -------------------------------------------------------------

_OPTIONAL_ATTR = "_jwtgate_optional"
PUBLIC_VIEW_ATTR = "_jwtgate_public"  # set by jwtgate.contrib.django_views on its views


def _tokenless(outcome: Identity | Rejection) -> bool:
    return isinstance(outcome, Rejection) and isinstance(outcome.error, MissingToken)


def _optional_view(request: HttpRequest) -> bool:
    """Whether the view the URLconf gives ``request`` is marked ``@optional``.

    Asked only for a request without a token that would be refused, so requests
    with tokens cost no URL resolution; Django resolves the path again later."""
    return _view_marked(request, _OPTIONAL_ATTR)


def _public_view(request: HttpRequest, refused: Rejection) -> bool:
    """Whether a refused request goes to a view that reads no bearer token at all
    (the token views: a refresh that carries a stale access token in its
    Authorization header is theirs to answer). Asked only on a refusal about the
    token; a non-canonical path, a preflight or an unreachable store stay refused."""
    return refused.about_the_token and _view_marked(request, PUBLIC_VIEW_ATTR)


def _view_marked(request: HttpRequest, attr: str) -> bool:
    try:
        match = get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info)
    except Resolver404:
        return False
    view = match.func
    return bool(
        getattr(view, attr, False)
        or getattr(getattr(view, "view_class", None), attr, False)
        or getattr(getattr(view, "cls", None), attr, False)
    )


def optional(view: V) -> V:
    """Let ``view`` run without a token: ``request.jwt`` is then anonymous.

    A token that is sent must still be valid (401 otherwise), and path ``RULES``
    still apply. Put it on a view function, or on a class-based view (Django's
    ``View`` or DRF's ``APIView``) to cover its ``as_view()``.
    """
    setattr(view, _OPTIONAL_ATTR, True)
    return view


def _identify(request: HttpRequest) -> Identity | Rejection:
    """The identity the middleware found, else the token's: without the middleware,
    and on a public path (where the middleware does not read the token)."""
    found = getattr(request, "jwt", None)
    if isinstance(found, Identity) and found.is_authenticated:
        return found
    outcome = django_decide(get_optional_gate(), request)
    if isinstance(outcome, Identity):
        JWTGateMiddleware.annotate(get_gate(), request, outcome)
    return outcome


async def _aidentify(request: HttpRequest) -> Identity | Rejection:
    found = getattr(request, "jwt", None)
    if isinstance(found, Identity) and found.is_authenticated:
        return found
    outcome = await django_decide_async(get_optional_gate(), request)
    if isinstance(outcome, Identity):
        JWTGateMiddleware.annotate(get_gate(), request, outcome)
    return outcome


def _refusal(outcome: Identity | Rejection, required: tuple[str, ...]) -> HttpResponse | None:
    refused = (
        outcome if isinstance(outcome, Rejection) else get_gate().scope_refusal(outcome, required)
    )
    return None if refused is None else rejection_response(refused)


def _csrf_refusal(request: HttpRequest) -> HttpResponse | None:
    """Django's CSRF check, unless the token came in the ``Authorization`` header.

    A cross-site form cannot set that header (and a script needs a CORS preflight),
    so a request carrying it cannot be forged; one authenticated by a cookie can.
    """
    settings = get_gate().settings
    header = "HTTP_" + settings.header_name.upper().replace("-", "_")
    if request.META.get(header) or not _csrf_middleware_installed():
        return None
    from django.middleware.csrf import CsrfViewMiddleware

    check = CsrfViewMiddleware(lambda request: HttpResponse())
    check.process_request(request)
    answer: HttpResponse | None = check.process_view(request, None, (), {})
    return answer


def _csrf_middleware_installed() -> bool:
    middleware = list(getattr(django_settings, "MIDDLEWARE", None) or ())
    return middleware_position(middleware, CSRF_MIDDLEWARE) is not None


def requires_scopes(*scopes: str) -> Callable[[V], V]:
    """Run a Django view (sync or async) only for a token carrying every one of ``scopes``.

    No token (a public path, an ``@optional`` view): 401 with the bare challenge;
    a token without a scope: 403 ``insufficient_scope`` naming the scopes; a bad
    token: its 401. It reads ``request.jwt`` when the middleware authenticated the
    request, and verifies the token itself otherwise (no middleware, a public
    path). The view is exempt from Django's CSRF check when the token came in the
    ``Authorization`` header (it cannot be forged cross-site); a token from a
    cookie keeps the check.
    """
    required = tuple(sorted(set(scopes)))

    def decorator(view: V) -> V:
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                refused = _refusal(await _aidentify(request), required) or _csrf_refusal(request)
                return refused if refused is not None else await view(request, *args, **kwargs)

            async_wrapper.csrf_exempt = True  # type: ignore[attr-defined]
            return cast(V, async_wrapper)

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            refused = _refusal(_identify(request), required) or _csrf_refusal(request)
            return refused if refused is not None else view(request, *args, **kwargs)

        wrapper.csrf_exempt = True  # type: ignore[attr-defined]
        return cast(V, wrapper)

    return decorator


class JWTGateConfig(AppConfig):
    """Add ``"jwtgate.contrib.django.JWTGateConfig"`` to ``INSTALLED_APPS`` for the checks."""

    name = "jwtgate.contrib.django"
    label = "jwtgate"
    verbose_name = "jwtgate"

    def ready(self) -> None:
        checks.register(check_jwtgate_settings, checks.Tags.security)
        checks.register(check_middleware_order, checks.Tags.security)
        checks.register(check_store_database)
