"""The attack table through Starlette's AuthenticationMiddleware with jwtgate's backend."""

from __future__ import annotations

from functools import cache

import pytest

pytest.importorskip("starlette")

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from attacks.cases import Case, params, profile_settings
from attacks.stacks import asgi_request, check, clock
from jwtgate import Gate
from jwtgate.contrib.starlette import authentication_middleware

CALLS: list[str] = []


async def whoami(request: Request) -> JSONResponse:
    """The subject the backend put in ``request.user``."""
    CALLS.append("starlette")
    return JSONResponse({"subject": request.user.identity})


@cache
def app(profile: str) -> Starlette:
    """A Starlette app behind the jwtgate backend for ``profile``, on the fixed clock."""
    gate = Gate(profile_settings(profile), clock=clock())
    return Starlette(routes=[Route("/", whoami)], middleware=[authentication_middleware(gate=gate)])


@pytest.mark.parametrize("case", params())
def test_attack(case: Case) -> None:
    """AuthenticationMiddleware with JWTGateBackend answers exactly as the table says."""
    CALLS.clear()
    check(case, asgi_request(app(case.profile), case), len(CALLS), wsgi=False)
