"""Key generation for ``jwtgate keygen``: HMAC secrets, PEM pairs and a public JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from .keys import HMAC_MIN_BYTES, PrivateKey, PublicKey

__all__ = ["KeyMaterial", "generate", "public_jwk", "thumbprint"]

_CURVES: dict[str, ec.EllipticCurve] = {
    "ES256": ec.SECP256R1(),
    "ES384": ec.SECP384R1(),
    "ES512": ec.SECP521R1(),
}
# RFC 7638 §3.2: the members that define each key type's thumbprint.
_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}


@dataclass
class KeyMaterial:
    """What keygen made: file name → content."""

    algorithm: str
    kid: str
    contents: dict[str, str] = field(default_factory=dict)

    def files(self) -> dict[str, str]:
        """File name → text to write (or print)."""
        return self.contents


def public_jwk(key: PublicKey) -> dict[str, Any]:
    """The public JWK of ``key`` (never private members)."""
    if isinstance(key, rsa.RSAPublicKey):
        return RSAAlgorithm.to_jwk(key, as_dict=True)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return ECAlgorithm.to_jwk(key, as_dict=True)
    return OKPAlgorithm.to_jwk(key, as_dict=True)


def thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK, base64url."""
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def _private_key(alg: str) -> PrivateKey:
    if alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"):
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if alg in _CURVES:
        return ec.generate_private_key(_CURVES[alg])
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"cannot generate a key for {alg!r}")


def generate(alg: str = "HS256", kid: str | None = None, *, folder: str = "") -> KeyMaterial:
    """A new key for ``alg``: an HMAC secret, or a private/public PEM pair plus JWKS.

    ``folder``: where the files will be written, so the generated settings name
    the private key by its absolute path (a ``file:`` reference is read relative
    to the working directory of whoever loads the settings).
    """
    if alg in HMAC_MIN_BYTES:
        # token_urlsafe(n) carries n random bytes in about 1.3 n characters.
        secret = secrets.token_urlsafe(HMAC_MIN_BYTES[alg])
        kid = kid or secrets.token_hex(4)
        settings = {"ALGORITHMS": [alg], "SECRET": "env:JWTGATE_SECRET", "KEY_ID": kid}
        return KeyMaterial(
            alg,
            kid,
            {
                "secret.txt": secret + "\n",
                "settings.json": json.dumps(settings, indent=2) + "\n",
            },
        )
    private = _private_key(alg)
    public = private.public_key()
    jwk = public_jwk(public)
    kid = kid or thumbprint(jwk)[:16]
    jwk.update(kid=kid, alg=alg, use="sig")
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    private_file = f"{folder.rstrip('/')}/private.pem" if folder else "private.pem"
    settings = {"ALGORITHMS": [alg], "PRIVATE_KEY": f"file:{private_file}", "KEY_ID": kid}
    return KeyMaterial(
        alg,
        kid,
        {
            "private.pem": private_pem,
            "public.pem": public_pem,
            "jwks.json": json.dumps({"keys": [jwk]}, indent=2) + "\n",
            "settings.json": json.dumps(settings, indent=2) + "\n",
        },
    )
