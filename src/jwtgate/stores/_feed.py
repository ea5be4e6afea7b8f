"""How a store tells that it changed: a thread polling the store's change marker.

A store capability, not a cache: a :class:`ChangeFeed` knows how recently it saw
the store unchanged (``generation``, ``fresh_until``) and nothing of what anyone
keeps meanwhile. The backends say what the marker is (SQLite: ``PRAGMA
data_version``; Redis: a counter and a pub/sub channel its own writes bump); the
revocation cache (:mod:`jwtgate.feed`) is the layer above that uses a feed to
decide how long a remembered answer may be served.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from contextlib import suppress

__all__ = ["ChangeFeed"]

logger = logging.getLogger("jwtgate")

_LOG_EVERY = 10.0
_UNSET = object()


class ChangeFeed:
    """A thread that polls a store's change marker; subclasses say how.

    ``generation`` grows whenever the marker changes, after any failure, and when
    :meth:`changed` is called; ``fresh_until`` (on ``clock``, ``time.monotonic``
    by default) is how long what was seen under the current generation may be
    trusted. The thread starts on first use and again in a forked child (a
    thread does not survive ``fork``); :meth:`step` is one poll, for tests that
    drive a feed by hand.
    """

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.bound = 2 * interval
        self.clock = clock
        self.generation = 0
        self.fresh_until = -math.inf
        self.polls = 0  # successful polls, for tests and metrics
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._last: object = _UNSET
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

    # -- what the feed has seen -----------------------------------------------------

    def changed(self) -> None:
        """Count a change learnt by other means (a write this process just made)."""
        with self._lock:
            self.generation += 1

    def step(self) -> bool:
        """Poll once; False (and nothing trusted until the next success) on failure."""
        started = self.clock()
        try:
            marker = self.poll()
        except Exception as exc:  # noqa: BLE001 - the feed must never die
            self.fresh_until = -math.inf
            self.changed()
            self._last = _UNSET
            self._log(exc)
            self.reset()
            return False
        if self._last is _UNSET or marker != self._last:
            self.changed()
            self._last = marker
        self.polls += 1
        if not self._stop.is_set():
            self.fresh_until = started + self.bound
        return True

    @property
    def live(self) -> bool:
        """Whether what was seen under the current generation may be trusted right now."""
        return self.clock() < self.fresh_until

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
            self._last = _UNSET
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
        self.stop_soon()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.interval + 6)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self.step():
                    if not self._stop.is_set():
                        self.wait(self.interval)
                else:
                    self._stop.wait(self.interval)
        finally:
            self.fresh_until = -math.inf
            # Closing a broken connection may fail too; the thread ends either way.
            with suppress(Exception):
                self.release()

    def _log(self, exc: BaseException) -> None:
        now = self.clock()
        if now - self._last_logged >= _LOG_EVERY:
            self._last_logged = now
            logger.warning(
                "jwtgate: revocation change feed failed (%s); checking the store on "
                "every request until it recovers",
                type(exc).__name__,
            )
