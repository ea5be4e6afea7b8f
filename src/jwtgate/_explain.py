"""Why an issuer or ``typ`` rule refused a token, in words, for ``jwtgate verify``.

The refusal a client gets stays a fixed phrase ("unknown issuer", "token type not
accepted"); the operator who runs the CLI holds the token, so the explanation may
quote its unverified ``iss`` and ``typ`` and name the rule that refused them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._issuers import IssuerTable
from .config import Settings
from .errors import DisallowedTokenType, InvalidIssuer, RequestError

__all__ = ["explain_issuer"]


def explain_issuer(
    error: RequestError, header: Mapping[str, Any], payload: Mapping[str, Any], settings: Settings
) -> str:
    """A line saying which issuer or ``typ`` rule refused the token, or "" for any other
    refusal."""
    iss = payload.get("iss")
    if isinstance(error, DisallowedTokenType):
        judge = settings
        if settings.issuers and isinstance(iss, str):
            judge = IssuerTable(settings.issuers).choose(iss).settings
        typ = header.get("typ")
        shown = "no typ header" if typ is None else f"typ {typ!r}"
        accepted = ", ".join(judge.require_typ)
        return f"{shown}; REQUIRE_TYP accepts {accepted} (compared case-insensitively)"
    if not isinstance(error, InvalidIssuer):
        return ""
    if not settings.issuers:
        return f"iss {iss!r}; ISSUER accepts {', '.join(map(repr, settings.issuer or ()))}"
    template = IssuerTable(settings.issuers).shaped_like(iss) if isinstance(iss, str) else None
    if template is not None:
        value = template.value_in(str(iss))
        return (
            f"iss {iss!r} has the shape of the issuer template {template.issuer!r}, but "
            f"{{{template.placeholder}}} = {value!r} is not in its 'allowed' values"
        )
    known = ", ".join(repr(e.issuer) for e in settings.issuers)
    return f"iss {iss!r} is no issuer of ISSUERS ({known}); no key was fetched"
