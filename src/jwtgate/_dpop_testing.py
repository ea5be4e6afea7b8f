"""A DPoP client key for tests: it signs proofs and says which tokens it binds.

Re-exported by :mod:`jwtgate.testing` (and the ``jwtgate_dpop_key`` fixture)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import jwt

from .dpop import access_token_hash, thumbprint
from .keygen import generate

__all__ = ["DPoPKey", "dpop_key"]


class DPoPKey:
    """A client's DPoP key pair: :meth:`proof` signs a proof for one request, and
    :attr:`jkt` is what a token bound to it carries (``{"cnf": {"jkt": key.jkt}}``)."""

    def __init__(self, algorithm: str, private_pem: str, jwk: dict[str, Any]) -> None:
        self.algorithm = algorithm
        self.private_pem = private_pem
        self.jwk = jwk
        self.jkt = thumbprint(jwk)

    @property
    def cnf(self) -> dict[str, dict[str, str]]:
        """The claims that bind a token to this key: ``{"cnf": {"jkt": …}}``."""
        return {"cnf": {"jkt": self.jkt}}

    def proof(
        self,
        method: str,
        url: str,
        token: str | None = None,
        *,
        clock: Callable[[], float] = time.time,
        nonce: str | None = None,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A proof for ``method`` ``url`` (with ``ath`` for ``token``); ``claims``
        add or replace claims (``iat=…``, ``jti=…``), ``headers`` header members."""
        body: dict[str, Any] = {
            "htm": method,
            "htu": url,
            "iat": int(clock()),
            "jti": secrets.token_urlsafe(16),
        }
        if token is not None:
            body["ath"] = access_token_hash(token)
        if nonce is not None:
            body["nonce"] = nonce
        body.update(claims)
        header = {"typ": "dpop+jwt", "jwk": self.jwk, **(headers or {})}
        return jwt.encode(body, self.private_pem, algorithm=self.algorithm, headers=header)

    def __repr__(self) -> str:
        return f"DPoPKey(algorithm={self.algorithm!r}, jkt={self.jkt!r})"


def dpop_key(algorithm: str = "ES256") -> DPoPKey:
    """A new throwaway DPoP key (ES256 unless told: any asymmetric algorithm)."""
    files = generate(algorithm).files()
    jwk = dict(json.loads(files["jwks.json"])["keys"][0])
    public = {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y", "n", "e")}
    return DPoPKey(algorithm, files["private.pem"], public)
