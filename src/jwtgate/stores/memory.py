"""The in-process store: dicts, a lock, ``time.monotonic`` deadlines.

Everything lives in one process and is lost when it exits: use it for tests and
single-process development servers, never behind several workers (each worker
would see its own sessions). ``memory://name`` names a store shared by every
user in the process that opens the same URL (``memory://`` is the default one),
so a Gate and a Sessions object configured with one ``store`` URL agree.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from ._base import FamilyRow, SyncContext, decide, is_late, listed, revoked
from ._contract import Rotation, SessionInfo, client_record
from ._feed import ChangeFeed
from .threaded import SyncToAsync

__all__ = ["AsyncMemoryStore", "MemoryFeed", "MemoryStore", "memory_store"]

_registry: dict[str, MemoryStore] = {}
_registry_lock = threading.Lock()


def memory_store(url: str = "memory://") -> MemoryStore:
    """The process-wide memory store named by ``url`` (created on first use)."""
    parts = urlsplit(url)
    name = parts.netloc + parts.path
    with _registry_lock:
        store = _registry.get(name)
        if store is None:
            store = _registry[name] = MemoryStore(name=name)
        return store


class MemoryStore(SyncContext):
    """A :class:`~jwtgate.stores.Store` in this process's memory."""

    def __init__(
        self,
        *,
        name: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ):
        self.name = name
        self._clock = clock  # expiry
        self._wall = wall  # compared with a caller's deadline
        self._lock = threading.Lock()
        self._families: dict[str, tuple[FamilyRow, float]] = {}
        self._sids: dict[str, set[str]] = {}  # subject -> its session ids (pruned lazily)
        self._jtis: dict[tuple[str, str], float] = {}
        self._subjects: dict[str, tuple[float, float]] = {}
        self._claims: dict[str, float] = {}  # claim_once: key -> deadline
        self._claims_pruned = clock()
        self._feeds: weakref.WeakSet[MemoryFeed] = weakref.WeakSet()

    def change_feed(self, interval: float) -> MemoryFeed:
        """A feed this store tells of each revoking write itself (no thread, no polling)."""
        feed = MemoryFeed(interval)
        self._feeds.add(feed)
        return feed

    def _changed(self) -> None:
        for feed in list(self._feeds):
            feed.changed()

    # -- helpers (call with the lock held) ---------------------------------------

    def _family(self, subject: str, sid: str, now: float) -> FamilyRow | None:
        entry = self._families.get(sid)
        if entry is None:
            return None
        family, deadline = entry
        if deadline <= now:
            self._forget(family.subject, sid)
            return None
        return family if family.subject == subject else None

    def _forget(self, subject: str, sid: str) -> None:
        del self._families[sid]
        sids = self._sids.get(subject)
        if sids is not None:
            sids.discard(sid)
            if not sids:
                del self._sids[subject]

    def _logout_at(self, subject: str, now: float) -> float | None:
        entry = self._subjects.get(subject)
        if entry is None:
            return None
        if entry[1] <= now:
            del self._subjects[subject]
            return None
        return entry[0]

    # -- the protocol ---------------------------------------------------------------

    def create_session(
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
        with self._lock:
            row = FamilyRow(subject, jti, None, None, now, ends=now + ttl)
            row.client = client_record(client)
            self._families[sid] = (row, self._clock() + ttl)
            self._sids.setdefault(subject, set()).add(sid)

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
        """See :meth:`jwtgate.stores.Store.rotate`."""
        with self._lock:
            mono = self._clock()
            family = self._family(subject, sid, mono)
            late = is_late(deadline, self._wall())
            logout_at = self._logout_at(subject, mono)
            result, keep = decide(family, logout_at, presented, new, now, grace, late, ttl)
            if keep is None and family is not None:
                self._forget(subject, sid)
                self._changed()
            elif keep is not None and result.outcome == "rotated":
                self._families[sid] = (keep, mono + ttl)
            return result

    def revoke_session(self, subject: str, sid: str) -> bool:
        """See :meth:`jwtgate.stores.Store.revoke_session`."""
        with self._lock:
            if self._family(subject, sid, self._clock()) is None:
                return False
            self._forget(subject, sid)
            self._changed()
            return True

    def revoke_jti(self, subject: str, jti: str, *, ttl: float) -> None:
        """See :meth:`jwtgate.stores.Store.revoke_jti`."""
        with self._lock:
            deadline = self._clock() + ttl
            key = (subject, jti)
            self._jtis[key] = max(deadline, self._jtis.get(key, deadline))
            self._changed()

    def revoke_subject(self, subject: str, *, at: float, ttl: float) -> None:
        """See :meth:`jwtgate.stores.Store.revoke_subject`."""
        with self._lock:
            mono = self._clock()
            old_at = self._logout_at(subject, mono)
            old_deadline = self._subjects[subject][1] if old_at is not None else 0.0
            self._subjects[subject] = (
                max(at, old_at if old_at is not None else at),
                max(mono + ttl, old_deadline),
            )
            self._changed()

    def is_revoked(
        self, subject: str, sid: str | None, jti: str | None, issued_at: float | None
    ) -> bool:
        """See :meth:`jwtgate.stores.Store.is_revoked`."""
        with self._lock:
            mono = self._clock()
            jti_revoked = False
            if jti is not None:
                deadline = self._jtis.get((subject, jti))
                jti_revoked = deadline is not None and deadline > mono
            family = self._family(subject, sid, mono) if sid is not None else None
            return revoked(family, jti_revoked, self._logout_at(subject, mono), sid, issued_at)

    def list_sessions(self, subject: str) -> list[SessionInfo]:
        """See :meth:`jwtgate.stores.Store.list_sessions`."""
        with self._lock:
            mono = self._clock()
            sids = sorted(self._sids.get(subject, ()))  # a copy: _family prunes the index
            families = [(sid, self._family(subject, sid, mono)) for sid in sids]
            alive = [(sid, family) for sid, family in families if family is not None]
            return listed(alive, self._logout_at(subject, mono))

    def session_subject(self, sid: str) -> str | None:
        """See :meth:`jwtgate.stores.Store.session_subject`."""
        with self._lock:
            entry = self._families.get(sid)
            if entry is None:
                return None
            mono = self._clock()
            family = self._family(entry[0].subject, sid, mono)
            if family is None:
                return None
            logout_at = self._logout_at(family.subject, mono)
            return family.subject if listed([(sid, family)], logout_at) else None

    def claim_once(self, key: str, ttl: float) -> bool:
        """See :meth:`jwtgate.stores.Store.claim_once`."""
        with self._lock:
            now = self._clock()
            # Expired claims go at most once a second: a flood of proofs stays bounded
            # by what arrives within their lifetime.
            if now - self._claims_pruned >= 1.0:
                self._claims = {k: d for k, d in self._claims.items() if d > now}
                self._claims_pruned = now
            deadline = self._claims.get(key)
            if deadline is not None and deadline > now:
                return False
            self._claims[key] = now + ttl
            return True

    def purge_expired(self) -> int:
        """See :meth:`jwtgate.stores.Store.purge_expired`."""
        with self._lock:
            now = self._clock()
            dead_claims = [k for k, d in self._claims.items() if d <= now]
            for claimed in dead_claims:
                del self._claims[claimed]
            dead_families = [k for k, (_, d) in self._families.items() if d <= now]
            dead_jtis = [k for k, d in self._jtis.items() if d <= now]
            dead_subjects = [k for k, (_, d) in self._subjects.items() if d <= now]
            for sid in dead_families:
                self._forget(self._families[sid][0].subject, sid)
            for key in dead_jtis:
                del self._jtis[key]
            for subject in dead_subjects:
                del self._subjects[subject]
            return len(dead_families) + len(dead_jtis) + len(dead_subjects) + len(dead_claims)

    def close(self) -> None:
        """Forget the store's name: the next ``memory://name`` starts empty."""
        with _registry_lock:
            if self.name is not None and _registry.get(self.name) is self:
                del _registry[self.name]
        self._changed()  # its data is gone: nothing remembered of it holds


class MemoryFeed(ChangeFeed):
    """The memory store's feed: the data is in this process and the store tells the
    feed of each revoking write as it makes it, so what a view keeps is always current
    (no thread, nothing to poll)."""

    def __init__(self, interval: float) -> None:
        super().__init__(interval)
        self.fresh_until = math.inf

    def poll(self) -> object:
        return self.generation

    def ensure_running(self) -> None:
        """Nothing to run: the store calls :meth:`changed`."""


class AsyncMemoryStore(SyncToAsync):
    """The async face of a :class:`MemoryStore` (no I/O, so called inline, no threads)."""

    def __init__(self, store: MemoryStore | None = None) -> None:
        super().__init__(store if store is not None else MemoryStore(), threaded=False)
