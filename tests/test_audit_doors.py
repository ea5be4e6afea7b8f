"""#18 review: every door that causes an audit event (Sessions, the token endpoints
over WSGI and ASGI, the CLI, the JWKS key source), on every store: one event per
action, the same fields everywhere, and the client recorded at login listed back."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, redirect_stderr
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from werkzeug.test import Client

from conftest import SECRET, make_settings
from jwtgate import ConfigurationError, Sessions, Settings
from jwtgate.audit import AuditEvent
from jwtgate.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from jwtgate.errors import ReusedToken, RevokedToken

FIELDS = {"event", "outcome", "subject", "session_id", "client_address", "user_agent", "detail"}
CLIENT = {"address": "198.51.100.7", "user_agent": "pytest-agent/1"}

STORES = [
    "memory",
    "sqlite",
    "redis",
    "postgresql",
    pytest.param("cluster", marks=pytest.mark.slow),
    "django-sqlite",
]


class Trail:
    """The events an ``audit_hook`` received."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self._lock = threading.Lock()

    def __call__(self, event: AuditEvent) -> None:
        with self._lock:
            self.events.append(event)

    def names(self) -> list[str]:
        return [e.event for e in self.events]

    def rows(self) -> list[tuple[object, ...]]:
        return [(e.event, e.outcome, e.subject, e.session_id) for e in self.events]


@pytest.fixture(params=STORES)
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of each store in turn, empty."""
    kind = request.param
    if kind == "memory":
        yield f"memory://doors-{id(request)}"
    elif kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'doors.db'}"
    elif kind == "redis":
        yield request.getfixturevalue("redis_url")
    elif kind == "cluster":
        yield request.getfixturevalue("redis_cluster_url")
    elif kind == "postgresql":
        yield request.getfixturevalue("postgres_url")
    else:
        pytest.importorskip("django")
        from django_databases import empty_store_tables

        alias = request.getfixturevalue("django_sqlite_alias")
        with request.getfixturevalue("django_db_blocker").unblock():
            empty_store_tables(alias)
            yield f"django://{alias}"


@pytest.fixture(params=["sqlite", "redis", "postgres"])
def server_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store other processes and threads share."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return str(request.getfixturevalue(f"{request.param}_url"))


# -- Sessions, on every store -----------------------------------------------------------


def test_every_action_is_one_event_with_the_same_fields_on_every_store(any_store: str) -> None:
    """The whole life of sessions through Sessions: each action one event, and the same
    rows on every store, including revoking (by id) a session a logout everywhere or a
    replay already ended: ``not_found``, naming no subject (Redis said ``success``, its
    owner key outliving the session)."""
    trail = Trail()
    with Sessions(make_settings(store=any_store, audit_hook=trail)) as sessions:
        first = sessions.login("alice", client=CLIENT)
        second = sessions.login("alice")
        sessions.logout_all("alice")
        assert sessions.list("alice") == []
        assert sessions.revoke_session(first.session_id) is False
        third = sessions.login("alice")
        rotated = sessions.refresh(third.refresh_token, client=CLIENT)
        with pytest.raises(ReusedToken):
            sessions.refresh(third.refresh_token)
        assert sessions.list("alice") == []
        assert sessions.revoke_session(third.session_id) is False
        with pytest.raises(RevokedToken):
            sessions.refresh(rotated.refresh_token)
        fourth = sessions.login("alice")
        assert sessions.logout(fourth.refresh_token) is True
        assert sessions.logout(fourth.access_token) is False
        fifth = sessions.login("alice")
        assert sessions.revoke_session(fifth.session_id) is True
    s1, s2, s3, s4, s5 = (p.session_id for p in (first, second, third, fourth, fifth))
    assert trail.rows() == [
        ("login", "success", "alice", s1),
        ("login", "success", "alice", s2),
        ("logout_all", "success", "alice", None),
        ("revoke", "not_found", None, s1),
        ("login", "success", "alice", s3),
        ("refresh", "success", "alice", s3),
        ("reuse_detected", "session_revoked", "alice", s3),
        ("revoke", "not_found", None, s3),
        ("refresh", "refused", "alice", s3),
        ("login", "success", "alice", s4),
        ("logout", "success", "alice", s4),
        ("logout", "not_found", "alice", s4),
        ("login", "success", "alice", s5),
        ("revoke", "success", "alice", s5),
    ]
    for event in trail.events:
        assert set(event.as_dict()) == FIELDS
    assert [e.detail for e in trail.events if e.event == "revoke"] == [{"target": "session"}] * 3
    login, refresh = trail.events[0], trail.events[5]
    assert (login.client_address, login.user_agent) == (CLIENT["address"], CLIENT["user_agent"])
    assert (refresh.client_address, refresh.user_agent) == (CLIENT["address"], CLIENT["user_agent"])


# Inside the 256 kept: a NUL and a lone surrogate (kept as U+FFFD: no PostgreSQL text
# holds a NUL, no UTF-8 a surrogate), line breaks, an escape sequence, non-ASCII.
ODD_AGENT = "a\x00b\udcff\r\nc\x1b[31m\u00e9\u2028\U0001f600" + "z" * 300
KEPT_AGENT = ODD_AGENT[:256].replace("\x00", "\ufffd").replace("\udcff", "\ufffd")
ODD_ADDRESS = "2001:db8::1%eth0"


def test_the_client_recorded_at_login_is_listed_as_given_on_every_store(any_store: str) -> None:
    """Sessions.list gives back the client of each login, cut to 256 characters, the same on
    every store; a NUL or a lone surrogate does not fail the login (PostgreSQL refused the
    NUL, a 503 that opened the store's breaker for every request); the login event
    carries the same values."""
    trail = Trail()
    with Sessions(make_settings(store=any_store, audit_hook=trail)) as sessions:
        odd = sessions.login("zoe", client={"address": ODD_ADDRESS, "user_agent": ODD_AGENT})
        bare = sessions.login("zoe")
        listed = {info.sid: dict(info.client) for info in sessions.list("zoe")}
    assert listed == {
        odd.session_id: {"address": ODD_ADDRESS, "user_agent": KEPT_AGENT},
        bare.session_id: {},
    }
    login = trail.events[0]
    assert (login.client_address, login.user_agent) == (ODD_ADDRESS, KEPT_AGENT)


@pytest.mark.anyio
async def test_async_sessions_emit_the_same_events(redis_url: str) -> None:
    """AsyncSessions: the same events, once each, as Sessions (Redis, asyncio)."""
    from jwtgate import AsyncSessions

    trail = Trail()
    async with AsyncSessions(make_settings(store=redis_url, audit_hook=trail)) as sessions:
        pair = await sessions.login("amy", client=CLIENT)
        await sessions.logout_all("amy")
        assert await sessions.revoke_session(pair.session_id) is False
        other = await sessions.login("amy")
        await sessions.refresh(other.refresh_token)
        with pytest.raises(ReusedToken):
            await sessions.refresh(other.refresh_token)
        assert await sessions.revoke_session(other.session_id) is False
    assert trail.rows() == [
        ("login", "success", "amy", pair.session_id),
        ("logout_all", "success", "amy", None),
        ("revoke", "not_found", None, pair.session_id),
        ("login", "success", "amy", other.session_id),
        ("refresh", "success", "amy", other.session_id),
        ("reuse_detected", "session_revoked", "amy", other.session_id),
        ("revoke", "not_found", None, other.session_id),
    ]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- the CLI --------------------------------------------------------------------------


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stderr(err):
        code = main(list(argv), out)
    return code, out.getvalue(), err.getvalue()


def _settings_file(tmp_path: Path, store: str) -> str:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"SECRET": SECRET, "STORE": store}))
    return str(path)


def _audit(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.jwtgate_audit for r in caplog.records if r.name == "jwtgate.audit"]  # type: ignore[attr-defined]


def test_each_cli_revoke_is_one_event(
    server_store: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """jwtgate sessions list (a logout everywhere leaves none), then jwtgate revoke
    --subject, --jti, --token and jwtgate sessions revoke: one revoke event each on the
    jwtgate.audit logger, every field present; a session a logout everywhere ended is
    not_found (exit 1), on Redis too (it said "revoked")."""
    caplog.set_level(logging.INFO, logger="jwtgate.audit")
    settings = _settings_file(tmp_path, server_store)
    with Sessions(make_settings(store=server_store)) as sessions:
        kept, ended = sessions.login("cli-user"), sessions.login("other-user")
        sessions.logout_all("other-user")
    code, out, _ = _cli("sessions", "list", "cli-user", "--settings", settings, "--json")
    assert code == EXIT_OK and [i["sid"] for i in json.loads(out)] == [kept.session_id]
    code, out, _ = _cli("sessions", "list", "other-user", "--settings", settings)
    assert (code, out) == (EXIT_OK, "no live sessions for 'other-user'\n")
    caplog.clear()
    assert _cli("revoke", "--subject", "nobody", "--settings", settings)[0] == EXIT_OK
    assert _cli("revoke", "--subject", "s", "--jti=j-1", "--settings", settings)[0] == EXIT_OK
    assert _cli("revoke", "--token", kept.access_token, "--settings", settings)[0] == EXIT_OK
    assert _cli("sessions", "revoke", kept.session_id, "--settings", settings)[0] == EXIT_OK
    code, out, _ = _cli("sessions", "revoke", ended.session_id, "--settings", settings)
    assert (code, out.strip()) == (EXIT_FAILED, f"no live session {ended.session_id}")
    events = _audit(caplog)
    assert all(set(event) == FIELDS for event in events)
    assert [(e["event"], e["outcome"], e["subject"], e["detail"]) for e in events] == [
        ("revoke", "success", "nobody", {"target": "subject"}),
        ("revoke", "success", "s", {"jti": "j-1"}),
        ("revoke", "success", "cli-user", {"jti": events[2]["detail"]["jti"]}),
        ("revoke", "success", "cli-user", {"target": "session"}),
        ("revoke", "not_found", None, {"target": "session"}),
    ]


def test_cli_text_output_shows_control_characters_escaped(tmp_path: Path) -> None:
    """An id or a user agent with a line break or an escape sequence cannot forge a line
    of the CLI's text output, nor drive the operator's terminal: it is shown quoted."""
    store = f"sqlite:///{tmp_path / 'cli.db'}"
    settings = _settings_file(tmp_path, store)
    with Sessions(make_settings(store=store)) as sessions:
        sessions.login("tom", client={"user_agent": "ok\nrevoked session admin\x1b[2J"})
    code, out, _ = _cli("sessions", "list", "tom", "--settings", settings)
    assert code == EXIT_OK and out.count("\n") == 1 and "\x1b" not in out
    assert "user_agent='ok\\nrevoked session admin\\x1b[2J'" in out
    code, out, _ = _cli("sessions", "revoke", "x\nrevoked session y", "--settings", settings)
    assert (code, out) == (EXIT_FAILED, "no live session 'x\\nrevoked session y'\n")
    code, out, _ = _cli("revoke", "--subject", "s", "--jti=j\x1b[31m", "--settings", settings)
    assert (code, out) == (EXIT_OK, "revoked token 'j\\x1b[31m' of 's'\n")


@pytest.mark.parametrize(
    "argv",
    [
        [b"sessions", b"revoke", b"ab\xffcd"],
        [b"sessions", b"list", b"\xc3\x28"],
        [b"revoke", b"--subject", b"\xff"],
        [b"revoke", b"--subject", b"ok", b"--jti", b"\xfe"],
        [b"sessions", b"list", b"x" * 100_000],
    ],
)
def test_cli_arguments_that_are_not_utf8_are_a_usage_error(
    argv: list[bytes], tmp_path: Path
) -> None:
    """Bytes that are not UTF-8 (a subject, a session id, a jti) are one line and exit 2,
    not a UnicodeEncodeError traceback from the store; a huge one is just not found."""
    settings = _settings_file(tmp_path, f"sqlite:///{tmp_path / 'cli.db'}").encode()
    result = subprocess.run(
        [sys.executable.encode(), b"-m", b"jwtgate", *argv, b"--settings", settings],
        capture_output=True,
        timeout=60,
    )
    assert b"Traceback" not in result.stderr + result.stdout
    if len(argv[-1]) > 1000:
        assert result.returncode == EXIT_OK and b"no live sessions" in result.stdout
    else:
        assert result.returncode == EXIT_USAGE
        assert result.stderr.count(b"\n") == 1 and b"is not valid UTF-8" in result.stderr


@pytest.mark.parametrize(
    "store",
    [
        "redis://[::1",
        "postgresql://[::1/db",
        "redis+cluster://[::1:7000",
        "redis://u:p@[zz]:1/0",
        "redis://localhost:99999/0",
        "redis+cluster://h:7000,h:70000",
    ],
)
def test_store_url_typos_are_settings_problems(store: str, tmp_path: Path) -> None:
    """A store URL urlsplit or redis-py cannot read is a settings problem (E020/E110, CLI
    exit 3), not a ValueError traceback at startup or at the first store call."""
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_dict({"secret": SECRET, "store": store})
    assert caught.value.ids in (["jwtgate.E020"], ["jwtgate.E110"])
    code, out, err = _cli("sessions", "list", "x", "--settings", _settings_file(tmp_path, store))
    assert (code, out) == (EXIT_CONFIG, "") and "Traceback" not in err


# -- the token endpoints, on each stack ---------------------------------------------------


def _password(username: str, password: str) -> str | None:
    return username if password == "pw" else None


def _post_with(stack: str, settings: Settings, stack_exit: ExitStack) -> Any:
    """``post(route, json, headers) -> (status, body)`` through ``stack``'s token routes
    under /auth (and the peer address that stack reports)."""
    if stack in ("wsgi", "flask"):
        if stack == "wsgi":
            from jwtgate.endpoints import wsgi_app

            client = Client(wsgi_app(settings, _password))
        else:
            from flask import Flask

            from jwtgate.contrib.flask import JWTGate
            from jwtgate.contrib.flask_tokens import token_blueprint

            app = Flask(__name__)
            app.config["JWTGATE"] = settings
            JWTGate(app)
            app.register_blueprint(token_blueprint(_password), url_prefix="/auth")
            client = Client(app)

        def post(route: str, body: Any = None, headers: Any = None) -> tuple[int, Any]:
            answer = client.post(
                f"/auth/{route}",
                json=body,
                headers=headers or {},
                environ_base={"REMOTE_ADDR": "192.0.2.8"},
            )
            return answer.status_code, json.loads(answer.data) if answer.data else None

        return post, "192.0.2.8"
    if stack == "asgi":
        from jwtgate.endpoints import asgi_app

        test_client = TestClient(asgi_app(settings, _password))
    else:
        from fastapi import FastAPI

        from jwtgate.contrib.fastapi import token_router

        app = FastAPI()
        app.include_router(token_router(settings, _password), prefix="/auth")
        test_client = TestClient(app)
    # One event loop for every request (the async Redis client belongs to its loop).
    stack_exit.enter_context(test_client)

    def apost(route: str, body: Any = None, headers: Any = None) -> tuple[int, Any]:
        answer = test_client.post(f"/auth/{route}", json=body, headers=headers or {})
        return answer.status_code, answer.json() if answer.content else None

    return apost, "testclient"


STACKS = ["wsgi", "asgi", "flask", "fastapi"]


@pytest.mark.parametrize("stack", STACKS)
def test_each_token_endpoint_call_is_one_event(stack: str, redis_url: str) -> None:
    """login (refused and accepted), refresh, a replay, logout, logout again, logout-all by
    access token: one event each, carrying the peer and the user agent the stack saw;
    /verify none. No endpoint event besides the Sessions one."""
    trail = Trail()
    settings = make_settings(store=redis_url, audit_hook=trail)
    agent = {"User-Agent": f"{stack}-agent/1"}
    with ExitStack() as stack_exit:
        post, peer = _post_with(stack, settings, stack_exit)
        _endpoint_story(post, agent)
    assert [(e.event, e.outcome) for e in trail.events] == [
        ("login", "refused"),
        ("login", "success"),
        ("refresh", "success"),
        ("reuse_detected", "session_revoked"),
        ("login", "success"),
        ("logout", "success"),
        ("logout", "not_found"),
        ("login", "success"),
        ("logout_all", "success"),
    ]
    for event in trail.events:
        assert event.subject == "eve"
        assert (event.client_address, event.user_agent) == (peer, f"{stack}-agent/1")
    with Sessions(settings) as sessions:
        assert sessions.list("eve") == []


def _endpoint_story(post: Any, agent: dict[str, str]) -> None:
    assert post("token", {"username": "eve", "password": "no"}, agent)[0] == 400
    status, first = post("token", {"username": "eve", "password": "pw"}, agent)
    assert status == 200
    assert post("refresh", {"refresh_token": first["refresh_token"]}, agent)[0] == 200
    assert post("refresh", {"refresh_token": first["refresh_token"]}, agent)[0] == 400
    _, third = post("token", {"username": "eve", "password": "pw"}, agent)
    assert post("verify", {"token": third["access_token"]}, agent)[0] == 200
    assert post("logout", {"refresh_token": third["refresh_token"]}, agent)[0] == 204
    assert post("logout", {"refresh_token": third["refresh_token"]}, agent)[0] == 204
    _, fourth = post("token", {"username": "eve", "password": "pw"}, agent)
    bearer = {**agent, "Authorization": f"Bearer {fourth['access_token']}"}
    assert post("logout-all", None, bearer)[0] == 204


# -- concurrency ----------------------------------------------------------------------------


@pytest.mark.parametrize("grace", [0, 30])
def test_two_refreshes_of_one_token_at_once_are_two_events(server_store: str, grace: int) -> None:
    """Eight threads refresh the same token at once: one rotation (refresh success); without
    a grace window the others are replays, and each is one reuse_detected (the session
    is gone after the first, so the later ones find nothing: refused); with one, the
    others are grace answers. Never two successes, never an event missing."""
    trail = Trail()
    settings = make_settings(store=server_store, audit_hook=trail, refresh_reuse_grace=grace)
    with Sessions(settings) as sessions:
        pair = sessions.login("racer")
        barrier = threading.Barrier(8)
        outcomes: list[str] = []

        def refresh() -> None:
            barrier.wait()
            try:
                sessions.refresh(pair.refresh_token)
                outcomes.append("ok")
            except ReusedToken:
                outcomes.append("reused")
            except RevokedToken:
                outcomes.append("revoked")

        threads = [threading.Thread(target=refresh) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    events = [(e.event, e.outcome) for e in trail.events[1:]]
    assert len(events) == 8 == len(outcomes)
    assert events.count(("refresh", "success")) == 1
    if grace:
        assert sorted(events) == [("refresh", "grace")] * 7 + [("refresh", "success")]
        assert outcomes == ["ok"] * 8
    else:
        reuses = events.count(("reuse_detected", "session_revoked"))
        assert reuses == outcomes.count("reused") >= 1
        assert events.count(("refresh", "refused")) == outcomes.count("revoked") == 7 - reuses


@pytest.mark.parametrize("stack", ["wsgi", "asgi"])
def test_logout_all_with_a_refresh_token_is_one_event(stack: str, redis_url: str) -> None:
    """/logout-all with a refresh token consumes it (a used one is a replay), but the
    action is the logout everywhere: logout_all alone, not a refresh success besides
    (no pair reached anyone); a replayed one is reuse_detected alone (400)."""
    trail = Trail()
    settings = make_settings(store=redis_url, audit_hook=trail)
    with ExitStack() as stack_exit:
        post, _ = _post_with(stack, settings, stack_exit)
        _, first = post("token", {"username": "lee", "password": "pw"})
        assert post("refresh", {"refresh_token": first["refresh_token"]})[0] == 200
        assert post("logout-all", {"refresh_token": first["refresh_token"]})[0] == 400
        _, second = post("token", {"username": "lee", "password": "pw"})
        assert post("logout-all", {"refresh_token": second["refresh_token"]})[0] == 204
    assert [(e.event, e.outcome) for e in trail.events] == [
        ("login", "success"),
        ("refresh", "success"),
        ("reuse_detected", "session_revoked"),
        ("login", "success"),
        ("logout_all", "success"),
    ]


# -- DPoP-bound refresh -------------------------------------------------------------------


def test_a_dpop_bound_refresh_is_one_event_and_a_refused_proof_none(tmp_path: Path) -> None:
    """Over WSGI with DPoP allowed: a bound login, a refresh without a proof (refused
    before the store: no event), one with another key's (likewise), one with the right
    key (refresh success), and its replay with a fresh proof (one reuse_detected)."""
    from jwtgate.endpoints import wsgi_app
    from jwtgate.testing import dpop_key

    trail = Trail()
    settings = Settings.from_dict(
        {
            "secret": SECRET,
            "dpop": "allow",
            "store": f"sqlite:///{tmp_path / 'dpop.db'}",
            "audit_hook": trail,
        }
    )
    client, base = Client(wsgi_app(settings, _password)), "http://auth.example"
    key = dpop_key()

    def post(route: str, body: Any, proof_key: Any = None) -> tuple[int, Any]:
        url = f"{base}/auth/{route}"
        headers = {} if proof_key is None else {"DPoP": proof_key.proof("POST", url)}
        answer = client.post(f"/auth/{route}", json=body, headers=headers, base_url=base)
        return answer.status_code, answer.get_json()

    status, tokens = post("token", {"username": "dee", "password": "pw"}, key)
    assert (status, tokens["token_type"]) == (200, "DPoP")
    body = {"refresh_token": tokens["refresh_token"]}
    assert post("refresh", body)[0] == 400
    assert post("refresh", body, dpop_key())[0] == 400
    assert post("refresh", body, key)[0] == 200
    assert post("refresh", body, key)[0] == 400
    assert [(e.event, e.outcome, e.subject) for e in trail.events] == [
        ("login", "success", "dee"),
        ("refresh", "success", "dee"),
        ("reuse_detected", "session_revoked", "dee"),
    ]


# -- key rotation -----------------------------------------------------------------------------


def test_a_key_rotation_is_one_event_for_every_verifier_of_the_settings() -> None:
    """A Gate and a Verifier built from one Settings share its JWKS source: eight threads
    refetching the rotated set at once report it once; the same set again, never."""
    from jwtgate import Gate, Verifier
    from jwtgate.jwks import JWKSKeys
    from jwtgate.testing import JWKSServer, keypair

    first, second = keypair("RS256", kid="r1"), keypair("RS256", kid="r2")
    trail = Trail()
    with JWKSServer(first.jwks) as server:
        settings = Settings.from_dict(
            {
                "algorithms": ["RS256"],
                "jwks_url": server.url,
                "allow_insecure_jwks_url": True,
                "audit_hook": trail,
            }
        )
        gate, verifier = Gate(settings), Verifier(settings)
        (source,) = verifier.key_sources
        assert isinstance(source, JWKSKeys) and gate.verifier.key_sources == (source,)
        assert source.prefetch()
        server.document = second.jwks
        barrier = threading.Barrier(8)

        def refetch() -> None:
            barrier.wait()
            source._run_fetch()

        threads = [threading.Thread(target=refetch) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        source._run_fetch()
    assert [(e.event, e.outcome, e.subject, e.session_id) for e in trail.events] == [
        ("key_rotation", "seen", None, None)
    ]
    assert set(trail.events[0].as_dict()) == FIELDS
    assert dict(trail.events[0].detail) == {
        "kids_added": "r2",
        "kids_removed": "r1",
        "kids_replaced": "",
        "jwks_url": server.url,
    }


# -- Django's token views -------------------------------------------------------------------


@pytest.mark.django_db
def test_django_token_views_are_one_event_each(django_user_model: Any) -> None:
    """The Django token views (django.contrib.auth's authenticate): a refused login, a
    login, a refresh, its replay, a logout-all by refresh token: one event each, with
    REMOTE_ADDR and the user agent."""
    pytest.importorskip("django")
    import uuid

    from django.test import Client as DjangoClient
    from django.test import override_settings

    from django_project import settings as project_settings

    django_user_model.objects.create_user("dora", "dora@example.com", "s3cret-pw")
    trail = Trail()
    store = f"memory://django-doors-{uuid.uuid4().hex}"
    changed = {**project_settings.JWTGATE, "STORE": store, "AUDIT_HOOK": trail}
    client = DjangoClient(HTTP_USER_AGENT="django-agent/1", REMOTE_ADDR="203.0.113.5")

    def post(route: str, body: Any) -> tuple[int, Any]:
        answer = client.post(f"/auth/{route}", json.dumps(body), content_type="application/json")
        return answer.status_code, answer.json() if answer.content else None

    with override_settings(JWTGATE=changed):
        assert post("token", {"username": "dora", "password": "wrong"})[0] == 400
        status, first = post("token", {"username": "dora", "password": "s3cret-pw"})
        assert status == 200
        refresh = {"refresh_token": first["refresh_token"]}
        assert post("refresh", refresh)[0] == 200
        assert post("refresh", refresh)[0] == 400
        _, third = post("token", {"username": "dora", "password": "s3cret-pw"})
        assert post("logout-all", {"refresh_token": third["refresh_token"]})[0] == 204
    assert [(e.event, e.outcome, e.subject) for e in trail.events] == [
        ("login", "refused", "dora"),
        ("login", "success", "dora"),
        ("refresh", "success", "dora"),
        ("reuse_detected", "session_revoked", "dora"),
        ("login", "success", "dora"),
        ("logout_all", "success", "dora"),
    ]
    for event in trail.events:
        assert (event.client_address, event.user_agent) == ("203.0.113.5", "django-agent/1")
