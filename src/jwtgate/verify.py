"""Token verification: size cap, header, key choice, signature (PyJWT), claims.

The order matters and is deliberate:

1. the length cap, before any parsing (a forged 1 MB token costs nothing);
2. the protected header, decoded once, strictly: JSON object, no duplicate
   members, ``alg`` from the allow-list (never trusted to choose the algorithm
   family: RFC 8725 §2.1), no ``crit`` extension jwtgate does not understand
   (RFC 7515 §4.1.11);
3. the key, chosen by ``alg`` and ``kid`` among keys bound to their family;
4. the signature, checked by PyJWT's algorithm object for exactly that
   algorithm, with the key prepared once (PyJWT stays the verifier of record:
   jwtgate never computes or compares a signature itself);
5. the claims, checked here against an injectable clock with RFC 7519 types:
   NumericDates are JSON numbers (not strings, not booleans, finite),
   ``iss``/``sub``/``jti`` strings, ``aud`` a string or list of strings.

PyJWT's own claim checks are not used because they accept ``"exp": "123"`` and
``true`` (they call ``int()``) and read the wall clock directly, which makes
expiry untestable without sleeping.

Each segment is decoded once: one C-speed pass checks the whole token's shape
and base64url alphabet, the last character of each segment is checked for
canonical encoding (no stray bits, RFC 4648 §3.5), no padding is accepted
(RFC 7515 §2), and the payload is decoded only after its signature verified.

With ``issuers``, step 3 first reads the unverified payload's ``iss`` to choose
the entry (:class:`~jwtgate._issuers.IssuerTable`): an unknown one is refused before
any key source is asked, and only that entry's algorithms, keys, audience and claim
mapping apply (B's token is checked with B's keys alone). ``require_typ`` (RFC 9068
§4) is checked then too, before any key is used.

Verified tokens are remembered (``verify_cache_size`` entries, the coldest out
first: see ``_cache.SecondChance``; keyed by the exact token): a hit re-checks
``exp``/``nbf``/``iat`` against the clock, the entry's age
(``verify_cache_max_age``) and, for a remote key source, that the key is still
the one the source serves. Failures are never cached.
"""

from __future__ import annotations

import binascii
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from jwt import exceptions as jwt_errors
from jwt.algorithms import Algorithm
from jwt.warnings import InsecureKeyLengthWarning

from ._cache import SecondChance
from ._compact import (
    ALPHABET,
    MAX_HEADER_SEGMENT,
    NUMERIC_DATES,
    STRING_CLAIMS,
    b64decode,
    is_canonical,
    is_numeric_date,
    load_json_object,
    validity,
)
from ._issuers import IssuerTable, normal_typ
from ._keysource import key_source_for
from ._profiles import Entry, Profile, algorithm_objects
from .config import Settings
from .errors import (
    DisallowedAlgorithm,
    DisallowedTokenType,
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
from .telemetry import telemetry_for

__all__ = ["Clock", "Verifier"]

Clock = Callable[[], float]

_MAX_PREPARED = 64


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
        self._table: IssuerTable | None = None
        self._profiles: dict[str, Profile] = {}
        if settings.issuers:
            if keys is not None:
                raise TypeError("keys= replaces the one key source; with ISSUERS each has its own")
            self._table = IssuerTable(settings.issuers)
            for issuer in settings.issuers:
                source = key_source_for(issuer.settings)
                self._profiles[issuer.issuer] = Profile(issuer.settings, source, check_issuer=False)
            profiles = tuple(self._profiles.values())
        else:
            if keys is None:
                keys = key_source_for(settings)
            profiles = (Profile(settings, keys, check_issuer=True),)
        self._prepared: dict[tuple[str, int], tuple[VerificationKey, Any]] = {}
        self._leeway = settings.leeway
        self._max_bytes = settings.max_token_bytes
        self._token_use = token_use
        size = settings.verify_cache_size
        self._cache: SecondChance[str | bytes, Entry] | None = SecondChance(size) if size else None
        self._max_age = settings.verify_cache_max_age
        self._adopt(profiles)
        telemetry = telemetry_for(settings)
        if telemetry is not None:  # instrumented here, so the uninstrumented path is untouched
            self.remembered = telemetry.hits(self.remembered)  # type: ignore[method-assign]
            self._lookup = telemetry.hits(self._lookup)  # type: ignore[method-assign]
            self._verify_in_full = telemetry.misses(self._verify_in_full)  # type: ignore[method-assign]
            self._verify_in_full_async = telemetry.misses(self._verify_in_full_async)  # type: ignore[method-assign]

    def _adopt(self, profiles: tuple[Profile, ...]) -> None:
        self._profile = profiles[0]
        self.key_sources: tuple[KeySource, ...] = tuple(p.keys for p in profiles)
        self._allowed = frozenset().union(*(p.allowed for p in profiles))
        self._algorithms = algorithm_objects(tuple(sorted(self._allowed)))
        # Static keys never change for the life of these settings; any other source
        # (remote JWKS) is asked again on each cache hit, so a rotated-out key, or
        # keys past their staleness bound, stop cached tokens too.
        self._static_keys = all(p.static for p in profiles)
        # A source that can say, without I/O, which key it serves now (JWKSKeys.peek)
        # lets cached tokens skip the full key lookup; static keys need no check.
        self._remembered = (
            self._cache.data
            if self._cache is not None and all(p.static or p.peek for p in profiles)
            else None
        )

    @property
    def keys(self) -> KeySource:
        """The key source (settings' or ``keys=``; with ``issuers`` the first entry's, and
        :attr:`key_sources` every entry's). Settable with one issuer."""
        return self._profile.keys

    @keys.setter
    def keys(self, source: KeySource) -> None:
        if self._table is not None:
            raise TypeError("with ISSUERS each entry has its own key source")
        self._adopt((Profile(self.settings, source, check_issuer=True),))

    # -- public API -------------------------------------------------------------

    def verify(self, token: str | bytes) -> Identity:
        """Verify ``token`` and return its identity; raise a ``jwtgate.errors`` error."""
        entry = self._lookup(token)
        if entry is not None:
            if self._static_keys or entry.profile.static or self._peeks(entry):
                return entry.identity
            with self._dropping(token):
                current = entry.profile.keys.get(entry.alg, entry.kid)
            if current is entry.key:
                return entry.identity
            self._drop(token)
        return self._verify_in_full(token)

    async def verify_async(self, token: str | bytes) -> Identity:
        """Like :meth:`verify`, letting a remote key source fetch without blocking."""
        entry = self._lookup(token)
        if entry is not None:
            if self._static_keys or entry.profile.static or self._peeks(entry):
                return entry.identity
            with self._dropping(token):
                current = await entry.profile.keys.get_async(entry.alg, entry.kid)
            if current is entry.key:
                return entry.identity
            self._drop(token)
        return await self._verify_in_full_async(token)

    def remembered(self, token: str) -> Identity | None:
        """The identity of ``token`` if the cache holds a verification that still
        holds now, else None. Never verifies and never does I/O: with a remote key
        source it answers only while the source's ``peek`` confirms the very key
        (:meth:`jwtgate.jwks.JWKSKeys.peek`), and is None with a source that has none.

        :meth:`jwtgate.Gate.decide` recalls a token verified before through it.
        """
        entries = self._remembered
        if entries is None:
            return None
        # SecondChance.get and _lookup's window, inlined: this runs on every request. An
        # expired entry is left for verify() to drop.
        entry = entries.get(token)
        if entry is None or not entry.start <= self.clock() < entry.end:
            return None
        # entry.peek is None for static keys (a source without peek is never remembered).
        if (
            not self._static_keys
            and entry.peek is not None
            and entry.peek(entry.alg, entry.kid) is not entry.key
        ):
            return None
        entry.used = True
        return entry.identity

    def unverified_header(self, token: str | bytes) -> dict[str, Any]:
        """The token's header after the structural checks, signature not checked."""
        return dict(self._parse(token)[1])

    def clear_cache(self) -> None:
        """Forget every verified token (the next request of each is verified in full)."""
        if self._cache is not None:
            self._cache.clear()

    @property
    def never_blocks(self) -> bool:
        """True when :meth:`verify` does no I/O (keys given in settings), so an event
        loop may call it directly instead of :meth:`verify_async`."""
        return self._static_keys

    @property
    def remembers(self) -> bool:
        """True when :meth:`remembered` can answer: a verify cache, and static keys or
        a key source with ``peek``."""
        return self._remembered is not None

    @property
    def cache_size(self) -> int:
        """How many verified tokens are remembered now."""
        return len(self._cache) if self._cache is not None else 0

    # -- steps ------------------------------------------------------------------

    def _verify_in_full(self, token: str | bytes) -> Identity:
        raw, header, segments = self._parse(token)
        profile, claims = self._choose(header, segments)
        key = profile.keys.get(header["alg"], header.get("kid"))
        return self._finish(token, raw, header, segments, key, profile, claims)

    async def _verify_in_full_async(self, token: str | bytes) -> Identity:
        raw, header, segments = self._parse(token)
        profile, claims = self._choose(header, segments)
        key = await profile.keys.get_async(header["alg"], header.get("kid"))
        return self._finish(token, raw, header, segments, key, profile, claims)

    def _lookup(self, token: str | bytes) -> Entry | None:
        """The cache entry for ``token`` if its time claims and age still hold, or None."""
        if self._cache is None:
            return None
        entry = self._cache.get(token)
        if entry is None:
            return None
        if entry.start <= self.clock() < entry.end:
            return entry
        # Expired (or too old): verify in full, which raises the precise error.
        self._drop(token)
        return None

    @contextmanager
    def _dropping(self, token: str | bytes) -> Iterator[None]:
        """While a cached token's key is confirmed: if the source raises, the entry goes.

        A key the source no longer serves (rotated out, unreachable, replaced by a
        refetch) ends the entry: the token is then verified in full, or refused.
        """
        try:
            yield
        except BaseException:
            self._drop(token)
            raise

    def _peeks(self, entry: Entry) -> bool:
        """Whether the key source confirms, without I/O, that it still serves the
        key that verified ``entry`` (False: ask it with ``get``)."""
        return entry.peek is not None and entry.peek(entry.alg, entry.kid) is entry.key

    def _drop(self, token: str | bytes) -> None:
        if self._cache is not None:
            self._cache.discard(token)

    def _parse(self, token: str | bytes) -> tuple[bytes, dict[str, Any], tuple[bytes, ...]]:
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
        # Also refuses JWE (five segments), unsecured two-segment forms and padding.
        if raw.translate(None, ALPHABET) != b"..":
            raise MalformedToken()
        segments = tuple(raw.split(b"."))
        if not segments[0] or len(segments[0]) > MAX_HEADER_SEGMENT:
            raise MalformedToken()
        # PyJWT decodes the payload and signature leniently ("=" padding passes), which
        # would give one token several spellings: a deny-list keyed by the token
        # string would miss "<token>=". Only the canonical form is accepted.
        if not (is_canonical(segments[1]) and is_canonical(segments[2])):
            raise MalformedToken()
        try:
            header_bytes = b64decode(segments[0])
        except (ValueError, binascii.Error) as exc:
            raise MalformedToken() from exc
        header = load_json_object(header_bytes)
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
        if header.get("b64", True) is not True:
            # RFC 7797 unencoded payloads are not supported (and need ``crit``).
            raise MalformedToken()
        return raw, header, segments

    def _choose(
        self, header: Mapping[str, Any], segments: tuple[bytes, ...]
    ) -> tuple[Profile, dict[str, Any] | None]:
        """The issuer profile of the token, and its claims when reading them chose it.

        With several issuers, the payload is decoded (not yet trusted) for its ``iss``;
        an issuer no entry accepts raises ``UnknownIssuer`` here, before any key source
        is asked. Then the profile's own algorithm allow-list and ``require_typ``.
        """
        claims = None
        profile = self._profile
        if self._table is not None:
            try:
                claims = load_json_object(b64decode(segments[1]))
            except (ValueError, binascii.Error) as exc:
                raise MalformedToken() from exc
            iss = claims.get("iss")
            if not isinstance(iss, str):
                raise MissingClaim("iss") if iss is None else InvalidClaim("iss")
            profile = self._profiles[self._table.choose(iss).issuer]
            if header["alg"] not in profile.allowed:
                raise DisallowedAlgorithm()
        if profile.typ is not None:
            typ = header.get("typ")
            if not isinstance(typ, str) or normal_typ(typ) not in profile.typ:
                raise DisallowedTokenType()
        return profile, claims

    def _prepare(self, alg: str, key: VerificationKey) -> tuple[Algorithm, Any]:
        """PyJWT's algorithm object and the key it prepared, once per key."""
        algorithm = self._algorithms.get(alg)
        if algorithm is None:
            raise DisallowedAlgorithm()
        slot = (alg, id(key))
        found = self._prepared.get(slot)
        # The entry holds the key itself, so its id cannot be reused while cached.
        if found is not None and found[0] is key:
            return algorithm, found[1]
        try:
            prepared = algorithm.prepare_key(key.key)
        except jwt_errors.InvalidKeyError as exc:
            raise UnknownKey() from exc
        message = algorithm.check_key_length(prepared)
        if message:
            warnings.warn(message, InsecureKeyLengthWarning, stacklevel=2)
        if len(self._prepared) >= _MAX_PREPARED:  # remote keys rotate: stay bounded
            self._prepared.clear()
        self._prepared[slot] = (key, prepared)
        return algorithm, prepared

    def _finish(
        self,
        token: str | bytes,
        raw: bytes,
        header: dict[str, Any],
        segments: tuple[bytes, ...],
        key: VerificationKey,
        profile: Profile,
        claims: dict[str, Any] | None,
    ) -> Identity:
        alg = header["alg"]
        if alg not in key.algorithms:
            raise UnknownKey()
        algorithm, prepared = self._prepare(alg, key)
        # The signature first, and only then the work of decoding a payload of any size
        # (its encoding was checked with the whole token in _parse).
        try:
            signature = b64decode(segments[2])
        except (ValueError, binascii.Error) as exc:
            raise MalformedToken() from exc
        signing_input = raw[: len(segments[0]) + len(segments[1]) + 1]
        if not algorithm.verify(signing_input, prepared, signature):
            raise InvalidSignature()
        if claims is None:  # not read yet (one issuer): its encoding was checked in _parse
            claims = load_json_object(b64decode(segments[1]))
        self._check_claims(claims, profile)
        subject = claims.get(profile.identity_claim)
        if not isinstance(subject, str) or not subject:
            if subject is None:
                raise MissingClaim(profile.identity_claim)
            raise InvalidClaim(profile.identity_claim)
        scopes: frozenset[str] = frozenset()
        if profile.scopes_claim in claims:
            parsed = parse_scopes(claims[profile.scopes_claim])
            if parsed is None:
                raise InvalidClaim(profile.scopes_claim)
            scopes = parsed
        identity = Identity(
            subject,
            claims,
            scopes,
            token=token if isinstance(token, str) else raw.decode("ascii"),  # one copy
            header=header,
        )
        if self._cache is not None:
            stored = self.clock()
            start, end = validity(
                self._leeway, claims.get("exp"), claims.get("nbf"), claims.get("iat")
            )
            window = max(start, stored), min(end, stored + self._max_age)
            entry = Entry(identity, key, alg, header.get("kid"), *window, profile)
            self._cache.put(token, entry)
        return identity

    def _check_claims(self, claims: dict[str, Any], profile: Profile) -> None:
        for name in profile.required:
            if claims.get(name) is None:
                raise MissingClaim(name)
        for name in NUMERIC_DATES:
            if name in claims and not is_numeric_date(claims[name]):
                raise InvalidClaim(name)
        for name in STRING_CLAIMS:
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

        start, end = validity(self._leeway, claims.get("exp"), claims.get("nbf"), claims.get("iat"))
        now = self.clock()
        if now >= end:
            raise ExpiredToken()
        if now < start:
            raise ImmatureToken()

        if profile.issuer is not None:
            if "iss" not in claims:
                raise MissingClaim("iss")
            if claims["iss"] not in profile.issuer:
                raise InvalidIssuer()

        if "aud" in claims:
            aud = claims["aud"]
            audiences = [aud] if isinstance(aud, str) else aud
            if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
                raise InvalidClaim("aud")
            # RFC 7519 §4.1.3: a token meant for some audience is refused by a
            # service that does not identify itself with it.
            if profile.audience is None or profile.audience.isdisjoint(audiences):
                raise InvalidAudience()
        elif profile.audience is not None:
            raise MissingClaim("aud")
