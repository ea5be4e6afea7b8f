"""The MCP server recipe (examples/mcp_server.py, docs/recipes/mcp.md): RFC 9728 metadata
in public, tokens for this resource only, and every 401 pointing at the metadata."""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from starlette.testclient import TestClient

from jwtgate.testing import JWKSServer, KeyPair, keypair

KEY: KeyPair = keypair("RS256", kid="k1")
RESOURCE = "https://testserver/mcp"
METADATA = "https://testserver/.well-known/oauth-protected-resource/mcp"


@pytest.fixture
def issuer() -> Iterator[str]:
    """An OpenID provider stand-in on 127.0.0.1: discovery and a JWKS."""
    with JWKSServer(KEY.jwks) as server:
        yield server.issuer


@pytest.fixture
def api(issuer: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("RESOURCE", RESOURCE)
    monkeypatch.setenv("ISSUER", issuer)
    module = importlib.reload(importlib.import_module("examples.mcp_server"))
    with TestClient(module.app, base_url="https://testserver") as client:
        yield client


def token(issuer: str, audience: str = RESOURCE, scope: str = "mcp:tools") -> str:
    now = int(time.time())
    claims = {"iss": issuer, "aud": audience, "sub": "agent-7", "scope": scope}
    claims.update(iat=now, exp=now + 300)
    return jwt.encode(claims, KEY.private_pem, "RS256", headers={"kid": KEY.kid})


def rpc(api: TestClient, bearer: str | None, method: str, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    return api.post("/mcp", json=body, headers=headers)


def test_the_metadata_is_public_and_names_the_issuer(api: TestClient, issuer: str) -> None:
    """Served by the middleware at RFC 9728's path-suffixed URL and the bare one."""
    for path in (
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ):
        answer = api.get(path)
        assert answer.status_code == 200
        assert answer.json() == {
            "resource": RESOURCE,
            "authorization_servers": [issuer],
            "scopes_supported": ["mcp:tools"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Orders MCP server",
        }


def test_a_token_for_this_resource_calls_tools(api: TestClient, issuer: str) -> None:
    listed = rpc(api, token(issuer), "tools/list")
    assert [tool["name"] for tool in listed.json()["result"]["tools"]] == ["whoami"]
    called = rpc(api, token(issuer), "tools/call", name="whoami")
    assert called.json()["result"]["content"][0]["text"] == "agent-7"


@pytest.mark.parametrize("case", ["no token", "another resource's token", "a forged token"])
def test_every_401_points_at_the_metadata(api: TestClient, issuer: str, case: str) -> None:
    bearer = {
        "no token": None,
        "another resource's token": token(issuer, audience="https://other.example.com/mcp"),
        "a forged token": token(issuer)[:-4] + "AAAA",
    }[case]
    answer = rpc(api, bearer, "tools/list")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith('Bearer realm="api"')
    assert answer.headers["www-authenticate"].endswith(f'resource_metadata="{METADATA}"')


def test_a_token_without_the_scope_is_403_naming_the_scope_and_the_metadata(
    api: TestClient, issuer: str
) -> None:
    """MCP step-up: the 403 says which scope to ask for, and where the metadata is."""
    answer = rpc(api, token(issuer, scope="profile"), "tools/list")
    assert answer.status_code == 403
    assert 'scope="mcp:tools"' in answer.headers["www-authenticate"]
    assert answer.headers["www-authenticate"].endswith(f'resource_metadata="{METADATA}"')
