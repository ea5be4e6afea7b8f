"""Error paths that used to be marked ``# pragma: no cover``, exercised for real (#8)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from conftest import NOW, make_settings
from jwtgate.cli import _time_detail
from jwtgate.errors import ExpiredToken, StoreUnavailable
from jwtgate.jwks_publish import _public_jwk
from jwtgate.keys import VerificationKey, parse_jwks
from jwtgate.revocation import RevocationCheck


def test_time_detail_of_an_undecodable_token_is_empty() -> None:
    """`jwtgate verify` adds no time detail when the token cannot be decoded at all."""
    assert _time_detail(ExpiredToken(), "not-a-token", NOW, 0) == ""


@pytest.mark.parametrize("side", ["sync", "async"])
def test_revocation_check_without_a_store_url_is_unavailable(side: str) -> None:
    """A RevocationCheck built by hand without store setting or store answers 503, never a pass."""
    check = RevocationCheck(make_settings())
    with pytest.raises(StoreUnavailable):
        _ = check.store if side == "sync" else check.async_store


def test_jwks_key_of_an_unbindable_type_is_skipped() -> None:
    """A JWKS key jwtgate cannot bind to one of its algorithms is skipped, not half-used."""
    key = ec.generate_private_key(ec.SECP256K1()).public_key()
    secp256k1 = ECAlgorithm.to_jwk(key, as_dict=True)
    with pytest.raises(ValueError, match="no usable signing keys"):
        parse_jwks({"keys": [secp256k1]})


def test_an_hmac_secret_is_never_published_as_a_jwk() -> None:
    """Publishing a JWKS refuses a key that is not a public key (an HMAC secret) loudly."""
    secret = VerificationKey("k1", frozenset({"HS256"}), b"s" * 32)
    with pytest.raises(TypeError, match="cannot publish a bytes"):
        _public_jwk(secret, ["HS256"])
