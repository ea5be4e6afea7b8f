"""``jwtgate verify --dpop PROOF``: check a DPoP proof against a token and a request,
and say in words which check failed.

The operator holds the proof and the token, so the explanation may quote their
unverified claims (``htm``, ``htu``, ``iat``, the key's thumbprint) next to what
the request and the token say.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import jwt

from ._dpop_gate import bound_key
from .config import Settings
from .dpop import DEFAULT_ALGORITHMS, ProofChecker, access_token_hash, normal_url, thumbprint
from .errors import InvalidDPoPProof

__all__ = ["check_dpop", "explain_binding"]


def explain_binding(claims: Mapping[str, Any]) -> str:
    """A line about the token's DPoP binding, or "" for a token bound to no key."""
    jkt = bound_key(claims)
    if jkt is None:
        return ""
    return (
        f"bound to the DPoP key {jkt} (cnf.jkt): send it as 'Authorization: DPoP <token>' "
        "with a proof signed by that key; as a Bearer token it is refused"
    )


def check_dpop(
    proof: str, token: str, claims: Mapping[str, Any], method: str, url: str, settings: Settings
) -> list[str]:
    """Lines explaining why ``proof`` does not fit ``token`` and the request; empty when
    it passes every check but the replay one (which needs the server's store)."""
    algorithms = settings.dpop_algorithms if settings.dpop != "off" else DEFAULT_ALGORITHMS
    checker = ProofChecker(algorithms, window=settings.dpop_iat_window, clock=time.time)
    try:
        checked = checker.check(proof, method=method, url=url, access_token=token)
    except InvalidDPoPProof as error:
        return [f"DPoP proof REFUSED: {error.description}", *_why(proof, token, method, url)]
    jkt = bound_key(claims)
    if jkt is None:
        return ["DPoP proof REFUSED: the token is bound to no key (no cnf.jkt)"]
    if jkt != checked.jkt:
        return [f"DPoP proof REFUSED: signed by the key {checked.jkt}, the token names {jkt}"]
    return []


def _why(proof: str, token: str, method: str, url: str) -> list[str]:
    try:
        header = jwt.get_unverified_header(proof)
        claims = jwt.decode(proof, options={"verify_signature": False})
    except jwt.PyJWTError:
        return ["the proof is not a compact JWT"]
    lines = [f"proof header: typ {header.get('typ')!r}, alg {header.get('alg')!r}"]
    if claims.get("htm") != method:
        lines.append(f"htm {claims.get('htm')!r}; the request's method is {method!r}")
    htu = claims.get("htu")
    if not isinstance(htu, str) or normal_url(htu) != normal_url(url):
        lines.append(f"htu {htu!r}; the request's URL is {url!r} (compared normalised)")
    iat = claims.get("iat")
    if isinstance(iat, int | float):
        lines.append(f"iat is {int(time.time() - iat)} seconds ago")
    if claims.get("ath") != access_token_hash(token):
        lines.append("ath is not the hash of this token")
    jwk = header.get("jwk")
    if isinstance(jwk, dict):
        try:
            lines.append(f"proof key thumbprint {thumbprint(jwk)}")
        except ValueError:
            lines.append("the proof's jwk is no usable public key")
    return lines
