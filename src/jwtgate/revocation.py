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
dict lookup. ``revocation_cache_size: 0``, the memory store (in-process
already) and injected stores without a ``change_feed`` ask the store on every
request. Clocks: logout-all compares the time of the logout with token and
session times from other machines, so keep servers NTP-synced.

When the store cannot answer, ``on_store_error`` decides: ``deny`` (default)
answers 503 with ``Retry-After``; ``allow`` lets the request through and logs a
warning (at most every ``WARN_EVERY`` seconds). The stores reconnect by
themselves, so service resumes without a restart.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

import anyio.to_thread

from .config import Settings
from .errors import ConfigurationError, Problem, RevokedToken, StoreUnavailable
from .feed import RevocationView
from .identity import Identity
from .sessions import session_id
from .stores import AsyncStore, Store, open_async_store, open_feed, open_store

__all__ = ["RevocationCheck", "check_persistence", "question"]

logger = logging.getLogger("jwtgate")

WARN_EVERY = 10.0
# The circuit breaker: after a store failure, answer from on_store_error at once for
# BREAK_MIN seconds, doubling on each failed probe up to BREAK_MAX.
BREAK_MIN = 0.5
BREAK_MAX = 15.0
_ANSWERED = -1  # generations count up from 0


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
    if not url.startswith(("redis://", "rediss://")):
        return
    from .stores.redis import persistence

    persistent = persistence(url)
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
    use (``memory://`` URLs share one in-process store between both).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        async_store: AsyncStore | None = None,
    ) -> None:
        self.settings = settings
        self._store = store
        self._async_store = async_store
        self._owns = (store is None, async_store is None)
        self._lock = threading.Lock()
        self._allow = settings.on_store_error == "allow"
        self._last_warning = -WARN_EVERY
        self._views: dict[int, RevocationView | None] = {}
        self._broken_until = -math.inf  # time.monotonic(); the breaker is open until then
        self._break = 0.0

    def _open(self, opener: Any) -> Any:
        url = self.settings.store
        if url is None:  # Settings refuse it (E022); a RevocationCheck built by hand may not
            raise StoreUnavailable()
        return opener(url, prefix=self.settings.store_key_prefix)

    @property
    def store(self) -> Store:
        """The sync store (opened on first use)."""
        with self._lock:
            if self._store is None:
                self._store = self._open(open_store)
            return self._store

    @property
    def async_store(self) -> AsyncStore:
        """The async store (opened on first use, without I/O)."""
        with self._lock:
            if self._async_store is None:
                self._async_store = self._open(open_async_store)
            return self._async_store

    def view(self, sync: bool = True) -> RevocationView | None:
        """The per-process view of answers for the sync or async path (None: no cache)."""
        index = 0 if sync else 1
        if index not in self._views:
            with self._lock:
                if index not in self._views:
                    self._views[index] = self._make_view(index)
        return self._views[index]

    def _make_view(self, index: int) -> RevocationView | None:
        # Only a feed for the very store that answers: a feed watching another
        # database would vouch for answers it cannot see change.
        size = self.settings.revocation_cache_size
        if size == 0:
            return None
        interval = self.settings.revocation_poll_interval
        if self._owns[index]:
            other = self._views.get(1 - index)
            if self._owns[1 - index] and other is not None:
                return other  # both paths use the store of the URL: one feed
            url = self.settings.store
            feed = None
            if url is not None:
                feed = open_feed(url, prefix=self.settings.store_key_prefix, interval=interval)
        else:
            injected = self._store if index == 0 else self._async_store
            make = getattr(injected, "change_feed", None)
            feed = make(interval) if make is not None else None
        return RevocationView(feed, size) if feed is not None else None

    def check(self, identity: Identity) -> None:
        """Raise RevokedToken if revoked; on a store failure, deny or allow as configured."""
        view, generation = self._ask_view(0, identity.token)
        if generation == _ANSWERED:
            return
        if self._breaker_open():
            self._failed(StoreUnavailable())
            return
        try:
            revoked = self.store.is_revoked(*question(identity))
        except StoreUnavailable as error:
            self._trip()
            self._failed(error)
            return
        self._break = 0.0
        self._settle(view, identity.token, generation, revoked)

    async def check_async(self, identity: Identity) -> None:
        """Like :meth:`check`, on the async store (never blocks the event loop)."""
        view, generation = self._ask_view(1, identity.token)
        if generation == _ANSWERED:
            return
        if self._breaker_open():
            self._failed(StoreUnavailable())
            return
        try:
            revoked = await self.async_store.is_revoked(*question(identity))
        except StoreUnavailable as error:
            self._trip()
            self._failed(error)
            return
        self._break = 0.0
        self._settle(view, identity.token, generation, revoked)

    # -- the circuit breaker -----------------------------------------------------
    # A store that failed is not asked again for a short, growing while: requests
    # get on_store_error's answer at once (a 503 in microseconds under deny), so a
    # hung store cannot tie up every worker for a socket timeout per request. The
    # first request after the pause probes it; success closes the breaker.

    def _breaker_open(self) -> bool:
        return time.monotonic() < self._broken_until

    def _trip(self) -> None:
        self._break = min(BREAK_MAX, max(BREAK_MIN, self._break * 2))
        self._broken_until = time.monotonic() + self._break
        logger.warning(
            "jwtgate: revocation store failing; answering from on_store_error for %.1fs",
            self._break,
        )

    @property
    def broken(self) -> bool:
        """Whether the breaker is open: the store failed and is not asked right now."""
        return self._breaker_open()

    def cleared(self, identity: Identity, *, sync: bool) -> bool:
        """Whether the per-process view already vouches that ``identity`` is not revoked.

        A dict lookup, never I/O: False means "not known here" (or revoked), and
        the caller then takes the full path (:meth:`check` or :meth:`check_async`).
        """
        view = self._views.get(0 if sync else 1)
        return (
            view is not None and identity.token is not None and view.lookup(identity.token) is False
        )

    def _ask_view(self, index: int, token: str | None) -> tuple[RevocationView | None, int]:
        """The view's answer (raise if revoked; ``_ANSWERED`` if not), else what to remember."""
        view = self._views[index] if index in self._views else self.view(index == 0)
        if view is None or token is None:
            return None, 0
        answer = view.lookup(token)
        if answer is None:
            return view, view.begin()
        if answer:
            raise RevokedToken()
        return None, _ANSWERED

    @staticmethod
    def _settle(
        view: RevocationView | None, token: str | None, generation: int, revoked: bool
    ) -> None:
        if view is not None and token is not None:
            view.remember(token, generation, revoked)
        if revoked:
            raise RevokedToken()

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
        with self._lock:
            views, self._views = set(self._views.values()), {}
        for view in views:
            if view is not None:
                view.close()

    def close(self) -> None:
        """Close the sync store if it was opened here, and stop the change feed."""
        self._close_views()
        with self._lock:
            store, self._store = self._store, None
        if store is not None and self._owns[0]:
            store.close()

    async def aclose(self) -> None:
        """Close the async store if it was opened here (from the loop that used it)."""
        await anyio.to_thread.run_sync(self._close_views)
        with self._lock:
            store, self._async_store = self._async_store, None
        if store is not None and self._owns[1]:
            await store.aclose()
