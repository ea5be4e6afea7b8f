"""#18: the audit trail, the session inventory, and OpenTelemetry metrics and spans,
read through the OpenTelemetry SDK's in-memory reader and exporter after real
requests through ASGI and WSGI apps."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import time
from contextlib import closing, redirect_stderr
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from werkzeug.test import Client

from conftest import SECRET, make_settings, make_token
from jwtgate import AsyncSessions, ConfigurationError, Sessions, Settings
from jwtgate.asgi import JWTGateMiddleware as ASGIGate
from jwtgate.audit import EVENTS, AuditEvent
from jwtgate.cli import EXIT_FAILED, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, main
from jwtgate.errors import ReusedToken
from jwtgate.testing import JWKSServer, keypair
from jwtgate.wsgi import JWTGateMiddleware as WSGIGate

FIELDS = {"event", "outcome", "subject", "session_id", "client_address", "user_agent", "detail"}
CLIENT = {"address": "198.51.100.7", "user_agent": "pytest-agent/1"}


# -- the audit trail ------------------------------------------------------------------


class Trail:
    """The audit events an ``audit_hook`` received, and the log records of the same."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def __call__(self, event: AuditEvent) -> None:
        self.events.append(event)

    def names(self) -> list[str]:
        return [event.event for event in self.events]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return f"memory://audit-{id(request)}"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    return str(request.getfixturevalue("redis_url"))


def test_every_session_action_is_one_event_with_the_same_fields_on_every_store(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """login, refresh, logout, logout-all: one event each, every field present, on each store;
    the log record carries the same fields as the hook's event."""
    trail = Trail()
    settings = make_settings(store=store_url, audit_hook=trail)
    caplog.set_level(logging.INFO, logger="jwtgate.audit")
    with Sessions(settings) as sessions:
        pair = sessions.login("alice", client=CLIENT)
        pair = sessions.refresh(pair.refresh_token, client=CLIENT)
        assert sessions.logout(pair.access_token, client=CLIENT) is True
        sessions.logout_all("alice")
    assert trail.names() == ["login", "refresh", "logout", "logout_all"]
    login, refresh, logout, everywhere = trail.events
    assert (login.outcome, login.subject, login.session_id) == ("success", "alice", pair.session_id)
    assert (login.client_address, login.user_agent) == ("198.51.100.7", "pytest-agent/1")
    assert (refresh.outcome, refresh.session_id) == ("success", pair.session_id)
    assert (logout.outcome, logout.session_id) == ("success", pair.session_id)
    assert (everywhere.outcome, everywhere.session_id, everywhere.client_address) == (
        "success",
        None,
        None,
    )
    records = [r for r in caplog.records if r.name == "jwtgate.audit"]
    assert [r.event for r in records] == trail.names()  # type: ignore[attr-defined]
    for record, event in zip(records, trail.events, strict=True):
        fields = record.jwtgate_audit  # type: ignore[attr-defined]
        assert set(fields) == FIELDS
        assert fields == event.as_dict()


def test_a_refresh_replay_emits_exactly_one_reuse_detected(store_url: str) -> None:
    """Replaying a consumed refresh token: one reuse_detected, and the next attempt is a
    plain refused refresh (the session is gone), not a second reuse."""
    trail = Trail()
    with Sessions(make_settings(store=store_url, audit_hook=trail)) as sessions:
        first = sessions.login("bob")
        second = sessions.refresh(first.refresh_token)
        with pytest.raises(ReusedToken):
            sessions.refresh(first.refresh_token)
        with pytest.raises(Exception, match="revoked"):
            sessions.refresh(second.refresh_token)
    assert trail.names() == ["login", "refresh", "reuse_detected", "refresh"]
    assert trail.names().count("reuse_detected") == 1
    reuse = trail.events[2]
    assert (reuse.outcome, reuse.subject, reuse.session_id) == (
        "session_revoked",
        "bob",
        first.session_id,
    )
    assert trail.events[3].outcome == "refused"


def test_a_hook_that_raises_never_fails_the_action(caplog: pytest.LogCaptureFixture) -> None:
    """The app's hook failing is logged; the login it reports still succeeds."""

    def broken(event: AuditEvent) -> None:
        raise RuntimeError("the SIEM is down")

    with Sessions(make_settings(store="memory://broken-hook", audit_hook=broken)) as sessions:
        assert sessions.login("carol").access_token
    assert "the audit_hook raised for a login event" in caplog.text


def test_token_endpoints_record_the_client_and_refused_credentials() -> None:
    """Through the WSGI token endpoints: the peer address and user agent reach the event
    and the inventory; wrong credentials are a refused login."""
    from jwtgate.endpoints import wsgi_app

    trail = Trail()
    settings = make_settings(store="memory://endpoint-audit", audit_hook=trail)

    def authenticate(username: str, password: str) -> str | None:
        return username if password == "right" else None

    app = wsgi_app(settings, authenticate)
    client = Client(app)
    headers = {"User-Agent": "browser/2"}
    env = {"REMOTE_ADDR": "192.0.2.44"}
    bad = client.post("/auth/token", json={"username": "dave", "password": "x"}, headers=headers)
    assert bad.status_code == 400
    ok = client.post(
        "/auth/token",
        json={"username": "dave", "password": "right"},
        headers=headers,
        environ_base=env,
    )
    assert ok.status_code == 200
    assert trail.names() == ["login", "login"]
    refused, success = trail.events
    assert (refused.outcome, refused.subject, refused.user_agent) == (
        "refused",
        "dave",
        "browser/2",
    )
    assert (success.outcome, success.client_address, success.user_agent) == (
        "success",
        "192.0.2.44",
        "browser/2",
    )
    with Sessions(settings) as sessions:
        (listed,) = sessions.list("dave")
    assert dict(listed.client) == {"address": "192.0.2.44", "user_agent": "browser/2"}


def remote_keys(server: JWKSServer, **settings: Any) -> Any:
    """The key source of RS256 settings reading ``server``'s JWKS, its keys fetched."""
    from jwtgate.jwks import JWKSKeys

    data = {"algorithms": ["RS256"], "jwks_url": server.url, "allow_insecure_jwks_url": True}
    source = Settings.from_dict({**data, **settings}).key_source
    assert isinstance(source, JWKSKeys)
    assert source.prefetch()
    return source


def test_the_asgi_token_endpoints_record_the_peer_too() -> None:
    """The raw ASGI token app reads the peer from the scope (Starlette's test client
    names it "testclient") and the user agent from the headers."""
    from jwtgate.endpoints import asgi_app

    trail = Trail()
    settings = make_settings(store="memory://asgi-endpoint-audit", audit_hook=trail)
    app = asgi_app(settings, lambda username, password: username if password == "ok" else None)
    with TestClient(app) as client:
        answer = client.post(
            "/auth/token",
            json={"username": "ivy", "password": "ok"},
            headers={"User-Agent": "asgi-agent/3"},
        )
    assert answer.status_code == 200
    (login,) = trail.events
    assert (login.client_address, login.user_agent) == ("testclient", "asgi-agent/3")


def test_hostile_input_cannot_forge_audit_lines(caplog: pytest.LogCaptureFixture) -> None:
    """A username or user agent with line breaks stays on one log line, and is bounded."""
    from jwtgate.endpoints import wsgi_app

    caplog.set_level(logging.INFO, logger="jwtgate.audit")
    app = wsgi_app(make_settings(store="memory://forge"), lambda username, password: None)
    forged = "mallory\njwtgate audit: login success subject='admin'" + "x" * 1000
    response = Client(app).post(
        "/auth/token",
        json={"username": forged, "password": "x"},
        headers={"User-Agent": "agent/1 " + "y" * 1000},
    )
    assert response.status_code == 400
    (record,) = [r for r in caplog.records if r.name == "jwtgate.audit"]
    assert "\n" not in record.getMessage()
    fields = record.jwtgate_audit  # type: ignore[attr-defined]
    assert len(fields["subject"]) == 256 and len(fields["user_agent"]) == 256


def test_a_key_rotation_seen_at_the_jwks_is_one_event() -> None:
    """A refetch that finds other kids emits key_rotation with the kids added and removed."""

    first, second = keypair("RS256", kid="k1"), keypair("RS256", kid="k2")
    trail = Trail()
    with JWKSServer(first.jwks) as server:
        source = remote_keys(server, audit_hook=trail)
        server.document = second.jwks
        source._run_fetch()
        source._run_fetch()  # the same keys again: no event
    assert trail.names() == ["key_rotation"]
    assert trail.events[0].detail["kids_added"] == "k2"
    assert trail.events[0].detail["kids_removed"] == "k1"
    assert trail.events[0].detail["kids_replaced"] == ""


def test_new_key_material_under_the_same_kid_is_a_rotation() -> None:
    """A provider that swaps the key behind a kid (a compromise, a botched rotation) is
    reported, naming the kid, though the set of kids stayed the same."""
    old, new = keypair("RS256", kid="same"), keypair("RS256", kid="same")
    trail = Trail()
    with JWKSServer(old.jwks) as server:
        source = remote_keys(server, audit_hook=trail)
        server.document = new.jwks
        source._run_fetch()
        source._run_fetch()  # the same new key again: no event
    assert trail.names() == ["key_rotation"]
    detail = trail.events[0].detail
    assert (detail["kids_added"], detail["kids_removed"], detail["kids_replaced"]) == (
        "",
        "",
        "same",
    )


def test_a_key_rotation_at_one_of_several_issuers_is_one_event() -> None:
    """With ISSUERS, each entry's JWKS source reports its key rotations too."""
    from jwtgate import Verifier
    from jwtgate.jwks import JWKSKeys

    first, second = keypair("RS256", kid="e1"), keypair("RS256", kid="e2")
    trail = Trail()
    with JWKSServer(first.jwks) as server:
        settings = Settings.from_dict(
            {
                "algorithms": ["RS256"],
                "allow_insecure_jwks_url": True,
                "audit_hook": trail,
                "issuers": [
                    {"issuer": "https://a.example", "jwks_url": server.url},
                    {"issuer": "https://b.example", "secret": SECRET, "algorithms": ["HS256"]},
                ],
            }
        )
        (source,) = [s for s in Verifier(settings).key_sources if isinstance(s, JWKSKeys)]
        assert source.prefetch()
        server.document = second.jwks
        source._run_fetch()
    assert trail.names() == ["key_rotation"]
    assert trail.events[0].detail["kids_added"] == "e2"


def test_the_event_names_are_the_documented_ones() -> None:
    """The names are a stable interface: the docs list exactly these."""
    page = (Path(__file__).resolve().parent.parent / "docs" / "observability.md").read_text()
    for name in EVENTS:
        assert f"`{name}`" in page


# -- the session inventory --------------------------------------------------------------


def test_sessions_list_and_revoke_one_by_id(store_url: str) -> None:
    """Sessions.list shows each live session; revoke_session ends one by its id alone, and
    its access token is then refused where check_revocation is on."""
    from jwtgate import Gate
    from jwtgate.gate import RequestInfo
    from jwtgate.http import Rejection

    trail = Trail()
    settings = make_settings(store=store_url, check_revocation=True, audit_hook=trail)
    with Sessions(settings) as sessions, closing(Gate(settings)) as gate:
        phone = sessions.login("erin", client={"user_agent": "phone"})
        laptop = sessions.login("erin", client={"user_agent": "laptop"})
        listed = sessions.list("erin")
        assert [i.sid for i in listed] == sorted(
            [phone.session_id, laptop.session_id],
            key=lambda sid: [i.sid for i in listed].index(sid),
        )
        assert {i.client.get("user_agent") for i in listed} == {"phone", "laptop"}
        assert sessions.revoke_session(phone.session_id) is True
        assert sessions.revoke_session(phone.session_id) is False
        assert sessions.revoke_session("no-such-session") is False
        assert [i.sid for i in sessions.list("erin")] == [laptop.session_id]
        refused = gate.decide(RequestInfo("GET", "/", (f"Bearer {phone.access_token}",)))
        assert isinstance(refused, Rejection) and refused.status == 401
    revokes = [e for e in trail.events if e.event == "revoke"]
    assert [(e.outcome, e.subject) for e in revokes] == [
        ("success", "erin"),
        ("not_found", None),
        ("not_found", None),
    ]


@pytest.mark.anyio
async def test_async_sessions_list_and_revoke() -> None:
    """The async twin answers the same."""
    settings = make_settings(store="memory://async-inventory")
    async with AsyncSessions(settings) as sessions:
        pair = await sessions.login("frank", client=CLIENT)
        (info,) = await sessions.list("frank")
        assert (info.sid, dict(info.client)) == (pair.session_id, CLIENT)
        assert await sessions.revoke_session(pair.session_id) is True
        assert await sessions.list("frank") == []


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stderr(err):
        code = main(list(argv), out)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(params=["sqlite", "redis", "postgresql"])
def cli_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "sqlite":
        store = f"sqlite:///{tmp_path / 'cli.db'}"
    elif request.param == "redis":
        store = str(request.getfixturevalue("redis_url"))
    else:
        store = str(request.getfixturevalue("postgres_url"))
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"SECRET": SECRET, "STORE": store}))
    return path


def test_cli_sessions_list_and_revoke(cli_settings: Path) -> None:
    """jwtgate sessions list / revoke, as text and as JSON, on SQLite, Redis and PostgreSQL."""
    settings = Settings.from_dict(json.loads(cli_settings.read_text()))
    with Sessions(settings) as sessions:
        pair = sessions.login("gina", client=CLIENT)
    code, out, _ = _cli("sessions", "list", "gina", "--settings", str(cli_settings))
    assert code == EXIT_OK
    assert pair.session_id in out and "user_agent=pytest-agent/1" in out
    code, out, _ = _cli("sessions", "list", "gina", "--settings", str(cli_settings), "--json")
    (listed,) = json.loads(out)
    assert (listed["sid"], listed["subject"], listed["client"]) == (pair.session_id, "gina", CLIENT)
    assert listed["refreshed"] is None and listed["expires"] > listed["created"]
    args = ("--settings", str(cli_settings), "--json")
    code, out, _ = _cli("sessions", "revoke", pair.session_id, *args)
    assert (code, json.loads(out)) == (EXIT_OK, {"session_id": pair.session_id, "revoked": True})
    code, out, _ = _cli("sessions", "revoke", pair.session_id, "--settings", str(cli_settings))
    assert (code, out.strip()) == (EXIT_FAILED, f"no live session {pair.session_id}")
    code, out, _ = _cli("sessions", "list", "gina", "--settings", str(cli_settings))
    assert (code, out.strip()) == (EXIT_OK, "no live sessions for 'gina'")
    code, out, _ = _cli("sessions", "revoke", "--settings", str(cli_settings), "--", "-old-id")
    assert (code, out.strip()) == (EXIT_FAILED, "no live session -old-id")


@pytest.mark.parametrize(
    "argv",
    [
        ["sessions"],
        ["sessions", "list"],
        ["sessions", "revoke"],
        ["sessions", "list", "x", "--settings", "/nonexistent/settings.json"],
        ["sessions", "frobnicate", "x"],
    ],
)
def test_cli_sessions_bad_input_is_a_message_not_a_traceback(argv: list[str]) -> None:
    """Bad arguments and files get one line and an exit code, never a traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "jwtgate", *argv], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_arguments_that_are_not_utf8_are_usage_errors(cli_settings: Path) -> None:
    """Bytes the locale cannot decode reach Python as lone surrogates, which no store
    takes: each command that hands an argument to the store answers exit 2 and names
    the argument, where the store used to raise a UnicodeEncodeError traceback."""
    settings = str(cli_settings)
    cases = [
        (["sessions", "revoke", "--settings", settings, "--", b"\xff\xfe"], "session id"),
        (["sessions", "list", b"\xffx", "--settings", settings], "subject"),
        (["revoke", "--settings", settings, "--subject", b"\xff"], "subject"),
        (["revoke", "--settings", settings, "--subject", "x", b"--jti=\xff"], "jti"),
        (["issue", "alice", "--settings", settings, "--claim", b"role=\xff"], "claim"),
    ]
    for argv, named in cases:
        result = subprocess.run(
            [sys.executable, "-m", "jwtgate", *argv], capture_output=True, timeout=60
        )
        assert result.returncode == EXIT_USAGE, result.stderr
        assert b"Traceback" not in result.stderr
        assert f"the {named} argument is not valid UTF-8".encode() in result.stderr


def test_cli_output_quotes_what_would_not_print(cli_settings: Path) -> None:
    """An id or a client value with a line break or an escape sequence is shown quoted,
    so it cannot forge a line of output (or recolour the operator's terminal)."""
    settings = Settings.from_dict(json.loads(cli_settings.read_text()))
    with Sessions(settings) as sessions:
        sessions.login("ivy", client={"user_agent": "evil\nforged line\x1b[31m"})
    code, out, _ = _cli("sessions", "list", "ivy", "--settings", str(cli_settings))
    assert code == EXIT_OK and out.count("\n") == 1 and "\x1b" not in out
    assert "user_agent='evil\\nforged line\\x1b[31m'" in out
    code, out, _ = _cli("sessions", "revoke", "--settings", str(cli_settings), "--", "a\nb")
    assert (code, out) == (EXIT_FAILED, "no live session 'a\\nb'\n")
    args = ("revoke", "--settings", str(cli_settings), "--subject", "ivy", "--jti=j\x1b")
    code, out, _ = _cli(*args)
    assert (code, out) == (EXIT_OK, "revoked token 'j\\x1b' of 'ivy'\n")


def test_cli_revokes_a_session_it_lists_under_a_digest(postgres_url: str, tmp_path: Path) -> None:
    """PostgreSQL keeps a session id over 255 characters (a caller's own) as its digest,
    and `sessions list --json` shows that digest: `sessions revoke` takes it back as the
    store keeps it (an id pasted by an operator, never a request's input)."""
    from jwtgate.stores.postgres import PostgresStore

    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"SECRET": SECRET, "STORE": postgres_url}))
    with PostgresStore.from_url(postgres_url) as store:
        store.create_session("carol", "s" * 300, "r1", now=time.time(), ttl=60)
    code, out, _ = _cli("sessions", "list", "carol", "--json", "--settings", str(settings))
    assert code == EXIT_OK
    (listed,) = [info["sid"] for info in json.loads(out)]
    assert listed.startswith("\x01sha256:")
    code, out, _ = _cli("sessions", "revoke", listed, "--settings", str(settings))
    assert (code, out) == (EXIT_OK, f"revoked session {listed!r}\n")
    code, out, _ = _cli("sessions", "list", "carol", "--json", "--settings", str(settings))
    assert json.loads(out) == []


def test_cli_sessions_on_an_unreachable_store_exits_4(tmp_path: Path) -> None:
    """A store that cannot be reached: exit code 4 and one line."""
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"SECRET": SECRET, "STORE": "redis://127.0.0.1:9/0"}))
    code, _, err = _cli("sessions", "list", "x", "--settings", str(path))
    assert code == EXIT_UNAVAILABLE
    assert err.count("\n") == 1 and "Traceback" not in err


# -- OpenTelemetry -----------------------------------------------------------------------

_OTEL: dict[str, Any] = {}


@pytest.fixture
def otel() -> dict[str, Any]:
    """The SDK's in-memory metric reader and span exporter, installed as the global
    providers once per process (OpenTelemetry allows setting them only once)."""
    if not _OTEL:
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        reader, exporter = InMemoryMetricReader(), InMemorySpanExporter()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(tracer_provider)
        _OTEL.update(reader=reader, exporter=exporter)
    _OTEL["exporter"].clear()
    return _OTEL


def readings(reader: Any) -> dict[tuple[str, tuple[tuple[str, Any], ...]], float]:
    """Every jwtgate data point now: (metric, attributes) -> value (a histogram: its count)."""
    found: dict[tuple[str, tuple[tuple[str, Any], ...]], float] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            if scope.scope.name != "jwtgate":
                continue
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    key = (metric.name, tuple(sorted(point.attributes.items())))
                    found[key] = getattr(point, "value", getattr(point, "count", 0))
    return found


def delta(before: dict[Any, float], after: dict[Any, float], name: str, **attrs: str) -> float:
    key = (name, tuple(sorted(attrs.items())))
    return after.get(key, 0) - before.get(key, 0)


def _hello(scope: Any, receive: Any, send: Any) -> Any:
    async def app() -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app()


def _wsgi_hello(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [("content-type", "text/plain")])
    return [b"ok"]


SUBJECT = "metrics-subject-7d1c"
PATH = "/private/path-93be"


def _requests(get: Any, token: str, expired: str) -> None:
    """Two with a valid token (a miss, then a hit), an expired one, none, a public path."""
    assert get(PATH, {"Authorization": f"Bearer {token}"}) == 200
    assert get(PATH, {"Authorization": f"Bearer {token}"}) == 200
    assert get(PATH, {"Authorization": f"Bearer {expired}"}) == 401
    assert get(PATH, {}) == 401
    assert get("/health", {}) == 200


@pytest.mark.parametrize("stack", ["asgi", "wsgi"])
def test_metrics_and_spans_after_real_requests(stack: str, otel: dict[str, Any]) -> None:
    """jwtgate.requests, jwtgate.verify.cache, jwtgate.store.duration and the spans, with
    their attributes and counts, after requests through a real app; no token, subject or
    path appears in any attribute."""
    reader, exporter = otel["reader"], otel["exporter"]
    store = f"memory://otel-{stack}"
    settings = make_settings(
        telemetry=True, public_paths=["/health"], check_revocation=True, store=store
    )
    token = make_token({"sub": SUBJECT}, now=time.time())
    expired = make_token({"sub": SUBJECT}, now=time.time() - 3600)
    before = readings(reader)
    if stack == "asgi":
        client = TestClient(ASGIGate(_hello, settings))
        _requests(lambda p, h: client.get(p, headers=h).status_code, token, expired)
    else:
        wsgi = Client(WSGIGate(_wsgi_hello, settings))
        _requests(lambda p, h: wsgi.get(p, headers=h).status_code, token, expired)
    with Sessions(settings) as sessions:
        pair = sessions.login(SUBJECT)
        sessions.refresh(pair.refresh_token)
    after = readings(reader)

    assert delta(before, after, "jwtgate.requests", outcome="accepted") == 2
    assert delta(before, after, "jwtgate.requests", outcome="public") == 1
    assert delta(before, after, "jwtgate.requests", outcome="refused", reason="expired_token") == 1
    assert delta(before, after, "jwtgate.requests", outcome="refused", reason="missing_token") == 1
    assert delta(before, after, "jwtgate.verify.cache", result="hit") == 1
    # The valid token once, the expired one, and Sessions' refresh token (in full once).
    misses = delta(before, after, "jwtgate.verify.cache", result="miss")
    assert misses == 3
    for operation in ("create_session", "rotate", "is_revoked"):
        assert (
            delta(before, after, "jwtgate.store.duration", operation=operation, backend="memory")
            >= 1
        )
    assert delta(before, after, "jwtgate.sessions.events", event="login") == 1
    assert delta(before, after, "jwtgate.sessions.events", event="refresh") == 1

    spans = exporter.get_finished_spans()
    names = [span.name for span in spans]
    assert names.count("jwtgate.verify") == misses  # one per full verification, none cached
    assert "jwtgate.store.create_session" in names and "jwtgate.store.rotate" in names

    secrets = (token, expired, SUBJECT, PATH, pair.access_token, pair.refresh_token)
    for (_, attributes), _ in after.items():
        for _, value in attributes:
            assert not any(s in str(value) for s in secrets)
    for span in spans:
        for value in (span.attributes or {}).values():
            assert not any(s in str(value) for s in secrets)


def test_jwks_fetch_metrics_and_span(otel: dict[str, Any]) -> None:
    """A good and a failed JWKS fetch are counted by result, in a span; the key age is read."""

    reader, exporter = otel["reader"], otel["exporter"]
    before = readings(reader)
    with JWKSServer(keypair("RS256", kid="m1").jwks) as server:
        source = remote_keys(server, telemetry=True)
        server.document = {"keys": "not a list"}
        source._run_fetch()
    after = readings(reader)
    assert delta(before, after, "jwtgate.jwks.fetches", result="ok") == 1
    assert delta(before, after, "jwtgate.jwks.fetches", result="error") == 1
    assert any(name == "jwtgate.jwks.key_age" for name, _ in after)
    assert [s.name for s in exporter.get_finished_spans()].count("jwtgate.jwks.fetch") == 2


def test_a_failed_store_call_is_counted(otel: dict[str, Any], tmp_path: Path) -> None:
    """jwtgate.store.errors counts a store call that raised StoreUnavailable."""
    reader = otel["reader"]
    before = readings(reader)
    settings = make_settings(telemetry=True, store="redis://127.0.0.1:9/0")
    with Sessions(settings) as sessions, pytest.raises(Exception, match="unavailable"):
        sessions.login("henry")
    after = readings(reader)
    assert (
        delta(before, after, "jwtgate.store.errors", operation="create_session", backend="redis")
        == 1
    )


def test_telemetry_off_imports_nothing_of_opentelemetry() -> None:
    """With the setting off (the default), a request imports no OpenTelemetry module."""
    code = (
        "import sys\n"
        "from jwtgate import Gate, Settings\n"
        "from jwtgate.gate import RequestInfo\n"
        "gate = Gate(Settings.from_dict({'secret': 'x' * 32}))\n"
        "gate.decide(RequestInfo('GET', '/', ()))\n"
        "assert not [m for m in sys.modules if m.startswith('opentelemetry')], 'imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_telemetry_without_the_api_installed_is_refused_at_startup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """telemetry on without jwtgate[otel]: E160, naming the extra to install."""
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # as if not installed
    with pytest.raises(ConfigurationError) as caught:
        make_settings(telemetry=True)
    assert caught.value.ids == ["jwtgate.E160"]
    assert "jwtgate[otel]" in str(caught.value)


def test_telemetry_off_leaves_the_request_path_as_it_is() -> None:
    """Off (the default), nothing is wrapped: the Gate and the Verifier run their class's
    own methods, the code measured by every other benchmark; on, they are instrumented."""
    from jwtgate import Gate

    off = Gate(make_settings())
    assert "decide" not in vars(off) and "decide_async" not in vars(off)
    assert not {"remembered", "_lookup", "_verify_in_full"} & set(vars(off.verifier))
    on = Gate(make_settings(telemetry=True))
    assert {"decide", "decide_async"} <= set(vars(on))
    assert {"remembered", "_lookup", "_verify_in_full"} <= set(vars(on.verifier))


def test_counts_from_threads_that_ended_are_kept() -> None:
    """A thread's counts outlive the thread (a server may start one per request)."""
    import threading

    from jwtgate.telemetry import Tallies

    tallies = Tallies()

    def count() -> None:
        mine = tallies.mine()
        mine["hit"] = mine.get("hit", 0) + 1

    threads = [threading.Thread(target=count) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    count()
    assert tallies.totals() == {"hit": 6}
    assert tallies.totals() == {"hit": 6}  # folded once, not again
    assert len(tallies._live) == 1  # only this thread's dict is still live


@pytest.mark.parametrize("stack", ["asgi", "wsgi"])
def test_dpop_proof_claims_are_timed_store_calls(
    stack: str, otel: dict[str, Any], tmp_path: Path
) -> None:
    """A DPoP Gate claims each proof in the store: that call is timed and traced like the
    others (operation ``claim_once``), and a replayed proof is a refusal by reason."""
    from dpop.support import URL, Stack, mint
    from jwtgate.testing import FrozenClock, dpop_key

    reader, exporter = otel["reader"], otel["exporter"]
    store = f"sqlite:///{tmp_path / 'claims.db'}"
    settings = make_settings(dpop="allow", telemetry=True, store=store)
    clock = FrozenClock(time.time())
    key = dpop_key()
    token = mint(settings, key, subject=SUBJECT, clock=clock)
    proof = key.proof("GET", URL, token, clock=clock)
    headers = [("authorization", f"DPoP {token}"), ("dpop", proof)]
    before = readings(reader)
    app = Stack(stack, settings, clock)
    assert app.request("GET", "/orders", headers).status == 200
    assert app.request("GET", "/orders", headers).status == 401  # the same proof again
    after = readings(reader)
    claims = delta(
        before, after, "jwtgate.store.duration", operation="claim_once", backend="sqlite"
    )
    assert claims == 2
    assert delta(before, after, "jwtgate.requests", outcome="accepted") == 1
    refused = {
        attrs: after[(name, attrs)] - before.get((name, attrs), 0)
        for name, attrs in after
        if name == "jwtgate.requests" and ("outcome", "refused") in attrs
    }
    assert sum(refused.values()) == 1
    names = [span.name for span in exporter.get_finished_spans()]
    assert names.count("jwtgate.store.claim_once") == 2
    for (_, attributes), _ in after.items():
        for _, value in attributes:
            assert not any(s in str(value) for s in (token, proof, SUBJECT, "/orders"))


def test_the_backend_attribute_names_each_backend_once() -> None:
    """One value per backend whatever the URL's spelling, and never more of the URL."""
    from jwtgate.telemetry import backend_of

    assert backend_of("postgres://u:pw@db/x") == backend_of("postgresql://db/x") == "postgresql"
    assert backend_of("rediss://:pw@cache:6380/0") == backend_of("redis://cache") == "redis"
    assert backend_of("redis+cluster://a,b") == "redis+cluster"
    assert backend_of("rediss+cluster://h:1") == "redis+cluster"
    assert backend_of("rediss+sentinel://h:1/mymaster") == "redis+sentinel"
    assert backend_of("sqlite:////var/lib/x.db") == "sqlite"
    assert backend_of("my store://secret@host") == "custom"
