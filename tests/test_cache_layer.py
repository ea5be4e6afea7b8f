"""#14 item 3: the revocation cache is a layer over a store, driven here by a fake clock.

A feed's thread is replaced by :class:`Stepped`, polled by hand, so every deadline
(the feed's bound, an answer's age) is crossed by advancing a clock, never by sleeping.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import test_hot_path
from conftest import FakeClock, make_settings
from jwtgate import Gate, Identity, Rejection, RequestInfo, Sessions
from jwtgate._cache import ENTRY_OVERHEAD, LRU
from jwtgate.errors import StoreUnavailable
from jwtgate.feed import (
    ANSWER_MAX_AGE,
    AsyncCachedStore,
    CachedStore,
    ChangeFeed,
    RevocationView,
    local_change,
)
from jwtgate.sessions import revoke_subject
from jwtgate.stores import open_store
from jwtgate.stores.memory import AsyncMemoryStore, MemoryStore
from jwtgate.stores.sqlite import SQLiteStore

INTERVAL = 0.05
store_url = test_hot_path.store_url  # the fixture: a SQLite file, or Redis


class Stepped(ChangeFeed):
    """A store's own feed, polled by hand (no thread) on ``clock``."""

    def __init__(self, poll: Callable[[], object], clock: FakeClock) -> None:
        super().__init__(INTERVAL, clock=clock)
        self._poll = poll

    def poll(self) -> object:
        return self._poll()

    def ensure_running(self) -> None:
        """No thread: the test calls step()."""


def request(token: str) -> RequestInfo:
    """A GET with the token in the Authorization header."""
    return RequestInfo("GET", "/api/me", (f"Bearer {token}",))


@pytest.fixture
def sqlite_layer(tmp_path: Path) -> Iterator[tuple[CachedStore, Stepped, FakeClock, SQLiteStore]]:
    """A CachedStore over a SQLite file whose feed is stepped by hand, and the raw store."""
    store = SQLiteStore(tmp_path / "layer.db")
    store.create_session("alice", "s1", "r1", now=0.0, ttl=600)
    clock = FakeClock(0.0)
    real = store.change_feed(INTERVAL)
    feed = Stepped(real.poll, clock)
    yield CachedStore(store, RevocationView(feed, 16)), feed, clock, store
    real.reset()
    store.close()


def test_an_answer_is_served_only_while_the_feed_vouches(
    sqlite_layer: tuple[CachedStore, Stepped, FakeClock, SQLiteStore],
) -> None:
    """Nothing is kept before the first poll; an answer goes stale on the feed's bound and
    ages out after ANSWER_MAX_AGE, both crossed on the fake clock."""
    layer, feed, clock, _ = sqlite_layer
    view = layer.view
    assert view is not None
    assert layer.is_revoked("alice", "s1", None, None, token="t") is False
    assert len(view) == 0  # the feed vouches for nothing yet
    assert feed.step()
    assert layer.is_revoked("alice", "s1", None, None, token="t") is False
    assert view.lookup("t") is False
    clock.advance(2 * INTERVAL)  # the last poll started a whole bound ago
    assert view.lookup("t") is None
    assert feed.step()  # nothing changed: the answer is vouched for again
    assert view.lookup("t") is False
    clock.advance(ANSWER_MAX_AGE)
    assert feed.step()
    assert view.lookup("t") is None


def test_a_write_through_the_layer_is_seen_at_once_one_behind_it_at_the_next_poll(
    sqlite_layer: tuple[CachedStore, Stepped, FakeClock, SQLiteStore], tmp_path: Path
) -> None:
    """A revocation written through any CachedStore in the process (even one without a view)
    forgets the answers at once; one written past the layer waits for the feed."""
    layer, feed, _, store = sqlite_layer
    view = layer.view
    assert view is not None
    feed.step()
    assert layer.is_revoked("alice", "s1", None, None, token="t") is False
    with SQLiteStore(tmp_path / "layer.db") as behind:
        assert behind.revoke_session("alice", "s1")
    assert view.lookup("t") is False  # nobody told this process yet
    feed.step()  # data_version moved
    assert view.lookup("t") is None
    assert layer.is_revoked("alice", "s1", None, None, token="t") is True

    store.create_session("alice", "s2", "r2", now=0.0, ttl=600)
    feed.step()
    assert layer.is_revoked("alice", "s2", None, None, token="u") is False
    with CachedStore(SQLiteStore(tmp_path / "layer.db")) as writer:  # Sessions' kind
        assert writer.revoke_session("alice", "s2")
    assert view.lookup("u") is None  # no poll needed
    assert layer.is_revoked("alice", "s2", None, None, token="u") is True


def test_only_revoking_rotations_and_failed_writes_are_announced() -> None:
    """A plain rotation keeps every answer; reuse, and any write that raised, forget them."""
    clock = FakeClock(0.0)
    feed = Stepped(lambda: 1, clock)
    RevocationView(feed, 4)  # a view in this process: local writes reach its feed
    store = CachedStore(MemoryStore())
    store.create_session("alice", "s", "r1", now=0.0, ttl=60)
    before = feed.generation
    assert store.rotate("alice", "s", "r1", "r2", now=1.0, grace=0.0, ttl=60).outcome == "rotated"
    assert feed.generation == before
    assert store.rotate("alice", "s", "r1", "r3", now=2.0, grace=0.0, ttl=60).outcome == "reused"
    assert feed.generation == before + 1

    class Failing(MemoryStore):
        def revoke_jti(self, subject: str, jti: str, *, ttl: float) -> None:
            raise StoreUnavailable()

    with pytest.raises(StoreUnavailable):
        CachedStore(Failing()).revoke_jti("alice", "j", ttl=60)
    assert feed.generation == before + 2
    local_change()  # for writes made past the layer
    assert feed.generation == before + 3


def test_answers_are_remembered_and_a_local_logout_is_honoured_at_once(
    tmp_path: Path, store_url: str
) -> None:
    """A Gate given a layer keeps the answer (no store call on the next request); a
    logout through Sessions in this process is refused on the very next request."""
    settings = make_settings(store=store_url, check_revocation=True)
    raw = open_store(store_url)
    real: Any = raw.change_feed(INTERVAL)  # type: ignore[attr-defined]
    feed = Stepped(real.poll, FakeClock(0.0))
    asked: list[object] = []

    class Counting(CachedStore):
        def is_revoked(self, *args: Any, **kwargs: Any) -> bool:
            asked.append(args)
            return super().is_revoked(*args, **kwargs)

    layer = Counting(raw, RevocationView(feed, 64))
    gate = Gate(settings, store=layer)
    try:
        with Sessions(settings) as sessions:
            token = sessions.login("alice").access_token
            feed.step()
            assert isinstance(gate.decide(request(token)), Identity)
            assert layer.view is not None and len(layer.view) == 1
            assert isinstance(gate.decide(request(token)), Identity)
            assert len(asked) == 1  # the second answer came from the view
            sessions.logout(token)
            assert isinstance(gate.decide(request(token)), Rejection)  # no poll, no wait
            revoked_here = sessions.login("alice").access_token
            assert isinstance(gate.decide(request(revoked_here)), Identity)
            revoke_subject(settings, "alice")  # housekeeping goes through the layer too
            assert isinstance(gate.decide(request(revoked_here)), Rejection)
    finally:
        gate.close()
        real.reset()
        raw.close()


@pytest.mark.anyio
async def test_closing_a_layer_stops_its_feed_and_closes_its_store() -> None:
    """close() / aclose() stop the view's feed and close the wrapped store; purge passes."""
    clock = FakeClock(0.0)
    sync_feed, async_feed = Stepped(lambda: 1, clock), Stepped(lambda: 1, clock)
    memory = MemoryStore(name="layer-close")
    layer = CachedStore(memory, RevocationView(sync_feed, 4))
    assert layer.purge_expired() == 0
    sync_feed.step()
    layer.close()
    assert not sync_feed.live
    async_layer = AsyncCachedStore(AsyncMemoryStore(memory), RevocationView(async_feed, 4))
    assert await async_layer.purge_expired() == 0
    async_feed.step()
    await async_layer.aclose()
    assert not async_feed.live


def test_no_store_imports_the_cache() -> None:
    """The stores know nothing of the revocation cache: no module of jwtgate.stores
    imports jwtgate.feed (the layer above them), not even for type checking."""
    stores = Path(__file__).resolve().parent.parent / "src" / "jwtgate" / "stores"
    for path in stores.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                named = node.module or ""
                assert not (node.level == 2 and named.startswith("feed")), path.name
                assert not named.startswith("jwtgate.feed"), path.name
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("jwtgate.feed") for a in node.names), path.name


# -- the view's memory, bounded in bytes (#16 item 7) ------------------------------


def test_the_lru_keeps_its_byte_count_through_puts_replacements_and_evictions() -> None:
    lru: LRU[str, int] = LRU(1000, max_bytes=10 * (ENTRY_OVERHEAD + 100))
    for i in range(30):
        lru.put(f"{i:03d}".ljust(100, "x"), i)
        lru.put(f"{i:03d}".ljust(100, "x"), i)  # a replacement is not counted twice
    assert len(lru) == 10  # the byte bound, not the entry bound, applied
    assert lru.bytes == sum(len(k) + ENTRY_OVERHEAD for k in lru.data)
    assert lru.get("029".ljust(100, "x")) == 29 and lru.get("019".ljust(100, "x")) is None
    lru.discard("029".ljust(100, "x"))
    assert lru.bytes == sum(len(k) + ENTRY_OVERHEAD for k in lru.data)
    lru.put("y" * 10_000, 1)  # larger than the bound alone: kept, alone
    assert list(lru.data) == ["y" * 10_000]


@pytest.mark.parametrize("max_bytes", [None, 1024 * 1024])
def test_a_view_of_8_kb_tokens_stays_within_its_bytes(max_bytes: int | None) -> None:
    """4,096 answers for tokens of 8 KB: about 34 MB unbounded; about 1 MB with a
    1 MiB bound (measured with tracemalloc, what the answers really take)."""
    import tracemalloc

    clock = FakeClock(0.0)
    feed = Stepped(lambda: 0, clock)
    view = RevocationView(feed, 4096, max_bytes=max_bytes)
    assert feed.step()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(4096):  # each token a string of its request, as in a server
            view.remember(f"{i:08d}".ljust(8192, "t"), view.begin(), False)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    if max_bytes is None:
        assert len(view) == 4096
        assert held > 32 * 1024 * 1024
    else:
        assert len(view) == max_bytes // (8192 + ENTRY_OVERHEAD)
        assert held < 1.25 * max_bytes
    view.close()


def test_sessions_given_a_store_object_announce_their_revocations(tmp_path: Path) -> None:
    """Sessions(store=obj) writes through the cache layer as Sessions(store=url) does: a
    Gate in the same process refuses a logged-out token on its very next request,
    before any poll of the change feed."""
    path = tmp_path / "given.db"
    # A poll interval long enough that only an announcement can explain the refusal.
    settings = make_settings(
        store=f"sqlite:///{path}", check_revocation=True, revocation_poll_interval=5
    )
    with SQLiteStore(path) as given, Sessions(settings, store=given) as sessions:
        gate = Gate(settings)
        pair = sessions.login("alice")
        request = RequestInfo("GET", "/", (f"Bearer {pair.access_token}",))
        assert not isinstance(gate.decide(request), Rejection)
        # review2: the feed's thread goes live after its first poll; until then the view
        # keeps nothing and every decision asks the store, so wait until it answers.
        view = gate.revocation.view() if gate.revocation is not None else None
        assert view is not None
        deadline = time.monotonic() + 5
        while view.lookup(pair.access_token) is not False and time.monotonic() < deadline:
            time.sleep(0.01)
            assert not isinstance(gate.decide(request), Rejection)
        assert view.lookup(pair.access_token) is False  # answered from the view now
        assert sessions.logout(pair.access_token) is True
        refused = gate.decide(request)
        assert isinstance(refused, Rejection) and refused.status == 401
        gate.close()
