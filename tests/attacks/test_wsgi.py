"""The attack table through the raw WSGI middleware (a server-built environ)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from typing import Any

import pytest

from attacks.cases import Case, params, profile_settings
from attacks.stacks import check, clock, wsgi_request
from jwtgate import Gate
from jwtgate.wsgi import IDENTITY_KEY, JWTGateMiddleware


class App:
    """A bare WSGI app that counts its calls and echoes the subject."""

    calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        App.calls += 1
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"subject": environ[IDENTITY_KEY].subject}).encode()]


@cache
def middleware(profile: str) -> JWTGateMiddleware:
    """The middleware for ``profile``, on the fixed clock."""
    return JWTGateMiddleware(App(), gate=Gate(profile_settings(profile), clock=clock()))


@pytest.mark.parametrize("case", params())
def test_attack(case: Case) -> None:
    """The raw WSGI middleware answers each hostile request exactly as the table says."""
    App.calls = 0
    answer = wsgi_request(middleware(case.profile), case)
    check(case, answer, App.calls, wsgi=True)
