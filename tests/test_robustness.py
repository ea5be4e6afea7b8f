"""Whatever string a client sends as a token, the Verifier raises only InvalidToken.

The Gate-level and settings-level properties live in test_properties.py.
"""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FakeClock, make_settings
from jwtgate import Verifier
from jwtgate.errors import InvalidToken

VERIFIER = Verifier(make_settings(), clock=FakeClock())
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


@pytest.mark.slow
@CHECKS
@given(st.text(max_size=200) | st.builds(".".join, st.lists(SEGMENT, min_size=1, max_size=5)))
def test_arbitrary_text_is_an_invalid_token(token: str) -> None:
    """Any string is refused with an InvalidToken subclass (never another exception)."""
    with pytest.raises(InvalidToken):
        VERIFIER.verify(token)


@pytest.mark.slow
@CHECKS
@given(header=JSON, payload=JSON, signature=SEGMENT)
def test_arbitrary_json_segments_are_an_invalid_token(
    header: object, payload: object, signature: str
) -> None:
    """Any JSON header and payload with a made-up signature is refused as InvalidToken."""
    with pytest.raises(InvalidToken):
        VERIFIER.verify(f"{b64json(header)}.{b64json(payload)}.{signature}")
