"""Path patterns for ``public_paths`` and ``rules``, compiled once at startup.

A pattern is a glob matched against the whole request path (``/health``,
``/public/*``, ``/items/?``; ``*`` also crosses ``/``), or a regular expression
after ``re:`` (``re:^/v[0-9]+/status$``), searched with ``re.search``.

Paths with dot segments (``/public/../admin``) or empty segments (``//``) never
match: a proxy or router might normalise them into a protected path after
jwtgate has let them through as public.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

__all__ = ["PathMatcher", "compile_patterns"]

_UNSAFE = re.compile(r"(^|/)\.{1,2}(/|$)|//|\\")


class PathMatcher:
    """Matches request paths against a set of patterns with one precompiled regex."""

    __slots__ = ("_regex", "patterns")

    def __init__(self, patterns: Iterable[str], regex: re.Pattern[str] | None = None) -> None:
        self.patterns = tuple(patterns)
        self._regex = regex

    def match(self, path: str) -> bool:
        """Whether ``path`` matches any pattern (never for paths with dot or empty segments)."""
        if self._regex is None or _UNSAFE.search(path):
            return False
        return self._regex.search(path) is not None

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
