"""URLs for the Django and DRF runs of the attack table (ROOT_URLCONF in those tests)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jwtgate.contrib.drf import JWTGateAuthentication

CALLS: list[str] = []


def whoami(request: HttpRequest) -> JsonResponse:
    """The subject the Django middleware put on the request."""
    CALLS.append("django")
    return JsonResponse({"subject": request.jwt.subject})  # type: ignore[attr-defined]


class WhoAmI(APIView):
    """The subject DRF's authentication found."""

    authentication_classes = [JWTGateAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        CALLS.append("drf")
        return Response({"subject": request.auth.subject})


urlpatterns = [path("", whoami), path("drf", WhoAmI.as_view())]
