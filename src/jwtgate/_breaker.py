"""The circuit breaker in front of a store (#16 item 5).

A store that fails (:class:`~jwtgate.errors.StoreUnavailable`: refused, timed out)
is not asked again for a short, growing while. Calls fail at once instead, with the
same error, so ``on_store_error`` answers in microseconds and a hung store cannot
hold every worker for a ``store_timeout`` per request. When the pause is over, one
call probes the store while the others still fail at once; its success closes the
breaker, its failure doubles the pause (up to :data:`BREAK_MAX`).

There is one breaker per store URL and key prefix in a process
(:func:`breaker_for`), shared by every layer over that store: the Gate's
revocation check, sync and async, and :class:`~jwtgate.Sessions`. So a login after
a failed revocation check is refused at once too.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from types import TracebackType
from urllib.parse import urlsplit

from .errors import StoreUnavailable

__all__ = ["BREAK_MAX", "BREAK_MIN", "Breaker", "NeverOpens", "breaker_for"]

logger = logging.getLogger("jwtgate")

BREAK_MIN = 0.5
BREAK_MAX = 15.0


class Breaker:
    """Use as ``with breaker: store.call(...)``, around every call to one store.

    Closed (the usual state) it costs an attribute test. ``clock`` is
    ``time.monotonic`` unless given.
    """

    def __init__(self, name: str = "store", clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.clock = clock
        self._lock = threading.Lock()
        self._pause = 0.0  # 0: closed; else how long the last failure opened it for
        self._until = -math.inf  # open until then (on ``clock``)
        self._probing = False

    @property
    def open(self) -> bool:
        """Whether calls fail at once right now (a probe in flight counts as open)."""
        return self._pause > 0 and (self._probing or self.clock() < self._until)

    def __enter__(self) -> None:
        if not self._pause:
            return
        with self._lock:
            if self._pause and (self._probing or self.clock() < self._until):
                raise StoreUnavailable()  # the same answer as a call that failed
            self._probing = self._pause > 0  # this call is the probe

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is not None and issubclass(kind, StoreUnavailable):
            self._failed(error)
        elif kind is None or isinstance(error, Exception):
            # The store answered (a refusal such as ReusedToken is an answer too).
            if self._pause:
                with self._lock:
                    self._pause, self._probing = 0.0, False
                logger.info("jwtgate: the %s answers again; breaker closed", self.name)
        elif self._probing:  # cancelled mid-probe: the next call probes instead
            with self._lock:
                self._probing = False

    def _failed(self, error: BaseException | None) -> None:
        with self._lock:
            now = self.clock()
            if now < self._until and not self._probing:
                return  # a call sent before the breaker opened; it is open already
            self._pause = min(BREAK_MAX, max(BREAK_MIN, self._pause * 2))
            self._until = now + self._pause
            self._probing = False
            pause = self._pause
        logger.warning(
            "jwtgate: the %s failed (%s); calls to it fail at once for %.1fs, then one probes it",
            self.name,
            error,
            pause,
        )


_breakers: dict[tuple[str, str], Breaker] = {}
_breakers_lock = threading.Lock()


class NeverOpens(Breaker):
    """A breaker that lets every call through: for a store object an app hands to
    ``Sessions``, whose failures (and retries, as after a 503 in doubt) are its own."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None


def breaker_for(url: str, prefix: str) -> Breaker:
    """The breaker of the store at ``url`` (with key ``prefix``) in this process."""
    with _breakers_lock:
        breaker = _breakers.get((url, prefix))
        if breaker is None:
            name = f"{urlsplit(url).scheme} store"  # never the URL: it may hold a password
            breaker = _breakers[url, prefix] = Breaker(name)
        return breaker
