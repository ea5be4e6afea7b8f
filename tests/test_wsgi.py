"""jwtgate.wsgi.JWTGateMiddleware tested bare: plain environs (werkzeug.test), and
wsgiref.validate.validator around both the wrapped app and the middleware."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.validate import validator

import pytest
from werkzeug.test import Client, EnvironBuilder, run_wsgi_app

from conftest import make_settings
from frameworks import (
    Refusal,
    UnreachableKeys,
    assert_refused,
    bearer,
    body,
    challenge,
    in_realm,
    refusal,
    refusals,
    scope_refusal,
    token,
)
from jwtgate import ANONYMOUS, ConfigurationError, Gate, Identity, Verifier
from jwtgate.wsgi import (
    IDENTITY_KEY,
    JWTGateMiddleware,
    environ_key,
    read_request,
    request_info,
)


class Recorder:
    """A WSGI app that records the environs it was called with and answers 200."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        self.calls.append(environ)
        identity = environ.get(IDENTITY_KEY)
        start_response("200 OK", [("Content-Type", "application/json")])
        payload = {
            "subject": identity.subject if identity is not None else "<none>",
            "remote_user": environ.get("REMOTE_USER"),
        }
        return [json.dumps(payload).encode()]

    @property
    def environ(self) -> dict[str, Any]:
        return self.calls[-1]


def wrap(app: Any = None, **settings: Any) -> tuple[JWTGateMiddleware, Recorder]:
    """The middleware over a Recorder (or ``app``), with test settings."""
    inner = app if app is not None else Recorder()
    return JWTGateMiddleware(inner, make_settings(**settings)), inner


def get(app: Any, path: str = "/", **kwargs: Any) -> Any:
    """Call ``app`` through werkzeug's test client; the body is read and the response closed."""
    response = Client(app, use_cookies=False).open(path, **kwargs)
    response.get_data()
    response.close()
    return response


def test_valid_token_reaches_app_with_identity() -> None:
    """A valid bearer token lets the request through with the Identity in the environ."""
    app, inner = wrap()
    response = get(app, headers=bearer({"scope": "read write"}))
    assert response.status_code == 200
    identity = inner.environ[IDENTITY_KEY]
    assert isinstance(identity, Identity)
    assert identity.subject == "alice"
    assert identity.scopes == {"read", "write"}
    assert "REMOTE_USER" not in inner.environ


@pytest.mark.parametrize("refusal", refusals())
def test_refusals(refusal: Refusal) -> None:
    """Every refused request gets the exact status, challenge and JSON body, and no app call."""
    app, inner = wrap()
    response = get(app, headers=refusal.headers)
    assert_refused(response, refusal)
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert inner.calls == []


def test_scope_rule_refuses_with_403() -> None:
    """A rule requiring a scope the token lacks answers 403 insufficient_scope."""
    app, inner = wrap(rules=[{"path": "/admin/*", "scopes": ["admin"]}])
    response = get(app, "/admin/users", headers=bearer({"scope": "read"}))
    assert_refused(response, scope_refusal("admin"))
    assert inner.calls == []
    assert get(app, "/admin/users", headers=bearer({"scope": "admin"})).status_code == 200


def test_public_path_passes_anonymous_without_token() -> None:
    """A public path reaches the app without a token, with the anonymous identity."""
    app, inner = wrap(public_paths=["/health"])
    assert get(app, "/health").status_code == 200
    assert inner.environ[IDENTITY_KEY] is ANONYMOUS


PREFLIGHT = {"Access-Control-Request-Method": "POST", "Origin": "https://a.example"}


def test_preflight_is_answered_and_plain_options_is_refused() -> None:
    """A CORS preflight gets jwtgate's 204 without calling the app; other OPTIONS need a token."""
    app, inner = wrap()
    preflight = get(app, method="OPTIONS", headers=PREFLIGHT)
    assert (preflight.status_code, preflight.data) == (204, b"")
    assert_refused(get(app, method="OPTIONS"), refusal("missing"))
    no_origin = {"Access-Control-Request-Method": "POST"}
    assert_refused(get(app, method="OPTIONS", headers=no_origin), refusal("missing"))
    assert len(inner.calls) == 0


def test_forwarded_preflight_reaches_the_app_anonymously() -> None:
    """cors_preflight='forward' lets a preflight through to a CORS layer behind jwtgate."""
    app, inner = wrap(cors_preflight="forward")
    assert get(app, method="OPTIONS", headers=PREFLIGHT).status_code == 200
    assert inner.environ[IDENTITY_KEY] is ANONYMOUS


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"RAW_URI": "/public/%2e%2e/admin?x=1"}, id="gunicorn-raw-uri"),
        pytest.param({"RAW_URI": "", "REQUEST_URI": "/public/a%2Fb"}, id="uwsgi-request-uri"),
    ],
)
def test_raw_request_target_with_encoded_separators_is_refused(raw: dict[str, str]) -> None:
    """An encoded dot or slash in the raw target is a 400 even though PATH_INFO looks fine."""
    app, inner = wrap(public_paths=["/public/*"])
    response = get(app, path="/public/x", environ_overrides=raw)
    assert response.status_code == 400
    assert "non-canonical request path" in response.headers["WWW-Authenticate"]
    assert len(inner.calls) == 0


def test_optional_credentials() -> None:
    """With credentials_required off, no token is anonymous but a bad token is still 401."""
    app, inner = wrap(credentials_required=False)
    assert get(app).status_code == 200
    assert inner.environ[IDENTITY_KEY] is ANONYMOUS
    malformed = refusal("malformed")
    assert_refused(get(app, headers=malformed.headers), malformed)
    assert len(inner.calls) == 1


def test_custom_header_name_maps_to_environ_key() -> None:
    """A configured header name is read from its HTTP_* key, and Authorization is then ignored."""
    app, inner = wrap(header_name="X-Api-Token")
    response = get(app, headers={"X-Api-Token": f"Bearer {token()}"})
    assert response.status_code == 200
    assert inner.environ[IDENTITY_KEY].subject == "alice"
    assert_refused(get(app, headers=bearer()), refusal("missing"))
    assert len(inner.calls) == 1
    assert environ_key("X-Api-Token") == "HTTP_X_API_TOKEN"


def test_cookie_and_query_sources() -> None:
    """Tokens are found in a cookie or the query when those sources are configured."""
    app, inner = wrap(token_sources=["header", "cookie", "query"])
    assert get(app, headers={"Cookie": f"access_token={token()}"}).status_code == 200
    assert inner.environ[IDENTITY_KEY].subject == "alice"
    assert get(app, query_string={"access_token": token({"sub": "bob"})}).status_code == 200
    assert inner.environ[IDENTITY_KEY].subject == "bob"
    both = get(app, query_string={"access_token": token()}, headers=bearer())
    two = "more than one token in the request"
    assert_refused(
        both, Refusal({}, 400, challenge("invalid_request", two), body("invalid_request", two))
    )
    assert len(inner.calls) == 2


def test_set_remote_user_sets_subject_and_strips_server_value() -> None:
    """With set_remote_user, REMOTE_USER is the subject; a value the server set is never kept."""
    app, inner = wrap(set_remote_user=True, public_paths=["/open"])
    spoof = {"REMOTE_USER": "admin", IDENTITY_KEY: Identity("admin")}
    response = get(app, headers=bearer(), environ_overrides=spoof)
    assert response.json == {"subject": "alice", "remote_user": "alice"}
    response = get(app, "/open", environ_overrides=spoof)
    assert response.json == {"subject": None, "remote_user": None}
    assert "REMOTE_USER" not in inner.environ


def test_identity_cannot_be_spoofed_by_headers_or_environ() -> None:
    """Headers named like the keys, and a pre-set identity key, never reach the app as identity."""
    app, inner = wrap(credentials_required=False)
    response = get(
        app,
        headers={"Remote-User": "admin", "Jwtgate.Identity": "admin"},
        environ_overrides={IDENTITY_KEY: Identity("admin")},
    )
    assert response.json == {"subject": None, "remote_user": None}
    assert inner.environ[IDENTITY_KEY] is ANONYMOUS


def test_remote_user_non_latin1_subject_is_pep3333_encoded() -> None:
    """A non-latin-1 subject lands in REMOTE_USER as UTF-8 bytes in latin-1 clothing."""
    app, inner = wrap(set_remote_user=True)
    get(app, headers=bearer({"sub": "jürgen"}))
    assert inner.environ["REMOTE_USER"].encode("latin-1").decode("utf-8") == "jürgen"
    assert inner.environ[IDENTITY_KEY].subject == "jürgen"


def test_path_info_is_decoded_for_public_paths() -> None:
    """PATH_INFO (latin-1 native string) is decoded as UTF-8 before matching public paths."""
    app, _ = wrap(public_paths=["/café"])
    environ = EnvironBuilder(path="/caf%C3%A9").get_environ()
    assert read_request(environ, app.gate)[1] == "/café"
    assert get(app, "/caf%C3%A9").status_code == 200
    environ["PATH_INFO"] = "/\xff"  # not UTF-8: kept as it is, and not public
    assert read_request(environ, app.gate)[1] == "/\xff"
    with pytest.warns(DeprecationWarning, match="read_request"):
        assert request_info(environ, "HTTP_AUTHORIZATION").path == "/\xff"


class TrackedBody:
    """A response iterable that records whether it was iterated and closed."""

    def __init__(self) -> None:
        self.closed = False
        self.chunks = [b"one ", b"two"]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        self.closed = True


def test_response_iterable_passes_through_untouched() -> None:
    """The wrapped app's iterable is returned as it is, and its close() is reached."""
    tracked = TrackedBody()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return tracked

    middleware, _ = wrap(app)
    environ = EnvironBuilder(headers=bearer()).get_environ()
    assert middleware(environ, lambda *args: None) is tracked
    app_iter, status, _headers = run_wsgi_app(middleware, environ, buffered=False)
    assert status == "200 OK"
    assert b"".join(app_iter) == b"one two"
    app_iter.close()  # type: ignore[attr-defined]
    assert tracked.closed


@pytest.mark.parametrize(
    "headers",
    [pytest.param(bearer, id="accepted"), pytest.param(dict, id="refused")],
)
def test_wsgiref_validator_on_both_sides(headers: Callable[[], dict[str, str]]) -> None:
    """The middleware keeps PEP 3333 on both sides, for accepted and refused requests."""
    tracked = TrackedBody()
    called: list[bool] = []

    def inner(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        called.append(True)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return tracked

    # validator() warns (WSGIWarning) or asserts on any breach; warnings are errors here.
    app = validator(JWTGateMiddleware(validator(inner), make_settings()))
    response = get(app, headers=headers())
    if headers is bearer:
        assert response.status_code == 200
        assert response.data == b"one two"
        assert tracked.closed
    else:
        assert_refused(response, refusal("missing"))
        assert called == []


def test_unreachable_keys_are_503() -> None:
    """Keys that cannot be fetched answer 503 with Retry-After and no challenge; no app call."""
    settings = make_settings()
    inner = Recorder()
    gate = Gate(settings, verifier=Verifier(settings, keys=UnreachableKeys()))
    response = get(JWTGateMiddleware(inner, gate=gate), headers=bearer())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "WWW-Authenticate" not in response.headers
    assert response.json == body("temporarily_unavailable", "signing keys temporarily unavailable")
    assert inner.calls == []


def test_gate_injection_and_settings_dict() -> None:
    """A dict is validated at construction; an injected Gate is used as it is."""
    with pytest.raises(ConfigurationError) as info:
        JWTGateMiddleware(Recorder(), {"secret": "x" * 40, "leeways": 3})
    assert "jwtgate.E001" in info.value.ids
    gate = Gate(make_settings(realm="wsgi"))
    inner = Recorder()
    middleware = JWTGateMiddleware(inner, gate=gate)
    assert middleware.gate is gate
    assert_refused(get(middleware), in_realm(refusal("missing"), "wsgi"))
    assert inner.calls == []


def test_close_closes_the_gates_revocation_store(tmp_path: Any) -> None:
    """JWTGateMiddleware.close() and the endpoints app's close() release their stores."""
    from jwtgate import Sessions
    from jwtgate.endpoints import wsgi_app as token_endpoints

    settings = make_settings(store=f"sqlite:///{tmp_path / 's.db'}", check_revocation=True)
    closed: list[str] = []

    class RecordingGate(Gate):
        def close(self) -> None:
            closed.append("gate")
            super().close()

    middleware = JWTGateMiddleware(lambda environ, start: [], gate=RecordingGate(settings))
    middleware.close()
    endpoints = token_endpoints(settings, lambda username, password: None)
    sessions: Sessions = endpoints.endpoints.sessions
    original = sessions.close
    sessions.close = lambda: (closed.append("sessions"), original())[1]  # type: ignore[method-assign]
    endpoints.close()
    assert closed == ["gate", "sessions"]


def test_settings_or_gate_exactly_one() -> None:
    """As in the ASGI middleware: neither or both of settings= and gate= is a TypeError."""
    with pytest.raises(TypeError, match="needs settings"):
        JWTGateMiddleware(Recorder())
    with pytest.raises(TypeError, match="not both"):
        JWTGateMiddleware(Recorder(), settings=make_settings(), gate=Gate(make_settings()))


def test_a_head_refusal_sends_the_get_headers_and_no_body() -> None:
    """HEAD refused: the status and headers a GET gets (Content-Length included), and no
    body, for servers that send whatever the app returns after a HEAD answer."""
    middleware, _ = wrap()
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((status, headers))

    head = EnvironBuilder(path="/private", method="HEAD").get_environ()
    get = EnvironBuilder(path="/private", method="GET").get_environ()
    assert b"".join(middleware(head, start_response)) == b""
    body = b"".join(middleware(get, start_response))
    assert json.loads(body)["error"]
    (head_status, head_headers), (get_status, get_headers) = started
    assert head_status == get_status == "401 Unauthorized"
    assert head_headers == get_headers
