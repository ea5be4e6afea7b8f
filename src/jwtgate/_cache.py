"""Bounded LRU maps for the hot path: verified tokens and revocation answers.

Both caches are plain ``OrderedDict`` LRUs bounded by an entry count. Every
operation is one or two C-level dict calls, safe to share between threads under
the GIL: a race can at worst drop an entry or keep one too many for an instant
(the bound is re-applied on the next insertion), never return another key's value.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["LRU"]

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``size`` entries; the least recently used one goes first."""

    __slots__ = ("data", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("an LRU holds at least one entry")
        self.size = size
        # Public for the one hot path that inlines get() (Verifier.remembered).
        self.data: OrderedDict[K, V] = OrderedDict()

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
        """Insert or replace ``key``; evict the least recently used beyond the bound."""
        data = self.data
        data[key] = value
        while len(data) > self.size:
            try:
                data.popitem(last=False)
            except KeyError:  # emptied by another thread
                break

    def discard(self, key: K) -> None:
        """Forget ``key`` if present."""
        self.data.pop(key, None)

    def clear(self) -> None:
        """Forget every entry."""
        self.data.clear()

    def __len__(self) -> int:
        return len(self.data)
