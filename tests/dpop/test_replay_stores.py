"""Replay prevention through the configured store: a proof used on one Gate is
refused on another sharing the store, and claims leave the revocation view alone."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from jwtgate.stores.sqlite import SQLiteStore
from jwtgate.testing import FrozenClock, dpop_key

from .support import NOW, URL, Stack, dpop_settings, mint


def test_two_workers_sharing_a_sqlite_store_accept_a_proof_once(tmp_path: Path) -> None:
    settings = dpop_settings(store=f"sqlite:///{tmp_path}/j.db")
    clock = FrozenClock(NOW)
    key = dpop_key()
    token = mint(settings, key)
    one, two = Stack("wsgi", settings, clock), Stack("asgi", settings, clock)
    headers = [
        ("Authorization", f"DPoP {token}"),
        ("DPoP", key.proof("GET", URL, token, clock=clock)),
    ]
    assert one.request("GET", "/orders", headers).status == 200
    again = two.request("GET", "/orders", headers)
    assert (again.status, again.body) == (
        401,
        b'{"error":"invalid_dpop_proof","error_description":"DPoP proof already used"}',
    )
    assert one.gate.never_waits is False  # a claim is a store write
    one.gate.close()
    two.gate.close()


def test_a_claim_does_not_move_the_sqlite_change_feed(tmp_path: Path) -> None:
    """The revocation view is dropped when the store's file changes; DPoP claims, made
    on every request, live in a file of their own and change nothing it watches."""
    store = SQLiteStore(tmp_path / "j.db")
    store.purge_expired()  # creates the file
    feed = store.change_feed(0.01)
    before = feed.poll()
    for n in range(5):
        assert store.claim_once(f"dpop:{n}", 60) is True
    assert feed.poll() == before
    store.revoke_jti("alice", "j1", ttl=60)
    assert feed.poll() != before  # a revocation does
    assert (tmp_path / "j.db-claims").exists()
    feed.reset()
    store.close()


def test_without_a_store_proofs_are_remembered_in_memory() -> None:
    clock = FrozenClock(time.time())
    settings = dpop_settings()
    key = dpop_key()
    token = mint(settings, key, clock=clock)
    stack = Stack("asgi", settings, clock)
    assert stack.gate.never_waits is True  # the memory store: no I/O
    headers = [
        ("Authorization", f"DPoP {token}"),
        ("DPoP", key.proof("GET", URL, token, clock=clock)),
    ]
    assert stack.request("GET", "/orders", headers).status == 200
    assert stack.request("GET", "/orders", headers).status == 401


def test_a_frozen_store_refuses_proofs_at_once_behind_the_breaker(own_redis: Any) -> None:
    """Redis frozen (SIGSTOP): the first DPoP request waits store_timeout and gets 503;
    the next ones get their 503 from the circuit breaker, without asking the store,
    all before the server wakes (20 timeouts later; 30 requests that each waited a
    timeout would not fit)."""
    import threading

    timeout = 0.2
    settings = dpop_settings(store=own_redis.url, store_timeout=timeout)
    key = dpop_key()
    clock = FrozenClock(time.time())
    token = mint(settings, key, clock=clock)
    stack = Stack("wsgi", settings, clock)

    def fresh() -> list[tuple[str, str]]:  # a proof of its own each time: a new claim
        return [
            ("Authorization", f"DPoP {token}"),
            ("DPoP", key.proof("GET", URL, token, clock=clock)),
        ]

    assert stack.request("GET", "/orders", fresh()).status == 200
    own_redis.pause()
    waker = threading.Timer(20 * timeout, own_redis.resume)
    waker.start()
    try:
        statuses = [stack.request("GET", "/orders", fresh()).status for _ in range(30)]
        assert waker.is_alive()
    finally:
        waker.cancel()
        own_redis.resume()
    assert statuses == [503] * 30
    stack.gate.close()
