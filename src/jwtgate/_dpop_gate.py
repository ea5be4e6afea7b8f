"""The Gate's decision with DPoP on (``dpop`` is ``"allow"`` or ``"require"``).

The Gate hands its ``decide`` / ``decide_async`` to a :class:`DPoPDoor` when DPoP is
on, so a Gate without DPoP runs exactly the code it ran before. The door runs the
same steps as the Gate (screens, token, revocation, rules) and, between token and
revocation, the DPoP ones:

- ``Authorization: DPoP <token>``: exactly one ``DPoP`` proof, checked by
  :class:`~jwtgate.dpop.ProofChecker` against the request and the token
  (``ath``); the token must be bound (``cnf.jkt``) to the proof's key; the proof
  is then claimed once in the replay store (:mod:`jwtgate._dpop_replay`).
- ``Authorization: Bearer <token>`` (or a cookie or query token): refused with
  ``dpop="require"``, refused with a ``DPoP`` proof next to it (a client that
  means DPoP must say so), and refused when the token is DPoP-bound (RFC 9449
  §7.2: never downgraded to a bearer token).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import _bearer
from ._dpop_nonce import Nonces
from ._dpop_replay import ReplayGuard, replay_key
from ._request import AUTHORIZATION, DPOP, METHOD, PATH, PREFLIGHT, RequestFields
from .dpop import ProofChecker
from .errors import (
    InvalidBinding,
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    RequestError,
)
from .http import Rejection
from .identity import ANONYMOUS, Identity
from .verify import Clock

if TYPE_CHECKING:
    from .gate import Gate

__all__ = ["DPoPDoor", "bound_key"]


def bound_key(claims: Mapping[str, Any]) -> str | None:
    """The ``cnf.jkt`` a token is bound to (RFC 9449 §6.1), or None."""
    cnf = claims.get("cnf")
    if isinstance(cnf, Mapping):
        jkt = cnf.get("jkt")
        if isinstance(jkt, str) and jkt:
            return jkt
    return None


class DPoPDoor:
    """The decision of a Gate with DPoP on; see the module docstring."""

    def __init__(self, gate: Gate, clock: Clock) -> None:
        settings = gate.settings
        self.gate = gate
        self.required = settings.dpop == "require"
        window = settings.dpop_iat_window
        nonces = (
            Nonces(window=window, clock=clock, key=settings.dpop_nonce_key)
            if settings.dpop_nonce
            else None
        )
        self.checker = ProofChecker(
            settings.dpop_algorithms, window=window, clock=clock, nonces=nonces
        )
        # A proof passes while its iat is within the window either side of now.
        self.ttl = 2 * window
        self.replay = ReplayGuard.of(settings, gate.revocation)
        resource = settings.resource
        self.origin = None
        if resource:  # behind a proxy, the resource's own origin is what clients address
            parts = urlsplit(resource)
            self.origin = f"{parts.scheme}://{parts.netloc}"

    def decide(self, request: RequestFields) -> Identity | Rejection:
        """:meth:`jwtgate.Gate.decide` with DPoP."""
        gate = self.gate
        try:
            if (gate._screens or request[PREFLIGHT]) and gate._skips(request):
                return ANONYMOUS
            token, dpop = self._credentials(request)
            identity = self._recall(token) or gate._verify(token)
            key = self._bind(request, identity, token, dpop)
            if key is not None and not self.replay.claim(key, self.ttl):
                raise InvalidDPoPProof("DPoP proof already used")
            if gate.revocation is not None and identity.is_authenticated:
                gate.revocation.check(identity)
            if gate._rules:
                gate.authorize(identity, request[METHOD], request[PATH])
        except RequestError as error:
            return gate.reject(error)
        return identity

    async def decide_async(self, request: RequestFields) -> Identity | Rejection:
        """:meth:`jwtgate.Gate.decide_async` with DPoP."""
        gate = self.gate
        try:
            if (gate._screens or request[PREFLIGHT]) and gate._skips(request):
                return ANONYMOUS
            token, dpop = self._credentials(request)
            identity = self._recall(token)
            if identity is None:
                if token is None or gate.verifier.never_blocks:
                    identity = gate._verify(token)
                else:
                    identity = await gate.verifier.verify_async(token)
            key = self._bind(request, identity, token, dpop)
            if key is not None and not await self.replay.claim_async(key, self.ttl):
                raise InvalidDPoPProof("DPoP proof already used")
            if gate.revocation is not None and identity.is_authenticated:
                await gate.revocation.check_async(identity)
            if gate._rules:
                gate.authorize(identity, request[METHOD], request[PATH])
        except RequestError as error:
            return gate.reject(error)
        return identity

    def _credentials(self, request: RequestFields) -> tuple[str | None, bool]:
        """The token and whether it came with the DPoP scheme; a bearer token is refused
        here, before any verification, when DPoP is required or a proof came with it."""
        gate = self.gate
        values = request[AUTHORIZATION]
        if len(values) == 1 and values[0].lstrip(" \t")[:5].lower() == "dpop ":
            return _bearer.from_header(values, "DPoP", gate._max), True
        token = gate.token(request)
        if token is not None:
            if self.required:
                raise InvalidToken("DPoP-bound token required")
            if self._proofs(request):
                raise InvalidRequest("DPoP proof sent with a Bearer token")
        return token, False

    def _recall(self, token: str | None) -> Identity | None:
        """A token verified before, from the verify cache (as the Gate's fast path)."""
        if token is None or not self.gate._recalls:
            return None
        return self.gate._remembered(token)

    def _proofs(self, request: RequestFields) -> list[str]:
        fields = request[DPOP]
        if fields is None:
            return []
        return [p.strip(" \t") for value in fields[0] for p in value.split(",")]

    def _url(self, request: RequestFields) -> str:
        fields = request[DPOP]
        url = "" if fields is None else fields[1]
        if self.origin is not None:
            return self.origin + (urlsplit(url).path or "/")
        return url

    def _bind(
        self, request: RequestFields, identity: Identity, token: str | None, dpop: bool
    ) -> str | None:
        """The replay key of the request's proof once every check passed, or None for a
        request without one (anonymous, or a bearer token that may stay one)."""
        jkt = bound_key(identity.claims) if identity.is_authenticated else None
        if not dpop:
            if jkt is not None:
                raise InvalidBinding()
            return None
        proofs = self._proofs(request)
        if not proofs:
            raise InvalidDPoPProof("DPoP proof missing")
        if len(proofs) > 1:
            raise InvalidDPoPProof("more than one DPoP proof")
        proof = self.checker.check(
            proofs[0], method=request[METHOD], url=self._url(request), access_token=token
        )
        if jkt is None:
            raise InvalidBinding("token is not DPoP-bound")
        if jkt != proof.jkt:
            raise InvalidDPoPProof("DPoP proof key does not match the token")
        return replay_key(proof.jkt, proof.jti)
