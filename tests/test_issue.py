"""Issuing: registered claims, jti, iss/aud from settings, kid header, refusals."""

from __future__ import annotations

import base64
from typing import Any

import jwt
import pytest

from conftest import NOW, SECRET, FakeClock, make_settings, pem
from jwtgate import ConfigurationError, Issuer, Settings, Verifier
from jwtgate.issue import REGISTERED_CLAIMS


def decode(token: str) -> dict[str, Any]:
    """The payload of ``token`` without verification (the test checks what was written)."""
    payload: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return payload


def test_registered_claims() -> None:
    """iat is now, exp is now + access_token_ttl, sub is the subject."""
    issuer = Issuer(make_settings(access_token_ttl=120), clock=FakeClock())
    payload = decode(issuer.access_token("alice"))
    assert payload["sub"] == "alice"
    assert payload["iat"] == NOW
    assert payload["exp"] == NOW + 120
    assert set(payload) == {"sub", "iat", "exp", "jti"}


def test_ttl_argument_overrides_the_setting() -> None:
    """``ttl=`` sets the lifetime of one token."""
    issuer = Issuer(make_settings(), clock=FakeClock())
    assert decode(issuer.access_token("alice", ttl=10))["exp"] == NOW + 10


@pytest.mark.parametrize("ttl", [0, -1, True, 1.5])
def test_bad_ttl_is_refused(ttl: Any) -> None:
    """A zero, negative, boolean or fractional ttl is refused, never replaced by the default."""
    issuer = Issuer(make_settings(), clock=FakeClock())
    with pytest.raises(ValueError, match="ttl must be a positive whole number"):
        issuer.access_token("alice", ttl=ttl)


def test_jti_is_random_and_at_least_128_bits() -> None:
    """Every token gets its own jti carrying at least 128 bits."""
    issuer = Issuer(make_settings(), clock=FakeClock())
    jtis = {decode(issuer.access_token("alice"))["jti"] for _ in range(200)}
    assert len(jtis) == 200
    for jti in jtis:
        raw = base64.urlsafe_b64decode(jti + "=" * (-len(jti) % 4))
        assert len(raw) * 8 >= 128


def test_no_id_begins_with_a_dash() -> None:
    """Ids are pasted into CLI commands, where a leading ``-`` reads as an option."""
    from jwtgate.issue import new_jti

    # Unfiltered, 1 id in 64 began with "-": 5,000 draws all but surely hit one.
    assert not any(new_jti().startswith("-") for _ in range(5000))


def test_issuer_and_audience_come_from_settings() -> None:
    """iss is the (first) configured issuer; aud the audience, a list when several."""
    settings = make_settings(issuer=["https://a.example", "https://b.example"], audience="api")
    payload = decode(Issuer(settings, clock=FakeClock()).access_token("alice"))
    assert payload["iss"] == "https://a.example"
    assert payload["aud"] == "api"
    several = make_settings(audience=["api", "web"])
    assert decode(Issuer(several, clock=FakeClock()).access_token("alice"))["aud"] == [
        "api",
        "web",
    ]


def test_issued_token_verifies_with_iss_and_aud() -> None:
    """What the Issuer writes is what the Verifier of the same settings accepts."""
    settings = make_settings(issuer="https://a.example", audience=["api", "web"])
    clock = FakeClock()
    token = Issuer(settings, clock=clock).access_token("alice", claims={"scope": "read"})
    identity = Verifier(settings, clock=clock).verify(token)
    assert identity.subject == "alice"
    assert identity.scopes == {"read"}


def test_custom_identity_claim_is_written_with_sub() -> None:
    """With identity_claim "email", the subject is written there and in sub."""
    settings = make_settings(identity_claim="email")
    payload = decode(Issuer(settings, clock=FakeClock()).access_token("a@example.com"))
    assert payload["email"] == payload["sub"] == "a@example.com"


def test_extra_claims_are_added() -> None:
    """Extra claims land in the payload next to the registered ones."""
    issuer = Issuer(make_settings(), clock=FakeClock())
    payload = decode(issuer.access_token("alice", claims={"scope": "read", "tenant": 7}))
    assert payload["scope"] == "read"
    assert payload["tenant"] == 7


def test_kid_header_when_the_key_has_one() -> None:
    """The signing key's kid goes in the header; without one there is no kid."""
    settings = Settings.from_dict(
        {"algorithms": ["RS256"], "private_key": pem("rsa_private"), "key_id": "2026-01"}
    )
    token = Issuer(settings, clock=FakeClock()).access_token("alice")
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": "2026-01", "typ": "JWT"}
    plain = Issuer(make_settings(), clock=FakeClock()).access_token("alice")
    assert "kid" not in jwt.get_unverified_header(plain)


def test_kid_from_a_secret_dict() -> None:
    """With {kid: secret}, key_id picks the signing secret and its kid is in the header."""
    other = "other-test-secret-abcdefghijklmnopqrstuvwxyz-0123456789"  # fake
    settings = make_settings(secret={"old": other, "new": SECRET}, key_id="new")
    clock = FakeClock()
    token = Issuer(settings, clock=clock).access_token("alice")
    assert jwt.get_unverified_header(token)["kid"] == "new"
    jwt.decode(
        token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
    )
    assert Verifier(settings, clock=clock).verify(token).subject == "alice"


@pytest.mark.parametrize("subject", [42, None, b"alice", "", ["alice"]])
def test_non_string_subject_is_refused(subject: Any) -> None:
    """A subject that is not a non-empty string is a TypeError, never str()-ed."""
    issuer = Issuer(make_settings(), clock=FakeClock())
    with pytest.raises(TypeError, match="subject must be a non-empty string"):
        issuer.access_token(subject)


@pytest.mark.parametrize("claim", sorted(REGISTERED_CLAIMS))
def test_registered_claims_cannot_be_overridden(claim: str) -> None:
    """``claims=`` naming a registered claim is a ValueError naming it."""
    issuer = Issuer(make_settings(), clock=FakeClock())
    with pytest.raises(ValueError, match=f"override registered claims: {claim}"):
        issuer.access_token("alice", claims={claim: "x"})


def test_identity_claim_cannot_be_overridden() -> None:
    """With identity_claim "email", ``claims={"email": ...}`` cannot replace the subject."""
    issuer = Issuer(make_settings(identity_claim="email"), clock=FakeClock())
    with pytest.raises(ValueError, match="override registered claims: email"):
        issuer.access_token("alice@example.com", claims={"email": "admin@example.com"})


def test_issuer_without_signing_key() -> None:
    """Verification-only settings cannot issue: ConfigurationError E031."""
    settings = Settings.from_dict({"algorithms": ["RS256"], "public_key": pem("rsa_public")})
    with pytest.raises(ConfigurationError) as info:
        Issuer(settings)
    assert info.value.ids == ["jwtgate.E031"]
    assert info.value.problems[0].key == "PRIVATE_KEY"


def test_several_secrets_verify_without_key_id_but_cannot_sign() -> None:
    """Two kid-named secrets verify tokens of both kids; issuing needs KEY_ID (E023)."""
    other = SECRET[::-1]
    settings = Settings.from_dict({"secret": {"a": SECRET, "b": other}})
    for kid, key in (("a", SECRET), ("b", other)):
        token = jwt.encode(
            {"sub": "u", "exp": NOW + 60}, key, algorithm="HS256", headers={"kid": kid}
        )
        assert Verifier(settings, clock=FakeClock()).verify(token).subject == "u"
    with pytest.raises(ConfigurationError) as info:
        Issuer(settings)
    assert info.value.ids == ["jwtgate.E023"]
    signer = Settings.from_dict({"secret": {"a": SECRET, "b": other}, "key_id": "b"})
    assert Issuer(signer).access_token("u")


def test_issuer_accepts_a_settings_dict() -> None:
    """A plain dict is validated into Settings by the Issuer."""
    issuer = Issuer({"secret": SECRET}, clock=FakeClock())
    assert decode(issuer.access_token("alice"))["sub"] == "alice"


def test_encode_signs_a_payload_as_given() -> None:
    """encode() adds nothing to the payload and merges extra header members."""
    issuer = Issuer(make_settings(), clock=FakeClock())
    token = issuer.encode({"sub": "x"}, headers={"typ": "at+jwt"})
    assert decode(token) == {"sub": "x"}
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
