"""Redis Cluster and Sentinel URLs (issue #16): what each form names, what a replica
must confirm under ``?wait=N``, and a cluster that is down when the app starts."""

from __future__ import annotations

import inspect
import logging
import os
import signal
import threading
from typing import Any

import pytest

from jwtgate.errors import StoreUnavailable
from jwtgate.stores import open_async_store, open_feed, open_store
from jwtgate.stores._redis_connect import parse
from jwtgate.stores.redis import persistence
from redis_server import free_port

T0 = 1_800_000_000.0


@pytest.mark.parametrize(
    ("url", "kind", "plain", "hosts", "service"),
    [
        pytest.param(
            "redis://h:1/2?ssl_cert_reqs=none", "server", "redis://h:1/2?ssl_cert_reqs=none",
            (("h", 1),), None, id="server",
        ),
        pytest.param(
            "redis+cluster://u:pw@a:7000,b,[::1]:7002", "cluster", "redis://u:pw@a:7000/",
            (("a", 7000), ("b", 6379), ("::1", 7002)), None, id="cluster",
        ),
        pytest.param(
            "rediss+sentinel://a,b:26380/mymaster/3?wait=1", "sentinel", "rediss://a:26379/3",
            (("a", 26379), ("b", 26380)), "mymaster", id="sentinel",
        ),
    ],
)  # fmt: skip
def test_a_redis_url_names_its_servers(
    url: str, kind: str, plain: str, hosts: tuple[tuple[str, int], ...], service: str | None
) -> None:
    """Each URL form gives its kind, its hosts (default ports filled in), the plain URL
    redis-py is handed (credentials, database, driver options) and the Sentinel service."""
    target = parse(url, "p:")
    assert (target.kind, target.url, target.hosts, target.service) == (kind, plain, hosts, service)


def test_jwtgate_options_leave_the_url_before_redis_py_sees_it() -> None:
    """prefix, wait and sentinel_password are jwtgate's; the rest stays for redis-py."""
    target = parse(
        "redis+sentinel://a/m?prefix=app:&wait=2&sentinel_password=not-a-secret&protocol=3", "p:"
    )
    assert (target.prefix, target.wait, target.sentinel_password) == ("app:", 2, "not-a-secret")
    assert target.url == "redis://a:26379/?protocol=3"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("redis://a:1,b:2/0", "several hosts", id="two-hosts-plain"),
        pytest.param("redis+sentinel://a:26379", "names its service", id="no-service"),
        pytest.param("redis+sentinel://a/m/x", "names its service", id="bad-db"),
        pytest.param("redis+cluster://a:7000/1", "only database 0", id="cluster-db"),
        pytest.param("redis+cluster://a:7000?wait=-1", "'wait'", id="bad-wait"),
        pytest.param("redis+cluster://a:x", "host:port", id="bad-port"),
    ],
)
def test_a_redis_url_that_cannot_work_is_refused(url: str, message: str) -> None:
    """A URL that could only fail later is refused with what to change."""
    with pytest.raises(ValueError, match=message):
        parse(url, "p:")


@pytest.mark.slow
@pytest.mark.anyio
async def test_an_unreachable_cluster_fails_per_call_not_at_startup(anyio_backend: str) -> None:
    """Opening a cluster store connects nothing; each call to a cluster that is down is
    StoreUnavailable (503), sync and async."""
    url = f"redis+cluster://127.0.0.1:{free_port()}"
    with open_store(url, timeout=0.5) as store:
        with pytest.raises(StoreUnavailable):
            store.is_revoked("alice", None, "j", None)
        with pytest.raises(StoreUnavailable):
            store.revoke_jti("alice", "j", ttl=60)
    if anyio_backend != "asyncio":
        return  # redis-py's async client runs on asyncio only
    async with open_async_store(url, timeout=0.5) as astore:
        with pytest.raises(StoreUnavailable):
            await astore.revoke_jti("alice", "j", ttl=60)


@pytest.mark.slow
def test_a_write_too_few_replicas_confirm_is_refused_except_a_rotation(
    redis_cluster_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With wait=2 on a cluster of one replica per master, a revocation or a login is
    StoreUnavailable (retrying it is harmless); a rotation is answered, with a warning
    (a 503 would make the client's retry look like reuse)."""
    with open_store(redis_cluster_url, timeout=0.4) as store:
        store.create_session("alice", "s1", "r1", now=T0, ttl=60)
    with open_store(redis_cluster_url + "&wait=2", timeout=0.4) as strict:
        with pytest.raises(StoreUnavailable):
            strict.revoke_jti("alice", "j1", ttl=60)
        with pytest.raises(StoreUnavailable):
            strict.create_session("alice", "s2", "q1", now=T0, ttl=60)
        with caplog.at_level(logging.WARNING, logger="jwtgate"):
            rotated = strict.rotate("alice", "s1", "r1", "r2", now=T0, grace=0, ttl=60)
        assert (rotated.outcome, rotated.current) == ("rotated", "r2")
        assert "1 of 2 replicas confirmed" in caplog.text


@pytest.mark.slow
def test_a_cluster_with_the_aof_on_everywhere_is_persistent(redis_cluster: str) -> None:
    """The persistence check asks every master of a cluster (all have the AOF on here)."""
    assert persistence(redis_cluster) is True


@pytest.mark.slow
@pytest.mark.parametrize("group", ["redis_cluster_url", "redis_sentinel_url"])
def test_the_change_feed_hears_a_revocation_made_elsewhere(
    group: str, request: pytest.FixtureRequest
) -> None:
    """A feed on a cluster or a Sentinel group sees another store's revocation (its
    generation moves), so a revocation view over it stops serving what it cached."""
    url = str(request.getfixturevalue(group))
    feed = open_feed(url, interval=0.05)
    assert feed is not None
    try:
        assert feed.step() is True
        before = feed.generation
        with open_store(url) as other:
            other.revoke_jti("alice", "j1", ttl=60)
        feed.wait(5)  # returns at once when the announcement arrives
        assert feed.step() is True
        assert feed.generation > before
    finally:
        feed.release()


async def settled(method: Any, *args: Any, **kwargs: Any) -> Any:
    """A sync or an async store method's result."""
    result = method(*args, **kwargs)
    return await result if inspect.isawaitable(result) else result


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # redis-py's async client
async def test_a_write_to_a_stalled_cluster_node_is_sent_once(redis_cluster_url: str) -> None:
    """A rotation that times out on a cluster master frozen for 1.5 socket timeouts
    (SIGSTOP, then SIGCONT) is a 503 and ran once: redis-py's cluster pipeline would
    send the timed-out command again by itself, and the woken node would run both."""
    import redis as redis_py

    stores: list[Any] = [
        open_store(redis_cluster_url, timeout=0.3),
        open_async_store(redis_cluster_url, timeout=0.3),
    ]
    try:
        for n, store in enumerate(stores):
            sid = f"s{n}"
            await settled(store.create_session, "alice", sid, "r1", now=T0, ttl=60)
            node = stores[0].writer.get_node_from_key(stores[0].keys.family("alice", sid))
            inspector = redis_py.Redis(host=node.host, port=node.port)
            pid = int(inspector.info("server")["process_id"])
            inspector.config_resetstat()
            os.kill(pid, signal.SIGSTOP)
            waking = threading.Timer(0.45, os.kill, (pid, signal.SIGCONT))
            waking.start()
            try:
                with pytest.raises(StoreUnavailable):
                    await settled(store.rotate, "alice", sid, "r1", "r2", now=T0, grace=0, ttl=60)
            finally:
                waking.join()
                os.kill(pid, signal.SIGCONT)
            assert inspector.info("commandstats")["cmdstat_eval"]["calls"] == 1
            inspector.close()
    finally:
        stores[0].close()
        await stores[1].aclose()
