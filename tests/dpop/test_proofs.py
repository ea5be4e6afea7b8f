"""RFC 9449 §4.3 proof checks, RFC 7638 thumbprints, htu normalisation, nonces."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from jwtgate._dpop_nonce import Nonces
from jwtgate.dpop import ProofChecker, access_token_hash, normal_url, thumbprint
from jwtgate.errors import InvalidDPoPProof, UseDPoPNonce
from jwtgate.testing import FrozenClock, dpop_key

URL = "https://api.example/orders"
NOW = 1_800_000_000


def test_thumbprint_of_the_rfc_7638_example() -> None:
    """RFC 7638 §3.1: the RSA key's SHA-256 thumbprint is NzbLsXh8…"""
    key = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L"
        "6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5"
        "v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08"
        "qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8a"
        "wapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert thumbprint(key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_ath_is_the_base64url_sha256_of_the_token() -> None:
    """RFC 9449 §7 example: the token Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU hashes
    to fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo."""
    token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    assert access_token_hash(token) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("HTTPS://API.Example:443/orders", "https://api.example/orders"),
        ("http://api.example:80", "http://api.example/"),
        ("http://api.example:8080/a?b=1#c", "http://api.example:8080/a"),
        ("https://api.example/%7euser/%2f", "https://api.example/~user/%2F"),
        ("wss://api.example/ws", "https://api.example/ws"),
        ("http://[::1]:8000/x", "http://[::1]:8000/x"),
        ("ftp://api.example/x", None),
        ("/relative", None),
        ("http://api.example:99999/", None),
    ],
)
def test_htu_is_compared_normalised(given: str, normal: str | None) -> None:
    assert normal_url(given) == normal


def checker(**options: object) -> ProofChecker:
    return ProofChecker(clock=FrozenClock(NOW), **options)  # type: ignore[arg-type]


def test_a_good_proof_gives_its_key_thumbprint_and_id() -> None:
    key = dpop_key()
    proof = key.proof("GET", URL, "tok", clock=lambda: NOW, jti="one")
    checked = checker().check(proof, method="GET", url=URL, access_token="tok")
    assert (checked.jkt, checked.jti, checked.iat) == (key.jkt, "one", NOW)


def _unsigned(header: dict[str, object], claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


@pytest.mark.parametrize(
    ("change", "description"),
    [
        ({"method": "POST"}, "DPoP proof htm does not match the request"),
        ({"url": "https://api.example/other"}, "DPoP proof htu does not match the request"),
        ({"token": "other"}, "DPoP proof ath does not match the access token"),
        ({"iat": NOW - 61}, "DPoP proof iat outside the accepted window"),
        ({"iat": NOW + 61}, "DPoP proof iat outside the accepted window"),
        ({"typ": "jwt"}, "DPoP proof typ is not dpop+jwt"),
        ({"jti": ""}, "DPoP proof jti missing or invalid"),
    ],
)
def test_each_mismatch_is_named(change: dict[str, object], description: str) -> None:
    key = dpop_key()
    claims = {"iat": change["iat"]} if "iat" in change else {}
    if "jti" in change:
        claims["jti"] = change["jti"]
    headers = {"typ": change["typ"]} if "typ" in change else None
    proof = key.proof("GET", URL, "tok", clock=lambda: NOW, headers=headers, **claims)
    with pytest.raises(InvalidDPoPProof) as raised:
        checker().check(
            proof,
            method=str(change.get("method", "GET")),
            url=str(change.get("url", URL)),
            access_token=str(change.get("token", "tok")),
        )
    assert raised.value.description == description


def test_a_proof_is_refused_for_its_key_alg_or_shape() -> None:
    key, other = dpop_key(), dpop_key()
    claims = {"htm": "GET", "htu": URL, "iat": NOW, "jti": "x"}
    cases = {
        "signed by another key": jwt.encode(
            claims, other.private_pem, "ES256", headers={"typ": "dpop+jwt", "jwk": key.jwk}
        ),
        "private key in jwk": key.proof(
            "GET", URL, clock=lambda: NOW, headers={"jwk": {**key.jwk, "d": "AAAA"}}
        ),
        "alg none": _unsigned({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk}, claims),
        "HS256": jwt.encode(claims, "k" * 32, "HS256", headers={"typ": "dpop+jwt", "jwk": key.jwk}),
        "no jwk": jwt.encode(claims, key.private_pem, "ES256", headers={"typ": "dpop+jwt"}),
        "RSA jwk for ES256": key.proof(
            "GET", URL, clock=lambda: NOW, headers={"jwk": dpop_key("RS256").jwk}
        ),
        "not a JWT": "not.a.jwt",
        "bad base64": "%%%.%%%.%%%",
        "oversized": "a" * 9000,
    }
    for name, proof in cases.items():
        with pytest.raises(InvalidDPoPProof) as raised:
            checker().check(proof, method="GET", url=URL, access_token=None)
        assert raised.value.error == "invalid_dpop_proof", name


def test_a_checker_takes_asymmetric_algorithms_only() -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        checker(algorithms=("HS256",))


def test_nonces_are_good_for_one_to_two_windows_and_need_the_key() -> None:
    clock = FrozenClock(NOW)
    nonces = Nonces(window=60, clock=clock, key=b"k" * 32)
    nonce = nonces.current()
    assert nonces.valid(nonce)
    assert not Nonces(window=60, clock=clock, key=b"j" * 32).valid(nonce)
    assert Nonces(window=60, clock=clock, key=b"k" * 32).valid(nonce)  # another worker
    clock.advance(60)
    assert nonces.valid(nonce)
    clock.advance(60)
    assert not nonces.valid(nonce)
    assert not nonces.valid("x" * 32)
    assert not nonces.valid("short")


def test_a_proof_without_the_current_nonce_asks_for_one() -> None:
    clock = FrozenClock(NOW)
    nonces = Nonces(window=60, clock=clock)
    key = dpop_key()
    with pytest.raises(UseDPoPNonce) as raised:
        checker(nonces=nonces).check(
            key.proof("GET", URL, clock=clock), method="GET", url=URL, access_token=None
        )
    fresh = raised.value.nonce
    proof = key.proof("GET", URL, clock=clock, nonce=fresh)
    assert checker(nonces=nonces).check(proof, method="GET", url=URL, access_token=None)
