"""What survives a restart, per store (#16 item 4; docs/stores.md, "Restarts").

Before the restart: alice keeps a live session; bob logged out (his session is
revoked); carol's sessionless token was revoked by its jti; dave was logged out
everywhere while holding a sessionless token. Then the store restarts: a SQLite
file is closed by every user and opened again; a Redis server is killed with
SIGKILL (no shutdown save, as in a crash) and started again on the same port and
directory; a PostgreSQL cluster is stopped in "immediate" mode (no checkpoint) and
started again. A new Gate and a new Sessions object then judge what they see.

A persistent store keeps all of it. A Redis without persistence forgets
everything: alice's session is gone (she must log in again), bob's stays refused
(an unknown session is refused), and the two sessionless tokens that were revoked
pass again, which is why jwtgate warns about such a Redis at startup when
``check_revocation`` is on (``jwtgate.W002``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import make_settings
from jwtgate import Gate, RequestInfo, Sessions, Settings
from jwtgate.errors import JWTGateError
from jwtgate.http import Rejection
from jwtgate.issue import Issuer
from pg_server import running_cluster
from redis_server import RedisServer, redis_binary

pytestmark = pytest.mark.slow  # real servers, killed and restarted


@dataclass
class Restartable:
    url: str
    restart: Callable[[], None]
    persistent: bool


@contextmanager
def sqlite_case(tmp_path: Path) -> Iterator[Restartable]:
    # Every user closes the file before the "restart" (the test closes its objects).
    yield Restartable(f"sqlite:///{tmp_path / 'jwtgate.db'}", lambda: None, True)


def _redis_case(aof: bool) -> Callable[[Path], AbstractContextManager[Restartable]]:
    @contextmanager
    def case(tmp_path: Path) -> Iterator[Restartable]:
        server = RedisServer(redis_binary(), tmp_path, aof=aof)
        server.start()

        def restart() -> None:
            server.kill()
            server.start()

        try:
            yield Restartable(server.url, restart, aof)
        finally:
            server.stop()

    return case


@contextmanager
def postgres_case(tmp_path: Path) -> Iterator[Restartable]:
    # Stopped with "immediate" (SIGQUIT, no checkpoint: recovery replays the WAL), as in
    # a crash of the server, and started again on the same port and data directory.
    with contextmanager(running_cluster)() as server:

        def restart() -> None:
            server.stop("immediate")
            server.start()

        yield Restartable(f"{server.url}?schema=restarts", restart, True)


CASES = {
    "postgresql": postgres_case,
    "sqlite": sqlite_case,
    "redis-aof": _redis_case(aof=True),
    "redis-volatile": _redis_case(aof=False),
}


@pytest.fixture(params=sorted(CASES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Restartable]:
    with CASES[request.param](tmp_path) as case:
        yield case


def passes(gate: Gate, token: str) -> bool:
    return not isinstance(gate.decide(RequestInfo("GET", "/", (f"Bearer {token}",))), Rejection)


def test_what_survives_a_restart(store: Restartable, caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(
        store=store.url, check_revocation=True, store_persistence="ignore", store_timeout=1
    )
    issuer = Issuer(settings)
    with Sessions(settings) as sessions:
        alice = sessions.login("alice")
        bob = sessions.login("bob")
        assert sessions.logout(bob.access_token)
        carol = issuer.access_token("carol")
        assert sessions.revoke_jti(sessions.verify(carol))
        dave = Issuer(settings, clock=lambda: time.time() - 5).access_token("dave")
        sessions.logout_all("dave")
    before = Gate(settings)
    assert [passes(before, t) for t in (alice.access_token, bob.access_token, carol, dave)] == [
        True,
        False,
        False,
        False,
    ]
    before.close()

    store.restart()

    after = Gate(settings)
    seen = [passes(after, t) for t in (alice.access_token, bob.access_token, carol, dave)]
    with Sessions(settings) as sessions:
        try:
            refreshed = sessions.refresh(alice.refresh_token).access_token is not None
        except JWTGateError:
            refreshed = False
    after.close()
    if store.persistent:
        assert seen == [True, False, False, False]
        assert refreshed
    else:
        # Forgotten: alice must log in again, bob stays out (unknown sessions are
        # refused), and the revoked sessionless tokens of carol and dave pass again.
        assert seen == [False, False, True, True]
        assert not refreshed
        with caplog.at_level(logging.WARNING, logger="jwtgate"):
            Gate(Settings.from_dict({**settings.source, "store_persistence": "warn"})).close()
        assert "jwtgate.W002" in caplog.text
