"""Bounded maps for the hot path: verified tokens and revocation answers.

Both are bounded by an entry count; ``LRU`` (the revocation view) also by the bytes
of its keys (tokens of up to ``max_token_bytes`` each). Every operation is one or two C-level dict
or set calls, safe to share between threads under the GIL: a race can at worst
drop an entry or keep one too many for an instant (the bound is re-applied on
the next insertion), never return another key's value.

``LRU`` is an ``OrderedDict`` that moves an entry to the end on each hit.
``SecondChance`` (the verified-token cache) marks a hit on the value instead,
which costs a fraction of ``move_to_end`` on a path every request takes, and
gives a marked entry one more round when it reaches the front (the CLOCK
policy): hot entries stay, as with an LRU.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, Protocol, TypeVar

__all__ = ["ENTRY_OVERHEAD", "LRU", "Marked", "SecondChance"]

K = TypeVar("K")
V = TypeVar("V")


class _Bounded(Generic[K, V]):
    """What both caches share: a ``data`` dict of at most ``size`` entries."""

    __slots__ = ("data", "size")

    data: dict[K, V]

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a cache holds at least one entry")
        self.size = size

    def discard(self, key: K) -> None:
        """Forget ``key`` if present."""
        self.data.pop(key, None)

    def clear(self) -> None:
        """Forget every entry."""
        self.data.clear()

    def __len__(self) -> int:
        return len(self.data)


# What one entry of an LRU costs besides its key's characters, about: the str
# header, the value tuple with its float, and the ordered dict's node.
ENTRY_OVERHEAD = 256


class LRU(_Bounded[K, V]):
    """At most ``size`` entries, and with ``max_bytes`` at most about that many bytes
    (``len`` of each ``str`` key plus :data:`ENTRY_OVERHEAD`); the least recently used
    entry goes first. Writes take a lock when bytes are counted (they are off the hot
    path: a store answer); reads never do."""

    __slots__ = ("_lock", "bytes", "max_bytes")

    data: OrderedDict[K, V]

    def __init__(self, size: int, max_bytes: int | None = None) -> None:
        super().__init__(size)
        self.data = OrderedDict()
        self.max_bytes = max_bytes
        self.bytes = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The entry for ``key`` (marking it recently used), or None."""
        data = self.data
        value = data.get(key)
        if value is not None:
            # try/except, not contextlib.suppress: this runs on every request.
            try:  # noqa: SIM105
                data.move_to_end(key)
            except KeyError:  # dropped by another thread in between: still a valid answer
                pass
        return value

    def put(self, key: K, value: V) -> None:
        """Insert or replace ``key``; evict the least recently used beyond the bounds."""
        if self.max_bytes is not None:
            self._put_counted(key, value, self.max_bytes)
            return
        data = self.data
        data[key] = value
        while len(data) > self.size:
            try:
                data.popitem(last=False)
            except KeyError:  # emptied by another thread
                break

    def _put_counted(self, key: K, value: V, max_bytes: int) -> None:
        data = self.data
        with self._lock:
            if key not in data:
                self.bytes += _weight(key)
            data[key] = value
            while len(data) > 1 and (len(data) > self.size or self.bytes > max_bytes):
                old, _ = data.popitem(last=False)
                self.bytes -= _weight(old)

    def discard(self, key: K) -> None:
        """Forget ``key`` if present."""
        with self._lock:
            if self.data.pop(key, None) is not None and self.max_bytes is not None:
                self.bytes -= _weight(key)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self.data.clear()
            self.bytes = 0


def _weight(key: object) -> int:
    return (len(key) if isinstance(key, str) else 0) + ENTRY_OVERHEAD


class Marked(Protocol):
    """A value :class:`SecondChance` can keep: it carries the mark of its last hit."""

    used: bool


M = TypeVar("M", bound=Marked)


class SecondChance(_Bounded[K, M]):
    """At most ``size`` entries; the oldest one not used since its last round goes first.

    A hit sets the value's ``used`` (what :meth:`get` does, and what
    ``Verifier.remembered`` does inline): one attribute store, where an LRU's
    ``move_to_end`` costs several times more on a path every request takes.
    """

    __slots__ = ()

    def __init__(self, size: int) -> None:
        super().__init__(size)
        # Public for the one hot path that inlines get() (Verifier.remembered).
        self.data = {}

    def get(self, key: K) -> M | None:
        """The entry for ``key`` (marking it used), or None."""
        value = self.data.get(key)
        if value is not None:
            value.used = True
        return value

    def put(self, key: K, value: M) -> None:
        """Insert or replace ``key``; beyond the bound, evict the oldest unused entry
        (a used one loses its mark and goes to the back instead)."""
        data = self.data
        # Room is made before the insertion, so the new entry is never the one to go;
        # each entry is passed over at most once per mark, so this ends.
        while len(data) >= self.size and key not in data:
            try:
                oldest = next(iter(data))
            except (StopIteration, RuntimeError):  # emptied or changed by another thread
                break
            kept = data.pop(oldest, None)
            if kept is not None and kept.used:
                kept.used = False
                data[oldest] = kept
        data[key] = value
