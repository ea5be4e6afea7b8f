"""Revocation at cached speed: a per-process view of revocation answers kept fresh.

With ``check_revocation: true`` every verified request asks the store whether the
token was revoked. :class:`RevocationView` remembers those answers per token and
drops them all the moment the store changes, so the hot path is a dict lookup
instead of a store round trip. What says "the store changed" is a
:class:`ChangeFeed`, one background thread per process:

- **SQLite**: ``PRAGMA data_version`` on a connection of its own, every
  ``revocation_poll_interval`` seconds (it changes whenever any other connection,
  in this or another process, commits);
- **Redis**: every revoking write increments a counter and publishes on a
  channel; the feed thread is subscribed (a change arrives within milliseconds)
  and also reads the counter every ``revocation_poll_interval`` (a lost message
  or a silently dead subscription cannot stretch the delay).

The bound: an answer is served from the view only while the feed's last poll
*started* less than twice ``revocation_poll_interval`` ago, so a revocation
committed anywhere is honoured by every process within that bound (100 ms by
default) — or sooner; within one process, at once: every revoking write a
jwtgate store makes also clears this process's views (:func:`local_change`).
When the feed cannot poll (the store is down, the thread stalls, the process
forked), answers go stale on that same deadline and every request asks the
store directly again, where ``on_store_error`` applies; on recovery the view
starts empty. Answers also expire after :data:`ANSWER_MAX_AGE` seconds, which
covers changes no write announces (a session family reaching its expiry time).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from contextlib import suppress

from ._cache import LRU

__all__ = ["ANSWER_MAX_AGE", "ChangeFeed", "RevocationView", "local_change"]

logger = logging.getLogger("jwtgate")

ANSWER_MAX_AGE = 5.0
_LOG_EVERY = 10.0
_UNSET = object()
# Revoking writes made by this very process: counted here so that every view in
# the process forgets at once, without waiting for its feed (a logout followed
# by a request on the same instance must be refused immediately).
_local = [0]


def local_change() -> None:
    """Record a revoking write made in this process (the stores call it)."""
    _local[0] += 1


class ChangeFeed:
    """A thread that polls a store's change marker; subclasses say how.

    ``generation`` grows whenever the marker changes (and after any failure);
    ``fresh_until`` (``time.monotonic()``) is how long answers cached under the
    current generation may be served. The thread starts on first use and again
    in a forked child (a thread does not survive ``fork``).
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.bound = 2 * interval
        self.generation = 0
        self.fresh_until = -math.inf
        self.polls = 0  # successful polls, for tests and metrics
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._last_logged = -math.inf

    # -- subclass hooks -----------------------------------------------------------

    def poll(self) -> object:
        """The store's change marker now; raise on failure."""
        raise NotImplementedError

    def wait(self, timeout: float) -> None:
        """Sleep up to ``timeout`` seconds, returning early if a change is announced."""
        self._stop.wait(timeout)

    def reset(self) -> None:
        """Drop connections after a failure (the next poll reconnects)."""

    def release(self) -> None:
        """Close connections when the feed stops (called on the feed thread)."""
        self.reset()

    # -- lifecycle ----------------------------------------------------------------

    def ensure_running(self) -> None:
        """Start the thread if it is not running in this process."""
        pid = os.getpid()
        thread = self._thread
        if thread is not None and self._pid == pid and thread.is_alive():
            return
        with self._lock:
            if self._stop.is_set():
                return
            thread = self._thread
            if thread is not None and self._pid == pid and thread.is_alive():
                return
            if self._pid != pid:  # a forked child: nothing inherited is trustworthy
                self.fresh_until = -math.inf
                self.generation += 1
                self.reset()
            self._pid = pid
            self._thread = threading.Thread(
                target=self._run, name="jwtgate-revocation-feed", daemon=True
            )
            self._thread.start()

    def stop_soon(self) -> None:
        """Ask the thread to stop, without waiting for it."""
        self._stop.set()
        self.fresh_until = -math.inf

    def close(self) -> None:
        """Stop the thread (it closes its connections)."""
        self._stop.set()
        self.fresh_until = -math.inf
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.interval + 6)

    @property
    def live(self) -> bool:
        """Whether cached answers may be served right now."""
        return time.monotonic() < self.fresh_until

    def _run(self) -> None:
        last: object = _UNSET
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    marker = self.poll()
                except Exception as exc:  # noqa: BLE001 - the feed must never die
                    self.fresh_until = -math.inf
                    self.generation += 1
                    last = _UNSET
                    self._log(exc)
                    self.reset()
                    self._stop.wait(self.interval)
                    continue
                if last is _UNSET or marker != last:
                    self.generation += 1
                    last = marker
                self.polls += 1
                if not self._stop.is_set():
                    self.fresh_until = started + self.bound
                    self.wait(self.interval)
        finally:
            self.fresh_until = -math.inf
            # Closing a broken connection may fail too; the thread ends either way.
            with suppress(Exception):
                self.release()

    def _log(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._last_logged >= _LOG_EVERY:
            self._last_logged = now
            logger.warning(
                "jwtgate: revocation change feed failed (%s); checking the store on "
                "every request until it recovers",
                type(exc).__name__,
            )


class RevocationView:
    """Revocation answers per token, valid while the feed vouches for them."""

    def __init__(self, feed: ChangeFeed, size: int, *, max_age: float = ANSWER_MAX_AGE) -> None:
        self.feed = feed
        self.max_age = max_age
        self._answers: LRU[str, tuple[int, float, bool]] = LRU(size)
        # A Gate dropped without close() must not leave its thread polling forever.
        weakref.finalize(self, feed.stop_soon)

    def lookup(self, token: str) -> bool | None:
        """The cached answer (True: revoked), or None: ask the store."""
        feed = self.feed
        now = time.monotonic()
        if now >= feed.fresh_until:
            return None
        entry = self._answers.get(token)
        # Both counters only grow, so their sum changes whenever either does.
        if (
            entry is None
            or entry[0] != feed.generation + _local[0]
            or now - entry[1] >= self.max_age
        ):
            return None
        return entry[2]

    def begin(self) -> int:
        """Before asking the store: the generation the answer will belong to."""
        self.feed.ensure_running()
        return self.feed.generation + _local[0]

    def remember(self, token: str, generation: int, revoked: bool) -> None:
        """Keep the store's answer, unless the store changed while it was asked."""
        if generation == self.feed.generation + _local[0] and self.feed.live:
            self._answers.put(token, (generation, time.monotonic(), revoked))

    def __len__(self) -> int:
        return len(self._answers)

    def close(self) -> None:
        """Stop the feed."""
        self.feed.close()
