"""Rules: a path pattern, optional methods, and the scopes and login age a request there needs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .paths import PathMatcher, other_slash_form

__all__ = ["HTTP_METHODS", "Rule", "rule_methods"]

# Methods a rule may name: RFC 9110 §9, PATCH (RFC 5789) and WebDAV's (RFC 4918). A
# misspelt method ("PSOT") would make a rule that never applies.
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
    | {"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH"}
)


@dataclass(frozen=True)
class Rule:
    """A requirement: requests matching ``path`` (and ``methods``) need all ``scopes``,
    and, with ``max_age``, a login (``auth_time``) at most that many seconds old.

    ``methods`` are upper-case, and hold ``HEAD`` whenever they hold ``GET``
    (frameworks answer HEAD with the GET handler).
    """

    path: str
    scopes: frozenset[str]
    methods: frozenset[str] | None = None
    matcher: PathMatcher = field(repr=False, compare=False, default_factory=lambda: PathMatcher(()))
    max_age: int | None = None

    def applies(self, method: str, path: str) -> bool:
        """Whether this rule covers a request with this (upper-case) method and canonical path.

        One trailing slash makes no difference: routers treat ``/x`` and ``/x/`` as
        one route, so ``/admin/*`` also covers ``/admin``.
        """
        if self.methods is not None and method not in self.methods:
            return False
        return self.matcher.match(path) or self.matcher.match(other_slash_form(path))


def rule_methods(methods: Iterable[str]) -> frozenset[str]:
    upper = {m.upper() for m in methods}
    if "GET" in upper:
        upper.add("HEAD")  # HEAD runs the GET handler in every framework
    return frozenset(upper)
