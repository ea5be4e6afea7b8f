"""Token verification: size cap, header, key choice, signature (PyJWT), claims.

The order matters and is deliberate:

1. the length cap, before any parsing (a forged 1 MB token costs nothing);
2. the protected header, decoded once, strictly: JSON object, no duplicate
   members, ``alg`` from the allow-list (never trusted to choose the algorithm
   family: RFC 8725 §2.1), no ``crit`` extension jwtgate does not understand
   (RFC 7515 §4.1.11);
3. the key, chosen by ``alg`` and ``kid`` among keys bound to their family;
4. the signature, checked by PyJWT's JWS layer with exactly that algorithm;
5. the claims, checked here against an injectable clock with RFC 7519 types:
   NumericDates are JSON numbers (not strings, not booleans, finite),
   ``iss``/``sub``/``jti`` strings, ``aud`` a string or list of strings.

PyJWT's own claim checks are not used because they accept ``"exp": "123"`` and
``true`` (they call ``int()``) and read the wall clock directly, which makes
expiry untestable without sleeping.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from jwt import exceptions as jwt_errors

from .config import Settings
from .errors import (
    DisallowedAlgorithm,
    ExpiredToken,
    ImmatureToken,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    InvalidSignature,
    MalformedToken,
    MissingClaim,
    TokenTooLarge,
    UnknownKey,
    UnsupportedCriticalHeader,
    WrongTokenType,
)
from .identity import Identity, parse_scopes
from .keys import KeySource, VerificationKey

__all__ = ["Clock", "Verifier"]

Clock = Callable[[], float]

_NUMERIC_DATES = ("exp", "nbf", "iat")
_STRING_CLAIMS = ("iss", "sub", "jti")
_MAX_HEADER_SEGMENT = 2048
_B64URL = re.compile(rb"\A[A-Za-z0-9_-]*\Z")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 §5.2 and RFC 7519 §7.2: duplicate member names must be rejected or
    # only the last taken; two parsers that disagree on which is a classic bypass.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    return result


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are Python's extensions, not JSON (RFC 8259 §6).
    raise ValueError(f"{name} is not JSON")


_B64URL_VALUE = {
    c: i for i, c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}


def _is_b64url(segment: bytes) -> bool:
    # RFC 7515 §2: base64url, no padding, nothing outside the alphabet; and RFC 4648
    # §3.5: the last character's unused bits are zero, so that one token has one
    # spelling whatever PyJWT version decodes it.
    if not _B64URL.match(segment):
        return False
    unused = (0, None, 0x0F, 0x03)[len(segment) % 4]
    if unused is None:
        return False
    return not segment or _B64URL_VALUE[segment[-1]] & unused == 0


def _b64decode(segment: bytes) -> bytes:
    if not _is_b64url(segment):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))


def _load_json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(
            data, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise MalformedToken() from exc
    if not isinstance(value, dict):
        raise MalformedToken()
    return value


def _is_numeric_date(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float (10**400) is no date either
        return False


class Verifier:
    """Verifies access tokens against validated :class:`~jwtgate.Settings`.

    ``clock`` returns the current Unix time; inject one in tests to check
    expiry and leeway without sleeping. ``keys`` replaces the settings' key
    source (remote JWKS). ``token_use`` is the kind of token accepted: a token
    whose ``token_use`` claim names another kind (a jwtgate refresh token, an ID
    token) raises ``WrongTokenType``; a token without the claim is an access token.
    """

    def __init__(
        self,
        settings: Settings | Mapping[str, Any],
        *,
        clock: Clock = time.time,
        keys: KeySource | None = None,
        token_use: str = "access",
    ) -> None:
        if not isinstance(settings, Settings):
            settings = Settings.from_dict(settings)
        self.settings = settings
        self.clock = clock
        if keys is None:
            keys = settings.key_source if settings.key_source is not None else settings.keys
        self.keys: KeySource = keys
        self._allowed = frozenset(settings.algorithms)
        self._jws = jwt.PyJWS(options={"verify_signature": True})
        self._required = settings.required_claims
        self._leeway = settings.leeway
        self._issuer = frozenset(settings.issuer) if settings.issuer else None
        self._audience = frozenset(settings.audience) if settings.audience else None
        self._identity_claim = settings.identity_claim
        self._scopes_claim = settings.scopes_claim
        self._max_bytes = settings.max_token_bytes
        self._token_use = token_use

    # -- public API -------------------------------------------------------------

    def verify(self, token: str | bytes) -> Identity:
        """Verify ``token`` and return its identity; raise a ``jwtgate.errors`` error."""
        raw, header = self._parse_header(token)
        key = self.keys.get(header["alg"], header.get("kid"))
        return self._finish(raw, header, key)

    async def verify_async(self, token: str | bytes) -> Identity:
        """Like :meth:`verify`, letting a remote key source fetch without blocking."""
        raw, header = self._parse_header(token)
        key = await self.keys.get_async(header["alg"], header.get("kid"))
        return self._finish(raw, header, key)

    def unverified_header(self, token: str | bytes) -> dict[str, Any]:
        """The token's header after the structural checks, signature not checked."""
        return dict(self._parse_header(token)[1])

    # -- steps ------------------------------------------------------------------

    def _parse_header(self, token: str | bytes) -> tuple[bytes, dict[str, Any]]:
        if isinstance(token, str):
            if len(token) > self._max_bytes:
                raise TokenTooLarge()
            # Checked first: a UnicodeEncodeError would quote the whole token in its args.
            if not token.isascii():
                raise MalformedToken()
            raw = token.encode("ascii")
        else:
            raw = token
        if len(raw) > self._max_bytes:
            raise TokenTooLarge()
        if raw.count(b".") != 2:
            # Also refuses JWE (five segments) and unsecured two-segment forms.
            raise MalformedToken()
        header_segment, payload_segment, signature_segment = raw.split(b".")
        if not header_segment or len(header_segment) > _MAX_HEADER_SEGMENT:
            raise MalformedToken()
        # PyJWT decodes the payload and signature leniently ("=" padding passes), which
        # would give one token several spellings: a deny-list keyed by the token
        # string would miss "<token>=". Only the canonical form is accepted.
        if not (_is_b64url(payload_segment) and _is_b64url(signature_segment)):
            raise MalformedToken()
        try:
            header_bytes = _b64decode(header_segment)
        except (ValueError, binascii.Error) as exc:
            raise MalformedToken() from exc
        header = _load_json_object(header_bytes)
        alg = header.get("alg")
        if not isinstance(alg, str):
            raise MalformedToken()
        if alg not in self._allowed:
            raise DisallowedAlgorithm()
        # RFC 7515 §4.1.4: a kid is a string; "kid": null is refused too, whatever
        # PyJWT version (2.10 read it as no kid at all).
        if "kid" in header and not isinstance(header["kid"], str):
            raise MalformedToken()
        if "crit" in header:
            raise UnsupportedCriticalHeader()
        return raw, header

    def _finish(self, raw: bytes, header: dict[str, Any], key: VerificationKey) -> Identity:
        if header["alg"] not in key.algorithms:
            raise UnknownKey()
        try:
            decoded = self._jws.decode_complete(raw, key.key, algorithms=[header["alg"]])
        except jwt_errors.InvalidSignatureError as exc:
            raise InvalidSignature() from exc
        except jwt_errors.InvalidAlgorithmError as exc:
            raise DisallowedAlgorithm() from exc
        except jwt_errors.InvalidKeyError as exc:
            raise UnknownKey() from exc
        except jwt_errors.PyJWTError as exc:
            raise MalformedToken() from exc
        claims = _load_json_object(decoded["payload"])
        self._check_claims(claims)
        subject = claims.get(self._identity_claim)
        if not isinstance(subject, str) or not subject:
            if subject is None:
                raise MissingClaim(self._identity_claim)
            raise InvalidClaim(self._identity_claim)
        scopes: frozenset[str] = frozenset()
        if self._scopes_claim in claims:
            parsed = parse_scopes(claims[self._scopes_claim])
            if parsed is None:
                raise InvalidClaim(self._scopes_claim)
            scopes = parsed
        return Identity(
            subject,
            claims,
            scopes,
            token=raw.decode("ascii"),
            header=header,
        )

    def _check_claims(self, claims: dict[str, Any]) -> None:
        for name in self._required:
            if claims.get(name) is None:
                raise MissingClaim(name)
        for name in _NUMERIC_DATES:
            if name in claims and not _is_numeric_date(claims[name]):
                raise InvalidClaim(name)
        for name in _STRING_CLAIMS:
            if name in claims and not isinstance(claims[name], str):
                raise InvalidClaim(name)

        # Refresh tokens are signed with the same key; the claim keeps them from
        # ever working as access tokens, and access tokens from refreshing.
        if claims.get("token_use", "access") != self._token_use:
            raise WrongTokenType()
        # Refresh tokens of the libraries people migrate from, signed with a key
        # they keep: Flask-JWT-Extended ("type") and simplejwt ("token_type").
        if self._token_use == "access" and "refresh" in (
            claims.get("type"),
            claims.get("token_type"),
        ):
            raise WrongTokenType()

        now = self.clock()
        leeway = self._leeway
        # RFC 7519 §4.1.4: the current time MUST be before exp.
        if "exp" in claims and now >= claims["exp"] + leeway:
            raise ExpiredToken()
        if "nbf" in claims and now + leeway < claims["nbf"]:
            raise ImmatureToken()
        if "iat" in claims and claims["iat"] > now + leeway:
            raise ImmatureToken()

        if self._issuer is not None:
            if "iss" not in claims:
                raise MissingClaim("iss")
            if claims["iss"] not in self._issuer:
                raise InvalidIssuer()

        if "aud" in claims:
            aud = claims["aud"]
            audiences = [aud] if isinstance(aud, str) else aud
            if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
                raise InvalidClaim("aud")
            # RFC 7519 §4.1.3: a token meant for some audience is refused by a
            # service that does not identify itself with it.
            if self._audience is None or self._audience.isdisjoint(audiences):
                raise InvalidAudience()
        elif self._audience is not None:
            raise MissingClaim("aud")
