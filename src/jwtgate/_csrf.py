"""The CSRF values of the token endpoints' cookie mode: an HMAC of the session id and
a nonce, under a key derived from the signing key (or given)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .config import Settings

__all__ = ["CSRF_SECRET_MIN", "csrf_key", "csrf_token", "csrf_valid"]

CSRF_SECRET_MIN = 32


def csrf_key(settings: Settings, secret: str | bytes | None = None) -> bytes:
    """The HMAC key of the CSRF values: ``secret`` when given (at least 32 bytes),
    else derived with HKDF-SHA256 from the signing key, under a label of its own so
    it is never the signing key itself."""
    if secret is not None:
        material = secret.encode() if isinstance(secret, str) else secret
        if len(material) < CSRF_SECRET_MIN:
            raise ValueError(f"csrf_secret must be at least {CSRF_SECRET_MIN} bytes")
    elif settings.signing_key is None:
        raise ValueError("cookie mode needs a signing key (private_key or secret) or csrf_secret")
    else:
        key = settings.signing_key.material()
        material = (
            key
            if isinstance(key, bytes)
            else key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"jwtgate csrf v1")
    return hkdf.derive(material)


def _csrf_mac(key: bytes, session_id: str, nonce: str) -> str:
    digest = hmac.new(key, f"{session_id}!{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def csrf_token(key: bytes, session_id: str) -> str:
    """A fresh CSRF value for ``session_id``: ``<nonce>.<mac>``."""
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{_csrf_mac(key, session_id, nonce)}"


def csrf_valid(key: bytes, session_id: str, value: str) -> bool:
    """Whether ``value`` is a CSRF value signed with ``key`` for ``session_id`` (constant time)."""
    nonce, _, mac = value.partition(".")
    expected = _csrf_mac(key, session_id, nonce)
    return bool(nonce) and hmac.compare_digest(mac.encode(), expected.encode())
