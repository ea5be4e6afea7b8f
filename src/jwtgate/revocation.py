"""Revocation-aware access: the store lookup the Gate makes after verification.

With ``check_revocation: true``, every verified access token costs exactly one
store call (:meth:`~jwtgate.stores.Store.is_revoked`: one SQL statement, or one
Redis script in the subject's hash slot). It refuses, at once and on every
instance sharing the store, the tokens of:

- a revoked session (its ``sid`` family is gone: logout, reuse, expiry);
- a revoked ``jti``;
- a subject logged out everywhere (sessions created, or sessionless tokens
  issued, before the subject's logout-all mark).

Nothing is cached. A cached "not revoked" answer would let a logged-out token
through for as long as the cache lives, on every instance, which is exactly
the weakness this layer exists to close; the lookup is cheap instead. (A
"revoked" answer could be cached forever, but only an attacker replaying dead
tokens would benefit.) Clocks: logout-all compares the time of the logout with
token and session times from other machines, so keep servers NTP-synced.

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

from .config import Settings
from .errors import RevokedToken, StoreUnavailable
from .identity import Identity
from .sessions import session_id
from .stores import AsyncStore, Store, open_async_store, open_store

__all__ = ["RevocationCheck", "question"]

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

    def check(self, identity: Identity) -> None:
        """Raise RevokedToken if revoked; on a store failure, deny or allow as configured."""
        try:
            revoked = self.store.is_revoked(*question(identity))
        except StoreUnavailable as error:
            self._failed(error)
            return
        if revoked:
            raise RevokedToken()

    async def check_async(self, identity: Identity) -> None:
        """Like :meth:`check`, on the async store (never blocks the event loop)."""
        try:
            revoked = await self.async_store.is_revoked(*question(identity))
        except StoreUnavailable as error:
            self._failed(error)
            return
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

    def close(self) -> None:
        """Close the sync store if it was opened here."""
        with self._lock:
            store, self._store = self._store, None
        if store is not None and self._owns[0]:
            store.close()

    async def aclose(self) -> None:
        """Close the async store if it was opened here (from the loop that used it)."""
        with self._lock:
            store, self._async_store = self._async_store, None
        if store is not None and self._owns[1]:
            await store.aclose()
