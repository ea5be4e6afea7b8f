"""Key material: secrets hidden, keys bound to their algorithm family, lookup by alg and kid."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from conftest import SECRET, pem
from jwtgate.errors import UnknownKey
from jwtgate.keys import (
    HMAC_ALGORITHMS,
    Secret,
    StaticKeys,
    VerificationKey,
    algorithms_for_key,
    parse_jwks,
)


def test_secret_never_shows_its_value() -> None:
    """Secret hides its bytes in repr() and str() but reveals them on request."""
    secret = Secret(SECRET.encode())
    assert repr(secret) == str(secret) == "Secret('**********')"
    assert secret.reveal() == SECRET.encode()
    assert len(secret) == len(SECRET)
    assert secret == Secret(SECRET.encode())
    assert secret != Secret(b"other")
    assert secret != SECRET.encode()
    assert hash(secret) == hash(Secret(SECRET.encode()))


@pytest.mark.parametrize(
    ("name", "algorithms"),
    [
        pytest.param(
            "rsa_public", {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, id="rsa"
        ),
        pytest.param("ec256_public", {"ES256"}, id="p256"),
        pytest.param("ec384_public", {"ES384"}, id="p384"),
        pytest.param("ec521_public", {"ES512"}, id="p521"),
        pytest.param("ed25519_public", {"EdDSA"}, id="ed25519"),
        pytest.param("ed448_public", {"EdDSA"}, id="ed448"),
    ],
)
def test_algorithms_for_key(name: str, algorithms: set[str]) -> None:
    """A key serves exactly the algorithms of its family (and EC curve)."""
    key = load_pem_public_key(pem(name).encode())
    assert algorithms_for_key(key) == algorithms  # type: ignore[arg-type]


def test_ec_key_on_an_unsupported_curve_serves_nothing() -> None:
    """An EC key on a curve JOSE does not pair with ES256/384/512 serves no algorithm."""
    key = ec.generate_private_key(ec.SECP256K1()).public_key()
    assert algorithms_for_key(key) == frozenset()


def test_static_keys_lookup() -> None:
    """A kid picks its key; no kid works only with a single key for the algorithm."""
    a = VerificationKey("a", HMAC_ALGORITHMS, b"a" * 32)
    b = VerificationKey("b", HMAC_ALGORITHMS, b"b" * 32)
    keys = StaticKeys([a, b])
    assert keys.get("HS256", "a") is a
    assert keys.get("HS512", "b") is b
    with pytest.raises(UnknownKey):
        keys.get("HS256", None)
    with pytest.raises(UnknownKey):
        keys.get("HS256", "c")
    with pytest.raises(UnknownKey):
        keys.get("RS256", "a")


def test_static_keys_sole_key() -> None:
    """A single key serves tokens with or without a kid; a named one only its kid."""
    unnamed = VerificationKey(None, frozenset({"HS256"}), b"u" * 32)
    assert StaticKeys([unnamed]).get("HS256", None) is unnamed
    assert StaticKeys([unnamed]).get("HS256", "whatever") is unnamed
    named = VerificationKey("n", frozenset({"HS256"}), b"n" * 32)
    assert StaticKeys([named]).get("HS256", None) is named
    with pytest.raises(UnknownKey):
        StaticKeys([named]).get("HS256", "other")


def test_jwks_key_that_serves_no_allowed_algorithm_is_skipped() -> None:
    """A secp256k1 JWK (ES256K, not supported) is skipped; the RSA key next to it is kept."""
    rsa_key = load_pem_public_key(pem("rsa_public").encode())
    good = dict(RSAAlgorithm.to_jwk(rsa_key, as_dict=True), kid="good")  # type: ignore[arg-type]
    k1 = ec.generate_private_key(ec.SECP256K1()).public_key()
    odd = dict(ECAlgorithm.to_jwk(k1, as_dict=True), kid="odd")
    assert [k.kid for k in parse_jwks({"keys": [odd, good]})] == ["good"]
