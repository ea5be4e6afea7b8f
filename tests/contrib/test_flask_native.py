"""Flask speaks Flask (#15 item 6): a missing or mis-spelt JWTGATE config is named, with
hints for Flask-JWT-Extended's keys; a user loader and current_user; the token endpoints
as a Blueprint that Flask's hooks and extensions cover."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, g

from conftest import SECRET
from jwtgate import ConfigurationError, Settings, Verifier
from jwtgate.contrib.flask import JWTGate, current_identity, current_user, optional
from jwtgate.contrib.flask_tokens import token_blueprint
from jwtgate.testing import TokenFactory

SETTINGS = {"SECRET": SECRET, "STORE": "memory://flask-native"}
USERS = {"alice": {"name": "Alice"}}


def authenticate(username: str, password: str) -> str | None:
    return username if password == "wonderland" else None


# -- the config is named -----------------------------------------------------------


def test_a_missing_config_is_named() -> None:
    app = Flask(__name__)
    with pytest.raises(ConfigurationError) as caught:
        JWTGate(app)
    assert caught.value.ids == ["jwtgate.E028"]
    assert "app.config['JWTGATE'] is missing" in str(caught.value)


@pytest.mark.parametrize("key", ["jwtgate", "JwtGate"])
def test_a_mis_cased_config_is_named(key: str) -> None:
    app = Flask(__name__)
    app.config[key] = SETTINGS
    with pytest.raises(ConfigurationError, match="E028") as caught:
        JWTGate(app)
    assert f"Rename app.config['{key}'] to app.config['JWTGATE']" in str(caught.value)


def test_flask_jwt_extended_keys_get_migration_hints() -> None:
    app = Flask(__name__)
    app.config.update(JWT_SECRET_KEY="s" * 32, JWT_ACCESS_TOKEN_EXPIRES=900, JWT_COOKIE_SECURE=True)
    with pytest.raises(ConfigurationError) as caught:
        JWTGate(app)
    assert caught.value.ids == ["jwtgate.E028", "jwtgate.E002", "jwtgate.E002"]
    text = str(caught.value)
    assert "Set app.config['JWTGATE']['SECRET'] instead" in text
    assert "Set app.config['JWTGATE']['ACCESS_TOKEN_TTL'] instead" in text


def test_simplejwt_signing_key_points_at_secret() -> None:
    with pytest.raises(ConfigurationError, match="E002") as caught:
        Settings.from_dict({"SIGNING_KEY": "s" * 32})
    assert "Use JWTGATE['SECRET'] instead" in str(caught.value)


# -- the user loader ----------------------------------------------------------------


def user_app() -> tuple[Flask, JWTGate, list[str]]:
    app = Flask(__name__)
    app.config["JWTGATE"] = SETTINGS
    jwtgate = JWTGate(app)
    loaded: list[str] = []

    @jwtgate.user_loader
    def load(identity: Any) -> Any:
        loaded.append(identity.subject)
        return USERS.get(identity.subject)

    @app.get("/me")
    def me() -> dict[str, Any]:
        return {"name": current_user["name"], "again": current_user["name"]}

    @app.get("/maybe")
    @optional
    def maybe() -> dict[str, Any]:
        return {"user": bool(current_user), "subject": current_identity.subject}

    return app, jwtgate, loaded


def bearer(subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TokenFactory(SETTINGS)(subject)}"}


def test_current_user_is_loaded_once_per_request() -> None:
    app, _, loaded = user_app()
    answer = app.test_client().get("/me", headers=bearer("alice"))
    assert answer.status_code == 200
    assert answer.get_json() == {"name": "Alice", "again": "Alice"}
    assert loaded == ["alice"]


def test_a_token_for_no_user_is_401_invalid_token() -> None:
    app, _, _ = user_app()
    answer = app.test_client().get("/me", headers=bearer("mallory"))
    assert answer.status_code == 401
    challenge = answer.headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in challenge
    assert 'error_description="unknown or inactive user"' in challenge


def test_without_a_token_current_user_is_none_and_nothing_is_loaded() -> None:
    app, _, loaded = user_app()
    answer = app.test_client().get("/maybe")
    assert answer.get_json() == {"user": False, "subject": None}
    assert loaded == []


def test_current_user_without_a_loader_is_a_bug() -> None:
    app = Flask(__name__)
    app.config["JWTGATE"] = SETTINGS
    JWTGate(app)

    @app.get("/me")
    def me() -> str:
        return str(current_user)

    app.testing = True  # the bug propagates to the test instead of becoming a 500
    with pytest.raises(RuntimeError, match="user_loader"):
        app.test_client().get("/me", headers=bearer("alice"))


# -- the token endpoints as a Blueprint ---------------------------------------------


def token_app(prefix: str = "/auth", **options: Any) -> tuple[Flask, list[str]]:
    app = Flask(__name__)
    app.config["JWTGATE"] = {**SETTINGS, "STORE": f"memory://flask-bp-{prefix}"}
    JWTGate(app)
    app.register_blueprint(token_blueprint(authenticate, **options), url_prefix=prefix)
    hooks: list[str] = []

    @app.before_request
    def before() -> None:
        hooks.append(f"before {g.get('_jwtgate').is_authenticated}")

    @app.get("/orders")
    def orders() -> dict[str, Any]:
        return {"subject": current_identity.subject}

    return app, hooks


@pytest.mark.parametrize("prefix", ["/auth", "/api/v2/session"])
def test_the_blueprint_serves_every_route_under_its_url_prefix(prefix: str) -> None:
    app, hooks = token_app(prefix)
    client = app.test_client()
    login = client.post(f"{prefix}/token", json={"username": "alice", "password": "wonderland"})
    assert login.status_code == 200
    pair = login.get_json()
    access = {"Authorization": f"Bearer {pair['access_token']}"}
    assert client.get("/orders", headers=access).get_json() == {"subject": "alice"}
    refreshed = client.post(f"{prefix}/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 200
    new = refreshed.get_json()
    verify = client.post(f"{prefix}/verify", json={"token": new["access_token"]})
    assert verify.get_json()["sub"] == "alice"
    fresh = {"Authorization": f"Bearer {new['access_token']}"}
    assert client.post(f"{prefix}/logout-all", headers=fresh).status_code == 204
    replay = client.post(f"{prefix}/refresh", json={"refresh_token": pair["refresh_token"]})
    assert replay.status_code == 400
    wrong = client.post(f"{prefix}/token", json={"username": "alice", "password": "no"})
    assert wrong.status_code == 400
    assert hooks[0] == "before False"  # Flask's hooks run for the token routes


def test_flask_cors_covers_the_blueprint() -> None:
    from flask_cors import CORS

    app, _ = token_app()
    CORS(app, origins=["https://app.example.com"])
    answer = app.test_client().post(
        "/auth/token",
        json={"username": "alice", "password": "wonderland"},
        headers={"Origin": "https://app.example.com"},
    )
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "https://app.example.com"


def test_cookie_mode_scopes_the_cookie_to_the_url_prefix() -> None:
    app, _ = token_app("/api/session", cookie=True)
    answer = app.test_client().post(
        "/api/session/token", json={"username": "alice", "password": "wonderland"}
    )
    cookies = answer.headers.getlist("Set-Cookie")
    refresh = next(c for c in cookies if c.startswith("jwtgate_refresh="))
    assert "Path=/api/session" in refresh
    assert "refresh_token" not in answer.get_json()


def test_the_blueprint_refuses_a_prefix_and_a_missing_store() -> None:
    with pytest.raises(TypeError, match="url_prefix"):
        token_blueprint(authenticate, prefix="/auth")  # type: ignore[call-arg]
    app = Flask(__name__)
    app.config["JWTGATE"] = {"SECRET": SECRET}
    JWTGate(app)
    with pytest.raises(ConfigurationError, match="E062"):
        app.register_blueprint(token_blueprint(authenticate), url_prefix="/auth")


def test_tokens_from_the_blueprint_verify_with_the_apps_settings() -> None:
    app, _ = token_app()
    pair = (
        app.test_client()
        .post("/auth/token", json={"username": "alice", "password": "wonderland"})
        .get_json()
    )
    assert Verifier(Settings.from_dict(SETTINGS)).verify(pair["access_token"]).subject == "alice"


def test_a_refresh_carrying_a_stale_access_token_reaches_the_blueprint() -> None:
    """Clients often send their (expired) access token along with every request: the
    extension must not refuse the refresh for it; logout still judges the token."""
    app, _ = token_app("/stale")
    client = app.test_client()
    pair = client.post("/stale/token", json={"username": "alice", "password": "wonderland"})
    stale = {"Authorization": f"Bearer {TokenFactory(SETTINGS).expired('alice')}"}
    body = {"refresh_token": pair.get_json()["refresh_token"]}
    assert client.post("/stale/refresh", json=body, headers=stale).status_code == 200
    refused = client.post("/stale/logout", headers=stale)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


def test_an_oversized_body_to_the_blueprint_is_413() -> None:
    """A body past the endpoints' cap is a 413 (the Blueprint reads one byte past it)."""
    app, _ = token_app("/big")
    answer = app.test_client().post(
        "/big/token", data=b"{" + b" " * 5_000_000 + b"}", content_type="application/json"
    )
    assert answer.status_code == 413


def test_a_token_route_refusal_about_the_path_is_kept() -> None:
    """Only refusals about the token are waived for the token routes: a malformed
    request (a non-canonical path) is still the door's 400."""
    from jwtgate.errors import MissingToken, NonCanonicalPath
    from jwtgate.http import Rejection

    assert Rejection(401, (), b"", MissingToken()).about_the_token
    assert not Rejection(400, (), b"", NonCanonicalPath()).about_the_token
