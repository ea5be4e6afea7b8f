"""Bounded work, shown deterministically: Python function calls counted, never timed.

``sys.setprofile`` counts every Python and built-in call the Gate makes for one
request. The worst inputs we know (tokens at the size cap, a 1 MB header, 2 KB
header segments, 8 KB cookies and query strings with thousands of parameters,
deeply nested JSON) must stay within 10x the calls of a normal valid request,
and a token over ``max_token_bytes`` must be refused before any base64 or JSON
decoding. benchmarks/bench_hostile.py reports the same comparison as time ratios.
"""

from __future__ import annotations

import base64
import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import pytest

from attacks.cases import LEEWAY, MAX_TOKEN_BYTES, VALID, claims, profile_settings, seg, signed
from attacks.stacks import clock
from jwtgate import Gate, RequestInfo, Verifier

# Uncached (#9): a warm verified-token cache would answer the normal request
# without any decoding, and the comparison is with a full verification.
GATE = Gate(profile_settings("pk", verify_cache_size=0), clock=clock())
# An 8 KB header or request line is what common servers accept by default
# (gunicorn's limit_request_field_size is 8190 bytes).
EIGHT_KB = 8 * 1024
HEAD, PAYLOAD, SIGNATURE = VALID.split(".")


def request(
    authorization: str | None = None, cookie: str | None = None, query: str = ""
) -> RequestInfo:
    """A GET / with these credentials."""
    return RequestInfo("GET", "/", (authorization,) if authorization else (), cookie, query)


def _filler(unit: str, tail: str) -> str:
    return unit * ((EIGHT_KB - len(tail)) // len(unit)) + tail


@dataclass
class Trace:
    """What one action called: functions (module.name, in order) and generator steps."""

    functions: list[str] = field(default_factory=list)
    steps: int = 0

    def modules(self) -> set[str]:
        return {name.rsplit(".", 1)[0] for name in self.functions}


def traced(action: Callable[[], Any]) -> Trace:
    """Run ``action`` under ``sys.setprofile`` and record every call it makes.

    A generator's frame reports a "call" each time it resumes: those are steps of
    one loop (PyJWT 2.15 checks the base64url alphabet character by character),
    counted apart from function calls.
    """
    trace = Trace()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            if frame.f_code.co_flags & inspect.CO_GENERATOR:
                trace.steps += 1
            else:
                trace.functions.append(f"{frame.f_globals.get('__name__')}.{frame.f_code.co_name}")
        elif event == "c_call":
            owner = getattr(arg, "__module__", None) or type(arg.__self__).__name__
            trace.functions.append(f"{owner}.{arg.__name__}")

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return trace


def decoding(trace: Trace) -> list[str]:
    """The base64, JSON-parsing and PyJWT calls in ``trace`` (json.dumps of the answer is fine)."""
    return [
        name
        for name in trace.functions
        if name.split(".")[0] in ("base64", "binascii", "jwt")
        or name.startswith(("json.decoder", "json.loads", "_json"))
    ]


def cost(info: RequestInfo) -> Trace:
    """What the Gate calls to decide ``info``, warm (patterns compiled once are compiled)."""
    GATE.decide(info)
    return traced(lambda: GATE.decide(info))


WORST = {
    "token-at-cap-garbage": request("Bearer " + "A" * 4000 + "." + "A" * 4190 + "."),
    "header-1mb": request("Bearer " + "A" * 1_000_000),
    "header-1mb-spaces": request("Bearer" + " " * 1_000_000 + VALID),
    "header-segment-2kb-members": request(
        "Bearer " + seg({"alg": "RS256", **{f"k{i}": i for i in range(120)}}) + ".e30.e30"
    ),
    "header-segment-2kb-nested": request(
        "Bearer " + seg(json.loads("[" * 700 + "]" * 700)) + ".e30.e30"
    ),
    "signed-payload-near-cap": request(
        "Bearer " + signed(claims(**{f"c{i}": i for i in range(450)}))
    ),
    "signed-payload-nested-2000": request(
        "Bearer "
        + signed((json.dumps(claims())[:-1] + ', "x": ' + "[" * 2000 + "]" * 2000 + "}").encode())
    ),
    "signed-payload-expired": request("Bearer " + signed(claims(exp=clock()() - LEEWAY - 1))),
    "cookie-8kb-pairs": request(cookie=_filler("a=b;", "access_token=" + VALID)),
    "cookie-8kb-name-inside-values": request(cookie=_filler("x=access_token;", "")),
    "query-8kb-pairs": request(query=_filler("a=b&", "access_token=" + VALID)),
    "query-8kb-percent-keys": request(query=_filler("%61=b&", "access_token=" + VALID)),
    "query-8kb-percent-near-name": request(
        query=_filler("%61ccess_toke%6E=&", "access_token=" + VALID)
    ),
    "query-8kb-plus-keys": request(query=_filler("a+b=c&", "access_token=" + VALID)),
}


def test_a_normal_request_decodes_base64_and_json() -> None:
    """The detector sees decoding when it happens: a valid token goes through base64 and JSON."""
    trace = cost(request(f"Bearer {VALID}"))
    assert {"binascii", "json"} <= trace.modules()
    assert "json.loads" in trace.functions
    assert decoding(trace)


def json_containers(info: RequestInfo) -> int:
    """How many JSON arrays and objects the payload of ``info``'s token holds (at most)."""
    payload = info.authorization[0].split(".")[1]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return raw.count(b"[") + raw.count(b"{")


@pytest.mark.parametrize("name", sorted(WORST))
def test_worst_inputs_stay_within_ten_times_a_normal_request(name: str) -> None:
    """No hostile input costs more than 10x the function calls of a normal valid request
    (a validly signed payload, plus a constant per JSON container it holds).

    Loop steps are bounded apart: at most two per byte of the token size cap.
    """
    normal = cost(request(f"Bearer {VALID}"))
    worst = cost(WORST[name])
    allowed = 10 * len(normal.functions)
    if name.startswith("signed-"):
        # Only a token signed with our key has its payload parsed; its claims are then
        # frozen (an Identity is immutable all the way down), which is linear in the
        # JSON arrays and objects they hold. An unsigned input gets no such allowance.
        allowed += 16 * json_containers(WORST[name])
    assert len(worst.functions) <= allowed
    assert worst.steps <= 2 * MAX_TOKEN_BYTES


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(request("Bearer " + "A" * (MAX_TOKEN_BYTES + 1)), id="header"),
        pytest.param(request(f"Bearer {HEAD}.{'A' * 1_000_000}.{SIGNATURE}"), id="header-1mb"),
        pytest.param(request(cookie="access_token=" + "A" * (MAX_TOKEN_BYTES + 1)), id="cookie"),
        pytest.param(request(query="access_token=" + "A" * (MAX_TOKEN_BYTES + 1)), id="query"),
        pytest.param(
            request(query="access_token=" + "%41" * (MAX_TOKEN_BYTES + 1)), id="query-encoded"
        ),
    ],
)
def test_oversized_token_is_refused_before_any_decoding(where: RequestInfo) -> None:
    """A token over max_token_bytes is refused without a single base64, JSON or PyJWT call."""
    outcome: list[Any] = []
    trace = traced(lambda: outcome.append(GATE.decide(where)))
    assert outcome[0].error.description == "token too large"
    assert decoding(trace) == []


@pytest.mark.parametrize("kind", [str, bytes])
def test_verifier_checks_the_size_first(kind: type) -> None:
    """Verifier.verify refuses an oversized str or bytes token before decoding anything."""
    text = f"{HEAD}.{'A' * (MAX_TOKEN_BYTES + 1)}.{SIGNATURE}"
    token = text if kind is str else text.encode()
    verifier = Verifier(profile_settings("pk"), clock=clock())
    raised: list[str] = []

    def attempt() -> None:
        try:
            verifier.verify(token)
        except Exception as exc:
            raised.append(type(exc).__name__)

    trace = traced(attempt)
    assert raised == ["TokenTooLarge"]
    assert decoding(trace) == []
