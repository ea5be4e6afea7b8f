"""Any string as a key of a store whose text columns have limits.

Subjects come from whoever issues the tokens, and token ids too: any string of any
length. PostgreSQL's ``text`` cannot hold NUL (nor a lone surrogate, which is no
UTF-8) and a btree index entry holds about 2.7 KB; the Django store's columns hold
255 characters, and MySQL and MariaDB compare ``alice `` equal to ``alice`` (their
``utf8mb4_bin`` collation ignores trailing spaces). Those stores keep a value that
does not fit, or ends in a space, as a fixed-length digest, so every value works
there as on the other stores, instead of failing as if the store were down (which
would also open its circuit breaker for everyone) or standing for another value.

A value kept as a digest reads back as the digest (:meth:`session_subject`), and
the digest is kept as it is when it comes back, so such a session can still be
revoked by its id. The mark ``\\x01`` before a digest keeps digests apart from
every value kept as itself: no such value begins with a control character.
"""

from __future__ import annotations

import hashlib

__all__ = ["MARK", "storable"]

MARK = "\x01sha256:"
_DIGEST_LENGTH = len(MARK) + 64


def storable(value: str, limit: int = 255) -> str:
    """``value`` itself when a limited text column holds it as itself, else its digest."""
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
    elif len(value) == _DIGEST_LENGTH and value.startswith(MARK):
        return value  # a digest read back (session_subject), on its way in again
    return MARK + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
