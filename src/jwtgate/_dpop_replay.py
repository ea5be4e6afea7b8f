"""DPoP replay prevention (RFC 9449 §11.1): each proof is accepted once.

A proof's ``jti`` (with its key's thumbprint) is claimed in the configured store
with the optional store method ``claim_once(key, ttl) -> bool`` for as long as the
proof could pass the ``iat`` window; a second claim of the same key fails. Without
a ``store`` the process's memory store is used (one process only: with several
workers, configure a shared store).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._breaker import breaker_for
from .stores import open_async_store, open_store
from .stores.memory import memory_store
from .telemetry import timed

if TYPE_CHECKING:
    from .config import Settings
    from .revocation import RevocationCheck

__all__ = ["ReplayGuard", "replay_key"]

logger = logging.getLogger("jwtgate")


def replay_key(jkt: str, jti: str) -> str:
    """The store key of one proof: fixed length whatever the client sent."""
    return "dpop:" + hashlib.sha256(f"{jkt}\x00{jti}".encode()).hexdigest()


class ReplayGuard:
    """Claims proof keys in the store at ``url`` (None: this process's memory)."""

    def __init__(
        self,
        url: str | None,
        *,
        prefix: str = "jwtgate:",
        timeout: float = 2.0,
        instrument: Callable[[Any, str], Any] | None = None,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.timeout = timeout  # the store_timeout setting: a claim is on the request path
        self._instrument = instrument  # times the store's calls when telemetry is on
        # The memory store answers at once: a Gate using it never waits on I/O.
        self.in_process = url is None or url.startswith("memory:")
        self._breaker = breaker_for(url or "memory://", prefix)
        self._store: Any = None
        self._async_store: Any = None
        self._revocation: RevocationCheck | None = None

    @classmethod
    def of(cls, settings: Settings, revocation: RevocationCheck | None = None) -> ReplayGuard:
        """The guard of ``settings``: its store, key prefix, timeout and telemetry.

        With the Gate's ``revocation`` check on the same store, proofs are claimed
        through the store object it opened (one connection pool per process, not two).
        """
        guard = cls(
            settings.store,
            prefix=settings.store_key_prefix,
            timeout=settings.store_timeout,
            instrument=lambda store, url: timed(settings, store, url),
        )
        if revocation is not None and revocation.opens_settings_store and not guard.in_process:
            guard._revocation = revocation
        return guard

    def _stamped(self, store: Any) -> Any:
        if self._instrument is None:
            return store
        return self._instrument(store, self.url or "memory://")

    def _sync(self) -> Any:
        if self._store is None:
            if self._revocation is not None:
                store = self._revocation.store.store  # timed already, closed by its owner
            elif self.url is None:
                store = memory_store()
            else:
                store = self._stamped(
                    open_store(self.url, prefix=self.prefix, timeout=self.timeout)
                )
            if not callable(getattr(store, "claim_once", None)):
                logger.warning(
                    "jwtgate: the store has no claim_once; DPoP proofs are remembered in "
                    "this process only"
                )
                store = memory_store()
            self._store = store
        return self._store

    def claim(self, key: str, ttl: float) -> bool:
        """True the first time ``key`` is claimed within ``ttl`` seconds, then False.

        Behind the store's circuit breaker (:mod:`jwtgate._breaker`), shared with the
        revocation check and ``Sessions``: once the store failed, a claim fails at once
        (``StoreUnavailable``, 503) instead of waiting ``store_timeout`` again.
        """
        if self.in_process:
            return bool(self._sync().claim_once(key, ttl))
        with self._breaker:
            return bool(self._sync().claim_once(key, ttl))

    async def claim_async(self, key: str, ttl: float) -> bool:
        """:meth:`claim` without blocking the event loop."""
        if self.in_process:
            return self.claim(key, ttl)
        if self._async_store is None:
            self._async_store = (
                self._revocation.async_store.store
                if self._revocation is not None
                else self._stamped(
                    open_async_store(
                        self.url or "memory://", prefix=self.prefix, timeout=self.timeout
                    )
                )
            )
        claim = getattr(self._async_store, "claim_once", None)
        if claim is None:
            return self.claim(key, ttl)
        with self._breaker:
            return bool(await claim(key, ttl))

    def close(self) -> None:
        """Close the store this guard opened (never the shared memory store, nor the
        revocation check's)."""
        store, self._store = self._store, None
        if store is not None and not self.in_process and self._revocation is None:
            store.close()

    async def aclose(self) -> None:
        """Close both stores this guard opened."""
        store, self._async_store = self._async_store, None
        if store is not None and self._revocation is None:
            await store.aclose()
        self.close()
