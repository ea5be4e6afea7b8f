"""The provider recipes (docs/recipes/, examples/providers.py) against tokens shaped like
each provider's, from a stand-in provider on 127.0.0.1 that serves its JWKS where that
provider does.

Each provider's quirk is a case: Auth0's trailing-slash issuer and ``permissions``
list, Okta's ``scp`` list, Keycloak's encryption key in the JWKS and its default
``aud`` of ``account``, Entra's v1 issuer and its ``roles`` for app permissions.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from starlette.testclient import TestClient

from jwtgate.testing import JWKSServer, KeyPair, keypair

KEY: KeyPair = keypair("RS256", kid="k1")
AUDIENCE = "https://api.example.com"


@pytest.fixture
def provider() -> Iterator[JWKSServer]:
    # Keycloak publishes an RSA-OAEP encryption key beside its signing key.
    encryption = {**KEY.jwks["keys"][0], "kid": "enc-1", "use": "enc", "alg": "RSA-OAEP"}
    with JWKSServer({"keys": [encryption, *KEY.jwks["keys"]]}) as server:
        yield server


def client(monkeypatch: pytest.MonkeyPatch, name: str, issuer: str, audience: str) -> TestClient:
    monkeypatch.setenv("PROVIDER", name)
    monkeypatch.setenv("ISSUER", issuer)
    monkeypatch.setenv("AUDIENCE", audience)
    module = importlib.reload(importlib.import_module("examples.providers"))
    return TestClient(module.app)


def token(issuer: str, audience: str | list[str], **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": issuer, "aud": audience, "sub": "user-1", "iat": now, "exp": now + 300}
    return jwt.encode({**payload, **claims}, KEY.private_pem, "RS256", headers={"kid": KEY.kid})


def call(api: TestClient, method: str, bearer: str) -> int:
    return api.request(method, "/orders", headers={"Authorization": f"Bearer {bearer}"}).status_code


CASES = {
    # name: (issuer path, what the token says, the permission claim)
    "auth0": ("/", {"permissions": ["orders:write", "orders:read"]}),
    "okta": ("/oauth2/default", {"scp": ["orders:write"]}),
    "keycloak": ("/realms/shop", {"scope": "openid orders:write"}),
    "entra": ("/tenant-1/v2.0", {"scp": "orders:write"}),
}
JWKS_PATHS = {
    "auth0": "/.well-known/jwks.json",
    "okta": "/oauth2/default/v1/keys",
    "keycloak": "/realms/shop/protocol/openid-connect/certs",
    "entra": "/tenant-1/discovery/v2.0/keys",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_token_of_the_provider_passes_and_its_permission_is_read(
    provider: JWKSServer, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    path, claims = CASES[name]
    provider.path = JWKS_PATHS[name]  # where this provider serves its keys
    issuer = provider.base + path
    audience = "api://default" if name == "okta" else AUDIENCE
    with client(monkeypatch, name, issuer, audience) as api:
        writer = token(issuer, audience, **claims)
        reader = token(issuer, audience, **{key: [] for key in claims})
        assert call(api, "GET", writer) == 200
        assert call(api, "POST", writer) == 201
        assert call(api, "GET", reader) == 200
        assert call(api, "POST", reader) == 403
        assert call(api, "GET", token(issuer, "https://other.example.com", **claims)) == 401
        assert call(api, "GET", token(provider.base + "/elsewhere", audience, **claims)) == 401
    assert provider.requests == 1  # the recipe's JWKS URL, once


def test_auth0_issuer_has_its_trailing_slash(
    provider: JWKSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recipe adds the slash Auth0 puts in ``iss``; a token without it is not Auth0's."""
    provider.path = JWKS_PATHS["auth0"]
    with client(monkeypatch, "auth0", provider.base, AUDIENCE) as api:
        permissions = ["orders:write"]
        assert (
            call(api, "GET", token(provider.base + "/", AUDIENCE, permissions=permissions)) == 200
        )
        assert call(api, "GET", token(provider.base, AUDIENCE, permissions=permissions)) == 401


def test_keycloak_default_audience_account_is_not_enough(
    provider: JWKSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an audience mapper Keycloak's tokens say ``aud: account``: refused, as they
    were not meant for this API; with the mapper they name it too, and pass."""
    provider.path = JWKS_PATHS["keycloak"]
    issuer = provider.base + "/realms/shop"
    with client(monkeypatch, "keycloak", issuer, "orders-api") as api:
        assert call(api, "GET", token(issuer, "account", scope="openid")) == 401
        assert call(api, "GET", token(issuer, ["account", "orders-api"], scope="openid")) == 200


def test_entra_v1_tokens_and_app_roles(
    provider: JWKSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A v1 token (``iss`` https://sts.windows.net/…) is refused by v2 settings; an app's
    token carries ``roles``, which the ``app_roles`` variant reads."""
    provider.path = JWKS_PATHS["entra"]
    issuer = provider.base + "/tenant-1/v2.0"
    with client(monkeypatch, "entra", issuer, AUDIENCE) as api:
        v1 = token(provider.base + "/tenant-1/", AUDIENCE, scp="orders:write")
        assert call(api, "GET", v1) == 401
    from examples.providers import entra

    settings = entra(issuer, AUDIENCE, app_roles=True)
    assert settings["SCOPES_CLAIM"] == "roles"


def test_the_recipes_show_the_examples_code() -> None:
    """Each function a recipe page shows is the example's own, line for line (comments
    aside), so the page cannot drift from the code the tests run."""
    import re

    root = Path(__file__).resolve().parents[2]
    sources = {
        "mcp": (root / "examples" / "mcp_server.py").read_text(),
        "other": (root / "examples" / "providers.py").read_text(),
    }
    shown = 0
    for page in sorted((root / "docs" / "recipes").glob("*.md")):
        source = sources["mcp" if page.stem == "mcp" else "other"]
        for block in re.findall(r"```python\n(.*?)```", page.read_text(), re.S):
            if not block.startswith(("def ", "SETTINGS")):
                continue
            shown += 1
            for line in block.splitlines():
                code = line.split("  #")[0].rstrip()
                if code and not code.lstrip().startswith("#"):
                    assert code in source, f"{page.name}: {code!r} is not in the example"
    assert shown == 5
