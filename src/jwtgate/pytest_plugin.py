"""jwtgate's pytest plugin: fixtures for testing your own app behind jwtgate.

Registered through the ``pytest11`` entry point, so installing jwtgate makes
these fixtures available in your tests:

``jwtgate_settings``
    Settings to mint and verify tokens with. The default is throwaway HS256
    settings; override the fixture in your ``conftest.py`` to return your app's
    settings (a dict or ``Settings``).
``jwtgate_clock``
    A :class:`~jwtgate.testing.FrozenClock` at the current time.
``jwtgate_token``
    A :class:`~jwtgate.testing.TokenFactory` over ``jwtgate_settings``:
    ``jwtgate_token("alice", scopes="read")``, ``jwtgate_token.expired()``,
    ``jwtgate_token.not_yet_valid()``, ``jwtgate_token.forged()``.
``jwtgate_keypair``
    A factory of throwaway asymmetric key pairs: ``jwtgate_keypair("ES256")``.
``jwtgate_dpop_key``
    A DPoP client key (:class:`~jwtgate.testing.DPoPKey`): bind a token to it with
    ``jwtgate_token("alice", claims=jwtgate_dpop_key.cnf)`` and sign each request's
    proof with ``jwtgate_dpop_key.proof("GET", url, token)``.
``jwtgate_jwks_server``
    A factory that serves a JWKS on 127.0.0.1 and stops it after the test.
``jwtgate_provider``
    A factory of stand-in identity providers (:class:`~jwtgate.testing.Provider`),
    one per issuer: ``a = jwtgate_provider("ES256")``, then
    ``{"ISSUERS": [a.entry(), b.entry()]}`` and ``a.token("alice", audience=...)``.
    Their JWKS servers stop after the test.

``jwtgate.testing.assert_rfc6750(response, 401, "invalid_token")`` checks
refusals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from .config import Settings
from .testing import (
    DPoPKey,
    FrozenClock,
    JWKSServer,
    KeyPair,
    Provider,
    TokenFactory,
    dpop_key,
    keypair,
    test_settings,
)


@pytest.fixture
def jwtgate_settings() -> Settings | Mapping[str, Any]:
    """Throwaway HS256 settings; override this fixture to use your app's settings."""
    return test_settings()


@pytest.fixture
def jwtgate_clock() -> FrozenClock:
    """A clock frozen at the current time; ``advance()`` it to test expiry."""
    return FrozenClock()


@pytest.fixture
def jwtgate_token(jwtgate_settings: Settings | Mapping[str, Any]) -> TokenFactory:
    """Mints tokens from ``jwtgate_settings`` at the real current time."""
    settings = (
        jwtgate_settings
        if isinstance(jwtgate_settings, Settings)
        else Settings.from_dict(jwtgate_settings)
    )
    return TokenFactory(settings)


@pytest.fixture
def jwtgate_keypair() -> Callable[..., KeyPair]:
    """``jwtgate_keypair("ES256")`` makes a throwaway key pair with its JWKS."""
    return keypair


@pytest.fixture
def jwtgate_dpop_key() -> DPoPKey:
    """A DPoP client key for this test: ``jwtgate_dpop_key.proof("GET", url, token)``
    signs a proof, and ``jwtgate_dpop_key.cnf`` binds a token to it
    (``jwtgate_token(claims=jwtgate_dpop_key.cnf)``)."""
    return dpop_key()


@pytest.fixture
def jwtgate_jwks_server() -> Iterator[Callable[..., JWKSServer]]:
    """``jwtgate_jwks_server(document)`` serves a JWKS on 127.0.0.1 for this test."""
    servers: list[JWKSServer] = []

    def start(document: Mapping[str, Any], path: str = "/.well-known/jwks.json") -> JWKSServer:
        server = JWKSServer(document, path)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def jwtgate_provider() -> Iterator[Callable[..., Provider]]:
    """``jwtgate_provider("ES256", issuer=...)`` starts a stand-in provider for this test."""
    providers: list[Provider] = []

    def start(algorithm: str = "ES256", **options: Any) -> Provider:
        provider = Provider(algorithm, **options)
        providers.append(provider)
        return provider

    yield start
    for provider in providers:
        provider.stop()
