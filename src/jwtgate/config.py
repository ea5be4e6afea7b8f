"""Settings: one plain dict for every stack, validated completely at startup.

``Settings.from_dict(d)`` accepts keys in either case (``{"leeway": 30}`` or
Django's ``JWTGATE = {"LEEWAY": 30}``), checks every key, collects every problem,
and raises one :class:`~jwtgate.errors.ConfigurationError` listing each problem
with a stable id (``jwtgate.E001`` …), the key and a hint. Nothing is checked
lazily: a ``Settings`` object that exists is one that works.

The ids are documented in ``docs/settings.md``; they never change meaning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ._checks import validate
from ._fields import DEFAULTS, RENAMED
from ._issuers import IssuerEntry
from ._remote import JWKSOptions
from ._rules import Rule
from .errors import ConfigurationError, Problem
from .keys import HMAC_ALGORITHMS, KeySource, SigningKey, StaticKeys
from .paths import PathMatcher

if TYPE_CHECKING:
    from .audit import AuditEvent
    from .http import Rejection

__all__ = ["DEFAULTS", "RENAMED", "Rule", "Settings", "check_settings"]


@dataclass(frozen=True)
class Settings:
    """Validated, immutable jwtgate settings; build with :meth:`Settings.from_dict`.

    Every attribute holds the checked form of the key of the same name (lists
    become tuples, key material becomes prepared key objects). Secrets are kept
    out of ``repr()``.
    """

    algorithms: tuple[str, ...]
    keys: StaticKeys = field(repr=False)
    signing_key: SigningKey | None = field(repr=False)
    key_id: str | None
    jwks_url: str | None = field(repr=False)  # a URL may carry a credential
    issuer: tuple[str, ...] | None
    audience: tuple[str, ...] | None
    leeway: float
    required_claims: tuple[str, ...]
    identity_claim: str
    scopes_claim: str
    token_sources: tuple[str, ...]
    header_name: str
    header_scheme: str
    cookie_name: str
    query_param: str
    credentials_required: bool
    public_paths: PathMatcher
    rules: tuple[Rule, ...]
    error_handler: Callable[[Rejection], Rejection] | None = field(repr=False)
    claims_hook: Callable[[str, dict[str, Any]], Any] | None = field(repr=False)
    cors_preflight: Literal["answer", "forward"]
    max_token_bytes: int
    access_token_ttl: int
    refresh_token_ttl: int
    store: str | None = field(repr=False)  # a URL may carry a password
    check_revocation: bool
    on_store_error: Literal["deny", "allow"]
    store_persistence: Literal["warn", "require", "ignore"]
    refresh_reuse_grace: float
    store_timeout: float
    store_housekeeping_timeout: float
    store_key_prefix: str
    realm: str
    set_remote_user: bool
    load_user: bool
    user_field: str | None
    # Several issuers (issue 17): one validated entry each, chosen by the token's iss;
    # empty for the usual one-issuer settings, whose own keys and claims are the entry.
    issuers: tuple[IssuerEntry, ...]
    # RFC 9068 / RFC 8725 §3.11: accepted typ values, compared lower-cased without
    # "application/"; empty: any typ, or none.
    require_typ: tuple[str, ...]
    # RFC 9728: this resource's URI, and the document's further members.
    resource: str | None
    resource_metadata: Mapping[str, Any] = field(repr=False, compare=False)
    source: Mapping[str, Any] = field(repr=False, compare=False)
    # How problems refer to the dict (``from_dict``'s ``name``); ``replace`` keeps it.
    name: str = field(default="JWTGATE", repr=False, compare=False)
    # Settings that work but are likely a mistake (ids jwtgate.W001…), logged once
    # when the settings are built, and reported by check-settings and Django's checks.
    warnings: tuple[Problem, ...] = field(default=(), repr=False, compare=False)
    # Remote keys (issue 5): the options for ``jwks_url`` / ``jwks_discovery``. The
    # source itself is built by whoever verifies (see ``key_source``).
    jwks_options: JWKSOptions | None = None
    # The hot path (issue 9): verified-token cache and the revocation view.
    verify_cache_size: int = DEFAULTS["verify_cache_size"]
    verify_cache_max_age: float = DEFAULTS["verify_cache_max_age"]
    revocation_cache_size: int = DEFAULTS["revocation_cache_size"]
    revocation_cache_bytes: int = DEFAULTS["revocation_cache_bytes"]
    revocation_poll_interval: float = DEFAULTS["revocation_poll_interval"]
    # DPoP (RFC 9449): off, allow or require; the proof algorithms, iat window, and
    # server nonces (with the key every worker shares, or None for a per-process one).
    dpop: Literal["off", "allow", "require"] = "off"
    dpop_algorithms: tuple[str, ...] = field(
        default_factory=lambda: tuple(DEFAULTS["dpop_algorithms"])
    )
    dpop_iat_window: float = DEFAULTS["dpop_iat_window"]
    dpop_nonce: bool = False
    dpop_nonce_key: bytes | None = field(default=None, repr=False)
    # Observability (#18): the audit hook, and OpenTelemetry on or off.
    audit_hook: Callable[[AuditEvent], object] | None = field(default=None, repr=False)
    telemetry: bool = False
    # The key source once built (jwtgate._keysource), for this object only: a copy
    # made by ``replace`` builds its own.
    built_sources: dict[str, KeySource] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None = None, *, name: str = "JWTGATE") -> Settings:
        """Validate ``data`` and build settings, or raise one ``ConfigurationError``.

        ``name`` is how problems refer to the dict (``JWTGATE['LEEWAY']``).
        """
        return cls(**validate(data if data is not None else {}, name, make=cls))

    def replace(self, **changes: Any) -> Settings:
        """A copy with some keys changed, validated again like ``from_dict``."""
        merged = {**self.source, **{k.lower(): v for k, v in changes.items()}}
        return Settings.from_dict(merged, name=self.name)

    @property
    def key_source(self) -> KeySource:
        """The key source ``Verifier`` uses: ``keys``, or a ``JWKSKeys`` for a remote JWKS.

        Built on first use and then shared by every Verifier, Gate and middleware
        built from this Settings object (one key cache, one fetch schedule).
        """
        from ._keysource import key_source_for

        return key_source_for(self)

    @property
    def is_hmac(self) -> bool:
        """True when tokens are verified with a shared secret (HS* algorithms)."""
        return bool(HMAC_ALGORITHMS.intersection(self.algorithms))


def check_settings(
    data: Mapping[str, Any] | None, *, name: str = "JWTGATE", warnings: bool = False
) -> list[Problem]:
    """Every problem with ``data``, without raising (used by Django system checks and the CLI).

    With ``warnings``, settings that work but look like a mistake (``jwtgate.W…``
    ids) are listed too, after the errors.
    """
    try:
        settings = Settings.from_dict(data, name=name)
    except ConfigurationError as exc:
        return list(exc.problems)
    return list(settings.warnings) if warnings else []
