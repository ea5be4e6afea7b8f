"""Stores: where sessions, revoked token ids and "logged out everywhere" marks live.

One small protocol, in a sync (:class:`Store`) and an async (:class:`AsyncStore`)
twin, and three backends chosen by the ``store`` URL:

==============================  ==============================================
``memory://`` (``memory://name``)  one process; tests and single-process dev servers
``sqlite:///path.db``           one machine, any number of worker processes (WAL)
``redis://host:6379/0``         many machines (also ``rediss://`` for TLS)
==============================  ==============================================

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

import logging
import time
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

from jwtgate.errors import StoreUnavailable

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._feed import ChangeFeed

__all__ = [
    "AsyncStore",
    "Outcome",
    "Rotation",
    "Store",
    "StoreUnavailable",
    "open_async_store",
    "open_feed",
    "open_store",
]

logger = logging.getLogger("jwtgate.stores")

Outcome = Literal["rotated", "grace", "reused", "revoked"]


@dataclass(frozen=True, slots=True)
class Rotation:
    """What :meth:`Store.rotate` did.

    ``outcome`` is one of:

    - ``"rotated"``: the presented refresh token was the current one; ``current``
      is now the new one. Also the answer to the *same rotation again*: an exact
      re-send of the call (same ``presented`` and ``new``), or the next
      presentation of ``presented`` after a rotation that was *in doubt* (applied
      after its caller's ``deadline``, so its caller answered 503). Then nothing
      changes and ``current`` is the successor recorded then, not ``new``.
    - ``"grace"``: the presented token is the one just replaced, within the grace
      window (a concurrent or retried request); nothing changed, ``current`` is
      the family's current refresh token id.
    - ``"reused"``: an already-consumed token was presented; the family has just
      been revoked (RFC 9700 §4.14.2).
    - ``"revoked"``: the family does not exist (any more): logged out, revoked by
      reuse or logout-all, or expired.
    """

    outcome: Outcome
    current: str | None = None


@runtime_checkable
class Store(Protocol):
    """The sync store protocol (memory, SQLite, Redis)."""

    def create_session(self, subject: str, sid: str, jti: str, *, now: float, ttl: float) -> None:
        """Start a family whose current refresh token id is ``jti``."""

    def rotate(
        self,
        subject: str,
        sid: str,
        presented: str,
        new: str,
        *,
        now: float,
        grace: float,
        ttl: float,
        deadline: float | None = None,
    ) -> Rotation:
        """Atomically consume ``presented`` and make ``new`` current (see :class:`Rotation`).

        ``deadline`` (the caller's wall clock) is when the caller stops waiting
        for the answer. A rotation the store applies later than that is recorded
        as in doubt, so a retry of the same refresh is recognised. ``None``: the
        caller waits for the answer, or (network stores) the store's own socket
        timeout sets it.
        """
        ...

    def revoke_session(self, subject: str, sid: str) -> bool:
        """Revoke one session; True when it existed."""
        ...

    def revoke_jti(self, subject: str, jti: str, *, ttl: float) -> None:
        """Remember ``jti`` as revoked for ``ttl`` seconds."""

    def revoke_subject(self, subject: str, *, at: float, ttl: float) -> None:
        """Revoke every session of ``subject`` created, and token issued, before ``at``."""

    def is_revoked(
        self, subject: str, sid: str | None, jti: str | None, issued_at: float | None
    ) -> bool:
        """Whether a token is revoked; one round trip.

        With a ``sid``: its family is gone, or was created before the subject's
        logout-all mark. Without: ``issued_at`` is before that mark. Either way:
        ``jti`` was revoked.
        """
        ...

    def purge_expired(self) -> int:
        """Delete expired entries now; the number deleted (0 where the backend expires keys)."""
        ...

    def close(self) -> None:
        """Release connections; the store cannot be used afterwards."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class AsyncStore(Protocol):
    """The async twin of :class:`Store`: same operations, awaited; ``aclose``."""

    async def create_session(
        self, subject: str, sid: str, jti: str, *, now: float, ttl: float
    ) -> None:
        """See :meth:`Store.create_session`."""

    async def rotate(
        self,
        subject: str,
        sid: str,
        presented: str,
        new: str,
        *,
        now: float,
        grace: float,
        ttl: float,
        deadline: float | None = None,
    ) -> Rotation:
        """See :meth:`Store.rotate`."""
        ...

    async def revoke_session(self, subject: str, sid: str) -> bool:
        """See :meth:`Store.revoke_session`."""
        ...

    async def revoke_jti(self, subject: str, jti: str, *, ttl: float) -> None:
        """See :meth:`Store.revoke_jti`."""

    async def revoke_subject(self, subject: str, *, at: float, ttl: float) -> None:
        """See :meth:`Store.revoke_subject`."""

    async def is_revoked(
        self, subject: str, sid: str | None, jti: str | None, issued_at: float | None
    ) -> bool:
        """See :meth:`Store.is_revoked`."""
        ...

    async def purge_expired(self) -> int:
        """See :meth:`Store.purge_expired`."""
        ...

    async def aclose(self) -> None:
        """Release connections."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def _scheme(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme in ("memory", "redis", "rediss") or (
        scheme == "sqlite" and url.startswith("sqlite:///")
    ):
        return scheme
    raise ValueError(
        "not a jwtgate store URL; use 'memory://', 'sqlite:///path.db' or 'redis://host:6379/0'"
    )


def open_store(url: str, *, prefix: str = "jwtgate:", timeout: float = 5.0) -> Store:
    """The sync store for ``url``.

    ``prefix`` starts every Redis key; ``timeout`` bounds a SQLite busy wait or a
    Redis socket operation, in seconds. Nothing is connected yet: the first
    operation connects (and reconnects after a failure).
    """
    scheme = _scheme(url)
    if scheme == "memory":
        from .memory import memory_store

        return memory_store(url)
    if scheme == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore.from_url(url, timeout=timeout)
    from .redis import RedisStore

    return RedisStore.from_url(url, prefix=prefix, timeout=timeout)


def open_async_store(url: str, *, prefix: str = "jwtgate:", timeout: float = 5.0) -> AsyncStore:
    """The async store for ``url``: asyncio Redis client, SQLite in worker threads.

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
    from .redis import AsyncRedisStore

    return AsyncRedisStore.from_url(url, prefix=prefix, timeout=timeout)


def open_feed(url: str, *, prefix: str = "jwtgate:", interval: float = 0.05) -> ChangeFeed | None:
    """The change feed for the store at ``url`` (None for ``memory://``: nothing to watch)."""
    scheme = _scheme(url)
    if scheme == "memory":
        return None
    if scheme == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore.from_url(url).change_feed(interval)
    from .redis import RedisFeed, RedisStore

    store = RedisStore.from_url(url, prefix=prefix)
    return RedisFeed(store.client, store.keys.changes, interval, owns_client=True)


_last_logged: dict[tuple[str, str], float] = {}
LOG_EVERY = 10.0


def unavailable(backend: str, exc: BaseException) -> StoreUnavailable:
    """A StoreUnavailable for ``exc``, its cause logged (never token material).

    The same failure is logged as a warning at most every ``LOG_EVERY`` seconds
    (an outage under load would otherwise write one line per request).
    """
    message = f"{type(exc).__name__}: {exc}"
    now = time.monotonic()
    key = (backend, message)
    last = _last_logged.get(key)
    level = logging.WARNING if last is None or now - last >= LOG_EVERY else logging.DEBUG
    if level == logging.WARNING:
        if len(_last_logged) > 1000:  # bounded: messages may vary
            _last_logged.clear()
        _last_logged[key] = now
    logger.log(level, "jwtgate: %s store unavailable: %s", backend, message)
    error = StoreUnavailable()
    error.__cause__ = exc
    return error
