"""A middleware that reads request.POST before the view (as some third-party ones do)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class ReadsPost:
    """Reads the form data of every request, consuming a multipart body's stream."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.POST  # noqa: B018
        return self.get_response(request)
