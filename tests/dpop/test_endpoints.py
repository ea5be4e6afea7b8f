"""jwtgate's own token endpoints issue DPoP-bound tokens for a proof, and a refresh
keeps the binding: it needs a proof by the same key."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.test import Client

from jwtgate import Verifier
from jwtgate.endpoints import asgi_app, wsgi_app
from jwtgate.testing import dpop_key

from .support import dpop_settings

BASE = "http://auth.example"


def authenticate(username: str, password: str) -> str | None:
    return username if password == "right" else None


class Door:
    """POST to the token endpoints, through the raw ASGI or WSGI app."""

    def __init__(self, kind: str, settings: Any) -> None:
        self.kind = kind
        if kind == "asgi":
            self.app: Any = asgi_app(settings, authenticate)
        else:
            self.app = wsgi_app(settings, authenticate)

    def post(
        self, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        data = json.dumps(body).encode()
        headers = {"content-type": "application/json", **headers}
        if self.kind == "asgi":

            async def send() -> httpx.Response:
                transport = httpx.ASGITransport(app=self.app)
                async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
                    return await client.post(path, content=data, headers=headers)

            response = asyncio.run(send())
            return response.status_code, response.json(), dict(response.headers)
        answer = Client(self.app).post(path, data=data, headers=headers, base_url=BASE)
        return answer.status_code, answer.get_json(), {k.lower(): v for k, v in answer.headers}


@pytest.fixture(params=["asgi", "wsgi"])
def door(request: pytest.FixtureRequest, tmp_path: Path) -> Door:
    return Door(str(request.param), dpop_settings(store=f"sqlite:///{tmp_path}/s.db"))


def test_a_proof_at_login_binds_both_tokens_and_refresh_keeps_it(door: Door) -> None:
    key = dpop_key()
    login = {"username": "alice", "password": "right"}
    status, body, _ = door.post(
        "/auth/token", login, {"DPoP": key.proof("POST", f"{BASE}/auth/token")}
    )
    assert (status, body["token_type"]) == (200, "DPoP")
    access = Verifier(dpop_settings()).verify(body["access_token"])
    assert access.claims["cnf"] == {"jkt": key.jkt}
    refresh = {"refresh_token": body["refresh_token"]}
    # Without a proof, or with another key's, the bound refresh token is refused.
    status, refused, _ = door.post("/auth/refresh", refresh, {})
    assert (status, refused["error"]) == (400, "invalid_dpop_proof")
    other = dpop_key().proof("POST", f"{BASE}/auth/refresh")
    status, refused, _ = door.post("/auth/refresh", refresh, {"DPoP": other})
    assert (status, refused) == (
        400,
        {
            "error": "invalid_dpop_proof",
            "error_description": "DPoP proof key does not match the token",
        },
    )
    status, again, _ = door.post(
        "/auth/refresh", refresh, {"DPoP": key.proof("POST", f"{BASE}/auth/refresh")}
    )
    assert (status, again["token_type"]) == (200, "DPoP")
    assert Verifier(dpop_settings()).verify(again["access_token"]).claims["cnf"] == {"jkt": key.jkt}


def test_without_a_proof_tokens_stay_bearer_tokens(door: Door) -> None:
    status, body, _ = door.post("/auth/token", {"username": "bob", "password": "right"}, {})
    assert (status, body["token_type"]) == (200, "Bearer")
    assert "cnf" not in Verifier(dpop_settings()).verify(body["access_token"]).claims


def test_a_bad_proof_at_login_is_refused(door: Door) -> None:
    key = dpop_key()
    login = {"username": "alice", "password": "right"}
    wrong = key.proof("GET", f"{BASE}/auth/token")
    status, body, _ = door.post("/auth/token", login, {"DPoP": wrong})
    assert (status, body["error"]) == (400, "invalid_dpop_proof")
    proof = key.proof("POST", f"{BASE}/auth/token")
    assert door.post("/auth/token", login, {"DPoP": proof})[0] == 200
    status, body, _ = door.post("/auth/token", login, {"DPoP": proof})  # replayed
    assert (status, body["error_description"]) == (400, "DPoP proof already used")


def test_a_nonce_is_asked_for_at_the_token_endpoint(tmp_path: Path) -> None:
    settings = dpop_settings(store=f"sqlite:///{tmp_path}/s.db", dpop_nonce="n" * 32)
    door = Door("wsgi", settings)
    key = dpop_key()
    login = {"username": "alice", "password": "right"}
    status, body, headers = door.post(
        "/auth/token", login, {"DPoP": key.proof("POST", f"{BASE}/auth/token")}
    )
    assert (status, body["error"]) == (400, "use_dpop_nonce")
    proof = key.proof("POST", f"{BASE}/auth/token", nonce=headers["dpop-nonce"])
    assert door.post("/auth/token", login, {"DPoP": proof})[0] == 200
