"""One contract for every store backend: memory, SQLite, a real Redis server, a real
PostgreSQL cluster (initdb + pg_ctl, a schema per test), a real Redis Cluster (three
masters, one replica each), a Redis watched by Sentinels, and the
Django ORM store on SQLite, PostgreSQL and MariaDB (throwaway databases)."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio.to_thread
import pytest

from jwtgate.stores import AsyncStore, Store, open_async_store, open_store
from jwtgate.stores._pg_url import parse as parse_postgres
from jwtgate.stores.memory import MemoryStore
from jwtgate.stores.sqlite import SQLiteStore
from redis_server import skip_async_redis_on_trio

# The cluster and Sentinel groups take seconds to start: CI runs them, -m "not slow" not.
BACKENDS = [
    "memory",
    "sqlite",
    "redis",
    "postgresql",
    pytest.param("cluster", marks=pytest.mark.slow),
    pytest.param("sentinel", marks=pytest.mark.slow),
    "django-sqlite",
    "django-postgresql",
    "django-mysql",
]
T0 = 1_800_000_000.0


class Ticker:
    """A clock that moves only when told (memory and SQLite expiry)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Harness:
    """A backend's sync store, how to open its async twin, and how to let TTLs pass."""

    def __init__(self, store: Store, url: str, ticker: Ticker | None) -> None:
        self.store = store
        self.url = url
        self.ticker = ticker

    def expire(self, seconds: float) -> None:
        if self.ticker is not None:
            self.ticker.now += seconds
        else:  # Redis keeps real time; the TTLs used with this are milliseconds.
            time.sleep(seconds)


@pytest.fixture(params=BACKENDS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """Each backend in turn, empty."""
    if request.param == "memory":
        ticker = Ticker(1000.0)
        h = Harness(MemoryStore(clock=ticker), "memory://contract", ticker)
    elif request.param == "sqlite":
        ticker = Ticker(T0)
        path = tmp_path / "jwtgate.db"
        h = Harness(SQLiteStore(path, clock=ticker), f"sqlite:///{path}", ticker)
    elif request.param == "postgresql":
        from jwtgate.stores.postgres import PostgresStore

        ticker = Ticker(T0)
        url = request.getfixturevalue("postgres_url")
        h = Harness(PostgresStore(parse_postgres(url), clock=ticker), url, ticker)
    elif request.param.startswith("django-"):
        yield from _django_harness(request, request.param.removeprefix("django-"))
        return
    else:
        url = request.getfixturevalue(
            {"redis": "redis_url", "cluster": "redis_cluster_url"}.get(
                request.param, "redis_sentinel_url"
            )
        )
        if request.param != "redis":  # groups with replicas: each write waits for one
            url += "&wait=1"
        h = Harness(open_store(url), url, None)
    yield h
    h.store.close()


def _django_harness(request: pytest.FixtureRequest, kind: str) -> Iterator[Harness]:
    from django_databases import empty_store_tables
    from jwtgate.contrib.django_store.store import DjangoStore

    alias = request.getfixturevalue(f"django_{kind}_alias")
    with request.getfixturevalue("django_db_blocker").unblock():
        empty_store_tables(alias)
        ticker = Ticker(T0)
        h = Harness(DjangoStore(alias, clock=ticker), f"django://{alias}", ticker)
        yield h
        h.store.close()


@pytest.fixture
def store(harness: Harness) -> Store:
    """The sync store under test."""
    return harness.store


SHORT = 0.05  # seconds: a TTL that the harness lets pass


def test_new_session_is_live_and_unknown_sessions_are_revoked(store: Store) -> None:
    """A created family is not revoked; a session id the store never saw is."""
    store.create_session("alice", "s1", "r1", now=T0, ttl=60)
    assert store.is_revoked("alice", "s1", "a1", T0) is False
    assert store.is_revoked("alice", "nope", "a1", T0) is True


def test_session_belongs_to_its_subject(store: Store) -> None:
    """A session id presented under another subject is treated as revoked."""
    store.create_session("alice", "s1", "r1", now=T0, ttl=60)
    assert store.is_revoked("bob", "s1", None, T0) is True
    assert store.rotate("bob", "s1", "r1", "r2", now=T0, grace=0, ttl=60).outcome == "revoked"
    assert store.is_revoked("alice", "s1", None, T0) is False


def test_rotation_consumes_the_current_token(store: Store) -> None:
    """Rotating with the current id makes the new id current; the old one is spent."""
    store.create_session("alice", "s1", "r1", now=T0, ttl=60)
    result = store.rotate("alice", "s1", "r1", "r2", now=T0 + 1, grace=0, ttl=60)
    assert (result.outcome, result.current) == ("rotated", "r2")
    again = store.rotate("alice", "s1", "r2", "r3", now=T0 + 2, grace=0, ttl=60)
    assert (again.outcome, again.current) == ("rotated", "r3")


def test_reuse_revokes_the_whole_family(store: Store) -> None:
    """Presenting a consumed id (no grace) reports reuse and deletes the family."""
    store.create_session("alice", "s1", "r1", now=T0, ttl=60)
    store.rotate("alice", "s1", "r1", "r2", now=T0 + 1, grace=0, ttl=60)
    assert store.rotate("alice", "s1", "r1", "rx", now=T0 + 2, grace=0, ttl=60).outcome == "reused"
    assert store.is_revoked("alice", "s1", None, T0) is True
    assert store.rotate("alice", "s1", "r2", "ry", now=T0 + 3, grace=0, ttl=60).outcome == "revoked"


def test_unknown_refresh_id_is_reuse(store: Store) -> None:
    """An id that was never current (forged or two rotations old) also revokes the family."""
    store.create_session("alice", "s1", "r1", now=T0, ttl=60)
    assert store.rotate("alice", "s1", "zz", "r2", now=T0, grace=30, ttl=60).outcome == "reused"
    assert store.is_revoked("alice", "s1", None, T0) is True


def test_grace_window_answers_with_the_current_id(store: Store) -> None:
    """Within the grace window the previous id is a retry: nothing changes, current is named."""
    store.create_session("alice", "s1", "r1", now=T0, ttl=60)
    store.rotate("alice", "s1", "r1", "r2", now=T0 + 10, grace=5, ttl=60)
    retry = store.rotate("alice", "s1", "r1", "rx", now=T0 + 14, grace=5, ttl=60)
    assert (retry.outcome, retry.current) == ("grace", "r2")
    assert store.is_revoked("alice", "s1", None, T0) is False
    late = store.rotate("alice", "s1", "r1", "ry", now=T0 + 16, grace=5, ttl=60)
    assert late.outcome == "reused"
    assert store.is_revoked("alice", "s1", None, T0) is True


PASSED = 1.0  # a deadline long gone on every backend's clock: the call is applied late


def test_the_same_rotation_sent_twice_has_one_outcome(store: Store) -> None:
    """An exact re-send of a rotation (same presented and new ids) is answered alike, not reuse."""
    store.create_session("alice", "s1", "r1", now=T0, ttl=60)
    first = store.rotate("alice", "s1", "r1", "r2", now=T0 + 1, grace=0, ttl=60)
    again = store.rotate("alice", "s1", "r1", "r2", now=T0 + 1, grace=0, ttl=60)
    assert (first.outcome, first.current) == (again.outcome, again.current) == ("rotated", "r2")
    assert store.rotate("alice", "s1", "r2", "r3", now=T0 + 2, grace=0, ttl=60).outcome == (
        "rotated"
    )
    # Once the successor has been used, even the exact re-send is reuse.
    assert store.rotate("alice", "s1", "r1", "r2", now=T0 + 3, grace=0, ttl=60).outcome == (
        "reused"
    )


def test_a_rotation_applied_late_is_handed_out_once_more(store: Store) -> None:
    """After a rotation applied past its caller's deadline, the retry gets the same successor."""
    store.create_session("alice", "s1", "r1", now=T0, ttl=60)
    late = store.rotate("alice", "s1", "r1", "r2", now=T0 + 1, grace=0, ttl=60, deadline=PASSED)
    assert (late.outcome, late.current) == ("rotated", "r2")
    retry = store.rotate("alice", "s1", "r1", "rx", now=T0 + 9, grace=0, ttl=60)
    assert (retry.outcome, retry.current) == ("rotated", "r2")
    assert store.is_revoked("alice", "s1", None, T0) is False
    # That answer was delivered: the same token presented again is reuse.
    assert store.rotate("alice", "s1", "r1", "ry", now=T0 + 10, grace=0, ttl=60).outcome == (
        "reused"
    )
    assert store.is_revoked("alice", "s1", None, T0) is True


def test_a_retry_answered_late_stays_in_doubt(store: Store) -> None:
    """A retry that is itself applied late leaves the successor to be handed out again."""
    store.create_session("alice", "s1", "r1", now=T0, ttl=60)
    store.rotate("alice", "s1", "r1", "r2", now=T0 + 1, grace=0, ttl=60, deadline=PASSED)
    again = store.rotate("alice", "s1", "r1", "rx", now=T0 + 2, grace=0, ttl=60, deadline=PASSED)
    assert (again.outcome, again.current) == ("rotated", "r2")
    third = store.rotate("alice", "s1", "r1", "ry", now=T0 + 3, grace=0, ttl=60)
    assert (third.outcome, third.current) == ("rotated", "r2")


def test_a_successor_in_doubt_that_was_used_ends_the_doubt(store: Store) -> None:
    """Once the successor of a late rotation is used, the token before it is plain reuse."""
    store.create_session("alice", "s1", "r1", now=T0, ttl=60)
    store.rotate("alice", "s1", "r1", "r2", now=T0 + 1, grace=0, ttl=60, deadline=PASSED)
    assert store.rotate("alice", "s1", "r2", "r3", now=T0 + 2, grace=0, ttl=60).outcome == (
        "rotated"
    )
    assert store.rotate("alice", "s1", "r1", "rx", now=T0 + 3, grace=0, ttl=60).outcome == (
        "reused"
    )


def test_a_deadline_not_yet_reached_is_on_time(store: Store) -> None:
    """A rotation applied before its deadline is delivered: presenting its token again is reuse."""
    store.create_session("alice", "s1", "r1", now=T0, ttl=60)
    future = 4_000_000_000.0
    store.rotate("alice", "s1", "r1", "r2", now=T0 + 1, grace=0, ttl=60, deadline=future)
    assert store.rotate("alice", "s1", "r1", "rx", now=T0 + 2, grace=0, ttl=60).outcome == (
        "reused"
    )


def test_revoke_session(store: Store) -> None:
    """revoke_session reports whether the session existed and ends it."""
    store.create_session("alice", "s1", "r1", now=T0, ttl=60)
    assert store.revoke_session("alice", "s1") is True
    assert store.revoke_session("alice", "s1") is False
    assert store.is_revoked("alice", "s1", None, T0) is True
    assert store.rotate("alice", "s1", "r1", "r2", now=T0, grace=0, ttl=60).outcome == "revoked"


def test_revoke_jti_is_per_subject(store: Store) -> None:
    """A revoked jti refuses that subject's token and nobody else's."""
    store.revoke_jti("alice", "j1", ttl=60)
    store.revoke_jti("alice", "j1", ttl=1)  # a shorter second revocation keeps the longer one
    assert store.is_revoked("alice", None, "j1", T0) is True
    assert store.is_revoked("bob", None, "j1", T0) is False
    assert store.is_revoked("alice", None, "j2", T0) is False


def test_revoke_subject_ends_older_sessions_and_tokens(store: Store) -> None:
    """Logout-all revokes sessions created and sessionless tokens issued before the mark."""
    store.create_session("alice", "old", "r1", now=T0, ttl=60)
    store.revoke_subject("alice", at=T0 + 5, ttl=60)
    store.create_session("alice", "new", "r2", now=T0 + 6, ttl=60)
    assert store.is_revoked("alice", "old", None, None) is True
    assert store.is_revoked("alice", "new", None, None) is False
    assert store.is_revoked("alice", None, "j", T0 + 4) is True
    assert store.is_revoked("alice", None, "j", T0 + 5) is False
    assert store.is_revoked("bob", None, "j", T0) is False
    assert store.rotate("alice", "old", "r1", "r3", now=T0 + 7, grace=0, ttl=60).outcome == (
        "revoked"
    )
    assert store.rotate("alice", "new", "r2", "r4", now=T0 + 7, grace=0, ttl=60).outcome == (
        "rotated"
    )


def test_logout_all_mark_only_moves_forward(store: Store) -> None:
    """An older logout-all mark never un-revokes what a newer one revoked."""
    store.revoke_subject("alice", at=T0 + 10, ttl=60)
    store.revoke_subject("alice", at=T0 + 1, ttl=60)
    assert store.is_revoked("alice", None, None, T0 + 5) is True


def test_entries_expire_with_their_ttl(harness: Harness) -> None:
    """Families, revoked ids and logout-all marks are forgotten after their TTL."""
    store = harness.store
    store.create_session("alice", "s1", "r1", now=T0, ttl=SHORT)
    store.revoke_jti("alice", "j1", ttl=SHORT)
    store.revoke_subject("bob", at=T0, ttl=SHORT)
    store.create_session("alice", "s2", "r2", now=T0, ttl=3600)
    harness.expire(SHORT * 3)
    purged = store.purge_expired()
    assert purged == (0 if harness.ticker is None else 3)  # Redis expires keys itself
    assert store.is_revoked("alice", "s1", None, T0) is True
    assert store.rotate("alice", "s1", "r1", "rx", now=T0, grace=0, ttl=60).outcome == "revoked"
    assert store.is_revoked("alice", None, "j1", T0) is False
    assert store.is_revoked("bob", None, None, T0 - 1) is False
    assert store.is_revoked("alice", "s2", None, T0) is False


def test_rotation_race_has_one_winner(store: Store) -> None:
    """50 threads rotating one refresh id at once: exactly one rotation, 49 reuse/revoked."""
    store.create_session("alice", "s1", "r1", now=T0, ttl=60)
    barrier = threading.Barrier(50)
    outcomes: list[str] = []

    def worker(n: int) -> None:
        barrier.wait()
        outcomes.append(store.rotate("alice", "s1", "r1", f"n{n}", now=T0, grace=0, ttl=60).outcome)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("rotated") == 1
    assert outcomes.count("reused") >= 1  # the first loser revokes the family
    assert outcomes.count("reused") + outcomes.count("revoked") == 49


def test_inventory_lists_live_sessions_with_their_times_and_client(store: Store) -> None:
    """list_sessions reports each live session: created, last refresh, end, and its client."""
    client = {"address": "203.0.113.9", "user_agent": "curl/8", "other": "dropped"}
    store.create_session("alice", "s2", "r1", now=T0 + 5, ttl=60, client=client)
    store.create_session("alice", "s1", "q1", now=T0, ttl=60)
    store.create_session("bob", "s3", "p1", now=T0, ttl=60)
    store.rotate("alice", "s2", "r1", "r2", now=T0 + 20, grace=0, ttl=100)
    listed = store.list_sessions("alice")
    assert [info.sid for info in listed] == ["s1", "s2"]  # oldest first
    first, second = listed
    assert (first.subject, first.created, first.refreshed, first.expires) == (
        "alice",
        T0,
        None,
        T0 + 60,
    )
    assert dict(first.client) == {}
    assert (second.created, second.refreshed, second.expires) == (T0 + 5, T0 + 20, T0 + 120)
    assert dict(second.client) == {"address": "203.0.113.9", "user_agent": "curl/8"}
    assert second.as_dict()["client"] == {"address": "203.0.113.9", "user_agent": "curl/8"}
    assert store.list_sessions("nobody") == []


# Subjects come from whoever issues the tokens, token ids too: any string, of any length.
ODD_VALUES = {
    "long": "s" * 10_000,
    "random-long": "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(5_000)),
    "nul": "nul\x00inside",
    "digest-like": "\x01sha256:" + "0" * 64,  # the look of jwtgate.stores._storable's digests
    "wide": "ünïcödé " * 100,
}


@pytest.mark.parametrize("odd", ODD_VALUES.values(), ids=ODD_VALUES.keys())
def test_any_string_is_a_subject_a_session_id_or_a_token_id(store: Store, odd: str) -> None:
    """Every operation takes any string, on every store, and keeps values apart: text
    columns with limits (PostgreSQL: no NUL, index entries of ~2.7 KB; the Django
    store: 255 characters) must not turn a value into an outage or a collision."""
    store.create_session(odd, "s1", odd, now=T0, ttl=60)
    store.create_session(odd + "2", "s2", "r2", now=T0, ttl=60)
    store.create_session("carol", odd, "q1", now=T0, ttl=60)
    (info,) = store.list_sessions(odd)
    assert (info.sid, info.subject) == ("s1", odd)
    rotated = store.rotate(odd, "s1", odd, odd + "-next", now=T0 + 1, grace=0, ttl=60)
    assert (rotated.outcome, rotated.current) == ("rotated", odd + "-next")
    assert store.rotate(odd, "s1", odd, "x", now=T0 + 2, grace=0, ttl=60).outcome == "reused"
    assert store.is_revoked(odd, "s1", None, T0) is True
    assert store.is_revoked(odd + "2", "s2", None, T0) is False  # a neighbour is untouched
    store.revoke_jti(odd, odd, ttl=60)
    assert store.is_revoked(odd, None, odd, T0) is True
    assert store.is_revoked(odd, None, odd + "?", T0) is False
    assert store.is_revoked(odd + "2", None, odd, T0) is False
    # A session with an odd id: listed under an id that finds it again.
    (carols,) = store.list_sessions("carol")
    assert store.session_subject(carols.sid) == "carol"
    assert store.rotate("carol", odd, "q1", "q2", now=T0 + 1, grace=0, ttl=60).outcome == (
        "rotated"
    )
    assert store.is_revoked("carol", odd, None, T0) is False
    assert store.revoke_session("carol", carols.sid) is True
    assert store.is_revoked("carol", odd, None, T0) is True
    # Revoking a session found by its id alone, when its subject is odd.
    owner = store.session_subject("s2")
    assert owner is not None and store.revoke_session(owner, "s2") is True
    assert store.list_sessions(odd + "2") == []
    store.revoke_subject(odd, at=T0 + 5, ttl=60)
    assert store.is_revoked(odd, None, None, T0) is True
    assert store.is_revoked(odd + "2", None, None, T0) is False


@pytest.mark.parametrize("other", ["alice ", "Alice", "alice\t", "ALICE", "alİce"])
def test_subjects_that_a_collation_could_confuse_stay_apart(store: Store, other: str) -> None:
    """Logging out ``alice`` must not log out ``alice `` or ``Alice``: databases that
    compare text by collation (trailing spaces, case) would make them one subject."""
    store.create_session("alice", "s1", "r1", now=T0, ttl=60)
    store.create_session(other, "s2", "r2", now=T0, ttl=60)
    store.revoke_subject(other, at=T0 + 5, ttl=60)
    store.revoke_jti(other, "j1", ttl=60)
    assert store.is_revoked("alice", "s1", None, T0) is False
    assert store.is_revoked("alice", None, "j1", T0) is False
    assert [info.sid for info in store.list_sessions("alice")] == ["s1"]
    assert store.revoke_session(other, "s1") is False


def test_inventory_leaves_out_ended_sessions(harness: Harness) -> None:
    """Revoked, reused, expired and logged-out-everywhere sessions are not listed."""
    store = harness.store
    for sid in ("a", "b", "c", "d"):
        store.create_session("alice", sid, f"{sid}1", now=T0, ttl=60)
    store.create_session("alice", "short", "x1", now=T0, ttl=SHORT)
    store.revoke_session("alice", "a")
    store.rotate("alice", "b", "b1", "b2", now=T0 + 1, grace=0, ttl=60)
    store.rotate("alice", "b", "b1", "bx", now=T0 + 2, grace=0, ttl=60)  # reuse
    harness.expire(SHORT * 3)
    assert [info.sid for info in store.list_sessions("alice")] == ["c", "d"]
    store.revoke_subject("alice", at=T0 + 1, ttl=60)
    store.create_session("alice", "e", "e1", now=T0 + 2, ttl=60)
    assert [info.sid for info in store.list_sessions("alice")] == ["e"]


def test_session_subject_names_the_owner(store: Store) -> None:
    """session_subject finds whose session an id is; None for an unknown or revoked one."""
    store.create_session("alice", "s1", "r1", now=T0, ttl=60)
    assert store.session_subject("s1") == "alice"
    assert store.session_subject("nope") is None
    store.rotate("alice", "s1", "r1", "r2", now=T0 + 1, grace=0, ttl=60)
    assert store.session_subject("s1") == "alice"
    store.revoke_session("alice", "s1")
    assert store.session_subject("s1") is None


def test_sync_store_is_a_context_manager(harness: Harness) -> None:
    """``with store:`` returns the store and closes it on exit."""
    with open_store(harness.url) as store:
        assert isinstance(store, Store)
        assert store.is_revoked("alice", None, None, None) is False


@pytest.fixture
async def astore(harness: Harness, anyio_backend: str) -> AsyncIterator[AsyncStore]:
    """The async twin of the backend, on the same data."""
    skip_async_redis_on_trio(harness.url, anyio_backend)
    async with open_async_store(harness.url) as store:
        yield store


def _sync_view(harness: Harness) -> Store:
    # The async twin opened by URL sees the data through the backend's own
    # clock, so seed and check through a store opened the same way.
    return open_store(harness.url)


@pytest.mark.anyio
async def test_async_twin_follows_the_same_rules(harness: Harness, astore: AsyncStore) -> None:
    """The async store rotates, detects reuse, revokes and answers like the sync one."""
    assert isinstance(astore, AsyncStore)
    await astore.create_session("carol", "s1", "r1", now=T0, ttl=60)
    rotated = await astore.rotate("carol", "s1", "r1", "r2", now=T0 + 1, grace=0, ttl=60)
    assert (rotated.outcome, rotated.current) == ("rotated", "r2")
    assert await astore.is_revoked("carol", "s1", None, T0) is False
    again = await astore.rotate("carol", "s1", "r1", "r2", now=T0 + 1, grace=0, ttl=60)
    assert (again.outcome, again.current) == ("rotated", "r2")  # the same rotation, re-sent
    reused = await astore.rotate("carol", "s1", "r1", "r3", now=T0 + 2, grace=0, ttl=60)
    assert reused.outcome == "reused"
    await astore.create_session("carol", "s3", "p1", now=T0, ttl=60)
    late = await astore.rotate(
        "carol", "s3", "p1", "p2", now=T0 + 1, grace=0, ttl=60, deadline=PASSED
    )
    retry = await astore.rotate("carol", "s3", "p1", "px", now=T0 + 2, grace=0, ttl=60)
    assert (late.current, retry.outcome, retry.current) == ("p2", "rotated", "p2")
    assert await astore.is_revoked("carol", "s1", None, T0) is True
    await astore.create_session("carol", "s2", "q1", now=T0, ttl=60, client={"address": "::1"})
    listed = [(i.sid, dict(i.client)) for i in await astore.list_sessions("carol")]
    assert listed == [("s2", {"address": "::1"}), ("s3", {})]  # same created: by sid
    assert await astore.session_subject("s2") == "carol"
    assert await astore.revoke_session("carol", "s2") is True
    await astore.revoke_jti("carol", "j1", ttl=60)
    assert await astore.is_revoked("carol", None, "j1", T0) is True
    await astore.revoke_subject("carol", at=T0 + 5, ttl=60)
    assert await astore.is_revoked("carol", None, None, T0) is True
    assert await astore.purge_expired() >= 0
    sync = _sync_view(harness)
    try:
        # In a worker thread, as sync code runs beside an event loop (Django forbids
        # its sync ORM on the event loop's thread).
        assert await anyio.to_thread.run_sync(sync.is_revoked, "carol", None, "j1", T0) is True
    finally:
        sync.close()


def test_unknown_store_url_is_refused() -> None:
    """open_store names the URLs it understands."""
    for url in ("mysql://x", "sqlite://relative.db"):
        with pytest.raises(ValueError, match="memory://"):
            open_store(url)
        with pytest.raises(ValueError, match="memory://"):
            open_async_store(url)


def test_memory_urls_name_shared_stores() -> None:
    """Two opens of one memory:// URL share data; close() forgets the name."""
    a = open_store("memory://shared-test")
    b = open_store("memory://shared-test")
    a.revoke_jti("alice", "j", ttl=60)
    assert b.is_revoked("alice", None, "j", None) is True
    a.close()
    c = open_store("memory://shared-test")
    assert c.is_revoked("alice", None, "j", None) is False
    c.close()


def test_a_key_is_claimed_once_until_it_expires(harness: Harness) -> None:
    """claim_once (DPoP replay prevention): the first claim wins, a second one within
    the TTL fails, another key is free, and after the TTL the key is free again."""
    store = harness.store
    claim = store.claim_once  # type: ignore[attr-defined]
    assert claim("dpop:one", SHORT) is True
    assert claim("dpop:one", SHORT) is False
    assert claim("dpop:two", 60) is True
    harness.expire(SHORT * 3)
    assert claim("dpop:one", 60) is True
    assert claim("dpop:two", 60) is False


def test_claims_race_to_one_winner(store: Store) -> None:
    """Eight threads claim one key at once: exactly one wins."""
    won: list[bool] = []
    start = threading.Barrier(8)

    def claim() -> None:
        start.wait()
        won.append(store.claim_once("dpop:race", 60))  # type: ignore[attr-defined]

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False] * 7 + [True]


@pytest.mark.anyio
async def test_the_async_twin_claims_once(astore: AsyncStore) -> None:
    claim = astore.claim_once  # type: ignore[attr-defined]
    assert await claim("dpop:async", 60) is True
    assert await claim("dpop:async", 60) is False
