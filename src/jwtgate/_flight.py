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
import anyio.from_thread
import anyio.lowlevel

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


def waker(event: anyio.Event) -> Callable[[], object] | None:
    """A thread-safe call that sets ``event`` on its own loop without blocking the
    landing thread, or None where this anyio offers none (trio before anyio 4.11)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # another backend (trio): anyio's portable route, off-thread
        current_token = getattr(anyio.lowlevel, "current_token", None)
        if current_token is None:
            return None
        token = current_token()

        def set_from_thread() -> None:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                anyio.from_thread.run_sync(event.set, token=token)

        return threading.Thread(target=set_from_thread, daemon=True).start
    return lambda: loop.call_soon_threadsafe(event.set)
