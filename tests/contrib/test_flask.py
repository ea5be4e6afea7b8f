"""jwtgate.contrib.flask under Flask's test client and a real WSGI server (waitress)."""

from __future__ import annotations

from typing import Any

import flask
import httpx
import pytest
from flask.views import MethodView

from conftest import SECRET, CountingDecisions
from frameworks import (
    Refusal,
    assert_refused,
    bearer,
    in_realm,
    refusal,
    refusals,
    scope_refusal,
    waitress_thread,
)
from jwtgate import ANONYMOUS, ConfigurationError, Settings
from jwtgate.contrib.flask import (
    JWTGate,
    current_identity,
    optional,
    requires_scopes,
)

SETTINGS = {
    "SECRET": SECRET,
    "PUBLIC_PATHS": ["/health"],
    "RULES": [{"path": "/reports/*", "scopes": ["reports"]}],
}


def create_app(calls: list[str], **config: Any) -> flask.Flask:
    """A small app factory using init_app, recording which views ran."""
    app = flask.Flask(__name__)
    app.config["JWTGATE"] = {**SETTINGS, **config}
    jwt = JWTGate()

    def whoami() -> dict[str, Any]:
        return {"subject": current_identity.subject, "scopes": sorted(current_identity.scopes)}

    @app.get("/")
    def index() -> dict[str, Any]:
        calls.append("index")
        return whoami()

    @app.get("/health")
    def health() -> dict[str, Any]:
        calls.append("health")
        return {"ok": True, **whoami()}

    @app.get("/reports/daily")
    def reports() -> dict[str, Any]:
        calls.append("reports")
        return whoami()

    @app.get("/maybe")
    @optional
    def maybe() -> dict[str, Any]:
        calls.append("maybe")
        return whoami()

    @app.get("/maybe-scoped")
    @optional
    @requires_scopes("read")
    def maybe_scoped() -> dict[str, Any]:
        calls.append("maybe-scoped")
        return whoami()

    @app.get("/admin")
    @requires_scopes("admin")
    def admin() -> dict[str, Any]:
        calls.append("admin")
        return whoami()

    @app.get("/async-admin")
    @requires_scopes("admin")
    async def async_admin() -> dict[str, Any]:
        calls.append("async-admin")
        return whoami()

    class Items(MethodView):
        @requires_scopes("write")
        def post(self) -> dict[str, Any]:
            calls.append("items.post")
            return whoami()

    app.add_url_rule("/items", view_func=Items.as_view("items"))

    # Handlers that would turn any exception (or a 401) into something else.
    @app.errorhandler(Exception)
    def crash(error: Exception) -> tuple[str, int]:
        return "handled as 500", 500

    @app.errorhandler(401)
    def unauthorized(error: Exception) -> tuple[str, int]:
        return "custom 401 page", 401

    jwt.init_app(app)
    return app


@pytest.fixture
def calls() -> list[str]:
    """The names of the views that ran."""
    return []


@pytest.fixture
def client(calls: list[str]) -> Any:
    """Flask's test client for the factory-built app."""
    return create_app(calls).test_client()


def test_valid_token_runs_view_with_current_identity(client: Any, calls: list[str]) -> None:
    """A valid token reaches the view, and current_identity is its Identity."""
    response = client.get("/", headers=bearer({"scope": "read write"}))
    assert response.status_code == 200
    assert response.json == {"subject": "alice", "scopes": ["read", "write"]}
    assert calls == ["index"]


@pytest.mark.parametrize("refusal", refusals())
def test_refusals_bypass_error_handlers(client: Any, calls: list[str], refusal: Refusal) -> None:
    """Every refusal is jwtgate's own exact answer, whatever error handlers the app has."""
    response = client.get("/", headers=refusal.headers)
    assert_refused(response, refusal)
    assert calls == []


def test_public_path_and_optional_view(client: Any, calls: list[str]) -> None:
    """Public paths and @optional views run anonymously; a bad token on @optional is still 401."""
    assert client.get("/health").json == {"ok": True, "subject": None, "scopes": []}
    assert client.get("/maybe").json == {"subject": None, "scopes": []}
    assert client.get("/maybe", headers=bearer()).json == {"subject": "alice", "scopes": []}
    malformed = refusal("malformed")
    assert_refused(client.get("/maybe", headers=malformed.headers), malformed)
    assert calls == ["health", "maybe", "maybe"]


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        pytest.param("GET", "/admin", "admin", id="sync-view"),
        pytest.param("GET", "/async-admin", "admin", id="async-view"),
        pytest.param("POST", "/items", "write", id="method-view"),
        pytest.param("GET", "/reports/daily", "reports", id="settings-rule"),
    ],
)
def test_missing_scope_is_403(
    client: Any, calls: list[str], method: str, path: str, scope: str
) -> None:
    """A token without the required scope gets 403 insufficient_scope and the view does not run."""
    response = client.open(path, method=method, headers=bearer({"scope": "read"}))
    assert_refused(response, scope_refusal(scope))
    assert calls == []
    granted = client.open(path, method=method, headers=bearer({"scope": f"read {scope}"}))
    assert granted.status_code == 200
    assert granted.json["scopes"] == sorted(["read", scope])
    assert len(calls) == 1


def test_requires_scopes_without_token_on_optional_view(client: Any, calls: list[str]) -> None:
    """@requires_scopes on an @optional view answers 401 with the bare challenge when anonymous."""
    assert_refused(client.get("/maybe-scoped"), refusal("missing"))
    assert calls == []
    assert client.get("/maybe-scoped", headers=bearer({"scope": "read"})).status_code == 200


def test_extension_state_and_current_identity_outside_requests(calls: list[str]) -> None:
    """init_app keeps state in app.extensions; current_identity is anonymous outside requests."""
    app = create_app(calls)
    assert app.extensions["jwtgate"].gate.settings.public_paths.match("/health")
    assert current_identity.is_authenticated is False
    with app.app_context():
        assert current_identity.subject is None
    with app.test_request_context("/"):
        assert repr(current_identity) == repr(ANONYMOUS)


def test_settings_argument_and_bad_config() -> None:
    """JWTGate(app, settings=...) overrides app.config; bad config fails at init with its id."""
    app = flask.Flask(__name__)
    ran: list[str] = []

    @app.get("/")
    def index() -> str:
        ran.append("index")
        return current_identity.subject or ""

    JWTGate(app, settings=Settings.from_dict({"secret": SECRET, "realm": "flask"}))
    assert_refused(app.test_client().get("/"), in_realm(refusal("missing"), "flask"))
    assert ran == []
    assert app.test_client().get("/", headers=bearer()).data == b"alice"

    broken = flask.Flask(__name__)
    broken.config["JWTGATE"] = {"SECRET": SECRET, "LEEWAYS": 3}
    with pytest.raises(ConfigurationError) as info:
        JWTGate(broken)
    assert info.value.ids == ["jwtgate.E001"]
    assert "JWTGATE['LEEWAYS']" in str(info.value)


@pytest.mark.slow
def test_real_server_waitress(calls: list[str]) -> None:
    """Under waitress on 127.0.0.1 with a real HTTP client: accepted, 401, 403, public."""
    with waitress_thread(create_app(calls)) as base, httpx.Client(base_url=base) as http:
        ok = http.get("/", headers=bearer({"scope": "admin"}))
        assert ok.status_code == 200
        assert ok.json() == {"subject": "alice", "scopes": ["admin"]}

        for row in refusals():
            expected: Refusal = row.values[0]
            assert_refused(http.get("/admin", headers=expected.headers), expected)

        denied = http.get("/admin", headers=bearer({"scope": "read"}))
        assert_refused(denied, scope_refusal("admin"))

        assert http.get("/health").json()["ok"] is True
    assert calls == ["index", "health"]


def test_flask_restful_resources(calls: list[str]) -> None:
    """Flask-RESTful's error handling cannot turn jwtgate's refusals into other answers."""
    flask_restful = pytest.importorskip("flask_restful")

    app = flask.Flask(__name__)
    app.config["JWTGATE"] = SETTINGS
    app.config["PROPAGATE_EXCEPTIONS"] = False
    api = flask_restful.Api(app, catch_all_404s=True)

    class Report(flask_restful.Resource):
        method_decorators = [requires_scopes("reports")]

        def get(self) -> dict[str, Any]:
            calls.append("report")
            return {"subject": current_identity.subject}

    api.add_resource(Report, "/report")
    JWTGate(app)
    client = app.test_client()
    for row in refusals():
        expected: Refusal = row.values[0]
        assert_refused(client.get("/report", headers=expected.headers), expected)
    assert_refused(client.get("/report", headers=bearer()), scope_refusal("reports"))
    assert calls == []
    ok = client.get("/report", headers=bearer({"scope": "reports"}))
    assert ok.json == {"subject": "alice"}
    assert calls == ["report"]


def test_unknown_url_is_refused_before_404() -> None:
    """An unknown URL is refused like any protected path, and is a 404 only with a valid token."""
    app = flask.Flask(__name__)
    JWTGate(app, settings={"SECRET": SECRET})
    client = app.test_client()
    assert_refused(client.get("/no-such-page"), refusal("missing"))
    assert client.get("/no-such-page", headers=bearer()).status_code == 404


def test_a_repeated_token_takes_the_fast_path() -> None:
    """Only the first request of a token is decided in full; rules still apply after it."""
    calls: list[str] = []
    app = create_app(calls)
    counting = CountingDecisions(app.extensions["jwtgate"].gate)
    headers = bearer({"scope": "read"})
    with app.test_client() as http:
        for _ in range(3):
            assert http.get("/", headers=headers).json == {"subject": "alice", "scopes": ["read"]}
        assert http.get("/reports/daily", headers=headers).status_code == 403
    assert calls == ["index"] * 3
    assert counting.calls == 1  # the rule's refusal too is decided on the recalled identity


def test_init_app_twice_replaces_the_settings_and_checks_once() -> None:
    """A second init_app uses its own settings, and each request is still decided once."""
    app = flask.Flask(__name__)
    app.add_url_rule("/", "index", lambda: {"subject": current_identity.subject})
    JWTGate(app, settings={"SECRET": "another-secret-0123456789-abcdefghijklmnopqrstuvwxyz"})
    JWTGate(app, settings={"SECRET": SECRET, "VERIFY_CACHE_SIZE": 0})  # no fast path
    counting = CountingDecisions(app.extensions["jwtgate"].gate)
    with app.test_client() as http:
        assert http.get("/", headers=bearer()).json == {"subject": "alice"}
        assert http.get("/").status_code == 401
    assert counting.calls == 2


def test_flask_cors_decorates_the_preflight_jwtgate_answers() -> None:
    """With Flask-CORS, jwtgate's bare 204 for a preflight leaves with the CORS headers,
    and the view (which serves the requested method) never runs."""
    from flask_cors import CORS

    app = flask.Flask(__name__)
    app.config["JWTGATE"] = {"SECRET": SECRET}
    JWTGate(app)
    CORS(app, origins=["https://a.example"])
    ran: list[str] = []

    @app.route("/data", methods=["GET", "DELETE"])
    def data() -> str:
        ran.append("data")
        return "secret"

    preflight = {"Origin": "https://a.example", "Access-Control-Request-Method": "DELETE"}
    response = app.test_client().open("/data", method="OPTIONS", headers=preflight)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://a.example"
    assert response.data == b""
    assert ran == []


@pytest.mark.parametrize("order", ["below the route", "above the route"])
def test_requires_scopes_holds_on_either_side_of_the_route(order: str) -> None:
    """@requires_scopes above @app.get used to be skipped silently (Flask registered the
    undecorated view): a read-only token got 200. Now both orders give 403, and the
    right token 200."""
    app = flask.Flask(__name__)
    app.config["JWTGATE"] = dict(SETTINGS)
    JWTGate(app)

    def view() -> dict[str, Any]:
        return {"subject": current_identity.subject}

    if order == "below the route":
        app.get("/admin")(requires_scopes("admin")(view))
    else:
        requires_scopes("admin")(app.get("/admin")(view))
    with app.test_client() as http:
        assert http.get("/admin", headers=bearer({"scope": "read"})).status_code == 403
        assert http.get("/admin", headers=bearer({"scope": "admin"})).json == {"subject": "alice"}
        assert http.get("/admin").status_code == 401
