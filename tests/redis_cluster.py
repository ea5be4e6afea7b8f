"""Throwaway Redis Clusters and Sentinel groups on free loopback ports (issue #16).

:class:`RedisCluster` starts three masters with one replica each
(``redis-server --cluster-enabled yes``, joined by ``redis-cli --cluster
create``); :class:`SentinelGroup` starts a master, a replica and three sentinels
(``redis-server --sentinel``). Both wait until they serve, and can kill a master to
drill a failover. Without the binaries (``redis-server``, ``redis-cli``) the tests
skip with the reason, except under CI (``CI=true``) where they fail.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from redis_server import free_port, missing, redis_binary

NODE_TIMEOUT_MS = 1000  # how long a master may be silent before a failover starts


def redis_cli_binary() -> str:
    """redis-cli beside redis-server, or on PATH; skip (fail under CI=true) without it."""
    beside = Path(redis_binary()).with_name("redis-cli")
    found = str(beside) if beside.is_file() else shutil.which("redis-cli")
    if found is None:
        missing("redis-cli not found (install Redis to run the Redis Cluster tests)")
    return found


def running(group: RedisCluster | SentinelGroup) -> Iterator[str]:
    """Start ``group``, yield its URL, stop it (also when starting failed half-way)."""
    try:
        group.start()
        yield group.url
    finally:
        group.stop()


def ask(port: int, *command: str) -> Any:
    """One command to 127.0.0.1:port, its parsed reply, or None when nothing answers."""
    import redis

    client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
    try:
        return client.execute_command(*command)
    except (redis.RedisError, OSError):
        return None
    finally:
        client.close()


def role(port: int) -> str | None:
    """``master`` or ``slave`` (as INFO says), None when the node does not answer."""
    info = ask(port, "INFO", "replication")
    return None if info is None else str(info.get("role"))


def in_sync(port: int) -> bool:
    """Whether the replica at ``port`` has its link to its master up."""
    info = ask(port, "INFO", "replication")
    return info is not None and info.get("master_link_status") == "up"


def wait_until(what: str, condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail the test naming ``what`` if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


class Node:
    """One redis-server process (a cluster node, a data node or a sentinel)."""

    def __init__(self, workdir: Path, port: int, args: list[str]) -> None:
        self.workdir = workdir
        self.port = port
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.args, cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def alive(self) -> bool:
        return ask(self.port, "PING") is True

    def kill(self) -> None:
        """SIGKILL: the process dies at once, without a chance to hand anything over."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None


def cluster_port() -> int:
    """A free port whose cluster bus port (the port + 10000) is free and valid too."""
    while True:
        port = free_port()
        if port + 10000 <= 65535:
            with socket.socket() as bus:
                try:
                    bus.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port


def _server_args(binary: str, port: int, *extra: str) -> list[str]:
    return [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", *extra]


class RedisCluster:
    """Three masters and three replicas on free ports, with AOF on (issue #16)."""

    def __init__(
        self, workdir: Path, masters: int = 3, node_timeout_ms: int = NODE_TIMEOUT_MS
    ) -> None:
        self.node_timeout_ms = node_timeout_ms
        self.binary = redis_binary()
        self.cli = redis_cli_binary()
        self.workdir = workdir
        self.nodes = [self._node(i) for i in range(masters * 2)]

    def _node(self, i: int) -> Node:
        port = cluster_port()
        args = _server_args(
            self.binary,
            port,
            "--cluster-enabled", "yes",
            "--cluster-config-file", f"nodes-{port}.conf",
            "--cluster-node-timeout", str(self.node_timeout_ms),
            "--appendonly", "yes",
        )  # fmt: skip
        return Node(self.workdir / f"node{i}", port, args)

    @property
    def url(self) -> str:
        """A ``redis+cluster://`` URL naming two of the nodes (one is enough to start)."""
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port},127.0.0.1:{self.nodes[1].port}"

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            wait_until(f"node {node.port} to answer", node.alive, 10)
        subprocess.run(
            [
                self.cli,
                "--cluster", "create",
                *(f"127.0.0.1:{node.port}" for node in self.nodes),
                "--cluster-replicas", "1",
                "--cluster-yes",
            ],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60,
        )  # fmt: skip
        wait_until("the cluster to serve every slot", self.healthy)

    def healthy(self) -> bool:
        """Every live node says cluster_state:ok, and every master has a replica in sync."""
        live = [node for node in self.nodes if node.process is not None]
        for node in live:
            if b"cluster_state:ok" not in (ask(node.port, "CLUSTER", "INFO") or b""):
                return False
        masters = self.masters()
        return len(masters) == len(self.nodes) // 2 and all(
            in_sync(node.port) for node in live if node not in masters
        )

    def masters(self) -> list[Node]:
        """The live nodes that are masters now."""
        return [
            node for node in self.nodes if node.process is not None and role(node.port) == "master"
        ]

    def node(self, port: int) -> Node:
        """The node listening on ``port``."""
        return next(node for node in self.nodes if node.port == port)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


class SentinelGroup:
    """A master, one replica and three sentinels watching them as ``service``."""

    def __init__(self, workdir: Path, service: str = "jwtgate") -> None:
        self.binary = redis_binary()
        self.workdir = workdir
        self.service = service
        master, replica = free_port(), free_port()
        aof = ("--appendonly", "yes")
        self.data = [
            Node(workdir / "master", master, _server_args(self.binary, master, *aof)),
            Node(
                workdir / "replica",
                replica,
                _server_args(self.binary, replica, *aof, "--replicaof", "127.0.0.1", str(master)),
            ),
        ]
        self.sentinels = [self._sentinel(i, master) for i in range(3)]

    def _sentinel(self, i: int, master: int) -> Node:
        port = free_port()
        workdir = self.workdir / f"sentinel{i}"
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "sentinel.conf"
        config.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {workdir}\n"
            f"sentinel monitor {self.service} 127.0.0.1 {master} 2\n"
            f"sentinel down-after-milliseconds {self.service} {NODE_TIMEOUT_MS}\n"
            f"sentinel failover-timeout {self.service} 10000\n"
            f"sentinel parallel-syncs {self.service} 1\n"
        )
        return Node(workdir, port, [self.binary, str(config), "--sentinel"])

    @property
    def url(self) -> str:
        """The ``redis+sentinel://`` URL of the group (every sentinel, the service, db 0)."""
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.service}/0"

    def master(self) -> Node:
        """The data node the sentinels name as master now."""
        for sentinel in self.sentinels:
            reply = ask(sentinel.port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)
            if reply:
                port = int(reply[1])  # [host, port]
                return next(node for node in self.data if node.port == port)
        raise LookupError("no sentinel names a master")

    def start(self) -> None:
        for node in [*self.data, *self.sentinels]:
            node.start()
        for node in [*self.data, *self.sentinels]:
            wait_until(f"node {node.port} to answer", node.alive, 10)
        wait_until("the replica to sync and every sentinel to see it", self.healthy)

    def healthy(self) -> bool:
        """The replica is in sync and every sentinel knows the replica and the others."""
        master = self.master()
        replicas = [node for node in self.data if node is not master and node.process is not None]
        if not all(in_sync(node.port) for node in replicas):
            return False
        for sentinel in self.sentinels:
            reply = ask(sentinel.port, "SENTINEL", "MASTER", self.service)
            state = reply if isinstance(reply, dict) else {}
            if state.get(b"num-slaves") != str(len(replicas)).encode():
                return False
            if state.get(b"num-other-sentinels") != str(len(self.sentinels) - 1).encode():
                return False
        return True

    def stop(self) -> None:
        for node in [*self.sentinels, *self.data]:
            node.stop()
