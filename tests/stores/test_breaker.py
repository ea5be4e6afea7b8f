"""Fail fast and bounded when a store hangs (#16 item 5).

The breaker's states are driven on a clock the test sets; its use is checked against
a real redis-server frozen with SIGSTOP, where a request must fail within
``store_timeout`` and, once one failed, the next ones (the Gate's revocation check
and ``Sessions`` alike) must not ask the frozen server at all.
"""

from __future__ import annotations

import threading

import pytest

from conftest import make_settings
from jwtgate import ConfigurationError, Gate, RequestInfo, Sessions
from jwtgate._breaker import BREAK_MAX, BREAK_MIN, Breaker, breaker_for
from jwtgate.errors import ReusedToken, StoreUnavailable
from jwtgate.http import Rejection
from jwtgate.issue import Issuer
from redis_server import RedisServer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(breaker: Breaker) -> None:
    with pytest.raises(StoreUnavailable), breaker:
        raise StoreUnavailable()


def succeed(breaker: Breaker) -> None:
    with breaker:
        pass


def test_a_failure_opens_the_breaker_and_calls_fail_at_once() -> None:
    clock = Clock()
    breaker = Breaker(clock=clock)
    succeed(breaker)
    assert not breaker.open
    fail(breaker)
    assert breaker.open
    entered = False
    with pytest.raises(StoreUnavailable), breaker:
        entered = True
    assert not entered  # the store was not asked


def test_one_call_probes_after_the_pause_and_its_success_closes() -> None:
    clock = Clock()
    breaker = Breaker(clock=clock)
    fail(breaker)
    clock.now += BREAK_MIN
    breaker.__enter__()  # the probe is in flight ...
    with pytest.raises(StoreUnavailable), breaker:  # ... so every other call fails at once
        pass
    breaker.__exit__(None, None, None)
    assert not breaker.open
    succeed(breaker)


def test_a_failed_probe_doubles_the_pause_up_to_the_maximum() -> None:
    clock = Clock()
    breaker = Breaker(clock=clock)
    pauses = []
    fail(breaker)
    for _ in range(8):
        start = clock.now
        while breaker.open:
            clock.now += 0.25
        pauses.append(clock.now - start)
        fail(breaker)  # the probe
    assert pauses[:3] == [BREAK_MIN, 2 * BREAK_MIN, 4 * BREAK_MIN]
    assert pauses[-1] == BREAK_MAX


def test_a_refusal_is_an_answer_and_closes_the_breaker() -> None:
    """ReusedToken from the probe means the store answered."""
    clock = Clock()
    breaker = Breaker(clock=clock)
    fail(breaker)
    clock.now += BREAK_MIN
    with pytest.raises(ReusedToken), breaker:
        raise ReusedToken()
    assert not breaker.open


def test_a_cancelled_probe_lets_the_next_call_probe() -> None:
    clock = Clock()
    breaker = Breaker(clock=clock)
    fail(breaker)
    clock.now += BREAK_MIN
    with pytest.raises(KeyboardInterrupt), breaker:
        raise KeyboardInterrupt
    succeed(breaker)  # would raise StoreUnavailable if the cancelled probe still counted
    assert not breaker.open


def test_failures_of_calls_sent_before_it_opened_do_not_lengthen_the_pause() -> None:
    clock = Clock()
    breaker = Breaker(clock=clock)
    fail(breaker)
    for _ in range(5):  # the other calls that were waiting on the same hung store
        breaker._failed(StoreUnavailable())
    clock.now += BREAK_MIN
    assert not breaker.open


def test_one_breaker_per_store_url_and_prefix() -> None:
    assert breaker_for("memory://a", "p:") is breaker_for("memory://a", "p:")
    assert breaker_for("memory://a", "p:") is not breaker_for("memory://a", "q:")
    assert breaker_for("memory://a", "p:") is not breaker_for("memory://b", "p:")


@pytest.mark.parametrize(
    ("key", "value", "id_"),
    [
        ("store_timeout", 0, "E150"),
        ("store_timeout", 61, "E150"),
        ("store_timeout", "2", "E003"),
        ("store_housekeeping_timeout", 0.01, "E151"),
        ("store_housekeeping_timeout", 601, "E151"),
    ],
)
def test_store_timeouts_out_of_range_are_refused(key: str, value: object, id_: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_settings(**{key: value})
    (problem,) = caught.value.problems
    assert problem.id == f"jwtgate.{id_}"
    assert key.upper() in str(problem)


def test_store_timeouts_default_to_2_and_10_seconds() -> None:
    settings = make_settings()
    assert (settings.store_timeout, settings.store_housekeeping_timeout) == (2, 10)


# -- against a frozen redis-server --------------------------------------------------

TIMEOUT = 0.3  # store_timeout for these tests


@pytest.fixture
def server(own_redis: RedisServer) -> RedisServer:
    return own_redis


def _frozen_until(server: RedisServer, seconds: float) -> threading.Timer:
    """Freeze ``server`` now; it wakes after ``seconds`` (a thread resumes it)."""
    server.pause()
    waker = threading.Timer(seconds, server.resume)
    waker.start()
    return waker


@pytest.mark.slow
def test_a_frozen_store_fails_the_request_and_then_fails_fast_everywhere(
    server: RedisServer,
) -> None:
    """The first request fails while the server is still frozen (no wait for it to
    wake); after it, 40 revocation checks and 10 logins fail without asking it, all
    before the server wakes, 20 timeouts later: 50 calls that each waited a timeout
    would not fit."""
    url = f"{server.url}?prefix=drill{id(server)}:"  # a breaker of this test's own
    settings = make_settings(store=url, check_revocation=True, store_timeout=TIMEOUT)
    issuer = Issuer(settings)
    gate = Gate(settings)
    with Sessions(settings) as sessions:
        sessions.login("alice")
        waker = _frozen_until(server, 20 * TIMEOUT)
        try:
            first = gate.decide(RequestInfo("GET", "/", (bearer(issuer),)))
            assert isinstance(first, Rejection) and first.status == 503
            assert gate.revocation is not None and gate.revocation.broken
            assert waker.is_alive()  # answered within the bound, not when the server woke
            rest = [gate.decide(RequestInfo("GET", "/", (bearer(issuer),))) for _ in range(40)]
            assert all(isinstance(r, Rejection) and r.status == 503 for r in rest)
            for _ in range(10):
                with pytest.raises(StoreUnavailable):
                    sessions.login("alice")  # the same store: the same breaker
            assert waker.is_alive()
        finally:
            waker.cancel()
            server.resume()
        # Awake again: once the pause is over, the probe succeeds and all is served.
        assert until_served(gate, issuer)
        pair = sessions.login("bob")
        assert sessions.refresh(pair.refresh_token).session_id == pair.session_id
    gate.close()


def bearer(issuer: Issuer) -> str:
    """An Authorization value with a never-seen token (a new jti): the check must ask
    the store."""
    return f"Bearer {issuer.access_token('alice')}"


def until_served(gate: Gate, issuer: Issuer) -> bool:
    import time

    end = time.monotonic() + 2 * BREAK_MAX
    while time.monotonic() < end:
        if not isinstance(gate.decide(RequestInfo("GET", "/", (bearer(issuer),))), Rejection):
            return True
        time.sleep(0.05)
    return False
