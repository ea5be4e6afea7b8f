"""How the attack table reaches each stack, and the one assertion every run makes.

ASGI stacks get the case's raw header bytes through ``httpx.ASGITransport``. WSGI
stacks get a PEP 3333 environ built the way a server builds it: each header line
becomes ``HTTP_*`` (latin-1 text), and repeated lines are joined with ``","`` into
one value, Cookie lines included (as gunicorn does, and Django's ASGIRequest).
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from attacks.cases import Case
from conftest import FakeClock

DRF_NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}


@dataclass(frozen=True)
class Answer:
    """A response: status, header values by lower-case name, body."""

    status: int
    headers: dict[str, list[str]]
    body: bytes


def clock() -> FakeClock:
    """The clock every stack's Gate runs on (NOW, the time the table is written for)."""
    return FakeClock()


def grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Header values by lower-case name."""
    result: dict[str, list[str]] = {}
    for name, value in pairs:
        result.setdefault(name.lower(), []).append(value)
    return result


# -- ASGI -------------------------------------------------------------------------------


def asgi_request(app: Any, case: Case, path: str = "/") -> Answer:
    """Send ``case`` to the ASGI ``app`` in-process through httpx.ASGITransport."""
    url = f"http://testserver{path}" + (f"?{case.query}" if case.query else "")

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport) as client:
            return await client.get(url, headers=list(case.headers))

    response = asyncio.run(send())
    return Answer(response.status_code, grouped(response.headers.multi_items()), response.content)


# -- WSGI -------------------------------------------------------------------------------


def environ(case: Case, path: str = "/") -> dict[str, Any]:
    """The PEP 3333 environ a server builds for ``case``."""
    env: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": case.query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    headers: dict[str, str] = {}
    for name, value in case.headers:
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        text = value.decode("latin-1")
        headers[key] = headers[key] + "," + text if key in headers else text
    env.update(headers)
    return env


def wsgi_request(app: Callable[..., Any], case: Case, path: str = "/") -> Answer:
    """Run the WSGI ``app`` on the environ of ``case``, as a server would."""
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((status, headers))
        return lambda data: None

    app_iter = app(environ(case, path), start_response)
    try:
        body = b"".join(app_iter)
    finally:
        close = getattr(app_iter, "close", None)
        if close is not None:
            close()
    status, headers = started[-1]
    return Answer(int(status.split()[0]), grouped(headers), body)


# -- the assertion ---------------------------------------------------------------------------


def check(case: Case, answer: Answer, ran: int, *, wsgi: bool, drf: bool = False) -> None:
    """``answer`` is exactly what ``case`` expects on this stack; the app ran only if accepted.

    DRF keeps its own body for a request without credentials (documented in
    jwtgate.contrib.drf); the status and challenge are jwtgate's.
    """
    expect = case.expected(wsgi)
    assert answer.status < 500
    if expect.accepted:
        assert (answer.status, json.loads(answer.body)) == (200, {"subject": expect.subject})
        assert ran == 1
        return
    assert ran == 0, "the app ran for a refused request"
    assert answer.status == expect.status
    assert answer.headers.get("www-authenticate") == [expect.challenge()]
    body = DRF_NOT_PROVIDED if drf and expect.error is None else expect.body()
    assert json.loads(answer.body) == body
