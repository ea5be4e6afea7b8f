"""Revocation-aware access: the store lookup the Gate makes after verification.

With ``check_revocation: true``, every verified access token costs exactly one
store call (:meth:`~jwtgate.stores.Store.is_revoked`: one SQL statement, or one
Redis script in the subject's hash slot). It refuses, at once and on every
instance sharing the store, the tokens of:

- a revoked session (its ``sid`` family is gone: logout, reuse, expiry);
- a revoked ``jti``;
- a subject logged out everywhere (sessions created, or sessionless tokens
  issued, before the subject's logout-all mark).

Answers are remembered per token only under a change feed (``jwtgate.feed``,
issue 9): for SQLite and Redis stores a background thread notices every write
from any process, and a cached answer is served only while the feed vouches
for it, so a revocation is honoured everywhere within twice
``revocation_poll_interval`` (100 ms by default) while the hot path costs a
dict lookup. The memory store's feed needs no thread: the store tells it of
each revoking write as it makes it. ``revocation_cache_size: 0`` and injected
stores without a ``change_feed`` ask the store on every request. Clocks: logout-all
compares the time of the logout with token and session times from other machines,
so keep servers NTP-synced.

When the store cannot answer, ``on_store_error`` decides: ``deny`` (default)
answers 503 with ``Retry-After``; ``allow`` lets the request through and logs a
warning (at most every ``WARN_EVERY`` seconds). The stores reconnect by
themselves, so service resumes without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread

from ._breaker import breaker_for
from .config import Settings
from .errors import ConfigurationError, Problem, RevokedToken, StoreUnavailable
from .feed import AsyncCachedStore, CachedStore, RevocationView
from .identity import Identity
from .sessions import session_id
from .stores import AsyncStore, Store, open_async_store, open_feed, open_store
from .stores._redis_connect import SCHEMES as REDIS_SCHEMES
from .telemetry import timed

__all__ = ["RevocationCheck", "check_persistence", "question"]

logger = logging.getLogger("jwtgate")

WARN_EVERY = 10.0


def question(identity: Identity) -> tuple[str, str | None, str | None, float | None]:
    """The arguments of ``Store.is_revoked`` for a verified identity.

    An identity provider's own ``sid`` (OpenID Connect, Keycloak) is ignored:
    see :func:`jwtgate.sessions.session_id`.
    """
    claims = identity.claims
    jti, iat = claims.get("jti"), claims.get("iat")
    return (
        str(identity.subject),
        session_id(identity),
        jti if isinstance(jti, str) else None,
        float(iat) if isinstance(iat, int | float) and not isinstance(iat, bool) else None,
    )


def check_persistence(settings: Settings) -> None:
    """At startup, with ``check_revocation``: is a Redis store persistent?

    A Redis without RDB snapshots or the AOF forgets every revocation when it
    restarts, so tokens that logout-all refused would pass again. ``store_persistence``
    decides: ``"warn"`` logs ``jwtgate.W002``, ``"require"`` raises
    ``ConfigurationError`` (``jwtgate.E065``), ``"ignore"`` skips the check. A server
    that cannot be asked (unreachable, ``CONFIG`` disabled) is logged, not refused.
    """
    url = settings.store
    if url is None or settings.store_persistence == "ignore":
        return
    if urlsplit(url).scheme not in REDIS_SCHEMES:
        return
    from .stores.redis import persistence

    persistent = persistence(url, timeout=settings.store_housekeeping_timeout)
    if persistent is None:
        logger.info("jwtgate: could not ask the Redis store whether it persists its data")
        return
    if persistent:
        return
    problem = Problem(
        "jwtgate.W002" if settings.store_persistence == "warn" else "jwtgate.E065",
        "STORE",
        "the Redis store keeps nothing on disk (no RDB snapshots, no AOF): a restart "
        "forgets every revocation, and tokens logged out everywhere pass again.",
        "Turn on the AOF (appendonly yes, appendfsync everysec) or RDB snapshots, or set "
        "STORE_PERSISTENCE to 'ignore' if losing revocations on a restart is acceptable.",
    )
    if settings.store_persistence == "require":
        raise ConfigurationError([problem])
    logger.warning("jwtgate: %s", problem)


class RevocationCheck:
    """Asks the store whether a verified identity was revoked; sync and async.

    ``store``/``async_store`` default to the ``store`` setting, opened on first
    use (``memory://`` URLs share one in-process store between both). Each is
    wrapped in the cache layer (:class:`~jwtgate.feed.CachedStore`) with a view
    over that very store's change feed; the two opened from the setting share one
    view. A store given already wrapped is used as it is.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        async_store: AsyncStore | None = None,
    ) -> None:
        self.settings = settings
        self._given = store
        self._given_async = async_store
        self._store: CachedStore | None = None
        self._async_store: AsyncCachedStore | None = None
        self._shared: RevocationView | None = None  # the view of the setting's store
        self._shared_made = False
        self._lock = threading.Lock()
        self._allow = settings.on_store_error == "allow"
        self._last_warning = -WARN_EVERY

    def _open(self, opener: Any) -> Any:
        url = self.settings.store
        if url is None:  # Settings refuse it (E022); a RevocationCheck built by hand may not
            raise StoreUnavailable()
        settings = self.settings
        store = opener(url, prefix=settings.store_key_prefix, timeout=settings.store_timeout)
        return timed(settings, store, url)

    def _view(self, given: object) -> RevocationView | None:
        """A view over the feed of the very store that answers (call with the lock held).

        A feed watching another database would vouch for answers it cannot see change.
        """
        size = self.settings.revocation_cache_size
        interval = self.settings.revocation_poll_interval
        if size == 0:
            return None
        if given is not None:
            make = getattr(given, "change_feed", None)
            feed = make(interval) if make is not None else None
            return (
                RevocationView(feed, size, max_bytes=self.settings.revocation_cache_bytes)
                if feed is not None
                else None
            )
        if not self._shared_made:
            url = self.settings.store
            feed = None
            if url is not None:
                feed = open_feed(
                    url,
                    prefix=self.settings.store_key_prefix,
                    interval=interval,
                    timeout=self.settings.store_housekeeping_timeout,
                )
            self._shared = (
                RevocationView(feed, size, max_bytes=self.settings.revocation_cache_bytes)
                if feed is not None
                else None
            )
            self._shared_made = True
        return self._shared

    def _layer(self, given: Any, opener: Any, layer: Any) -> Any:
        """``given`` (or the setting's store) in ``layer``, the cache class of its kind
        (call with the lock held)."""
        if isinstance(given, layer):
            return given
        if given is not None:
            return layer(given, self._view(given))
        url, prefix = self.settings.store, self.settings.store_key_prefix
        breaker = breaker_for(url, prefix) if url is not None else None
        return layer(self._open(opener), self._view(given), breaker)

    @property
    def store(self) -> CachedStore:
        """The sync store, in the cache layer (opened on first use, without I/O)."""
        with self._lock:
            if self._store is None:
                self._store = self._layer(self._given, open_store, CachedStore)
            return self._store

    @property
    def async_store(self) -> AsyncCachedStore:
        """The async store, in the cache layer (opened on first use, without I/O)."""
        with self._lock:
            if self._async_store is None:
                given = self._given_async
                self._async_store = self._layer(given, open_async_store, AsyncCachedStore)
            return self._async_store

    @property
    def opens_settings_store(self) -> bool:
        """Whether the store is the one the ``store`` setting names (not one given)."""
        return self._given is None and self._given_async is None

    def view(self, sync: bool = True) -> RevocationView | None:
        """The per-process view of answers for the sync or async path (None: no cache)."""
        return self.store.view if sync else self.async_store.view

    def check(self, identity: Identity) -> None:
        """Raise RevokedToken if revoked; on a store failure, deny or allow as configured."""
        if self._answered(self._store, identity):
            return
        try:
            revoked = self.store.is_revoked(*question(identity), token=identity.token)
        except StoreUnavailable as error:
            self._failed(error)
            return
        if revoked:
            raise RevokedToken()

    async def check_async(self, identity: Identity) -> None:
        """Like :meth:`check`, on the async store (never blocks the event loop)."""
        if self._answered(self._async_store, identity):
            return
        try:
            revoked = await self.async_store.is_revoked(*question(identity), token=identity.token)
        except StoreUnavailable as error:
            self._failed(error)
            return
        if revoked:
            raise RevokedToken()

    def _answered(self, store: CachedStore | AsyncCachedStore | None, identity: Identity) -> bool:
        """Whether the per-process view knows the answer (raising if revoked), so the
        store is not asked."""
        view = store.view if store is not None else None
        token = identity.token
        if view is not None and token is not None:
            answer = view.lookup(token)  # the hot path: one dict lookup
            if answer is not None:
                if answer:
                    raise RevokedToken()
                return True
        return False

    @property
    def broken(self) -> bool:
        """Whether the store's circuit breaker is open (see :mod:`jwtgate._breaker`): it
        failed, and requests get on_store_error's answer without asking it."""
        layers = (self._store, self._async_store)
        return any(layer is not None and layer.breaker.open for layer in layers)

    def cleared(self, identity: Identity, *, sync: bool) -> bool:
        """Whether the per-process view already vouches that ``identity`` is not revoked.

        A dict lookup, never I/O: False means "not known here" (or revoked), and
        the caller then takes the full path (:meth:`check` or :meth:`check_async`).
        """
        store = self._store if sync else self._async_store
        view = store.view if store is not None else None
        return (
            view is not None and identity.token is not None and view.lookup(identity.token) is False
        )

    def _failed(self, error: StoreUnavailable) -> None:
        if not self._allow:
            raise error
        now = time.monotonic()
        if now - self._last_warning >= WARN_EVERY:
            self._last_warning = now
            logger.warning(
                "jwtgate: revocation store unavailable; letting requests through "
                "unchecked (on_store_error='allow')"
            )

    def _close_views(self) -> None:
        """Stop the feeds of the views made here (not those of a store given wrapped)."""
        with self._lock:
            layers = [(self._store, self._given), (self._async_store, self._given_async)]
        for layer, given in layers:
            if layer is not None and layer is not given and layer.view is not None:
                layer.view.close()

    def close(self) -> None:
        """Close the sync store if it was opened here, and stop the change feeds."""
        self._close_views()
        with self._lock:
            layer, self._store = self._store, None
        if layer is not None and self._given is None:
            layer.store.close()

    async def aclose(self) -> None:
        """Close the async store if it was opened here (from the loop that used it)."""
        await anyio.to_thread.run_sync(self._close_views)
        with self._lock:
            layer, self._async_store = self._async_store, None
        if layer is not None and self._given_async is None:
            await layer.store.aclose()
