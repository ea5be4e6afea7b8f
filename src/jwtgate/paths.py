"""Path patterns for ``public_paths`` and ``rules``, compiled once at startup.

A pattern is a glob matched against the whole request path (``/health``,
``/public/*``, ``/items/?``; ``*`` also crosses ``/``), or a regular expression
after ``re:`` (``re:^/v[0-9]+/status$``), searched with ``re.search``.

The path is the one the router will route: ASGI ``path`` without ``root_path``,
WSGI ``PATH_INFO``. Before any pattern sees it, :func:`is_canonical` decides
whether it is safe to match at all: routers and proxies normalise dot segments
(``/admin/./x``), empty segments (``//admin``), backslashes and encoded
separators (``%2e``, ``%2f``) in different ways, so a path written that way could
be routed to a handler whose rule never saw it. The :class:`~jwtgate.Gate`
refuses such a path (400 ``invalid_request``) whenever public paths or rules are
configured, the way Spring Security's ``StrictHttpFirewall`` does.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

__all__ = ["PathMatcher", "compile_patterns", "is_canonical", "other_slash_form"]

# Decoded path: a "." or ".." segment, an empty segment, a backslash, a ";" (path
# parameters: Tomcat and Jetty strip them before routing, others keep them), or an
# ASCII control character.
_NON_CANONICAL = re.compile(r"(?:^|/)\.{1,2}(?:/|$)|//|[\\;\x00-\x1f\x7f]")
# Raw request target: an encoded ".", "/", "%", "\\", ";" or NUL, which a proxy or
# a second decoding pass could turn into one of the above.
_ENCODED = re.compile(r"%(?:2[eEfF5]|5[cC]|3[bB]|00)")


def is_canonical(path: str, raw_path: str | None = None) -> bool:
    """Whether ``path`` (decoded) and ``raw_path`` (as sent, if known) are safe to match.

    Canonical means: starts with ``/``; no ``.`` or ``..`` segment, no empty
    segment, no backslash, ``;`` or control character; and nothing of that kind
    percent-encoded in the raw target (``%2e``, ``%2f``, ``%5c``, ``%3b``, ``%00``,
    ``%25``, in either case).
    """
    if not path.startswith("/") or _NON_CANONICAL.search(path) is not None:
        return False
    return raw_path is None or _ENCODED.search(raw_path) is None


def other_slash_form(path: str) -> str:
    """``path`` with one trailing slash removed, or added when it has none.

    Routers treat ``/reports`` and ``/reports/`` as one route (Django's
    ``APPEND_SLASH``, Werkzeug's ``strict_slashes``, Starlette's
    ``redirect_slashes``), so a scope rule covers both forms.
    """
    if path.endswith("/"):
        return path[:-1] if len(path) > 1 else path
    return path + "/"


class PathMatcher:
    """Matches request paths against a set of patterns with one precompiled regex."""

    __slots__ = ("_regex", "patterns")

    def __init__(self, patterns: Iterable[str], regex: re.Pattern[str] | None = None) -> None:
        self.patterns = tuple(patterns)
        self._regex = regex

    def match(self, path: str) -> bool:
        """Whether ``path`` matches any pattern (check :func:`is_canonical` first)."""
        return self._regex is not None and self._regex.search(path) is not None

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def __repr__(self) -> str:
        return f"PathMatcher({list(self.patterns)!r})"


def compile_patterns(patterns: Iterable[str]) -> PathMatcher:
    """Compile patterns into one matcher; raise ``ValueError`` naming a bad one."""
    patterns = tuple(patterns)
    parts = []
    for pattern in patterns:
        if pattern.startswith("re:"):
            try:
                re.compile(pattern[3:])
            except re.error as exc:
                raise ValueError(f"{pattern!r}: {exc}") from exc
            parts.append(f"(?:{pattern[3:]})")
        else:
            if not pattern.startswith("/") and not pattern.startswith("*"):
                raise ValueError(f"{pattern!r} should start with '/'")
            parts.append(f"(?:\\A{fnmatch.translate(pattern)})")
    if not parts:
        return PathMatcher(())
    return PathMatcher(patterns, re.compile("|".join(parts)))
