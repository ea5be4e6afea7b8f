"""A request as the Gate reads it: plain strings in a fixed order (no I/O, no framework)."""

from __future__ import annotations

from typing import Final, NamedTuple

__all__ = ["DPOP", "DPoPFields", "RequestFields", "RequestInfo"]


class RequestInfo(NamedTuple):
    """What the Gate needs from a request, in plain strings (an immutable value).

    ``method`` as sent (the Gate upper-cases it, as Django and Werkzeug do before
    routing); ``path`` the decoded path the router will route (ASGI ``path`` without
    ``root_path``, WSGI ``PATH_INFO``); ``authorization`` every value of the
    configured token header (so two headers can be refused); ``cookie`` the Cookie
    header; ``query_string`` the raw query; ``preflight`` whether the request
    carries ``Origin`` and ``Access-Control-Request-Method`` (a CORS preflight when
    the method is ``OPTIONS``); ``raw_path`` the path as sent, percent-encoding
    intact, when the server says (ASGI ``raw_path``, WSGI ``RAW_URI`` /
    ``REQUEST_URI``); ``dpop`` every ``DPoP`` header value and the request's URL
    (only when DPoP is on, else None). A named tuple: built once per request, and the cheapest
    immutable record Python has.
    """

    method: str
    path: str
    authorization: tuple[str, ...] = ()
    cookie: str | None = None
    query_string: str = ""
    preflight: bool = False
    raw_path: str | None = None
    dpop: DPoPFields | None = None


DPoPFields = tuple[tuple[str, ...], str]
"""What DPoP needs of a request: every ``DPoP`` header value, and the request's URL
as the client addressed it (scheme, host, path)."""

RequestFields = tuple[
    str, str, tuple[str, ...], "str | None", str, bool, "str | None", "DPoPFields | None"
]
"""A request as the Gate reads it: :class:`RequestInfo`'s eight fields, in its order.

A :class:`RequestInfo` is one; jwtgate's own readers (``jwtgate.asgi.read_request``,
``jwtgate.wsgi.read_request``) build the plain tuple, which costs a third of the
named one on a path every request takes (``RequestInfo._make(fields)`` names them).
"""

# Field positions (Final, so type checkers know each field's type).
METHOD: Final = 0
PATH: Final = 1
AUTHORIZATION: Final = 2
COOKIE: Final = 3
QUERY_STRING: Final = 4
PREFLIGHT: Final = 5
RAW_PATH: Final = 6
DPOP: Final = 7
