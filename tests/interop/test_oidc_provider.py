"""Interop with an independent OpenID provider: panva's oidc-provider (Node.js), the
certified implementation many products embed, issuing RFC 9068 JWT access tokens
(``typ: at+jwt``) by the client-credentials grant with a resource indicator.

jwtgate finds its keys through OpenID Connect discovery from the issuer alone, and a
Starlette app behind ``JWTGateMiddleware`` under uvicorn accepts, scopes and refuses
the provider's tokens. Node.js and npm must be installed (``npm ci`` fetches the
pinned provider into ``tests/interop/node_modules`` once); without them these tests
skip, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator

import httpx
import pytest

pytest.importorskip("uvicorn")

from node_deps import HERE, free_port, node_or_skip
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwtgate.asgi import JWTGateMiddleware
from servers import uvicorn_server

pytestmark = pytest.mark.slow

CLIENT = ("reports-service", "not-a-real-secret-only-for-the-interop-test")
AUDIENCE = "https://api.example"


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    """The issuer URL of a running oidc-provider on a free loopback port."""
    node = node_or_skip()
    port = free_port()
    with subprocess.Popen(
        [node, str(HERE / "oidc_provider.mjs"), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("ready "), f"the provider did not start: {line!r}"
            yield line.split()[1]
        finally:
            process.terminate()
            process.wait(10)


def access_token(issuer: str, scope: str) -> str:
    """A JWT access token from the provider's token endpoint (client credentials)."""
    form = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "scope": scope, "resource": AUDIENCE}
    ).encode()
    basic = base64.b64encode(":".join(CLIENT).encode()).decode()
    request = urllib.request.Request(
        f"{issuer}/token",
        data=form,
        headers={"Authorization": f"Basic {basic}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        token: str = json.load(response)["access_token"]
    return token


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"subject": request.user.subject, "scopes": sorted(request.auth.scopes)})


def protected_app(issuer: str, audience: str = AUDIENCE) -> JWTGateMiddleware:
    app = Starlette(routes=[Route("/reports/daily", whoami), Route("/reports/new", whoami)])
    return JWTGateMiddleware(
        app,
        {
            "issuer": issuer,
            "jwks_discovery": True,
            "audience": audience,
            "algorithms": ["ES256", "RS256"],
            "rules": [
                {"path": "/reports/daily", "scopes": ["read"]},
                {"path": "/reports/new", "scopes": ["write"]},
            ],
        },
    )


def test_the_providers_tokens_are_accepted_and_scoped(issuer: str) -> None:
    """A read token reads, is refused where write is required (403 insufficient_scope),
    and its header is RFC 9068's (``typ: at+jwt``, a ``kid`` found by discovery)."""
    token = access_token(issuer, "read")
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["typ"] == "at+jwt"
    with uvicorn_server(protected_app(issuer)) as base, httpx.Client(base_url=base) as http:
        auth = {"Authorization": f"Bearer {token}"}
        ok = http.get("/reports/daily", headers=auth)
        assert ok.status_code == 200
        assert ok.json() == {"subject": CLIENT[0], "scopes": ["authenticated", "read"]}
        refused = http.get("/reports/new", headers=auth)
        assert refused.status_code == 403
        assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
        both = http.get(
            "/reports/new",
            headers={"Authorization": f"Bearer {access_token(issuer, 'read write')}"},
        )
        assert both.json()["scopes"] == ["authenticated", "read", "write"]


def test_a_tampered_or_foreign_token_is_refused(issuer: str) -> None:
    """A token whose payload was changed, and one for another audience, get 401."""
    token = access_token(issuer, "read")
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "read write"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    app = protected_app(issuer)
    with uvicorn_server(app) as base, httpx.Client(base_url=base) as http:
        answer = http.get(
            "/reports/new", headers={"Authorization": f"Bearer {head}.{forged}.{signature}"}
        )
        assert answer.status_code == 401
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    with (
        uvicorn_server(protected_app(issuer, "https://other.example")) as base,
        httpx.Client(base_url=base) as http,
    ):
        answer = http.get("/reports/daily", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]


def test_the_provider_as_one_of_several_issuers_with_rfc_9068_and_9728(issuer: str) -> None:
    """oidc-provider's at+jwt tokens pass as one entry of ISSUERS with REQUIRE_TYP, next
    to a second provider; the RFC 9728 document names both, and an unknown issuer is
    refused with the metadata pointer and no fetch from either provider."""
    from jwtgate.testing import Provider, parse_challenge

    with Provider("ES256") as other:
        settings = {
            "issuers": [{"issuer": issuer, "jwks_discovery": True}, other.entry()],
            "algorithms": ["ES256", "RS256"],
            "resource": AUDIENCE,
            "require_typ": ["application/at+jwt"],
        }
        app = JWTGateMiddleware(Starlette(routes=[Route("/reports/daily", whoami)]), settings)
        with uvicorn_server(app) as base, httpx.Client(base_url=base) as http:
            fetched = other.requests  # the lifespan startup prefetched every issuer's keys
            stranger = other.token(audience=AUDIENCE, issuer="https://stranger.example/")
            refused = http.get("/reports/daily", headers={"Authorization": f"Bearer {stranger}"})
            assert refused.status_code == 401
            challenge = parse_challenge(refused.headers["www-authenticate"])[1]
            assert challenge["error_description"] == "unknown issuer"
            assert (
                challenge["resource_metadata"] == AUDIENCE + "/.well-known/oauth-protected-resource"
            )
            assert other.requests == fetched == 1
            for token in (access_token(issuer, "read"), other.token("partner", audience=AUDIENCE)):
                answer = http.get("/reports/daily", headers={"Authorization": f"Bearer {token}"})
                assert answer.status_code == 200, answer.text
            document = http.get("/.well-known/oauth-protected-resource").json()
            assert document["authorization_servers"] == [issuer, other.issuer]
            assert document["resource"] == AUDIENCE


def test_the_providers_dpop_bound_tokens_are_accepted(issuer: str) -> None:
    """oidc-provider issues a DPoP-bound access token (RFC 9449 §5: a jose client sends a
    proof to its token endpoint, and follows its nonce if asked); jwtgate with DPOP
    'require' accepts it with that client's proofs, and refuses replays, other keys and
    the token sent as a bearer token."""
    from dpop_jose import assert_refusals, run_client

    settings = {
        "issuer": issuer,
        "jwks_discovery": True,
        "audience": AUDIENCE,
        "algorithms": ["ES256", "RS256"],
        "dpop": "require",
    }
    app = JWTGateMiddleware(Starlette(routes=[Route("/reports/daily", whoami)]), settings)
    with uvicorn_server(app) as base:
        token = {
            "kind": "oidc",
            "issuer": issuer,
            "client_id": CLIENT[0],
            "client_secret": CLIENT[1],
            "resource": AUDIENCE,
            "scope": "read",
        }
        config = {"base": base, "path": "/reports/daily", "alg": "ES256", "token": token}
        report = run_client(node_or_skip(), config)
    assert report["token_type"] == "DPoP"
    good = report["by_name"]["good"]
    assert good["status"] == 200, good
    assert json.loads(good["body"]) == {"subject": CLIENT[0], "scopes": ["authenticated", "read"]}
    assert_refusals(report["by_name"])
