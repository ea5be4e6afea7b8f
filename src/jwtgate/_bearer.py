"""Pure parsing of where a token can come from: header, cookie, query (no I/O)."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from urllib.parse import unquote_plus

from .errors import InvalidRequest, TokenTooLarge

# RFC 9110 token (an auth-scheme) and RFC 7235 token68 (the credentials).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*\Z")


def from_header(values: Sequence[str], scheme: str, max_bytes: int) -> str | None:
    """The token in an ``Authorization: <scheme> <token>`` header, or None if absent.

    A header of another scheme (``Basic …``) is not ours: None. Two headers, a
    missing token, or credentials that are not token68 are an ``InvalidRequest``.
    """
    if not values:
        return None
    if len(values) > 1:
        raise InvalidRequest("more than one authorization header")
    value = values[0]
    # Fast path, the usual shape: "<scheme> <token68>" exactly, nothing around it.
    if value.startswith(scheme) and value[len(scheme) : len(scheme) + 1] == " ":
        credentials = value[len(scheme) + 1 :]
        if len(credentials) <= max_bytes and _TOKEN68.match(credentials):
            return credentials
    value = value.strip(" \t")
    found_scheme, _, credentials = value.partition(" ")
    if not found_scheme or not _TOKEN.match(found_scheme):
        raise InvalidRequest("malformed authorization header")
    # RFC 7235 §2.1: the scheme is case-insensitive.
    if found_scheme.lower() != scheme.lower():
        return None
    credentials = credentials.strip(" \t")
    if not credentials:
        raise InvalidRequest("missing token")
    if len(credentials) > max_bytes:
        raise TokenTooLarge()
    if not _TOKEN68.match(credentials):
        raise InvalidRequest("malformed authorization header")
    return credentials


@functools.lru_cache(maxsize=8)
def _cookie_pair(name: str) -> re.Pattern[str]:
    # The first "name=value" pair, found in one scan however many cookies there are.
    # "," separates too: servers join repeated Cookie lines (HTTP/2 sends one per
    # cookie) with it, and RFC 6265 §4.1.1 keeps commas out of cookie values.
    return re.compile(r"(?:\A|[;,])[ \t]*" + re.escape(name) + r"[ \t]*=([^;,]*)")


def from_cookie(cookie_header: str | None, name: str, max_bytes: int) -> str | None:
    """The value of cookie ``name`` (the first one, as RFC 6265 orders them), or None."""
    if not cookie_header or name not in cookie_header:
        return None
    match = _cookie_pair(name).search(cookie_header)
    if match is None:
        return None
    value = match.group(1).strip(" \t")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if len(value) > max_bytes:
        raise TokenTooLarge()
    return value or None


@functools.lru_cache(maxsize=8)
def _query_key(name: str) -> re.Pattern[str]:
    """A pattern for the query parameters whose name ``unquote_plus`` turns into ``name``.

    ``name`` is an RFC 9110 token (settings validate it). Each of its characters
    may come as itself or percent-encoded (hex in either case); a ``+`` only as
    ``%2B`` (a literal ``+`` decodes to a space), and a ``%`` as ``%25`` or alone.
    Matching in one regular-expression scan, instead of decoding every key in
    Python, keeps a query of thousands of parameters cheap (issue #8).
    """
    parts = []
    for char in name:
        encoded = "%" + "".join(f"[{d}{d.lower()}]" for d in f"{ord(char):02X}")
        if char == "+":
            parts.append(encoded)
        elif char == "%":
            parts.append(f"(?:{encoded}|%(?![0-9A-Fa-f]{{2}}))")
        else:
            parts.append(f"(?:{re.escape(char)}|{encoded})")
    return re.compile(r"(?:\A|(?<=&))" + "".join(parts) + r"(?:=([^&]*))?(?=&|\Z)")


def from_query(query_string: str, name: str, max_bytes: int) -> str | None:
    """The value of query parameter ``name``; two of them are an ``InvalidRequest``."""
    # The shortcut must not skip a percent-encoded name ("access%5Ftoken"): the
    # app's own parser decodes it, so it is the same parameter.
    if not query_string or (name not in query_string and "%" not in query_string):
        return None
    found: str | None = None
    for match in _query_key(name).finditer(query_string):
        if found is not None:
            raise InvalidRequest("more than one token in the query")
        value = match.group(1) or ""
        if len(value) > 3 * max_bytes:
            raise TokenTooLarge()
        found = unquote_plus(value)
        if len(found) > max_bytes:
            raise TokenTooLarge()
    if found == "":  # "?access_token=": a token was sent, and it is empty
        raise InvalidRequest("missing token")
    return found
