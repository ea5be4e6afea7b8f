"""check_revocation: the Gate refuses revoked sessions, revoked jti and subjects logged out."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any

import pytest
import redis

from conftest import make_settings
from jwtgate import (
    ConfigurationError,
    Gate,
    Identity,
    Issuer,
    Rejection,
    RequestInfo,
    Sessions,
    Settings,
)
from jwtgate.stores import open_store
from jwtgate.stores.sqlite import SQLiteStore
from jwtgate.stores.threaded import SyncToAsync
from redis_server import RedisServer, skip_async_redis_on_trio

BACKENDS = [
    "memory",
    "sqlite",
    "redis",
    pytest.param("cluster", marks=pytest.mark.slow),  # issue #16: the whole Gate on them
    pytest.param("sentinel", marks=pytest.mark.slow),
]
REVOKED = 'Bearer realm="api", error="invalid_token", error_description="token revoked"'


def request(token: str) -> RequestInfo:
    """A GET with the token in the Authorization header."""
    return RequestInfo("GET", "/api/me", (f"Bearer {token}",))


def header(rejection: Rejection, name: str) -> str | None:
    """One header of a rejection."""
    return dict(rejection.headers).get(name)


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """check_revocation settings over each backend."""
    if request.param == "memory":
        url = f"memory://gate-{id(request)}"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'gate.db'}"
    else:
        fixture = {"redis": "redis_url", "cluster": "redis_cluster_url"}.get(
            request.param, "redis_sentinel_url"
        )
        url = str(request.getfixturevalue(fixture))
    return make_settings(store=url, check_revocation=True)


@pytest.fixture
def sessions(settings: Settings) -> Iterator[Sessions]:
    """Sessions on the same store as the Gate."""
    with Sessions(settings) as sessions:
        yield sessions


@asynccontextmanager
async def open_gate(settings: Settings) -> AsyncIterator[Gate]:
    """A Gate whose stores are closed afterwards."""
    gate = Gate(settings)
    try:
        yield gate
    finally:
        gate.close()
        await gate.aclose()


async def both(gate: Gate, token: str) -> list[Identity | Rejection]:
    """The sync and the async decision for one token."""
    return [gate.decide(request(token)), await gate.decide_async(request(token))]


def feed_live(gate: Gate) -> bool:
    """Whether any of the Gate's revocation views may still serve cached answers."""
    assert gate.revocation is not None
    views = (gate.revocation.view(True), gate.revocation.view(False))
    return any(view is not None and view.feed.live for view in views)


def until(condition: Callable[[], bool], deadline: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or ``deadline`` seconds pass (no timing asserted)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def assert_revoked(results: list[Identity | Rejection]) -> None:
    """Every result is a 401 invalid_token 'token revoked'."""
    for result in results:
        assert isinstance(result, Rejection)
        assert result.status == 401
        assert header(result, "www-authenticate") == REVOKED


@pytest.mark.anyio
async def test_live_session_passes_and_logged_out_session_is_refused(
    settings: Settings, sessions: Sessions, anyio_backend: str
) -> None:
    """An access token passes until its session is logged out, then is refused at once."""
    skip_async_redis_on_trio(settings.store, anyio_backend)
    async with open_gate(settings) as gate:
        pair = sessions.login("alice")
        for result in await both(gate, pair.access_token):
            assert isinstance(result, Identity)
            assert result.subject == "alice"
        sessions.logout(pair.refresh_token)
        assert_revoked(await both(gate, pair.access_token))


@pytest.mark.anyio
async def test_reused_family_refuses_access_tokens(
    settings: Settings, sessions: Sessions, anyio_backend: str
) -> None:
    """After reuse detection, the access tokens of the family are refused too."""
    skip_async_redis_on_trio(settings.store, anyio_backend)
    async with open_gate(settings) as gate:
        first = sessions.login("alice")
        second = sessions.refresh(first.refresh_token)
        assert isinstance(gate.decide(request(second.access_token)), Identity)
        with pytest.raises(Exception, match="reused"):
            sessions.refresh(first.refresh_token)
        assert_revoked(await both(gate, second.access_token))
        assert_revoked(await both(gate, first.access_token))


@pytest.mark.anyio
async def test_revoked_jti_and_logout_all(
    settings: Settings, sessions: Sessions, anyio_backend: str
) -> None:
    """A revoked jti is refused; logout-all refuses older tokens and sessions, not newer ones."""
    skip_async_redis_on_trio(settings.store, anyio_backend)
    async with open_gate(settings) as gate:
        issuer = Issuer(settings)
        plain = issuer.access_token("alice")
        other = issuer.access_token("alice")
        assert sessions.logout(plain) is True
        assert_revoked(await both(gate, plain))
        assert isinstance(gate.decide(request(other)), Identity)

        bob = issuer.access_token("bob")
        pair = sessions.login("alice")
        sessions.logout_all("alice")
        assert_revoked(await both(gate, pair.access_token))
        assert_revoked(
            await both(gate, issuer.access_token("alice", ttl=60))
        )  # same second: refused
        assert isinstance(gate.decide(request(bob)), Identity)
        fresh = sessions.login("alice")
        for result in await both(gate, fresh.access_token):
            assert isinstance(result, Identity)


def test_refresh_token_is_never_an_access_token(tmp_path: Path) -> None:
    """A refresh token in the Authorization header is a 401 'wrong token type', store or not."""
    settings = make_settings(store=f"sqlite:///{tmp_path / 'w.db'}")
    with Sessions(settings) as sessions:
        pair = sessions.login("alice")
    result = Gate(make_settings()).decide(request(pair.refresh_token))
    assert isinstance(result, Rejection)
    assert header(result, "www-authenticate") == (
        'Bearer realm="api", error="invalid_token", error_description="wrong token type"'
    )


def test_one_store_round_trip_per_request(redis_url: str) -> None:
    """A revocation-aware decision costs exactly one Redis command."""
    settings = make_settings(store=redis_url, check_revocation=True)
    with closing(Gate(settings)) as gate:
        with Sessions(settings) as sessions:
            pair = sessions.login("alice")
        gate.decide(request(pair.access_token))  # loads the script once
        client = redis.Redis.from_url(redis_url.split("?")[0])
        client.config_resetstat()
        assert isinstance(gate.decide(request(pair.access_token)), Identity)
        stats: dict[str, Any] = client.info("commandstats")
        client.close()
        calls = {k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items()}
        calls.pop("info", None)
        calls.pop("config|resetstat", None)
        # One EVALSHA sent; Redis counts the reads inside the script separately.
        assert calls.pop("evalsha") == 1
        # A connection opened meanwhile (the change feed's, in its own thread) says
        # hello first (redis-py 8 does); that is per connection, not per request.
        per_connection = {"hello", "client|setinfo", "select", "subscribe", "ping"}
        assert set(calls) - per_connection <= {"exists", "get", "hget"}


# -- faults --------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # redis-py's async client
async def test_redis_outage_denies_or_allows_and_recovers(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture, anyio_backend: str
) -> None:
    """Redis down: 503 + Retry-After under deny, pass + warning under allow; back: checks resume."""
    deny_settings = make_settings(store=own_redis.url, check_revocation=True)
    allow_settings = make_settings(
        store=own_redis.url, check_revocation=True, on_store_error="allow"
    )
    async with open_gate(deny_settings) as deny, open_gate(allow_settings) as allow:
        sessions = Sessions(deny_settings)
        pair = sessions.login("alice")
        for result in [*await both(deny, pair.access_token), *await both(allow, pair.access_token)]:
            assert isinstance(result, Identity)

        with open_store(own_redis.url) as store:
            store.client.save()  # type: ignore[attr-defined]  # the restart keeps the data
        own_redis.stop()
        # Cached answers are served while a view's change feed vouches for them (at
        # most twice revocation_poll_interval): wait for every view to notice the
        # outage itself, instead of assuming its thread already has.
        assert until(lambda: not any(feed_live(gate) for gate in (deny, allow)))

        for result in await both(deny, pair.access_token):
            assert isinstance(result, Rejection)
            assert result.status == 503
            assert header(result, "retry-after") == "5"
            assert json.loads(result.body)["error"] == "temporarily_unavailable"
        with caplog.at_level(logging.WARNING, logger="jwtgate"):
            for result in await both(allow, pair.access_token):
                assert isinstance(result, Identity)
        assert "on_store_error='allow'" in caplog.text
        assert pair.access_token not in caplog.text

        own_redis.start()  # same port; the Gates were not rebuilt
        # The circuit breaker keeps answering from on_store_error for a moment after
        # the failure; then the next request probes the store and checks resume.
        assert until(lambda: not (deny.revocation.broken or allow.revocation.broken))  # type: ignore[union-attr]
        for result in await both(deny, pair.access_token):
            assert isinstance(result, Identity)
        sessions.logout(pair.access_token)
        sessions.close()
        assert_revoked(await both(deny, pair.access_token))
        assert_revoked(await both(allow, pair.access_token))


def test_sqlite_store_failure_is_503(tmp_path: Path) -> None:
    """An unusable SQLite store answers 503 with Retry-After under deny, never 401 or 500."""
    directory = tmp_path / "gone"
    directory.mkdir()
    settings = make_settings(store=f"sqlite:///{directory / 'x.db'}", check_revocation=True)
    directory.rmdir()  # after startup: the file cannot be created any more
    token = Issuer(settings).access_token("alice")
    with closing(Gate(settings)) as gate:
        result = gate.decide(request(token))
    assert isinstance(result, Rejection)
    assert result.status == 503
    assert header(result, "retry-after") == "5"


class RecordingSQLiteStore(SQLiteStore):
    """A real SQLite store that notes which thread answered each revocation check."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.threads: list[int] = []

    def is_revoked(
        self, subject: str, sid: str | None, jti: str | None, issued_at: float | None
    ) -> bool:
        self.threads.append(threading.get_ident())
        return super().is_revoked(subject, sid, jti, issued_at)


@pytest.mark.anyio
async def test_async_check_never_blocks_the_event_loop(tmp_path: Path) -> None:
    """decide_async runs a blocking store's lookup in a worker thread, not on the loop."""
    store = RecordingSQLiteStore(tmp_path / "t.db")
    settings = make_settings(store=f"sqlite:///{tmp_path / 't.db'}", check_revocation=True)
    with Sessions(settings, store) as sessions:
        pair = sessions.login("alice")
    gate = Gate(settings, async_store=SyncToAsync(store))
    result = await gate.decide_async(request(pair.access_token))
    assert isinstance(result, Identity)
    assert store.threads
    assert threading.get_ident() not in store.threads
    await gate.aclose()  # not opened by the Gate: left open
    store.close()


def test_foreign_sid_is_not_a_jwtgate_session(tmp_path: Path) -> None:
    """A token from another issuer with its own sid claim is checked by jti and subject only."""
    settings = make_settings(store=f"sqlite:///{tmp_path / 'f.db'}", check_revocation=True)
    foreign = Issuer(settings).access_token("alice", claims={"sid": "keycloak-session"})
    with closing(Gate(settings)) as gate, Sessions(settings) as sessions:
        assert isinstance(gate.decide(request(foreign)), Identity)
        sessions.logout_all("alice")
        assert isinstance(gate.decide(request(foreign)), Rejection)


@pytest.mark.slow  # its own redis-server
def test_a_redis_store_without_persistence_is_warned_about_or_refused(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """With check_revocation, a Redis that keeps nothing on disk is jwtgate.W002 at startup
    (or E065 with store_persistence='require'); with the AOF on, nothing is said."""
    settings = make_settings(store=own_redis.url, check_revocation=True)
    with caplog.at_level(logging.WARNING, logger="jwtgate"):
        Gate(settings).close()
    assert "jwtgate.W002" in caplog.text
    required = make_settings(
        store=own_redis.url, check_revocation=True, store_persistence="require"
    )
    with pytest.raises(ConfigurationError) as refused:
        Gate(required)
    assert refused.value.ids == ["jwtgate.E065"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="jwtgate"):
        Gate(make_settings(store=own_redis.url, check_revocation=True,
                           store_persistence="ignore")).close()  # fmt: skip
    assert "W002" not in caplog.text
    client = redis.Redis.from_url(own_redis.url)
    client.config_set("appendonly", "yes")
    try:
        with caplog.at_level(logging.WARNING, logger="jwtgate"):
            Gate(required).close()
        assert "W002" not in caplog.text
    finally:
        client.config_set("appendonly", "no")  # a quick shutdown for the fixture
        client.close()


class CountingStore:
    """A real store, with its revocation checks counted."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.checks = 0

    def is_revoked(self, *args: Any) -> bool:
        self.checks += 1
        result: bool = self.store.is_revoked(*args)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_the_circuit_breaker_spares_a_failing_store(own_redis: RedisServer) -> None:
    """After a store failure the Gate answers 503 at once, without asking the store,
    for a short while; then one request probes it, and success closes the breaker."""
    settings = make_settings(store=own_redis.url, check_revocation=True,
                             revocation_cache_size=0)  # fmt: skip
    with Sessions(settings) as sessions:
        token = sessions.login("alice").access_token
    counting = CountingStore(open_store(own_redis.url, timeout=0.5))
    gate = Gate(settings, store=counting)  # type: ignore[arg-type]
    assert gate.revocation is not None
    assert isinstance(gate.decide(request(token)), Identity)
    own_redis.stop()
    answers = [gate.decide(request(token)) for _ in range(5)]
    assert all(isinstance(a, Rejection) and a.status == 503 for a in answers)
    assert counting.checks == 2  # the one that failed; the other four never asked
    assert gate.revocation.broken
    own_redis.start()
    assert until(lambda: not gate.revocation.broken)  # type: ignore[union-attr]
    assert isinstance(gate.decide(request(token)), Rejection)  # an empty Redis: revoked
    assert counting.checks == 3
    assert not gate.revocation.broken
    gate.close()
    counting.store.close()
