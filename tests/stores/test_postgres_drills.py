"""Fault drills on a PostgreSQL cluster of the module's own (issue #16): a server frozen
(SIGSTOP) mid-rotation, stopped and restarted under a running Gate, and the change
feed's notification connection killed. The outcomes are asserted, never timings
(benchmarks/ measures those)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import TypeVar

import psycopg
import pytest

from conftest import make_settings
from jwtgate import Gate, Identity, Rejection, RequestInfo, Sessions, TokenPair
from jwtgate.errors import ReusedToken, StoreUnavailable
from jwtgate.stores import open_store
from pg_server import PostgresServer, running_cluster

pytestmark = pytest.mark.slow  # a cluster of its own, frozen, stopped and restarted

T = TypeVar("T")
TIMEOUT = 1  # the store's bound on one call, in seconds
STALL = 5.0  # within the 5 to 12 s of the acceptance, several times the bound


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """A cluster these drills may freeze and stop: no other test uses it."""
    yield from running_cluster()


@pytest.fixture
def url(server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """The drill cluster's URL with a schema of this test's own and a 1 s bound."""
    return f"{server.url}?schema=drill_{request.node.name[5:30].lower()}&timeout={TIMEOUT}"


def eventually(call: Callable[[], T], within: float = 30.0) -> T:
    """``call()`` once the store answers: a client retrying after each 503."""
    deadline = time.monotonic() + within
    while True:
        try:
            return call()
        except StoreUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def until(condition: Callable[[], bool], within: float = 30.0) -> bool:
    """Poll ``condition`` until it holds or ``within`` seconds pass."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def _session_survives(sessions: Sessions, consumed: str, successor: TokenPair) -> None:
    # The successor works; the consumed token, replayed now, is plain reuse.
    sessions.refresh(successor.refresh_token)
    with pytest.raises(ReusedToken):
        sessions.refresh(consumed)


def test_stalled_refresh_succeeds_once_or_503_then_retry(server: PostgresServer, url: str) -> None:
    """A refresh while the whole server is frozen for several bounds either succeeds, or
    answers 503 and the client's retry with the same refresh token succeeds; the
    session is never revoked."""
    with closing(open_store(url)) as store, Sessions(make_settings(), store) as sessions:
        pair = sessions.refresh(sessions.login("alice").refresh_token)  # warm: schema, pool
        server.pause()
        resumer = threading.Timer(STALL, server.resume)
        resumer.start()
        first: TokenPair | None = None
        with contextlib.suppress(StoreUnavailable):
            first = sessions.refresh(pair.refresh_token)
        resumer.join()
        successor = first or eventually(lambda: sessions.refresh(pair.refresh_token))
        _session_survives(sessions, pair.refresh_token, successor)


def test_retry_sent_during_the_stall_gets_the_same_successor(
    server: PostgresServer, url: str
) -> None:
    """A retry sent while the server is still frozen runs beside the stalled rotation once
    it thaws, in either order; the client ends up with one working successor."""
    with closing(open_store(url)) as store, Sessions(make_settings(), store) as sessions:
        pair = sessions.refresh(sessions.login("alice").refresh_token)
        server.pause()
        try:
            with pytest.raises(StoreUnavailable):
                sessions.refresh(pair.refresh_token)
            retried: list[TokenPair] = []
            retry = threading.Thread(
                target=lambda: retried.append(
                    eventually(lambda: sessions.refresh(pair.refresh_token))
                )
            )
            retry.start()
            time.sleep(0.3)  # the retry is on its way to the frozen server
        finally:
            server.resume()
        retry.join()
        _session_survives(sessions, pair.refresh_token, retried[0])


def _decide(gate: Gate, token: str) -> Identity | Rejection:
    return gate.decide(RequestInfo("GET", "/api/me", (f"Bearer {token}",)))


def _revoked(result: Identity | Rejection) -> bool:
    return isinstance(result, Rejection) and result.status == 401


def test_stopped_and_restarted_server_503_then_recovery_without_restart(
    server: PostgresServer, url: str
) -> None:
    """pg_ctl stop -m fast under a running Gate: 503 under deny; after pg_ctl start the
    same Gate answers again, a logout made before the restart is still refused (it was
    committed), and new revocations reach it; nothing rebuilt."""
    settings = make_settings(store=url, check_revocation=True)
    with closing(Gate(settings)) as gate:
        with Sessions(settings) as sessions:
            pair = sessions.login("alice")
            gone = sessions.login("bob")
            sessions.logout(gone.access_token)
        assert isinstance(_decide(gate, pair.access_token), Identity)
        assert _revoked(_decide(gate, gone.access_token))
        server.stop("fast")
        try:
            assert until(
                lambda: (
                    (r := _decide(gate, pair.access_token)) is not None
                    and isinstance(r, Rejection)
                    and r.status == 503
                )
            )
        finally:
            server.start()
        assert until(lambda: isinstance(_decide(gate, pair.access_token), Identity))
        assert _revoked(_decide(gate, gone.access_token))
        with Sessions(settings) as sessions:
            sessions.logout(pair.access_token)
        assert until(lambda: _revoked(_decide(gate, pair.access_token)))


def test_notification_connection_dropped_falls_back_to_polling(
    server: PostgresServer, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The feed's LISTEN connection terminated by the server: logged, the feed polls and
    listens again, and a logout made afterwards still reaches the running Gate. The
    logout is written past the cache layer (a bare store object, as another process
    would), so only the feed can tell the Gate."""
    settings = make_settings(store=url, check_revocation=True)
    schema = url.split("schema=")[1].split("&")[0]
    with closing(Gate(settings)) as gate, Sessions(settings) as sessions:
        pair = sessions.login("alice")
        assert isinstance(_decide(gate, pair.access_token), Identity)
        with psycopg.connect(server.url, autocommit=True) as admin:

            def kill_listener() -> bool:
                row = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = %s",
                    (f"jwtgate feed {schema}",),
                ).fetchone()
                return row is not None and row[0] > 0

            with caplog.at_level(logging.INFO, logger="jwtgate"):
                assert until(kill_listener)
                assert until(lambda: "notification connection dropped" in caplog.text)
                with open_store(url) as elsewhere:
                    assert elsewhere.revoke_session("alice", pair.session_id)
                assert until(lambda: _revoked(_decide(gate, pair.access_token)))
                assert until(lambda: "listening for PostgreSQL revocations" in caplog.text)
        assert "polling the store" in caplog.text
