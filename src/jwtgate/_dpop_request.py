"""What DPoP needs of a request, read from an ASGI scope or a WSGI environ: every
``DPoP`` header value and the URL the server was addressed by.

The URL is the server's view: ``scheme`` and the ``Host`` header (ASGI), or
``wsgi.url_scheme`` and ``HTTP_HOST`` (WSGI), which a proxy-headers layer
(uvicorn's ``--proxy-headers``, Werkzeug's ``ProxyFix``) has already set from the
proxy's ``X-Forwarded-*`` headers. With the ``resource`` setting, its origin
replaces the request's (the Gate does that: see ``jwtgate._dpop_gate``).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any
from urllib.parse import quote

from ._request import DPoPFields

__all__ = ["asgi_dpop", "wsgi_dpop"]


def _path_of(raw: str | None, decoded: str) -> str:
    if raw:
        return raw.partition("?")[0]
    return quote(decoded, safe="/!$&'()*+,;=:@~-._%")


def asgi_dpop(scope: MutableMapping[str, Any]) -> DPoPFields:
    """The ``DPoP`` values and the request URL of an ``http`` or ``websocket`` scope."""
    proofs: tuple[str, ...] = ()
    host: str | None = None
    for name, value in scope.get("headers", ()):
        if name == b"dpop":
            proofs += (value.decode("latin-1"),)
        elif name == b"host" and host is None:
            host = value.decode("latin-1")
    if host is None:
        server = scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else "localhost"
    scheme = scope.get("scheme") or ("ws" if scope.get("type") == "websocket" else "http")
    raw = scope.get("raw_path")
    path = _path_of(raw.decode("latin-1") if raw else None, scope.get("path", "/"))
    return proofs, f"{scheme}://{host}{path}"


def wsgi_dpop(environ: Mapping[str, Any]) -> DPoPFields:
    """The ``DPoP`` values and the request URL of a WSGI environ (or Django's ``META``).

    A server joins repeated headers with ``,``, which no compact JWT holds: two
    proofs stay two.
    """
    value = environ.get("HTTP_DPOP")
    proofs = () if value is None else tuple(value.split(","))
    host = environ.get("HTTP_HOST")
    if not host:
        host = f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    scheme = environ.get("wsgi.url_scheme", "http")
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    decoded = environ.get("SCRIPT_NAME", "") + (environ.get("PATH_INFO") or "/")
    if not decoded.isascii():  # PEP 3333: the bytes as latin-1
        decoded = decoded.encode("latin-1").decode("utf-8", "replace")
    return proofs, f"{scheme}://{host}{_path_of(raw, decoded)}"
