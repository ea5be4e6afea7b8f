"""The attack table through the Django middleware and through DRF's authentication class.

Both run in Django's own WSGI handler on a server-built environ, with
``settings.JWTGATE`` set to the case's profile (``override_settings``) and the
Gate moved to the fixed clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("django")
pytest.importorskip("rest_framework")

from django.core import signals
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import override_settings

from attacks import django_urls
from attacks.cases import Case, params, profile_settings
from attacks.stacks import asgi_request, check, clock, wsgi_request
from jwtgate.contrib.django import get_gate


@pytest.fixture(scope="module")
def handler() -> Iterator[WSGIHandler]:
    """Django's WSGI application, with the test project's middleware.

    Like Django's own test client, requests here leave the database connections
    alone (close_old_connections is disconnected): no case touches the database.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def jwtgate_settings(request: pytest.FixtureRequest) -> Iterator[None]:
    """Apply the case's profile (``/drf`` left to DRF) and the fixed clock."""
    case: Case = request.node.callspec.params["case"]
    settings: dict[str, Any] = profile_settings(case.profile, public_paths=["/drf"])
    with override_settings(JWTGATE=settings, ROOT_URLCONF="attacks.django_urls"):
        get_gate().verifier.clock = clock()  # shared with get_optional_gate()
        django_urls.CALLS.clear()
        yield


@pytest.mark.usefixtures("jwtgate_settings")
@pytest.mark.parametrize("case", params())
def test_django_middleware(case: Case, handler: WSGIHandler) -> None:
    """The Django middleware answers each hostile request exactly as the table says."""
    answer = wsgi_request(handler, case, "/")
    check(case, answer, len(django_urls.CALLS), wsgi=True)


@pytest.mark.usefixtures("jwtgate_settings")
@pytest.mark.parametrize("case", params())
def test_drf_authentication(case: Case, handler: WSGIHandler) -> None:
    """DRF answers exactly as the table says (with its own body when credentials are missing)."""
    answer = wsgi_request(handler, case, "/drf")
    check(case, answer, len(django_urls.CALLS), wsgi=True, drf=True)


@pytest.fixture(scope="module")
def asgi_handler() -> ASGIHandler:
    """Django's ASGI application: the middleware runs in async mode (decide_async)."""
    return ASGIHandler()


@pytest.mark.usefixtures("jwtgate_settings", "handler")
@pytest.mark.parametrize("case", params())
def test_django_middleware_async(case: Case, asgi_handler: ASGIHandler) -> None:
    """Under ASGI too (Django joins repeated header lines into META as WSGI servers do)."""
    answer = asgi_request(asgi_handler, case, "/")
    check(case, answer, len(django_urls.CALLS), wsgi=True)
