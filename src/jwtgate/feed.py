"""Revocation at cached speed: a layer over a store that remembers its answers.

With ``check_revocation: true`` every verified request asks the store whether the
token was revoked. :class:`CachedStore` (and :class:`AsyncCachedStore`) wraps a
store and keeps those answers in a :class:`RevocationView`, per token, so the hot
path is a dict lookup instead of a store round trip. The stores know nothing of
this layer; what they offer is a way to tell that they changed, a
:class:`ChangeFeed` (``change_feed(interval)``, ``jwtgate.stores.open_feed``):
one background thread per process,

- **SQLite**: ``PRAGMA data_version`` on a connection of its own, every
  ``revocation_poll_interval`` seconds (it changes whenever any other connection,
  in this or another process, commits);
- **Redis**: every revoking write increments a counter and publishes on a
  channel; the feed thread is subscribed (a change arrives within milliseconds)
  and also reads the counter every ``revocation_poll_interval`` (a lost message
  or a silently dead subscription cannot stretch the delay).

The bound: an answer is served from the view only while the feed's last poll
*started* less than twice ``revocation_poll_interval`` ago, and only if no change
was seen since it was fetched, so a revocation committed anywhere is honoured by
every process within that bound (100 ms by default), or sooner. Within one
process, at once: every revoking write made *through the layer* (a
:class:`CachedStore`, with or without a view of its own: ``Sessions`` wraps the
stores it opens in one) tells every view in the process (:func:`local_change`)
before it returns. When the feed cannot poll (the store is down, the thread
stalls, the process forked), answers go stale on that same deadline and every
request asks the store directly again, where ``on_store_error`` applies; on
recovery the view starts empty. Answers also expire after :data:`ANSWER_MAX_AGE`
seconds, which covers changes no write announces (a session family reaching its
expiry time). Every deadline is read on the feed's ``clock`` (``time.monotonic``
unless given), so tests drive a view without sleeping.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio.to_thread

from ._breaker import Breaker
from ._cache import LRU
from .stores._base import AsyncContext, SyncContext
from .stores._contract import AsyncStore, SessionInfo, Store
from .stores._feed import ChangeFeed

if TYPE_CHECKING:
    from .stores import Rotation

StoreT = TypeVar("StoreT", Store, AsyncStore)

__all__ = [
    "ANSWER_MAX_AGE",
    "AsyncCachedStore",
    "CachedStore",
    "ChangeFeed",
    "RevocationView",
    "local_change",
]

ANSWER_MAX_AGE = 5.0
# Rotation outcomes that revoke a family (a plain rotation changes no answer).
_REVOKING = frozenset({"reused", "revoked"})
# The feeds of this process's views: a write through the layer bumps them all. A
# local revoking write is rare (logout, reuse), so telling every view, instead of
# working out which ones watch the store written to, costs a store call per token
# at worst and needs no notion of store identity.
_feeds: weakref.WeakSet[ChangeFeed] = weakref.WeakSet()
_feeds_lock = threading.Lock()


def local_change() -> None:
    """Tell every revocation view in this process that a revoking write was just made.

    :class:`CachedStore` calls it after each revoking write; call it yourself
    after writing through a store you did not wrap, if a Gate in the same
    process must refuse the token on its very next request.
    """
    with _feeds_lock:
        feeds = list(_feeds)
    for feed in feeds:
        feed.changed()


class RevocationView:
    """Revocation answers per token, valid while ``feed`` vouches for them.

    Deadlines are read on ``feed.clock``; ``max_age`` bounds any one answer. At most
    ``size`` answers, and with ``max_bytes`` about that many bytes (tokens are the
    keys, and may be 8 KB each).
    """

    def __init__(
        self,
        feed: ChangeFeed,
        size: int,
        *,
        max_age: float = ANSWER_MAX_AGE,
        max_bytes: int | None = None,
    ) -> None:
        self.feed = feed
        self.max_age = max_age
        self._clock = feed.clock
        self._answers: LRU[Hashable, tuple[int, float, bool]] = LRU(size, max_bytes)
        with _feeds_lock:
            _feeds.add(feed)
        # A Gate dropped without close() must not leave its thread polling forever.
        weakref.finalize(self, feed.stop_soon)

    def lookup(self, key: Hashable) -> bool | None:
        """The remembered answer (True: revoked), or None: ask the store."""
        feed = self.feed
        now = self._clock()
        if now >= feed.fresh_until:
            return None
        entry = self._answers.get(key)
        if entry is None or entry[0] != feed.generation or now - entry[1] >= self.max_age:
            return None
        return entry[2]

    def begin(self) -> int:
        """Before asking the store: the generation the answer will belong to."""
        self.feed.ensure_running()
        return self.feed.generation

    def ask(self, key: Hashable) -> tuple[bool | None, int]:
        """The remembered answer, or None and what :meth:`remember` wants after the store's."""
        answer = self.lookup(key)
        return answer, (self.begin() if answer is None else self.feed.generation)

    def remember(self, key: Hashable, generation: int, revoked: bool) -> None:
        """Keep the store's answer, unless the store changed while it was asked."""
        feed = self.feed
        if generation == feed.generation and feed.live:
            self._answers.put(key, (generation, self._clock(), revoked))

    def __len__(self) -> int:
        return len(self._answers)

    def close(self) -> None:
        """Stop the feed."""
        self.feed.close()


class _Layer(Generic[StoreT]):
    """What both cache layers share: the store, the view, and how an answer is
    recalled from the view or kept in it."""

    def __init__(
        self, store: StoreT, view: RevocationView | None = None, breaker: Breaker | None = None
    ) -> None:
        self.store: StoreT = store
        self.view = view
        self.breaker = breaker if breaker is not None else Breaker()

    def _recall(self, token: str | None) -> tuple[bool | None, int]:
        """The view's answer for ``token`` (None: ask the store), and the generation
        to keep the store's answer under (-1: do not keep it)."""
        view = self.view
        if view is None or token is None:
            return None, -1
        return view.ask(token)

    def _keep(self, token: str | None, generation: int, revoked: bool) -> bool:
        if generation >= 0 and self.view is not None and token is not None:
            self.view.remember(token, generation, revoked)
        return revoked


class CachedStore(_Layer[Store], SyncContext):
    """A :class:`~jwtgate.stores.Store` whose revocation answers ``view`` remembers.

    ``is_revoked(..., token=t)`` answers from the view when it can and remembers
    the store's answer under ``t`` otherwise; every other call goes to ``store``
    as it is, and a revoking write is announced to every view in the process
    (:func:`local_change`) once it returns or fails. Without a view nothing is
    remembered, but writes are still announced: wrap a store that writes
    (``Sessions`` does) so that a Gate in the same process sees them at once.
    """

    def is_revoked(
        self,
        subject: str,
        sid: str | None,
        jti: str | None,
        issued_at: float | None,
        *,
        token: str | None = None,
    ) -> bool:
        """See :meth:`jwtgate.stores.Store.is_revoked`; ``token``: the token asked about."""
        answer, generation = self._recall(token)
        if answer is not None:
            return answer
        with self.breaker:
            revoked = self.store.is_revoked(subject, sid, jti, issued_at)
        return self._keep(token, generation, revoked)

    def create_session(self, subject: str, sid: str, jti: str, **options: Any) -> None:
        """See :meth:`jwtgate.stores.Store.create_session` (a new family revokes nothing)."""
        with self.breaker:
            self.store.create_session(subject, sid, jti, **options)

    def rotate(self, subject: str, sid: str, presented: str, new: str, **options: Any) -> Rotation:
        """See :meth:`jwtgate.stores.Store.rotate`; announced when it revokes (or fails)."""
        with self.breaker, _announcing() as rotation:
            rotation.outcome = self.store.rotate(subject, sid, presented, new, **options)
        return rotation.outcome

    def revoke_session(self, subject: str, sid: str) -> bool:
        """See :meth:`jwtgate.stores.Store.revoke_session`."""
        with self.breaker, _announcing():
            return self.store.revoke_session(subject, sid)

    def revoke_jti(self, subject: str, jti: str, **options: Any) -> None:
        """See :meth:`jwtgate.stores.Store.revoke_jti`."""
        with self.breaker, _announcing():
            self.store.revoke_jti(subject, jti, **options)

    def revoke_subject(self, subject: str, **options: Any) -> None:
        """See :meth:`jwtgate.stores.Store.revoke_subject`."""
        with self.breaker, _announcing():
            self.store.revoke_subject(subject, **options)

    def list_sessions(self, subject: str) -> list[SessionInfo]:
        """See :meth:`jwtgate.stores.Store.list_sessions` (never cached)."""
        with self.breaker:
            return self.store.list_sessions(subject)

    def session_subject(self, sid: str) -> str | None:
        """See :meth:`jwtgate.stores.Store.session_subject`."""
        with self.breaker:
            return self.store.session_subject(sid)

    def purge_expired(self) -> int:
        """See :meth:`jwtgate.stores.Store.purge_expired` (expired entries answer nothing)."""
        with self.breaker:
            return self.store.purge_expired()

    def close(self) -> None:
        """Stop the view's feed and close the store."""
        if self.view is not None:
            self.view.close()
        self.store.close()


class AsyncCachedStore(_Layer[AsyncStore], AsyncContext):
    """The async twin of :class:`CachedStore`, over an :class:`~jwtgate.stores.AsyncStore`.

    The view is the same kind (a lookup never waits), so one view may serve both.
    """

    async def is_revoked(
        self,
        subject: str,
        sid: str | None,
        jti: str | None,
        issued_at: float | None,
        *,
        token: str | None = None,
    ) -> bool:
        """See :meth:`CachedStore.is_revoked`."""
        answer, generation = self._recall(token)
        if answer is not None:
            return answer
        with self.breaker:
            revoked = await self.store.is_revoked(subject, sid, jti, issued_at)
        return self._keep(token, generation, revoked)

    async def create_session(self, subject: str, sid: str, jti: str, **options: Any) -> None:
        """See :meth:`CachedStore.create_session`."""
        with self.breaker:
            await self.store.create_session(subject, sid, jti, **options)

    async def rotate(
        self, subject: str, sid: str, presented: str, new: str, **options: Any
    ) -> Rotation:
        """See :meth:`CachedStore.rotate`."""
        with self.breaker, _announcing() as rotation:
            rotation.outcome = await self.store.rotate(subject, sid, presented, new, **options)
        return rotation.outcome

    async def revoke_session(self, subject: str, sid: str) -> bool:
        """See :meth:`jwtgate.stores.Store.revoke_session`."""
        with self.breaker, _announcing():
            return await self.store.revoke_session(subject, sid)

    async def revoke_jti(self, subject: str, jti: str, **options: Any) -> None:
        """See :meth:`jwtgate.stores.Store.revoke_jti`."""
        with self.breaker, _announcing():
            await self.store.revoke_jti(subject, jti, **options)

    async def revoke_subject(self, subject: str, **options: Any) -> None:
        """See :meth:`jwtgate.stores.Store.revoke_subject`."""
        with self.breaker, _announcing():
            await self.store.revoke_subject(subject, **options)

    async def list_sessions(self, subject: str) -> list[SessionInfo]:
        """See :meth:`jwtgate.stores.Store.list_sessions` (never cached)."""
        with self.breaker:
            return await self.store.list_sessions(subject)

    async def session_subject(self, sid: str) -> str | None:
        """See :meth:`jwtgate.stores.Store.session_subject`."""
        with self.breaker:
            return await self.store.session_subject(sid)

    async def purge_expired(self) -> int:
        """See :meth:`jwtgate.stores.Store.purge_expired`."""
        with self.breaker:
            return await self.store.purge_expired()

    async def aclose(self) -> None:
        """Stop the view's feed (off the loop: it joins a thread) and close the store."""
        if self.view is not None:
            await anyio.to_thread.run_sync(self.view.close)
        await self.store.aclose()


class _Write:
    """What :func:`_announcing` needs to know of a rotation: whether it revoked."""

    outcome: Rotation | None = None


@contextmanager
def _announcing() -> Iterator[_Write]:
    """Announce the write in the block (:func:`local_change`) once it is done.

    Also when it fails: a write that timed out may have been applied all the
    same. A rotation is announced only when it revoked its family (a plain
    rotation changes no answer).
    """
    write = _Write()
    try:
        yield write
    except BaseException:
        local_change()
        raise
    if write.outcome is None or write.outcome.outcome in _REVOKING:
        local_change()
