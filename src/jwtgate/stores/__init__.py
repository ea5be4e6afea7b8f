"""Stores: where sessions, revoked token ids and "logged out everywhere" marks live.

One small protocol, in a sync (:class:`Store`) and an async (:class:`AsyncStore`)
twin, and three backends chosen by the ``store`` URL:

=======================================  =====================================
``memory://`` (``memory://name``)          one process; tests and single-process dev servers
``sqlite:///path.db``                    one machine, any number of worker processes (WAL)
``redis://host:6379/0``                  many machines (also ``rediss://`` for TLS)
``redis+cluster://host:port,…``          many machines, on a Redis Cluster
``redis+sentinel://host:26379,…/name/0``  many machines, on the master Sentinel names
``postgresql://user@host:5432/db``         many machines, in a PostgreSQL schema (see
                                         ``jwtgate.stores.postgres``)
``django://`` (``django://alias``)         the Django project's own database (see
                                         ``jwtgate.contrib.django_store``)
=======================================  =====================================

What a store holds, all keyed under the token's subject (so a Redis Cluster
keeps everything one request needs in one hash slot):

- a **family** per session id (``sid``): the ``jti`` of the one refresh token
  that may be used next, the one before it and when it was rotated (for the
  grace window), whether that rotation is in doubt (applied after its caller
  gave up: see :meth:`Store.rotate`), and when the session was created. Revoking a session deletes
  its family: an unknown ``sid`` is a revoked one.
- **revoked token ids** (``jti``), each kept as long as the token could live;
- a **logout-all mark** per subject: sessions created before it are dead.

Every write carries ``ttl``: how long the entry must be remembered (the
remaining lifetime of what it guards). Times passed as values (``now``,
``at``, ``issued_at``) come from the caller's clock and are only compared with
each other; expiry uses the store's own clock.

Backends raise :class:`jwtgate.errors.StoreUnavailable` when they cannot answer
(the cause is chained and logged); nothing else escapes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from jwtgate._fields import DEFAULTS
from jwtgate.errors import StoreUnavailable

from ._contract import AsyncStore, Outcome, Rotation, SessionInfo, Store
from ._pg_url import SCHEMES as POSTGRES_SCHEMES
from ._redis_connect import SCHEMES as REDIS_SCHEMES

if TYPE_CHECKING:
    from ._feed import ChangeFeed

__all__ = [
    "AsyncStore",
    "Outcome",
    "Rotation",
    "SessionInfo",
    "Store",
    "StoreUnavailable",
    "open_async_store",
    "open_feed",
    "open_store",
]


def _scheme(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme in ("memory", "django", *REDIS_SCHEMES, *POSTGRES_SCHEMES) or (
        scheme == "sqlite" and url.startswith("sqlite:///")
    ):
        return scheme
    raise ValueError(
        "not a jwtgate store URL; use 'memory://', 'sqlite:///path.db', 'redis://host:6379/0', "
        "'postgresql://host/db' or 'django://'"
    )


def open_store(url: str, *, prefix: str = "jwtgate:", timeout: float = 5.0) -> Store:
    """The sync store for ``url``.

    ``prefix`` starts every Redis key; ``timeout`` bounds a SQLite busy wait, a
    Redis socket operation or a PostgreSQL call, in seconds (a Django store's
    database settings bound its own waits). Nothing is connected yet: the first
    operation connects (and reconnects after a failure).
    """
    scheme = _scheme(url)
    if scheme == "memory":
        from .memory import memory_store

        return memory_store(url)
    if scheme == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore.from_url(url, timeout=timeout)
    if scheme == "django":
        from jwtgate.contrib.django_store.store import DjangoStore

        return DjangoStore.from_url(url)
    if scheme in POSTGRES_SCHEMES:
        from .postgres import PostgresStore

        return PostgresStore.from_url(url, timeout=timeout)
    from .redis import RedisStore

    return RedisStore.from_url(url, prefix=prefix, timeout=timeout)


def open_async_store(url: str, *, prefix: str = "jwtgate:", timeout: float = 5.0) -> AsyncStore:
    """The async store for ``url``: asyncio Redis client; SQLite and PostgreSQL in
    worker threads (bounded by the store's own timeout and pool).

    ``memory://name`` gives a view of the same data as :func:`open_store` with
    the same URL, so a sync and an async user in one process agree.
    """
    scheme = _scheme(url)
    if scheme == "memory":
        from .memory import AsyncMemoryStore, memory_store

        return AsyncMemoryStore(memory_store(url))
    if scheme == "sqlite":
        from .sqlite import SQLiteStore
        from .threaded import ThreadedAsyncStore

        return ThreadedAsyncStore(SQLiteStore.from_url(url, timeout=timeout))
    if scheme == "django":
        from jwtgate.contrib.django_store.store import AsyncDjangoStore, DjangoStore

        return AsyncDjangoStore(DjangoStore.from_url(url))
    if scheme in POSTGRES_SCHEMES:
        from .postgres import PostgresStore
        from .threaded import ThreadedAsyncStore

        return ThreadedAsyncStore(PostgresStore.from_url(url, timeout=timeout))
    from .redis import AsyncRedisStore

    return AsyncRedisStore.from_url(url, prefix=prefix, timeout=timeout)


def open_feed(
    url: str,
    *,
    prefix: str = "jwtgate:",
    interval: float = DEFAULTS["revocation_poll_interval"],
    timeout: float = DEFAULTS["store_housekeeping_timeout"],
) -> ChangeFeed | None:
    """The change feed for the store at ``url`` (None for ``memory://``: nothing to watch).

    ``timeout`` bounds each of its store calls; a feed that cannot poll makes the
    views it serves go stale, it never delays a request.
    """
    scheme = _scheme(url)
    if scheme == "memory":
        from .memory import memory_store

        return memory_store(url).change_feed(interval)
    if scheme == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore.from_url(url, timeout=timeout).change_feed(interval)
    if scheme == "django":
        from jwtgate.contrib.django_store.store import DjangoStore

        return DjangoStore.from_url(url).change_feed(interval)
    if scheme in POSTGRES_SCHEMES:
        from ._pg_url import parse
        from .postgres import PostgresFeed

        return PostgresFeed(parse(url), interval, timeout=timeout)
    from .redis import RedisFeed, RedisStore

    store = RedisStore.from_url(url, prefix=prefix, timeout=timeout)
    return RedisFeed(store.client, store.keys.changes, interval, owner=store)
