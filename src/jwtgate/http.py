"""Turning a request error into an HTTP answer (RFC 6750 §3), for every adapter.

``render(error, realm)`` gives status, headers and a small JSON body. The
``WWW-Authenticate`` challenge carries ``error``/``error_description`` only when
RFC 6750 calls for them: a request without credentials gets a bare
``Bearer realm="…"``. With the ``resource`` setting, every challenge also names the
protected resource metadata (``resource_metadata="…"``, RFC 9728 §5.1). This is the
one place challenges are written: every door renders through it. Descriptions
come from a fixed vocabulary in :mod:`jwtgate.errors`, never from token contents.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import (
    AuthenticationError,
    InsufficientScope,
    InsufficientUserAuthentication,
    InvalidBinding,
    InvalidDPoPProof,
    NonCanonicalPath,
    PreflightAnswered,
    RequestError,
    ServiceUnavailable,
    UseDPoPNonce,
)

__all__ = ["DPoPChallenge", "Rejection", "challenge", "quote", "render"]


def quote(value: str) -> str:
    """An RFC 9110 quoted-string: backslash-escape ``"`` and ``\\``."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Rejection:
    """A ready-to-send refusal: status, header pairs and body bytes."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    error: RequestError

    @property
    def reason(self) -> str:
        """The status line's reason phrase."""
        return _REASONS[self.status]

    @property
    def about_the_token(self) -> bool:
        """Whether this refusal is about the request's token (none, a bad one, a scope
        missing), not about its path (non-canonical), a preflight or an outage. A route
        that reads no token through the door (the token endpoints) ignores only these."""
        error = self.error
        return isinstance(error, AuthenticationError) and not isinstance(error, NonCanonicalPath)

    def with_body(
        self,
        body: Mapping[str, Any] | bytes,
        content_type: str = "application/json",
        *,
        headers: Iterable[tuple[str, str]] = (),
    ) -> Rejection:
        """This refusal with another body (a mapping is sent as JSON) and ``headers``
        added; the status, ``WWW-Authenticate``, ``Retry-After`` and
        ``Cache-Control`` stay. For the ``error_handler`` setting."""
        data = body if isinstance(body, bytes) else json.dumps(dict(body)).encode()
        kept = [(k, v) for k, v in self.headers if k not in ("content-type", "content-length")]
        kept += [("content-type", content_type), *headers, ("content-length", str(len(data)))]
        return Rejection(self.status, tuple(kept), data, self.error)


_REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class DPoPChallenge:
    """How a resource that takes DPoP (RFC 9449 §7.1) challenges: the proof algorithms
    it accepts, and whether it takes DPoP-bound tokens only (``dpop="require"``)."""

    algs: tuple[str, ...]
    required: bool = False

    def params(self) -> str:
        return f"algs={quote(' '.join(self.algs))}"


def challenge(
    error: RequestError,
    realm: str,
    *,
    resource_metadata: str | None = None,
    dpop: DPoPChallenge | None = None,
) -> str:
    """The ``WWW-Authenticate`` value for ``error``; ``resource_metadata`` is the URL of
    the RFC 9728 document, when there is one. With ``dpop``, a DPoP error (or any
    error, when DPoP is required) is a ``DPoP`` challenge; otherwise a ``DPoP``
    challenge follows the ``Bearer`` one (RFC 9449 §7.2)."""
    params = [f"realm={quote(realm)}"]
    if error.error is not None:
        params.append(f"error={quote(error.error)}")
        params.append(f"error_description={quote(error.description)}")
    if isinstance(error, InsufficientScope) and error.required:
        params.append(f"scope={quote(' '.join(error.required))}")
    if isinstance(error, InsufficientUserAuthentication):
        params.append(f"max_age={quote(str(error.max_age))}")  # RFC 9470 §3
    if resource_metadata is not None:
        params.append(f"resource_metadata={quote(resource_metadata)}")  # RFC 9728 §5.1
    if dpop is None:
        return "Bearer " + ", ".join(params)
    if dpop.required or isinstance(error, InvalidDPoPProof | InvalidBinding):
        return "DPoP " + ", ".join([dpop.params(), *params])
    return "Bearer " + ", ".join(params) + ", DPoP " + dpop.params()


def render(
    error: RequestError,
    realm: str,
    *,
    resource_metadata: str | None = None,
    dpop: DPoPChallenge | None = None,
) -> Rejection:
    """Status, headers and JSON body for ``error`` (see :func:`challenge`)."""
    if isinstance(error, PreflightAnswered):
        # No CORS headers: a browser then refuses the cross-origin request, which is
        # right when no CORS layer answered before jwtgate (see docs/security.md).
        return Rejection(204, (("vary", "Origin, Access-Control-Request-Method"),), b"", error)
    headers: list[tuple[str, str]] = [
        ("content-type", "application/json"),
        ("cache-control", "no-store"),
    ]
    if isinstance(error, ServiceUnavailable):
        headers.append(("retry-after", str(error.retry_after)))
        code = "temporarily_unavailable"
    else:
        value = challenge(error, realm, resource_metadata=resource_metadata, dpop=dpop)
        headers.append(("www-authenticate", value))
        if isinstance(error, UseDPoPNonce):
            headers.append(("dpop-nonce", error.nonce))
        code = error.error or "authentication_required"
    body = json.dumps(
        {"error": code, "error_description": error.description}, separators=(",", ":")
    ).encode()
    headers.append(("content-length", str(len(body))))
    return Rejection(error.status, tuple(headers), body, error)
