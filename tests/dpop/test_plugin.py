"""The pytest plugin's DPoP key: a user's own test of an app that requires DPoP,
with tokens for two issuers."""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from jwtgate.asgi import JWTGateMiddleware
from jwtgate.testing import DPoPKey, Provider


async def me(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"{request.user.subject} from {request.user.claims['iss']}")


def test_a_user_tests_a_dpop_app_with_two_issuers(
    jwtgate_dpop_key: DPoPKey, jwtgate_provider: Callable[..., Provider]
) -> None:
    a, b = jwtgate_provider("ES256"), jwtgate_provider("RS256")
    settings = {"ISSUERS": [a.entry(), b.entry()], "DPOP": "require"}
    app = JWTGateMiddleware(Starlette(routes=[Route("/me", me)]), settings)
    with TestClient(app) as http:
        for provider in (a, b):
            token = provider.token("alice", claims=jwtgate_dpop_key.cnf)
            proof = jwtgate_dpop_key.proof("GET", "http://testserver/me", token)
            answer = http.get("/me", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
            assert answer.text == f"alice from {provider.issuer}"
        bearer = a.token("alice")
        assert http.get("/me", headers={"Authorization": f"Bearer {bearer}"}).status_code == 401
