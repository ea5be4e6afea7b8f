"""Property-based tests: whatever a client or a settings file holds, jwtgate decides.

The outcome of any request is an Identity or a 4xx/503 Rejection with its
challenge, never another exception; any settings dict gives Settings or one
ConfigurationError, never another exception.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import NOW, SECRET, FakeClock, sign_raw
from jwtgate import ConfigurationError, Gate, Identity, RequestInfo, Settings
from jwtgate.config import DEFAULTS
from jwtgate.errors import PreflightAnswered
from jwtgate.http import Rejection

PROFILE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GATE = Gate(
    Settings.from_dict(
        {
            "secret": SECRET,
            "token_sources": ["header", "cookie", "query"],
            "rules": [{"path": "/admin/*", "scopes": ["admin"]}],
            "public_paths": ["/public/*"],
            "audience": ["api"],
            "issuer": "https://issuer.test",
        }
    ),
    clock=FakeClock(),
)

latin1_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=400)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def assert_decided(result: object) -> None:
    if isinstance(result, Identity):
        return
    assert isinstance(result, Rejection)
    if isinstance(result.error, PreflightAnswered):
        assert (result.status, result.body) == (204, b"")
        return
    assert result.status in (400, 401, 403, 503)
    names = {name for name, _ in result.headers}
    assert "www-authenticate" in names or result.status == 503
    body = json.loads(result.body)
    assert set(body) == {"error", "error_description"}


@PROFILE
@given(
    method=st.sampled_from(["GET", "POST", "OPTIONS", "DELETE"]),
    path=st.text(max_size=60).map(lambda p: "/" + p),
    authorization=st.lists(latin1_text, max_size=3),
    cookie=st.none() | latin1_text,
    query=latin1_text,
    preflight=st.booleans(),
)
def test_any_request_gets_a_decision(
    method: str,
    path: str,
    authorization: list[str],
    cookie: str | None,
    query: str,
    preflight: bool,
) -> None:
    """Arbitrary header, cookie and query bytes never raise out of the Gate."""
    request = RequestInfo(method, path, tuple(authorization), cookie, query, preflight)
    assert_decided(GATE.decide(request))


@PROFILE
@given(
    token=st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/~",
        max_size=300,
    )
)
def test_any_token68_gets_a_decision(token: str) -> None:
    """Arbitrary token68 strings after `Bearer` are refused cleanly."""
    assert_decided(GATE.decide(RequestInfo("GET", "/x", (f"Bearer {token}",))))


@pytest.mark.slow
@PROFILE
@given(
    header=st.dictionaries(
        st.sampled_from(["kid", "typ", "crit", "cty", "jku", "x5u", "b64", "zip"]), json_values
    ),
    payload=st.dictionaries(
        st.sampled_from(["sub", "exp", "nbf", "iat", "iss", "aud", "jti", "scope", "x"]),
        json_values,
    ),
)
def test_any_signed_claims_get_a_decision(header: dict[str, Any], payload: dict[str, Any]) -> None:
    """Arbitrary headers and payloads signed with the right key never crash the Gate."""
    token = sign_raw({"alg": "HS256", **header}, payload)
    result = GATE.decide(RequestInfo("GET", "/admin/x", (f"Bearer {token}",)))
    assert_decided(result)
    if isinstance(result, Identity):
        assert isinstance(payload.get("sub"), str)
        assert isinstance(payload.get("exp"), int | float) and payload["exp"] > NOW


settings_keys = st.sampled_from([*DEFAULTS, "leeways", "SECRET", "Algorithms", "require"])


@pytest.mark.slow
@PROFILE
@given(data=st.dictionaries(settings_keys, json_values | st.just(SECRET), max_size=6))
def test_any_settings_dict_validates_or_raises_configuration_error(data: dict[str, Any]) -> None:
    """Settings.from_dict on arbitrary dicts gives Settings or a ConfigurationError with ids."""
    try:
        Settings.from_dict(data)
    except ConfigurationError as exc:
        problems = exc.problems
    else:
        return
    assert problems
    assert all(p.id.startswith("jwtgate.E") for p in problems)
