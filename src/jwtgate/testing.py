"""Helpers for testing your own app behind jwtgate.

Nothing here imports pytest; the fixtures that wrap these helpers live in the
pytest plugin ``jwtgate.pytest_plugin``, registered automatically when jwtgate is
installed (fixtures ``jwtgate_settings``, ``jwtgate_token``, ``jwtgate_keypair``,
``jwtgate_clock``, ``jwtgate_jwks_server``).

- :func:`test_settings` makes valid throwaway settings (a fresh random HS256
  secret unless you pass key material).
- :class:`TokenFactory` mints tokens from your settings, including expired,
  not-yet-valid and wrongly signed ones, relative to a clock you control.
- :func:`keypair` makes a throwaway asymmetric key pair with its JWKS.
- :class:`FrozenClock` is a clock for ``Verifier``/``Gate`` that moves only when told.
- :func:`assert_rfc6750` checks a refusal the way RFC 6750 defines it.
- :class:`JWKSServer` serves a JWKS on 127.0.0.1 for apps that fetch keys.
- :func:`dpop_key` makes a DPoP client key (:class:`DPoPKey`) that signs proofs
  for requests and names the ``cnf`` claim that binds a token to it.
- :class:`Provider` is a stand-in identity provider (its own keys, served by a
  ``JWKSServer``, and the tokens it signs) for settings with several ``issuers``.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt

from ._dpop_testing import DPoPKey, dpop_key
from .config import Settings
from .issue import Issuer
from .keygen import generate

__all__ = [
    "DPoPKey",
    "FrozenClock",
    "JWKSServer",
    "KeyPair",
    "Provider",
    "TokenFactory",
    "assert_rfc6750",
    "dpop_key",
    "keypair",
    "parse_challenge",
    "test_settings",
]


def test_settings(**overrides: Any) -> Settings:
    """Valid settings for tests: a random HS256 secret, overridden by keyword."""
    data: dict[str, Any] = {"secret": secrets.token_urlsafe(48)}
    data.update({k.lower(): v for k, v in overrides.items()})
    return Settings.from_dict(data)


test_settings.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest


class FrozenClock:
    """A clock (``() -> float``) that stands still until :meth:`advance` or :meth:`set`."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative number)."""
        self.now += seconds

    def set(self, now: float) -> None:
        """Put the clock at a Unix time."""
        self.now = now


class TokenFactory:
    """Mints tokens for tests from settings, relative to ``clock`` (default: real time)."""

    def __init__(
        self, settings: Settings | Mapping[str, Any], clock: FrozenClock | None = None
    ) -> None:
        # A plain dict too, as everywhere else in jwtgate.
        if not isinstance(settings, Settings):
            settings = Settings.from_dict(settings)
        self.settings = settings
        self.clock = clock
        self._issuer = Issuer(settings, clock=clock or time.time)

    def __call__(
        self,
        subject: str = "user",
        *,
        scopes: str | list[str] | None = None,
        claims: Mapping[str, Any] | None = None,
        ttl: int | None = None,
    ) -> str:
        """A valid access token for ``subject`` with optional scopes and claims."""
        extra = dict(claims or {})
        if scopes is not None:
            extra[self.settings.scopes_claim] = scopes
        return self._issuer.access_token(subject, extra, ttl)

    def expired(self, subject: str = "user", *, seconds_ago: int | None = None) -> str:
        """A token whose ``exp`` passed ``seconds_ago`` seconds ago: by default 60 seconds
        beyond the settings' ``leeway``, so it is refused whatever the leeway."""
        ago = self.settings.leeway + 60 if seconds_ago is None else seconds_ago
        payload = self._issuer.claims_for(subject, None, 300)
        payload["exp"] = int(self._now()) - ago
        payload["iat"] = payload["exp"] - 300
        return self._issuer.encode(payload)

    def not_yet_valid(self, subject: str = "user", *, starts_in: int | None = None) -> str:
        """A token with ``nbf`` ``starts_in`` seconds in the future: by default 60 seconds
        beyond the ``leeway``, so it is refused whatever the leeway."""
        ahead = self.settings.leeway + 60 if starts_in is None else starts_in
        payload = self._issuer.claims_for(subject, None, 300)
        payload["nbf"] = int(self._now()) + ahead
        return self._issuer.encode(payload)

    def forged(self, subject: str = "user") -> str:
        """A well-formed token signed with a key the app does not know."""
        payload = self._issuer.claims_for(subject, None, 300)
        algorithm = self._issuer.signing_key.algorithm
        if algorithm.startswith("HS"):
            return jwt.encode(payload, secrets.token_bytes(64), algorithm=algorithm)
        return jwt.encode(payload, keypair(algorithm).private_pem, algorithm=algorithm)

    def _now(self) -> float:
        return self.clock() if self.clock is not None else time.time()


@dataclass(frozen=True)
class KeyPair:
    """A throwaway key pair: PEMs, its public JWKS, its kid, and settings using it."""

    algorithm: str
    kid: str
    private_pem: str
    public_pem: str
    jwks: dict[str, Any]

    def settings(self, **overrides: Any) -> Settings:
        """Settings that sign with this pair (``private_key``) and verify its tokens."""
        data: dict[str, Any] = {
            "algorithms": [self.algorithm],
            "private_key": self.private_pem,
            "key_id": self.kid,
        }
        data.update({k.lower(): v for k, v in overrides.items()})
        return Settings.from_dict(data)

    def __repr__(self) -> str:
        return f"KeyPair(algorithm={self.algorithm!r}, kid={self.kid!r})"


def keypair(algorithm: str = "ES256", kid: str | None = None) -> KeyPair:
    """A new throwaway asymmetric key pair (RS256, PS256, ES256/384/512 or EdDSA)."""
    if algorithm.startswith("HS"):
        raise ValueError("keypair() makes asymmetric keys; use test_settings() for HS*")
    material = generate(algorithm, kid=kid)
    files = material.files()
    return KeyPair(
        algorithm,
        material.kid,
        files["private.pem"],
        files["public.pem"],
        json.loads(files["jwks.json"]),
    )


def parse_challenge(value: str) -> tuple[str, dict[str, str]]:
    """Split a ``WWW-Authenticate`` value into its scheme and parameters."""
    scheme, _, rest = value.strip().partition(" ")
    params: dict[str, str] = {}
    i = 0
    while i < len(rest):
        while i < len(rest) and rest[i] in " ,":
            i += 1
        eq = rest.find("=", i)
        if eq == -1:
            break
        name = rest[i:eq].strip().lower()
        i = eq + 1
        if i < len(rest) and rest[i] == '"':
            i += 1
            chars = []
            while i < len(rest) and rest[i] != '"':
                if rest[i] == "\\" and i + 1 < len(rest):
                    i += 1
                chars.append(rest[i])
                i += 1
            i += 1
            params[name] = "".join(chars)
        else:
            end = rest.find(",", i)
            end = len(rest) if end == -1 else end
            params[name] = rest[i:end].strip()
            i = end
    return scheme, params


def _status_and_headers(response: Any) -> tuple[int, Mapping[str, str]]:
    status = getattr(response, "status_code", None)
    if status is None:
        status = getattr(response, "status", None)
    if isinstance(status, str):
        status = int(status.split()[0])
    headers = getattr(response, "headers", None)
    if headers is None and hasattr(response, "items"):
        headers = response
    if not isinstance(status, int) or headers is None:
        raise TypeError("pass a response with .status_code (or .status) and .headers")
    return status, headers


def assert_rfc6750(
    response: Any,
    status: int = 401,
    error: str | None = None,
    *,
    scope: str | None = None,
    realm: str | None = None,
) -> dict[str, str]:
    """Assert ``response`` is an RFC 6750 refusal; return the challenge's parameters.

    Works with httpx, requests, Starlette, Flask/werkzeug and Django test
    responses. ``error=None`` asserts that there is no ``error`` parameter, which
    is what RFC 6750 §3.1 requires when the request had no credentials.
    """
    actual, headers = _status_and_headers(response)
    assert actual == status, f"expected status {status}, got {actual}"
    value = headers.get("WWW-Authenticate") or headers.get("www-authenticate")
    assert value, "a refusal must carry WWW-Authenticate (RFC 6750 §3)"
    scheme, params = parse_challenge(value)
    assert scheme.lower() == "bearer", f"expected a Bearer challenge, got {scheme!r}"
    assert params.get("error") == error, f"expected error={error!r}, got {params.get('error')!r}"
    if error is not None:
        assert params.get("error_description"), "an error should come with error_description"
    if scope is not None:
        assert params.get("scope") == scope, (
            f"expected scope={scope!r}, got {params.get('scope')!r}"
        )
    if realm is not None:
        assert params.get("realm") == realm, (
            f"expected realm={realm!r}, got {params.get('realm')!r}"
        )
    return params


class JWKSServer:
    """Serves a JWKS document on 127.0.0.1 (a free port) until :meth:`stop`.

    Change ``document`` at any time to rotate keys, or ``path`` to serve it where a
    provider does; ``requests`` counts fetches. It also answers OpenID discovery
    (``/.well-known/openid-configuration``: :attr:`issuer` and the JWKS URL), for
    settings with ``jwks_discovery``. Use as a context manager.
    """

    def __init__(self, document: Mapping[str, Any], path: str = "/.well-known/jwks.json") -> None:
        self.document: Mapping[str, Any] = document
        self.path = path
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                if self.path == "/.well-known/openid-configuration":
                    document: Mapping[str, Any] = {"issuer": server.issuer, "jwks_uri": server.url}
                elif self.path == server.path:
                    document = server.document
                else:
                    self.send_error(404)
                    return
                body = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval: stop() (shutdown) returns within 50 ms, not 500.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """The JWKS URL."""
        return self.base + self.path

    @property
    def issuer(self) -> str:
        """The issuer its discovery document names: :attr:`base` with a slash."""
        return self.base + "/"

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> JWKSServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class Provider:
    """A stand-in identity provider on 127.0.0.1: a throwaway key pair, a
    :class:`JWKSServer` serving its public keys (and OpenID discovery), and tokens
    signed with it. Make one per issuer to test settings with several ``issuers``.

    ``issuer`` is the ``iss`` its tokens carry (by default the server's own
    :attr:`JWKSServer.issuer`, which discovery names); ``typ`` their ``typ`` header
    (RFC 9068's ``at+jwt`` by default; None for none); ``scopes_claim`` where
    ``scopes=`` goes (Entra uses ``scp``). Stop it with :meth:`stop`, or use it as a
    context manager.
    """

    def __init__(
        self,
        algorithm: str = "ES256",
        *,
        issuer: str | None = None,
        typ: str | None = "at+jwt",
        scopes_claim: str = "scope",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keypair(algorithm)
        self.server = JWKSServer(self.keys.jwks)
        self.issuer = issuer if issuer is not None else self.server.issuer
        self.typ = typ
        self.scopes_claim = scopes_claim
        self.clock = clock

    def entry(self, **overrides: Any) -> dict[str, Any]:
        """An entry of the ``issuers`` setting for this provider (its issuer, JWKS URL and
        algorithm), with ``overrides`` (``audience``, ``issuer`` as a template…)."""
        entry: dict[str, Any] = {
            "issuer": self.issuer,
            "jwks_url": self.server.url,
            "algorithms": [self.keys.algorithm],
        }
        entry.update({k.lower(): v for k, v in overrides.items()})
        return entry

    def token(
        self,
        subject: str = "user",
        *,
        audience: str | list[str] | None = None,
        scopes: str | list[str] | None = None,
        claims: Mapping[str, Any] | None = None,
        ttl: int = 300,
        issuer: str | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        """An access token for ``subject`` signed with this provider's key: ``iss`` is
        ``issuer`` (default: the provider's); ``headers`` change the JOSE header (a
        None value removes the member: ``headers={"typ": None}``)."""
        now = int(self.clock())
        payload: dict[str, Any] = {
            "iss": self.issuer if issuer is None else issuer,
            "sub": subject,
            "iat": now,
            "exp": now + ttl,
            "jti": secrets.token_urlsafe(12),
        }
        if audience is not None:
            payload["aud"] = audience
        if scopes is not None:
            payload[self.scopes_claim] = scopes if isinstance(scopes, str) else " ".join(scopes)
        payload.update(claims or {})
        header: dict[str, Any] = {"kid": self.keys.kid, "typ": self.typ}
        header.update(headers or {})
        header = {k: v for k, v in header.items() if v is not None}
        return jwt.encode(payload, self.keys.private_pem, self.keys.algorithm, headers=header)

    @property
    def requests(self) -> int:
        """How many requests its JWKS server answered (key and discovery fetches)."""
        return self.server.requests

    def stop(self) -> None:
        """Stop its JWKS server."""
        self.server.stop()

    def __enter__(self) -> Provider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Provider(issuer={self.issuer!r}, algorithm={self.keys.algorithm!r})"
