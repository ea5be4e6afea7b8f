"""The Gate: one decision per request, identical for the sync and async paths."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from conftest import NOW, SECRET, FakeClock, make_settings, make_token
from jwtgate import ANONYMOUS, Gate, Identity, Rejection, RequestInfo, Verifier
from jwtgate.errors import PreflightAnswered
from jwtgate.keys import StaticKeys, VerificationKey

GOOD = make_token({"scope": "read"})
ADMIN = make_token({"scope": "read admin"})
BAD = make_token(key="a-different-secret-which-signs-nothing-we-accept")
OTHER = make_token({"sub": "bob"})
CHALLENGE = 'Bearer realm="api"'
INVALID = 'Bearer realm="api", error="invalid_token", error_description='


def gate(**overrides: Any) -> Gate:
    """A Gate on HS256 test settings with a fake clock."""
    return Gate(make_settings(**overrides), clock=FakeClock())


def request(
    path: str = "/items",
    method: str = "GET",
    *,
    header: str | None = None,
    headers: tuple[str, ...] = (),
    cookie: str | None = None,
    query: str = "",
    preflight: bool = False,
    raw_path: str | None = None,
) -> RequestInfo:
    """A RequestInfo; ``header`` is a token sent as ``Authorization: Bearer <token>``."""
    authorization = headers or ((f"Bearer {header}",) if header is not None else ())
    return RequestInfo(method, path, authorization, cookie, query, preflight, raw_path)


def decide_both(g: Gate, req: RequestInfo) -> Identity | Rejection:
    """The Gate's sync answer, checked to equal its async answer."""
    sync = g.decide(req)
    async_ = asyncio.run(g.decide_async(req))
    assert type(sync) is type(async_)
    if isinstance(sync, Rejection):
        assert isinstance(async_, Rejection)
        assert (sync.status, sync.headers, sync.body) == (
            async_.status,
            async_.headers,
            async_.body,
        )
    else:
        assert isinstance(async_, Identity)
        assert sync.subject == async_.subject
    return sync


def rejected(answer: Identity | Rejection, status: int, www_authenticate: str | None) -> Rejection:
    """Assert ``answer`` is a Rejection with this status and exact challenge."""
    assert isinstance(answer, Rejection), answer
    assert answer.status == status
    assert dict(answer.headers).get("www-authenticate") == www_authenticate
    return answer


def subject(answer: Identity | Rejection) -> str | None:
    """The subject the Gate let through (None for anonymous); fails on a Rejection."""
    assert isinstance(answer, Identity), getattr(answer, "body", answer)
    return answer.subject


# -- the basics ----------------------------------------------------------------------------


def test_valid_header_token_passes() -> None:
    """A valid Bearer token yields its identity."""
    answer = decide_both(gate(), request(header=GOOD))
    assert subject(answer) == "alice"
    assert isinstance(answer, Identity)
    assert answer.scopes == {"read"}


def test_missing_token_is_401_without_error_code() -> None:
    """No credentials: 401 with a bare challenge."""
    answer = rejected(decide_both(gate(), request()), 401, CHALLENGE)
    assert json.loads(answer.body)["error"] == "authentication_required"


def test_invalid_token_is_401_invalid_token() -> None:
    """A token with a bad signature: 401 invalid_token."""
    rejected(
        decide_both(gate(), request(header=BAD)),
        401,
        INVALID + '"signature verification failed"',
    )


def test_expired_token_on_the_gates_clock() -> None:
    """The Gate verifies against its clock: expired tokens are refused."""
    clock = FakeClock(NOW + 301)
    g = Gate(make_settings(), clock=clock)
    rejected(decide_both(g, request(header=GOOD)), 401, INVALID + '"token expired"')


def test_realm_comes_from_settings() -> None:
    """The challenge names the configured realm."""
    answer = decide_both(gate(realm="shop"), request())
    rejected(answer, 401, 'Bearer realm="shop"')


def test_gate_accepts_a_settings_dict() -> None:
    """A plain dict is validated into Settings by the Gate."""
    g = Gate({"secret": SECRET}, clock=FakeClock())
    assert subject(g.decide(request(header=GOOD))) == "alice"


# -- header parsing through the Gate --------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status", "www_authenticate"),
    [
        pytest.param((f"bearer {GOOD}",), None, None, id="lower-case-scheme"),
        pytest.param(("Basic dXNlcjpwYXNz",), 401, CHALLENGE, id="other-scheme-is-no-token"),
        pytest.param(
            (f"Bearer {GOOD}", f"Bearer {GOOD}"),
            400,
            'Bearer realm="api", error="invalid_request", '
            'error_description="more than one authorization header"',
            id="two-headers",
        ),
        pytest.param(
            ("Bearer",),
            400,
            'Bearer realm="api", error="invalid_request", error_description="missing token"',
            id="empty-token",
        ),
        pytest.param(
            ("Bearer a b",),
            400,
            'Bearer realm="api", error="invalid_request", '
            'error_description="malformed authorization header"',
            id="non-token68",
        ),
        pytest.param(("Bearer " + "a" * 8193,), 401, INVALID + '"token too large"', id="oversized"),
    ],
)
def test_header_table(headers: tuple[str, ...], status: int | None, www_authenticate: str) -> None:
    """Header shapes map to pass, 400 invalid_request or 401."""
    answer = decide_both(gate(), request(headers=headers))
    if status is None:
        assert subject(answer) == "alice"
    else:
        rejected(answer, status, www_authenticate)


# -- sources -----------------------------------------------------------------------------------


def test_cookie_source() -> None:
    """With token_sources ["cookie"], the cookie carries the token and the header is ignored."""
    g = gate(token_sources=["cookie"])
    assert subject(decide_both(g, request(cookie=f"access_token={GOOD}"))) == "alice"
    rejected(decide_both(g, request(header=GOOD)), 401, CHALLENGE)


def test_custom_cookie_name() -> None:
    """cookie_name names the cookie."""
    g = gate(token_sources=["cookie"], cookie_name="jwt")
    assert subject(decide_both(g, request(cookie=f"access_token=x; jwt={GOOD}"))) == "alice"


def test_query_source() -> None:
    """With "query" among the sources, the query parameter carries the token."""
    g = gate(token_sources=["header", "query"], query_param="token")
    assert subject(decide_both(g, request(query=f"token={GOOD}"))) == "alice"
    rejected(decide_both(gate(), request(query=f"access_token={GOOD}")), 401, CHALLENGE)


def test_header_and_query_is_400() -> None:
    """A token in the header and another in the query: 400 invalid_request."""
    g = gate(token_sources=["header", "query"])
    answer = decide_both(g, request(header=GOOD, query=f"access_token={GOOD}"))
    rejected(
        answer,
        400,
        'Bearer realm="api", error="invalid_request", '
        'error_description="more than one token in the request"',
    )


@pytest.mark.parametrize(
    "sources", [["header", "cookie"], ["cookie", "header"]], ids=["header-first", "cookie-first"]
)
def test_header_beats_cookie(sources: list[str]) -> None:
    """An explicit header token wins over the ambient cookie, whatever the order of sources."""
    g = gate(token_sources=sources)
    answer = decide_both(g, request(header=OTHER, cookie=f"access_token={BAD}"))
    assert subject(answer) == "bob"


def test_a_header_token_means_the_cookie_is_not_read() -> None:
    """An oversized cookie cannot refuse a request whose header carries the token."""
    g = gate(token_sources=["cookie", "header"])
    huge = "access_token=" + "x" * 9000
    assert subject(decide_both(g, request(header=GOOD, cookie=huge))) == "alice"
    rejected(decide_both(g, request(cookie=huge)), 401, INVALID + '"token too large"')


def test_cookie_and_query_follow_source_order() -> None:
    """Between cookie and query the first configured source wins."""
    g = gate(token_sources=["query", "cookie"])
    req = request(cookie=f"access_token={GOOD}", query=f"access_token={OTHER}")
    assert subject(decide_both(g, req)) == "bob"


# -- public paths and preflight ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "public"),
    [
        pytest.param("/health", True, id="exact"),
        pytest.param("/healthz", False, id="exact-is-not-prefix"),
        pytest.param("/public/a/b.css", True, id="glob-crosses-slash"),
        pytest.param("/public", False, id="glob-needs-its-slash"),
        pytest.param("/v2/status", True, id="regex"),
        pytest.param("/v2/status/x", False, id="regex-anchored"),
        pytest.param("/items", False, id="protected"),
    ],
)
def test_public_paths(path: str, public: bool) -> None:
    """Public paths pass without a token; other paths need one."""
    g = gate(public_paths=["/health", "/public/*", "re:^/v[0-9]+/status$"])
    answer = decide_both(g, request(path))
    if public:
        assert answer is ANONYMOUS
    else:
        rejected(answer, 401, CHALLENGE)


NON_CANONICAL = (
    'Bearer realm="api", error="invalid_request", error_description="non-canonical request path"'
)


@pytest.mark.parametrize(
    ("path", "raw_path"),
    [
        pytest.param("/public/../admin", None, id="dot-dot-segment"),
        pytest.param("/public/./a", None, id="dot-segment"),
        pytest.param("/public//a", None, id="empty-segment"),
        pytest.param("//public/a", None, id="leading-empty-segment"),
        pytest.param("/public/..", None, id="trailing-dot-dot"),
        pytest.param("/public/.", None, id="trailing-dot"),
        pytest.param("/public/a\\..\\admin", None, id="backslash"),
        pytest.param("/public/a;jsessionid=1", None, id="path-parameter"),
        pytest.param("/public/a\x00", None, id="nul"),
        pytest.param("/public/a\r\nX: y", None, id="crlf"),
        pytest.param("public/a", None, id="no-leading-slash"),
        pytest.param("*", None, id="asterisk-form"),
        pytest.param("/public/./a", "/public/%2e/a", id="encoded-dot"),
        pytest.param("/public/./a", "/public/%2E/a", id="encoded-dot-upper"),
        pytest.param("/public/a/b", "/public/a%2fb", id="encoded-slash"),
        pytest.param("/public/a/b", "/public/a%2Fb", id="encoded-slash-upper"),
        pytest.param("/public/a%2e", "/public/a%252e", id="double-encoded"),
        pytest.param("/public/a\\b", "/public/a%5cb", id="encoded-backslash"),
        pytest.param("/public/a;b", "/public/a%3bb", id="encoded-semicolon"),
    ],
)
def test_non_canonical_paths_are_refused_when_paths_are_configured(
    path: str, raw_path: str | None
) -> None:
    """With public paths or rules, a path a router could normalise differently is a 400."""
    for g in (gate(public_paths=["/public/*"]), gate(rules=[{"path": "/x", "scopes": ["a"]}])):
        for header in ((), GOOD):
            answer = decide_both(g, request(path, header=header, raw_path=raw_path))
            assert rejected(answer, 400, NON_CANONICAL).error.description == (
                "non-canonical request path"
            )


def test_non_canonical_paths_pass_when_no_path_is_configured() -> None:
    """Without public paths or rules no pattern can miss, so the path is not judged."""
    assert subject(decide_both(gate(), request("/a/../b//c", header=GOOD))) == "alice"


def test_encoded_characters_elsewhere_are_canonical() -> None:
    """Percent-encoded letters and spaces are fine; only separators and dots are refused."""
    g = gate(public_paths=["/public/*"])
    answer = decide_both(g, request("/public/a b", raw_path="/public/a%20b%41"))
    assert answer is ANONYMOUS


def test_public_path_ignores_a_bad_token() -> None:
    """On a public path the token is not looked at."""
    g = gate(public_paths=["/health"])
    assert decide_both(g, request("/health", header=BAD)) is ANONYMOUS


@pytest.mark.parametrize("method", ["OPTIONS", "options", "Options"])
def test_cors_preflight_is_answered_without_the_app(method: str) -> None:
    """A preflight (any method case) gets jwtgate's own 204, no CORS headers, no identity."""
    answer = decide_both(gate(), request(method=method, preflight=True))
    assert isinstance(answer, Rejection)
    assert (answer.status, answer.body, answer.reason) == (204, b"", "No Content")
    assert isinstance(answer.error, PreflightAnswered)
    assert not any(name.startswith("access-control-") for name, _ in answer.headers)


def test_plain_options_and_other_methods_with_cors_headers_need_a_token() -> None:
    """Only OPTIONS with the preflight headers is a preflight; anything else needs a token."""
    g = gate()
    rejected(decide_both(g, request(method="OPTIONS")), 401, CHALLENGE)
    rejected(decide_both(g, request(method="GET", preflight=True)), 401, CHALLENGE)


def test_cors_preflight_forward_lets_it_through_anonymously() -> None:
    """cors_preflight='forward' hands preflights to the app (a CORS layer behind jwtgate)."""
    g = gate(cors_preflight="forward", rules=[{"path": "/*", "scopes": ["admin"]}])
    assert decide_both(g, request(method="OPTIONS", preflight=True)) is ANONYMOUS
    rejected(decide_both(g, request(method="OPTIONS")), 401, CHALLENGE)


# -- optional credentials and rules -----------------------------------------------------------


def test_credentials_not_required() -> None:
    """credentials_required false: no token is anonymous, a bad token is still 401."""
    g = gate(credentials_required=False)
    answer = decide_both(g, request())
    assert answer is ANONYMOUS
    assert isinstance(answer, Identity)
    assert not answer.is_authenticated
    rejected(decide_both(g, request(header=BAD)), 401, INVALID + '"signature verification failed"')
    assert subject(decide_both(g, request(header=GOOD))) == "alice"


RULES = [
    {"path": "/admin/*", "scopes": ["admin"]},
    {"path": "/posts", "methods": ["POST"], "scopes": ["write", "read"]},
    {"path": "/reports/*", "methods": ["GET"], "scopes": ["reports"]},
]
INSUFFICIENT = (
    'Bearer realm="api", error="insufficient_scope", error_description="insufficient scope"'
)


@pytest.mark.parametrize(
    ("method", "path", "token", "status", "www_authenticate"),
    [
        pytest.param("GET", "/admin/users", ADMIN, None, None, id="has-scope"),
        pytest.param(
            "GET",
            "/admin/users",
            GOOD,
            403,
            'Bearer realm="api", error="insufficient_scope", '
            'error_description="insufficient scope", scope="admin"',
            id="lacks-scope",
        ),
        pytest.param(
            "POST",
            "/posts",
            ADMIN,
            403,
            'Bearer realm="api", error="insufficient_scope", '
            'error_description="insufficient scope", scope="read write"',
            id="lacks-one-of-two",
        ),
        pytest.param("GET", "/posts", GOOD, None, None, id="method-not-covered"),
        pytest.param("GET", "/other", GOOD, None, None, id="path-not-covered"),
        pytest.param("GET", "/admin/users", None, 401, CHALLENGE, id="anonymous-on-rule-path"),
        pytest.param("GET", "/other", None, None, None, id="anonymous-elsewhere"),
        pytest.param(
            "post", "/posts", ADMIN, 403, INSUFFICIENT + ', scope="read write"', id="method-case"
        ),
        pytest.param(
            "HEAD", "/reports/q", GOOD, 403, INSUFFICIENT + ', scope="reports"', id="head-is-get"
        ),
        pytest.param(
            "head", "/reports/q", GOOD, 403, INSUFFICIENT + ', scope="reports"', id="head-lower"
        ),
        pytest.param("POST", "/reports/q", GOOD, None, None, id="other-method-not-covered"),
        pytest.param(
            "GET", "/admin", GOOD, 403, INSUFFICIENT + ', scope="admin"', id="prefix-itself"
        ),
        pytest.param(
            "GET", "/admin/", GOOD, 403, INSUFFICIENT + ', scope="admin"', id="prefix-slash"
        ),
        pytest.param(
            "POST", "/posts/", ADMIN, 403, INSUFFICIENT + ', scope="read write"', id="slash-twin"
        ),
        pytest.param("GET", "/administrator", GOOD, None, None, id="not-a-prefix-match"),
    ],
)
def test_rules(
    method: str, path: str, token: str | None, status: int | None, www_authenticate: str | None
) -> None:
    """Scope rules (methods in any case, HEAD as GET, one trailing slash ignored) give 403
    insufficient_scope naming the scopes; anonymous gets 401."""
    g = gate(rules=RULES, credentials_required=False)
    answer = decide_both(g, request(path, method, header=token))
    if status is None:
        assert isinstance(answer, Identity)
    else:
        rejection = rejected(answer, status, www_authenticate)
        if status == 403:
            assert json.loads(rejection.body)["error"] == "insufficient_scope"


# -- failures inside verification ---------------------------------------------------------------


class ExplodingKeys:
    """A key source that fails in a way no error class covers."""

    def get(self, algorithm: str, kid: str | None) -> VerificationKey:
        raise RuntimeError("internal detail that must not leak")

    async def get_async(self, algorithm: str, kid: str | None) -> VerificationKey:
        return self.get(algorithm, kid)


def exploding_gate() -> Gate:
    """A Gate whose key source has a bug (raises RuntimeError)."""
    settings = make_settings()
    verifier = Verifier(settings, keys=ExplodingKeys(), clock=FakeClock())
    return Gate(settings, verifier=verifier, clock=FakeClock())


def test_a_bug_in_verification_is_raised_not_disguised_as_a_bad_token() -> None:
    """A programming error while verifying propagates from decide and decide_async,
    instead of becoming a 401 that would blame the client and hide the bug."""
    g = exploding_gate()
    with pytest.raises(RuntimeError, match="internal detail"):
        g.decide(request(header=GOOD))
    with pytest.raises(RuntimeError, match="internal detail"):
        asyncio.run(g.decide_async(request(header=GOOD)))


def test_a_bug_in_verification_is_a_500_with_its_traceback_logged(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through Flask (which logs unhandled errors) and Starlette, the bug is a 500, not a 401."""
    from flask import Flask
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.testclient import TestClient

    from jwtgate.asgi import JWTGateMiddleware
    from jwtgate.contrib.flask import JWTGate

    flask_app = Flask(__name__)
    flask_app.add_url_rule("/", "index", lambda: "ran")
    monkeypatch.setattr(StaticKeys, "get", ExplodingKeys.get)  # Flask builds its own Gate
    JWTGate(flask_app, settings=make_settings())
    with caplog.at_level(logging.ERROR):
        answer = flask_app.test_client().get("/", headers={"Authorization": f"Bearer {GOOD}"})
    assert answer.status_code == 500
    logged = [r for r in caplog.records if r.exc_info is not None]
    assert logged
    assert logged[0].exc_info is not None
    assert logged[0].exc_info[0] is RuntimeError

    asgi = Starlette(middleware=[Middleware(JWTGateMiddleware, gate=exploding_gate())])
    with TestClient(asgi, raise_server_exceptions=False) as client:
        assert client.get("/", headers={"Authorization": f"Bearer {GOOD}"}).status_code == 500


def test_rejections_are_logged_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    """The debug log of a refusal names the error, never the token."""
    with caplog.at_level(logging.DEBUG, logger="jwtgate"):
        gate().decide(request(header=BAD))
    assert "InvalidSignature" in caplog.text
    assert BAD not in caplog.text
    assert BAD.split(".")[2] not in caplog.text


# -- helpers ------------------------------------------------------------------------------------


def test_expires_at() -> None:
    """expires_at is exp plus leeway, or None for a token without exp."""
    g = gate(leeway=5)
    identity = g.decide(request(header=GOOD))
    assert isinstance(identity, Identity)
    assert g.expires_at(identity) == NOW + 300 + 5
    assert g.expires_at(ANONYMOUS) is None


def test_header_name_is_lower_cased() -> None:
    """The Gate exposes the configured header name in lower case for adapters."""
    assert gate(header_name="X-Auth-Token").header_name == "x-auth-token"


def test_per_route_gates_read_every_path_and_share_the_revocation_check() -> None:
    """Gate.per_route: the token is read on public paths too, required or not as asked,
    and revocation answers come from the same check (one store, one view)."""
    from jwtgate import Issuer, Sessions
    from jwtgate.http import Rejection

    settings = make_settings(
        public_paths=["/hello"], store="memory://per-route", check_revocation=True
    )
    gate = Gate(settings)
    optional, required = gate.per_route(required=False), gate.per_route(required=True)
    assert gate.per_route(required=False) is optional
    assert optional.revocation is gate.revocation is required.revocation
    token = Issuer(settings).access_token("alice")
    with_token = RequestInfo("GET", "/hello", (f"Bearer {token}",))
    without = RequestInfo("GET", "/hello", ())
    assert gate.decide(with_token).subject is None  # type: ignore[union-attr]
    assert optional.decide(with_token).subject == "alice"  # type: ignore[union-attr]
    assert optional.decide(without).subject is None  # type: ignore[union-attr]
    assert isinstance(required.decide(without), Rejection)
    with Sessions(settings) as sessions:
        sessions.logout_all("alice")
    assert isinstance(optional.decide(with_token), Rejection)
    gate.close()
