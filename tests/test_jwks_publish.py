"""The issuing side: several signing keys, the public JWKS, and serving it over real servers.

One service signs with the active key and publishes every public key; another
verifies through ``jwks_url``. Both halves run for real: the JWKS apps under
waitress (WSGI) and uvicorn (ASGI) on 127.0.0.1, consumed by ``JWKSKeys``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from waitress import wasyncore
from waitress.server import create_server

from conftest import SECRET, FakeClock, pem
from jwtgate import ConfigurationError, Issuer, Settings, Verifier
from jwtgate.jwks import jwks_asgi_app, jwks_document, jwks_wsgi_app
from jwtgate.jwks_publish import _public_jwk
from jwtgate.keys import PRIVATE_MEMBERS, VerificationKey, load_private_key
from servers import uvicorn_server

ROTATING = {
    "algorithms": ["RS256", "ES256", "EdDSA"],
    "private_key": {
        "2026-01": pem("rsa_private"),
        "2026-06": pem("ec256_private"),
    },
    "public_key": {"2025-07": pem("ed25519_public")},  # retired: verifies, never signs
    "key_id": "2026-01",
}


def issuer_settings(**changes: Any) -> Settings:
    """The issuing service's settings: two signing keys and one retired public key."""
    return Settings.from_dict({**ROTATING, **changes})


def test_key_id_picks_the_active_signing_key() -> None:
    """With several private keys, key_id names the one tokens are signed with."""
    settings = issuer_settings()
    token = Issuer(settings, clock=FakeClock()).access_token("alice")
    verifier = Verifier(settings, clock=FakeClock())
    assert verifier.unverified_header(token)["kid"] == "2026-01"
    assert verifier.unverified_header(token)["alg"] == "RS256"
    rotated = issuer_settings(key_id="2026-06")
    new_token = Issuer(rotated, clock=FakeClock()).access_token("alice")
    assert verifier.unverified_header(new_token) == {"alg": "ES256", "kid": "2026-06", "typ": "JWT"}
    # The other keys still verify: tokens signed before the switch stay valid.
    assert Verifier(rotated, clock=FakeClock()).verify(token).subject == "alice"


def test_key_id_must_name_one_of_the_private_keys() -> None:
    """A key_id that is not a kid of private_key is refused with E023."""
    with pytest.raises(ConfigurationError) as info:
        issuer_settings(key_id="nope")
    assert info.value.ids == ["jwtgate.E023"]


def test_several_private_keys_need_a_key_id_to_sign() -> None:
    """Several private keys without key_id verify, but issuing is refused with E023."""
    data = {**ROTATING}
    del data["key_id"]
    settings = Settings.from_dict(data)
    assert settings.signing_key is None
    with pytest.raises(ConfigurationError) as info:
        Issuer(settings)
    assert info.value.ids == ["jwtgate.E023"]


def test_jwks_document_lists_public_keys_active_first() -> None:
    """The JWKS has every asymmetric key, the active one first, and no private member."""
    document = jwks_document(issuer_settings(key_id="2026-06"))
    keys = document["keys"]
    assert keys[0]["kid"] == "2026-06"
    assert {k["kid"]: k.get("alg") for k in keys} == {
        "2026-06": "ES256",
        "2026-01": "RS256",
        "2025-07": "EdDSA",
    }
    assert all(k["use"] == "sig" for k in keys)
    for key in keys:
        assert not PRIVATE_MEMBERS.intersection(key), key
    assert "PRIVATE" not in json.dumps(document)


def test_keys_for_several_algorithms_or_without_kid_get_no_alg_or_kid() -> None:
    """A key serving RS256 and PS256 is published without alg; a key without kid without kid."""
    settings = Settings.from_dict(
        {"algorithms": ["RS256", "PS256"], "public_key": pem("rsa_public")}
    )
    (key,) = jwks_document(settings)["keys"]
    assert "alg" not in key
    assert "kid" not in key
    assert key["use"] == "sig"


def test_a_private_key_object_is_published_as_its_public_part() -> None:
    """Even handed a private key, the publisher emits only the public members."""
    private = load_private_key(pem("ec256_private").encode())
    jwk = _public_jwk(VerificationKey("k", frozenset({"ES256"}), private), ["ES256"])  # type: ignore[arg-type]
    assert set(jwk) == {"kty", "crv", "x", "y", "use", "alg", "kid"}


def test_hmac_secrets_are_never_published() -> None:
    """Settings with only an HMAC secret publish an empty JWKS."""
    assert jwks_document(Settings.from_dict({"secret": SECRET})) == {"keys": []}


def test_max_age_must_be_whole_seconds() -> None:
    """A negative or non-integer max_age is refused when the app is built."""
    with pytest.raises(ValueError, match="max_age"):
        jwks_wsgi_app(issuer_settings(), max_age=-1)
    with pytest.raises(ValueError, match="max_age"):
        jwks_asgi_app(issuer_settings(), max_age=True)


@pytest.fixture
def wsgi_url() -> Iterator[str]:
    """The issuer's JWKS served by its WSGI app under waitress."""
    server = create_server(jwks_wsgi_app(issuer_settings(), max_age=120), host="127.0.0.1", port=0)
    stop = threading.Event()

    def serve() -> None:
        # Waitress's own run() cannot be stopped from another thread cleanly:
        # run its loop in short steps and close the server on this thread.
        while not stop.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, count=1)
        server.task_dispatcher.shutdown()
        wasyncore.close_all(server._map)  # the listener and any open connection

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}/.well-known/jwks.json"
    stop.set()
    thread.join(5)


@pytest.fixture
def asgi_url() -> Iterator[str]:
    """The issuer's JWKS served by its ASGI app under uvicorn."""
    with uvicorn_server(jwks_asgi_app(issuer_settings(), max_age=120)) as base:
        yield f"{base}/.well-known/jwks.json"


@pytest.fixture(params=["wsgi", "asgi"])
def served_url(request: pytest.FixtureRequest) -> str:
    """The JWKS URL of the WSGI or the ASGI app."""
    return str(request.getfixturevalue(f"{request.param}_url"))


def test_served_jwks_verifies_the_issuers_tokens(served_url: str) -> None:
    """A second service verifies the issuer's tokens through the published JWKS."""
    consumer = Settings.from_dict({"algorithms": ["RS256", "ES256"], "jwks_url": served_url})
    verifier = Verifier(consumer, clock=FakeClock())
    old = Issuer(issuer_settings(), clock=FakeClock()).access_token("alice")
    new = Issuer(issuer_settings(key_id="2026-06"), clock=FakeClock()).access_token("bob")
    assert verifier.verify(old).subject == "alice"
    assert verifier.verify(new).subject == "bob"


def test_served_jwks_response(served_url: str) -> None:
    """GET gives the JSON document with Cache-Control, HEAD no body, POST a 405."""
    with httpx.Client() as client:
        response = client.get(served_url)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=120"
        assert response.headers["content-type"] == "application/json"
        assert response.json() == jwks_document(issuer_settings())
        head = client.head(served_url)
        assert head.status_code == 200
        assert head.content == b""
        post = client.post(served_url)
        assert post.status_code == 405
        assert post.headers["allow"] == "GET, HEAD"


@pytest.mark.anyio
async def test_asgi_app_handles_lifespan_and_refuses_websockets() -> None:
    """The raw ASGI app completes lifespan startup/shutdown and closes websockets."""
    app = jwks_asgi_app(issuer_settings())
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    sent.clear()
    await app({"type": "websocket", "path": "/"}, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]
    sent.clear()
    await app({"type": "other"}, receive, send)
    assert sent == []
