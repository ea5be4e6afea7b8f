"""Failover drills (issue #16): a Redis master killed mid-load is replaced by its
replica, and jwtgate carries on with the same store objects, losing nothing it
acknowledged.

Each drill starts its own group on free loopback ports (a 3-master Redis Cluster,
or a master, a replica and three sentinels), opens the store with ``?wait=1`` (a
write is acknowledged once a replica has it), revokes tokens from a thread while
a master is killed with SIGKILL, brings the dead node back (it rejoins as a
replica: with ``wait=1`` a master without a replica acknowledges nothing), and
then checks every revocation that was acknowledged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from jwtgate.errors import StoreUnavailable
from jwtgate.stores import Store, open_feed, open_store
from redis_cluster import Node, RedisCluster, SentinelGroup, ask, role, wait_until

pytestmark = pytest.mark.slow  # real clusters, killed and brought back

T = TypeVar("T")
TIMEOUT = 1.0  # the store's socket timeout, in seconds


@pytest.fixture(params=["cluster", "sentinel"])
def group(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RedisCluster | SentinelGroup]:
    """A group of this test's own: killing its master disturbs no other test."""
    group = RedisCluster(tmp_path) if request.param == "cluster" else SentinelGroup(tmp_path)
    try:
        group.start()
        yield group
    finally:
        group.stop()


def eventually(call: Callable[[], T], within: float = 30.0) -> T:
    """``call()`` once the store answers again: StoreUnavailable until then, then its value."""
    deadline = time.monotonic() + within
    while True:
        try:
            return call()
        except StoreUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class Load:
    """Revokes one token per subject, in a loop, and notes each acknowledged one."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.acknowledged: list[int] = []
        self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            try:
                self.store.revoke_jti(f"user{n}", f"j{n}", ttl=600)
            except StoreUnavailable:
                self.refused += 1
                time.sleep(0.01)
            else:
                self.acknowledged.append(n)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def kill_a_master(group: RedisCluster | SentinelGroup) -> Node:
    """SIGKILL a master, wait until its replica serves in its place."""
    if isinstance(group, RedisCluster):
        victim = group.masters()[0]
        victim.kill()
        wait_until("a replica to replace the killed master", lambda: len(group.masters()) == 3)
    else:
        victim = group.master()
        victim.kill()
        wait_until("the sentinels to promote the replica", lambda: group.master() is not victim)
    return victim


def hand_back(group: RedisCluster | SentinelGroup, victim: Node) -> None:
    """A graceful failover to ``victim`` (now a replica): the master it replaced stays up
    as a replica and answers MOVED (Cluster) or READONLY (Sentinel) to writes."""
    if isinstance(group, RedisCluster):
        ask(victim.port, "CLUSTER", "FAILOVER")
        wait_until("the old master to take over again", lambda: role(victim.port) == "master")
    else:
        ask(group.sentinels[0].port, "SENTINEL", "FAILOVER", group.service)
        wait_until("the sentinels to hand the master back", lambda: group.master() is victim)
    wait_until("the group to settle", group.healthy)


def writes_and_reads_work(store: Store, tag: str) -> None:
    """Subjects on every master are revoked and seen revoked (after 503s while it moves)."""
    for n in range(1, 31):
        eventually(lambda n=n: store.revoke_subject(f"{tag}{n}", at=1.0, ttl=60))
        assert eventually(lambda n=n: store.is_revoked(f"{tag}{n}", None, None, 0.5)) is True


def test_a_killed_master_loses_no_acknowledged_revocation(
    group: RedisCluster | SentinelGroup,
) -> None:
    """Revocations acknowledged before and during a master's death are all still seen after
    the failover, through the same store (no restart), and its change feed resumes; then
    a graceful failover back, which the same store follows too."""
    store = open_store(f"{group.url}?wait=1", timeout=TIMEOUT)
    feed = open_feed(f"{group.url}?wait=1", interval=0.05)
    assert feed is not None
    try:
        with Load(store) as load:
            wait_until("some acknowledged revocations", lambda: len(load.acknowledged) >= 200)
            victim = kill_a_master(group)
            before_back = len(load.acknowledged)
            victim.start()  # it comes back as a replica of the promoted one
            wait_until("the group to be whole again", group.healthy)
            wait_until(
                "revocations acknowledged again", lambda: len(load.acknowledged) > before_back + 200
            )
        seen = {n: eventually(lambda n=n: store.is_revoked(f"user{n}", None, f"j{n}", None))
                for n in load.acknowledged}  # fmt: skip
        lost = [n for n, revoked in seen.items() if not revoked]
        assert lost == []
        assert load.refused > 0  # the kill was felt: some writes were refused, none lost
        writes_and_reads_work(store, "after")
        wait_until("the change feed to answer again", feed.step)
        hand_back(group, victim)
        writes_and_reads_work(store, "handed")
        wait_until("the change feed to answer after the hand-back", feed.step)
    finally:
        feed.release()
        store.close()
