"""Shared pieces of the WSGI, Flask, Django and DRF tests: wall-clock tokens,
the table of refused requests with their exact answers, and real servers."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from conftest import SECRET, make_token

OTHER_SECRET = "another-secret-0123456789-abcdefghijklmnopqrstuv"
REALM = 'Bearer realm="api"'


def token(claims: Mapping[str, Any] | None = None, **kwargs: Any) -> str:
    """A token valid now (servers in subprocesses use the real clock)."""
    kwargs.setdefault("now", time.time())
    return make_token(claims, **kwargs)


def bearer(claims: Mapping[str, Any] | None = None, **kwargs: Any) -> dict[str, str]:
    """An ``Authorization`` header carrying :func:`token`."""
    return {"Authorization": f"Bearer {token(claims, **kwargs)}"}


def challenge(error: str, description: str, extra: str = "") -> str:
    """The exact ``WWW-Authenticate`` value jwtgate sends for ``error``."""
    return f'{REALM}, error="{error}", error_description="{description}"{extra}'


def body(error: str, description: str) -> dict[str, str]:
    """The JSON body jwtgate sends with a refusal."""
    return {"error": error, "error_description": description}


@dataclass(frozen=True)
class Refusal:
    """A refused request: its headers and the exact answer expected."""

    headers: dict[str, str]
    status: int
    www_authenticate: str
    body: dict[str, str]


def refusals() -> list[Any]:
    """The refusal table, as ``pytest.param`` rows with readable ids."""
    rows = {
        "missing": Refusal(
            {}, 401, REALM, body("authentication_required", "authentication required")
        ),
        "expired": Refusal(
            bearer(now=time.time() - 3600),
            401,
            challenge("invalid_token", "token expired"),
            body("invalid_token", "token expired"),
        ),
        "bad-signature": Refusal(
            bearer(key=OTHER_SECRET),
            401,
            challenge("invalid_token", "signature verification failed"),
            body("invalid_token", "signature verification failed"),
        ),
        "alg-none": Refusal(
            bearer(key=None, algorithm="none"),
            401,
            challenge("invalid_token", "algorithm not allowed"),
            body("invalid_token", "algorithm not allowed"),
        ),
        "malformed": Refusal(
            {"Authorization": "Bearer not-a-jwt"},
            401,
            challenge("invalid_token", "malformed token"),
            body("invalid_token", "malformed token"),
        ),
        "empty-bearer": Refusal(
            {"Authorization": "Bearer "},
            400,
            challenge("invalid_request", "missing token"),
            body("invalid_request", "missing token"),
        ),
    }
    return [pytest.param(refusal, id=name) for name, refusal in rows.items()]


def scope_refusal(scopes: str) -> tuple[int, str, dict[str, str]]:
    """Status, challenge and body of a 403 for a missing ``scopes``."""
    return (
        403,
        challenge("insufficient_scope", "insufficient scope", f', scope="{scopes}"'),
        body("insufficient_scope", "insufficient scope"),
    )


def assert_refused(
    status: int, headers: Mapping[str, str], content: bytes, expected: Refusal
) -> None:
    """The response is exactly the refusal ``expected``."""
    assert status == expected.status
    assert headers["WWW-Authenticate"] == expected.www_authenticate
    assert json.loads(content) == expected.body


# -- real servers ------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(url: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``url`` until the server answers (any status), or fail after 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise RuntimeError(f"server exited with {proc.returncode}:\n{out}")
        try:
            httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.05)
        else:
            return
    raise RuntimeError(f"server at {url} did not come up")


@contextlib.contextmanager
def server_process(args: list[str], port: int, env: Mapping[str, str]) -> Iterator[str]:
    """Run a server command (gunicorn, uvicorn) listening on ``port``; yield its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/", proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


@contextlib.contextmanager
def waitress_thread(app: Any) -> Iterator[str]:
    """Serve the WSGI ``app`` with waitress on 127.0.0.1 in a thread; yield its base URL."""
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    port = server.socket.getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        thread.join(timeout=10)


__all__ = ["SECRET"]
