"""DPoP at jwtgate's own token endpoints (RFC 9449 §5): bound tokens for a proof.

A client that sends a valid ``DPoP`` proof to ``/token`` gets tokens bound to its
key (``cnf.jkt`` in the access and the refresh token, ``token_type: "DPoP"``). The
refresh token carries the binding into every pair it makes, so ``/refresh`` then
needs a proof by the same key: a stolen refresh token is useless without it.
With ``dpop`` off, a ``DPoP`` header is ignored and tokens stay bearer tokens.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ._dpop_gate import bound_key
from ._dpop_nonce import Nonces
from ._dpop_replay import ReplayGuard, replay_key
from .config import Settings
from .dpop import ProofChecker
from .errors import InvalidDPoPProof, UseDPoPNonce
from .sessions import AsyncSessions, Sessions

__all__ = ["Claim", "EndpointProofs", "ProofRefused", "bound_claims", "bound_key", "proofs_of"]


class ProofRefused(Exception):
    """A proof the endpoint refuses: 400 ``invalid_dpop_proof`` or ``use_dpop_nonce``
    (RFC 9449 §5.1), with the nonce to send back for the latter."""

    def __init__(self, error: InvalidDPoPProof) -> None:
        self.error = error
        self.nonce = error.nonce if isinstance(error, UseDPoPNonce) else None
        super().__init__(error.description)


@dataclass(frozen=True)
class Claim:
    """The I/O step of claiming a proof once (sync or async, as the sessions are)."""

    guard: ReplayGuard
    key: str
    ttl: float

    def on(self, sessions: Sessions | AsyncSessions) -> Any:
        if isinstance(sessions, AsyncSessions):
            return self.guard.claim_async(self.key, self.ttl)
        return self.guard.claim(self.key, self.ttl)


class EndpointProofs:
    """Checks the proofs sent to the token endpoints, for one ``Settings``."""

    def __init__(self, settings: Settings) -> None:
        self.on = settings.dpop != "off"
        window = settings.dpop_iat_window
        nonces = None
        if settings.dpop_nonce:
            nonces = Nonces(window=window, clock=time.time, key=settings.dpop_nonce_key)
        self.checker = ProofChecker(
            settings.dpop_algorithms, window=window, clock=time.time, nonces=nonces
        )
        self.replay = ReplayGuard.of(settings)
        self.ttl = 2 * window
        self.origin = None
        if settings.resource:
            parts = urlsplit(settings.resource)
            self.origin = f"{parts.scheme}://{parts.netloc}"

    def key(
        self, proofs: tuple[str, ...], method: str, url: str, bound: str | None
    ) -> Generator[Claim, Any, str | None]:
        """The thumbprint of the request's proof key (None without a proof, when the
        session is bound to none), once the proof is checked and claimed; a session
        ``bound`` to a key needs a proof by it."""
        if not self.on or (not proofs and bound is None):
            return None
        try:
            if not proofs:
                raise InvalidDPoPProof("DPoP proof missing")
            if len(proofs) > 1:
                raise InvalidDPoPProof("more than one DPoP proof")
            if self.origin is not None:
                url = self.origin + (urlsplit(url).path or "/")
            proof = self.checker.check(proofs[0], method=method, url=url, access_token=None)
            if bound is not None and proof.jkt != bound:
                raise InvalidDPoPProof("DPoP proof key does not match the token")
            if not (yield Claim(self.replay, replay_key(proof.jkt, proof.jti), self.ttl)):
                raise InvalidDPoPProof("DPoP proof already used")
        except InvalidDPoPProof as error:
            raise ProofRefused(error) from None
        return proof.jkt


def proofs_of(headers: Mapping[str, str] | None) -> tuple[str, ...]:
    """Every proof in the ``DPoP`` header (a server joins repeated lines with ``,``)."""
    value = (headers or {}).get("dpop")
    return () if value is None else tuple(p.strip(" \t") for p in value.split(","))


def bound_claims(claims: Mapping[str, Any] | None, jkt: str | None) -> Mapping[str, Any] | None:
    """``claims`` with ``cnf.jkt`` when a proof bound the session."""
    if jkt is None:
        return claims
    return {**(claims or {}), "cnf": {"jkt": jkt}}
