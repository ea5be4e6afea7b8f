"""A token verified before is recalled, not read and verified again (issues 9 and 14).

``Gate.decide`` looks an exact ``<scheme> <token>`` header up in the verify cache
before parsing anything. These tests check that the recall happens (the token is
not read again: ``CountingDecisions``) and that it never changes an answer: expiry,
public paths, preflights, scope rules, revocation and malformed headers all get
the answer of a Gate that has never seen the token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import NOW, CountingDecisions, FakeClock, make_settings, make_token, pem
from jwtgate import ANONYMOUS, Credentials, Gate, Identity, RequestInfo, Sessions, Verifier
from jwtgate.asgi import JWTGateMiddleware as ASGIMiddleware
from jwtgate.http import Rejection
from jwtgate.wsgi import IDENTITY_KEY
from jwtgate.wsgi import JWTGateMiddleware as WSGIMiddleware
from test_hot_path import SwappableKeys, rsa_key, until

RULES = [{"path": "/admin/*", "scopes": ["admin"]}]
VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {},
    "public-paths": {"public_paths": ["/public/*"]},
    "rules": {"rules": RULES, "credentials_required": False},
    "leeway": {"leeway": 30},
    "own-scheme": {"header_scheme": "JWT"},
    "short-cache": {"verify_cache_max_age": 20},
    "no-cache": {"verify_cache_size": 0},
    "cookie-first": {"token_sources": ["cookie", "header"]},
    "query-too": {"token_sources": ["header", "query"]},
}
TOKENS = {
    "plain": make_token(ttl=300),
    "admin": make_token({"scope": "admin"}, ttl=300),
    "short": make_token(ttl=10),
    "nbf-later": make_token({"nbf": NOW + 100}, ttl=300),
}


def warm(gate: Gate, header: str) -> Identity | Rejection:
    """The full decision for ``header`` once, which fills the verified-token cache."""
    return gate.decide(RequestInfo("GET", "/", (header,)))


# -- the property ----------------------------------------------------------------------


def summary(decision: Identity | Rejection) -> tuple[Any, ...]:
    if isinstance(decision, Identity):
        return ("identity", decision.subject, decision.scopes, decision.token)
    return ("rejection", decision.status, decision.headers, decision.body)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    variant=st.sampled_from(sorted(VARIANTS)),
    name=st.sampled_from(sorted(TOKENS)),
    form=st.sampled_from(["exact", "lower-case", "two-spaces", "trailing-space", "other-scheme"]),
    method=st.sampled_from(["GET", "POST", "OPTIONS"]),
    preflight=st.booleans(),
    path=st.sampled_from(["/", "/public/x", "/admin/users"]),
    offset=st.sampled_from([-200, -31, 0, 5, 11, 19, 21, 125, 299, 300, 320, 331]),
)
def test_remembering_a_token_never_changes_an_answer(
    variant: str,
    name: str,
    form: str,
    method: str,
    preflight: bool,
    path: str,
    offset: int,
) -> None:
    """A Gate that has seen the token answers every request exactly as one that has
    not (no verify cache); and for the exact header spelling it recalls the token
    instead of reading and verifying it again."""
    clock = FakeClock()
    gate = Gate(make_settings(**VARIANTS[variant]), clock=clock)
    fresh = Gate(make_settings(**{**VARIANTS[variant], "verify_cache_size": 0}), clock=clock)
    scheme = gate.settings.header_scheme
    token = TOKENS[name]
    exact = f"{scheme} {token}"
    header = {
        "exact": exact,
        "lower-case": f"{scheme.lower()} {token}",
        "two-spaces": f"{scheme}  {token}",
        "trailing-space": f"{exact} ",
        "other-scheme": f"Basic {token}",
    }[form]
    first = warm(gate, exact)
    clock.now = NOW + offset
    counting = CountingDecisions(gate)
    request = RequestInfo(method, path, (header,), None, "", preflight)

    answer = gate.decide(request)
    assert summary(answer) == summary(fresh.decide(request))
    assert summary(asyncio.run(gate.decide_async(request))) == summary(answer)
    recalled = counting.calls == 0 and isinstance(answer, Identity) and answer.is_authenticated
    if recalled:
        assert answer is first
    cached = isinstance(first, Identity) and gate.verifier.remembered(token) is first
    no_query = "query" not in gate.settings.token_sources
    if cached and no_query and header == exact and isinstance(answer, Identity):
        assert recalled or not answer.is_authenticated  # public path or preflight: no token read


def test_no_cache_means_every_request_is_read_and_verified() -> None:
    """With verify_cache_size 0 every request's token is read and verified."""
    gate = Gate(make_settings(verify_cache_size=0), clock=FakeClock())
    counting = CountingDecisions(gate)
    header = f"Bearer {make_token()}"
    assert isinstance(warm(gate, header), Identity)
    assert isinstance(warm(gate, header), Identity)
    assert counting.calls == 2


def test_a_key_source_without_peek_never_recalls() -> None:
    """A source that cannot confirm its key without I/O is asked on every request
    (JWKSKeys can: see test_jwks.py)."""
    settings = make_settings(algorithms=["RS256"], secret=None, public_key=pem("rsa_public"))
    keys = SwappableKeys(rsa_key("a"))
    gate = Gate(settings, verifier=Verifier(settings, clock=FakeClock(), keys=keys))
    counting = CountingDecisions(gate)
    token = make_token(key=pem("rsa_private"), algorithm="RS256", headers={"kid": "a"})
    assert isinstance(warm(gate, f"Bearer {token}"), Identity)
    assert gate.verifier.remembered(token) is None
    assert isinstance(warm(gate, f"Bearer {token}"), Identity)
    assert counting.calls == 2


def test_clear_cache_ends_the_recall() -> None:
    """After Verifier.clear_cache the next request is read and verified again."""
    gate = Gate(make_settings(), clock=FakeClock())
    counting = CountingDecisions(gate)
    header = f"Bearer {make_token()}"
    first = warm(gate, header)
    assert warm(gate, header) is first
    assert counting.calls == 1
    gate.verifier.clear_cache()
    assert warm(gate, header) is not first
    assert counting.calls == 2


def test_an_oversized_token_is_never_recalled() -> None:
    """A Gate whose own max_token_bytes is smaller than its verifier's refuses the token
    its verifier remembers."""
    token = make_token({"pad": "x" * 600})
    verifier = Verifier(make_settings(), clock=FakeClock())
    verifier.verify(token)
    gate = Gate(make_settings(max_token_bytes=512), verifier=verifier)
    refused = gate.decide(RequestInfo("GET", "/", (f"Bearer {token}",)))
    assert isinstance(refused, Rejection)
    assert refused.status == 401


def test_the_deprecated_admit_still_answers_with_a_warning() -> None:
    """Gate.admit, jwtgate.asgi.admit and jwtgate.wsgi.admit/decide serve one more release."""
    from jwtgate import asgi, wsgi

    gate = Gate(make_settings(), clock=FakeClock())
    header = f"Bearer {make_token()}"
    first = warm(gate, header)
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [auth(header[7:])]}
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_AUTHORIZATION": header}
    with pytest.warns(DeprecationWarning, match="admit"):
        assert gate.admit("GET", "/", header) is first
    with pytest.warns(DeprecationWarning, match="admit"):
        assert asgi.admit(gate, scope) is first
    with pytest.warns(DeprecationWarning, match="admit"):
        assert wsgi.admit(gate, environ, "HTTP_AUTHORIZATION") is first
    with pytest.warns(DeprecationWarning, match="decide"):
        assert wsgi.decide(gate, environ, "HTTP_AUTHORIZATION") is first
    with pytest.warns(DeprecationWarning, match="admit"):
        assert gate.admit("GET", "/", "Bearer unknown") is None


# -- Verifier.remembered ------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "served"),
    [
        pytest.param(0, True, id="now"),
        pytest.param(59, True, id="within-max-age"),
        pytest.param(60, False, id="at-max-age"),
        pytest.param(-1, False, id="clock-before-storing"),
    ],
)
def test_remembered_respects_the_entry_age(offset: int, served: bool) -> None:
    """An entry is served from when it was stored until verify_cache_max_age later."""
    clock = FakeClock()
    verifier = Verifier(make_settings(), clock=clock)
    token = make_token(ttl=3600)
    identity = verifier.verify(token)
    clock.now = NOW + offset
    assert (verifier.remembered(token) is identity) is served


@pytest.mark.parametrize(
    ("offset", "served"),
    [
        pytest.param(9, True, id="before-exp"),
        pytest.param(39, True, id="within-leeway"),
        pytest.param(40, False, id="at-exp-plus-leeway"),
    ],
)
def test_remembered_rechecks_exp_with_leeway(offset: int, served: bool) -> None:
    """The same rule as a full verification: valid until exp + leeway, exclusive."""
    clock = FakeClock()
    verifier = Verifier(make_settings(leeway=30), clock=clock)
    token = make_token(ttl=10)
    identity = verifier.verify(token)
    clock.now = NOW + offset
    assert (verifier.remembered(token) is identity) is served
    if not served:
        with pytest.raises(Exception, match="expired"):
            verifier.verify(token)


def test_remembered_rechecks_nbf_with_leeway() -> None:
    """A token stored while valid thanks to leeway stops at nbf - leeway if the clock goes back."""
    clock = FakeClock(NOW + 100)
    verifier = Verifier(make_settings(leeway=30, verify_cache_max_age=3600), clock=clock)
    token = make_token({"nbf": NOW + 120}, ttl=600)
    identity = verifier.verify(token)
    clock.now = NOW + 90
    assert verifier.remembered(token) is None  # before when it was stored, too
    clock.now = NOW + 100
    assert verifier.remembered(token) is identity


def test_remembered_never_verifies() -> None:
    """An unknown token is None, not an error, and is not verified or cached."""
    verifier = Verifier(make_settings(), clock=FakeClock())
    assert verifier.remembered(make_token()) is None
    assert verifier.remembered("not a token") is None
    assert verifier.cache_size == 0


# -- revocation -----------------------------------------------------------------------


@pytest.fixture
def revocable(tmp_path: Path) -> Iterator[tuple[Gate, Sessions]]:
    """A revocation-aware Gate and Sessions on one SQLite file (a store with a feed)."""
    settings = make_settings(store=f"sqlite:///{tmp_path / 'fast.db'}", check_revocation=True)
    gate = Gate(settings)
    with Sessions(settings) as sessions:
        yield gate, sessions
    gate.close()


def test_a_logout_ends_a_recalled_token_at_once(
    revocable: tuple[Gate, Sessions],
) -> None:
    """A recalled token is still checked against the revocation view: a logout refuses
    its next request, in this process, at once."""
    gate, sessions = revocable
    token = sessions.login("alice").access_token
    header = f"Bearer {token}"
    identity = warm(gate, header)
    assert isinstance(identity, Identity)
    assert until(lambda: warm(gate, header) is identity)
    sessions.logout(token)
    assert isinstance(warm(gate, header), Rejection)
    assert isinstance(asyncio.run(gate.decide_async(RequestInfo("GET", "/", (header,)))), Rejection)


def test_the_memory_store_tells_its_views_of_each_revoking_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """memory:// answers from the view (the store is not asked again), and a revoking
    write made on the store itself, not through any cache layer, is refused at once."""
    from jwtgate.stores.memory import memory_store

    settings = make_settings(store="memory://fast-path", check_revocation=True)
    with Sessions(settings) as sessions:
        gate = Gate(settings)
        pair = sessions.login("alice")
        header = f"Bearer {pair.access_token}"
        assert isinstance(warm(gate, header), Identity)
        assert gate.revocation is not None
        asked: list[Any] = []
        is_revoked = gate.revocation.store.store.is_revoked
        monkeypatch.setattr(
            gate.revocation.store.store,
            "is_revoked",
            lambda *a, **k: asked.append(a) or is_revoked(*a, **k),
        )
        for _ in range(3):
            assert isinstance(warm(gate, header), Identity)
        assert len(asked) <= 1  # the first may fill the view; then it answers
        assert memory_store("memory://fast-path").revoke_session("alice", pair.session_id)
        assert isinstance(warm(gate, header), Rejection)
        gate.close()


# -- through the ASGI middleware ------------------------------------------------------


def http_scope(
    *headers: tuple[bytes, bytes], path: str = "/", method: str = "GET"
) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": list(headers),
        "state": {},
    }


def asgi_call(app: Any, scope: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    """The response status and the scope the inner app saw (None if it was not called)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    app.app.seen = None
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], app.app.seen


class Inner:
    """A raw ASGI app that keeps the last scope it saw and answers 200."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.seen = scope
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def asgi_app(**overrides: Any) -> tuple[ASGIMiddleware, FakeClock, CountingDecisions]:
    clock = FakeClock()
    app = ASGIMiddleware(Inner(), gate=Gate(make_settings(**overrides), clock=clock))
    return app, clock, CountingDecisions(app.gate)


def auth(token: str, scheme: str = "Bearer") -> tuple[bytes, bytes]:
    return (b"authorization", f"{scheme} {token}".encode())


def test_asgi_second_request_skips_the_full_decision() -> None:
    """The first request is decided in full; the next, with the same token, is not."""
    app, _, counting = asgi_app()
    token = make_token({"scope": "read write"})
    for _ in range(3):
        status, seen = asgi_call(app, http_scope(auth(token)))
        assert status == 200
        assert seen is not None
        assert seen["user"].subject == "alice"
        assert seen["auth"].scopes == ["authenticated", "read", "write"]
        assert seen["state"]["jwtgate"] is seen["user"]
    assert counting.calls == 1


def test_asgi_fast_path_still_refuses_an_expired_token() -> None:
    """A cached token past exp is refused as expired, through the full decision."""
    app, clock, counting = asgi_app()
    token = make_token(ttl=30)
    assert asgi_call(app, http_scope(auth(token)))[0] == 200
    clock.advance(31)
    assert asgi_call(app, http_scope(auth(token))) == (401, None)
    assert counting.calls == 2


def test_asgi_two_headers_are_refused_even_with_a_cached_token() -> None:
    """Two Authorization headers are a 400, whatever the first one holds."""
    app, _, _ = asgi_app()
    token = make_token()
    assert asgi_call(app, http_scope(auth(token)))[0] == 200
    assert asgi_call(app, http_scope(auth(token), auth(token)))[0] == 400
    assert asgi_call(app, http_scope(auth(token), auth("x")))[0] == 400


def test_asgi_fast_path_keeps_rules_and_public_paths() -> None:
    """A cached token lacking a rule's scope gets 403; on a public path, the anonymous identity."""
    app, _, _ = asgi_app(rules=RULES, public_paths=["/public/*"])
    token = make_token()
    assert asgi_call(app, http_scope(auth(token)))[0] == 200
    assert asgi_call(app, http_scope(auth(token), path="/admin/users")) == (403, None)
    status, seen = asgi_call(app, http_scope(auth(token), path="/public/x"))
    assert status == 200
    assert seen is not None
    assert seen["user"] is ANONYMOUS


def test_changing_the_scopes_list_changes_nothing_for_the_next_request() -> None:
    """scope["auth"] is shared by a token's requests, but its scopes list is a copy per read."""
    app, _, _ = asgi_app()
    token = make_token({"scope": "read"})
    _, seen = asgi_call(app, http_scope(auth(token)))
    assert seen is not None
    seen["auth"].scopes.append("admin")
    _, again = asgi_call(app, http_scope(auth(token)))
    assert again is not None
    assert again["auth"].scopes == ["authenticated", "read"]
    assert isinstance(again["auth"], Credentials)


def test_asgi_case_insensitive_scheme_still_works_without_the_fast_path() -> None:
    """RFC 7235: ``bearer`` is the same scheme; the full decision accepts it every time."""
    app, _, counting = asgi_app()
    token = make_token()
    for _ in range(2):
        assert asgi_call(app, http_scope(auth(token, "bearer")))[0] == 200
    assert counting.calls == 2


# -- through the WSGI middleware ------------------------------------------------------


def wsgi_call(app: WSGIMiddleware, **environ: Any) -> tuple[str, dict[str, Any] | None]:
    seen: list[dict[str, Any]] = []
    statuses: list[str] = []

    def inner(env: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(env)
        start_response("200 OK", [])
        return [b"ok"]

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> None:
        statuses.append(status)

    app.app = inner
    base = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": ""}
    b"".join(app({**base, **environ}, start_response))
    return statuses[0], (seen[0] if seen else None)


def wsgi_app(**overrides: Any) -> tuple[WSGIMiddleware, FakeClock, CountingDecisions]:
    clock = FakeClock()
    app = WSGIMiddleware(lambda e, s: [], gate=Gate(make_settings(**overrides), clock=clock))
    return app, clock, CountingDecisions(app.gate)


def test_wsgi_second_request_skips_the_full_decision() -> None:
    """The same token again is let through without a full decision, REMOTE_USER set."""
    app, _, counting = wsgi_app(set_remote_user=True)
    token = make_token()
    for _ in range(3):
        status, seen = wsgi_call(app, HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_USER="evil")
        assert status.startswith("200")
        assert seen is not None
        assert seen[IDENTITY_KEY].subject == "alice"
        assert seen["REMOTE_USER"] == "alice"
    assert counting.calls == 1


def test_wsgi_fast_path_still_refuses_an_expired_token() -> None:
    """A cached token past exp gets the full decision's 401."""
    app, clock, _ = wsgi_app()
    token = make_token(ttl=30)
    assert wsgi_call(app, HTTP_AUTHORIZATION=f"Bearer {token}")[0].startswith("200")
    clock.advance(31)
    assert wsgi_call(app, HTTP_AUTHORIZATION=f"Bearer {token}") == ("401 Unauthorized", None)


def test_wsgi_fast_path_decodes_the_path_before_matching() -> None:
    """PATH_INFO holds UTF-8 bytes as latin-1; public paths are matched on the decoded text."""
    app, _, _ = wsgi_app(public_paths=["/públic/*"])
    token = make_token()
    header = f"Bearer {token}"
    assert wsgi_call(app, HTTP_AUTHORIZATION=header)[0].startswith("200")
    native = "/públic/x".encode().decode("latin-1")
    status, seen = wsgi_call(app, HTTP_AUTHORIZATION=header, PATH_INFO=native)
    assert status.startswith("200")
    assert seen is not None
    assert seen[IDENTITY_KEY] is ANONYMOUS


def test_wsgi_preflight_with_a_cached_token_is_answered() -> None:
    """A CORS preflight is answered by jwtgate even when it carries a cached token."""
    app, _, _ = wsgi_app()
    header = f"Bearer {make_token()}"
    assert wsgi_call(app, HTTP_AUTHORIZATION=header)[0].startswith("200")
    status, seen = wsgi_call(
        app,
        HTTP_AUTHORIZATION=header,
        REQUEST_METHOD="options",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ORIGIN="https://a.example",
    )
    assert status.startswith("204")
    assert seen is None


def test_asgi_scope_without_headers_or_path_is_decided_not_crashed() -> None:
    """A minimal scope (a test harness, a thin server) gets the full decision's 401."""
    app, _, _ = asgi_app()
    assert asgi_call(app, {"type": "http", "method": "GET"}) == (401, None)
    token = make_token()
    assert asgi_call(app, {"type": "http", "headers": [auth(token)]})[0] == 200
    assert asgi_call(app, {"type": "http", "headers": [auth(token)]})[0] == 200


# -- through real servers ---------------------------------------------------------------


def served_asgi(clock: FakeClock, counting: list[CountingDecisions]) -> ASGIMiddleware:
    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = scope["user"].subject.encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    app = ASGIMiddleware(inner, gate=Gate(make_settings(), clock=clock))
    counting.append(CountingDecisions(app.gate))
    return app


def served_wsgi(clock: FakeClock, counting: list[CountingDecisions]) -> WSGIMiddleware:
    def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ[IDENTITY_KEY].subject.encode()]

    app = WSGIMiddleware(inner, gate=Gate(make_settings(), clock=clock))
    counting.append(CountingDecisions(app.gate))
    return app


@pytest.mark.slow
@pytest.mark.parametrize("stack", ["uvicorn", "waitress"])
def test_fast_path_through_a_real_server(stack: str) -> None:
    """Under uvicorn and waitress on 127.0.0.1: one full decision for three requests of a
    token, and once the token expires the full decision's 401 with its challenge."""
    from frameworks import waitress_thread
    from servers import uvicorn_server

    clock = FakeClock()
    counting: list[CountingDecisions] = []
    if stack == "uvicorn":
        server = uvicorn_server(served_asgi(clock, counting))
    else:
        server = waitress_thread(served_wsgi(clock, counting))
    token = make_token(ttl=30)
    with server as base, httpx.Client(base_url=base, timeout=10) as http:
        for _ in range(3):
            response = http.get("/", headers={"Authorization": f"Bearer {token}"})
            assert (response.status_code, response.text) == (200, "alice")
        assert counting[0].calls == 1
        clock.advance(31)
        expired = http.get("/", headers={"Authorization": f"Bearer {token}"})
        assert expired.status_code == 401
        assert 'error="invalid_token"' in expired.headers["www-authenticate"]
        assert counting[0].calls == 2
