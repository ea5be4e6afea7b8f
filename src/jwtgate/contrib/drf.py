"""Django REST framework: an authentication class and scope permissions.

``JWTGateAuthentication`` verifies the bearer token with the same settings
(``settings.JWTGATE``), verifier and token sources as the Django middleware. If
the middleware already authenticated the request (``request.jwt``), that
identity is reused rather than verified twice. Its ``authenticate_header``
returns the Bearer challenge, so DRF answers 401 (not 403) to a missing or bad
token, with the same ``WWW-Authenticate`` value and JSON body
(``{"error": ..., "error_description": ...}``) as every other jwtgate stack. A
request without a token is left to the next authentication class (and to the
permission classes: ``IsAuthenticated`` then answers 401 with the bare challenge).

``request.auth`` is the :class:`~jwtgate.Identity`; ``request.user`` is the
Django user with ``LOAD_USER`` on (unknown or inactive users are refused with
401), otherwise the Identity itself (it has ``is_authenticated``).

``HasScopes`` requires the view's ``required_scopes``; ``requires_scopes("a", "b")``
makes a permission class with the scopes built in. A token without them gets 403
``insufficient_scope`` with the RFC 6750 challenge naming the scopes. Example::

    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["jwtgate.contrib.drf.JWTGateAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    }

    class Reports(APIView):
        permission_classes = [IsAuthenticated, requires_scopes("reports:read")]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from jwtgate.contrib.django import (
    UserRefused,
    django_decide,
    get_gate,
    get_optional_gate,
    load_user,
)
from jwtgate.errors import InsufficientScope, MissingToken, ServiceUnavailable
from jwtgate.http import Rejection, challenge
from jwtgate.identity import Identity

__all__ = [
    "AuthenticationUnavailable",
    "BearerAuthenticationFailed",
    "HasScopes",
    "InsufficientScopeDenied",
    "JWTGateAuthentication",
    "requires_scopes",
]

_CHALLENGE_ATTR = "_jwtgate_challenge"


def _detail(rejection: Rejection) -> dict[str, str]:
    detail: dict[str, str] = json.loads(rejection.body)
    return detail


def _header(rejection: Rejection, name: str) -> str | None:
    return next((value for key, value in rejection.headers if key == name), None)


class BearerAuthenticationFailed(exceptions.AuthenticationFailed):
    """A refused token: 401 (or 400 ``invalid_request``) with jwtgate's body."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(_detail(rejection))
        self.status_code = rejection.status


class AuthenticationUnavailable(exceptions.APIException):
    """Keys or store unreachable: 503 with ``Retry-After`` (the server's fault)."""

    status_code = 503

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(_detail(rejection))
        self.wait = int(_header(rejection, "retry-after") or 5)


class InsufficientScopeDenied(exceptions.PermissionDenied):
    """A valid token without a required scope: 403 with the ``insufficient_scope`` challenge."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(_detail(rejection))
        self.auth_header = _header(rejection, "www-authenticate")


class JWTGateAuthentication(BaseAuthentication):
    """DRF authentication by bearer JWT, answering 401 with the Bearer challenge."""

    def authenticate(self, request: Request) -> tuple[Any, Identity] | None:
        """``(user, identity)`` for a valid token, None without one; raise for a bad one."""
        identity = getattr(request._request, "jwt", None)
        if not isinstance(identity, Identity) or not identity.is_authenticated:
            gate = get_optional_gate()
            outcome = django_decide(gate, request._request)
            if isinstance(outcome, Rejection):
                raise self._refuse(request, outcome)
            if not outcome.is_authenticated:
                return None
            identity = outcome
        settings = get_gate().settings
        if not settings.load_user:
            return identity, identity
        try:
            user = load_user(identity, settings.user_field)
        except UserRefused as error:
            raise self._refuse(request, get_gate().reject(error)) from None
        return user, identity

    def authenticate_header(self, request: Request) -> str:
        """The ``WWW-Authenticate`` value DRF sends with a 401."""
        value: str | None = getattr(request, _CHALLENGE_ATTR, None)
        gate = get_gate()
        return value or challenge(
            MissingToken(), gate.settings.realm, resource_metadata=gate.resource_metadata
        )

    @staticmethod
    def _refuse(request: Request, rejection: Rejection) -> exceptions.APIException:
        if isinstance(rejection.error, ServiceUnavailable):
            return AuthenticationUnavailable(rejection)
        # DRF asks authenticate_header() for the challenge of this very request.
        setattr(request, _CHALLENGE_ATTR, _header(rejection, "www-authenticate"))
        return BearerAuthenticationFailed(rejection)


class HasScopes(BasePermission):
    """Requires every scope in the view's ``required_scopes`` (401 if there is no token)."""

    required_scopes: Sequence[str] = ()

    def has_permission(self, request: Request, view: Any) -> bool:
        identity = request.auth
        if not isinstance(identity, Identity) or not identity.is_authenticated:
            return False  # DRF turns this into 401 with authenticate_header()
        required = sorted(set(self.required_scopes) | set(getattr(view, "required_scopes", ())))
        if identity.has_scopes(*required):
            return True
        raise InsufficientScopeDenied(get_gate().reject(InsufficientScope(required)))


def requires_scopes(*scopes: str) -> type[HasScopes]:
    """A :class:`HasScopes` permission class requiring ``scopes``."""
    return type("RequiresScopes", (HasScopes,), {"required_scopes": tuple(scopes)})
