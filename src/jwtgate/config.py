"""Settings: one plain dict for every stack, validated completely at startup.

``Settings.from_dict(d)`` accepts keys in either case (``{"leeway": 30}`` or
Django's ``JWTGATE = {"LEEWAY": 30}``), checks every key, collects every problem,
and raises one :class:`~jwtgate.errors.ConfigurationError` listing each problem
with a stable id (``jwtgate.E001`` …), the key and a hint. Nothing is checked
lazily: a ``Settings`` object that exists is one that works.

The ids are documented in ``docs/settings.md``; they never change meaning.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from ._problems import Report
from ._remote import JWKSOptions, is_loopback_url
from .errors import ConfigurationError, Problem
from .keyfiles import load_keys
from .keys import (
    ASYMMETRIC_ALGORITHMS,
    HMAC_ALGORITHMS,
    SUPPORTED_ALGORITHMS,
    KeySource,
    SigningKey,
    StaticKeys,
)
from .paths import PathMatcher, compile_patterns, other_slash_form

logger = logging.getLogger("jwtgate")

__all__ = ["DEFAULTS", "Rule", "Settings"]

TOKEN_SOURCES = ("header", "cookie", "query")
STORE_SCHEMES = ("memory", "sqlite", "redis", "rediss")

DEFAULTS: dict[str, Any] = {
    "algorithms": ["HS256"],
    "secret": None,
    "public_key": None,
    "private_key": None,
    "key_id": None,
    "jwks": None,
    "jwks_url": None,
    "jwks_cache_ttl": 300,
    "jwks_cache_ttl_min": 60,
    "jwks_cache_ttl_max": 86400,
    "jwks_refetch_interval": 30,
    "jwks_fetch_timeout": 5,
    "jwks_max_stale": 21600,
    "jwks_max_bytes": 262144,
    "jwks_discovery": False,
    "allow_insecure_jwks_url": False,
    "jwks_redirects": "same-host",
    "allow_hmac_jwks": False,
    "issuer": None,
    "audience": None,
    "leeway": 0,
    "required_claims": ["exp", "sub"],
    "identity_claim": "sub",
    "scopes_claim": "scope",
    "token_sources": ["header"],
    "header_name": "Authorization",
    "header_scheme": "Bearer",
    "cookie_name": "access_token",
    "query_param": "access_token",
    "credentials_required": True,
    "public_paths": [],
    "rules": [],
    "cors_preflight": "answer",
    "max_token_bytes": 8192,
    "access_token_ttl": 300,
    "refresh_token_ttl": 1209600,
    "store": None,
    "check_revocation": False,
    "on_store_error": "deny",
    "store_persistence": "warn",
    "refresh_reuse_grace": 0,
    "store_key_prefix": "jwtgate:",
    "realm": "api",
    "set_remote_user": False,
    "load_user": False,
    "user_field": None,
    "verify_cache_size": 1024,
    "verify_cache_max_age": 60,
    "revocation_cache_size": 4096,
    "revocation_poll_interval": 0.05,
}

# Names people bring from PyJWT, Flask-JWT-Extended and simplejwt.
RENAMED = {
    "algorithm": "algorithms",
    "secret_key": "secret",
    "signing_key": "private_key (or secret for HMAC)",
    "verifying_key": "public_key",
    "jwt_secret_key": "secret",
    "require": "required_claims",
    "options": "required_claims and leeway",
    "access_token_lifetime": "access_token_ttl",
    "refresh_token_lifetime": "refresh_token_ttl",
    "jwt_access_token_expires": "access_token_ttl",
    "jwt_refresh_token_expires": "refresh_token_ttl",
    "auth_header_types": "header_scheme",
    "auth_header_name": "header_name",
    "user_id_claim": "identity_claim",
    "jwt_identity_claim": "identity_claim",
    "jwt_token_location": "token_sources",
    "token_location": "token_sources",
    "exempt_paths": "public_paths",
    "issuers": "issuer",
    "audiences": "audience",
    # Flask-JWT-Extended (docs/migrating.md)
    "jwt_algorithm": "algorithms",
    "jwt_decode_algorithms": "algorithms",
    "jwt_private_key": "private_key",
    "jwt_public_key": "public_key",
    "jwt_header_name": "header_name",
    "jwt_header_type": "header_scheme",
    "jwt_access_cookie_name": "cookie_name",
    "jwt_query_string_name": "query_param",
    "jwt_decode_audience": "audience",
    "jwt_encode_audience": "audience",
    "jwt_decode_issuer": "issuer",
    "jwt_encode_issuer": "issuer",
    "jwt_decode_leeway": "leeway",
    "jwt_verify_sub": "required_claims",
    "jwt_blacklist_enabled": "check_revocation (with a store)",
    # djangorestframework-simplejwt (docs/migrating.md)
    "jwk_url": "jwks_url",
    "user_id_field": "user_field",
    "user_authentication_rule": "load_user",
    "token_user_class": "load_user",
    "blacklist_after_rotation": "store (used refresh tokens are always refused)",
    "check_revoke_token": "check_revocation",
    "revoke_token_claim": "check_revocation",
}

LEEWAY_MAX = 300
REUSE_GRACE_MAX = 60
TTL_MAX = 315_360_000
MAX_TOKEN_BYTES_RANGE = (512, 1_048_576)
CACHE_SIZE_MAX = 1_000_000
# \Z, not $: "$" also matches before a trailing newline (header injection).
_TCHAR = re.compile(r"\A[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")  # RFC 9110 token
_REALM_CHARS = re.compile(r"\A[\x20-\x21\x23-\x5b\x5d-\x7e]*\Z")  # RFC 6750 §3 realm chars
# Methods a rule may name: RFC 9110 §9, PATCH (RFC 5789) and WebDAV's (RFC 4918). A
# misspelt method ("PSOT") would make a rule that never applies.
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
    | {"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH"}
)


@dataclass(frozen=True)
class Rule:
    """A scope requirement: requests matching ``path`` (and ``methods``) need all ``scopes``.

    ``methods`` are upper-case, and hold ``HEAD`` whenever they hold ``GET``
    (frameworks answer HEAD with the GET handler).
    """

    path: str
    scopes: frozenset[str]
    methods: frozenset[str] | None = None
    matcher: PathMatcher = field(repr=False, compare=False, default_factory=lambda: PathMatcher(()))

    def applies(self, method: str, path: str) -> bool:
        """Whether this rule covers a request with this (upper-case) method and canonical path.

        One trailing slash makes no difference: routers treat ``/x`` and ``/x/`` as
        one route, so ``/admin/*`` also covers ``/admin``.
        """
        if self.methods is not None and method not in self.methods:
            return False
        return self.matcher.match(path) or self.matcher.match(other_slash_form(path))


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
    cors_preflight: Literal["answer", "forward"]
    max_token_bytes: int
    access_token_ttl: int
    refresh_token_ttl: int
    store: str | None = field(repr=False)  # a URL may carry a password
    check_revocation: bool
    on_store_error: Literal["deny", "allow"]
    store_persistence: Literal["warn", "require", "ignore"]
    refresh_reuse_grace: float
    store_key_prefix: str
    realm: str
    set_remote_user: bool
    load_user: bool
    user_field: str | None
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
    verify_cache_size: int = 1024
    verify_cache_max_age: float = 60
    revocation_cache_size: int = 4096
    revocation_poll_interval: float = 0.05
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
        return _Validator(data if data is not None else {}, name).build()

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


_MISSING = object()


def _rule_methods(methods: Iterable[str]) -> frozenset[str]:
    upper = {m.upper() for m in methods}
    if "GET" in upper:
        upper.add("HEAD")  # HEAD runs the GET handler in every framework
    return frozenset(upper)


class _Validator(Report):
    """Collects problems key by key, then builds the Settings or raises."""

    def __init__(self, data: object, name: str) -> None:
        self.raw: dict[str, Any] = {}
        super().__init__(self.raw, name)
        self.values: dict[str, Any] = {}
        if not isinstance(data, Mapping):
            self.add("E003", "", f"{name} should be a dict, not {type(data).__name__}.")
            data = {}
        for key, value in data.items():
            if not isinstance(key, str):  # a dict from YAML or TOML can have any keys
                self.add("E003", repr(key), "settings keys should be strings.")
                continue
            lower = key.lower()
            if lower in self.raw:
                self.add(
                    "E030",
                    key,
                    f"{self.ref(key)} is given twice, in different cases.",
                    "Keep one spelling.",
                )
            self.raw[lower] = value

    # -- helpers --------------------------------------------------------------

    def get(self, key: str) -> Any:
        return self.raw.get(key, DEFAULTS[key])

    def boolean(self, key: str) -> bool:
        value = self.get(key)
        if not isinstance(value, bool):
            self.type_error(key, "True or False")
            return bool(DEFAULTS[key])
        return value

    def string(
        self,
        key: str,
        *,
        optional: bool = False,
        pattern: re.Pattern[str] | None = None,
        what: str = "",
    ) -> str | None:
        value = self.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value:
            self.type_error(key, "a non-empty string")
            return DEFAULTS[key]  # type: ignore[no-any-return]
        if pattern is not None and not pattern.match(value):
            self.add(
                "E024",
                key,
                f"{self.ref(key)} is not a valid {what}.",
                "Use letters, digits and - _ . only.",
            )
            return DEFAULTS[key]  # type: ignore[no-any-return]
        return value

    def string_list(self, key: str, *, allow_empty: bool = True) -> tuple[str, ...] | None:
        value = self.get(key)
        if (
            isinstance(value, str)
            or not isinstance(value, list | tuple)
            or not all(isinstance(v, str) and v for v in value)
        ):
            hint = f'Write {self.ref(key)} = ["{value}"].' if isinstance(value, str) else ""
            self.add("E003", key, f"{self.ref(key)} should be a list of non-empty strings.", hint)
            return None
        if not allow_empty and not value:
            self.add("E003", key, f"{self.ref(key)} should not be empty.")
            return None
        return tuple(value)

    def number(self, key: str, low: float, high: float, id_: str, unit: str = "") -> Any:
        """A finite number (int or float, not a bool) between ``low`` and ``high``."""
        value = self.get(key)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            self.type_error(key, f"a number{unit}")
            return DEFAULTS[key]
        if not low <= value <= high:
            self.add(
                id_,
                key,
                f"{self.ref(key)} is {value}; it should be between {low} and {high}{unit}.",
            )
            return DEFAULTS[key]
        return value

    # -- build ----------------------------------------------------------------

    def build(self) -> Settings:
        self.check_unknown_keys()
        algorithms = self.check_algorithms()
        if algorithms is None:  # keys cannot be judged without knowing the algorithms
            algorithms = ()
            keys, signing_key = StaticKeys(()), None
        else:
            keys, signing_key, problems = load_keys(self.raw, algorithms, name=self.name)
            self.problems.extend(problems)
        v = self.values
        v["issuer"] = self.optional_strings("issuer")
        v["audience"] = self.optional_strings("audience")
        v["leeway"] = self.number("leeway", 0, LEEWAY_MAX, "E010", " seconds")
        v["required_claims"] = self.string_list("required_claims") or ()
        v["identity_claim"] = self.string("identity_claim")
        v["scopes_claim"] = self.string("scopes_claim")
        v["token_sources"] = self.check_token_sources()
        v["header_name"] = self.string("header_name", pattern=_TCHAR, what="HTTP header name")
        v["header_scheme"] = self.string("header_scheme", pattern=_TCHAR, what="auth scheme")
        v["cookie_name"] = self.string("cookie_name", pattern=_TCHAR, what="cookie name")
        v["query_param"] = self.string("query_param", pattern=_TCHAR, what="query parameter")
        v["credentials_required"] = self.boolean("credentials_required")
        v["public_paths"] = self.check_patterns("public_paths")
        v["rules"] = self.check_rules()
        preflight = self.get("cors_preflight")
        if preflight not in ("answer", "forward"):
            self.add(
                "E036",
                "cors_preflight",
                f"{self.ref('cors_preflight')} should be 'answer' or 'forward', not {preflight!r}.",
                "'answer' (the default): jwtgate answers CORS preflights itself and the app "
                "never runs; 'forward' only when a CORS layer between jwtgate and the app "
                "answers them.",
            )
            preflight = "answer"
        v["cors_preflight"] = preflight
        v["max_token_bytes"] = self.whole(
            "max_token_bytes", *MAX_TOKEN_BYTES_RANGE, "E025", " bytes"
        )
        v["access_token_ttl"] = self.ttl("access_token_ttl")
        v["refresh_token_ttl"] = self.ttl("refresh_token_ttl")
        v["store"] = self.check_store()
        v["check_revocation"] = self.boolean("check_revocation")
        if v["check_revocation"] and v["store"] is None:
            self.add(
                "E022",
                "check_revocation",
                f"{self.ref('check_revocation')} is on but no store is configured.",
                f"Set {self.ref('store')}, e.g. 'sqlite:///jwtgate.db'.",
            )
        on_error = self.get("on_store_error")
        if on_error not in ("deny", "allow"):
            self.add(
                "E021",
                "on_store_error",
                f"{self.ref('on_store_error')} should be 'deny' or 'allow', not {on_error!r}.",
            )
            on_error = "deny"
        v["on_store_error"] = on_error
        persistence = self.get("store_persistence")
        if persistence not in ("warn", "require", "ignore"):
            self.add(
                "E064",
                "store_persistence",
                f"{self.ref('store_persistence')} should be 'warn', 'require' or 'ignore', "
                f"not {persistence!r}.",
            )
            persistence = "warn"
        v["store_persistence"] = persistence
        v["refresh_reuse_grace"] = self.number(
            "refresh_reuse_grace", 0, REUSE_GRACE_MAX, "E060", " seconds"
        )
        v["store_key_prefix"] = self.check_key_prefix()
        v["realm"] = self.string("realm", pattern=_REALM_CHARS, what="realm")
        v["set_remote_user"] = self.boolean("set_remote_user")
        v["load_user"] = self.boolean("load_user")
        v["user_field"] = self.string("user_field", optional=True)
        jwks_url, jwks_options = self.check_remote_jwks(algorithms, v["issuer"])
        self.check_hot_path()
        if self.problems:
            raise ConfigurationError(self.problems)
        for warning in self.warnings:
            logger.warning("jwtgate: %s", warning)
        return Settings(
            algorithms=algorithms,
            keys=keys,
            signing_key=signing_key,
            key_id=self.raw.get("key_id"),
            jwks_url=jwks_url,
            source=dict(self.raw),
            name=self.name,
            warnings=tuple(self.warnings),
            jwks_options=jwks_options,
            **v,
        )

    def check_hot_path(self) -> None:
        """Validate the cache and revocation-view keys (ids E080-E083)."""
        v = self.values
        v["verify_cache_size"] = self.whole("verify_cache_size", 0, CACHE_SIZE_MAX, "E080")
        v["verify_cache_max_age"] = self.number(
            "verify_cache_max_age", 1, 86400, "E081", " seconds"
        )
        v["revocation_cache_size"] = self.whole("revocation_cache_size", 0, CACHE_SIZE_MAX, "E082")
        v["revocation_poll_interval"] = self.number(
            "revocation_poll_interval", 0.01, 5, "E083", " seconds"
        )

    def whole(self, key: str, low: int, high: int, id_: str, unit: str = "") -> int:
        """A whole number (a count, a size) between ``low`` and ``high``; no float, no bool."""
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.type_error(key, f"a whole number{unit and ' of' + unit}")
            return int(DEFAULTS[key])
        if not low <= value <= high:
            message = f"{self.ref(key)} is {value}; it should be between {low} and {high}{unit}."
            self.add(id_, key, message)
            return int(DEFAULTS[key])
        return value

    def check_remote_jwks(
        self, algorithms: tuple[str, ...], issuer: tuple[str, ...] | None
    ) -> tuple[str | None, JWKSOptions | None]:
        """Validate ``jwks_url`` and its tuning keys (ids E040-E049)."""
        url = self.raw.get("jwks_url")
        discovery = self.boolean("jwks_discovery")
        insecure = self.boolean("allow_insecure_jwks_url")
        allow_hmac = self.boolean("allow_hmac_jwks")
        ttl = self.number("jwks_cache_ttl", 1, 604800, "E042", " seconds")
        ttl_min = self.number("jwks_cache_ttl_min", 1, 604800, "E042", " seconds")
        ttl_max = self.number("jwks_cache_ttl_max", 1, 604800, "E042", " seconds")
        if ttl_min > ttl_max:
            self.add(
                "E042",
                "jwks_cache_ttl_min",
                f"{self.ref('jwks_cache_ttl_min')} ({ttl_min}) is larger than "
                f"{self.ref('jwks_cache_ttl_max')} ({ttl_max}).",
            )
        interval = self.number("jwks_refetch_interval", 1, 86400, "E043", " seconds")
        timeout = self.number("jwks_fetch_timeout", 0.1, 60, "E044", " seconds")
        stale = self.number("jwks_max_stale", 0, 604800, "E045", " seconds")
        max_bytes = self.whole("jwks_max_bytes", 1024, 16_777_216, "E046", " bytes")
        redirects = self.get("jwks_redirects")
        if redirects not in ("same-host", "none", "any"):
            self.add(
                "E049",
                "jwks_redirects",
                f"{self.ref('jwks_redirects')} should be 'same-host', 'none' or 'any', "
                f"not {redirects!r}.",
                "'same-host' (the default) follows redirects on the URL's own host only.",
            )
            redirects = "same-host"
        if url is None and not discovery:
            return None, None
        if url is not None:
            if discovery:
                self.add(
                    "E048",
                    "jwks_discovery",
                    f"{self.ref('jwks_discovery')} and {self.ref('jwks_url')} are both set.",
                    "Give the JWKS URL, or let discovery find it from ISSUER; not both.",
                )
            self.check_url("jwks_url", url, insecure)
        else:
            if issuer is None or len(issuer) != 1:
                self.add(
                    "E048",
                    "jwks_discovery",
                    f"{self.ref('jwks_discovery')} needs exactly one {self.ref('issuer')} "
                    "to find /.well-known/openid-configuration under.",
                    "Set ISSUER to the provider's issuer URL.",
                )
            else:
                self.check_url("issuer", issuer[0], insecure)
        hmac_algs = HMAC_ALGORITHMS.intersection(algorithms)
        if hmac_algs and not allow_hmac:
            self.add(
                "E047",
                "allow_hmac_jwks",
                f"{self.ref('algorithms')} has {', '.join(sorted(hmac_algs))} but shared "
                "(oct) keys from a remote JWKS are refused: whoever can serve that URL "
                "could mint tokens.",
                f"Use asymmetric algorithms, or set {self.ref('allow_hmac_jwks')} = True.",
            )
        options = JWKSOptions(
            cache_ttl=ttl,
            cache_ttl_min=ttl_min,
            cache_ttl_max=ttl_max,
            refetch_interval=interval,
            fetch_timeout=timeout,
            max_stale=stale,
            max_bytes=max_bytes,
            allow_insecure_url=insecure,
            allow_hmac=allow_hmac,
            discovery=url is None,
            redirects=redirects,
        )
        return (url if isinstance(url, str) else None), options

    def check_url(self, key: str, url: object, insecure: bool) -> None:
        try:
            parts = urlsplit(url) if isinstance(url, str) else None
            if parts is not None:
                parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError:  # an unbalanced IPv6 bracket, a bad port
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            self.add(
                "E040",
                key,
                f"{self.ref(key)} should be an absolute http(s) URL.",
                "Example: 'https://example.eu.auth0.com/.well-known/jwks.json'.",
            )
        elif parts.scheme == "http" and not insecure and not is_loopback_url(str(url)):
            self.add(
                "E041",
                key,
                f"{self.ref(key)} is a plain http:// URL; keys fetched without TLS can "
                "be replaced by anyone on the path.",
                f"Use https://, or set {self.ref('allow_insecure_jwks_url')} = True.",
            )

    def check_unknown_keys(self) -> None:
        for key in list(self.raw):
            if key in DEFAULTS:
                continue
            del self.raw[key]
            if key in RENAMED:
                self.add(
                    "E002",
                    key,
                    f"{self.ref(key)} is not a jwtgate setting.",
                    f"Use {self.ref(RENAMED[key].split(' ')[0])} instead ({RENAMED[key]}).",
                )
                continue
            close = difflib.get_close_matches(key, list(DEFAULTS), n=1)
            hint = (
                f"Did you mean {self.ref(close[0])}?"
                if close
                else ("See docs/settings.md for the list of settings.")
            )
            self.add("E001", key, f"{self.ref(key)} is not a jwtgate setting.", hint)

    def check_algorithms(self) -> tuple[str, ...] | None:
        algorithms = self.string_list("algorithms", allow_empty=False)
        if algorithms is None:
            return None
        result = []
        for alg in algorithms:
            if alg.lower() == "none":
                self.add(
                    "E004",
                    "algorithms",
                    f"{self.ref('algorithms')} includes 'none': "
                    "unsigned tokens are never accepted.",
                    "Remove 'none'.",
                )
            elif alg not in SUPPORTED_ALGORITHMS:
                close = difflib.get_close_matches(alg, sorted(SUPPORTED_ALGORITHMS), n=1)
                hint = (
                    f"Did you mean {close[0]!r}?"
                    if close
                    else (f"Supported: {', '.join(sorted(SUPPORTED_ALGORITHMS))}.")
                )
                self.add(
                    "E005",
                    "algorithms",
                    f"{self.ref('algorithms')} includes {alg!r}, which jwtgate does not support.",
                    hint,
                )
            elif alg not in result:
                result.append(alg)
        hmac = HMAC_ALGORITHMS.intersection(result)
        if hmac and ASYMMETRIC_ALGORITHMS.intersection(result):
            families = ", ".join(sorted(hmac))
            self.add(
                "E006",
                "algorithms",
                f"{self.ref('algorithms')} mixes HMAC ({families}) "
                "with public-key algorithms; one key would be read two ways (RFC 8725 §2.1).",
                "Pick one family: HS* with a secret, or RS*/PS*/ES*/EdDSA with public keys.",
            )
        return tuple(result)

    def optional_strings(self, key: str) -> tuple[str, ...] | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, str) and value:
            return (value,)
        if (
            isinstance(value, list | tuple)
            and value
            and all(isinstance(v, str) and v for v in value)
        ):
            return tuple(value)
        self.add(
            "E027",
            key,
            f"{self.ref(key)} should be a non-empty string or a non-empty list "
            "of strings (matched exactly).",
        )
        return None

    def check_token_sources(self) -> tuple[str, ...]:
        sources = self.string_list("token_sources", allow_empty=False)
        if sources is None:
            return tuple(DEFAULTS["token_sources"])
        bad = [s for s in sources if s not in TOKEN_SOURCES]
        if bad or len(set(sources)) != len(sources):
            self.add(
                "E017",
                "token_sources",
                f"{self.ref('token_sources')} should list distinct "
                f"values among {list(TOKEN_SOURCES)}; got {list(sources)}.",
            )
            return tuple(DEFAULTS["token_sources"])
        return sources

    def check_patterns(self, key: str, value: Any = _MISSING) -> PathMatcher:
        patterns = self.string_list(key) if value is _MISSING else value
        if patterns is None:
            return PathMatcher(())
        try:
            return compile_patterns(patterns)
        except ValueError as exc:
            self.add(
                "E018",
                key,
                f"{self.ref(key)} has a pattern that does not compile: {exc}.",
                "Patterns are globs like '/health' or '/public/*', or 're:<regex>'.",
            )
            return PathMatcher(())

    def check_rules(self) -> tuple[Rule, ...]:
        value = self.get("rules")
        if not isinstance(value, list | tuple):
            self.type_error("rules", "a list of dicts")
            return ()
        rules = []
        for index, item in enumerate(value):
            where = f"{self.ref('rules')}[{index}]"
            if (
                not isinstance(item, Mapping)
                or set(item) - {"path", "methods", "scopes"}
                or not (isinstance(item.get("path"), str) and item["path"])
            ):
                self.add(
                    "E019",
                    "rules",
                    f"{where} should be a dict with 'path', 'scopes' and optionally 'methods'.",
                    "Example: {'path': '/admin/*', 'methods': ['POST'], 'scopes': ['admin']}",
                )
                continue
            scopes = item.get("scopes")
            methods = item.get("methods")
            if (
                isinstance(scopes, str)
                or not isinstance(scopes, list | tuple)
                or not scopes
                or not all(isinstance(s, str) and s and " " not in s for s in scopes)
            ):
                self.add(
                    "E019", "rules", f"{where}['scopes'] should be a non-empty list of scope names."
                )
                continue
            if methods is not None and (
                isinstance(methods, str)
                or not isinstance(methods, list | tuple)
                or not methods
                or not all(isinstance(m, str) and _TCHAR.match(m) for m in methods)
            ):
                self.add("E019", "rules", f"{where}['methods'] should be a list of HTTP methods.")
                continue
            unknown = sorted({m.upper() for m in methods or ()} - HTTP_METHODS)
            if unknown:
                self.add(
                    "E035",
                    "rules",
                    f"{where}['methods'] names {', '.join(map(repr, unknown))}, "
                    "which is not an HTTP method, so the rule would never apply.",
                    "Use method names such as 'GET', 'POST', 'PUT', 'PATCH', 'DELETE'.",
                )
                continue
            try:
                matcher = compile_patterns([item["path"]])
            except ValueError as exc:
                self.add("E018", "rules", f"{where}['path'] does not compile: {exc}.")
                continue
            rules.append(
                Rule(
                    path=item["path"],
                    scopes=frozenset(scopes),
                    methods=_rule_methods(methods) if methods else None,
                    matcher=matcher,
                )
            )
        return tuple(rules)

    def ttl(self, key: str) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.type_error(key, "a whole number of seconds")
            return int(DEFAULTS[key])
        if not 0 < value <= TTL_MAX:
            self.add(
                "E011",
                key,
                f"{self.ref(key)} is {value}; it should be a positive number of seconds, "
                f"at most {TTL_MAX} (10 years).",
            )
            return int(DEFAULTS[key])
        return value

    def check_key_prefix(self) -> str:
        value = self.get("store_key_prefix")
        if not isinstance(value, str) or not re.fullmatch(r"[!-z|~]{1,64}", value):
            # No braces: they would change the Redis Cluster hash tag of every key.
            self.add(
                "E061",
                "store_key_prefix",
                f"{self.ref('store_key_prefix')} should be 1 to 64 printable characters "
                "without spaces or braces.",
                "Example: 'myapp:jwtgate:'.",
            )
            return str(DEFAULTS["store_key_prefix"])
        return value

    def check_store(self) -> str | None:
        value = self.raw.get("store")
        if value is None:
            return None
        if not isinstance(value, str):
            self.type_error("store", "a URL string")
            return None
        scheme = urlsplit(value).scheme
        if scheme not in STORE_SCHEMES or (
            scheme == "sqlite"
            and (not value.startswith("sqlite:///") or not value[10:].split("?", 1)[0])
        ):
            self.add(
                "E020",
                "store",
                f"{self.ref('store')} is not a store URL jwtgate knows.",
                "Use 'memory://', 'sqlite:////abs/path/file.db' or 'redis://host:6379/0'.",
            )
            return None
        if scheme == "sqlite":
            return self.check_sqlite_path(value)
        return value

    def check_sqlite_path(self, url: str) -> str:
        """The SQLite URL with its path made absolute, once (ids W001, E063).

        Three slashes and a relative path mean "relative to the working directory":
        a process started elsewhere (the jwtgate CLI, a cron job) would open
        another file and its revocations would be lost to the app.
        """
        path_part, sep, query = url[len("sqlite:///") :].partition("?")
        path = Path(path_part)
        resolved = path.resolve()
        if not path.is_absolute():
            self.warn(
                "W001",
                "store",
                f"{self.ref('store')} names the relative path {path_part!r}, resolved "
                f"against the working directory to {str(resolved)!r}; a process started "
                "elsewhere (the jwtgate CLI, another service) would open another file.",
                f"Use four slashes for an absolute path: 'sqlite:///{resolved}'.",
            )
        read_only = "mode=ro" in query.split("&")
        directory = resolved.parent
        writable = os.access(resolved, os.W_OK) if resolved.exists() else True
        if not directory.is_dir() or (
            not read_only and not (writable and os.access(directory, os.W_OK | os.X_OK))
        ):
            self.add(
                "E063",
                "store",
                f"{self.ref('store')}: the directory {str(directory)!r} does not exist or "
                "the SQLite file cannot be written there (WAL mode also writes "
                "'-wal' and '-shm' files beside it).",
                "Create the directory and give the app's user write access, or add "
                "'?mode=ro' for a read-only store.",
            )
        return f"sqlite:///{resolved}{sep}{query}"
