"""The attack table through FastAPI: the middleware with optional credentials, and
``requires_scopes()`` deciding that the endpoint needs a token."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

import pytest

pytest.importorskip("fastapi")

from fastapi import Depends, FastAPI

from attacks.cases import Case, params, profile_settings
from attacks.stacks import asgi_request, check, clock
from jwtgate import Gate, Identity
from jwtgate.asgi import JWTGateMiddleware
from jwtgate.contrib.fastapi import install, requires_scopes

CALLS: list[str] = []


@cache
def app(profile: str) -> FastAPI:
    """A FastAPI app whose only endpoint depends on ``requires_scopes()``."""
    api = FastAPI()
    settings = profile_settings(profile, credentials_required=False)
    api.add_middleware(JWTGateMiddleware, gate=Gate(settings, clock=clock()))
    install(api)

    @api.get("/")
    async def whoami(identity: Annotated[Identity, Depends(requires_scopes())]) -> dict[str, Any]:
        CALLS.append("fastapi")
        return {"subject": identity.subject}

    return api


@pytest.mark.parametrize("case", params())
def test_attack(case: Case) -> None:
    """FastAPI behind the middleware, with requires_scopes(), answers exactly as the table says."""
    CALLS.clear()
    check(case, asgi_request(app(case.profile), case), len(CALLS), wsgi=False)
