"""One fetch at a time: a flight, its landing, and waking whoever waits for it.

Threads wait on the flight's ``done`` event; tasks on an event of their own loop,
set by the landing thread through that loop's thread-safe call, so no waiter
polls and no worker thread is tied up waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable

import anyio

__all__ = ["Flight", "waker"]


class Flight:
    """One fetch in progress. ``done`` is set when it lands (success or not), and every
    waiter registered before that is woken at once: threads wait on ``done``, tasks
    on an event of their own loop, set through that loop's thread-safe call."""

    __slots__ = ("done", "event", "lock", "thread", "wakers")

    def __init__(self, event: anyio.Event | None) -> None:
        self.done = threading.Event()
        self.event = event  # set by an async leader, on its own event loop
        self.thread = threading.get_ident()
        self.lock = threading.Lock()
        self.wakers: list[Callable[[], object]] = []

    def on_landing(self, wake: Callable[[], object]) -> bool:
        """Call ``wake`` when the flight lands; False if it has landed already."""
        with self.lock:
            if self.done.is_set():
                return False
            self.wakers.append(wake)
            return True

    def land(self) -> None:
        with self.lock:
            self.done.set()
            wakers, self.wakers = self.wakers, []
        for wake in wakers:
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits
                wake()


def waker(event: anyio.Event) -> Callable[[], object]:
    """A thread-safe call that sets ``event`` on its own loop without blocking the
    landing thread: ``call_soon_threadsafe`` on asyncio, the run's token on trio (the
    only other loop anyio runs on). Both are the loops' own primitives, so this works
    on every anyio the package supports (anyio's portable route, ``from_thread`` with
    a token, needs anyio 4.11)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        import trio.lowlevel

        token = trio.lowlevel.current_trio_token()
        return lambda: token.run_sync_soon(event.set)
    return lambda: loop.call_soon_threadsafe(event.set)
