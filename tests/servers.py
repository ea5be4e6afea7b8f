"""Real servers for tests on 127.0.0.1, on free ports: an ASGI app under uvicorn in a
thread, a WSGI app under waitress in a thread, the WSGI e2e site under gunicorn in
processes of its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def uvicorn_server(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread; yield its base URL; stop it on exit."""
    import uvicorn  # here: the Flask and Django tox corners have waitress, not uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


@contextmanager
def waitress_server(app: Any, threads: int = 2) -> Iterator[str]:
    """Serve the WSGI ``app`` with waitress in a thread; yield its base URL; stop it on exit.

    ``server.close()`` from another thread races waitress's ``select`` over the same
    sockets (EBADF in the server thread): the loop runs in short steps instead and the
    serving thread closes everything itself once told to stop.
    """
    from waitress import wasyncore
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=threads)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, count=1)
        server.task_dispatcher.shutdown()
        wasyncore.close_all(server._map)  # the listener and any open connection

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop.set()
        thread.join(timeout=20)


@contextmanager
def gunicorn_e2e(env: dict[str, str], *options: str) -> Iterator[str]:
    """gunicorn serving ``e2e_sites:gunicorn_app()`` (sync workers) with ``options``;
    ``env`` adds to the environment (``JWTGATE_E2E_STORE``...). Yields the base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--chdir",
        str(Path(__file__).parent),
        "--bind",
        f"127.0.0.1:{port}",
        *options,
        "e2e_sites:gunicorn_app()",
    ]
    proc = subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "gunicorn did not start"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
