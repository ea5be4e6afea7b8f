"""The checks of the settings that a kind and a range cannot express.

:func:`validate` runs them all over one settings dict: the names of the keys, the
algorithms, the key material (:func:`jwtgate.keyfiles.load_keys`), every simple
setting through the field table (:mod:`jwtgate._fields`), then issuer and audience,
token sources, paths and rules, the store URL, the remote JWKS and DPoP. It returns
the checked values of the ``Settings`` attributes, or raises one ``ConfigurationError``.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from ._dpop_checks import DPoPChecks
from ._fields import DEFAULTS, RENAMED, TCHAR, TTL_MAX, check_fields, string_list
from ._issuer_checks import JWKS_OPTIONS, IssuerChecks
from ._issuers import normal_typ
from ._remote import JWKSOptions, is_loopback_url
from ._rules import HTTP_METHODS, Rule, rule_methods
from ._store_checks import STORE_EXAMPLES, STORE_SCHEMES, StoreChecks, url_parts
from .errors import ConfigurationError, Problem
from .keyfiles import load_keys
from .keys import ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS, SUPPORTED_ALGORITHMS, StaticKeys
from .paths import PathMatcher, compile_patterns

__all__ = ["validate"]

logger = logging.getLogger("jwtgate")

TOKEN_SOURCES = ("header", "cookie", "query")
_MISSING = object()


def validate(data: object, name: str, *, make: Callable[..., Any] | None = None) -> dict[str, Any]:
    """The checked value of every ``Settings`` attribute, or raise ``ConfigurationError``.

    ``make`` is the ``Settings`` class, to build the entries of ``issuers`` with
    (without it they are checked but not built).
    """
    values, problems, found_warnings = _validate(data, name, make)
    if problems:
        raise ConfigurationError(problems)
    for warning in found_warnings:
        logger.warning("jwtgate: %s", warning)
    return values


def _validate(
    data: object, name: str, make: Callable[..., Any] | None
) -> tuple[dict[str, Any], list[Problem], list[Problem]]:
    """The checked values, the problems and the warnings of one settings dict (the
    top-level one, or one entry of ``issuers`` merged with what it inherits)."""
    checks = _Checks(data, name, make)
    checks.check_unknown_keys()
    several = checks.raw.get("issuers") is not None
    if several:
        checks.check_issuer_level_keys()
    algorithms = checks.check_algorithms()
    keys, signing_key = StaticKeys(()), None
    if algorithms is None:  # keys cannot be judged without knowing the algorithms
        algorithms = ()
    elif not several:  # with several issuers, every key is an entry's
        keys, signing_key, problems = load_keys(checks.raw, algorithms, name=name)
        checks.problems.extend(problems)
    v = checks.values = check_fields(checks, checks.raw)
    v["resource"] = checks.check_resource()
    v["issuer"] = checks.optional_strings("issuer")
    v["audience"] = checks.check_audience(v["resource"])
    v["require_typ"] = tuple(normal_typ(t) for t in v["require_typ"])
    v["token_sources"] = checks.check_token_sources()
    v["public_paths"] = checks.check_patterns("public_paths")
    v["rules"] = checks.check_rules()
    v["error_handler"] = checks.check_function("error_handler", "(rejection) -> Rejection")
    v["claims_hook"] = checks.check_function("claims_hook", "(subject, claims) -> claims")
    v["audit_hook"] = checks.check_function("audit_hook", "(event) -> None")
    if v.get("telemetry"):
        checks.check_telemetry()
    v["store"] = checks.check_store()
    if v["check_revocation"] and v["store"] is None:
        checks.add(
            "E022",
            "check_revocation",
            f"{checks.ref('check_revocation')} is on but no store is configured.",
            f"Set {checks.ref('store')}, e.g. 'sqlite:///jwtgate.db'.",
        )
    v["store_key_prefix"] = checks.check_key_prefix()
    v["jwks_url"], v["jwks_options"] = checks.check_remote_jwks(algorithms, v["issuer"])
    v["issuers"] = checks.check_issuers(v["resource"]) if several else ()
    v["resource_metadata"] = checks.check_resource_metadata(v["issuers"])
    v.update(checks.check_dpop(v["dpop"]))
    v.update(algorithms=algorithms, keys=keys, signing_key=signing_key)
    v.update(key_id=checks.raw.get("key_id"), source=dict(checks.raw))
    v.update(name=name, warnings=tuple(checks.warnings))
    return v, checks.problems, checks.warnings


class _Checks(IssuerChecks, StoreChecks, DPoPChecks):
    """The custom checks, each adding its problems to the report."""

    def __init__(self, data: object, name: str, make: Callable[..., Any] | None) -> None:
        self.raw: dict[str, Any] = {}
        super().__init__(self.raw, name)
        self.values: dict[str, Any] = {}
        self.make = make
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

    def validate_entry(
        self, data: dict[str, Any], name: str
    ) -> tuple[dict[str, Any], list[Problem], list[Problem]]:
        return _validate(data, name, self.make)

    def check_remote_jwks(
        self, algorithms: tuple[str, ...], issuer: tuple[str, ...] | None
    ) -> tuple[str | None, JWKSOptions | None]:
        """Validate ``jwks_url`` and its tuning keys (ids E040-E049)."""
        url = self.raw.get("jwks_url")
        options = {key: self.values.pop(f"jwks_{key}") for key in JWKS_OPTIONS}
        discovery = self.values.pop("jwks_discovery")
        insecure = self.values.pop("allow_insecure_jwks_url")
        allow_hmac = self.values.pop("allow_hmac_jwks")
        ttl_min, ttl_max = options["cache_ttl_min"], options["cache_ttl_max"]
        if ttl_min > ttl_max:
            self.add(
                "E042",
                "jwks_cache_ttl_min",
                f"{self.ref('jwks_cache_ttl_min')} ({ttl_min}) is larger than "
                f"{self.ref('jwks_cache_ttl_max')} ({ttl_max}).",
            )
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
        remote = JWKSOptions(
            **options, allow_insecure_url=insecure, allow_hmac=allow_hmac, discovery=url is None
        )
        return (url if isinstance(url, str) else None), remote

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
        algorithms = string_list(self, "algorithms", self.get("algorithms"), allow_empty=False)
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

    def check_token_sources(self) -> tuple[str, ...]:
        sources = string_list(self, "token_sources", self.get("token_sources"), allow_empty=False)
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
        patterns = string_list(self, key, self.get(key)) if value is _MISSING else value
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
                or set(item) - {"path", "methods", "scopes", "max_age"}
                or not (isinstance(item.get("path"), str) and item["path"])
                or ("scopes" not in item and "max_age" not in item)
            ):
                self.add(
                    "E019",
                    "rules",
                    f"{where} should be a dict with 'path', 'scopes' and/or 'max_age', "
                    "and optionally 'methods'.",
                    "Example: {'path': '/admin/*', 'methods': ['POST'], 'scopes': ['admin']}",
                )
                continue
            scopes = item.get("scopes", [])
            methods = item.get("methods")
            max_age = item.get("max_age")
            if (
                isinstance(scopes, str)
                or not isinstance(scopes, list | tuple)
                or ("max_age" not in item and not scopes)
                or not all(isinstance(s, str) and s and " " not in s for s in scopes)
            ):
                self.add(
                    "E019", "rules", f"{where}['scopes'] should be a non-empty list of scope names."
                )
                continue
            if max_age is not None and (
                isinstance(max_age, bool)
                or not isinstance(max_age, int)
                or not 0 < max_age <= TTL_MAX
            ):
                self.add(
                    "E019",
                    "rules",
                    f"{where}['max_age'] should be a whole number of seconds, 1 to {TTL_MAX}: "
                    "the oldest login (the token's auth_time) the path accepts.",
                )
                continue
            if methods is not None and (
                isinstance(methods, str)
                or not isinstance(methods, list | tuple)
                or not methods
                or not all(isinstance(m, str) and TCHAR.match(m) for m in methods)
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
                    methods=rule_methods(methods) if methods else None,
                    matcher=matcher,
                    max_age=max_age,
                )
            )
        return tuple(rules)

    def check_function(
        self, key: str, signature: str, value: object = _MISSING
    ) -> Callable[..., Any] | None:
        """A callable, or one named ``"package.module:function"`` (imported now, so a typo
        fails at startup, not at the first use)."""
        if value is _MISSING:
            value = self.get(key)
        if value is None:
            return None
        if callable(value):
            return cast("Callable[..., Any]", value)
        hint = f"Give a function {signature}, or 'package.module:function'."
        if not isinstance(value, str):
            self.add("E037", key, f"{self.ref(key)} is not callable.", hint)
            return None
        module, _, name = value.partition(":")
        try:
            target = getattr(importlib.import_module(module), name) if module and name else None
        except (ImportError, AttributeError) as exc:
            detail = f"{type(exc).__name__}: {exc}"
        else:
            if callable(target):
                return cast("Callable[..., Any]", target)
            detail = "no callable of that name" if name else "no ':function' part"
        self.add("E037", key, f"{self.ref(key)} = {value!r} names no function ({detail}).", hint)
        return None

    def check_telemetry(self) -> None:
        """``telemetry`` needs the OpenTelemetry API (found, not imported: startup stays light)."""
        import importlib.util

        if importlib.util.find_spec("opentelemetry") is None:
            self.add(
                "E160",
                "telemetry",
                f"{self.ref('telemetry')} is on but the OpenTelemetry API is not installed.",
                "pip install 'jwtgate[otel]' (opentelemetry-api), or set it to False.",
            )

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
        parts = url_parts(value)
        scheme, sqlite_path = parts.scheme, value[10:].split("?", 1)[0]
        if (
            scheme not in STORE_SCHEMES
            or (scheme == "sqlite" and not (value.startswith("sqlite:///") and sqlite_path))
            or (scheme == "django" and (parts.path not in ("", "/") or parts.query))
        ):
            self.add(
                "E020",
                "store",
                f"{self.ref('store')} is not a store URL jwtgate knows.",
                f"Use {STORE_EXAMPLES}.",
            )
            return None
        if scheme == "sqlite":
            return self.check_sqlite_path(value)
        return self.check_server_url(value)

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

    def get(self, key: str) -> Any:
        return self.raw.get(key, DEFAULTS[key])
