"""Sessions: login, rotation, reuse detection, grace, logout and logout-all, on every store."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import SECRET, FakeClock, make_settings
from jwtgate import AsyncSessions, Identity, Issuer, Sessions, Settings, TokenPair, Verifier
from jwtgate.errors import (
    ConfigurationError,
    ExpiredToken,
    InvalidClaim,
    MissingClaim,
    ReusedToken,
    RevokedToken,
    StoreUnavailable,
    WrongTokenType,
)
from jwtgate.sessions import purge_expired, revoke_jti, revoke_subject
from jwtgate.stores import open_async_store, open_store
from redis_server import skip_async_redis_on_trio

BACKENDS = ["memory", "sqlite", "redis"]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store URL for each backend."""
    if request.param == "memory":
        return f"memory://sessions-{id(request)}"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jwtgate.db'}"
    return str(request.getfixturevalue("redis_url"))


@pytest.fixture
def make_sessions(store_url: str) -> Iterator[Callable[..., Sessions]]:
    """``make_sessions(**settings)`` over the backend; all closed at the end."""
    made: list[Sessions] = []

    def factory(clock: Callable[[], float] | None = None, **overrides: Any) -> Sessions:
        settings = make_settings(store=store_url, **overrides)
        sessions = Sessions(settings, clock=clock) if clock else Sessions(settings)
        made.append(sessions)
        return sessions

    yield factory
    for sessions in made:
        sessions.close()
        sessions.store.close()


def test_login_issues_distinguishable_tokens_with_the_session_id(
    make_sessions: Callable[..., Sessions],
) -> None:
    """Both tokens carry ``sid``; the access token verifies, the refresh token never does."""
    sessions = make_sessions()
    pair = sessions.login("alice", {"scope": "read"})
    verifier = Verifier(sessions.settings)
    access = verifier.verify(pair.access_token)
    assert access.subject == "alice"
    assert access.scopes == {"read"}
    assert access.claims["sid"] == pair.session_id
    assert access.claims["token_use"] == "access"
    with pytest.raises(WrongTokenType):
        verifier.verify(pair.refresh_token)
    with pytest.raises(WrongTokenType):
        sessions.refresh(pair.access_token)
    refresh = Verifier(sessions.settings, token_use="refresh").verify(pair.refresh_token)
    assert refresh.claims["sid"] == pair.session_id
    assert pair.expires_in == 300
    assert pair.as_dict()["token_type"] == "Bearer"
    assert pair.access_token not in repr(pair)
    assert pair.refresh_token not in repr(pair)


def test_refresh_rotates_and_keeps_the_claims(make_sessions: Callable[..., Sessions]) -> None:
    """A refresh returns a new pair in the same session, carrying the login's claims."""
    sessions = make_sessions()
    first = sessions.login("alice", {"scope": "read write", "tenant": "t1"})
    second = sessions.refresh(first.refresh_token)
    assert second.session_id == first.session_id
    assert second.refresh_token != first.refresh_token
    assert second.grace is False
    identity = Verifier(sessions.settings).verify(second.access_token)
    assert identity.scopes == {"read", "write"}
    assert identity.claims["tenant"] == "t1"
    third = sessions.refresh(second.refresh_token)
    assert third.session_id == first.session_id


def test_reuse_revokes_the_whole_family(
    make_sessions: Callable[..., Sessions], caplog: pytest.LogCaptureFixture
) -> None:
    """Replaying a consumed refresh token revokes the session: the newest token dies too."""
    sessions = make_sessions()
    first = sessions.login("alice")
    second = sessions.refresh(first.refresh_token)
    with pytest.raises(ReusedToken):
        sessions.refresh(first.refresh_token)
    assert "reuse detected" in caplog.text
    assert first.refresh_token not in caplog.text
    with pytest.raises(RevokedToken):
        sessions.refresh(second.refresh_token)
    assert sessions.store.is_revoked("alice", second.session_id, None, None) is True


def test_grace_window_tolerates_a_retry(make_sessions: Callable[..., Sessions]) -> None:
    """Within the grace window a replay gets the current token; after it, a replay is reuse."""
    clock = FakeClock()
    sessions = make_sessions(clock=clock, refresh_reuse_grace=10)
    first = sessions.login("alice")
    second = sessions.refresh(first.refresh_token)
    clock.advance(3)
    retry = sessions.refresh(first.refresh_token)
    assert retry.grace is True
    assert retry.session_id == first.session_id
    # Both answers hold the family's current refresh token: either can go on.
    third = sessions.refresh(retry.refresh_token)
    assert third.grace is False
    clock.advance(11)
    with pytest.raises(ReusedToken):
        sessions.refresh(second.refresh_token)
    with pytest.raises(RevokedToken):
        sessions.refresh(third.refresh_token)


def test_logout_ends_the_session(make_sessions: Callable[..., Sessions]) -> None:
    """logout with either token ends the session; a second logout reports nothing to do."""
    sessions = make_sessions()
    one = sessions.login("alice")
    two = sessions.login("alice")
    assert sessions.logout(one.access_token) is True
    assert sessions.logout(one.refresh_token) is False
    with pytest.raises(RevokedToken):
        sessions.refresh(one.refresh_token)
    assert sessions.logout(two.refresh_token) is True
    assert sessions.store.is_revoked("alice", two.session_id, None, None) is True


def test_logout_of_a_sessionless_token_revokes_its_jti(
    make_sessions: Callable[..., Sessions],
) -> None:
    """A plain access token (no sid) is revoked by its jti."""
    sessions = make_sessions()
    token = Issuer(sessions.settings).access_token("alice")
    identity = Verifier(sessions.settings).verify(token)
    assert sessions.logout(token) is True
    assert sessions.store.is_revoked("alice", None, identity.claims["jti"], None) is True


def test_logout_all_ends_every_session_of_the_subject_only(
    make_sessions: Callable[..., Sessions],
) -> None:
    """logout_all ends all of a subject's sessions; later logins and other subjects carry on."""
    sessions = make_sessions()
    a1, a2, bob = sessions.login("alice"), sessions.login("alice"), sessions.login("bob")
    sessions.logout_all("alice")
    for pair in (a1, a2):
        with pytest.raises(RevokedToken):
            sessions.refresh(pair.refresh_token)
        assert sessions.store.is_revoked("alice", pair.session_id, None, None) is True
    fresh = sessions.login("alice")
    assert sessions.refresh(fresh.refresh_token).session_id == fresh.session_id
    assert sessions.refresh(bob.refresh_token).session_id == bob.session_id


def test_expired_refresh_token_is_refused(make_sessions: Callable[..., Sessions]) -> None:
    """A refresh token past its exp is refused before the store is asked."""
    clock = FakeClock()
    sessions = make_sessions(clock=clock, refresh_token_ttl=600)
    pair = sessions.login("alice")
    clock.advance(601)
    with pytest.raises(ExpiredToken):
        sessions.refresh(pair.refresh_token)


def test_refresh_races_have_exactly_one_winner(make_sessions: Callable[..., Sessions]) -> None:
    """50 threads refreshing one token (grace 0): one success, 49 refused as reuse/revoked."""
    sessions = make_sessions()
    pair = sessions.login("alice")
    outcomes = _race_threads(sessions, pair.refresh_token)
    assert outcomes.count("rotated") == 1
    assert outcomes.count("reused") >= 1
    assert outcomes.count("reused") + outcomes.count("revoked") == 49


def test_refresh_races_within_grace_all_get_the_current_token(
    make_sessions: Callable[..., Sessions],
) -> None:
    """50 threads refreshing one token with a 30 s grace window: one rotation, 49 grace answers."""
    sessions = make_sessions(refresh_reuse_grace=30)
    pair = sessions.login("alice")
    outcomes = _race_threads(sessions, pair.refresh_token)
    assert outcomes.count("rotated") == 1
    assert outcomes.count("grace") == 49


def _race_threads(sessions: Sessions, token: str, n: int = 50) -> list[str]:
    barrier = threading.Barrier(n)
    outcomes: list[str] = []

    def worker() -> None:
        barrier.wait()
        outcomes.append(_outcome(lambda: sessions.refresh(token)))

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _outcome(call: Callable[[], TokenPair]) -> str:
    try:
        return "grace" if call().grace else "rotated"
    except ReusedToken:
        return "reused"
    except RevokedToken:
        return "revoked"


# -- several processes -------------------------------------------------------------

WORKER = """
import json, sys
from jwtgate import Sessions
from jwtgate.errors import ReusedToken, RevokedToken
settings = json.loads(sys.stdin.readline())
action, argument = sys.stdin.readline().split()
sessions = Sessions(settings)
sessions.store.is_revoked("warm-up", None, None, None)  # connect before the signal
print("ready", flush=True)
sys.stdin.readline()
try:
    if action == "refresh":
        print("grace" if sessions.refresh(argument).grace else "rotated")
    elif action == "logout":
        print(sessions.logout(argument))
    else:
        print(sessions.store.is_revoked("alice", argument, None, None))
except ReusedToken:
    print("reused")
except RevokedToken:
    print("revoked")
"""


def _processes(settings: dict[str, Any], action: str, argument: str, n: int) -> list[str]:
    """Run ``action`` in ``n`` fresh Python processes released at the same moment."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(settings) + "\n" + f"{action} {argument}\n")
        proc.stdin.flush()
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:  # the start signal
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        results.append(out.strip())
    return results


@pytest.fixture(params=["sqlite", "redis"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store several processes can share."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return str(request.getfixturevalue("redis_url"))


@pytest.mark.slow
@pytest.mark.parametrize("grace", [0, 30])
def test_refresh_race_across_50_processes(shared_url: str, grace: int) -> None:
    """50 processes refresh one token at once: one rotation; 49 reuse (grace 0) or grace (30 s)."""
    settings = {"secret": SECRET, "store": shared_url, "refresh_reuse_grace": grace}
    with Sessions(settings) as sessions:
        pair = sessions.login("alice")
        outcomes = _processes(settings, "refresh", pair.refresh_token, 50)
        assert outcomes.count("rotated") == 1, outcomes
        if grace:
            assert outcomes.count("grace") == 49
            assert sessions.store.is_revoked("alice", pair.session_id, None, None) is False
        else:
            assert outcomes.count("reused") >= 1  # the first loser revokes the family
            assert outcomes.count("reused") + outcomes.count("revoked") == 49
            assert sessions.store.is_revoked("alice", pair.session_id, None, None) is True


@pytest.mark.slow
def test_logout_in_another_process_is_durable(shared_url: str) -> None:
    """A logout made by another process is seen here, and by a process started afterwards."""
    settings = {"secret": SECRET, "store": shared_url}
    with Sessions(settings) as sessions:
        pair = sessions.login("alice")
        assert _processes(settings, "logout", pair.access_token, 1) == ["True"]
        with pytest.raises(RevokedToken):
            sessions.refresh(pair.refresh_token)
    assert _processes(settings, "check", pair.session_id, 1) == ["True"]


def test_logout_through_one_instance_is_honoured_by_another(store_url: str) -> None:
    """Two Sessions objects on one store (two app instances) agree at once."""
    settings = make_settings(store=store_url)
    with Sessions(settings) as one, Sessions(settings) as two:
        pair = one.login("alice")
        two.logout(pair.access_token)
        with pytest.raises(RevokedToken):
            one.refresh(pair.refresh_token)
        other = one.login("alice")
        two.logout_all("alice")
        assert one.store.is_revoked("alice", other.session_id, None, None) is True


# -- settings, errors, housekeeping ---------------------------------------------------


def test_session_claims_cannot_be_overridden(make_sessions: Callable[..., Sessions]) -> None:
    """login refuses extra claims named sid or token_use."""
    sessions = make_sessions()
    with pytest.raises(ValueError, match="sid"):
        sessions.login("alice", {"sid": "mine"})


def test_sessions_need_a_store() -> None:
    """Without a store setting or argument, Sessions raises jwtgate.E062."""
    with pytest.raises(ConfigurationError) as info:
        Sessions(make_settings())
    assert info.value.ids == ["jwtgate.E062"]


def test_store_failure_is_store_unavailable(tmp_path: Path) -> None:
    """A store that cannot be opened makes login fail with StoreUnavailable (503), not a 500."""
    directory = tmp_path / "no"
    directory.mkdir()
    settings = make_settings(store=f"sqlite:///{directory / 'x.db'}")
    directory.rmdir()  # after startup, so only the store can notice
    sessions = Sessions(settings)
    with pytest.raises(StoreUnavailable):
        sessions.login("alice")
    sessions.close()


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        pytest.param("refresh_reuse_grace", 61, "jwtgate.E060", id="grace-too-long"),
        pytest.param("refresh_reuse_grace", -1, "jwtgate.E060", id="grace-negative"),
        pytest.param("store_key_prefix", "a{b}", "jwtgate.E061", id="prefix-braces"),
        pytest.param("store_key_prefix", "", "jwtgate.E061", id="prefix-empty"),
        pytest.param("store_key_prefix", 3, "jwtgate.E061", id="prefix-not-str"),
    ],
)
def test_session_settings_are_validated(key: str, value: Any, problem: str) -> None:
    """refresh_reuse_grace (E060) and store_key_prefix (E061) are checked at startup."""
    with pytest.raises(ConfigurationError) as info:
        Settings.from_dict({"secret": SECRET, key: value})
    assert info.value.ids == [problem]


def test_session_settings_defaults() -> None:
    """No grace window and the 'jwtgate:' prefix by default; both accept upper-case keys."""
    settings = make_settings()
    assert (settings.refresh_reuse_grace, settings.store_key_prefix) == (0, "jwtgate:")
    custom = Settings.from_dict(
        {"SECRET": SECRET, "REFRESH_REUSE_GRACE": 2.5, "STORE_KEY_PREFIX": "app:"}
    )
    assert (custom.refresh_reuse_grace, custom.store_key_prefix) == (2.5, "app:")


def test_housekeeping_functions(tmp_path: Path) -> None:
    """revoke_jti, revoke_subject and purge_expired work from settings alone (for the CLI)."""
    url = f"sqlite:///{tmp_path / 'h.db'}"
    settings = {"secret": SECRET, "store": url}
    revoke_jti(settings, "alice", "j1")
    revoke_subject(settings, "bob")
    revoke_jti(settings, "carol", "j2", ttl=0.001)
    with open_store(url) as store:
        assert store.is_revoked("alice", None, "j1", None) is True
        assert store.is_revoked("bob", None, None, 0) is True
    time.sleep(0.01)
    assert purge_expired(settings) == 1


# -- async twin ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_sessions_follow_the_same_rules(store_url: str, anyio_backend: str) -> None:
    """AsyncSessions logs in, rotates, detects reuse, logs out and logs out everywhere."""
    skip_async_redis_on_trio(store_url, anyio_backend)
    async with AsyncSessions(make_settings(store=store_url)) as sessions:
        first = await sessions.login("alice", {"scope": "read"})
        second = await sessions.refresh(first.refresh_token)
        with pytest.raises(ReusedToken):
            await sessions.refresh(first.refresh_token)
        with pytest.raises(RevokedToken):
            await sessions.refresh(second.refresh_token)
        with pytest.raises(WrongTokenType):
            await sessions.refresh(second.access_token)
        third = await sessions.login("alice")
        assert await sessions.logout(third.refresh_token) is True
        plain = Issuer(sessions.settings).access_token("alice")
        assert await sessions.logout(plain) is True
        fourth = await sessions.login("alice")
        await sessions.logout_all("alice")
        with pytest.raises(RevokedToken):
            await sessions.refresh(fourth.refresh_token)


def test_reuse_warning_is_logged_without_tokens(
    make_sessions: Callable[..., Sessions], caplog: pytest.LogCaptureFixture
) -> None:
    """The reuse warning names the session id, never a token."""
    sessions = make_sessions()
    pair = sessions.login("alice")
    sessions.refresh(pair.refresh_token)
    with caplog.at_level(logging.WARNING, logger="jwtgate"), pytest.raises(ReusedToken):
        sessions.refresh(pair.refresh_token)
    assert pair.session_id in caplog.text
    assert pair.refresh_token.split(".")[2] not in caplog.text


def test_refresh_token_needs_sid_and_jti(tmp_path: Path) -> None:
    """A signed refresh token without a string sid or jti is refused as invalid."""
    settings = make_settings(store=f"sqlite:///{tmp_path / 'c.db'}")
    issuer = Issuer(settings)
    with Sessions(settings) as sessions:
        no_sid = issuer.encode({"sub": "alice", "exp": 2**40, "jti": "j", "token_use": "refresh"})
        with pytest.raises(MissingClaim):
            sessions.refresh(no_sid)
        bad_sid = issuer.encode(
            {"sub": "alice", "exp": 2**40, "jti": "j", "sid": 5, "token_use": "refresh"}
        )
        with pytest.raises(InvalidClaim):
            sessions.refresh(bad_sid)


@pytest.mark.anyio
async def test_sessions_accept_a_store_object_and_revoke_by_jti(anyio_backend: str) -> None:
    """A store object is used as given (not closed); revoke_jti needs a jti, exp is optional."""
    store = open_store("memory://given")
    settings = make_settings()
    with Sessions(settings, store) as sessions:
        assert sessions.store is store
        assert sessions.revoke_jti(Identity("alice", {"jti": "j1"})) is True
        assert sessions.revoke_jti(Identity("alice", {})) is False
    assert store.is_revoked("alice", None, "j1", None) is True
    astore = open_async_store("memory://given")
    async with AsyncSessions(settings, astore) as asessions:
        assert asessions.store is astore
        assert await asessions.revoke_jti(Identity("bob", {"jti": "j2"})) is True
        assert await asessions.revoke_jti(Identity("bob", {})) is False
    assert store.is_revoked("bob", None, "j2", None) is True
    store.close()


def test_sync_and_async_stores_are_not_mixed_up() -> None:
    """Sessions refuses an async store and AsyncSessions a sync one, naming the right class."""
    with pytest.raises(TypeError, match="AsyncSessions"):
        Sessions(make_settings(), open_async_store("memory://mixed"))
    with pytest.raises(TypeError, match="use Sessions"):
        AsyncSessions(make_settings(), open_store("memory://mixed"))
    open_store("memory://mixed").close()


def test_logout_of_a_foreign_sid_token_revokes_its_jti(
    make_sessions: Callable[..., Sessions],
) -> None:
    """A token with an identity provider's own sid (no token_use) is revoked by its jti."""
    sessions = make_sessions()
    token = Issuer(sessions.settings).access_token("alice", claims={"sid": "idp-session"})
    jti = Verifier(sessions.settings).verify(token).claims["jti"]
    assert sessions.logout(token) is True
    assert sessions.store.is_revoked("alice", None, jti, None) is True
