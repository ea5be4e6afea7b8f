"""Who a request is: the :class:`Identity` every adapter hands to the app.

An identity is immutable all the way down, because one instance serves every
request of its token (the verified-token cache) and :data:`ANONYMOUS` serves every
anonymous request: a change made while handling one request must never show up
in another. ``claims`` and ``header`` are :class:`FrozenDict` and the JSON arrays
inside them :class:`FrozenList`: subclasses of ``dict`` and ``list`` that refuse
every change with ``TypeError``, so they still compare equal to plain dicts and
lists (``claims["roles"] == ["admin"]``), pass ``isinstance(x, dict)`` checks and
serialise with ``json.dumps``. ``dict(claims)`` or ``copy.deepcopy(claims)`` gives
a mutable copy.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

__all__ = ["ANONYMOUS", "Credentials", "FrozenDict", "FrozenList", "Identity", "parse_scopes"]


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(f"{type(self).__name__} is read-only; copy it to change it")


class FrozenDict(dict[str, Any]):
    """A ``dict`` that refuses every change (``TypeError``); compares like a dict.

    ``copy.copy`` and ``copy.deepcopy`` return plain, mutable dicts.
    """

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {key: copy.deepcopy(value, memo) for key, value in self.items()}

    def __reduce__(self) -> tuple[type[FrozenDict], tuple[dict[str, Any]]]:
        return FrozenDict, (dict(self),)


class FrozenList(list[Any]):
    """A ``list`` that refuses every change (``TypeError``); compares like a list.

    ``copy.copy`` and ``copy.deepcopy`` return plain, mutable lists.
    """

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = clear = extend = insert = pop = remove = reverse = sort = _refuse

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(value, memo) for value in self]

    def __reduce__(self) -> tuple[type[FrozenList], tuple[list[Any]]]:
        return FrozenList, (list(self),)


_CONTAINERS = (dict, list, tuple)  # a tuple: isinstance with X | Y is several times slower


def freeze(value: Any) -> Any:
    """``value`` with every dict and list in it replaced by a read-only twin (JSON shapes).

    Iterative, not recursive: a token may nest arrays a thousand deep within its
    size limit, and that must not exhaust the interpreter's stack.
    """
    if not isinstance(value, _CONTAINERS):
        return value
    frozen: dict[int, Any] = {}
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in frozen:
            continue
        if not children_done:
            stack.append((node, True))
            children = node.values() if isinstance(node, dict) else node
            stack.extend((c, False) for c in children if isinstance(c, _CONTAINERS))
        elif isinstance(node, dict):
            frozen[id(node)] = FrozenDict({k: frozen.get(id(v), v) for k, v in node.items()})
        else:
            frozen[id(node)] = FrozenList([frozen.get(id(v), v) for v in node])
    return frozen[id(value)]


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _frozen_mapping(value: Mapping[str, Any]) -> FrozenDict:
    for item in value.values():
        if type(item) not in _SCALARS:
            nested: FrozenDict = freeze(dict(value))
            return nested
    # The usual claims are flat: one copy suffices, and a read-only one needs none.
    return value if type(value) is FrozenDict else FrozenDict(value)


_EMPTY = FrozenDict()


_AUTHENTICATED = frozenset({"authenticated"})


class Credentials:
    """What ASGI adapters put in ``scope["auth"]``: Starlette-compatible ``.scopes``.

    Immutable, so one object serves every request of an identity (its
    ``credentials`` attribute): ``.scopes`` returns a new sorted list on each
    read, as Starlette's ``AuthCredentials.scopes`` is a list, and changing that
    list changes nothing for later reads or other requests.
    """

    __slots__ = ("_scopes",)
    _scopes: tuple[str, ...]

    def __init__(self, scopes: Iterable[str] = ()) -> None:
        object.__setattr__(self, "_scopes", tuple(sorted(scopes)))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"Credentials are immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"Credentials are immutable (cannot delete {name!r})")

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
    ``claims`` is a deeply read-only copy of the token's payload (:class:`FrozenDict`
    and :class:`FrozenList`); ``header`` of its JOSE header; ``scopes`` a frozenset.
    No attribute can be set or deleted (``AttributeError``), so one instance is
    safely shared by every request of its token.
    """

    __slots__ = ("claims", "credentials", "header", "scopes", "subject", "token")
    subject: str | None
    claims: FrozenDict
    scopes: frozenset[str]
    credentials: Credentials
    token: str | None
    header: FrozenDict

    def __init__(
        self,
        subject: str | None,
        claims: Mapping[str, Any] = _EMPTY,
        scopes: Iterable[str] = (),
        token: str | None = None,
        header: Mapping[str, Any] = _EMPTY,
    ) -> None:
        init = object.__setattr__
        init(self, "subject", subject)
        init(self, "claims", _frozen_mapping(claims))
        init(self, "scopes", frozenset(scopes))
        # Built once here, not per request: ASGI adapters hand it out as scope["auth"].
        # Starlette's convention: an authenticated request holds the "authenticated"
        # scope, so @requires("authenticated") works (it is not a token scope: rules
        # and has_scopes() never see it).
        granted = self.scopes | _AUTHENTICATED if subject is not None else self.scopes
        init(self, "credentials", Credentials(granted))
        init(self, "token", token)
        init(self, "header", _frozen_mapping(header))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"Identity is immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"Identity is immutable (cannot delete {name!r})")

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
