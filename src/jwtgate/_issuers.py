"""Several issuers: the entries of the ``issuers`` setting and the choice among them.

Each :class:`IssuerEntry` is one provider: its issuer (exact, or a template with one
``{placeholder}`` whose values an allow-list or a function accepts, as Microsoft
Entra's ``https://login.microsoftonline.com/{tenantid}/v2.0``) and its own validated
:class:`~jwtgate.Settings` (keys, audience, algorithms, claims). An
:class:`IssuerTable` picks the entry of a token by its ``iss`` claim, read before
the signature is checked and before any key is asked for: an issuer no entry
accepts is refused without network I/O, and a token whose ``iss`` names provider B
is only ever checked against B's keys, so A's key cannot vouch for it.

``typ`` comparison for ``require_typ`` (:func:`normal_typ`) lives here too.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import UnknownIssuer

if TYPE_CHECKING:
    from .config import Settings

__all__ = ["PLACEHOLDER", "IssuerEntry", "IssuerTable", "normal_typ", "split_template"]

# One ``{name}`` in an issuer template.
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# What a placeholder's value may be: RFC 3986 unreserved characters, so a value can
# never add a path segment, a query, a fragment, user info or a port.
_VALUE = re.compile(r"[A-Za-z0-9._~-]+")

logger = logging.getLogger("jwtgate")
WARN_EVERY = 10.0
_last_warning = [-WARN_EVERY]


def _warn_raised(template: str) -> None:
    now = time.monotonic()
    if now - _last_warning[0] >= WARN_EVERY:
        _last_warning[0] = now
        logger.warning(
            "jwtgate: the allowed function of the issuer template %r raised; the token is "
            "refused as an unknown issuer's",
            template,
            exc_info=True,
        )


def split_template(issuer: str) -> tuple[str, str, str] | None:
    """``(prefix, placeholder, suffix)`` of an issuer with exactly one ``{name}`` and no
    other brace, or None when ``issuer`` has no brace at all.

    Raises ValueError for any other use of braces (two placeholders, an empty one, a
    stray brace).
    """
    if "{" not in issuer and "}" not in issuer:
        return None
    found = PLACEHOLDER.findall(issuer)
    match = PLACEHOLDER.search(issuer)
    if len(found) != 1 or match is None:
        raise ValueError("an issuer template has exactly one {placeholder}")
    prefix, suffix = issuer[: match.start()], issuer[match.end() :]
    if any(c in prefix + suffix for c in "{}"):
        raise ValueError("an issuer template has exactly one {placeholder}")
    return prefix, match.group(1), suffix


def normal_typ(value: str) -> str:
    """A ``typ`` value as compared: lower-cased, ``application/`` dropped when what
    follows has no ``/`` (RFC 7515 §4.1.9: ``at+jwt`` means ``application/at+jwt``;
    RFC 8725 §3.11 and RFC 9068 §4: compared case-insensitively)."""
    lowered = value.lower()
    rest = lowered.removeprefix("application/")
    return rest if "/" not in rest else lowered


@dataclass(frozen=True)
class IssuerEntry:
    """One issuer of the ``issuers`` setting, validated.

    ``issuer`` as configured; for a template, ``prefix``/``placeholder``/``suffix``
    and ``allowed`` (a set of values, or a function of the value). ``settings`` are
    the entry's own (keys, audience, algorithms, claim mapping), with everything it
    does not set taken from the top-level settings.
    """

    issuer: str
    settings: Settings = field(repr=False)
    placeholder: str | None = None
    prefix: str = ""
    suffix: str = ""
    allowed: frozenset[str] | Callable[[str], object] | None = field(default=None, repr=False)

    def value_in(self, iss: str) -> str | None:
        """The placeholder's value if ``iss`` has this template's shape, else None."""
        if len(iss) <= len(self.prefix) + len(self.suffix) or not (
            iss.startswith(self.prefix) and iss.endswith(self.suffix)
        ):
            return None
        value = iss[len(self.prefix) : len(iss) - len(self.suffix)]
        return value if _VALUE.fullmatch(value) else None

    def allows(self, value: str) -> bool:
        """Whether the placeholder may take ``value`` (its allow-list or function).

        A function that raises refuses the value (the token is then an unknown
        issuer's, 401), and the error is logged, at most every :data:`WARN_EVERY`
        seconds: the value comes from the token, so whoever sends tokens could
        otherwise fill the log.
        """
        if isinstance(self.allowed, frozenset):
            return value in self.allowed
        if self.allowed is None:
            return False
        try:
            return bool(self.allowed(value))
        except Exception:  # noqa: BLE001 - the app's function: any failure refuses
            _warn_raised(self.issuer)
            return False

    @property
    def listed_issuers(self) -> tuple[str, ...] | None:
        """Every issuer this entry accepts, when they can be listed (an exact issuer, or
        a template with an allow-list), else None (a template with a function)."""
        if self.placeholder is None:
            return (self.issuer,)
        if isinstance(self.allowed, frozenset):
            return tuple(self.prefix + value + self.suffix for value in sorted(self.allowed))
        return None


class IssuerTable:
    """Chooses the entry of a token's ``iss``: exact issuers first, then templates in
    the order configured. Never does I/O."""

    def __init__(self, entries: Iterable[IssuerEntry]) -> None:
        entries = tuple(entries)
        self.entries = entries
        self._exact = {e.issuer: e for e in entries if e.placeholder is None}
        self._templates = tuple(e for e in entries if e.placeholder is not None)

    def choose(self, iss: str) -> IssuerEntry:
        """The entry accepting ``iss``; raise :class:`~jwtgate.errors.UnknownIssuer`."""
        entry = self._exact.get(iss)
        if entry is not None:
            return entry
        for template in self._templates:
            value = template.value_in(iss)
            if value is not None and template.allows(value):
                return template
        raise UnknownIssuer()

    def shaped_like(self, iss: str) -> IssuerEntry | None:
        """The first template ``iss`` has the shape of, whether or not its value is
        allowed (the CLI says which template refused it)."""
        return next((t for t in self._templates if t.value_in(iss) is not None), None)
