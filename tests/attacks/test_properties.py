"""Property-based tests through both middlewares: whatever a client sends, jwtgate decides.

Arbitrary bytes in the Authorization header lines, the Cookie header and the query
string, and arbitrary JSON headers and payloads signed with the right key, are
sent to the raw ASGI middleware (a raw scope) and to the raw WSGI middleware (a
raw environ). The outcome is always the app running for a valid identity, or a
400/401/403/503 with its challenge and jwtgate's JSON body with the app not run:
never an exception, never a 5xx. With at most one Authorization line the two
stacks give byte-identical answers. tests/test_properties.py covers the Gate and
the settings.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attacks.cases import AUD, ISS, LEEWAY, profile_settings
from attacks.stacks import clock
from conftest import NOW, sign_raw
from jwtgate import Gate
from jwtgate.asgi import JWTGateMiddleware as ASGIMiddleware
from jwtgate.asgi import Message, Receive, Scope, Send
from jwtgate.wsgi import IDENTITY_KEY
from jwtgate.wsgi import JWTGateMiddleware as WSGIMiddleware

# A fixed budget: together the properties below stay within a few seconds.
BUDGET = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SETTINGS = profile_settings("hs")
RAN: list[str] = []


async def asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
    RAN.append("asgi")
    body = json.dumps({"subject": scope["user"].subject}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    RAN.append("wsgi")
    start_response("200 OK", [("content-type", "application/json")])
    return [json.dumps({"subject": environ[IDENTITY_KEY].subject}).encode()]


ASGI = ASGIMiddleware(asgi_app, gate=Gate(SETTINGS, clock=clock()))
WSGI = WSGIMiddleware(wsgi_app, gate=Gate(SETTINGS, clock=clock()))

Answer = tuple[int, dict[str, str], bytes]


def via_asgi(authorization: list[bytes], cookie: bytes | None, query: bytes) -> Answer:
    """The raw ASGI middleware's answer to these header lines and query bytes."""
    headers = [(b"authorization", value) for value in authorization]
    if cookie is not None:
        headers.append((b"cookie", cookie))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": query,
        "headers": headers,
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(ASGI(scope, receive, send))  # type: ignore[arg-type]
    start, body = sent
    names = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
    return start["status"], names, body["body"]


def via_wsgi(authorization: list[bytes], cookie: bytes | None, query: bytes) -> Answer:
    """The raw WSGI middleware's answer, on the environ a server builds for the same bytes."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": query.decode("latin-1"),
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    if authorization:
        environ["HTTP_AUTHORIZATION"] = ", ".join(v.decode("latin-1") for v in authorization)
    if cookie is not None:
        environ["HTTP_COOKIE"] = cookie.decode("latin-1")
    started: list[Any] = []
    body = b"".join(WSGI(environ, lambda status, headers: started.append((status, headers))))
    status, headers = started[0]
    return int(status.split()[0]), {k.lower(): v for k, v in headers}, body


def assert_decided(answer: Answer, ran: bool) -> None:
    """An accepted request ran the app; a refusal is a challenge and jwtgate's body."""
    status, headers, body = answer
    if status == 200:
        assert ran
        assert isinstance(json.loads(body)["subject"], str)
        return
    assert not ran
    assert status in (400, 401, 403, 503)
    assert "www-authenticate" in headers or "retry-after" in headers
    if "www-authenticate" in headers:
        assert headers["www-authenticate"].startswith('Bearer realm="api"')
    assert set(json.loads(body)) == {"error", "error_description"}


def both(authorization: list[bytes], cookie: bytes | None, query: bytes) -> list[Answer]:
    """Send the same bytes to both stacks; each is decided; one line means the same answer."""
    answers = []
    for via in (via_asgi, via_wsgi):
        RAN.clear()
        answer = via(authorization, cookie, query)
        assert_decided(answer, bool(RAN))
        answers.append(answer)
    if len(authorization) <= 1:
        assert answers[0][0] == answers[1][0]
        assert answers[0][2] == answers[1][2]
    return answers


header_bytes = st.binary(max_size=300) | st.builds(
    lambda scheme, rest: scheme + b" " + rest,
    st.sampled_from([b"Bearer", b"bearer", b"Basic", b""]),
    st.binary(max_size=200),
)


@BUDGET
@given(
    authorization=st.lists(header_bytes, max_size=2),
    cookie=st.none() | st.binary(max_size=200),
    query=st.binary(max_size=200),
)
def test_arbitrary_bytes_get_a_decision(
    authorization: list[bytes], cookie: bytes | None, query: bytes
) -> None:
    """Arbitrary Authorization, Cookie and query bytes: a decision from both stacks, never a 5xx."""
    both(authorization, cookie, query)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
near_now = st.integers(NOW - 2 * LEEWAY, NOW + 2 * LEEWAY) | st.floats(NOW - 100, NOW + 100)


@BUDGET
@given(
    header=st.dictionaries(
        st.sampled_from(["kid", "typ", "crit", "cty", "jku", "jwk", "x5c", "b64", "zip"]),
        json_values,
        max_size=3,
    ),
    payload=st.fixed_dictionaries(
        {},
        optional={
            "sub": st.text(max_size=10) | json_values,
            "iss": st.just(ISS) | json_values,
            "aud": st.sampled_from([AUD, [AUD], ["x", AUD]]) | json_values,
            "exp": near_now | json_values,
            "nbf": near_now | json_values,
            "iat": near_now | json_values,
            "jti": json_values,
            "scope": json_values,
            "token_use": st.just("access") | json_values,
        },
    ),
    place=st.sampled_from(["header", "cookie", "query"]),
)
def test_arbitrary_signed_json_gets_a_decision(
    header: dict[str, Any], payload: dict[str, Any], place: str
) -> None:
    """Arbitrary JSON header and claims signed with the right key: a decision, never a 5xx."""
    token = sign_raw({"alg": "HS256", **header}, payload).encode()
    authorization = [b"Bearer " + token] if place == "header" else []
    cookie = b"access_token=" + token if place == "cookie" else None
    query = b"access_token=" + token if place == "query" else b""
    answers = both(authorization, cookie, query)
    if answers[0][0] == 200:
        assert isinstance(payload.get("sub"), str)
        assert payload.get("iss") == ISS
        assert payload["exp"] + LEEWAY > NOW
