"""Backend-specific behaviour: SQLite schema, locking and read-only files; Redis keys and TTLs."""

from __future__ import annotations

import logging
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from jwtgate.errors import StoreUnavailable
from jwtgate.stores import open_async_store, open_store
from jwtgate.stores.memory import MemoryStore
from jwtgate.stores.redis import RedisKeys, RedisStore, split_url
from jwtgate.stores.sqlite import SCHEMA_VERSION, SQLiteStore
from redis_server import free_port, redis_binary

T0 = 1_800_000_000.0


def test_sqlite_creates_and_versions_its_schema(tmp_path: Path) -> None:
    """The first use creates the tables and records the schema version."""
    path = tmp_path / "s.db"
    with SQLiteStore(path) as store:
        store.revoke_jti("alice", "j", ttl=60)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_sqlite_refuses_a_newer_schema(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A file written by a newer jwtgate is refused with the versions in the log."""
    path = tmp_path / "s.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with SQLiteStore(path) as store, pytest.raises(StoreUnavailable) as info:
        store.is_revoked("alice", None, None, None)
    assert "upgrade jwtgate" in str(info.value.__cause__)
    assert f"schema version {SCHEMA_VERSION + 1}" in caplog.text


_SCHEMA_V1 = """
CREATE TABLE jwtgate_families (
    sid TEXT PRIMARY KEY, subject TEXT NOT NULL, current TEXT NOT NULL, previous TEXT,
    rotated_at REAL, created REAL NOT NULL, expires REAL NOT NULL
);
CREATE TABLE jwtgate_revoked_jti (
    subject TEXT NOT NULL, jti TEXT NOT NULL, expires REAL NOT NULL, PRIMARY KEY (subject, jti)
) WITHOUT ROWID;
CREATE TABLE jwtgate_subjects (
    subject TEXT PRIMARY KEY, logout_at REAL NOT NULL, expires REAL NOT NULL
) WITHOUT ROWID;
PRAGMA user_version = 1;
"""


def test_sqlite_upgrades_a_version_1_file_in_place(tmp_path: Path) -> None:
    """A file of schema version 1 is upgraded on first use; its sessions keep working."""
    path = tmp_path / "s.db"
    conn = sqlite3.connect(path)
    conn.executescript(_SCHEMA_V1)
    conn.execute(
        "INSERT INTO jwtgate_families VALUES ('s1', 'alice', 'r1', NULL, NULL, ?, ?)",
        (T0, time.time() + 60),
    )
    conn.commit()
    conn.close()
    with SQLiteStore(path) as store:
        # Listed before any write of schema 3: no end or client recorded yet.
        (old,) = store.list_sessions("alice")
        assert (old.sid, old.created, old.expires, dict(old.client)) == ("s1", T0, 0.0, {})
        assert store.rotate("alice", "s1", "r1", "r2", now=T0, grace=0, ttl=60).outcome == (
            "rotated"
        )
        assert store.list_sessions("alice")[0].expires == T0 + 60
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        assert conn.execute("SELECT current, in_doubt FROM jwtgate_families").fetchone() == (
            "r2",
            0,
        )
    finally:
        conn.close()


def test_sqlite_revocation_survives_reopening(tmp_path: Path) -> None:
    """What one store instance wrote is there after closing and opening the file again."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    with open_store(url) as store:
        store.create_session("alice", "s1", "r1", now=T0, ttl=60)
        store.revoke_jti("alice", "j1", ttl=60)
        store.revoke_session("alice", "s1")
    with open_store(url) as store:
        assert store.is_revoked("alice", None, "j1", None) is True
        assert store.is_revoked("alice", "s1", None, None) is True


def test_sqlite_locked_file_is_a_clear_temporary_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A write lock held elsewhere gives StoreUnavailable after the busy timeout, data intact."""
    path = tmp_path / "s.db"
    store = SQLiteStore(path, timeout=0.1)
    store.create_session("alice", "s1", "r1", now=T0, ttl=60)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    with (
        caplog.at_level(logging.WARNING, logger="jwtgate.stores"),
        pytest.raises(StoreUnavailable),
    ):
        store.rotate("alice", "s1", "r1", "r2", now=T0, grace=0, ttl=60)
    assert "database is locked" in caplog.text
    other.execute("ROLLBACK")
    other.close()
    # Nothing was consumed by the failed attempt; the store carries on by itself.
    assert store.rotate("alice", "s1", "r1", "r2", now=T0, grace=0, ttl=60).outcome == "rotated"
    store.close()


def test_sqlite_read_only_file_refuses_writes_and_keeps_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A read-only database answers reads, refuses writes clearly, and loses nothing."""
    path = tmp_path / "s.db"
    with SQLiteStore(path) as store:
        store.create_session("alice", "s1", "r1", now=T0, ttl=60)
    with open_store(f"sqlite:///{path}?mode=ro") as ro:
        assert ro.is_revoked("alice", "s1", None, None) is False
        with pytest.raises(StoreUnavailable):
            ro.rotate("alice", "s1", "r1", "r2", now=T0, grace=0, ttl=60)
    assert "readonly" in caplog.text
    with SQLiteStore(path) as store:
        assert store.rotate("alice", "s1", "r1", "r2", now=T0, grace=0, ttl=60).outcome == (
            "rotated"
        )


def test_sqlite_unopenable_path_is_a_clear_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A path in a missing directory fails as StoreUnavailable, with the path in the log."""
    store = open_store(f"sqlite:///{tmp_path / 'missing' / 's.db'}")
    with pytest.raises(StoreUnavailable):
        store.is_revoked("alice", None, None, None)
    assert "missing" in caplog.text
    store.close()


def test_sqlite_url_needs_a_path() -> None:
    """``sqlite:///`` without a path is refused."""
    with pytest.raises(ValueError, match="needs a path"):
        open_store("sqlite:///")


def test_sqlite_purges_on_writes_after_the_interval(tmp_path: Path) -> None:
    """Expired rows are purged by a later write once purge_interval has passed."""
    now = [T0]
    store = SQLiteStore(tmp_path / "s.db", clock=lambda: now[0], purge_interval=10)
    store.create_session("alice", "s1", "r1", now=T0, ttl=1)
    now[0] += 20
    store.create_session("alice", "s2", "r2", now=T0, ttl=60)
    assert store.purge_expired() == 0  # s1 already went with the write
    store.close()


def test_redis_keys_share_one_hash_tag_per_subject() -> None:
    """A subject's family, jti and logout-all keys hash to one Cluster slot; prefixes apply."""
    keys = RedisKeys("app:")
    tags = {
        k[k.index("{") : k.index("}") + 1]
        for k in (keys.family("alice", "s1"), keys.jti("alice", "j1"), keys.logout("alice"))
    }
    assert len(tags) == 1
    assert keys.family("alice", "s1").startswith("app:{u:")
    assert keys.tag("alice") != keys.tag("bob")
    assert "}" not in keys.tag("we}ird{sub")[len("app:{") : -1]


def test_redis_prefix_from_url() -> None:
    """``?prefix=`` is jwtgate's, removed before redis-py sees the URL; braces are refused."""
    assert split_url("redis://h:1/0?prefix=x:&db=2", "jwtgate:") == ("redis://h:1/0?db=2", "x:")
    assert split_url("redis://h:1/0", "p:") == ("redis://h:1/0", "p:")
    with pytest.raises(ValueError, match="hash tags"):
        split_url("redis://h:1/0?prefix={x}", "p:")


def test_redis_every_key_has_a_ttl(redis_url: str) -> None:
    """Every key the Redis store writes expires with the lifetime of what it guards."""
    store = open_store(redis_url)
    assert isinstance(store, RedisStore)
    store.create_session("alice", "s1", "r1", now=T0, ttl=100)
    store.revoke_jti("alice", "j1", ttl=50)
    store.revoke_subject("alice", at=T0, ttl=200)
    client = store.client
    prefix = store.keys.prefix
    keys = [k for k in client.scan_iter(match=f"{prefix}*") if k != store.keys.changes.encode()]
    # The family, its session-index and owner entries, the revoked jti, the logout mark.
    assert len(keys) == 5
    assert 0 < client.pttl(store.keys.changes) <= 86_400_000  # the revocation counter (#9)
    ttls = sorted(client.pttl(k) for k in keys)
    assert 0 < ttls[0] <= 50_000
    assert all(50_000 < ttl <= 100_000 for ttl in ttls[1:4])
    assert 100_000 < ttls[4] <= 200_000
    store.rotate("alice", "s1", "r1", "r2", now=T0, grace=0, ttl=300)
    for key in (store.keys.family("alice", "s1"), store.keys.sessions("alice")):
        assert 200_000 < client.pttl(key) <= 300_000
    assert 200_000 < client.pttl(store.keys.owner("s1")) <= 300_000
    store.close()


def test_memory_forgets_expired_entries_on_read() -> None:
    """The memory store drops an expired family or logout-all mark when it reads it."""
    now = [0.0]
    store = MemoryStore(clock=lambda: now[0])
    store.create_session("alice", "s1", "r1", now=T0, ttl=1)
    store.revoke_subject("alice", at=T0, ttl=1)
    now[0] = 5
    assert store.is_revoked("alice", "s1", None, None) is True
    assert store.is_revoked("alice", None, None, T0 - 1) is False
    assert store.purge_expired() == 0


def test_closed_sqlite_store_cannot_be_used(tmp_path: Path) -> None:
    """Using a SQLiteStore after close() is a programming error, said plainly."""
    store = SQLiteStore(tmp_path / "s.db")
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.is_revoked("alice", None, None, None)


@pytest.mark.anyio
async def test_unreachable_redis_is_store_unavailable(anyio_backend: str) -> None:
    """Every Redis operation against a closed port raises StoreUnavailable, sync and async."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    with open_store(url, timeout=1) as store:
        with pytest.raises(StoreUnavailable):
            store.revoke_session("alice", "s1")
        with pytest.raises(StoreUnavailable):
            store.is_revoked("alice", "s1", None, None)
    if anyio_backend != "asyncio":
        return  # redis-py's async client runs on asyncio only
    async with open_async_store(url, timeout=1) as astore:
        with pytest.raises(StoreUnavailable):
            await astore.revoke_session("alice", "s1")
        with pytest.raises(StoreUnavailable):
            await astore.is_revoked("alice", "s1", None, None)


def test_missing_redis_server_skips_locally_and_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without redis-server the Redis tests skip with a reason; under CI=true they fail."""
    monkeypatch.setenv("REDIS_SERVER", str(tmp_path / "no-redis-server"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="redis-server not found"):
        redis_binary()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires it"):
        redis_binary()


def test_redis_extra_missing_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without redis-py, opening a Redis store says which extra to install."""
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(ImportError, match=r"pip install 'jwtgate\[redis\]'"):
        open_store("redis://127.0.0.1:1/0")
    with pytest.raises(ImportError, match=r"pip install 'jwtgate\[redis\]'"):
        open_async_store("redis://127.0.0.1:1/0")


def test_repeated_store_failures_are_logged_once_in_a_while(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The same store failure is a warning once, then debug lines until LOG_EVERY passes."""
    store = open_store(f"sqlite:///{tmp_path / 'missing' / 's.db'}")
    with caplog.at_level(logging.DEBUG, logger="jwtgate.stores"):
        for _ in range(3):
            with pytest.raises(StoreUnavailable):
                store.is_revoked("alice", None, None, None)
    levels = [r.levelno for r in caplog.records if r.name == "jwtgate.stores"]
    assert levels == [logging.WARNING, logging.DEBUG, logging.DEBUG]
    store.close()


def test_a_failed_announcement_never_turns_a_stored_write_into_a_refusal(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With PUBLISH forbidden by a Redis ACL (so the change announcement fails after the
    write committed), reuse is still reported as reuse and a logout as done, with a
    warning: a 503 would claim a failure that did not happen."""
    import redis

    from conftest import make_settings
    from jwtgate import Sessions
    from jwtgate.errors import ReusedToken

    base = redis_url.split("?")[0]
    admin = redis.Redis.from_url(base)
    user = f"nopub{time.monotonic_ns()}"
    admin.acl_setuser(
        user, enabled=True, passwords=["+not-a-secret"], keys="*", channels="*",
        commands=["+@all", "-publish"],
    )  # fmt: skip
    admin.close()
    url = base.replace("redis://", f"redis://{user}:not-a-secret@") + "?" + redis_url.split("?")[1]
    settings = make_settings(store=url)
    with Sessions(settings) as sessions, caplog.at_level(logging.WARNING, logger="jwtgate"):
        pair = sessions.login("alice")
        sessions.refresh(pair.refresh_token)
        with pytest.raises(ReusedToken):
            sessions.refresh(pair.refresh_token)  # reuse: the family is revoked, then announced
        other = sessions.login("alice")
        assert sessions.logout(other.access_token) is True
    assert "announcing it failed" in caplog.text


def test_redis_session_subject_of_an_ended_session_is_none_for_an_empty_subject(
    redis_url: str,
) -> None:
    """The liveness check holds for the subject "" too (``owner and …`` skipped it): an
    ended session has no owner on Redis, as on every other store."""
    with RedisStore.from_url(redis_url) as store:
        now = time.time()
        store.create_session("", "s-empty", "r1", now=now, ttl=60)
        store.revoke_subject("", at=now + 1, ttl=60)  # the owner key outlives the family
        assert store.list_sessions("") == []
        assert store.session_subject("s-empty") is None
