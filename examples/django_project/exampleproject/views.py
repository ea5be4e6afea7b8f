"""Login and logout views (jwtgate sessions), a plain Django view and a DRF view."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jwtgate import Sessions

USERS = {"alice": "wonderland"}  # yours: Django's authenticate() and the user table
SESSIONS = Sessions(settings.JWTGATE)


class Login(APIView):
    authentication_classes = []  # the credentials are in the body
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        username, password = request.data.get("username"), request.data.get("password")
        expected = USERS.get(username) if isinstance(username, str) else None
        if expected is None or not hmac.compare_digest(expected, str(password)):
            body = {"error": "invalid_grant", "error_description": "bad credentials"}
            return Response(body, status=400)
        pair = SESSIONS.login(username, claims={"scope": "read"})
        return Response(pair.as_dict(), headers={"Cache-Control": "no-store"})


class Logout(APIView):  # the access token authenticates it (REST_FRAMEWORK's defaults)
    def post(self, request: Request) -> Response:
        SESSIONS.logout(request.auth.token)  # ends the session: its tokens are refused now
        return Response(status=204)


class Me(APIView):  # REST_FRAMEWORK: JWTGateAuthentication + IsAuthenticated
    def get(self, request: Request) -> Response:
        return Response({"subject": request.auth.subject, "scopes": sorted(request.auth.scopes)})


def hello(request: HttpRequest) -> JsonResponse:  # the middleware let it in: request.jwt
    return JsonResponse({"hello": request.jwt.subject})  # type: ignore[attr-defined]
