"""Key loading on its own: settings values in, keys and problems out (no Settings)."""

from __future__ import annotations

from conftest import SECRET, pem
from jwtgate.keyfiles import load_keys
from jwtgate.keys import Secret


def test_a_secret_becomes_the_verification_and_signing_key() -> None:
    keys, signing_key, problems = load_keys({"secret": SECRET}, ("HS256",))
    assert problems == []
    assert [k.algorithms for k in keys.keys] == [frozenset({"HS256"})]
    assert signing_key is not None
    assert signing_key.algorithm == "HS256"
    assert isinstance(signing_key.key, Secret)


def test_problems_are_returned_not_raised_and_name_the_dict() -> None:
    loaded = load_keys({"secret": "short"}, ("HS256",), name="app.config['JWTGATE']")
    assert [p.id for p in loaded.problems] == ["jwtgate.E007"]
    assert loaded.problems[0].message.startswith("app.config['JWTGATE']['SECRET'] is 5 bytes")
    assert loaded.keys.keys == ()
    assert loaded.signing_key is None


def test_a_public_key_verifies_but_does_not_sign() -> None:
    keys, signing_key, problems = load_keys({"public_key": pem("rsa_public")}, ("RS256",))
    assert problems == []
    assert len(keys.keys) == 1
    assert signing_key is None


def test_a_remote_jwks_makes_missing_local_keys_no_problem() -> None:
    remote = {"jwks_url": "https://keys.example/jwks.json"}
    assert load_keys(remote, ("RS256",)).problems == []
    assert [p.id for p in load_keys({}, ("RS256",)).problems] == ["jwtgate.E008"]
