"""Key material: parsing once at startup, binding each key to its algorithm family.

A :class:`VerificationKey` knows the exact algorithms it may verify. An HMAC secret
can only ever verify ``HS*``; an RSA public key only ``RS*``/``PS*``; an EC key only
the ``ES*`` algorithm of its curve; an Ed25519/Ed448 key only ``EdDSA``. Because the
key is looked up by the token's algorithm among keys bound this way, algorithm
confusion (an RSA public key used as an HMAC secret, RFC 8725 §2.1) cannot happen.

:class:`StaticKeys` is the key source for keys given in settings. Remote JWKS key
sources implement the same :class:`KeySource` protocol.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)
from cryptography.x509 import load_pem_x509_certificate

from .errors import UnknownKey

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "HMAC_ALGORITHMS",
    "HMAC_MIN_BYTES",
    "PRIVATE_MEMBERS",
    "KeyIndex",
    "KeySource",
    "PublicKey",
    "Secret",
    "SigningKey",
    "StaticKeys",
    "VerificationKey",
    "algorithms_for_key",
    "load_private_key",
    "load_public_key",
]

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHMS_BY_CURVE = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
ASYMMETRIC_ALGORITHMS = RSA_ALGORITHMS | frozenset(EC_ALGORITHMS_BY_CURVE.values()) | {"EdDSA"}
SUPPORTED_ALGORITHMS = HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS

# RFC 7518 §3.2: "A key of the same size as the hash output ... or larger MUST be used".
HMAC_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
RSA_MIN_BITS = 2048

PublicKey: TypeAlias = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)
PrivateKey: TypeAlias = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)


# JWK members that hold private or symmetric material (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class Secret:
    """Bytes that never show in ``repr()`` or ``str()`` (like Starlette's ``Secret``)."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = value

    def reveal(self) -> bytes:
        """The secret bytes; pass them only to the code that signs or verifies."""
        return self._value

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def algorithms_for_key(key: PublicKey | PrivateKey) -> frozenset[str]:
    """The algorithms a public or private key can serve, from its type (and curve)."""
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return RSA_ALGORITHMS
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        alg = EC_ALGORITHMS_BY_CURVE.get(key.curve.name)
        return frozenset({alg}) if alg else frozenset()
    return frozenset({"EdDSA"})


def _is_supported_key(key: object) -> bool:
    return isinstance(
        key,
        rsa.RSAPublicKey
        | rsa.RSAPrivateKey
        | ec.EllipticCurvePublicKey
        | ec.EllipticCurvePrivateKey
        | ed25519.Ed25519PublicKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PublicKey
        | ed448.Ed448PrivateKey,
    )


def load_public_key(pem: bytes) -> PublicKey:
    """Parse a PEM public key or X.509 certificate; raise ``ValueError`` if it is neither."""
    if b"-----BEGIN CERTIFICATE-----" in pem:
        key: object = load_pem_x509_certificate(pem).public_key()
    else:
        try:
            key = load_pem_public_key(pem)
        except UnsupportedAlgorithm as exc:
            raise ValueError(f"unsupported key type ({exc})") from exc
        except (ValueError, TypeError) as exc:
            if b"PRIVATE KEY" in pem:
                raise ValueError("this is a private key; give it as private_key") from exc
            raise ValueError("not a PEM public key or certificate") from exc
    if not _is_supported_key(key):
        raise ValueError(f"unsupported key type {type(key).__name__}")
    return key  # type: ignore[return-value]


def load_private_key(pem: bytes) -> PrivateKey:
    """Parse an unencrypted PEM private key; raise ``ValueError`` otherwise."""
    try:
        key: object = load_pem_private_key(pem, password=None)
    except UnsupportedAlgorithm as exc:
        raise ValueError(f"unsupported key type ({exc})") from exc
    except (ValueError, TypeError) as exc:
        raise ValueError("not an unencrypted PEM private key") from exc
    if not _is_supported_key(key):
        raise ValueError(f"unsupported key type {type(key).__name__}")
    return key  # type: ignore[return-value]


@dataclass(frozen=True)
class VerificationKey:
    """A prepared key, the algorithms it may verify, and its key id (``kid``)."""

    kid: str | None
    algorithms: frozenset[str]
    key: PublicKey | bytes = field(repr=False)


@dataclass(frozen=True)
class SigningKey:
    """The key tokens are issued with: its algorithm, key id and private material."""

    algorithm: str
    kid: str | None
    key: PrivateKey | Secret = field(repr=False)

    def material(self) -> PrivateKey | bytes:
        """What PyJWT's ``encode`` takes as the key."""
        return self.key.reveal() if isinstance(self.key, Secret) else self.key


class KeySource(Protocol):
    """Finds the key for a token's algorithm and ``kid``; raises ``UnknownKey`` if none fits.

    A source may also have ``peek(algorithm, kid) -> VerificationKey | None``: the key
    ``get`` would return right now without I/O, or None. The Verifier then confirms
    cached tokens with it (see :meth:`jwtgate.jwks.JWKSKeys.peek`).
    """

    def get(self, algorithm: str, kid: str | None) -> VerificationKey: ...

    async def get_async(self, algorithm: str, kid: str | None) -> VerificationKey: ...


class KeyIndex:
    """Keys indexed by algorithm and ``kid``: the one lookup rule of static and remote keys.

    A token with a ``kid`` gets the key with that ``kid`` for its algorithm; a key
    without a ``kid`` serves any token of its algorithms when it is the only key for
    that algorithm. A token without ``kid`` is accepted only when exactly one key
    fits its algorithm (never "try every key"). Two keys claiming one ``kid`` for
    one algorithm: neither is trusted.
    """

    def __init__(self, keys: Iterable[VerificationKey]) -> None:
        self.keys: tuple[VerificationKey, ...] = tuple(keys)
        self._by_kid: dict[tuple[str, str], VerificationKey | None] = {}
        by_alg: dict[str, list[VerificationKey]] = {}
        for key in self.keys:
            for alg in key.algorithms:
                by_alg.setdefault(alg, []).append(key)
                if key.kid is not None:
                    slot = (alg, key.kid)
                    self._by_kid[slot] = None if slot in self._by_kid else key
        self._sole = {alg: keys[0] for alg, keys in by_alg.items() if len(keys) == 1}
        self._unnamed_sole = {alg: key for alg, key in self._sole.items() if key.kid is None}

    def find(self, alg: str, kid: str | None, *, unnamed: bool = True) -> VerificationKey | None:
        """The key for ``alg``/``kid``, or None. ``unnamed=False``: a token's ``kid`` must
        match exactly (no sole key without ``kid`` standing in)."""
        if kid is None:
            return self._sole.get(alg)
        key = self._by_kid.get((alg, kid))
        if key is None and unnamed:
            return self._unnamed_sole.get(alg)
        return key

    def kids(self) -> list[str]:
        """The ``kid`` values held, sorted, ``(none)`` for keys without one (for logs)."""
        return sorted({k.kid or "(none)" for k in self.keys})

    def prints(self) -> dict[str, frozenset[str]]:
        """Each ``kid`` (``(none)`` for keys without one) with SHA-256 digests of its
        keys' material, to tell new material under a known ``kid`` (never logged)."""
        found: dict[str, set[str]] = {}
        for key in self.keys:
            material = key.key
            raw = (
                material
                if isinstance(material, bytes)
                else material.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
            )
            found.setdefault(key.kid or "(none)", set()).add(hashlib.sha256(raw).hexdigest())
        return {kid: frozenset(digests) for kid, digests in found.items()}


class StaticKeys(KeyIndex):
    """Keys given in settings, indexed once at startup (:class:`KeyIndex` rules)."""

    def get(self, algorithm: str, kid: str | None) -> VerificationKey:
        key = self.find(algorithm, kid)
        if key is None:
            raise UnknownKey()
        return key

    async def get_async(self, algorithm: str, kid: str | None) -> VerificationKey:
        return self.get(algorithm, kid)


def parse_jwks(document: Mapping[str, Any] | str | bytes) -> list[VerificationKey]:
    """Turn a JWKS document into verification keys; raise ``ValueError`` if unusable.

    Keys of unsupported types are skipped; a key's ``alg`` narrows it to that one
    algorithm; keys whose ``use`` is not ``sig`` are skipped.
    """
    from jwt import PyJWK
    from jwt.exceptions import PyJWTError

    if isinstance(document, str | bytes):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise ValueError("not valid JSON") from exc
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError('a JWKS is a JSON object with a "keys" list')
    result: list[VerificationKey] = []
    for jwk in document["keys"]:
        if not isinstance(jwk, Mapping) or jwk.get("use", "sig") != "sig":
            continue
        key_ops = jwk.get("key_ops")
        if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
            continue
        kid = jwk.get("kid")
        if kid is not None and not isinstance(kid, str):
            continue
        try:
            parsed = PyJWK(dict(jwk))
        except PyJWTError:
            continue
        material = parsed.key
        if isinstance(material, bytes):
            algorithms = HMAC_ALGORITHMS
            verification_material: PublicKey | bytes = material
        else:
            if hasattr(material, "public_key"):
                material = material.public_key()
            # A key type jwtgate cannot bind to an algorithm gets none, and is skipped below.
            supported = _is_supported_key(material)
            algorithms = algorithms_for_key(material) if supported else frozenset()
            verification_material = material
        alg = jwk.get("alg")
        if alg is not None:
            algorithms = algorithms & {alg}
        if algorithms:
            result.append(VerificationKey(kid, frozenset(algorithms), verification_material))
    if not result:
        raise ValueError("no usable signing keys in the JWKS")
    return result
