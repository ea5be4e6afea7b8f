"""Publishing your own JWKS: the public document of the configured asymmetric keys,
and raw ASGI / WSGI apps serving it (mount them at ``/.well-known/jwks.json``).
Importable as ``jwtgate.jwks.jwks_document``, ``jwks_asgi_app`` and ``jwks_wsgi_app``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from ._documents import ASGIApp, document_asgi_app, document_wsgi_app
from .keys import PRIVATE_MEMBERS, VerificationKey

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from .config import Settings

__all__ = ["jwks_asgi_app", "jwks_document", "jwks_wsgi_app"]


def _public_jwk(key: VerificationKey, settings_algorithms: Sequence[str]) -> dict[str, Any]:
    from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

    material: Any = key.key
    if hasattr(material, "private_bytes"):  # never publish a private key, even by mistake
        material = material.public_key()
    if isinstance(material, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(material, as_dict=True)
    elif isinstance(material, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(material, as_dict=True)
    elif isinstance(material, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        jwk = OKPAlgorithm.to_jwk(material, as_dict=True)
    else:  # an HMAC secret (bytes) is never published; tests/test_error_paths.py
        raise TypeError(f"cannot publish a {type(material).__name__}")
    public = {name: value for name, value in jwk.items() if name not in PRIVATE_MEMBERS}
    public["use"] = "sig"
    algorithms = [a for a in settings_algorithms if a in key.algorithms]
    if len(algorithms) == 1:
        public["alg"] = algorithms[0]
    if key.kid is not None:
        public["kid"] = key.kid
    return public


def _key_material(settings: Settings | Mapping[str, Any]) -> tuple[Any, Any, Sequence[str]]:
    """The static keys, signing key and algorithms of ``settings`` (a dict is checked as
    ``Settings.from_dict`` checks it; the checks, not ``Settings``, so that this module
    needs nothing that imports the JWKS client)."""
    if isinstance(settings, Mapping):
        from ._checks import validate

        values = validate(settings, "JWTGATE")
        return values["keys"], values["signing_key"], values["algorithms"]
    return settings.keys, settings.signing_key, settings.algorithms


def jwks_document(settings: Settings | Mapping[str, Any]) -> dict[str, Any]:
    """The public JWKS of ``settings``' asymmetric keys (``Settings`` or a settings
    dict), the active signing key first.

    HMAC secrets are never published; only public members of each key appear.
    Keys fetched from a remote ``jwks_url`` are not republished.
    """
    static, signing_key, algorithms = _key_material(settings)
    active = signing_key.kid if signing_key is not None else None
    keys = [k for k in static.keys if not isinstance(k.key, bytes)]
    keys.sort(key=lambda k: active is None or k.kid != active)
    return {"keys": [_public_jwk(k, algorithms) for k in keys]}


def _jwks_response(
    settings: Settings | Mapping[str, Any], max_age: int
) -> tuple[bytes, list[tuple[str, str]]]:
    value: object = max_age  # callers outside mypy's reach pass anything
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("max_age must be a whole number of seconds, 0 or more")
    body = json.dumps(jwks_document(settings), separators=(",", ":")).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Cache-Control", f"public, max-age={max_age}"),
        ("Content-Length", str(len(body))),
    ]
    return body, headers


def jwks_asgi_app(settings: Settings | Mapping[str, Any], *, max_age: int = 300) -> ASGIApp:
    """A raw ASGI app answering ``GET``/``HEAD`` with :func:`jwks_document` (mount it anywhere).

    ``max_age`` is the ``Cache-Control: max-age`` consumers are told to cache for;
    keep it well under the time between publishing a new key and signing with it.
    """
    return document_asgi_app(*_jwks_response(settings, max_age))


def jwks_wsgi_app(settings: Settings | Mapping[str, Any], *, max_age: int = 300) -> WSGIApplication:
    """A WSGI app answering ``GET``/``HEAD`` with :func:`jwks_document` (mount it anywhere)."""
    return document_wsgi_app(*_jwks_response(settings, max_age))
