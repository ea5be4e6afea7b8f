"""An API that accepts the access tokens of Auth0, Okta, Keycloak or Microsoft Entra ID.

The settings of each provider are one function here (docs/recipes/ explains each
line). Run it from the repository root (after ``pip install "jwtgate[fastapi]"
uvicorn``), naming your provider, its issuer and your API's audience::

    PROVIDER=auth0 ISSUER=https://TENANT.us.auth0.com/ AUDIENCE=https://api.example.com \\
        uvicorn examples.providers:app

    curl -s localhost:8000/orders -H "Authorization: Bearer <an access token>"

``GET /orders`` needs a valid token; ``POST /orders`` also the ``orders:write``
permission (the provider's scope or permission, by the claim that provider uses).
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import Depends, FastAPI

from jwtgate import Identity
from jwtgate.asgi import JWTGateMiddleware
from jwtgate.contrib.fastapi import current_identity, install

WRITE = [{"path": "/orders", "methods": ["POST"], "scopes": ["orders:write"]}]


def auth0(issuer: str, audience: str, *, rbac: bool = True) -> dict[str, Any]:
    """Auth0: the issuer ends with a slash; with RBAC on, permissions are a list claim."""
    issuer = issuer.rstrip("/") + "/"
    return {
        "ALGORITHMS": ["RS256"],
        "ISSUER": issuer,
        "AUDIENCE": audience,  # the API's Identifier
        "JWKS_URL": f"{issuer}.well-known/jwks.json",
        "SCOPES_CLAIM": "permissions" if rbac else "scope",
        "RULES": WRITE,
    }


def okta(issuer: str, audience: str = "api://default") -> dict[str, Any]:
    """Okta: a custom authorization server (``…/oauth2/default``); scopes in ``scp``, a list."""
    issuer = issuer.rstrip("/")
    return {
        "ALGORITHMS": ["RS256"],
        "ISSUER": issuer,
        "AUDIENCE": audience,
        "JWKS_URL": f"{issuer}/v1/keys",
        "SCOPES_CLAIM": "scp",
        "RULES": WRITE,
    }


def keycloak(issuer: str, audience: str) -> dict[str, Any]:
    """Keycloak: ``…/realms/REALM``; ``aud`` names the client once an audience mapper adds it."""
    issuer = issuer.rstrip("/")
    return {
        "ALGORITHMS": ["RS256"],
        "ISSUER": issuer,
        "AUDIENCE": audience,
        "JWKS_URL": f"{issuer}/protocol/openid-connect/certs",
        "SCOPES_CLAIM": "scope",
        "RULES": WRITE,
    }


def entra(issuer: str, audience: str, *, app_roles: bool = False) -> dict[str, Any]:
    """Microsoft Entra ID, one tenant, v2 tokens: delegated scopes in ``scp``, app roles in
    ``roles``."""
    issuer = issuer.rstrip("/")  # https://login.microsoftonline.com/TENANT_ID/v2.0
    return {
        "ALGORITHMS": ["RS256"],
        "ISSUER": issuer,
        "AUDIENCE": audience,  # the API's application (client) id, or its api://… URI
        "JWKS_URL": issuer.removesuffix("/v2.0") + "/discovery/v2.0/keys",
        "SCOPES_CLAIM": "roles" if app_roles else "scp",
        "RULES": WRITE,
    }


PROVIDERS = {"auth0": auth0, "okta": okta, "keycloak": keycloak, "entra": entra}


def settings_from_environment() -> dict[str, Any]:
    provider = PROVIDERS[os.environ.get("PROVIDER", "auth0")]
    issuer = os.environ.get("ISSUER", "https://example.us.auth0.com/")
    settings: dict[str, Any] = provider(
        issuer, os.environ.get("AUDIENCE", "https://api.example.com")
    )
    return settings


api = FastAPI(title="orders")
install(api)
ORDERS: list[dict[str, str]] = []


@api.get("/orders")
async def list_orders(identity: Annotated[Identity, Depends(current_identity)]) -> dict[str, Any]:
    return {"subject": identity.subject, "orders": ORDERS}


@api.post("/orders", status_code=201)
async def add_order(identity: Annotated[Identity, Depends(current_identity)]) -> dict[str, str]:
    order = {"by": str(identity.subject)}
    ORDERS.append(order)
    return order


app = JWTGateMiddleware(api, settings_from_environment())
