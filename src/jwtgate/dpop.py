"""DPoP proofs (RFC 9449): checking one exactly as §4.3 says, and key thumbprints.

A DPoP client holds a key pair and signs, for every request, a short JWT (the
*proof*) naming the request's method (``htm``) and URL (``htu``), when it made it
(``iat``), a unique id (``jti``) and, next to an access token, that token's hash
(``ath``). Its public key travels in the proof's ``jwk`` header, and a DPoP-bound
access token names that key's RFC 7638 thumbprint in ``cnf.jkt``. A stolen token
is then useless without the key.

:class:`ProofChecker` does the checks of one proof that need nothing but the proof,
the request and the clock; the Gate adds what needs more (the token's ``cnf.jkt``,
the replay store: see ``jwtgate._dpop_gate``). All signature work is PyJWT's.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import jwt

from ._dpop_nonce import Nonces
from .errors import InvalidDPoPProof, UseDPoPNonce
from .keys import ASYMMETRIC_ALGORITHMS

__all__ = [
    "DEFAULT_ALGORITHMS",
    "MAX_PROOF_BYTES",
    "Proof",
    "ProofChecker",
    "access_token_hash",
    "normal_url",
    "thumbprint",
]

DEFAULT_ALGORITHMS: Final = ("ES256", "ES384", "PS256", "RS256", "EdDSA")
"""The proof algorithms accepted unless ``dpop_algorithms`` says otherwise."""

MAX_PROOF_BYTES: Final = 8192
"""A longer ``DPoP`` header is refused before any parsing (a 4096-bit RSA proof is
about 2,500 bytes)."""

MAX_JTI_CHARS: Final = 256

# RFC 7638 §3.2: the members a thumbprint covers, per key type.
_THUMBPRINT_MEMBERS: Final = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}
# Every private member of RFC 7518 §6 (and "k", a shared key): a proof's key is public.
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_KEY_TYPE_OF: Final = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_WS_SCHEMES: Final = {"ws": "http", "wss": "https"}
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]+")
_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK, base64url (what ``cnf.jkt`` holds).

    Raises ``ValueError`` for a key type without a thumbprint rule or a member that
    is missing or not a string.
    """
    members = _THUMBPRINT_MEMBERS.get(jwk.get("kty"))  # type: ignore[arg-type]
    if members is None:
        raise ValueError("unsupported key type")
    values = {name: jwk.get(name) for name in members}
    if not all(isinstance(v, str) for v in values.values()):
        raise ValueError("incomplete key")
    canonical = json.dumps(values, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def access_token_hash(token: str) -> str:
    """``ath``: base64url(SHA-256(the access token's ASCII bytes)) (RFC 9449 §4.2)."""
    return _b64url(hashlib.sha256(token.encode("ascii")).digest())


def _percent_normal(path: str) -> str:
    """RFC 3986 §6.2.2: escapes in upper case, unreserved characters unescaped."""
    if "%" not in path:
        return path
    out, i = [], 0
    while i < len(path):
        char = path[i]
        escape = path[i + 1 : i + 3]
        if char == "%" and len(escape) == 2 and all(c in "0123456789abcdefABCDEF" for c in escape):
            decoded = chr(int(escape, 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + escape.upper())
            i += 3
        else:
            out.append(char)
            i += 1
    return "".join(out)


def normal_url(url: str) -> str | None:
    """``url`` as RFC 9449 §4.3 compares ``htu``: scheme and host lower-case, the
    default port dropped, an empty path as ``/``, escapes normalised, no query and
    no fragment (``ws``/``wss`` are the ``http``/``https`` of a websocket
    handshake). None when it is no absolute http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    scheme = _WS_SCHEMES.get(scheme, scheme)
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return urlunsplit((scheme, netloc, _percent_normal(parts.path) or "/", "", ""))


@dataclass(frozen=True, slots=True)
class Proof:
    """A proof that passed :meth:`ProofChecker.check`: its key's thumbprint, its id
    and when it was made."""

    jkt: str
    jti: str
    iat: int


class ProofChecker:
    """Checks DPoP proofs against a request, RFC 9449 §4.3 steps 1 to 11.

    ``algorithms`` is the allow-list (asymmetric only); a proof's ``iat`` may be
    ``window`` seconds old or early. ``nonces`` (optional) are the server nonces a
    proof must carry. Replay (step 11's "not used before") is the caller's, as it
    needs a store.
    """

    def __init__(
        self,
        algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
        *,
        window: float = 60.0,
        clock: Callable[[], float],
        nonces: Nonces | None = None,
    ) -> None:
        refused = [a for a in algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if refused or not algorithms:
            raise ValueError(f"DPoP proofs need asymmetric algorithms, not {refused}")
        self.algorithms = algorithms
        self.window = window
        self.clock = clock
        self.nonces = nonces

    def check(self, proof: str, *, method: str, url: str, access_token: str | None) -> Proof:
        """The checked proof, or :class:`~jwtgate.errors.InvalidDPoPProof` (or
        :class:`~jwtgate.errors.UseDPoPNonce`) saying which check failed.

        ``url`` is the request's URL as the client addressed it (see
        :func:`normal_url`); ``access_token`` the token sent with the proof.
        """
        if len(proof) > MAX_PROOF_BYTES:
            raise InvalidDPoPProof("DPoP proof too large")
        header = _header(proof)
        alg = header.get("alg")
        if header.get("typ") != "dpop+jwt":
            raise InvalidDPoPProof("DPoP proof typ is not dpop+jwt")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidDPoPProof("DPoP proof algorithm not accepted")
        key, jkt = _public_key(header.get("jwk"), alg)
        claims = _claims(proof, key, alg)
        self._check_claims(claims, method, url, access_token)
        return Proof(jkt, claims["jti"], claims["iat"])

    def _check_claims(
        self, claims: dict[str, Any], method: str, url: str, access_token: str | None
    ) -> None:
        jti, iat = claims.get("jti"), claims.get("iat")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_CHARS:
            raise InvalidDPoPProof("DPoP proof jti missing or invalid")
        if claims.get("htm") != method:
            raise InvalidDPoPProof("DPoP proof htm does not match the request")
        htu = claims.get("htu")
        if not isinstance(htu, str) or normal_url(htu) != normal_url(url):
            raise InvalidDPoPProof("DPoP proof htu does not match the request")
        if isinstance(iat, bool) or not isinstance(iat, int | float):
            raise InvalidDPoPProof("DPoP proof iat missing or invalid")
        if abs(self.clock() - iat) > self.window:
            raise InvalidDPoPProof("DPoP proof iat outside the accepted window")
        if access_token is not None and claims.get("ath") != access_token_hash(access_token):
            raise InvalidDPoPProof("DPoP proof ath does not match the access token")
        if self.nonces is not None:
            nonce = claims.get("nonce")
            if not isinstance(nonce, str) or not self.nonces.valid(nonce):
                raise UseDPoPNonce(self.nonces.current())


def _header(proof: str) -> dict[str, Any]:
    """The proof's JOSE header, read to choose the key and algorithm; PyJWT then parses
    the whole proof again as it verifies it (this read trusts nothing)."""
    head, dot, _ = proof.partition(".")
    if not dot or not _BASE64URL.fullmatch(head):
        raise InvalidDPoPProof("malformed DPoP proof")
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidDPoPProof("malformed DPoP proof") from exc
    if not isinstance(header, dict):
        raise InvalidDPoPProof("malformed DPoP proof")
    return header


def _public_key(jwk: object, alg: str) -> tuple[Any, str]:
    """The verification key of a proof's ``jwk`` header and its thumbprint: a public
    key whose type fits ``alg``, with no private member (RFC 9449 §4.3 steps 6, 7)."""
    if not isinstance(jwk, dict):
        raise InvalidDPoPProof("DPoP proof has no jwk header")
    if _PRIVATE_MEMBERS.intersection(jwk):
        raise InvalidDPoPProof("DPoP proof jwk holds a private key")
    if jwk.get("kty") != _KEY_TYPE_OF[alg[:2]]:
        raise InvalidDPoPProof("DPoP proof jwk does not fit its algorithm")
    try:
        jkt = thumbprint(jwk)
        members = tuple((name, jwk[name]) for name in _THUMBPRINT_MEMBERS[jwk["kty"]])
        return _loaded_key(members, alg), jkt
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        raise InvalidDPoPProof("DPoP proof jwk is not a usable public key") from exc


@functools.lru_cache(maxsize=256)
def _loaded_key(members: tuple[tuple[str, str], ...], alg: str) -> Any:
    # A client signs every request with one key: parsing it once saves a third of a
    # proof check. Bounded, as the keys come from clients.
    return jwt.PyJWK(dict(members), algorithm=alg).key


def _claims(proof: str, key: Any, alg: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            proof,
            key,
            algorithms=[alg],
            # iat is judged against the window (and this clock) by the caller; a proof
            # has no audience; exp and nbf are not part of a proof.
            options={"verify_iat": False, "verify_exp": False, "verify_nbf": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise InvalidDPoPProof("DPoP proof signature does not verify") from exc
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidDPoPProof("malformed DPoP proof") from exc
    return claims
