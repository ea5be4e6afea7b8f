"""The DPoP attack table, run through raw ASGI and raw WSGI apps: every hostile
request is refused with RFC 9449's answer, never a 5xx, and the app never runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jwt
import pytest

from jwtgate.testing import DPoPKey, FrozenClock, dpop_key

from .support import NOW, URL, Stack, dpop_settings, mint

Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class World:
    key: DPoPKey
    token: str  # bound to key
    plain: str  # bound to nothing
    clock: FrozenClock

    def proof(
        self, method: str = "GET", url: str = URL, token: str | None = None, **kw: object
    ) -> str:
        return self.key.proof(method, url, token or self.token, clock=self.clock, **kw)  # type: ignore[arg-type]

    def dpop(self, proof: str, token: str | None = None) -> Headers:
        return [("Authorization", f"DPoP {token or self.token}"), ("DPoP", proof)]


def _b64(text: str) -> str:
    import base64

    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def _none_proof(w: World) -> str:
    header = _b64(
        '{"typ":"dpop+jwt","alg":"none","jwk":' + __import__("json").dumps(w.key.jwk) + "}"
    )
    claims = _b64(f'{{"htm":"GET","htu":"{URL}","iat":{NOW},"jti":"n"}}')
    return f"{header}.{claims}."


def _hs256_proof(w: World) -> str:
    claims = {"htm": "GET", "htu": URL, "iat": NOW, "jti": "h"}
    return jwt.encode(claims, "k" * 32, "HS256", headers={"typ": "dpop+jwt", "jwk": w.key.jwk})


# name -> (the request's headers, expected status, error code, description)
CASES: dict[str, tuple[Callable[[World], Headers], int, str, str]] = {
    "wrong htm": (
        lambda w: w.dpop(w.proof("POST")),
        401,
        "invalid_dpop_proof",
        "DPoP proof htm does not match the request",
    ),
    "wrong htu": (
        lambda w: w.dpop(w.proof(url="http://api.example/admin")),
        401,
        "invalid_dpop_proof",
        "DPoP proof htu does not match the request",
    ),
    "other host in htu": (
        lambda w: w.dpop(w.proof(url="http://evil.example/orders")),
        401,
        "invalid_dpop_proof",
        "DPoP proof htu does not match the request",
    ),
    "stale iat": (
        lambda w: w.dpop(w.proof(iat=NOW - 120)),
        401,
        "invalid_dpop_proof",
        "DPoP proof iat outside the accepted window",
    ),
    "future iat": (
        lambda w: w.dpop(w.proof(iat=NOW + 120)),
        401,
        "invalid_dpop_proof",
        "DPoP proof iat outside the accepted window",
    ),
    "wrong ath": (
        lambda w: w.dpop(w.proof(token=w.plain)),
        401,
        "invalid_dpop_proof",
        "DPoP proof ath does not match the access token",
    ),
    "no ath": (
        lambda w: w.dpop(w.key.proof("GET", URL, clock=w.clock)),
        401,
        "invalid_dpop_proof",
        "DPoP proof ath does not match the access token",
    ),
    "proof by another key": (
        lambda w: w.dpop(dpop_key().proof("GET", URL, w.token, clock=w.clock)),
        401,
        "invalid_dpop_proof",
        "DPoP proof key does not match the token",
    ),
    "private key in jwk": (
        lambda w: w.dpop(w.proof(headers={"jwk": {**w.key.jwk, "d": "AAAA"}})),
        401,
        "invalid_dpop_proof",
        "DPoP proof jwk holds a private key",
    ),
    "alg none": (
        lambda w: w.dpop(_none_proof(w)),
        401,
        "invalid_dpop_proof",
        "DPoP proof algorithm not accepted",
    ),
    "HS256 proof": (
        lambda w: w.dpop(_hs256_proof(w)),
        401,
        "invalid_dpop_proof",
        "DPoP proof algorithm not accepted",
    ),
    "typ jwt": (
        lambda w: w.dpop(w.proof(headers={"typ": "JWT"})),
        401,
        "invalid_dpop_proof",
        "DPoP proof typ is not dpop+jwt",
    ),
    "two DPoP headers": (
        lambda w: [*w.dpop(w.proof()), ("DPoP", w.proof())],
        401,
        "invalid_dpop_proof",
        "more than one DPoP proof",
    ),
    "no DPoP header": (
        lambda w: [("Authorization", f"DPoP {w.token}")],
        401,
        "invalid_dpop_proof",
        "DPoP proof missing",
    ),
    "oversized proof": (
        lambda w: w.dpop("e" * 9000),
        401,
        "invalid_dpop_proof",
        "DPoP proof too large",
    ),
    "malformed base64": (
        lambda w: w.dpop("!!!.@@@.###"),
        401,
        "invalid_dpop_proof",
        "malformed DPoP proof",
    ),
    "malformed JSON": (
        lambda w: w.dpop(_b64("{not json") + "." + _b64("{}") + ".sig"),
        401,
        "invalid_dpop_proof",
        "malformed DPoP proof",
    ),
    "bound token as Bearer": (
        lambda w: [("Authorization", f"Bearer {w.token}")],
        401,
        "invalid_token",
        "token is bound to a DPoP key",
    ),
    "Bearer token with a proof": (
        lambda w: [("Authorization", f"Bearer {w.plain}"), ("DPoP", w.proof(token=w.plain))],
        400,
        "invalid_request",
        "DPoP proof sent with a Bearer token",
    ),
    "unbound token as DPoP": (
        lambda w: w.dpop(w.proof(token=w.plain), token=w.plain),
        401,
        "invalid_token",
        "token is not DPoP-bound",
    ),
}


@pytest.fixture(params=["asgi", "wsgi"])
def stack_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def world() -> World:
    settings = dpop_settings()
    key = dpop_key()
    return World(key, mint(settings, key), mint(settings), FrozenClock(NOW))


@pytest.mark.parametrize("name", list(CASES))
def test_each_attack_is_refused_with_the_rfc_answer(stack_kind: str, name: str) -> None:
    w = world()
    stack = Stack(stack_kind, dpop_settings(), w.clock)
    build, status, error, description = CASES[name]
    answer = stack.request("GET", "/orders", build(w))
    assert (answer.status, answer.body) == (
        status,
        f'{{"error":"{error}","error_description":"{description}"}}'.encode(),
    )
    challenge = answer.headers["www-authenticate"]
    if error == "invalid_request":  # a Bearer request: the Bearer challenge, DPoP offered
        assert challenge.startswith('Bearer realm="api", error="invalid_request"')
        assert challenge.endswith(', DPoP algs="ES256 ES384 PS256 RS256 EdDSA"')
    else:
        assert challenge.startswith(
            f'DPoP algs="ES256 ES384 PS256 RS256 EdDSA", realm="api", error="{error}"'
        )


def test_a_replayed_proof_is_refused(stack_kind: str) -> None:
    w = world()
    stack = Stack(stack_kind, dpop_settings(), w.clock)
    headers = w.dpop(w.proof())
    assert stack.request("GET", "/orders", headers).body == b"alice"
    again = stack.request("GET", "/orders", headers)
    assert (again.status, again.body) == (
        401,
        b'{"error":"invalid_dpop_proof","error_description":"DPoP proof already used"}',
    )


def test_good_requests_pass_and_bearer_still_works_when_allowed(stack_kind: str) -> None:
    w = world()
    stack = Stack(stack_kind, dpop_settings(), w.clock)
    for method in ("GET", "POST", "DELETE"):
        answer = stack.request(method, "/orders", w.dpop(w.proof(method)))
        assert (answer.status, answer.body) == (200, b"alice"), method
    # The scheme is case-insensitive; the htu's host case and default port do not matter.
    spelled = [
        ("Authorization", f"dpop {w.token}"),
        ("DPoP", w.proof(url="HTTP://API.example:80/orders")),
    ]
    assert stack.request("GET", "/orders", spelled).status == 200
    assert stack.request("GET", "/orders", [("Authorization", f"Bearer {w.plain}")]).status == 200


def test_require_refuses_bearer_tokens_and_says_so(stack_kind: str) -> None:
    w = world()
    stack = Stack(stack_kind, dpop_settings(dpop="require"), w.clock)
    answer = stack.request("GET", "/orders", [("Authorization", f"Bearer {w.plain}")])
    assert answer.status == 401
    assert answer.headers["www-authenticate"].startswith(
        'DPoP algs="ES256 ES384 PS256 RS256 EdDSA", realm="api", error="invalid_token"'
    )
    missing = stack.request("GET", "/orders", [])
    assert (missing.status, missing.headers["www-authenticate"]) == (
        401,
        'DPoP algs="ES256 ES384 PS256 RS256 EdDSA", realm="api"',
    )
    assert stack.request("GET", "/orders", w.dpop(w.proof())).body == b"alice"


def test_server_nonces_are_asked_for_then_accepted(stack_kind: str) -> None:
    w = world()
    stack = Stack(stack_kind, dpop_settings(dpop_nonce="n" * 32), w.clock)
    first = stack.request("GET", "/orders", w.dpop(w.proof()))
    assert first.status == 401
    assert first.headers["www-authenticate"].startswith(
        'DPoP algs="ES256 ES384 PS256 RS256 EdDSA", realm="api", error="use_dpop_nonce"'
    )
    nonce = first.headers["dpop-nonce"]
    assert stack.request("GET", "/orders", w.dpop(w.proof(nonce=nonce))).body == b"alice"
    w.clock.advance(200)  # two windows later the nonce is stale: a fresh one is handed out
    stale = stack.request("GET", "/orders", w.dpop(w.proof(nonce=nonce)))
    assert stale.status == 401
    assert stale.headers["dpop-nonce"] != nonce


def test_the_resource_origin_is_the_htu_behind_a_proxy(stack_kind: str) -> None:
    """With RESOURCE, the proof names the public URL even though the app is reached
    as http://api.example (a proxy in front terminating TLS)."""
    w = world()
    settings = dpop_settings(resource="https://public.example/orders", audience=None)
    stack = Stack(stack_kind, settings, w.clock)
    key = w.key
    token = mint(settings, key)
    public = key.proof("GET", "https://public.example/orders", token, clock=w.clock)
    assert stack.request("GET", "/orders", w.dpop(public, token)).status == 200
    internal = key.proof("GET", URL, token, clock=w.clock)
    assert stack.request("GET", "/orders", w.dpop(internal, token)).status == 401


def _handshake(stack: Stack, headers: Headers) -> list[dict[str, object]]:
    """A websocket handshake through the raw ASGI middleware: the messages sent."""
    import asyncio

    scope = {
        "type": "websocket",
        "scheme": "ws",
        "path": "/orders",
        "raw_path": b"/orders",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers]
        + [(b"host", b"api.example")],
    }
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        await send({"type": "websocket.accept"})  # type: ignore[operator]

    from jwtgate.asgi import JWTGateMiddleware

    asyncio.run(JWTGateMiddleware(app, gate=stack.gate)(scope, receive, send))
    return sent


def test_websocket_handshakes_check_the_proof() -> None:
    """A handshake is a GET: the proof names GET and the ws URL's http twin."""
    w = world()
    stack = Stack("asgi", dpop_settings(), w.clock)
    good = _handshake(stack, w.dpop(w.proof("GET", "ws://api.example/orders")))
    assert good == [{"type": "websocket.accept"}]
    bad = _handshake(stack, w.dpop(w.proof("POST")))
    assert bad == [
        {
            "type": "websocket.close",
            "code": 1008,
            "reason": "DPoP proof htm does not match the request",
        }
    ]
    bearer = _handshake(stack, [("Authorization", f"Bearer {w.token}")])
    assert bearer[0]["code"] == 1008
