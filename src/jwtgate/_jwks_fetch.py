"""Fetching a JWKS (or a discovery document) over HTTP: the URL policy, redirects
judged hop by hop, bounds on size and time, how long a response may be cached, and
which keys of a fetched document are usable.

Blocking (urllib), run by :class:`jwtgate.jwks.JWKSKeys` in a worker thread. Log
lines name URLs through :func:`display`, which drops user info and the query.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import replace
from email.message import Message
from http.client import HTTPMessage
from typing import Any
from urllib.parse import SplitResult, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from ._remote import JWKSOptions, is_loopback_url
from ._version import __version__
from .keys import HMAC_MIN_BYTES, PRIVATE_MEMBERS, RSA_MIN_BITS, VerificationKey, parse_jwks

__all__ = [
    "FetchFailed",
    "cache_lifetime",
    "display",
    "display_kid",
    "http_get",
    "url_allowed",
    "usable_keys",
]

MAX_KEYS = 100  # a JWKS with more keys than this is refused (each key costs a parse)

logger = logging.getLogger("jwtgate.jwks")

MAX_REDIRECTS = 3


def display(url: str | None) -> str:
    """The URL for log lines: no user info, no query (either could carry a credential)."""
    if url is None:
        return "(not yet discovered)"
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a bad port: still say which host
        port = ":?"
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def display_kid(kid: str | None) -> str:
    # The kid comes from an untrusted token: bounded, and repr() escapes control characters.
    return "(none)" if kid is None else repr(kid[:40])


class FetchFailed(Exception):
    """A fetch or a document failed; ``str()`` is a short reason safe to log."""


_DEFAULT_PORTS = {"http": 80, "https": 443}


class _RedirectPolicy(urllib.request.HTTPRedirectHandler):
    """Follows a few redirects as ``jwks_redirects`` allows: never from https down
    to plain http (at any hop of the chain); with ``"same-host"`` only on the first
    URL's host and port (an http to https upgrade to the default port included);
    with ``"none"`` never."""

    max_redirections = MAX_REDIRECTS

    def __init__(self, origin: str, allow_insecure: bool, policy: str) -> None:
        self.origin = urlsplit(origin)
        self.allow_insecure = allow_insecure
        self.policy = policy

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        refusal = self._refusal(newurl, previous=req.full_url)
        if refusal is not None:
            fp.close()
            raise FetchFailed(f"redirected to {display(newurl)}, {refusal}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)

    def _refusal(self, url: str, previous: str | None = None) -> str | None:
        if self.policy == "none":
            return "and jwks_redirects is 'none'"
        try:
            target = urlsplit(url)
            port, origin_port = _port(target), _port(self.origin)
            # Each hop is judged: http -> https -> http is a downgrade too.
            schemes = {self.origin.scheme, urlsplit(previous or "").scheme}
        except ValueError:
            return "not a valid URL"
        if target.scheme == "http" and "https" in schemes:
            return "a downgrade from https to http"
        if not url_allowed(url, self.allow_insecure):
            return "which is not https"
        if self.policy == "any":
            return None
        upgrade = (self.origin.scheme, target.scheme) == ("http", "https")
        same_port = port == origin_port or (upgrade and port == 443)
        if (target.hostname or "").lower() != (self.origin.hostname or "").lower() or not (
            same_port
        ):
            return "another host (jwks_redirects is 'same-host')"
        return None


def _port(parts: SplitResult) -> int | None:
    return parts.port if parts.port is not None else _DEFAULT_PORTS.get(parts.scheme)


def url_allowed(url: str, allow_insecure: bool) -> bool:
    scheme = urlsplit(url).scheme
    return scheme == "https" or (scheme == "http" and (allow_insecure or is_loopback_url(url)))


def http_get(
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    allow_insecure: bool,
    redirects: str = "same-host",
) -> tuple[bytes, Message, str]:
    """GET ``url``: the body (at most ``max_bytes``), the headers and the URL that
    answered (after redirects), or raise ``FetchFailed``.

    ``timeout`` bounds the whole exchange, not only each socket operation, so a
    server trickling one byte a second cannot hold a worker thread for long.
    """
    handlers: list[urllib.request.BaseHandler] = [_RedirectPolicy(url, allow_insecure, redirects)]
    if is_loopback_url(url):
        handlers.append(urllib.request.ProxyHandler({}))  # never send loopback via a proxy
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(  # noqa: S310 - the scheme was checked at startup
        url,
        headers={"Accept": "application/json", "User-Agent": f"jwtgate/{__version__}"},
    )
    deadline = time.monotonic() + timeout
    try:
        with opener.open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > max_bytes:
                raise FetchFailed(f"body of {int(length)} bytes is over the {max_bytes} limit")
            chunks: list[bytes] = []
            size = 0
            while True:
                if time.monotonic() > deadline:
                    raise FetchFailed("timed out")
                chunk = response.read1(min(65536, max_bytes + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > max_bytes:
                    raise FetchFailed(f"body is over the {max_bytes} bytes limit")
            return b"".join(chunks), response.headers, response.geturl()
    except urllib.error.HTTPError as exc:
        exc.close()
        raise FetchFailed(f"HTTP {exc.code}") from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise FetchFailed("timed out") from exc
        raise FetchFailed(f"unreachable ({type(exc.reason).__name__})") from exc
    except TimeoutError as exc:
        raise FetchFailed("timed out") from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise FetchFailed(f"bad response ({type(exc).__name__})") from exc


def cache_lifetime(headers: Message, options: JWKSOptions) -> float:
    """Seconds to cache a response: its ``max-age`` minus ``Age``, within the bounds.

    ``no-store``/``no-cache`` count as ``max-age=0`` (so the lower bound applies:
    jwtgate will not refetch on every request whatever the provider says).
    """
    directives: dict[str, str] = {}
    for value in headers.get_all("Cache-Control") or []:
        for item in value.split(","):
            name, _, arg = item.strip().partition("=")
            directives[name.strip().lower()] = arg.strip().strip('"')
    lifetime: float = options.cache_ttl
    if "no-store" in directives or "no-cache" in directives:
        lifetime = 0
    elif directives.get("max-age", "").isdigit():
        lifetime = int(directives["max-age"])
        age = (headers.get("Age") or "").strip()
        if age.isdigit():
            lifetime -= int(age)
    return float(min(max(lifetime, options.cache_ttl_min), options.cache_ttl_max))


def usable_keys(
    body: bytes, allowed: frozenset[str], options: JWKSOptions, url: str | None
) -> list[VerificationKey]:
    """The usable keys of a JWKS body, or ``FetchFailed`` (the cache stays as it is)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise FetchFailed("the body is not JSON") from exc
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise FetchFailed('the body is not a JWKS (no "keys" list)')
    if len(document["keys"]) > MAX_KEYS:
        raise FetchFailed(f"the JWKS has more than {MAX_KEYS} keys")
    public_only = []
    for jwk in document["keys"]:
        if isinstance(jwk, dict) and PRIVATE_MEMBERS.intersection(jwk) - {"k"}:
            logger.error(
                "jwtgate: %s publishes private key material (kid %s); that key is ignored",
                display(url),
                display_kid(jwk.get("kid") if isinstance(jwk.get("kid"), str) else None),
            )
            continue
        public_only.append(jwk)
    try:
        parsed = parse_jwks({"keys": public_only})
    except ValueError as exc:
        raise FetchFailed("the JWKS has no usable signing key") from exc
    usable: list[VerificationKey] = []
    for key in parsed:
        algorithms = key.algorithms & allowed
        if isinstance(key.key, bytes):
            if not options.allow_hmac:
                continue  # whoever serves this URL could mint tokens with it
            algorithms = frozenset(a for a in algorithms if len(key.key) >= HMAC_MIN_BYTES[a])
        elif isinstance(key.key, rsa.RSAPublicKey) and key.key.key_size < RSA_MIN_BITS:
            continue
        if algorithms:
            usable.append(replace(key, algorithms=algorithms))
    if not usable:
        raise FetchFailed(f"no key in the JWKS fits ALGORITHMS {sorted(allowed)}")
    return usable
