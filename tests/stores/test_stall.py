"""A refresh is applied exactly once, even while Redis is frozen (SIGSTOP) mid-rotation.

Each test starts its own redis-server on a free loopback port and opens the store
with a 0.5 s socket timeout, so a stall of one or two seconds outlasts it. The
outcome a client may see is "succeeded once", or "503, then the retry with the
same refresh token succeeds"; never a revoked session.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import pytest

from conftest import make_settings
from jwtgate import AsyncSessions, Sessions, TokenPair
from jwtgate.errors import ReusedToken, StoreUnavailable
from jwtgate.stores import open_async_store, open_store
from redis_server import RedisServer

pytestmark = pytest.mark.slow  # a real redis-server, frozen with SIGSTOP

TIMEOUT = 0.5  # the store's socket timeout, in seconds
# Shorter than the timeout (answered late but in time), between one and two
# timeouts (where a client-side retry re-sent the rotation), and longer than two.
STALLS = [0.3, 0.8, 1.5]


@pytest.fixture
def server(own_redis: RedisServer) -> RedisServer:
    """A redis-server of this test's own (conftest.py): pausing it disturbs no other test."""
    return own_redis


class Inspector:
    """A plain client on the server, to count commands and read a family directly."""

    def __init__(self, server: RedisServer) -> None:
        import redis

        self.client = redis.Redis.from_url(server.url)

    def reset_counts(self) -> None:
        self.client.config_resetstat()

    def rotation_calls(self) -> int:
        """Rotations sent (EVAL in a pipeline with the owner key's PEXPIRE)."""
        stats: dict[str, Any] = self.client.info("commandstats")
        return int(stats.get("cmdstat_eval", {}).get("calls", 0))

    def family_count(self) -> int:
        return sum(1 for _ in self.client.scan_iter(match="*:f:*"))


def _stall(server: RedisServer, seconds: float) -> threading.Thread:
    """Pause the server now and resume it after ``seconds``, from a thread."""
    server.pause()
    resumer = threading.Timer(seconds, server.resume)
    resumer.start()
    return resumer


def _check_outcome(
    first: TokenPair | None, retried: TokenPair | None, inspector: Inspector
) -> None:
    # Either the stalled refresh succeeded, or it answered 503 and its retry did:
    # the session lives on, and exactly one rotation per attempt reached Redis.
    assert (first is None) != (retried is None)
    assert inspector.family_count() == 1
    assert inspector.rotation_calls() == (1 if retried is None else 2)


@pytest.mark.parametrize("stall", STALLS)
def test_stalled_refresh_succeeds_once_or_503_then_retry(server: RedisServer, stall: float) -> None:
    """A refresh during a stall succeeds once, or answers 503 and its retry succeeds (sync)."""
    inspector = Inspector(server)
    store = open_store(server.url, timeout=TIMEOUT)
    with Sessions(make_settings(), store) as sessions:
        warm = sessions.login("alice")  # loads the scripts: the stall hits a warm server
        pair = sessions.refresh(warm.refresh_token)
        inspector.reset_counts()
        resumer = _stall(server, stall)
        first: TokenPair | None = None
        with contextlib.suppress(StoreUnavailable):
            first = sessions.refresh(pair.refresh_token)
        resumer.join()
        retried = None if first is not None else sessions.refresh(pair.refresh_token)
        _check_outcome(first, retried, inspector)
        successor = first or retried
        assert successor is not None
        # The successor works; the consumed token, replayed later, is still reuse.
        sessions.refresh(successor.refresh_token)
        with pytest.raises(ReusedToken):
            sessions.refresh(pair.refresh_token)
    store.close()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("stall", STALLS)
async def test_stalled_async_refresh_succeeds_once_or_503_then_retry(
    server: RedisServer, stall: float
) -> None:
    """A refresh during a stall succeeds once, or answers 503 and its retry succeeds (async)."""
    inspector = Inspector(server)
    async with AsyncSessions(
        make_settings(), open_async_store(server.url, timeout=TIMEOUT)
    ) as sessions:
        warm = await sessions.login("alice")
        pair = await sessions.refresh(warm.refresh_token)
        inspector.reset_counts()
        resumer = _stall(server, stall)
        first: TokenPair | None = None
        with contextlib.suppress(StoreUnavailable):
            first = await sessions.refresh(pair.refresh_token)
        resumer.join()
        retried = None if first is not None else await sessions.refresh(pair.refresh_token)
        _check_outcome(first, retried, inspector)
        successor = first or retried
        assert successor is not None
        await sessions.refresh(successor.refresh_token)
        with pytest.raises(ReusedToken):
            await sessions.refresh(pair.refresh_token)
        await sessions.store.aclose()


def test_retry_sent_during_the_stall_gets_the_same_successor(server: RedisServer) -> None:
    """A retry queued behind the stalled rotation is answered with that rotation's successor."""
    store = open_store(server.url, timeout=TIMEOUT)
    with Sessions(make_settings(), store) as sessions:
        pair = sessions.login("alice")
        sessions.refresh(sessions.login("warm").refresh_token)
        server.pause()
        with pytest.raises(StoreUnavailable):
            sessions.refresh(pair.refresh_token)
        # The retry is sent while the server is still frozen; it resumes in time for it.
        resumer = threading.Timer(0.2, server.resume)
        resumer.start()
        started = time.monotonic()
        retried = sessions.refresh(pair.refresh_token)
        resumer.join()
        assert time.monotonic() - started < TIMEOUT + 0.2
        sessions.refresh(retried.refresh_token)
        with pytest.raises(ReusedToken):
            sessions.refresh(pair.refresh_token)
    store.close()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_read_to_a_stalled_server_is_sent_once(
    server: RedisServer, anyio_backend: str
) -> None:
    """A revocation check that times out is not re-sent (sync and async): one socket
    timeout is the real bound of the call, not two. Counted, not timed: a re-send
    reconnects first, and the woken server counts no new connection."""
    inspector = Inspector(server)
    store = open_store(server.url, timeout=TIMEOUT)
    astore = open_async_store(server.url, timeout=TIMEOUT)
    # Warm: the scripts are loaded and each client holds a connection.
    assert store.is_revoked("alice", None, "j1", None) is False
    assert await astore.is_revoked("alice", None, "j1", None) is False
    inspector.reset_counts()
    server.pause()
    try:
        with pytest.raises(StoreUnavailable):
            store.is_revoked("alice", None, "j1", None)
        with pytest.raises(StoreUnavailable):
            await astore.is_revoked("alice", None, "j1", None)
    finally:
        server.resume()
    stats: dict[str, Any] = inspector.client.info("stats")
    assert stats["total_connections_received"] == 0  # no call reconnected to re-send
    store.close()
    await astore.aclose()
