"""The compact JWS form, read strictly: one encoding per token, JSON without surprises.

What :class:`jwtgate.Verifier` checks before and after the signature, kept apart
from the verification flow: the base64url alphabet in one pass, canonical
segments (a token cannot be varied in place), JSON objects without duplicate
members, non-JSON constants or unpaired surrogates, and the validity window of the
time claims.
"""

from __future__ import annotations

import binascii
import json
import math
import re
from typing import Any

from .errors import MalformedToken
from .identity import FrozenDict

__all__ = [
    "ALPHABET",
    "MAX_HEADER_SEGMENT",
    "NUMERIC_DATES",
    "STRING_CLAIMS",
    "b64decode",
    "is_canonical",
    "is_numeric_date",
    "load_json_object",
    "validity",
]

NUMERIC_DATES = ("exp", "nbf", "iat")
STRING_CLAIMS = ("iss", "sub", "jti")
MAX_HEADER_SEGMENT = 2048
# The whole compact JWS checked in one C-speed pass: deleting the base64url
# alphabet must leave exactly the two dots (three segments, no padding).
ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_URLSAFE = bytes.maketrans(b"-_", b"+/")
# RFC 4648 §3.5: the unused low bits of the last character must be zero, so that
# every byte string has exactly one encoding (a token cannot be varied in place).
_CANONICAL_LAST = {2: frozenset(b"AQgw"), 3: frozenset(b"AEIMQUYcgkosw048")}


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 §5.2 and RFC 7519 §7.2: duplicate member names must be rejected or
    # only the last taken; two parsers that disagree on which is a classic bypass.
    # Read-only from the start: an Identity's claims need no second copy.
    result = FrozenDict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    return result


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are Python's extensions, not JSON (RFC 8259 §6).
    raise ValueError(f"{name} is not JSON")


# A \uD800-\uDFFF escape: JSON text can spell a lone surrogate only this way
# (the segment itself is strict UTF-8). RFC 7493 §2.1 (I-JSON) forbids one: it is
# no character, no UTF-8 encoder takes it, so a subject holding one could be
# neither stored nor logged.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(value: object) -> bool:
    # A walk with a list, not recursion: json.loads takes objects nested nearly as
    # deep as the recursion limit, and a header is parsed before any signature check.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
    return False


def is_canonical(segment: bytes) -> bool:
    """Whether a segment in the base64url alphabet is a canonical, unpadded encoding."""
    rem = len(segment) & 3
    return not rem or (rem != 1 and segment[-1] in _CANONICAL_LAST[rem])


def b64decode(segment: bytes) -> bytes:
    """Decode a segment already known to be in the base64url alphabet; canonical only."""
    if not is_canonical(segment):
        raise ValueError("not canonical base64url")
    return binascii.a2b_base64(segment.translate(_URLSAFE) + b"=" * (-len(segment) & 3))


def load_json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(
            data, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise MalformedToken() from exc
    if not isinstance(value, dict):
        raise MalformedToken()
    if _SURROGATE_ESCAPE.search(data) and _has_lone_surrogate(value):
        raise MalformedToken()
    return value


def is_numeric_date(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float (10**400) is no date either
        return False


def validity(
    leeway: float, exp: float | None, nbf: float | None, iat: float | None
) -> tuple[float, float]:
    """The times ``[start, end)`` during which the time claims hold, leeway included.

    One rule for full verifications and cache hits alike, so they cannot drift:
    RFC 7519 §4.1.4, the current time MUST be before ``exp``; §4.1.5, not before
    ``nbf``; and a token issued in the future (``iat``) is not valid yet either.
    """
    start, end = -math.inf, math.inf
    if exp is not None:
        end = exp + leeway
    if nbf is not None:
        start = nbf - leeway
    if iat is not None:
        start = max(start, iat - leeway)
    return start, end
