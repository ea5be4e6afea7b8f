"""Who a request is: the :class:`Identity` every adapter hands to the app."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["ANONYMOUS", "Credentials", "Identity", "parse_scopes"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Credentials:
    """What ASGI adapters put in ``scope["auth"]``: Starlette-compatible ``.scopes``.

    Immutable, so one object serves every request of an identity (its
    ``credentials`` attribute): ``.scopes`` returns a new sorted list on each
    read, as Starlette's ``AuthCredentials.scopes`` is a list, and changing that
    list changes nothing for later reads or other requests.
    """

    __slots__ = ("_scopes",)

    def __init__(self, scopes: Iterable[str] = ()) -> None:
        self._scopes = tuple(sorted(scopes))

    @property
    def scopes(self) -> list[str]:
        """The scopes, sorted (a new list each time)."""
        return list(self._scopes)

    def __repr__(self) -> str:
        return f"Credentials(scopes={self.scopes!r})"


class Identity:
    """The verified subject of a request, or the anonymous identity.

    It has the shape of Starlette's ``BaseUser`` (``is_authenticated``,
    ``display_name``, ``identity``), so ``request.user`` works unchanged there.
    ``claims`` is a read-only view of the token's payload; ``header`` of its
    JOSE header.
    """

    __slots__ = ("claims", "credentials", "header", "scopes", "subject", "token")

    def __init__(
        self,
        subject: str | None,
        claims: Mapping[str, Any] = _EMPTY,
        scopes: Iterable[str] = (),
        token: str | None = None,
        header: Mapping[str, Any] = _EMPTY,
    ) -> None:
        self.subject = subject
        self.claims: Mapping[str, Any] = (
            claims if isinstance(claims, MappingProxyType) else MappingProxyType(dict(claims))
        )
        self.scopes: frozenset[str] = frozenset(scopes)
        # Built once here, not per request: ASGI adapters hand it out as scope["auth"].
        self.credentials = Credentials(self.scopes)
        self.token = token
        self.header: Mapping[str, Any] = (
            header if isinstance(header, MappingProxyType) else MappingProxyType(dict(header))
        )

    @property
    def is_authenticated(self) -> bool:
        """True for a verified token; False for the anonymous identity."""
        return self.subject is not None

    @property
    def display_name(self) -> str:
        """The subject, or an empty string when anonymous (Starlette's ``BaseUser``)."""
        return self.subject or ""

    @property
    def identity(self) -> str:
        """The subject, or an empty string when anonymous (Starlette's ``BaseUser``)."""
        return self.subject or ""

    def has_scopes(self, *required: str) -> bool:
        """Whether every one of ``required`` is among this identity's scopes."""
        return self.scopes.issuperset(required)

    def __repr__(self) -> str:
        if not self.is_authenticated:
            return "Identity(anonymous)"
        return f"Identity(subject={self.subject!r}, scopes={sorted(self.scopes)!r})"

    def __bool__(self) -> bool:
        return self.is_authenticated


ANONYMOUS = Identity(None)


def parse_scopes(value: object) -> frozenset[str] | None:
    """Scopes from a claim: a space-delimited string (RFC 8693) or a list of strings.

    Returns None when the value has neither shape.
    """
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    return None
