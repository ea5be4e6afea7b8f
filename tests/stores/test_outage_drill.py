"""A frozen store under a real sync WSGI server with 2 workers (#16 item 5 acceptance).

gunicorn serves the e2e site (tests/e2e_sites.py: the token endpoints, /api/me
behind a revocation-aware Gate, /health needing no store) with two sync worker
processes. The store is frozen with SIGSTOP; then:

- a request that needs the store gets its 503 while the store is still frozen;
- once a worker's call failed, its breaker answers the next ones without asking
  the store, so they are not held for a timeout each (most answered in well under
  one timeout, where without the breaker every one would wait a full timeout);
- /health, which needs no store, is answered throughout;
- after the store wakes, the same processes serve again, and the session made
  before the outage refreshes (nothing was lost, nothing was revoked).

Each store is a case of ``FREEZERS``: how to start it, freeze it and wake it.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from e2e_sites import SECRET
from jwtgate import Settings
from jwtgate.issue import Issuer
from pg_server import running_cluster
from redis_server import RedisServer, redis_binary
from servers import gunicorn_e2e

pytestmark = pytest.mark.slow  # real servers, and a few seconds of frozen store

TIMEOUT = 0.5  # store_timeout
ALICE = {"username": "alice", "password": "wonderland"}
FROZEN_FOR = 30 * TIMEOUT  # the store wakes by itself after this, whatever the test does


@dataclass
class Frozen:
    """A store under test: its URL, and how to freeze and wake it."""

    url: str
    freeze: Callable[[], None]
    wake: Callable[[], None]


@contextmanager
def redis_case(tmp_path: Path) -> Iterator[Frozen]:
    server = RedisServer(redis_binary(), tmp_path)
    server.start()
    try:
        yield Frozen(server.url, server.pause, server.resume)
    finally:
        server.stop()


@contextmanager
def postgres_case(tmp_path: Path) -> Iterator[Frozen]:
    # Every server process frozen: the postmaster (new connections) and the backends.
    with contextmanager(running_cluster)() as server:
        yield Frozen(f"{server.url}?schema=outage", server.pause, server.resume)


FREEZERS = {"redis": redis_case, "postgresql": postgres_case}


@pytest.fixture(params=sorted(FREEZERS))
def frozen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Frozen]:
    with FREEZERS[request.param](tmp_path) as case:
        yield case


def fresh(issuer: Issuer) -> dict[str, str]:
    """A never-seen token (its own jti): the revocation check must ask the store."""
    return {"authorization": f"Bearer {issuer.access_token('alice')}"}


def test_a_frozen_store_under_two_sync_workers(frozen: Frozen) -> None:
    more = {"store_timeout": TIMEOUT, "store_persistence": "ignore"}
    env = {"JWTGATE_E2E_STORE": frozen.url, "JWTGATE_E2E_SETTINGS": json.dumps(more)}
    issuer = Issuer(Settings.from_dict({"secret": SECRET}))
    with gunicorn_e2e(env, "--workers", "2") as base, httpx.Client(timeout=60) as http:
        login = http.post(f"{base}/auth/token", json=ALICE)
        assert login.status_code == 200
        refresh_token = login.json()["refresh_token"]
        assert http.get(f"{base}/api/me", headers=fresh(issuer)).status_code == 200

        frozen.freeze()
        waker = threading.Timer(FROZEN_FOR, frozen.wake)
        waker.start()
        try:
            # Both workers meet the frozen store (two requests at once, one each).
            first = _concurrently(http, f"{base}/api/me", issuer, 2)
            assert [r.status_code for r in first] == [503, 503]
            assert all(r.headers["retry-after"] for r in first)
            assert {r.json()["error"] for r in first} == {"temporarily_unavailable"}
            assert waker.is_alive()  # answered within the bound, not when the store woke

            needing, health, logins = [], [], []
            for _ in range(30):
                needing.append(_timed(lambda: http.get(f"{base}/api/me", headers=fresh(issuer))))
                health.append(_timed(lambda: http.get(f"{base}/health")))
            for _ in range(5):
                logins.append(_timed(lambda: http.post(f"{base}/auth/token", json=ALICE)))
            assert waker.is_alive()
        finally:
            waker.cancel()
            frozen.wake()

        assert {r.status_code for r, _ in needing} == {503}
        assert {r.status_code for r, _ in logins} == {503}  # the same breaker
        assert {r.status_code for r, _ in health} == {200}
        # Without the breaker every one of these waits a full store_timeout. With it
        # only a probe does (one per worker per pause): the rest do not wait at all.
        quick = [seconds < TIMEOUT / 5 for _, seconds in needing + logins]
        assert sum(quick) >= len(quick) * 2 // 3, sorted(s for _, s in needing + logins)
        assert statistics.median(s for _, s in health) < TIMEOUT / 5

        # Awake: the same worker processes serve again, and the session made before
        # the outage refreshes.
        deadline = time.monotonic() + 40
        while http.get(f"{base}/api/me", headers=fresh(issuer)).status_code != 200:
            assert time.monotonic() < deadline, "not served again after the store woke"
            time.sleep(0.1)
        refreshed = http.post(f"{base}/auth/refresh", json={"refresh_token": refresh_token})
        assert refreshed.status_code == 200


def _timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    response = call()
    return response, time.perf_counter() - start


def _concurrently(http: httpx.Client, url: str, issuer: Issuer, n: int) -> list[httpx.Response]:
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def one() -> None:
        with httpx.Client(timeout=60) as own:
            response = own.get(url, headers=fresh(issuer))
        with lock:
            results.append(response)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
