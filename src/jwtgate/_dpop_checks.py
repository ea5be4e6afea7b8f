"""The checks of the DPoP settings (ids E140-E144, W030-W031), part of the settings
checks (:mod:`jwtgate._checks`): the proof algorithms and the server-nonce key."""

from __future__ import annotations

import os
from typing import Any

from ._fields import DEFAULTS
from ._problems import Report
from .keys import ASYMMETRIC_ALGORITHMS

__all__ = ["DPoPChecks"]

_MIN_NONCE_KEY = 32
_DPOP_KEYS = ("dpop_algorithms", "dpop_iat_window", "dpop_nonce")


class DPoPChecks(Report):
    """Adds the DPoP problems to the report; :meth:`check_dpop` gives the values."""

    def check_dpop(self, mode: str) -> dict[str, Any]:
        """The checked ``dpop_algorithms``, ``dpop_nonce`` and ``dpop_nonce_key``."""
        if mode == "off":
            given = [k for k in _DPOP_KEYS if k in self.raw]
            if given:
                self.warn(
                    "W030",
                    given[0],
                    f"{self.ref(given[0])} is set but {self.ref('dpop')} is 'off'.",
                    "Set DPOP to 'allow' or 'require', or remove the DPoP settings.",
                )
        nonce, key = self._nonce()
        return {
            "dpop_algorithms": self._algorithms(),
            "dpop_nonce": nonce,
            "dpop_nonce_key": key,
        }

    def _algorithms(self) -> tuple[str, ...]:
        value = self.raw.get("dpop_algorithms", DEFAULTS["dpop_algorithms"])
        ref = self.ref("dpop_algorithms")
        if (
            isinstance(value, str)
            or not isinstance(value, list | tuple)
            or not value
            or not all(isinstance(a, str) for a in value)
        ):
            self.add("E141", "dpop_algorithms", f"{ref} should be a non-empty list of strings.")
            return tuple(DEFAULTS["dpop_algorithms"])
        refused = [a for a in value if a not in ASYMMETRIC_ALGORITHMS]
        if refused:
            self.add(
                "E142",
                "dpop_algorithms",
                f"{ref} lists {', '.join(map(repr, refused))}: a DPoP proof is signed "
                "with an asymmetric key (RFC 9449 §4.2), never 'none' or HS*.",
                "Use ES256, ES384, ES512, PS256, PS384, PS512, RS256, RS384, RS512 or EdDSA.",
            )
            return tuple(DEFAULTS["dpop_algorithms"])
        return tuple(dict.fromkeys(value))

    def _nonce(self) -> tuple[bool, bytes | None]:
        value = self.raw.get("dpop_nonce", False)
        ref = self.ref("dpop_nonce")
        if isinstance(value, bool):
            if value and self._several_processes():
                self.warn(
                    "W031",
                    "dpop_nonce",
                    f"{ref} is True, so each process makes its own nonce key, and a "
                    "nonce one worker hands out is refused by the others.",
                    "Give every worker the same key: DPOP_NONCE = 'env:DPOP_NONCE_KEY'.",
                )
            return value, None
        if isinstance(value, str) and value.startswith("env:"):
            found = os.environ.get(value[4:])
            if found is None:
                self.add(
                    "E144",
                    "dpop_nonce",
                    f"{ref} names the environment variable {value[4:]!r}, which is not set.",
                )
                return False, None
            value = found
        key = value.encode() if isinstance(value, str) else value
        if not isinstance(key, bytes) or len(key) < _MIN_NONCE_KEY:
            self.add(
                "E144",
                "dpop_nonce",
                f"{ref} should be True, False, or a key of at least {_MIN_NONCE_KEY} bytes.",
                "Make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'.",
            )
            return False, None
        return True, key

    def _several_processes(self) -> bool:
        store = self.raw.get("store")
        return isinstance(store, str) and not store.startswith("memory:")
