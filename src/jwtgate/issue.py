"""Issuing access tokens with the configured signing key."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

import jwt

from .config import Settings
from .errors import ConfigurationError, Problem
from .keys import SigningKey
from .verify import Clock

__all__ = ["REGISTERED_CLAIMS", "Issuer"]

# Claims the issuer sets itself; ``claims=`` may not override them silently.
REGISTERED_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti"})


def new_jti() -> str:
    """A random token id: 128 bits from the OS CSPRNG, base64url.

    Never one that begins with ``-``: ids are pasted into ``jwtgate sessions revoke ID``,
    where a leading dash reads as an option (1 draw in 64 is redrawn; the loss is
    0.02 bits).
    """
    while (value := secrets.token_urlsafe(16)).startswith("-"):
        pass
    return value


class Issuer:
    """Mints tokens signed with the settings' signing key (``private_key`` or ``secret``)."""

    def __init__(self, settings: Settings | Mapping[str, Any], *, clock: Clock = time.time) -> None:
        if not isinstance(settings, Settings):
            settings = Settings.from_dict(settings)
        if settings.signing_key is None:
            if any(isinstance(settings.source.get(k), Mapping) for k in ("secret", "private_key")):
                problem = Problem(
                    "jwtgate.E023",
                    "KEY_ID",
                    "several keys could sign tokens; KEY_ID should say which.",
                    "Set KEY_ID to the kid of the signing key.",
                )
            else:
                problem = Problem(
                    "jwtgate.E031",
                    "PRIVATE_KEY",
                    "issuing tokens needs a signing key, and none is configured.",
                    "Set SECRET (HS*) or PRIVATE_KEY (RS*/PS*/ES*/EdDSA).",
                )
            raise ConfigurationError([problem])
        self.settings = settings
        self.clock = clock
        self.signing_key: SigningKey = settings.signing_key
        self._headers = {"kid": self.signing_key.kid} if self.signing_key.kid else None

    def access_token(
        self,
        subject: str,
        claims: Mapping[str, Any] | None = None,
        ttl: int | None = None,
    ) -> str:
        """A signed access token for ``subject``, valid ``ttl`` seconds (``access_token_ttl``)."""
        # "is None", not "or": ttl=0 must be refused, not silently replaced by the default.
        lifetime = self.settings.access_token_ttl if ttl is None else ttl
        payload = self.claims_for(subject, claims, lifetime)
        return self.encode(payload)

    def claims_for(
        self, subject: str, claims: Mapping[str, Any] | None, ttl: int
    ) -> dict[str, Any]:
        """The payload of a token: registered claims first, then the caller's extra claims."""
        # Callers outside mypy's reach pass anything; refuse it rather than str() it.
        subject_value: object = subject
        ttl_value: object = ttl
        if not isinstance(subject_value, str) or not subject_value:
            raise TypeError("subject must be a non-empty string")
        if isinstance(ttl_value, bool) or not isinstance(ttl_value, int) or ttl <= 0:
            raise ValueError("ttl must be a positive whole number of seconds")
        extra = dict(claims or {})
        # The identity claim names the subject too ("email"): as protected as "sub".
        protected = REGISTERED_CLAIMS | {self.settings.identity_claim}
        clash = sorted(protected.intersection(extra))
        if clash:
            raise ValueError(f"claims may not override registered claims: {', '.join(clash)}")
        now = int(self.clock())
        payload: dict[str, Any] = {}
        settings = self.settings
        if settings.issuer:
            payload["iss"] = settings.issuer[0]
        payload[settings.identity_claim] = subject
        if settings.identity_claim != "sub":
            payload["sub"] = subject
        if settings.audience:
            aud = settings.audience
            payload["aud"] = aud[0] if len(aud) == 1 else list(aud)
        payload.update(iat=now, exp=now + ttl, jti=new_jti())
        payload.update(extra)
        return payload

    def encode(self, payload: Mapping[str, Any], headers: Mapping[str, Any] | None = None) -> str:
        """Sign ``payload`` as it is (no claims added) with the signing key."""
        merged = {**(self._headers or {}), **(headers or {})} or None
        return jwt.encode(
            dict(payload),
            self.signing_key.material(),
            algorithm=self.signing_key.algorithm,
            headers=merged,
        )
