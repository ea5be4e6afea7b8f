"""A required, an optional and a scoped plain Django view, a DRF view, and the
password check the token views use."""

from __future__ import annotations

import hmac

from django.http import HttpRequest, JsonResponse
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jwtgate.contrib.django import optional, requires_scopes

USERS = {"alice": "wonderland"}  # yours: the user table


def check_password(request: HttpRequest, username: str, password: str) -> object:
    """For token_urls(): the subject and its claims, or None. The default (without
    this function) is django.contrib.auth.authenticate, which needs a database."""
    expected = USERS.get(username)
    if expected is None or not hmac.compare_digest(expected, password):
        return None
    return username, {"scope": "read"}


def hello(request: HttpRequest) -> JsonResponse:  # the middleware let it in: request.jwt
    return JsonResponse({"hello": request.jwt.subject})  # type: ignore[attr-defined]


@optional  # runs without a token too (request.jwt is then anonymous)
def welcome(request: HttpRequest) -> JsonResponse:
    subject = request.jwt.subject  # type: ignore[attr-defined]
    return JsonResponse({"welcome": subject or "guest"})


@requires_scopes("reports")  # 403 insufficient_scope for a token without it
def reports(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"reports": [], "for": request.jwt.subject})  # type: ignore[attr-defined]


class Me(APIView):  # REST_FRAMEWORK: JWTGateAuthentication + IsAuthenticated
    def get(self, request: Request) -> Response:
        return Response({"subject": request.auth.subject, "scopes": sorted(request.auth.scopes)})
