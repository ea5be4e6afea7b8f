"""What a :class:`~jwtgate.Verifier` keeps per issuer and per verified token.

A :class:`Profile` is how one issuer's tokens are verified (its key source, its
algorithms, its claim rules): the one-issuer settings make one, each entry of
``issuers`` one more. An :class:`Entry` is one verified token in the verify cache,
with the profile and key that verified it.
"""

from __future__ import annotations

from collections.abc import Callable

from jwt.algorithms import Algorithm
from jwt.api_jws import PyJWS

from .config import Settings
from .identity import Identity
from .keys import KeySource, StaticKeys, VerificationKey

__all__ = ["Entry", "Profile", "algorithm_objects"]


def algorithm_objects(names: tuple[str, ...]) -> dict[str, Algorithm]:
    """PyJWT's algorithm object for each allowed algorithm (what verifies signatures)."""
    jws = PyJWS()
    found: dict[str, Algorithm] = {}
    for name in names:
        try:
            found[name] = jws.get_algorithm_by_name(name)
        except NotImplementedError:  # pragma: no cover - cryptography is a dependency
            continue
    return found


class Profile:
    """How one issuer's tokens are verified: its key source, algorithms and claim rules.

    The one-issuer settings are one profile; with ``issuers``, each entry is one.
    ``peek`` is the source's no-I/O key check (None for static keys, which never
    change, and for a source without one).
    """

    __slots__ = (
        "allowed",
        "audience",
        "identity_claim",
        "issuer",
        "keys",
        "peek",
        "required",
        "scopes_claim",
        "static",
        "typ",
    )

    def __init__(self, settings: Settings, keys: KeySource, *, check_issuer: bool) -> None:
        self.keys = keys
        self.static = isinstance(keys, StaticKeys)
        self.peek: Callable[[str, str | None], VerificationKey | None] | None = (
            None if self.static else getattr(keys, "peek", None)
        )
        self.allowed = frozenset(settings.algorithms)
        self.required = settings.required_claims
        # With several issuers the table has matched iss already (a template too).
        self.issuer = frozenset(settings.issuer) if settings.issuer and check_issuer else None
        self.audience = frozenset(settings.audience) if settings.audience else None
        self.identity_claim = settings.identity_claim
        self.scopes_claim = settings.scopes_claim
        self.typ = frozenset(settings.require_typ) if settings.require_typ else None


class Entry:
    """A verified token: its identity, the key that verified it, and when it may be served.

    ``[start, end)`` is the token's validity window (:func:`validity`) cut to the
    entry's own life, from when it was stored to ``verify_cache_max_age`` later.
    ``used`` is the cache's mark of a hit (:class:`~jwtgate._cache.SecondChance`).
    ``profile`` is the issuer whose key verified it, ``peek`` that profile's.
    """

    __slots__ = ("alg", "end", "identity", "key", "kid", "peek", "profile", "start", "used")

    def __init__(
        self,
        identity: Identity,
        key: VerificationKey,
        alg: str,
        kid: str | None,
        start: float,
        end: float,
        profile: Profile,
    ) -> None:
        self.identity = identity
        self.key = key
        self.alg = alg
        self.kid = kid
        self.start = start
        self.end = end
        self.used = False
        self.profile = profile
        self.peek = profile.peek
