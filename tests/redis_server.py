"""A throwaway ``redis-server`` on a free loopback port, for the Redis store tests.

Without ``/usr/bin/redis-server`` (or ``redis-server`` on PATH) the Redis tests skip
with a clear reason, except under CI (``CI=true``) where a missing server fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import NoReturn

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_binary() -> str:
    """The redis-server path, or skip (fail under CI=true) with the reason.

    ``REDIS_SERVER`` names the binary explicitly; otherwise PATH, then
    /usr/bin/redis-server.
    """
    explicit = os.environ.get("REDIS_SERVER")
    if explicit is not None:
        found = explicit if Path(explicit).is_file() else None
    else:
        found = shutil.which("redis-server") or (
            "/usr/bin/redis-server" if Path("/usr/bin/redis-server").is_file() else None
        )
    if found is None:
        missing("redis-server not found (install Redis, or set REDIS_SERVER, to run these tests)")
    return found


def missing(reason: str) -> NoReturn:
    """Skip the test for a missing server binary, or fail it under CI (``CI=true``)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true requires it")
    pytest.skip(reason)


class RedisServer:
    """One redis-server process, without persistence unless ``aof`` (the AOF with
    ``appendfsync everysec``, as docs/stores.md recommends); can be stopped, killed
    and restarted on the same port and directory."""

    def __init__(self, binary: str, workdir: Path, *, aof: bool = False) -> None:
        self.binary = binary
        self.workdir = workdir
        self.aof = aof
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start on self.port and wait until it answers PING."""
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes" if self.aof else "no",
                "--appendfsync",
                "everysec",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open, nothing is answered."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server run again (SIGCONT): it then serves what queued up."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: no shutdown save, as in a crash or an OOM kill."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """Stop the server and wait for it to exit."""
        if self.process is not None:
            self.resume()  # a paused server would not act on SIGTERM
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def skip_async_redis_on_trio(url: str | None, anyio_backend: str) -> None:
    """Skip: redis-py's async client runs on asyncio only, so Redis async tests skip trio."""
    if str(url).startswith("redis") and anyio_backend != "asyncio":
        pytest.skip("redis-py's async client runs on asyncio only")
