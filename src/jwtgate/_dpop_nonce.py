"""Stateless DPoP server nonces (RFC 9449 §8, §9): an HMAC over a time window.

A nonce is the window's number and a standard-library HMAC-SHA256 of it, so any
worker holding the key can check one without a store. A nonce is good in the
window it was made in and the next one: between ``window`` and twice that long.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable

__all__ = ["Nonces"]

_TAG_BYTES = 16


class Nonces:
    """Makes and checks server nonces; ``key`` is shared by every worker that must
    accept another's nonces (None: a random key for this process only)."""

    def __init__(
        self, *, window: float, clock: Callable[[], float], key: bytes | None = None
    ) -> None:
        # Derived, not used as given: the nonce key is never the key of anything else.
        material = key if key is not None else secrets.token_bytes(32)
        self._key = hmac.new(material, b"jwtgate dpop nonce", hashlib.sha256).digest()
        self.window = window
        self.clock = clock

    def _tag(self, number: int) -> bytes:
        return hmac.new(self._key, number.to_bytes(8, "big"), hashlib.sha256).digest()[:_TAG_BYTES]

    def _number(self) -> int:
        return int(self.clock() // self.window)

    def current(self) -> str:
        """The nonce to hand out now (``DPoP-Nonce``)."""
        number = self._number()
        raw = number.to_bytes(8, "big") + self._tag(number)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def valid(self, nonce: str) -> bool:
        """Whether ``nonce`` was made with this key in this window or the one before."""
        if len(nonce) != 32:  # 24 bytes, base64url without padding
            return False
        try:
            raw = base64.urlsafe_b64decode(nonce + "==")
        except ValueError:
            return False
        number = int.from_bytes(raw[:8], "big")
        if number not in (self._number(), self._number() - 1):
            return False
        return hmac.compare_digest(raw[8:], self._tag(number))
