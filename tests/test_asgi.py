"""jwtgate.asgi.JWTGateMiddleware around a bare ASGI app, on asyncio and trio."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import jwt
import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from asgi_support import (
    MISSING,
    NOW,
    FakeClock,
    RecordingApp,
    bearer,
    body,
    challenge,
    gate,
    token,
)
from conftest import SECRET, make_settings
from jwtgate import ANONYMOUS, Gate, Identity, RequestInfo, Settings, Verifier
from jwtgate.asgi import (
    ConnectionExpired,
    JWTGateMiddleware,
    Message,
    Scope,
    read_request,
    request_info,
)
from jwtgate.errors import KeySourceUnavailable
from jwtgate.keys import VerificationKey

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs on asyncio and on trio."""
    return str(request.param)


def client(app: Any) -> httpx.AsyncClient:
    """An httpx client talking to ``app`` in-process through ASGITransport."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


class DownKeys:
    """A key source whose remote end cannot be reached."""

    def get(self, algorithm: str, kid: str | None) -> VerificationKey:
        raise KeySourceUnavailable()

    async def get_async(self, algorithm: str, kid: str | None) -> VerificationKey:
        raise KeySourceUnavailable()


def invalid(description: str) -> tuple[int, str, dict[str, str]]:
    """Status, challenge and body of a 401 invalid_token."""
    return 401, challenge("invalid_token", description), body("invalid_token", description)


def bad_request(description: str) -> tuple[int, str, dict[str, str]]:
    """Status, challenge and body of a 400 invalid_request."""
    return 400, challenge("invalid_request", description), body("invalid_request", description)


ADMIN_RULE = {"rules": [{"path": "/admin/*", "scopes": ["admin"]}]}
OPTIONAL = {"credentials_required": False}
NONE_TOKEN = jwt.encode({"sub": "alice", "exp": NOW + 60}, None, algorithm="none")

REJECTIONS = [
    pytest.param({}, "GET", "/", [], *MISSING, id="no-token"),
    pytest.param(
        {}, "GET", "/", [("authorization", "Basic Zm9vOmJhcg==")], *MISSING, id="other-scheme"
    ),
    pytest.param({}, "OPTIONS", "/", [], *MISSING, id="options-not-preflight"),
    pytest.param(
        {}, "GET", "/", [("authorization", "Bearer abc.def")], *invalid("malformed token"),
        id="malformed",
    ),
    pytest.param(
        {}, "GET", "/", list(bearer(token(key="another-secret-" * 3)).items()),
        *invalid("signature verification failed"), id="bad-signature",
    ),
    pytest.param(
        {}, "GET", "/", list(bearer(token(ttl=-10)).items()), *invalid("token expired"),
        id="expired",
    ),
    pytest.param(
        {}, "GET", "/", list(bearer(token(now=NOW + 600)).items()),
        *invalid("token not yet valid"), id="issued-in-future",
    ),
    pytest.param(
        {}, "GET", "/", list(bearer(NONE_TOKEN).items()), *invalid("algorithm not allowed"),
        id="alg-none",
    ),
    pytest.param(
        {}, "GET", "/", [("authorization", "Bearer " + "a" * 9000)], *invalid("token too large"),
        id="too-large",
    ),
    pytest.param(
        {}, "GET", "/", [("authorization", "Bearer")], *bad_request("missing token"),
        id="scheme-without-token",
    ),
    pytest.param(
        {}, "GET", "/", [("authorization", "Bearer a b")],
        *bad_request("malformed authorization header"), id="two-words",
    ),
    pytest.param(
        {}, "GET", "/", [("authorization", f"Bearer {token()}")] * 2,
        *bad_request("more than one authorization header"), id="two-headers",
    ),
    pytest.param(
        {"token_sources": ["header", "query"]}, "GET", f"/?access_token={token()}",
        list(bearer(token()).items()), *bad_request("more than one token in the request"),
        id="header-and-query",
    ),
    pytest.param(
        ADMIN_RULE, "GET", "/admin/users", list(bearer(token("read")).items()),
        403, challenge("insufficient_scope", "insufficient scope", scope="admin"),
        body("insufficient_scope", "insufficient scope"), id="insufficient-scope",
    ),
    pytest.param(
        {**ADMIN_RULE, **OPTIONAL}, "GET", "/admin/users", [], *MISSING,
        id="anonymous-on-rule-path",
    ),
    pytest.param(
        OPTIONAL, "GET", "/", [("authorization", "Bearer abc.def")], *invalid("malformed token"),
        id="optional-but-bad-token",
    ),
    pytest.param(
        {"public_paths": ["/public/*"]}, "GET", "/publicity", [], *MISSING,
        id="near-miss-public-path",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "method", "url", "headers", "status", "www", "expected"), REJECTIONS
)
async def test_rejections(
    overrides: dict[str, Any],
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    status: int,
    www: str,
    expected: dict[str, str],
) -> None:
    """A refused request gets its status, exact challenge and JSON body; the app never runs."""
    app = RecordingApp()
    async with client(JWTGateMiddleware(app, gate=gate(**overrides))) as http:
        response = await http.request(method, url, headers=headers)
    assert response.status_code == status
    assert response.headers.get_list("www-authenticate") == [www]
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == expected
    assert app.scopes == []


async def test_unreachable_key_source_is_503() -> None:
    """A key source that cannot be reached is a 503 with Retry-After, no challenge, app not run."""
    settings = gate().settings
    down = Gate(settings, verifier=Verifier(settings, clock=FakeClock(), keys=DownKeys()))
    app = RecordingApp()
    async with client(JWTGateMiddleware(app, gate=down)) as http:
        response = await http.get("/", headers=bearer(token()))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "www-authenticate" not in response.headers
    assert response.json() == body(
        "temporarily_unavailable", "signing keys temporarily unavailable"
    )
    assert app.scopes == []


class SlowKeys:
    """A remote-style key source: its async fetch waits until ``ready`` is set."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.ready = anyio.Event()

    def get(self, algorithm: str, kid: str | None) -> VerificationKey:
        raise AssertionError("the ASGI path must use the async key lookup")

    async def get_async(self, algorithm: str, kid: str | None) -> VerificationKey:
        await self.ready.wait()
        return self.inner.get(algorithm, kid)


async def test_key_fetch_does_not_block_the_event_loop() -> None:
    """While one request awaits its key fetch, another request on the same loop is served."""
    settings = gate(public_paths=["/health"]).settings
    keys = SlowKeys(settings.keys)
    slow = Gate(settings, verifier=Verifier(settings, clock=FakeClock(), keys=keys))
    order: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        order.append(scope["path"])
        if scope["path"] == "/health":
            keys.ready.set()  # only reachable if the first request left the loop free
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = JWTGateMiddleware(app, gate=slow)
    statuses: dict[str, int] = {}
    # A guard against hanging forever if the loop were blocked, not a timing assertion.
    with anyio.fail_after(10):
        async with client(middleware) as http, anyio.create_task_group() as tasks:

            async def get(path: str, headers: dict[str, str]) -> None:
                statuses[path] = (await http.get(path, headers=headers)).status_code

            tasks.start_soon(get, "/slow", bearer(token()))
            await anyio.wait_all_tasks_blocked()
            tasks.start_soon(get, "/health", {})
    assert order == ["/health", "/slow"]
    assert statuses == {"/slow": 200, "/health": 200}


PASSES = [
    pytest.param(
        {}, "GET", "/", bearer(token("write read")), "alice", ["read", "write"], id="bearer"
    ),
    pytest.param(
        {}, "GET", "/", {"authorization": f"bEaReR {token()}"}, "alice", [], id="scheme-case"
    ),
    pytest.param(
        {"token_sources": ["cookie"]}, "GET", "/",
        {"cookie": f"theme=dark; access_token={token()}"}, "alice", [], id="cookie",
    ),
    pytest.param(
        {"token_sources": ["query"]}, "GET", f"/?x=1&access_token={token()}", {}, "alice", [],
        id="query",
    ),
    pytest.param(
        ADMIN_RULE, "DELETE", "/admin/users", bearer(token("admin")), "alice", ["admin"],
        id="rule-satisfied",
    ),
    pytest.param({"public_paths": ["/health"]}, "GET", "/health", {}, None, [], id="public-path"),
    pytest.param(
        {"cors_preflight": "forward"}, "OPTIONS", "/",
        {"access-control-request-method": "POST", "origin": "https://a.example"},
        None, [], id="cors-preflight-forwarded",
    ),
    pytest.param(OPTIONAL, "GET", "/", {}, None, [], id="optional-anonymous"),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "method", "url", "headers", "subject", "scopes"), PASSES)
async def test_accepted_requests_reach_the_app(
    overrides: dict[str, Any],
    method: str,
    url: str,
    headers: dict[str, str],
    subject: str | None,
    scopes: list[str],
) -> None:
    """An accepted request reaches the app with scope["user"] and scope["auth"].scopes set."""
    app = RecordingApp()
    async with client(JWTGateMiddleware(app, gate=gate(**overrides))) as http:
        response = await http.request(method, url, headers=headers)
    assert response.status_code == 200
    # Starlette's convention: an authenticated request also holds "authenticated".
    granted = sorted([*scopes, "authenticated"]) if subject is not None else scopes
    assert response.json() == {"subject": subject, "scopes": granted}
    assert len(app.scopes) == 1
    assert isinstance(app.scopes[0]["user"], Identity)


async def test_cors_preflight_is_answered_and_the_app_never_runs() -> None:
    """A preflight reaching jwtgate gets a bare 204; the app (and its OPTIONS code) never runs."""
    app = RecordingApp()
    preflight = {"access-control-request-method": "DELETE", "origin": "https://a.example"}
    async with client(JWTGateMiddleware(app, gate=gate())) as http:
        response = await http.request("OPTIONS", "/customers", headers=preflight)
        no_origin = await http.request(
            "OPTIONS", "/customers", headers={"access-control-request-method": "GET"}
        )
    assert response.status_code == 204
    assert response.content == b""
    assert "access-control-allow-origin" not in response.headers
    assert no_origin.status_code == 401  # no Origin: not a preflight, so a token is needed
    assert app.scopes == []


@pytest.mark.parametrize(
    ("root_path", "path", "status"),
    [
        pytest.param("/api", "/api/admin/users", 403, id="root-path-stripped"),
        pytest.param("/api", "/api/other", 200, id="root-path-other"),
        pytest.param("/api", "/api", 200, id="root-itself-is-slash"),
        pytest.param("/api", "/apiadmin/users", 200, id="not-at-a-segment-boundary"),
        pytest.param("", "/admin/users", 403, id="no-root-path"),
        pytest.param("/api", "/admin/users", 403, id="path-without-root-path"),
    ],
)
async def test_rules_match_the_path_without_root_path(
    root_path: str, path: str, status: int
) -> None:
    """Rules see the routed path: ``path`` minus ``root_path`` at a segment boundary."""
    app = RecordingApp()
    middleware = JWTGateMiddleware(app, gate=gate(rules=[{"path": "/admin/*", "scopes": ["x"]}]))
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "root_path": root_path,
        "headers": [(b"authorization", f"Bearer {token()}".encode())],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await middleware(scope, receive, send)
    assert sent[0]["status"] == status
    assert len(app.scopes) == (1 if status == 200 else 0)


async def test_settings_dict_is_accepted() -> None:
    """JWTGateMiddleware(app, settings={...}) takes a plain dict in either key case."""
    from conftest import SECRET

    middleware = JWTGateMiddleware(RecordingApp(), settings={"SECRET": SECRET, "LEEWAY": 5})
    assert middleware.gate.settings.leeway == 5


def test_settings_or_gate_exactly_one() -> None:
    """Giving neither or both of settings= and gate= is a TypeError at construction."""
    with pytest.raises(TypeError, match="needs settings"):
        JWTGateMiddleware(RecordingApp())
    with pytest.raises(TypeError, match="not both"):
        JWTGateMiddleware(RecordingApp(), settings={}, gate=gate())


async def drive(
    middleware: JWTGateMiddleware, scope: Scope, incoming: list[Message]
) -> list[Message]:
    """Run ``middleware`` on ``scope`` feeding ``incoming``; return what it sent."""
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(scope, receive, send)
    return sent


@pytest.mark.parametrize("kind", ["lifespan", "example.custom"])
async def test_other_scope_types_pass_through_untouched(kind: str) -> None:
    """lifespan and unknown scope types reach the app with the very same scope, receive and send."""
    seen: list[tuple[Scope, Any, Any]] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))
        message = await receive()
        await send({"type": f"{message['type']}.complete"})

    scope: Scope = {"type": kind, "asgi": {"version": "3.0"}}
    original = dict(scope)
    sent = await drive(JWTGateMiddleware(app, gate=gate()), scope, [{"type": f"{kind}.startup"}])
    assert sent == [{"type": f"{kind}.startup.complete"}]
    assert seen[0][0] is scope
    assert scope == original


async def test_lifespan_shutdown_closes_the_gate_before_completing(tmp_path: Any) -> None:
    """On lifespan shutdown the Gate's store is closed before shutdown.complete is sent."""
    events: list[str] = []

    class RecordingGate(Gate):
        async def aclose(self) -> None:
            events.append("gate closed")
            await super().aclose()

    settings = Settings.from_dict(
        {"secret": SECRET, "store": f"sqlite:///{tmp_path / 's.db'}", "check_revocation": True}
    )

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            await send({"type": f"{message['type']}.complete"})
            if message["type"] == "lifespan.shutdown":
                return

    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    middleware = JWTGateMiddleware(app, gate=RecordingGate(settings))
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        events.append(message["type"])
        sent.append(message)

    await middleware(scope, receive, send)
    assert events == ["lifespan.startup.complete", "gate closed", "lifespan.shutdown.complete"]


def http_scope(**extra: Any) -> Scope:
    """A minimal ASGI http scope for GET / with the given extra keys."""
    return {"type": "http", "method": "GET", "path": "/", "query_string": b"", **extra}


async def test_state_gets_the_identity_in_a_copy() -> None:
    """scope["state"]["jwtgate"] is the identity, set on a copy: the server's dict is untouched."""
    app = RecordingApp()
    server_state = {"db": "pool"}
    scope = http_scope(
        headers=[(b"authorization", f"Bearer {token('read')}".encode())], state=server_state
    )
    await drive(JWTGateMiddleware(app, gate=gate()), scope, [])
    seen = app.scopes[0]
    assert seen["state"]["jwtgate"] is seen["user"]
    assert seen["state"]["db"] == "pool"
    assert server_state == {"db": "pool"}


def test_read_request_reads_raw_headers_as_latin1() -> None:
    """Header bytes are decoded as latin-1, cookies joined, ws method GET; the query and
    cookie only for a Gate that reads them; preflight only for an OPTIONS request."""
    headers = [
        (b"x-token", b"Bearer caf\xe9"),
        (b"cookie", b"a=1"),
        (b"cookie", b"b=2"),
        (b"access-control-request-method", b"GET"),
        (b"origin", b"https://a.example"),
    ]
    scope = {"type": "websocket", "path": "/ws", "query_string": b"a=%C3%A9", "headers": headers}
    every = Gate(make_settings(header_name="X-Token", token_sources=["header", "cookie", "query"]))
    info = RequestInfo._make(read_request(scope, every))
    assert info == RequestInfo("GET", "/ws", ("Bearer café",), "a=1; b=2", "a=%C3%A9", False)
    header_only = Gate(make_settings(header_name="X-Token"))
    assert read_request(scope, header_only) == (
        "GET",
        "/ws",
        ("Bearer café",),
        None,
        "",
        False,
        None,
        None,
    )
    options = {"type": "http", "method": "OPTIONS", "path": "/", "headers": headers}
    assert read_request(options, header_only)[5] is True
    assert read_request({**options, "headers": headers[:4]}, header_only)[5] is False


def test_request_info_still_works_with_a_warning() -> None:
    """The old helper reads every field, for one more release."""
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"x-token", b"t")]}
    with pytest.warns(DeprecationWarning, match="read_request"):
        assert request_info(scope, b"x-token").authorization == ("t",)


# -- websockets -----------------------------------------------------------------


async def echo(scope: Scope, receive: Any, send: Any) -> None:
    """A raw websocket app: accept, then echo "<subject>:<text>" until disconnect."""
    await receive()
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": f"{scope['user'].subject}:{message['text']}"})


def ws_scope(query: str = "", extensions: dict[str, Any] | None = None) -> Scope:
    """A websocket scope for /ws with ``query`` and the given server extensions."""
    return {
        "type": "websocket",
        "path": "/ws",
        "query_string": query.encode(),
        "headers": [],
        "extensions": extensions or {},
    }


QUERY = {"token_sources": ["header", "query", "cookie"]}


class Spy:
    """Wraps an ASGI app and remembers whether it was called."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.called = False

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        self.called = True
        await self.app(scope, receive, send)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        pytest.param("", "authentication required", id="no-token"),
        pytest.param(f"access_token={token(ttl=-5)}", "token expired", id="expired"),
    ],
)
async def test_refused_handshake_without_extension_closes_1008(query: str, reason: str) -> None:
    """Without the denial-response extension a refused handshake is closed 1008 before accept."""
    app = Spy(echo)
    sent = await drive(
        JWTGateMiddleware(app, gate=gate(**QUERY)), ws_scope(query), [{"type": "websocket.connect"}]
    )
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": reason}]
    assert not app.called


@pytest.fixture(params=["asyncio", "trio"])
def backend(request: pytest.FixtureRequest) -> str:
    """The event loop Starlette's TestClient runs the app on."""
    return str(request.param)


@pytest.mark.parametrize(
    ("url", "status", "www", "expected"),
    [
        pytest.param("/ws", *MISSING, id="no-token"),
        pytest.param("/ws?access_token=abc.def", *invalid("malformed token"), id="malformed"),
        pytest.param(
            f"/ws?access_token={token('read')}",
            403,
            challenge("insufficient_scope", "insufficient scope", scope="chat"),
            body("insufficient_scope", "insufficient scope"),
            id="insufficient-scope",
        ),
    ],
)
def test_refused_handshake_with_extension_is_an_http_answer(
    backend: str, url: str, status: int, www: str, expected: dict[str, str]
) -> None:
    """With websocket.http.response the refused handshake gets the same HTTP answer as a request."""
    app = Spy(echo)
    rules = {"rules": [{"path": "/ws", "scopes": ["chat"]}]}
    middleware = JWTGateMiddleware(app, gate=gate(**QUERY, **rules))
    http = TestClient(middleware, backend=backend)  # no `with`: the raw app has no lifespan
    with pytest.raises(WebSocketDenialResponse) as info, http.websocket_connect(url):
        pass
    response = info.value
    assert response.status_code == status
    assert response.headers.get_list("www-authenticate") == [www]
    assert response.json() == expected
    assert not app.called


def test_websocket_accepted_with_query_token_and_closed_1008_after_expiry(backend: str) -> None:
    """A query-token handshake is accepted; after exp + leeway the next message closes it 1008."""
    clock = FakeClock()
    middleware = JWTGateMiddleware(Spy(echo), gate=gate(clock, leeway=10, **QUERY))
    http = TestClient(middleware, backend=backend)
    with http.websocket_connect(f"/ws?access_token={token(ttl=60)}") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "alice:hi"
        clock.advance(60 + 10)  # exactly exp + leeway: still valid
        ws.send_text("still")
        assert ws.receive_text() == "alice:still"
        clock.advance(1)
        ws.send_text("late")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
    assert info.value.code == 1008


async def test_expired_websocket_send_raises_and_closes_1008() -> None:
    """An app sending after expiry gets ConnectionExpired; the server sees one close with 1008."""
    clock = FakeClock()
    outcome: list[object] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "fresh"})
        clock.advance(301)
        try:
            await send({"type": "websocket.send", "text": "stale"})
        except ConnectionExpired as exc:
            outcome.append(exc)
        outcome.append(await receive())
        await send({"type": "websocket.close", "code": 1000})  # swallowed: already closed
        with pytest.raises(ConnectionExpired):
            await send({"type": "websocket.send", "text": "again"})

    sent = await drive(
        JWTGateMiddleware(app, gate=gate(clock, **QUERY)),
        ws_scope(f"access_token={token()}"),
        [{"type": "websocket.connect"}],
    )
    assert sent == [
        {"type": "websocket.accept"},
        {"type": "websocket.send", "text": "fresh"},
        {"type": "websocket.close", "code": 1008, "reason": "token expired"},
    ]
    assert isinstance(outcome[0], ConnectionExpired)
    assert outcome[1] == {"type": "websocket.disconnect", "code": 1008, "reason": ""}


async def test_expired_websocket_receive_closes_1008_without_waiting() -> None:
    """An app receiving after expiry gets a 1008 disconnect at once, not waiting for the peer."""
    clock = FakeClock()
    received: list[Message] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        clock.advance(301)
        received.append(await receive())
        received.append(await receive())

    sent = await drive(
        JWTGateMiddleware(app, gate=gate(clock, **QUERY)),
        ws_scope(f"access_token={token()}"),
        [{"type": "websocket.connect"}],  # nothing more: a receive that waited would fail
    )
    assert sent[-1] == {"type": "websocket.close", "code": 1008, "reason": "token expired"}
    disconnect = {"type": "websocket.disconnect", "code": 1008, "reason": ""}
    assert received == [disconnect, disconnect]


async def test_client_disconnect_passes_through_the_expiry_watch() -> None:
    """A client's own disconnect reaches the app unchanged, and a later app close is not doubled."""
    clock = FakeClock()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        assert await receive() == {"type": "websocket.disconnect", "code": 1001}
        await send({"type": "websocket.close", "code": 1000})

    sent = await drive(
        JWTGateMiddleware(app, gate=gate(clock, **QUERY)),
        ws_scope(f"access_token={token()}"),
        [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1001}],
    )
    assert sent == [{"type": "websocket.accept"}]


async def test_anonymous_websocket_is_not_watched() -> None:
    """An anonymous websocket (credentials optional) has no expiry and talks to the app directly."""
    sent = await drive(
        JWTGateMiddleware(Spy(echo), gate=gate(**QUERY, **OPTIONAL)),
        ws_scope(),
        [
            {"type": "websocket.connect"},
            {"type": "websocket.receive", "text": "hi"},
            {"type": "websocket.disconnect", "code": 1000},
        ],
    )
    assert sent == [{"type": "websocket.accept"}, {"type": "websocket.send", "text": "None:hi"}]
    assert ANONYMOUS.subject is None


def test_asgi_module_imports_no_framework() -> None:
    """Importing jwtgate.asgi loads no web framework (the core and adapter stay neutral)."""
    code = (
        "import sys, jwtgate.asgi; "
        "print(sorted(m for m in ('starlette', 'fastapi', 'django', 'flask') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
async def test_lifespan_startup_prefetches_remote_keys(
    jwtgate_jwks_server: Callable[..., Any], jwtgate_keypair: Callable[..., Any]
) -> None:
    """With jwks_url, the keys are fetched before startup.complete; requests then fetch nothing."""
    pair = jwtgate_keypair("ES256")
    server = jwtgate_jwks_server(pair.jwks)
    settings = Settings.from_dict({"algorithms": ["ES256"], "jwks_url": server.url})
    seen: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            seen.append(f"fetches before startup.complete: {server.requests}")
            await send({"type": f"{message['type']}.complete"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["user"].subject.encode()})

    middleware = JWTGateMiddleware(app, settings)
    messages = [{"type": "lifespan.startup"}]

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        seen.append(message["type"])

    await middleware({"type": "lifespan"}, receive, send)
    assert seen == ["fetches before startup.complete: 0", "lifespan.startup.complete"]
    assert server.requests == 1
    from jwtgate import Issuer

    signed = Issuer(pair.settings()).access_token("dora")  # the provider's signing side
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/", headers={"Authorization": f"Bearer {signed}"})
    assert (response.status_code, response.text) == (200, "dora")
    assert server.requests == 1


def test_gate_prefetch_without_remote_keys_is_a_no_op() -> None:
    """Gate.prefetch() with static keys fetches nothing and says keys are held."""
    assert gate().prefetch() is True
