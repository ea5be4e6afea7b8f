"""How the Redis store reaches its data: one server, a Redis Cluster, or the master
a group of Sentinels names. The store URL chooses (docs/stores.md):

- ``redis://host:6379/0`` (``rediss://`` for TLS): one server, redis-py's ``Redis``;
- ``redis+cluster://host:port[,host:port…]``: a Redis Cluster (``RedisCluster``);
  the hosts are where discovery starts, one live node is enough;
- ``redis+sentinel://host:26379[,host:port…]/service[/db]``: the master of
  ``service`` as the sentinels name it (``Sentinel.master_for``), asked again after
  every dropped connection, so a failover is followed without a restart.

Options in the query string: ``prefix`` (the key prefix), ``wait`` (after each write,
``WAIT`` until that many replicas have it: see :data:`RedisTarget.wait`) and
``sentinel_password``; the rest (``ssl_cert_reqs``, ``protocol``…) go to redis-py.

Parsing imports nothing (the settings checks use it); redis-py is imported on first
use, with an install hint when it is missing. Besides the store's clients, two
things that only talk to the servers live here: :class:`RedisFeed`, the change
feed, and :func:`persistence`, the startup question whether the data survives a
restart.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from ._contract import logger, unavailable
from ._feed import ChangeFeed
from ._redis_ops import split_url

__all__ = [
    "RedisFeed",
    "RedisTarget",
    "Writes",
    "clients",
    "failures",
    "import_async",
    "import_sync",
    "parse",
    "persistence",
    "socket_timeout",
]

SCHEMES = frozenset(
    f"{tls}{mode}" for tls in ("redis", "rediss") for mode in ("", "+cluster", "+sentinel")
)
_OWN = ("wait", "sentinel_password")


@dataclass(frozen=True)
class RedisTarget:
    """What a Redis store URL names.

    ``url`` is a plain ``redis://``/``rediss://`` URL redis-py understands, on the
    first host, with the credentials, database and driver options; ``wait`` is how
    many replicas must have a write before it counts as done (0: the master's
    reply is enough, as with plain Redis).
    """

    kind: Literal["server", "cluster", "sentinel"]
    url: str
    hosts: tuple[tuple[str, int], ...]
    prefix: str
    wait: int = 0
    service: str | None = None
    sentinel_password: str | None = None


def _host(text: str, default_port: int) -> tuple[str, int]:
    host, port = text, ""
    if text.startswith("["):  # [::1]:6379
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    elif ":" in text:
        host, _, port = text.rpartition(":")
    if not host or (port and not (port.isdigit() and int(port) < 65536)):
        raise ValueError(f"{text!r} is not host:port")
    return host, int(port) if port else default_port


def parse(url: str, prefix: str) -> RedisTarget:
    """The target of a Redis store URL; ValueError saying what is wrong with it."""
    clean, prefix = split_url(url, prefix)
    parts = urlsplit(clean)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ValueError(f"{scheme!r} is not a Redis store scheme")
    base, _, mode = scheme.partition("+")
    query = parse_qsl(parts.query, keep_blank_values=True)
    own = {k: v for k, v in query if k in _OWN}
    rest = urlencode([(k, v) for k, v in query if k not in _OWN])
    wait_text = own.get("wait", "0")
    if not wait_text.isdigit() or int(wait_text) > 16:
        raise ValueError("'wait' should be a number of replicas from 0 to 16")
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    default_port = 26379 if mode == "sentinel" else 6379
    hosts = tuple(_host(h, default_port) for h in hostlist.split(",") if h or mode)
    if not hosts:
        hosts = (("localhost", 6379),)
    if mode == "" and len(hosts) > 1:
        raise ValueError("several hosts need 'redis+cluster://' or 'redis+sentinel://'")
    path = [unquote(p) for p in parts.path.split("/") if p]
    service = None
    if mode == "sentinel":
        if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
            raise ValueError(
                "a Sentinel URL names its service: redis+sentinel://host:26379/service/0"
            )
        service, path = path[0], path[1:]
    elif mode == "cluster" and path not in ([], ["0"]):
        raise ValueError("a Redis Cluster has only database 0")
    host, port = hosts[0]
    netloc = f"{userinfo}@" if userinfo else ""
    netloc += f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    plain = f"{base}://{netloc}/{path[0] if path else ''}" + (f"?{rest}" if rest else "")
    return RedisTarget(
        kind="cluster" if mode == "cluster" else "sentinel" if mode == "sentinel" else "server",
        url=plain,
        hosts=hosts,
        prefix=prefix,
        wait=int(wait_text),
        service=service,
        sentinel_password=own.get("sentinel_password"),
    )


class _Deferred:
    """A sync ``RedisCluster`` built on first use.

    Its constructor connects to discover the slots, and a store connects on first
    use (an unreachable cluster at startup is a 503 later, not a crash now).
    """

    def __init__(self, build: Callable[[], Any], script: Callable[[Any, bytes], Any]) -> None:
        self._build = build
        self._script = script
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._build()
                client = self._client
        return getattr(client, name)

    def register_script(self, script: str) -> Any:
        return self._script(self, script.encode())

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _retry(redis: Any, retry: Any, retries: int) -> Any:
    backoff = redis.backoff.ExponentialBackoff(cap=0.1, base=0.01)
    return retry(
        backoff if retries else redis.backoff.NoBackoff(),
        retries,
        supported_errors=(redis.ConnectionError,),  # a timeout is not retried
    )


def _cluster_class(redis: Any, base: Any) -> Any:
    # A read that timed out is not sent again (one socket timeout bounds a call to a
    # stalled node); a dropped connection or a cluster in failover is retried, once.
    errors = tuple(e for e in base.ERRORS_ALLOW_RETRY if e is not redis.TimeoutError)
    return type(base.__name__, (base,), {"ERRORS_ALLOW_RETRY": errors})


def clients(
    redis: Any, target: RedisTarget, timeout: float, *, asyncio: bool
) -> tuple[Any, Any, list[Any]]:
    """A reader that retries a dropped connection once, a writer that never retries
    (a write re-sent after a timeout would run twice once a frozen server wakes), and
    the clients of the sentinels, to close with them.

    ``redis`` is the imported package (with ``redis.asyncio`` when ``asyncio``).
    """
    lib = redis.asyncio if asyncio else redis
    retry_class = redis.asyncio.retry.Retry if asyncio else redis.retry.Retry
    socket = {"socket_timeout": timeout, "socket_connect_timeout": timeout}

    def client(retries: int) -> Any:
        retry = _retry(redis, retry_class, retries)
        if target.kind == "server":
            return lib.Redis.from_url(target.url, retry=retry, **socket)
        if target.kind == "sentinel":
            return sentinel.master_for(
                target.service, redis_class=lib.Redis, retry=retry, **options, **socket
            )
        cluster = _cluster_class(redis, lib.RedisCluster)
        node = redis.asyncio.cluster.ClusterNode if asyncio else redis.cluster.ClusterNode
        others = [node(host, port) for host, port in target.hosts[1:]]
        if asyncio:
            return cluster.from_url(target.url, startup_nodes=others, retry=retry, **socket)
        return _Deferred(
            lambda: cluster.from_url(target.url, startup_nodes=others, retry=retry, **socket),
            redis.commands.core.Script,
        )

    if target.kind == "sentinel":
        options = _data_options(redis, target)
        guard = {**socket, "password": target.sentinel_password}
        if target.url.startswith("rediss:"):
            guard["ssl"] = True
        sentinel = lib.Sentinel(list(target.hosts), sentinel_kwargs=guard)
        return client(1), client(0), list(sentinel.sentinels)
    return client(1), client(0), []


def _data_options(redis: Any, target: RedisTarget) -> dict[str, Any]:
    """The connection options of the URL (credentials, db, TLS…) without host and port."""
    options = dict(redis.connection.parse_url(target.url))
    options.pop("host", None)
    options.pop("port", None)
    if target.url.startswith("rediss:"):
        options.pop("connection_class", None)
        options["ssl"] = True
    return options


class Writes:
    """How a write is sent: once, as one pipeline, and with ``wait`` confirmed by that
    many replicas (``WAIT`` counts the writes of its own connection, so it follows
    the write down each connection the pipeline uses: one per cluster node)."""

    def __init__(self, writer: Any, wait: int, timeout: float) -> None:
        self.writer = writer
        self.wait = wait
        self.wait_ms = max(1, int(timeout * 500))  # half the socket timeout: the reply fits
        # Asked of the type: asking a deferred cluster client would build it now.
        self.cluster = isinstance(writer, _Deferred) or hasattr(type(writer), "get_node_from_key")

    def pipelined(
        self, keys: list[str], queue: tuple[Callable[[Any], object], ...], *, strict: bool
    ) -> tuple[Callable[[object], Any], Callable[[list[Any]], list[Any]]]:
        """The call that sends a write, and the reader of its replies.

        Each of ``queue`` puts one command in the pipeline, the first one the write
        itself (a script), the others its bookkeeping (the session's owner key, in
        another slot); ``keys`` are the keys they write. The reader raises
        StoreUnavailable if the first failed. If the bookkeeping failed or too few
        replicas confirmed, it does too when ``strict``, and only logs a warning
        otherwise (a rotation: a 503 for an applied rotation makes the retry reuse).
        """

        def send(_store: object) -> Any:
            pipe = self.writer.pipeline(transaction=False)
            for command in queue:
                command(pipe)
            for where in self._targets(keys):
                pipe.execute_command("WAIT", self.wait, self.wait_ms, **where)
            if not self.cluster:
                return pipe.execute(raise_on_error=False)
            # A cluster pipeline sends a command that failed (a timeout included) once
            # more by itself, which would run a write twice once a frozen node wakes.
            if inspect.iscoroutinefunction(pipe.execute):
                return self._send_async(pipe, keys)
            replies = _send_once(pipe)
            if _moved(replies):
                with suppress(*failures(import_sync())):
                    for key in keys:  # a redirected read teaches the client the new owner
                        self.writer.exists(key)
            return replies

        def read(replies: list[Any]) -> list[Any]:
            ours, waits = replies[: len(queue)], replies[len(queue) :]
            if isinstance(ours[0], Exception):
                raise unavailable("redis", ours[0]) from ours[0]
            problems = [r for r in ours if isinstance(r, Exception)]
            confirmed = min(
                (0 if isinstance(n, Exception) else int(n) for n in waits), default=self.wait
            )
            if confirmed < self.wait:
                message = f"{confirmed} of {self.wait} replicas confirmed the write in time"
                problems.append(import_sync().RedisError(message))
            if problems and strict:
                raise unavailable("redis", problems[0]) from problems[0]
            if problems:
                logger.warning("jwtgate: a rotation was applied, but: %s", problems[0])
            return ours

        return send, read

    async def _send_async(self, pipe: Any, keys: list[str]) -> Any:
        replies = await pipe.execute(raise_on_error=False, allow_redirections=False)
        if _moved(replies):
            with suppress(*failures(import_async())):
                for key in keys:  # a redirected read teaches the client the new owner
                    await self.writer.exists(key)
        return replies

    def _targets(self, keys: list[str]) -> list[dict[str, Any]]:
        if not self.wait:
            return []
        if not self.cluster:
            return [{}]
        nodes = {node.name: node for node in map(self.writer.get_node_from_key, keys)}
        return [{"target_nodes": node} for node in nodes.values()]


def _moved(replies: list[Any]) -> bool:
    """Whether a node answered that a slot lives elsewhere now (after a failover)."""
    return any(isinstance(r, import_sync().exceptions.AskError) for r in replies)


def _send_once(pipe: Any) -> Any:
    """Send a sync cluster pipeline without its re-sending of failed commands (the
    asyncio one takes ``allow_redirections=False`` in ``execute``; this one only in
    ``send_cluster_commands``, given the queued commands)."""
    strategy = getattr(pipe, "_execution_strategy", None)  # redis-py >= 6
    stack = strategy._command_queue if strategy is not None else pipe.command_stack
    try:
        return pipe.send_cluster_commands(stack, raise_on_error=False, allow_redirections=False)
    finally:
        pipe.reset()


def failures(redis: Any) -> tuple[type[Exception], ...]:
    """What redis-py raises when the servers cannot answer: a ``RedisError``, or a
    cluster error (``RedisClusterException`` is not one: no node reachable, say)."""
    return (redis.RedisError, redis.exceptions.RedisClusterException)


def servers(client: Any) -> list[Any]:
    """A plain client per master behind a sync store client (the cluster's primaries)."""
    if not hasattr(client, "get_primaries"):
        return [client]
    return [client.get_redis_connection(node) for node in client.get_primaries()]


_INSTALL_HINT = "the Redis store needs redis-py: pip install 'jwtgate[redis]'"


def import_sync() -> Any:
    try:
        import redis
        import redis.backoff
        import redis.retry
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return redis


def import_async() -> Any:
    try:
        import redis.asyncio
        import redis.asyncio.retry
        import redis.backoff
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return redis


def socket_timeout(client: Any) -> float | None:
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
    timeout = kwargs.get("socket_timeout")
    return float(timeout) if isinstance(timeout, (int, float)) else None


def _open_pubsub(client: Any) -> Any:
    """``client.pubsub()``, typed as Any on purpose.

    redis-py < 8.2 leaves ``pubsub()`` untyped and 8.2+ types it; going through
    Any keeps mypy's verdict the same for both, so no ``type: ignore`` depends on
    the installed version.
    """
    return client.pubsub(ignore_subscribe_messages=True)


class RedisFeed(ChangeFeed):
    """Subscribed to the revocation channel, and reading its counter every interval.

    The change feed is a store capability, not a cache: only the store knows which
    of its writes revoke, so it announces them (``INCR`` + ``PUBLISH`` in one
    script) and this feed listens. What to do with the news is the revocation
    cache's business (``jwtgate.feed``, a layer over stores); nothing here imports it.

    A published change wakes the thread at once; the counter catches anything
    published while the subscription was down, and proves the server answers.
    """

    def __init__(self, client: Any, channel: str, interval: float, *, owner: Any = None) -> None:
        super().__init__(interval)
        self.client = client
        self.channel = channel
        self._owner = owner  # closed when the feed stops: the store the client came from
        self._pubsub: Any = None

    def poll(self) -> object:
        if self._pubsub is None:
            pubsub = _open_pubsub(self.client)
            try:
                pubsub.subscribe(self.channel)
            except BaseException:
                pubsub.close()
                raise
            self._pubsub = pubsub
        return self.client.get(self.channel)

    def wait(self, timeout: float) -> None:
        pubsub = self._pubsub
        if pubsub is None:
            self._stop.wait(timeout)
            return
        try:
            pubsub.get_message(timeout=timeout)
        except Exception:  # noqa: BLE001 - the next poll resubscribes, or fails
            self.reset()

    def reset(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            pubsub.close()

    def release(self) -> None:
        self.reset()
        if self._owner is not None:
            self._owner.close()


def persistence(url: str, *, timeout: float = 2.0) -> bool | None:
    """Whether the Redis server at ``url`` keeps its data across a restart (RDB
    snapshots or the AOF are on; on a cluster, every master); None when it cannot
    be told (``CONFIG`` disabled, as on some managed services, or unreachable)."""
    redis = import_sync()
    client, writer, guards = clients(redis, parse(url, "jwtgate:"), timeout, asyncio=False)
    for other in (writer, *guards):
        other.close()
    answers = []
    try:
        for server in servers(client):
            appendonly = server.config_get("appendonly").get("appendonly")
            save = server.config_get("save").get("save")
            if appendonly is None and save is None:
                return None
            answers.append(appendonly == "yes" or bool(save))
    except failures(redis):
        return None
    finally:
        client.close()
    return all(answers) if answers else None
