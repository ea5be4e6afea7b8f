"""An :class:`~jwtgate.stores.AsyncStore` made from a sync one.

Blocking backends (SQLite) run each call in a worker thread through
``anyio.to_thread``, so the event loop never waits on disk or a lock; the memory
store does no I/O and is called inline.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from ._base import AsyncContext
from ._contract import Rotation, SessionInfo, Store
from ._feed import ChangeFeed

__all__ = ["SyncToAsync", "ThreadedAsyncStore"]

T = TypeVar("T")


class SyncToAsync(AsyncContext):
    """Awaitable twins of a sync store's operations."""

    def __init__(self, store: Store, *, threaded: bool = True) -> None:
        self.sync = store
        self._threaded = threaded

    def change_feed(self, interval: float) -> ChangeFeed | None:
        """The wrapped store's change feed, if it has one."""
        make = getattr(self.sync, "change_feed", None)
        return make(interval) if make is not None else None

    async def _call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if not self._threaded:
            return method(*args, **kwargs)
        return await anyio.to_thread.run_sync(functools.partial(method, *args, **kwargs))

    async def create_session(
        self,
        subject: str,
        sid: str,
        jti: str,
        *,
        now: float,
        ttl: float,
        client: Mapping[str, str] | None = None,
    ) -> None:
        """See :meth:`jwtgate.stores.Store.create_session`."""
        create = self.sync.create_session
        await self._call(create, subject, sid, jti, now=now, ttl=ttl, client=client)

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
        """See :meth:`jwtgate.stores.Store.rotate`."""
        return await self._call(
            self.sync.rotate,
            subject,
            sid,
            presented,
            new,
            now=now,
            grace=grace,
            ttl=ttl,
            deadline=deadline,
        )

    async def revoke_session(self, subject: str, sid: str) -> bool:
        """See :meth:`jwtgate.stores.Store.revoke_session`."""
        return await self._call(self.sync.revoke_session, subject, sid)

    async def revoke_jti(self, subject: str, jti: str, *, ttl: float) -> None:
        """See :meth:`jwtgate.stores.Store.revoke_jti`."""
        await self._call(self.sync.revoke_jti, subject, jti, ttl=ttl)

    async def revoke_subject(self, subject: str, *, at: float, ttl: float) -> None:
        """See :meth:`jwtgate.stores.Store.revoke_subject`."""
        await self._call(self.sync.revoke_subject, subject, at=at, ttl=ttl)

    async def is_revoked(
        self, subject: str, sid: str | None, jti: str | None, issued_at: float | None
    ) -> bool:
        """See :meth:`jwtgate.stores.Store.is_revoked`."""
        return await self._call(self.sync.is_revoked, subject, sid, jti, issued_at)

    async def list_sessions(self, subject: str) -> list[SessionInfo]:
        """See :meth:`jwtgate.stores.Store.list_sessions`."""
        return await self._call(self.sync.list_sessions, subject)

    async def session_subject(self, sid: str) -> str | None:
        """See :meth:`jwtgate.stores.Store.session_subject`."""
        return await self._call(self.sync.session_subject, sid)

    async def claim_once(self, key: str, ttl: float) -> bool:
        """See :meth:`jwtgate.stores.Store.claim_once` (an optional method)."""
        claim: Callable[[str, float], bool] = self.sync.claim_once  # type: ignore[attr-defined]
        return await self._call(claim, key, ttl)

    async def purge_expired(self) -> int:
        """See :meth:`jwtgate.stores.Store.purge_expired`."""
        return await self._call(self.sync.purge_expired)

    async def aclose(self) -> None:
        """Close the wrapped store (shielded: a cancelled shutdown still closes it)."""
        with anyio.CancelScope(shield=True):
            await self._call(self.sync.close)


ThreadedAsyncStore = SyncToAsync
