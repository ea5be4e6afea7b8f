"""Shared pieces of the WSGI, Flask, Django and DRF tests: wall-clock tokens,
the table of refused requests with their exact answers, README examples (each the
code block after ``<!-- readme-test: NAME -->``), and real servers."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import re
import socket
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import SECRET, make_token
from jwtgate import Issuer, Settings
from jwtgate.errors import KeySourceUnavailable
from jwtgate.keys import VerificationKey

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


def _invalid(description: str, headers: dict[str, str]) -> Refusal:
    return Refusal(
        headers,
        401,
        challenge("invalid_token", description),
        body("invalid_token", description),
    )


def _table() -> dict[str, Refusal]:
    # Built on each call: the tokens are minted against the wall clock.
    return {
        "missing": Refusal(
            {}, 401, REALM, body("authentication_required", "authentication required")
        ),
        "expired": _invalid("token expired", bearer(now=time.time() - 3600)),
        "bad-signature": _invalid("signature verification failed", bearer(key=OTHER_SECRET)),
        "alg-none": _invalid("algorithm not allowed", bearer(key=None, algorithm="none")),
        "malformed": _invalid("malformed token", {"Authorization": "Bearer not-a-jwt"}),
        "empty-bearer": Refusal(
            {"Authorization": "Bearer"},  # no token after the scheme
            400,
            challenge("invalid_request", "missing token"),
            body("invalid_request", "missing token"),
        ),
    }


def refusal(name: str) -> Refusal:
    """One row of the refusal table (``missing``, ``expired``, ...)."""
    return _table()[name]


def refusals(*skip: str) -> list[Any]:
    """The refusal table (less ``skip``), as ``pytest.param`` rows with readable ids."""
    return [pytest.param(row, id=name) for name, row in _table().items() if name not in skip]


def scope_refusal(scopes: str, headers: dict[str, str] | None = None) -> Refusal:
    """A 403 for a token lacking ``scopes``."""
    return Refusal(
        headers or {},
        403,
        challenge("insufficient_scope", "insufficient scope", f', scope="{scopes}"'),
        body("insufficient_scope", "insufficient scope"),
    )


USER_REFUSED = _invalid("unknown or inactive user", {})
"""A valid token whose subject is an unknown or inactive user (``load_user``)."""


def in_realm(expected: Refusal, realm: str) -> Refusal:
    """``expected`` as answered with another ``realm`` setting."""
    value = expected.www_authenticate.replace('realm="api"', f'realm="{realm}"', 1)
    return dataclasses.replace(expected, www_authenticate=value)


def assert_refused(response: Any, expected: Refusal) -> None:
    """``response`` (werkzeug, Django or httpx) is exactly the refusal ``expected``."""
    content = response.content if hasattr(response, "content") else response.data
    assert response.status_code == expected.status
    assert response.headers["WWW-Authenticate"] == expected.www_authenticate
    assert json.loads(content) == expected.body


class UnreachableKeys:
    """A key source whose remote end is down (as a JWKS URL can be)."""

    def get(self, alg: str, kid: str | None) -> VerificationKey:
        raise KeySourceUnavailable()

    async def get_async(self, alg: str, kid: str | None) -> VerificationKey:
        raise KeySourceUnavailable()


# -- README examples ------------------------------------------------------------

README = Path(__file__).resolve().parent.parent / "README.md"


def example(name: str) -> str:
    """The code of the README block marked ``<!-- readme-test: <name> -->``."""
    pattern = rf"<!-- readme-test: {re.escape(name)} -->\n```python\n(.*?)```"
    found = re.findall(pattern, README.read_text(encoding="utf-8"), re.DOTALL)
    assert len(found) == 1, f"README has {len(found)} blocks marked readme-test: {name}"
    code: str = found[0]
    return code


def run_example(name: str, module: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Execute the example as module ``module`` (in sys.modules for the test); its namespace."""
    mod = types.ModuleType(module)
    monkeypatch.setitem(sys.modules, module, mod)
    exec(compile(example(name), f"README.md:{name}", "exec"), mod.__dict__)
    return mod.__dict__


def recording(name: str, view: Callable[..., Any], ran: list[str]) -> Callable[..., Any]:
    """``view`` wrapped to append ``name`` to ``ran`` each time it is called."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ran.append(name)
        return view(*args, **kwargs)

    return wrapper


def token_for(jwtgate: dict[str, Any], subject: str = "alice", scope: str = "") -> dict[str, str]:
    """An Authorization header with a token minted by jwtgate's Issuer for these settings."""
    issued = Issuer(Settings.from_dict(jwtgate)).access_token(subject, claims={"scope": scope})
    return {"Authorization": f"Bearer {issued}"}


# -- real servers ------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``url`` until the server answers (any status), or fail after 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.05)
        else:
            return
    raise RuntimeError(f"server at {url} did not come up:\n{log.read_text()}")


@contextlib.contextmanager
def server_process(args: list[str], port: int, env: Mapping[str, str], log: Path) -> Iterator[str]:
    """Run ``python -m <args>`` (gunicorn, uvicorn) listening on ``port``; yield its base URL.

    Its output goes to ``log`` (a pipe nobody reads could fill and stall it).
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/", proc, log)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def waitress_thread(app: Any) -> Iterator[str]:
    """Serve the WSGI ``app`` with waitress on 127.0.0.1 in a thread; yield its base URL."""
    from servers import waitress_server

    with waitress_server(app) as url:
        yield url


__all__ = ["SECRET"]
