"""Key loading: the key settings read into keys, with every problem found on the way.

:func:`load_keys` reads ``secret``, ``public_key``, ``private_key`` (each a value
or a ``{kid: value}`` dict), ``key_id`` and ``jwks``: it follows ``env:NAME`` and
``file:PATH`` indirections, parses PEM text and JWKS documents, checks HMAC secret
lengths (RFC 7518 §3.2), RSA sizes and key/algorithm fit, and picks the signing
key. It returns the keys and the problems (ids ``jwtgate.E007``-``E016``,
``E023``, ``E026``, ``E008``); ``jwtgate.config`` only calls it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

from ._problems import Report
from .errors import Problem
from .keys import (
    ASYMMETRIC_ALGORITHMS,
    HMAC_ALGORITHMS,
    HMAC_MIN_BYTES,
    RSA_MIN_BITS,
    PrivateKey,
    PublicKey,
    Secret,
    SigningKey,
    StaticKeys,
    VerificationKey,
    algorithms_for_key,
    load_private_key,
    load_public_key,
    parse_jwks,
)

__all__ = ["LoadedKeys", "load_keys"]


class LoadedKeys(NamedTuple):
    """What :func:`load_keys` found: the verification keys, the signing key, the problems."""

    keys: StaticKeys
    signing_key: SigningKey | None
    problems: list[Problem]


def load_keys(
    raw: Mapping[str, Any], algorithms: tuple[str, ...], *, name: str = "JWTGATE"
) -> LoadedKeys:
    """Read the key settings of ``raw`` (lower-case keys) for ``algorithms``.

    ``name`` is how problems refer to the dict. With a remote JWKS configured
    (``jwks_url`` or ``jwks_discovery``) an algorithm without a local key is no
    problem: its keys come at the first fetch.
    """
    loader = _KeyLoader(raw, name)
    keys, signing_key = loader.check_keys(algorithms)
    return LoadedKeys(keys, signing_key, loader.problems)


class _KeyLoader(Report):
    """Reads the key settings one by one, collecting problems instead of raising."""

    def remote_configured(self) -> bool:
        return self.raw.get("jwks_url") is not None or self.raw.get("jwks_discovery") is True

    def resolve(self, key: str, value: Any, *, what: str) -> bytes | None:
        """Follow ``env:NAME`` / ``file:PATH`` indirections; return the bytes, or None."""
        if isinstance(value, bytes):
            return value
        if not isinstance(value, str) or not value:
            self.add(
                "E003",
                key,
                f"{self.ref(key)} should be {what} (str or bytes), or 'env:NAME' / 'file:PATH'.",
            )
            return None
        if value.startswith("env:"):
            var = value[4:]
            env = os.environ.get(var)
            if env is None:
                self.add(
                    "E012",
                    key,
                    f"{self.ref(key)} names the environment variable {var!r}, which is not set.",
                    f"Set {var} before starting the app.",
                )
                return None
            return env.encode()
        if value.startswith("file:"):
            path = Path(value[5:]).expanduser()
            try:
                data = path.read_bytes()
            except OSError as exc:
                self.add(
                    "E013",
                    key,
                    f"{self.ref(key)} names the file {str(path)!r}, which cannot "
                    f"be read ({exc.strerror or type(exc).__name__}).",
                    "Check the path and its permissions.",
                )
                return None
            # A trailing newline is an editor's, not part of the secret.
            return data.rstrip(b"\r\n") if key == "secret" else data
        return value.encode()

    def keyed(self, key: str) -> list[tuple[str | None, Any]]:
        """A single value, or a ``{kid: value}`` dict, as ``(kid, value)`` pairs."""
        value = self.raw.get(key)
        if value is None:
            return []
        if isinstance(value, Mapping):
            if not value or not all(isinstance(k, str) and k for k in value):
                self.add(
                    "E003",
                    key,
                    f"{self.ref(key)} as a dict should map non-empty key ids (kid) to keys.",
                )
                return []
            return list(value.items())
        return [(None, value)]

    def check_keys(self, algorithms: tuple[str, ...]) -> tuple[StaticKeys, SigningKey | None]:
        problems_before = len(self.problems)
        hmac_algs = HMAC_ALGORITHMS.intersection(algorithms)
        keys: list[VerificationKey] = []
        signing: list[tuple[str | None, PrivateKey | Secret, frozenset[str]]] = []

        for kid, value in self.keyed("secret"):
            material = self.resolve("secret", value, what="an HMAC secret")
            if material is None:
                continue
            if b"-----BEGIN" in material or material.startswith(b"ssh-"):
                self.add(
                    "E009",
                    "secret",
                    f"{self.ref('secret')} looks like a PEM or SSH key; an "
                    "HMAC secret must be random bytes, never a public key.",
                    f"Give public keys as {self.ref('public_key')}.",
                )
                continue
            if not hmac_algs:
                self.add(
                    "E009",
                    "secret",
                    f"{self.ref('secret')} is set but "
                    f"{self.ref('algorithms')} has no HMAC (HS*) algorithm.",
                    "Remove the secret, or use HS256.",
                )
                continue
            needed = max(HMAC_MIN_BYTES[a] for a in hmac_algs)
            if len(material) < needed:
                self.add(
                    "E007",
                    "secret",
                    f"{self.ref('secret')} is {len(material)} bytes; "
                    f"{'/'.join(sorted(hmac_algs))} needs at least {needed} (RFC 7518 §3.2).",
                    f"Generate one with secrets.token_urlsafe({needed}).",
                )
                continue
            keys.append(VerificationKey(kid, frozenset(hmac_algs), material))
            signing.append((kid, Secret(material), frozenset(hmac_algs)))

        for kid, value in self.keyed("public_key"):
            pem = self.resolve("public_key", value, what="a PEM public key")
            if pem is None:
                continue
            try:
                public = load_public_key(pem)
            except ValueError as exc:
                self.add(
                    "E014",
                    "public_key",
                    f"{self.ref('public_key')} cannot be read: {exc}.",
                    "Give PEM text ('-----BEGIN PUBLIC KEY-----…') or 'file:PATH'.",
                )
                continue
            self.add_public(keys, "public_key", kid, public, algorithms, hmac_algs)

        # A {kid: pem} dict holds several signing keys (rotation, issue 5); KEY_ID
        # names the active one and the others still verify.
        for dict_kid, private_value in self.keyed("private_key"):
            pem = self.resolve("private_key", private_value, what="a PEM private key")
            if pem is not None:
                try:
                    private = load_private_key(pem)
                except ValueError as exc:
                    self.add(
                        "E014",
                        "private_key",
                        f"{self.ref('private_key')} cannot be read: {exc}.",
                        "Give unencrypted PEM text or 'file:PATH'.",
                    )
                else:
                    key_id = self.raw.get("key_id")
                    kid = dict_kid or (key_id if isinstance(key_id, str) else None)
                    usable = self.add_public(
                        keys,
                        "private_key",
                        kid,
                        private.public_key(),
                        algorithms,
                        hmac_algs,
                        derived=True,
                    )
                    if usable:
                        signing.append((kid, private, usable))

        jwks_value = self.raw.get("jwks")
        if jwks_value is not None:
            document = (
                jwks_value
                if isinstance(jwks_value, Mapping)
                else self.resolve("jwks", jwks_value, what="a JWKS document")
            )
            if document is not None:
                try:
                    for jwk_key in parse_jwks(document):
                        usable = jwk_key.algorithms & set(algorithms)
                        if isinstance(jwk_key.key, bytes) and any(
                            len(jwk_key.key) < HMAC_MIN_BYTES[a] for a in usable
                        ):
                            self.add(
                                "E007",
                                "jwks",
                                f"{self.ref('jwks')} has an HMAC key shorter "
                                "than its algorithm's hash output (RFC 7518 §3.2).",
                            )
                        elif usable:
                            keys.append(replace(jwk_key, algorithms=frozenset(usable)))
                except ValueError as exc:
                    self.add("E026", "jwks", f"{self.ref('jwks')} is not a usable JWKS: {exc}.")

        key_ids = [k.kid for k in keys]
        if len([k for k in key_ids if k is not None]) != len({k for k in key_ids if k is not None}):
            self.add(
                "E023",
                "key_id",
                "two configured keys share one key id (kid).",
                "Give every key its own kid.",
            )

        # With a remote JWKS the keys are only known at the first fetch. A key already
        # reported as unusable would make every algorithm "keyless": say it once.
        if not self.remote_configured() and len(self.problems) == problems_before:
            for alg in algorithms:
                if not any(alg in k.algorithms for k in keys):
                    where = (
                        self.ref("secret")
                        if alg in HMAC_ALGORITHMS
                        else (
                            f"{self.ref('public_key')}, {self.ref('private_key')} "
                            f"or {self.ref('jwks')}"
                        )
                    )
                    self.add(
                        "E008",
                        "algorithms",
                        f"{self.ref('algorithms')} includes {alg!r} but "
                        "no configured key can verify it.",
                        f"Set {where}.",
                    )

        return StaticKeys(keys), self.pick_signing_key(signing, algorithms)

    def add_public(
        self,
        keys: list[VerificationKey],
        key: str,
        kid: str | None,
        public: PublicKey,
        algorithms: tuple[str, ...],
        hmac_algs: frozenset[str],
        derived: bool = False,
    ) -> frozenset[str]:
        if hmac_algs and not ASYMMETRIC_ALGORITHMS.intersection(algorithms):
            self.add(
                "E009",
                key,
                f"{self.ref(key)} is set but {self.ref('algorithms')} only has "
                "HMAC algorithms; a public key must never be used as an HMAC secret.",
                "Use RS256/ES256/EdDSA with public keys, or HS256 with a secret.",
            )
            return frozenset()
        from cryptography.hazmat.primitives.asymmetric import rsa

        if isinstance(public, rsa.RSAPublicKey) and public.key_size < RSA_MIN_BITS:
            self.add(
                "E016",
                key,
                f"{self.ref(key)} is a {public.key_size}-bit RSA key; at least "
                f"{RSA_MIN_BITS} bits are required (RFC 7518 §3.3).",
            )
            return frozenset()
        usable = algorithms_for_key(public) & set(algorithms)
        if not usable:
            self.add(
                "E015",
                key,
                f"{self.ref(key)} is a {type(public).__name__.replace('_', '')} "
                f"key, which fits none of {self.ref('algorithms')} {list(algorithms)}.",
                f"Add one of {sorted(algorithms_for_key(public))} to ALGORITHMS.",
            )
            return frozenset()
        if derived and any(
            k.kid == kid or (k.kid is None and k.key == public)
            for k in keys
            if k.algorithms & usable
        ):
            return usable  # the matching public key was also given explicitly
        keys.append(VerificationKey(kid, usable, public))
        return usable

    def pick_signing_key(
        self,
        candidates: list[tuple[str | None, PrivateKey | Secret, frozenset[str]]],
        algorithms: tuple[str, ...],
    ) -> SigningKey | None:
        key_id = self.raw.get("key_id")
        if key_id is not None and not isinstance(key_id, str):
            self.type_error("key_id", "a string")
            return None
        keyed_by = next(
            (k for k in ("secret", "private_key") if isinstance(self.raw.get(k), Mapping)), None
        )
        if key_id is not None and keyed_by is not None:
            candidates = [c for c in candidates if c[0] == key_id]
            if not candidates:
                self.add(
                    "E023",
                    "key_id",
                    f"{self.ref('key_id')} is {key_id!r}, which is not a "
                    f"key id in {self.ref(keyed_by)}.",
                )
                return None
        asymmetric = [c for c in candidates if not isinstance(c[1], Secret)]
        if asymmetric:
            candidates = asymmetric
        if not candidates:
            return None
        if len(candidates) > 1:
            # A service that only verifies needs no signing key: the Issuer reports
            # the ambiguity (jwtgate.E023) if this service ever tries to sign.
            return None
        kid, material, usable = candidates[0]
        algorithm = next(a for a in algorithms if a in usable)
        return SigningKey(algorithm, kid if kid is not None else key_id, material)
