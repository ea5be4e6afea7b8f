"""The settings as data: one :class:`Field` per setting (a leaf module).

Each field gives the setting's name, its kind, its default, its range, the id of
the problem a bad value raises, and the line that says what it is. From this one
table come ``DEFAULTS``, the checks of every simple setting (:func:`check_fields`),
and the type and default that ``docs/settings.md`` shows (a test compares them).
Settings whose checks need more than a kind and a range (key material, URLs,
paths, rules, the store) have kind ``"custom"``: ``jwtgate.config`` checks those.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from ._problems import Report, number_in

__all__ = ["DEFAULTS", "FIELDS", "RENAMED", "Field", "check_fields", "string_list"]

# \Z, not $: "$" also matches before a trailing newline (header injection).
TCHAR = re.compile(r"\A[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")  # RFC 9110 token
REALM_CHARS = re.compile(r"\A[\x20-\x21\x23-\x5b\x5d-\x7e]*\Z")  # RFC 6750 §3 realm chars
TTL_MAX = 315_360_000  # ten years
WEEK = 604_800
DASH = "\N{EN DASH}"  # between the bounds of a range in docs/settings.md
SIMPLE_KINDS = ("bool", "int", "number", "str", "list", "choice")


@dataclass(frozen=True)
class Field:
    """One setting: how it is checked, its default, and how the reference shows it.

    ``kind`` is ``bool``, ``int`` (whole numbers only), ``number`` (int or float),
    ``str`` (non-empty), ``list`` (of non-empty strings), ``choice`` (one of
    ``choices``) or ``custom``. ``problem`` is the id for a value of the right type
    that is out of ``low``-``high``, not a ``choice``, or not matching ``pattern``
    (a value of the wrong type is always ``jwtgate.E003``).
    """

    name: str
    kind: str
    default: Any
    low: float | None = None
    high: float | None = None
    problem: str = "E003"
    doc: str = ""
    type: str = ""  # how docs/settings.md names the type, for custom kinds
    unit: str = ""  # "seconds" or "bytes"
    choices: tuple[str, ...] = ()
    hint: str = ""
    pattern: re.Pattern[str] | None = None
    what: str = ""  # what a value matching ``pattern`` is ("HTTP header name")

    @property
    def type_text(self) -> str:
        """The type as docs/settings.md shows it: ``seconds, 1-604800`` (with an en dash)."""
        if self.kind == "choice":
            quoted = [f'`"{c}"`' for c in self.choices]
            return ", ".join(quoted[:-1]) + " or " + quoted[-1]
        if self.kind in ("int", "number"):
            noun = self.unit or "int"
            if self.kind == "int" and self.unit:
                noun = f"int ({self.unit})"
            return f"{noun}, {_num(self.low)}{DASH}{_num(self.high)}"
        return self.type or {"bool": "bool", "str": "str", "list": "list of str"}[self.kind]

    @property
    def default_text(self) -> str:
        """The default as docs/settings.md shows it: ``none``, or the value as code."""
        if self.default is None:
            return "none"
        if isinstance(self.default, bool | float | int):
            return f"`{self.default}`"
        return f"`{json.dumps(self.default)}`"


def _num(value: float | None) -> str:
    return str(int(value)) if value is not None and value == int(value) else str(value)


def _field(name: str, kind: str, default: Any, doc: str, **more: Any) -> Field:
    return Field(name, kind, default, doc=doc, **more)


def _custom(name: str, type_: str, doc: str, default: Any = None) -> Field:
    return Field(name, "custom", default, doc=doc, type=type_)


def _seconds(name: str, default: float, low: float, high: float, problem: str, doc: str) -> Field:
    return Field(name, "number", default, low, high, problem, doc, unit="seconds")


def _whole(
    name: str, default: int, low: int, high: int, problem: str, doc: str, unit: str = ""
) -> Field:
    return Field(name, "int", default, low, high, problem, doc, unit=unit)


def _flag(name: str, doc: str) -> Field:
    return Field(name, "bool", False, doc=doc)


def _token(name: str, default: str, what: str, doc: str) -> Field:
    return Field(name, "str", default, problem="E024", doc=doc, pattern=TCHAR, what=what)


def _choice(name: str, choices: tuple[str, ...], problem: str, doc: str, hint: str = "") -> Field:
    return Field(name, "choice", choices[0], problem=problem, doc=doc, choices=choices, hint=hint)


_SOURCES = 'list of `"header"`, `"cookie"`, `"query"`'
_PEMS = 'PEM text, `"file:PATH"`, or dict of key id → PEM'
_CACHE = "The least time keys are kept, whatever `max-age` (or `no-store`) says."

FIELDS: tuple[Field, ...] = (
    # -- keys and algorithms
    _custom("algorithms", "list of strings", "The allow-list of signature algorithms.", ["HS256"]),
    _custom(
        "secret", "str, bytes, or dict of key id → str/bytes", "The HMAC key for `HS*` algorithms."
    ),
    _custom("public_key", _PEMS, "Public keys (PEM `PUBLIC KEY` or an X.509 certificate)"),
    _custom("private_key", _PEMS, "An unencrypted PEM private key"),
    _custom("key_id", "str", "The `kid` put in the header of tokens jwtgate issues."),
    _custom("jwks", 'a JWKS dict, JSON text, or `"file:PATH"`', "A JSON Web Key Set"),
    _custom("jwks_url", "URL", "A provider's JWKS URL."),
    _flag("jwks_discovery", "Find the JWKS URL through OpenID Connect discovery"),
    _seconds("jwks_cache_ttl", 300, 1, WEEK, "E042", "How long fetched keys are kept"),
    _seconds("jwks_cache_ttl_min", 60, 1, WEEK, "E042", _CACHE),
    _seconds("jwks_cache_ttl_max", 86400, 1, WEEK, "E042", "The most time keys are kept"),
    _seconds("jwks_refetch_interval", 30, 1, 86400, "E043", "The least time between two fetches"),
    _seconds("jwks_fetch_timeout", 5, 0.1, 60, "E044", "The bound on one whole fetch"),
    _seconds("jwks_max_stale", 21600, 0, WEEK, "E045", "How long past their expiry"),
    _whole(
        "jwks_max_bytes",
        262144,
        1024,
        16_777_216,
        "E046",
        "The largest JWKS body accepted",
        unit="bytes",
    ),
    _flag("allow_insecure_jwks_url", "Accept a plain `http://` JWKS URL"),
    _choice(
        "jwks_redirects",
        ("same-host", "none", "any"),
        "E049",
        "Which HTTP redirects a JWKS (or discovery document) fetch follows",
        "'same-host' (the default) follows redirects on the URL's own host only.",
    ),
    _flag("allow_hmac_jwks", "Accept shared (`oct`) keys from a remote JWKS"),
    # -- claims
    _custom("issuer", "str or list of str", "Accepted `iss` values, matched exactly"),
    _custom("audience", "str or list of str", "Accepted `aud` values, matched exactly"),
    _custom(
        "issuers",
        "list of dicts",
        "Several issuers, each with its own keys, audience, algorithms and claims.",
    ),
    _field("require_typ", "list", [], "The `typ` header values accepted; empty: any (or none)."),
    _seconds("leeway", 0, 0, 300, "E010", "Clock skew tolerated on `exp`, `nbf` and `iat`."),
    _field("required_claims", "list", ["exp", "sub"], "Claims that must be present."),
    _field("identity_claim", "str", "sub", "The claim that names the subject"),
    _field("scopes_claim", "str", "scope", "Where scopes are read from"),
    # -- where tokens come from
    _custom("token_sources", _SOURCES, "Sources tried in order.", ["header"]),
    _token("header_name", "Authorization", "HTTP header name", "The request header that"),
    _token("header_scheme", "Bearer", "auth scheme", "Compared case-insensitively (RFC 7235)."),
    _token("cookie_name", "access_token", "cookie name", "The cookie that carries the token"),
    _token("query_param", "access_token", "query parameter", "The query parameter that"),
    # -- what needs a token
    Field("credentials_required", "bool", True, doc="With `False`, a request without a token"),
    _custom("public_paths", "list of patterns", "Requests to these paths skip", []),
    _choice(
        "cors_preflight",
        ("answer", "forward"),
        "E036",
        "What happens to a CORS preflight",
        "'answer' (the default): jwtgate answers CORS preflights itself and the app never "
        "runs; 'forward' only when a CORS layer between jwtgate and the app answers them.",
    ),
    _custom("rules", "list of dicts", "Requirements per path and method.", []),
    _whole(
        "max_token_bytes",
        8192,
        512,
        1_048_576,
        "E025",
        "Longer tokens are refused before any parsing.",
        unit="bytes",
    ),
    Field(
        "realm",
        "str",
        "api",
        problem="E024",
        doc="The `realm` of the `WWW-Authenticate: Bearer` challenge.",
        pattern=REALM_CHARS,
        what="realm",
    ),
    _custom(
        "error_handler",
        'a function, or `"module:function"`',
        "Reshapes every refusal a door sends (the body, extra headers).",
    ),
    # -- the protected resource (RFC 9728)
    _custom("resource", "URL", "This resource's own URI (RFC 8707, RFC 9728)."),
    _custom(
        "resource_metadata",
        "dict",
        "More members of the protected resource metadata document",
        {},
    ),
    # -- sender-constrained tokens (DPoP, RFC 9449)
    _choice(
        "dpop",
        ("off", "allow", "require"),
        "E140",
        "Whether DPoP-bound tokens (`Authorization: DPoP`) are accepted, or required.",
    ),
    _custom(
        "dpop_algorithms",
        "list of strings",
        "The algorithms a DPoP proof may be signed with (asymmetric only).",
        ["ES256", "ES384", "PS256", "RS256", "EdDSA"],
    ),
    _seconds("dpop_iat_window", 60, 1, 3600, "E143", "How far a proof's `iat` may be"),
    _custom("dpop_nonce", 'bool, or a key: str or bytes, or `"env:NAME"`', "Server nonces", False),
    # -- sessions and stores
    _whole(
        "access_token_ttl",
        300,
        1,
        TTL_MAX,
        "E011",
        "How long an access token issued by jwtgate is valid",
        unit="seconds",
    ),
    _whole(
        "refresh_token_ttl",
        1209600,
        1,
        TTL_MAX,
        "E011",
        "How long a refresh token (a session) is valid",
        unit="seconds",
    ),
    _custom("store", "URL", "Where sessions and revocations live."),
    _flag("check_revocation", "Also refuse access tokens of revoked sessions."),
    _choice("on_store_error", ("deny", "allow"), "E021", "When the store cannot be reached"),
    _choice(
        "store_persistence",
        ("warn", "require", "ignore"),
        "E064",
        "whether it keeps its data on disk",
    ),
    _seconds("refresh_reuse_grace", 0, 0, 60, "E060", "After a refresh, how long"),
    _seconds("store_timeout", 2, 0.05, 60, "E150", "How long a request waits for the store"),
    _seconds(
        "store_housekeeping_timeout",
        10,
        0.05,
        600,
        "E151",
        "How long work off the request path waits for the store",
    ),
    _custom(
        "claims_hook",
        'a function, or `"module:function"`',
        "Sets the claims of each new token pair, at login and at every refresh.",
    ),
    _custom(
        "store_key_prefix",
        f"str, 1{DASH}64 printable characters without spaces or braces",
        "Prefix of every Redis key",
        "jwtgate:",
    ),
    # -- adapters
    _flag("set_remote_user", 'WSGI: also set `environ["REMOTE_USER"]` to the subject'),
    _flag("load_user", "Django: make `request.user` the user"),
    Field("user_field", "str", None, doc="Django: the user model field"),
    # -- performance
    _whole(
        "verify_cache_size",
        1024,
        0,
        1_000_000,
        "E080",
        "How many verified tokens each `Verifier` remembers",
    ),
    _seconds("verify_cache_max_age", 60, 1, 86400, "E081", "A cached verification older"),
    _whole(
        "revocation_cache_size",
        4096,
        0,
        1_000_000,
        "E082",
        "how many revocation answers each process keeps",
    ),
    _whole(
        "revocation_cache_bytes",
        8 * 1024 * 1024,
        64 * 1024,
        1024 * 1024 * 1024,
        "E152",
        "About how much memory the revocation answers of each view may take",
        unit="bytes",
    ),
    _seconds("revocation_poll_interval", 0.05, 0.01, 5, "E083", "How often the change feed polls"),
    # -- observability
    _custom(
        "audit_hook",
        'a function, or `"module:function"`',
        "Also receives every audit event (login, refresh, reuse detected, logout…).",
    ),
    _flag("telemetry", "OpenTelemetry metrics and spans (needs `jwtgate[otel]`)"),
)

BY_NAME = {f.name: f for f in FIELDS}
DEFAULTS: dict[str, Any] = {f.name: f.default for f in FIELDS}

# Names people bring from PyJWT, Flask-JWT-Extended and simplejwt.
RENAMED = {
    "algorithm": "algorithms",
    "secret_key": "secret",
    "signing_key": "secret (or private_key for RS*, PS*, ES* and EdDSA keys)",
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


def string_list(
    report: Report, key: str, value: Any, *, allow_empty: bool = True
) -> tuple[str, ...] | None:
    """``value`` as a tuple of non-empty strings, or None after a problem (E003)."""
    if (
        isinstance(value, str)
        or not isinstance(value, list | tuple)
        or not all(isinstance(v, str) and v for v in value)
    ):
        hint = f'Write {report.ref(key)} = ["{value}"].' if isinstance(value, str) else ""
        report.add("E003", key, f"{report.ref(key)} should be a list of non-empty strings.", hint)
        return None
    if not allow_empty and not value:
        report.add("E003", key, f"{report.ref(key)} should not be empty.")
        return None
    return tuple(value)


def _or_list(choices: tuple[str, ...]) -> str:
    quoted = [repr(c) for c in choices]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def check_field(report: Report, spec: Field, value: Any) -> Any:
    """The checked value of a simple setting, or its default after a problem."""
    key, ref, default = spec.name, report.ref(spec.name), spec.default
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        report.type_error(key, "True or False")
        return default
    if spec.kind == "list":
        checked = string_list(report, key, value)
        return tuple(default) if checked is None else checked
    if spec.kind == "choice":
        if value in spec.choices:
            return value
        message = f"{ref} should be {_or_list(spec.choices)}, not {value!r}."
        report.add(spec.problem, key, message, spec.hint)
        return default
    if spec.kind == "str":
        if value is None and default is None:
            return None
        if not isinstance(value, str) or not value:
            report.type_error(key, "a non-empty string")
            return default
        if spec.pattern is not None and not spec.pattern.match(value):
            hint = "Use letters, digits and - _ . only."
            report.add(spec.problem, key, f"{ref} is not a valid {spec.what}.", hint)
            return default
        return value
    unit = f" {spec.unit}" if spec.unit else ""
    whole = spec.kind == "int"
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (whole and not isinstance(value, int))
        or (isinstance(value, float) and not math.isfinite(value))
    ):
        _not_a_number(report, spec, value)
        return default
    low = -math.inf if spec.low is None else spec.low
    high = math.inf if spec.high is None else spec.high
    if not low <= value <= high:
        bounds = f"between {_num(spec.low)} and {_num(spec.high)}{unit}"
        report.add(spec.problem, key, f"{ref} is {value}; it should be {bounds}.")
        return default
    return value


def _not_a_number(report: Report, spec: Field, value: object) -> None:
    """``LEEWAY should be a number of seconds (like 30), not the string "30"``, with the fix."""
    whole = spec.kind == "int"
    noun = "a whole number" if whole else "a number"
    unit = f" of {spec.unit}" if spec.unit else ""
    example, hint = spec.default or _num(min(30, spec.high or 30)), ""
    spelled = number_in(value) if isinstance(value, str) else None
    if isinstance(value, str) and spelled is not None and (isinstance(spelled, int) or not whole):
        example = spelled
        convert = "int" if whole else "float"
        hint = (
            f"Write {value.strip()} without quotes; convert a value read from the "
            f"environment with {convert}(...)."
        )
    report.type_error(spec.name, f"{noun}{unit} (like {example})", hint)


def check_fields(report: Report, raw: dict[str, Any]) -> dict[str, Any]:
    """The checked value of every simple setting in ``raw`` (or its default)."""
    return {
        f.name: check_field(report, f, raw.get(f.name, f.default))
        for f in FIELDS
        if f.kind in SIMPLE_KINDS
    }
