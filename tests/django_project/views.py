"""Views of the test project; each records that it ran (in CALLS, and in the file
named by JWTGATE_VIEW_LOG for the servers the tests start)."""

from __future__ import annotations

import os
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jwtgate.contrib import django as jwtgate_django
from jwtgate.contrib.drf import HasScopes, requires_scopes

CALLS: list[str] = []


def ran(name: str) -> None:
    """Record that the view ``name`` ran."""
    CALLS.append(name)
    log = os.environ.get("JWTGATE_VIEW_LOG")
    if log:
        with open(log, "a") as file:
            file.write(name + "\n")


def identity(request: Any) -> dict[str, Any]:
    """The request's jwtgate identity as JSON."""
    return {"subject": request.jwt.subject, "scopes": sorted(request.jwt.scopes)}


def whoami(request: HttpRequest) -> JsonResponse:
    ran("whoami")
    return JsonResponse(identity(request))


async def async_whoami(request: HttpRequest) -> JsonResponse:
    ran("async")
    return JsonResponse(identity(request))


def health(request: HttpRequest) -> JsonResponse:
    ran("health")
    return JsonResponse({"ok": True, **identity(request)})


def user(request: HttpRequest) -> JsonResponse:
    # request.user is loaded here, at first use: a refused user stops the view here.
    payload = {"username": request.user.get_username(), "email": request.user.email}
    ran("user")
    return JsonResponse(payload)


async def async_user(request: HttpRequest) -> JsonResponse:
    found = await request.auser()  # type: ignore[attr-defined]
    ran("async-user")
    return JsonResponse({"username": found.get_username(), "email": found.email})


class Items(APIView):
    permission_classes = [IsAuthenticated, HasScopes]
    required_scopes = ["items:read"]

    def get(self, request: Request) -> Response:
        ran("api-items")
        return Response({"user": request.user.get_username(), "subject": request.auth.subject})


class Admin(APIView):
    permission_classes = [requires_scopes("admin")]  # also refuses anonymous requests

    def get(self, request: Request) -> Response:
        ran("api-admin")
        return Response({"admin": request.auth.subject})


@jwtgate_django.optional
def maybe(request: HttpRequest) -> JsonResponse:
    ran("maybe")
    return JsonResponse(identity(request))


@jwtgate_django.optional
async def async_maybe(request: HttpRequest) -> JsonResponse:
    ran("async-maybe")
    return JsonResponse(identity(request))


@jwtgate_django.requires_scopes("reports", "read")
def scoped(request: HttpRequest) -> JsonResponse:
    ran("scoped")
    return JsonResponse(identity(request))


@jwtgate_django.requires_scopes("reports")
async def async_scoped(request: HttpRequest) -> JsonResponse:
    ran("async-scoped")
    return JsonResponse(identity(request))


def plain_post(request: HttpRequest) -> JsonResponse:  # Django's CSRF check applies
    ran("plain-post")
    return JsonResponse(identity(request))


@csrf_exempt  # bearer-only: no cookie authenticates it
def exempt_post(request: HttpRequest) -> JsonResponse:
    ran("exempt-post")
    return JsonResponse(identity(request))


@jwtgate_django.requires_scopes("write")
def scoped_post(request: HttpRequest) -> JsonResponse:
    ran("scoped-post")
    return JsonResponse(identity(request))


def check_password(request: HttpRequest, username: str, password: str) -> Any:
    """The cookie-mode mount's own check: a subject and claims, no user table."""
    return (username, {"scope": "read"}) if password == "wonderland" else None


@method_decorator(jwtgate_django.requires_scopes("write"), name="dispatch")
class ScopedClassView(View):
    def post(self, request: HttpRequest) -> JsonResponse:
        ran("scoped-class")
        return JsonResponse(identity(request))


@jwtgate_django.optional
class OptionalClassView(View):
    def get(self, request: HttpRequest) -> JsonResponse:
        ran("optional-class")
        return JsonResponse(identity(request))
