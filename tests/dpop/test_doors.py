"""Every door reaches the same DPoP decision: Flask's extension, FastAPI's
dependency-only mode, Starlette's backend, Django's middleware."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from jwtgate import Identity
from jwtgate.contrib.fastapi import JWTGateAuth, install
from jwtgate.testing import dpop_key

from .support import SECRET, dpop_settings, mint

SETTINGS = {"SECRET": SECRET, "DPOP": "allow"}
URL = "http://testserver/me"
FLASK_URL = "http://localhost/me"  # Flask's test client addresses localhost


@pytest.fixture
def key_and_token() -> tuple[Any, str]:
    key = dpop_key()
    return key, mint(dpop_settings(), key, clock=time.time)


def _headers(key: Any, token: str, method: str = "GET", url: str = URL) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": key.proof(method, url, token)}


def test_flask(key_and_token: tuple[Any, str]) -> None:
    import flask

    from jwtgate.contrib.flask import JWTGate, current_identity

    app = flask.Flask(__name__)
    app.config["JWTGATE"] = SETTINGS
    JWTGate(app)

    @app.get("/me")
    def me() -> str:
        return str(current_identity.subject)

    key, token = key_and_token
    client = app.test_client()
    assert client.get("/me", headers=_headers(key, token, url=FLASK_URL)).get_data() == b"alice"
    refused = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith('DPoP algs="')
    wrong = client.get("/me", headers=_headers(key, token, "POST"))
    assert wrong.get_json()["error"] == "invalid_dpop_proof"


def test_fastapi_dependencies(key_and_token: tuple[Any, str]) -> None:
    auth = JWTGateAuth(SETTINGS)
    app = FastAPI()
    install(app)

    @app.get("/me")
    async def me(identity: Identity = Depends(auth.current_identity)) -> str:  # noqa: B008
        return identity.subject or ""

    key, token = key_and_token
    with TestClient(app) as http:
        assert http.get("/me", headers=_headers(key, token)).json() == "alice"
        refused = http.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_token"
        proof = _headers(key, token, url="http://testserver/other")
        assert http.get("/me", headers=proof).json()["error"] == "invalid_dpop_proof"


def test_starlette_backend(key_and_token: tuple[Any, str]) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from jwtgate.contrib.starlette import authentication_middleware

    async def me(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.user.subject)

    app = Starlette(routes=[Route("/me", me)], middleware=[authentication_middleware(SETTINGS)])
    key, token = key_and_token
    with TestClient(app) as http:
        assert http.get("/me", headers=_headers(key, token)).text == "alice"
        assert http.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_nonce_reaches_the_client_through_every_door_header() -> None:
    """The DPoP-Nonce header of a use_dpop_nonce answer survives Flask's response."""
    import flask

    from jwtgate.contrib.flask import JWTGate

    app = flask.Flask(__name__)
    app.config["JWTGATE"] = {**SETTINGS, "DPOP_NONCE": "n" * 32}
    JWTGate(app)
    app.add_url_rule("/me", "me", lambda: "ok")
    key = dpop_key()
    token = mint(dpop_settings(), key, clock=time.time)
    answer = app.test_client().get("/me", headers=_headers(key, token, url=FLASK_URL))
    assert answer.status_code == 401
    assert answer.get_json()["error"] == "use_dpop_nonce"
    nonce = answer.headers["DPoP-Nonce"]
    proof = key.proof("GET", FLASK_URL, token, nonce=nonce)
    again = app.test_client().get("/me", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert again.get_data() == b"ok"
