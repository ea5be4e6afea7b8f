"""What the PostgreSQL store does beyond the store contract: its schema (created once
under concurrent first use, versioned, a newer one refused) and its housekeeping."""

from __future__ import annotations

import logging
import threading

import psycopg
import pytest

from jwtgate.errors import StoreUnavailable
from jwtgate.stores import open_store
from jwtgate.stores._pg_schema import SCHEMA_VERSION
from jwtgate.stores._pg_url import parse
from jwtgate.stores.postgres import PostgresStore

T0 = 1_800_000_000.0


def test_concurrent_first_use_creates_the_schema_once(postgres_url: str) -> None:
    """Eight stores (workers starting together) on a new schema: one creates it, all work."""
    stores = [open_store(postgres_url) for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def first_use(n: int) -> None:
        barrier.wait()
        try:
            stores[n].create_session("alice", f"s{n}", f"r{n}", now=T0, ttl=60)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_use, args=(n,)) for n in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(stores[0].list_sessions("alice")) == len(stores)
    for store in stores:
        store.close()


def test_a_schema_from_a_newer_jwtgate_is_refused(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A schema whose version this jwtgate does not know: every call is StoreUnavailable
    (503), the log names both versions, and nothing in it is changed."""
    with open_store(postgres_url) as store:
        store.create_session("alice", "s1", "r1", now=T0, ttl=60)
    schema = parse(postgres_url).schema
    with psycopg.connect(postgres_url.split("?")[0], autocommit=True) as conn:
        conn.execute(f'UPDATE "{schema}".meta SET version = %s', (SCHEMA_VERSION + 1,))
    with (
        open_store(postgres_url) as store,
        caplog.at_level(logging.WARNING, "jwtgate"),
        pytest.raises(StoreUnavailable),
    ):
        store.is_revoked("alice", "s1", None, None)
    assert f"version {SCHEMA_VERSION + 1}" in caplog.text
    assert f"knows version {SCHEMA_VERSION}" in caplog.text


def test_expired_rows_are_purged_on_a_write(postgres_url: str) -> None:
    """With purge_interval passed, a write deletes the expired rows (counted by a purge)."""
    now = [T0]
    store = PostgresStore(parse(postgres_url), purge_interval=10, clock=lambda: now[0])
    with store:
        store.create_session("alice", "s1", "r1", now=T0, ttl=1)
        store.revoke_jti("alice", "j1", ttl=1)
        now[0] += 60
        store.create_session("alice", "s2", "r2", now=now[0], ttl=60)  # purges the two
        assert store.purge_expired() == 0
        assert [info.sid for info in store.list_sessions("alice")] == ["s2"]


def test_a_closed_store_refuses_to_work(postgres_url: str) -> None:
    """After close() the store cannot be used (it does not silently reopen its pool)."""
    store = open_store(postgres_url)
    store.is_revoked("alice", None, "j1", None)
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.is_revoked("alice", None, "j1", None)


def test_a_call_blocked_by_a_lock_ends_at_the_bound_and_the_pool_does_too(
    postgres_url: str,
) -> None:
    """A call waiting on a lock another session holds ends at the store's timeout
    (StoreUnavailable); so does a call that finds the pool's only connection taken;
    once the lock is gone the same store works, and the client's retry succeeds."""
    with open_store(f"{postgres_url}&timeout=0.5&pool_size=1") as store:
        store.create_session("alice", "s1", "r1", now=T0, ttl=60)
        schema = parse(postgres_url).schema
        outcomes: list[str] = []
        with psycopg.connect(postgres_url.split("?")[0]) as admin:
            admin.execute(f'LOCK TABLE "{schema}".families IN ACCESS EXCLUSIVE MODE')

            def blocked() -> None:
                try:
                    store.rotate("alice", "s1", "r1", "r2", now=T0, grace=0, ttl=60)
                    outcomes.append("rotated")
                except StoreUnavailable:
                    outcomes.append("503")

            holder = threading.Thread(target=blocked)
            holder.start()
            with pytest.raises(StoreUnavailable):  # the one connection is the holder's
                store.list_sessions("alice")
            holder.join()
            admin.rollback()
        assert outcomes == ["503"]
        # The server may still run the abandoned rotation once it gets the lock (late:
        # in doubt) or not at all; either way the retry gets the successor.
        rotated = store.rotate("alice", "s1", "r1", "r2", now=T0, grace=0, ttl=60)
        assert (rotated.outcome, rotated.current) == ("rotated", "r2")


def test_a_revoking_write_moves_the_change_feed(postgres_url: str) -> None:
    """The store's change feed listens and reads the counter; a revocation by anyone
    (here another store object) shows as a new generation."""
    with open_store(postgres_url) as store, open_store(postgres_url) as other:
        store.create_session("alice", "s1", "r1", now=T0, ttl=60)  # the schema exists
        feed = store.change_feed(0.05)  # type: ignore[attr-defined]
        try:
            assert feed.step()
            before = feed.generation
            other.revoke_jti("alice", "j1", ttl=60)
            feed.wait(5.0)  # returns as soon as the notification arrives
            assert feed.step()
            assert feed.generation > before
            assert feed.listening
        finally:
            feed.release()
