"""WSGI middleware: JWT bearer authentication in front of any PEP 3333 app.

``JWTGateMiddleware(app, settings=...)`` asks the shared :class:`~jwtgate.Gate`
about every request, the same decision the ASGI middleware makes: same token
sources, public paths, CORS preflight, optional credentials, scope rules and
RFC 6750 answers. Then either

* the request is let through, with the :class:`~jwtgate.Identity` in
  ``environ["jwtgate.identity"]`` (the anonymous identity on public paths, for a
  forwarded preflight, or without a token when ``credentials_required`` is off) and, when
  ``set_remote_user`` is on, the subject in ``environ["REMOTE_USER"]``; or
* it is refused with ``start_response("401 Unauthorized", ...)`` (or 400, 403,
  503), the ``WWW-Authenticate`` challenge and a small JSON body, and the wrapped
  app is never called.

Placement: wrap the app as late as possible (outermost), but inside anything
that answers CORS preflights, and inside a proxy-fix middleware if there is one.
The path the rules and ``public_paths`` see is ``PATH_INFO``: the path the wrapped
app routes on, without ``SCRIPT_NAME``. Methods are compared upper-cased, HEAD is
covered by a rule for GET, a non-canonical path is refused with 400 whenever paths
are configured, and a CORS preflight is answered by jwtgate (204, the app never
runs) unless ``cors_preflight`` is ``"forward"`` (docs/security.md).

Security: ``environ["jwtgate.identity"]`` is always replaced, so nothing a
server or an outer middleware left there reaches the app; with
``set_remote_user`` on, ``REMOTE_USER`` is removed unless jwtgate set it (a
server that filled it from a ``Basic`` header cannot speak for the token). A
request header can never produce either key: headers arrive as ``HTTP_*``. The
response of the wrapped app is returned as it is (no buffering; the server
calls its ``close()``).

Example::

    from jwtgate.wsgi import JWTGateMiddleware

    application = JWTGateMiddleware(application, settings={"SECRET": "env:JWT_SECRET"})
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ._dpop_request import wsgi_dpop
from ._moved import moved_names
from .config import Settings
from .gate import Gate, Reads, RequestFields, RequestInfo, reads_everything, resolve_gate
from .http import Rejection
from .identity import Identity

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# The door: the middleware and the environ key the app reads. The helpers below
# (environ_key, read_request, send_rejection) serve jwtgate's own
# adapters; the token endpoints and the JWKS app have modules of their own.
__all__ = ["IDENTITY_KEY", "JWTGateMiddleware"]

__getattr__ = moved_names(
    __name__,
    {
        "token_endpoints": "jwtgate.endpoints.wsgi_app",
        "jwks_endpoint": "jwtgate.jwks.jwks_wsgi_app",
    },
)

IDENTITY_KEY = "jwtgate.identity"
"""The environ key that holds the request's :class:`~jwtgate.Identity`."""


def environ_key(header_name: str) -> str:
    """The CGI-style environ key of an HTTP header (``X-Token`` → ``HTTP_X_TOKEN``)."""
    return "HTTP_" + header_name.upper().replace("-", "_")


def _native_to_text(value: str) -> str:
    # PEP 3333: environ strings are the request's bytes decoded as latin-1.
    if value.isascii():  # the usual path: the same text either way
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def _raw_path(environ: Mapping[str, Any]) -> str | None:
    """The request target's path as sent, percent-encoding intact, when the server
    gives it (``RAW_URI``: gunicorn, Werkzeug; ``REQUEST_URI``: uWSGI, mod_wsgi)."""
    raw: str | None = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not raw:
        return None
    return raw.partition("?")[0]


def read_request(
    environ: Mapping[str, Any], gate: Reads, *, path: str | None = None
) -> RequestFields:
    """What ``gate`` needs to decide a WSGI environ (or Django's ``request.META``).

    ``path`` overrides ``PATH_INFO`` when the caller has it decoded already (Django's
    ``path_info``). Only what this Gate reads is read, as for
    :func:`jwtgate.asgi.read_request`.
    """
    method: str = environ.get("REQUEST_METHOD", "GET")
    if path is None:
        path = environ.get("PATH_INFO") or "/"
        if not path.isascii():
            path = _native_to_text(path)
    header = environ.get(gate.header_key)
    return (
        method,
        path,
        () if header is None else (header,),
        environ.get("HTTP_COOKIE") if gate.reads_cookie else None,
        environ.get("QUERY_STRING", "") if gate.reads_query else "",
        len(method) == 7
        and method.upper() == "OPTIONS"
        and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ
        and "HTTP_ORIGIN" in environ,
        _raw_path(environ) if gate.judges_paths else None,
        wsgi_dpop(environ) if gate.reads_dpop else None,
    )


def request_info(
    environ: Mapping[str, Any], header_key: str, *, path: str | None = None
) -> RequestInfo:
    """Deprecated: use :func:`read_request` (what a given Gate needs). Removed in the
    next release."""
    _deprecated("request_info", "read_request(environ, gate)")
    name = header_key.removeprefix("HTTP_").replace("_", "-").lower()
    return RequestInfo._make(read_request(environ, reads_everything(name), path=path))


def admit(
    gate: Gate,
    environ: Mapping[str, Any],
    header_key: str,
    *,
    path: str | None = None,
    sync: bool = True,
) -> Identity | None:
    """Deprecated: ``gate.decide(read_request(environ, gate))`` recalls a token
    verified before by itself. Removed in the next release."""
    _deprecated("admit", "gate.decide(read_request(environ, gate))")
    header = environ.get(header_key)
    if header is None:
        return None
    request = read_request(environ, gate, path=path)
    return gate._admit(request[0], request[1], header, sync, _raw_path(environ))


def decide(
    gate: Gate, environ: Mapping[str, Any], header_key: str, *, path: str | None = None
) -> Identity | Rejection:
    """Deprecated: use ``gate.decide(read_request(environ, gate))``. Removed in the
    next release."""
    _deprecated("decide", "gate.decide(read_request(environ, gate))")
    return gate.decide(read_request(environ, gate, path=path))


def _deprecated(name: str, instead: str) -> None:
    warnings.warn(
        f"jwtgate.wsgi.{name} is deprecated: use {instead}; it will be removed in the next release",
        DeprecationWarning,
        stacklevel=3,
    )


def send_rejection(
    rejection: Rejection, start_response: StartResponse, *, head: bool = False
) -> list[bytes]:
    """Start the refusal response and return its body, the WSGI way; none for a ``HEAD``
    request (its headers, ``Content-Length`` included, are those a ``GET`` gets). Some
    servers (waitress) send whatever the app returns, and a body after a ``HEAD``
    answer is read by the client as the start of the next response."""
    start_response(f"{rejection.status} {rejection.reason}", list(rejection.headers))
    return [b""] if head else [rejection.body]


class JWTGateMiddleware:
    """PEP 3333 middleware that authenticates every request with a bearer JWT.

    ``settings`` is a dict (validated at construction, so a bad key fails at
    startup) or a :class:`~jwtgate.Settings`; ``gate`` instead injects a ready
    decision object (tests inject one with a fake clock). Exactly one of them.
    """

    def __init__(
        self,
        app: WSGIApplication,
        settings: Settings | Mapping[str, Any] | None = None,
        *,
        gate: Gate | None = None,
    ) -> None:
        self.app = app
        self.gate = gate = resolve_gate(settings, gate, "JWTGateMiddleware")
        self._remote_user = gate.settings.set_remote_user

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        outcome = self.gate.decide(read_request(environ, self.gate))
        if isinstance(outcome, Rejection):
            head = environ.get("REQUEST_METHOD", "").upper() == "HEAD"
            return send_rejection(outcome, start_response, head=head)
        self.annotate(environ, outcome)
        return self.app(environ, start_response)

    def close(self) -> None:
        """Close the Gate's store connections (``check_revocation``); WSGI has no shutdown hook."""
        self.gate.close()

    def annotate(self, environ: WSGIEnvironment, identity: Identity) -> None:
        """Put ``identity`` where the app reads it, replacing whatever was there."""
        environ[IDENTITY_KEY] = identity
        if self._remote_user:
            if identity.subject is None:
                environ.pop("REMOTE_USER", None)
            else:
                # Back to "bytes as latin-1", the form PEP 3333 gives every environ string.
                environ["REMOTE_USER"] = identity.subject.encode("utf-8").decode("latin-1")
