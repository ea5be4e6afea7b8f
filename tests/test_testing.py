"""jwtgate.testing and its pytest plugin, used the way a user's test suite would."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable

import pytest

from jwtgate import Gate, RequestInfo, Settings, Verifier
from jwtgate.errors import ExpiredToken, ImmatureToken, InvalidSignature
from jwtgate.http import Rejection
from jwtgate.testing import (
    FrozenClock,
    JWKSServer,
    KeyPair,
    TokenFactory,
    assert_rfc6750,
    keypair,
    parse_challenge,
    test_settings,
)


def test_token_fixture_mints_valid_tokens(
    jwtgate_settings: Settings, jwtgate_token: TokenFactory
) -> None:
    """jwtgate_token mints tokens that the default settings verify, with scopes."""
    identity = Verifier(jwtgate_settings).verify(jwtgate_token("alice", scopes="read write"))
    assert identity.subject == "alice"
    assert identity.scopes == {"read", "write"}


def test_token_factory_bad_tokens(jwtgate_settings: Settings, jwtgate_token: TokenFactory) -> None:
    """expired(), not_yet_valid() and forged() are refused for exactly that reason."""
    verifier = Verifier(jwtgate_settings)
    with pytest.raises(ExpiredToken):
        verifier.verify(jwtgate_token.expired())
    with pytest.raises(ImmatureToken):
        verifier.verify(jwtgate_token.not_yet_valid())
    with pytest.raises(InvalidSignature):
        verifier.verify(jwtgate_token.forged())


def test_frozen_clock_drives_expiry(jwtgate_clock: FrozenClock) -> None:
    """A token valid now is refused once the frozen clock moves past exp."""
    settings = test_settings(leeway=5)
    tokens = TokenFactory(settings, clock=jwtgate_clock)
    verifier = Verifier(settings, clock=jwtgate_clock)
    token = tokens("bob", ttl=10)
    assert verifier.verify(token).subject == "bob"
    jwtgate_clock.advance(14)
    assert verifier.verify(token).subject == "bob"  # within the leeway
    jwtgate_clock.advance(1)
    with pytest.raises(ExpiredToken):
        verifier.verify(token)
    jwtgate_clock.set(0)
    assert jwtgate_clock() == 0


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA", "RS256"])
def test_keypair_fixture(jwtgate_keypair: Callable[..., KeyPair], algorithm: str) -> None:
    """A throwaway key pair signs and verifies, and its JWKS holds no private part."""
    pair = jwtgate_keypair(algorithm)
    settings = pair.settings(leeway=1)
    token = TokenFactory(settings)("carol")
    assert Verifier(settings).verify(token).header["kid"] == pair.kid
    assert "d" not in pair.jwks["keys"][0]
    assert "PRIVATE" not in repr(pair)
    forged = TokenFactory(settings).forged()
    with pytest.raises(InvalidSignature):
        Verifier(settings).verify(forged)


def test_keypair_refuses_hmac() -> None:
    """keypair() is for asymmetric keys only."""
    with pytest.raises(ValueError, match="asymmetric"):
        keypair("HS256")


@pytest.mark.slow
def test_jwks_server_fixture(jwtgate_jwks_server: Callable[..., JWKSServer]) -> None:
    """The JWKS server serves the current document, counts fetches and 404s other paths."""
    server = jwtgate_jwks_server({"keys": []})
    with urllib.request.urlopen(server.url) as response:
        assert json.load(response) == {"keys": []}
    server.document = {"keys": [{"kty": "oct"}]}
    with urllib.request.urlopen(server.url) as response:
        assert json.load(response)["keys"][0]["kty"] == "oct"
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(server.url + "x")
    assert server.requests == 3


@pytest.mark.slow
def test_jwks_server_context_manager() -> None:
    """JWKSServer stops when its with-block ends."""
    with JWKSServer({"keys": []}) as server:
        assert server.url.startswith("http://127.0.0.1:")


class Response:
    def __init__(self, rejection: Rejection) -> None:
        self.status_code = rejection.status
        self.headers = dict(rejection.headers)


def test_assert_rfc6750_accepts_real_rejections(jwtgate_token: TokenFactory) -> None:
    """assert_rfc6750 passes for the Gate's missing-token, invalid and scope refusals."""
    settings = test_settings(rules=[{"path": "/admin", "scopes": ["admin"]}], realm="shop")
    gate = Gate(settings)
    tokens = TokenFactory(settings)
    missing = gate.decide(RequestInfo("GET", "/x"))
    invalid = gate.decide(RequestInfo("GET", "/x", ("Bearer " + tokens.expired(),)))
    scope = gate.decide(RequestInfo("GET", "/admin", ("Bearer " + tokens("u"),)))
    assert isinstance(missing, Rejection)
    assert isinstance(invalid, Rejection)
    assert isinstance(scope, Rejection)
    assert assert_rfc6750(Response(missing), 401, realm="shop") == {"realm": "shop"}
    assert_rfc6750(Response(invalid), 401, "invalid_token")
    assert_rfc6750(Response(scope), 403, "insufficient_scope", scope="admin")


@pytest.mark.parametrize(
    ("status", "headers", "args", "message"),
    [
        (200, {"WWW-Authenticate": 'Bearer realm="a"'}, (401,), "expected status 401"),
        (401, {}, (401,), "must carry WWW-Authenticate"),
        (401, {"WWW-Authenticate": 'Basic realm="a"'}, (401,), "Bearer challenge"),
        (401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, (401,), "expected error=None"),
        (
            401,
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            (401, "invalid_token"),
            "error_description",
        ),
    ],
)
def test_assert_rfc6750_catches_wrong_responses(
    status: int, headers: dict[str, str], args: tuple[object, ...], message: str
) -> None:
    """assert_rfc6750 fails, saying why, on responses that break RFC 6750."""

    class Fake:
        status_code = status

    Fake.headers = headers  # type: ignore[attr-defined]
    with pytest.raises(AssertionError, match=message):
        assert_rfc6750(Fake(), *args)  # type: ignore[arg-type]


def test_assert_rfc6750_needs_a_response() -> None:
    """Passing something that is not a response is a TypeError."""
    with pytest.raises(TypeError):
        assert_rfc6750(object())


def test_parse_challenge_handles_escapes_and_tokens() -> None:
    """Quoted strings with escapes and bare tokens are both parsed."""
    scheme, params = parse_challenge('Bearer realm="a \\"b\\"", error=invalid_token, scope="x y"')
    assert scheme == "Bearer"
    assert params == {"realm": 'a "b"', "error": "invalid_token", "scope": "x y"}


def test_token_factory_takes_a_settings_dict() -> None:
    """TokenFactory({...}) works like everything else in jwtgate that takes settings (#15):
    a plain dict is validated into Settings, and its tokens verify."""
    from jwtgate import Verifier
    from jwtgate.testing import TokenFactory

    settings = {"secret": "a-test-secret-that-is-long-enough-0123456789", "scopes_claim": "scp"}
    factory = TokenFactory(settings)
    identity = Verifier(settings).verify(factory("erin", scopes="read"))
    assert (identity.subject, identity.scopes) == ("erin", frozenset({"read"}))


def test_the_jwks_server_answers_openid_discovery_and_moves_its_jwks() -> None:
    """``JWKSServer`` serves discovery (issuer and JWKS URL) and its JWKS where ``path``
    says, so settings with ``jwks_discovery`` or a provider's JWKS path can be tested."""
    import json
    import urllib.request

    from jwtgate.testing import JWKSServer

    with JWKSServer({"keys": []}) as server:
        url = server.base + "/.well-known/openid-configuration"
        found = json.load(urllib.request.urlopen(url, timeout=5))
        assert found == {"issuer": server.issuer, "jwks_uri": server.url}
        server.path = "/realms/shop/protocol/openid-connect/certs"
        assert json.load(urllib.request.urlopen(server.url, timeout=5)) == {"keys": []}
        assert server.url.endswith("/realms/shop/protocol/openid-connect/certs")


@pytest.mark.parametrize("leeway", [0, 30, 120, 300])
def test_expired_and_not_yet_valid_tokens_are_refused_whatever_the_leeway(leeway: int) -> None:
    """`.expired()` and `.not_yet_valid()` default to 60 s beyond the leeway, so the
    documented "an expired token gets 401" test holds with LEEWAY 120 too."""
    from jwtgate import Gate, RequestInfo
    from jwtgate.errors import ExpiredToken, ImmatureToken
    from jwtgate.http import Rejection
    from jwtgate.testing import TokenFactory

    settings = {"SECRET": "s" * 32, "LEEWAY": leeway}
    factory = TokenFactory(settings)
    gate = Gate(settings)
    for token, error in (
        (factory.expired(), ExpiredToken),
        (factory.not_yet_valid(), ImmatureToken),
    ):
        refused = gate.decide(RequestInfo("GET", "/", (f"Bearer {token}",)))
        assert isinstance(refused, Rejection) and isinstance(refused.error, error)


def test_jwks_publishing_takes_a_settings_dict() -> None:
    """jwks_document, jwks_asgi_app and jwks_wsgi_app accept a plain dict, like the rest of
    jwtgate, and publish the same document as for Settings."""
    import json

    from jwtgate import Settings
    from jwtgate.jwks import jwks_document, jwks_wsgi_app
    from jwtgate.testing import keypair

    pair = keypair("ES256", kid="k1")
    data = {"ALGORITHMS": ["ES256"], "PRIVATE_KEY": pair.private_pem, "KEY_ID": "k1"}
    assert jwks_document(data) == jwks_document(Settings.from_dict(data))
    assert jwks_document(data)["keys"][0]["kid"] == "k1"
    seen: list[str] = []
    body = b"".join(
        jwks_wsgi_app(data)({"REQUEST_METHOD": "GET"}, lambda status, headers: seen.append(status))
    )
    assert seen == ["200 OK"]
    assert json.loads(body) == jwks_document(data)
