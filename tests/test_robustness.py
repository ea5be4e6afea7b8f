"""Nothing a client sends makes the core raise anything but a jwtgate request error."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FakeClock, make_settings, make_token
from jwtgate import Gate, Identity, Rejection, RequestInfo, Verifier
from jwtgate.errors import InvalidToken

VERIFIER = Verifier(make_settings(), clock=FakeClock())
GATE = Gate(make_settings(token_sources=["header", "cookie", "query"]), clock=FakeClock())
B64_CHARS = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
SEGMENT = st.text(B64_CHARS, max_size=60)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)
CHECKS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def b64json(value: object) -> str:
    """base64url(JSON(value)) without padding."""
    data = json.dumps(value).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@CHECKS
@given(st.text(max_size=200) | st.builds(".".join, st.lists(SEGMENT, min_size=1, max_size=5)))
def test_arbitrary_text_is_an_invalid_token(token: str) -> None:
    """Any string is refused with an InvalidToken subclass (never another exception)."""
    with pytest.raises(InvalidToken):
        VERIFIER.verify(token)


@CHECKS
@given(header=JSON, payload=JSON, signature=SEGMENT)
def test_arbitrary_json_segments_are_an_invalid_token(
    header: object, payload: object, signature: str
) -> None:
    """Any JSON header and payload with a made-up signature is refused as InvalidToken."""
    with pytest.raises(InvalidToken):
        VERIFIER.verify(f"{b64json(header)}.{b64json(payload)}.{signature}")


@CHECKS
@given(claims=st.dictionaries(st.sampled_from(["exp", "nbf", "iat", "sub", "aud", "scope"]), JSON))
def test_arbitrary_signed_claims_never_crash(claims: dict[str, object]) -> None:
    """Correctly signed tokens with claims of any type verify or raise InvalidToken."""
    token = make_token(claims)
    try:
        identity = VERIFIER.verify(token)
    except InvalidToken:
        return
    assert isinstance(identity.subject, str)


@CHECKS
@given(
    method=st.sampled_from(["GET", "POST", "OPTIONS"]),
    path=st.text(max_size=30).map(lambda p: "/" + p),
    authorization=st.lists(st.text(max_size=40), max_size=2),
    cookie=st.none() | st.text(max_size=60),
    query=st.text(max_size=60),
    preflight=st.booleans(),
)
def test_gate_always_answers(
    method: str,
    path: str,
    authorization: list[str],
    cookie: str | None,
    query: str,
    preflight: bool,
) -> None:
    """The Gate answers every request with an Identity or a 400/401 Rejection, never raises."""
    request = RequestInfo(method, path, tuple(authorization), cookie, query, preflight)
    answer = GATE.decide(request)
    assert isinstance(answer, Identity | Rejection)
    if isinstance(answer, Rejection):
        assert answer.status in {400, 401}
