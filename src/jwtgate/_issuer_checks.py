"""The checks of the settings for several issuers and for the protected resource.

:class:`IssuerChecks` is the part of the settings checks (:mod:`jwtgate._checks`)
that reads ``issuers`` (ids E130-E136), ``resource`` and its ``audience`` (E137,
W025) and ``resource_metadata`` (E138, W026). Each entry of ``issuers`` is checked
as settings of its own, through the same checks as the top level, merged with what
it inherits from the top level; ``validate_entry`` and ``make`` (the ``Settings``
class, passed in so this module need not import it) come from the subclass.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, cast
from urllib.parse import urlsplit

from ._issuers import IssuerEntry, split_template
from ._problems import Report
from ._remote import is_loopback_url
from .errors import Problem

__all__ = ["ENTRY_KEYS", "INHERITED", "JWKS_OPTIONS", "IssuerChecks"]

# The jwks_* settings that become JWKSOptions fields of the same name, less the prefix.
JWKS_OPTIONS = (
    "cache_ttl",
    "cache_ttl_min",
    "cache_ttl_max",
    "refetch_interval",
    "fetch_timeout",
    "max_stale",
    "max_bytes",
    "redirects",
)
# What one entry of ``issuers`` may set; everything else comes from the top level.
ENTRY_KEYS = (
    "issuer",
    "allowed",
    "algorithms",
    "audience",
    "jwks_url",
    "jwks_discovery",
    "jwks",
    "public_key",
    "secret",
    "identity_claim",
    "scopes_claim",
    "required_claims",
    "require_typ",
)
# The keys an entry takes from the top level when it does not set them itself.
INHERITED = (
    "algorithms",
    "audience",
    "identity_claim",
    "scopes_claim",
    "required_claims",
    "require_typ",
    "leeway",
    "max_token_bytes",
    "allow_insecure_jwks_url",
    "allow_hmac_jwks",
    # So each entry's JWKS source reports its fetches and key rotations (#18).
    "telemetry",
    "audit_hook",
    *(f"jwks_{key}" for key in JWKS_OPTIONS),
)
# Top-level keys that name one issuer or its keys: with ``issuers``, each entry has its own.
ISSUER_LEVEL = ("issuer", "jwks_url", "jwks_discovery", "jwks", "public_key", "secret")
SIGNING_LEVEL = ("private_key", "key_id")


class IssuerChecks(Report):
    """Checks of ``issuers``, ``resource`` and ``resource_metadata``, adding to the report."""

    raw: dict[str, Any]
    values: dict[str, Any]
    make: Callable[..., Any] | None

    def validate_entry(
        self, data: dict[str, Any], name: str
    ) -> tuple[dict[str, Any], list[Problem], list[Problem]]:
        raise NotImplementedError

    def check_function(
        self, key: str, signature: str, value: object = ...
    ) -> Callable[..., Any] | None:
        raise NotImplementedError

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

    def check_audience(self, resource: str | None) -> tuple[str, ...] | None:
        """``audience``, which defaults to ``resource`` (RFC 8707: a token asked for this
        resource names it in ``aud``); W025 when both are set and disagree."""
        audience = self.optional_strings("audience")
        if resource is None:
            return audience
        if audience is None:
            return (resource,)
        if resource not in audience:
            # RESOURCE is top-level only, also when an ISSUERS entry is checked.
            top = re.sub(r"\['ISSUERS'\]\[\d+\]$", "", self.name)
            resource_ref = f"{top}['RESOURCE']"
            self.warn(
                "W025",
                "audience",
                f"{self.ref('audience')} does not list {resource_ref} "
                f"({resource!r}): a token a client asked for this resource (RFC 8707 "
                "resource indicator) names it in aud, and would be refused.",
                f"Add {resource!r} to {self.ref('audience')}, or leave it unset: it then "
                f"defaults to {resource_ref}.",
            )
        return audience

    def check_resource(self) -> str | None:
        """``resource``: this resource's URI, absolute, https (or loopback http), with no
        query or fragment (RFC 8707 §2, RFC 9728 §3.1) (id E137)."""
        value = self.raw.get("resource")
        if value is None:
            return None
        try:
            parts = urlsplit(value) if isinstance(value, str) else None
            if parts is not None:
                parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError:
            parts = None
        if (
            parts is None
            or parts.scheme not in ("https", "http")
            or not parts.hostname
            or parts.query
            or "#" in str(value)
        ):
            self.add(
                "E137",
                "resource",
                f"{self.ref('resource')} should be this resource's own absolute https URL, "
                "without a query or a fragment (RFC 8707 §2).",
                "Example: 'https://mcp.example.com/mcp'.",
            )
            return None
        if parts.scheme == "http" and not is_loopback_url(str(value)):
            self.add(
                "E137",
                "resource",
                f"{self.ref('resource')} is a plain http:// URL: clients fetch its "
                "metadata and send it tokens, which must not travel without TLS.",
                "Use https://; plain http is accepted for localhost and 127.0.0.1 only.",
            )
            return None
        return str(value)

    def check_resource_metadata(self, issuers: tuple[IssuerEntry, ...]) -> Mapping[str, Any]:
        """``resource_metadata``: more members of the RFC 9728 document (id E138, W026)."""
        value = self.raw.get("resource_metadata", {})
        key, ref = "resource_metadata", self.ref("resource_metadata")
        if not isinstance(value, Mapping) or not all(isinstance(k, str) and k for k in value):
            self.add("E138", key, f"{ref} should be a dict of metadata members (RFC 9728 §2).")
            return MappingProxyType({})
        try:
            json.dumps(dict(value), allow_nan=False)
        except (TypeError, ValueError):
            self.add("E138", key, f"{ref} should hold JSON values only (str, list, bool…).")
            return MappingProxyType({})
        if "resource" in value:
            self.add(
                "E138",
                key,
                f"{ref} sets 'resource'.",
                f"Set {self.ref('resource')}: the document, the audience and the "
                "challenges all follow it.",
            )
        if value and self.values.get("resource") is None:
            self.add(
                "E138",
                key,
                f"{ref} is set but {self.ref('resource')} is not: no document is served.",
                f"Set {self.ref('resource')} to this resource's URL.",
            )
        unlisted = [e.issuer for e in issuers if e.listed_issuers is None]
        if self.values.get("resource") and unlisted and "authorization_servers" not in value:
            self.warn(
                "W026",
                key,
                f"the metadata document cannot list the issuers of {', '.join(unlisted)} "
                "(a function decides their values), so its authorization_servers leaves "
                "them out.",
                f"List them in {ref}['authorization_servers'].",
            )
        return MappingProxyType(dict(value))

    def check_issuer_level_keys(self) -> None:
        """With ``issuers``, the top level names no issuer and holds no key (id E130)."""
        for key in (*ISSUER_LEVEL, *SIGNING_LEVEL):
            if self.raw.get(key) in (None, False):
                continue
            hint = (
                f"Move it into the entry of {self.ref('issuers')} it belongs to: "
                "each issuer has its own keys."
                if key in ISSUER_LEVEL
                else "jwtgate does not issue tokens of its own next to several issuers; "
                "use separate settings for issuing."
            )
            self.add(
                "E130",
                key,
                f"{self.ref(key)} is set next to {self.ref('issuers')}.",
                hint,
            )

    def check_issuers(self, resource: str | None) -> tuple[IssuerEntry, ...]:
        """``issuers``: one validated :class:`IssuerEntry` per dict (ids E131-E136)."""
        value = self.raw.get("issuers")
        if (
            not isinstance(value, list | tuple)
            or not value
            or not all(isinstance(item, Mapping) for item in value)
        ):
            self.add(
                "E131",
                "issuers",
                f"{self.ref('issuers')} should be a non-empty list of dicts, one per issuer.",
                "Example: [{'issuer': 'https://a.example/', 'jwks_discovery': True}].",
            )
            return ()
        entries: list[IssuerEntry] = []
        for index, item in enumerate(value):
            entry = self.check_entry(index, item, resource)
            if entry is None:
                continue
            if any(e.issuer == entry.issuer for e in entries):
                self.add(
                    "E135",
                    "issuers",
                    f"{self.ref('issuers')}[{index}] repeats the issuer {entry.issuer!r}.",
                    "Keep one entry per issuer; list several audiences in its 'audience'.",
                )
                continue
            entries.append(entry)
        return tuple(entries)

    def check_entry(
        self, index: int, item: Mapping[Any, Any], resource: str | None
    ) -> IssuerEntry | None:
        """One entry of ``issuers``, validated as settings of its own (the keys it does
        not set come from the top level), or None after a problem."""
        where = f"{self.ref('issuers')}[{index}]"
        raw = {k.lower(): v for k, v in item.items() if isinstance(k, str)}
        unknown = sorted(set(raw) - set(ENTRY_KEYS))
        unknown += [repr(k) for k in item if not isinstance(k, str)]
        for key in unknown:
            close = difflib.get_close_matches(key, ENTRY_KEYS, n=1)
            hint = (
                f"Did you mean {close[0]!r}?"
                if close
                else f"An entry sets {', '.join(ENTRY_KEYS)}; the rest is the top level's."
            )
            self.add("E131", "issuers", f"{where} has {key!r}, not a key of an issuer entry.", hint)
        issuer = raw.get("issuer")
        if not isinstance(issuer, str) or not issuer:
            self.add(
                "E131",
                "issuers",
                f"{where} should have an 'issuer': the exact iss of its tokens, or a "
                "template with one {placeholder}.",
            )
            return None
        try:
            shape = split_template(issuer)
        except ValueError:
            self.add(
                "E132",
                "issuers",
                f"{where}['issuer'] = {issuer!r} is not an issuer template: it should have "
                "exactly one {name} placeholder and no other brace.",
                "Example: 'https://login.microsoftonline.com/{tenantid}/v2.0'.",
            )
            return None
        allowed = raw.pop("allowed", None)
        accepted: frozenset[str] | Callable[[str], object] | None = None
        if shape is None and allowed is not None:
            self.add(
                "E133",
                "issuers",
                f"{where} has 'allowed' but its issuer {issuer!r} has no placeholder.",
                "Remove 'allowed', or write the issuer as a template.",
            )
        elif shape is not None:
            accepted = self.check_allowed(where, shape[1], allowed)
            if raw.pop("jwks_discovery", None):
                self.add(
                    "E136",
                    "issuers",
                    f"{where} uses jwks_discovery with an issuer template: there is no one "
                    "discovery document to fetch.",
                    "Give the provider's 'jwks_url' (Entra: "
                    "'https://login.microsoftonline.com/common/discovery/v2.0/keys').",
                )
                return None
            if accepted is None:
                return None
        if not any(raw.get(k) not in (None, False) for k in ENTRY_KEYS[4:9]):
            self.add(
                "E134",
                "issuers",
                f"{where} has no keys, so none of its tokens could be verified.",
                "Give it 'jwks_url', 'jwks_discovery': True, 'jwks', 'public_key' or "
                "'secret': an entry never uses another entry's keys.",
            )
            return None
        if unknown:
            return None
        merged = {k: self.raw[k] for k in INHERITED if k in self.raw}
        merged.update(raw)
        if resource is not None:
            merged["resource"] = resource
        values, problems, warnings = self.validate_entry(merged, where)
        for problem in problems:
            key = f"ISSUERS[{index}].{problem.key}"
            self.problems.append(dataclasses.replace(problem, key=key))
        for warning in warnings:  # an inherited audience was judged at the top level
            if warning.id != "jwtgate.W025" or "audience" in raw:
                self.warnings.append(
                    dataclasses.replace(warning, key=f"ISSUERS[{index}].{warning.key}")
                )
        if problems or self.make is None:  # no Settings class: checked, not built
            return None
        prefix, placeholder, suffix = shape if shape is not None else ("", None, "")
        return IssuerEntry(issuer, self.make(**values), placeholder, prefix, suffix, accepted)

    def check_allowed(
        self, where: str, placeholder: str, allowed: object
    ) -> frozenset[str] | Callable[[str], object] | None:
        """The values a template's placeholder may take: a list, or a function (id E133)."""
        if isinstance(allowed, str):
            return self.check_function("issuers", "(value) -> bool", allowed)
        if callable(allowed):
            return cast("Callable[[str], object]", allowed)
        if (
            isinstance(allowed, list | tuple | set | frozenset)
            and allowed
            and all(isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9._~-]+", v) for v in allowed)
        ):
            return frozenset(allowed)
        self.add(
            "E133",
            "issuers",
            f"{where} needs 'allowed': the values its {{{placeholder}}} may take, as a "
            "non-empty list (letters, digits, '-', '.', '_', '~'), or a function "
            "(value) -> bool.",
            "Without it any tenant's tokens would pass. Example: 'allowed': "
            "['9188040d-6c67-4c5b-b112-36a304b66dad'].",
        )
        return None
