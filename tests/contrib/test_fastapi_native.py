"""FastAPI and Starlette speak their own idioms (#15 item 3): dependency-only mode with
required, optional and scoped routes; an optional identity on a public path behind the
middleware; exact OpenAPI security; the token endpoints in OpenAPI with the OAuth2
password form;"""

from __future__ import annotations

from typing import Annotated, Any

import pytest

pytest.importorskip("fastapi")

from fastapi import Depends, FastAPI, WebSocket
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from conftest import SECRET
from jwtgate import Identity
from jwtgate.asgi import JWTGateMiddleware
from jwtgate.contrib.fastapi import (
    JWTGateAuth,
    install,
    optional_identity,
    require_scopes,
    token_router,
)
from jwtgate.testing import TokenFactory

SETTINGS = {"SECRET": SECRET}
tokens = TokenFactory(SETTINGS)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# Module-level: FastAPI resolves the (string) annotations in the module's globals.
auth = JWTGateAuth(SETTINGS)


def dependency_only_app() -> FastAPI:
    app = FastAPI()
    install(app, token_url="/auth/token")

    @app.get("/me")
    async def me(identity: Annotated[Identity, Depends(auth.current_identity)]) -> dict[str, Any]:
        return {"subject": identity.subject}

    @app.get("/feed")
    async def feed(
        identity: Annotated[Identity, Depends(auth.optional_identity)],
    ) -> dict[str, Any]:
        return {"subject": identity.subject}

    @app.delete("/items/{item}", dependencies=[Depends(auth.requires_scopes("admin"))])
    async def delete(item: int) -> dict[str, int]:
        return {"deleted": item}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"ok": "yes"}

    @app.websocket("/ws")
    async def ws(
        websocket: WebSocket, identity: Annotated[Identity, Depends(auth.current_identity)]
    ) -> None:
        await websocket.accept()
        await websocket.send_text(str(identity.subject))
        await websocket.close()

    return app


def test_dependency_only_mode_needs_no_middleware() -> None:
    client = TestClient(dependency_only_app())
    assert client.get("/me").status_code == 401
    assert client.get("/me").headers["www-authenticate"] == 'Bearer realm="api"'
    assert client.get("/me", headers=bearer(tokens("alice"))).json() == {"subject": "alice"}
    assert client.get("/feed").json() == {"subject": None}
    assert client.get("/feed", headers=bearer(tokens("alice"))).json() == {"subject": "alice"}
    assert client.get("/feed", headers=bearer(tokens.forged("alice"))).status_code == 401
    assert (
        client.delete("/items/3", headers=bearer(tokens("bob", scopes=["read"]))).status_code == 403
    )
    assert client.delete("/items/3", headers=bearer(tokens("bob", scopes=["admin"]))).json() == {
        "deleted": 3
    }
    assert client.get("/health").status_code == 200


def test_dependency_only_mode_on_a_websocket() -> None:
    client = TestClient(dependency_only_app())
    with client.websocket_connect("/ws", headers=bearer(tokens("alice"))) as socket:
        assert socket.receive_text() == "alice"
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws"):
        pass
    assert refused.value.code == 1008


def test_openapi_says_exactly_which_operations_need_what() -> None:
    schema = TestClient(dependency_only_app()).get("/openapi.json").json()
    paths = schema["paths"]
    assert paths["/me"]["get"]["security"] == [{"jwtgate": []}]
    assert "401" in paths["/me"]["get"]["responses"]
    assert "403" not in paths["/me"]["get"]["responses"]
    assert paths["/feed"]["get"]["security"] == [{}, {"jwtgate": []}]
    assert paths["/items/{item}"]["delete"]["security"] == [{"jwtgate": []}]
    assert {"401", "403"} <= set(paths["/items/{item}"]["delete"]["responses"])
    assert "security" not in paths["/health"]["get"]
    scheme = schema["components"]["securitySchemes"]["jwtgate"]
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"] == "/auth/token"


def test_behind_the_middleware_an_optional_route_on_a_public_path_sees_a_valid_token() -> None:
    app = FastAPI()
    install(app)

    @app.get("/public/feed")
    async def feed(identity: Annotated[Identity, Depends(optional_identity)]) -> dict[str, Any]:
        return {"subject": identity.subject}

    client = TestClient(JWTGateMiddleware(app, {**SETTINGS, "PUBLIC_PATHS": ["/public/*"]}))
    assert client.get("/public/feed").json() == {"subject": None}
    assert client.get("/public/feed", headers=bearer(tokens("alice"))).json() == {
        "subject": "alice"
    }
    assert client.get("/public/feed", headers=bearer(tokens.forged())).status_code == 401


def test_require_scopes_is_a_deprecated_alias() -> None:
    with pytest.warns(DeprecationWarning, match="requires_scopes"):
        require_scopes("admin")


# -- the token endpoints as a router --------------------------------------------------


def token_app(**options: Any) -> TestClient:
    app = FastAPI()
    install(app, token_url="/auth/token")
    settings = {**SETTINGS, "STORE": "memory://fastapi-router"}

    def authenticate(username: str, password: str) -> str | None:
        return username if password == "wonderland" else None

    app.include_router(token_router(settings, authenticate, **options), prefix="/auth")
    return TestClient(app)


def test_the_token_routes_are_in_openapi() -> None:
    paths = token_app().get("/openapi.json").json()["paths"]
    for route in ("token", "refresh", "logout", "logout-all", "verify"):
        assert "post" in paths[f"/auth/{route}"]
    body = paths["/auth/token"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/x-www-form-urlencoded"} <= set(body)


def test_swaggers_password_form_logs_in_and_json_still_does() -> None:
    client = token_app()
    form = {"grant_type": "password", "username": "alice", "password": "wonderland"}
    answer = client.post("/auth/token", data=form)
    assert answer.status_code == 200
    assert answer.json()["token_type"] == "Bearer"
    json_login = client.post("/auth/token", json={"username": "alice", "password": "wonderland"})
    refreshed = client.post(
        "/auth/refresh", json={"refresh_token": json_login.json()["refresh_token"]}
    )
    assert refreshed.status_code == 200
    assert client.post("/auth/token", data={**form, "password": "no"}).status_code == 400


@pytest.mark.parametrize(
    ("form", "error"),
    [
        (
            {"grant_type": "client_credentials", "username": "a", "password": "b"},
            "unsupported_grant_type",
        ),
        ({"username": "alice", "password": "wonderland"}, "unsupported_grant_type"),
    ],
)
def test_a_form_without_the_password_grant_is_refused(form: dict[str, str], error: str) -> None:
    answer = token_app().post("/auth/token", data=form)
    assert answer.status_code == 400
    assert answer.json()["error"] == error


def test_cookie_mode_takes_no_form() -> None:
    """A cross-site HTML form could log a browser in to a cookie session: JSON only."""
    client = token_app(cookie=True, secure=False)
    form = {"grant_type": "password", "username": "alice", "password": "wonderland"}
    assert client.post("/auth/token", data=form).status_code == 415


def test_public_paths_are_refused_by_dependency_only_mode() -> None:
    """JWTGateAuth cannot honour PUBLIC_PATHS (routes say what they need): it says so at
    startup instead of ignoring them."""
    from jwtgate import ConfigurationError

    with pytest.raises(ConfigurationError, match="E091") as caught:
        JWTGateAuth({**SETTINGS, "PUBLIC_PATHS": ["/health"]})
    assert "optional_identity" in str(caught.value)


def test_an_oversized_body_to_the_router_is_413() -> None:
    answer = token_app().post(
        "/auth/token",
        content=b"{" + b" " * 5_000_000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 413
