"""Any string as a key of a store whose text columns have limits.

Subjects come from whoever issues the tokens, and token ids too: any string of any
length. PostgreSQL's ``text`` cannot hold NUL (nor a lone surrogate, which is no
UTF-8) and a btree index entry holds about 2.7 KB; the Django store's columns hold
255 characters, and MySQL and MariaDB compare ``alice `` equal to ``alice`` (their
``utf8mb4_bin`` collation ignores trailing spaces). Those stores keep a value that
does not fit, or ends in a space, as a fixed-length digest, so every value works
there as on the other stores, instead of failing as if the store were down (which
would also open its circuit breaker for everyone) or standing for another value.

A value kept as a digest reads back as the digest (``session_subject``), marked as
:class:`Stored` so that it is kept as it is when it comes back: such a session can
still be revoked by its id. Every plain string beginning with ``\\x01`` (the mark
before a digest) is itself kept as a digest, so no value given from outside, not
even one spelling a digest, can stand for another.
"""

from __future__ import annotations

import hashlib

__all__ = ["MARK", "Stored", "as_read_back", "storable"]

MARK = "\x01sha256:"


class Stored(str):
    """A value read back from a store as the store keeps it (possibly a digest)."""

    __slots__ = ()


def storable(value: str, limit: int = 255) -> str:
    """``value`` itself when a limited text column holds it as itself, else its digest."""
    if type(value) is Stored:
        return str(value)  # as the store keeps it already
    if (
        len(value) <= limit
        and "\x00" not in value
        and not value.startswith("\x01")
        and not value.endswith(" ")
    ):
        if value.isascii():
            return value
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            pass
        else:
            return value
    return MARK + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def as_read_back(value: str) -> str:
    """``value`` marked :class:`Stored` when it spells a digest: for an operator who
    pastes an id that ``jwtgate sessions list`` showed (never for request input)."""
    digest = value.removeprefix(MARK)
    if len(value) == len(MARK) + 64 and digest != value and all(c in _HEX for c in digest):
        return Stored(value)
    return value


_HEX = frozenset("0123456789abcdef")
