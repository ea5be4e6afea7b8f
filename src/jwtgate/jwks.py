"""Remote keys: a JWKS client that survives outages and rotation, and publishing your own JWKS.

Verifying side
--------------
Set ``jwks_url`` (or ``jwks_discovery`` with one ``issuer``) and the first ``Verifier``
built from those settings builds a :class:`JWKSKeys`, which every ``Verifier`` and
``Gate`` of the same ``Settings`` object then shares, without further wiring. It

- fetches the JWKS over https (plain http only for loopback, or with
  ``allow_insecure_jwks_url``), refusing bodies over ``jwks_max_bytes``, redirects
  to another host (unless ``jwks_redirects`` allows) or down to plain http, and
  documents that are not a JWKS or hold no key usable with ``algorithms``; a bad
  document never replaces a good cached one;
- caches the keys for the response's ``Cache-Control: max-age`` (minus ``Age``)
  clamped to ``[jwks_cache_ttl_min, jwks_cache_ttl_max]``, or ``jwks_cache_ttl``
  when the provider says nothing, and refreshes in a background thread during
  the last fifth of that lifetime so requests rarely wait;
- refetches on an unknown ``kid`` at most once per ``jwks_refetch_interval``
  (a flood of random ``kid`` values cannot make jwtgate hammer the provider);
- runs one fetch at a time (single flight): concurrent requests on a cold or
  expired cache wait for that one fetch instead of starting their own;
- never blocks an event loop: ``get_async`` runs the blocking fetch in a worker
  thread (``anyio.to_thread``) and waits on an event;
- when the provider fails (down, timeout, 5xx, garbage, oversized, wrong key
  types) serves the last good keys for up to ``jwks_max_stale`` seconds past
  their expiry, retrying with exponential backoff (1 s, 2 s, 4 s … capped at
  ``jwks_refetch_interval``); after that, and whenever no keys were ever
  fetched, it raises :class:`~jwtgate.errors.KeySourceUnavailable` (a 503 with
  ``Retry-After``: never ``invalid_token``, never a 500, never a pass).

Keys are chosen by ``kid``; a token without ``kid`` is accepted only when exactly
one key fits its algorithm. A key's ``alg``, ``use`` and ``key_ops`` are honoured;
keys of unsupported types, RSA keys under 2048 bits, and keys that publish
private material are skipped. Shared (``oct``) keys are refused unless
``allow_hmac_jwks`` is set. Keys given in settings (``public_key``, ``jwks``) are
tried first, by exact ``kid``.

Issuing side
------------
:func:`jwks_document` returns the public JWKS of the configured asymmetric keys
(the active signing key first; HMAC secrets and private members never appear).
:func:`jwks_asgi_app` and :func:`jwks_wsgi_app` serve it as raw ASGI/WSGI
applications, to mount at ``/.well-known/jwks.json``.

Log lines (logger ``jwtgate.jwks``) report fetches, failures, stale serving and
unknown ``kid`` values (rate-limited); they name the URL without query or user
info and never contain tokens or key material.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from dataclasses import replace
from email.message import Message
from http.client import HTTPMessage
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

import anyio
import anyio.to_thread
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from ._remote import JWKSOptions, is_loopback_host, is_loopback_url
from ._version import __version__
from .errors import KeySourceUnavailable, RequestError, UnknownKey
from .keys import HMAC_MIN_BYTES, RSA_MIN_BITS, VerificationKey, parse_jwks

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .config import Settings

__all__ = [
    "JWKSKeys",
    "JWKSOptions",
    "cache_lifetime",
    "is_loopback_host",
    "is_loopback_url",
    "jwks_asgi_app",
    "jwks_document",
    "jwks_wsgi_app",
]

logger = logging.getLogger("jwtgate.jwks")

Clock = Callable[[], float]
Scope = MutableMapping[str, Any]
ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_KEYS = 100  # a JWKS with more keys than this is refused (each key costs a parse)
REFRESH_AHEAD = 0.2  # refresh in the background during the last fifth of the lifetime
MAX_REDIRECTS = 3
# JWK members that hold private or symmetric material (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def _display(url: str | None) -> str:
    """The URL for log lines: no user info, no query (either could carry a credential)."""
    if url is None:
        return "(not yet discovered)"
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a bad port: still say which host
        port = ":?"
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def _display_kid(kid: str | None) -> str:
    # The kid comes from an untrusted token: bounded, and repr() escapes control characters.
    return "(none)" if kid is None else repr(kid[:40])


# -- key index ------------------------------------------------------------------


class _KeySet:
    """Keys indexed by ``(alg, kid)`` and by ``alg`` (for tokens without ``kid``)."""

    def __init__(self, keys: Iterable[VerificationKey]) -> None:
        self.keys = tuple(keys)
        self._by_kid: dict[tuple[str, str], VerificationKey | None] = {}
        by_alg: dict[str, list[VerificationKey]] = {}
        for key in self.keys:
            for alg in key.algorithms:
                by_alg.setdefault(alg, []).append(key)
                if key.kid is not None:
                    # Two keys claiming one kid for one algorithm: neither is trusted.
                    slot = (alg, key.kid)
                    self._by_kid[slot] = None if slot in self._by_kid else key
        self._sole = {alg: keys[0] for alg, keys in by_alg.items() if len(keys) == 1}

    def find(self, alg: str, kid: str | None, *, unnamed: bool = True) -> VerificationKey | None:
        if kid is None:
            return self._sole.get(alg)
        key = self._by_kid.get((alg, kid))
        if key is None and unnamed:
            # A key published without a kid serves any token when it is the only one.
            sole = self._sole.get(alg)
            if sole is not None and sole.kid is None:
                return sole
        return key

    def kids(self) -> list[str]:
        return sorted({k.kid or "(none)" for k in self.keys})


# -- fetching -------------------------------------------------------------------


class _FetchFailed(Exception):
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
            raise _FetchFailed(f"redirected to {_display(newurl)}, {refusal}")
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
        if not _url_allowed(url, self.allow_insecure):
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


def _url_allowed(url: str, allow_insecure: bool) -> bool:
    scheme = urlsplit(url).scheme
    return scheme == "https" or (scheme == "http" and (allow_insecure or is_loopback_url(url)))


def _http_get(
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    allow_insecure: bool,
    redirects: str = "same-host",
) -> tuple[bytes, Message, str]:
    """GET ``url``: the body (at most ``max_bytes``), the headers and the URL that
    answered (after redirects), or raise ``_FetchFailed``.

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
                raise _FetchFailed(f"body of {int(length)} bytes is over the {max_bytes} limit")
            chunks: list[bytes] = []
            size = 0
            while True:
                if time.monotonic() > deadline:
                    raise _FetchFailed("timed out")
                chunk = response.read1(min(65536, max_bytes + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > max_bytes:
                    raise _FetchFailed(f"body is over the {max_bytes} bytes limit")
            return b"".join(chunks), response.headers, response.geturl()
    except urllib.error.HTTPError as exc:
        exc.close()
        raise _FetchFailed(f"HTTP {exc.code}") from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise _FetchFailed("timed out") from exc
        raise _FetchFailed(f"unreachable ({type(exc.reason).__name__})") from exc
    except TimeoutError as exc:
        raise _FetchFailed("timed out") from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _FetchFailed(f"bad response ({type(exc).__name__})") from exc


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


# -- the key source -------------------------------------------------------------


class _Flight:
    """One fetch in progress; ``done`` is set when it lands (success or not)."""

    __slots__ = ("done", "event", "thread")

    def __init__(self, event: anyio.Event | None) -> None:
        self.done = threading.Event()
        self.event = event  # set by an async leader, on its own event loop
        self.thread = threading.get_ident()


class JWKSKeys:
    """Keys from a JWKS URL: cached, rate-limited, single-flight, stale-tolerant.

    ``Settings.key_source`` builds one per Settings object when ``jwks_url`` is set;
    :meth:`from_settings` builds a new one; ``clock`` (monotonic seconds) is injectable so cache
    lifetimes can be tested without sleeping. It implements the
    :class:`~jwtgate.keys.KeySource` protocol.
    """

    def __init__(
        self,
        url: str | None,
        *,
        algorithms: Sequence[str],
        options: JWKSOptions = JWKSOptions(),
        static: Iterable[VerificationKey] = (),
        issuer: str | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        if url is None and (not options.discovery or issuer is None):
            raise ValueError("a JWKS URL, or discovery with an issuer, is required")
        self._url = url
        self._issuer = issuer
        self._algorithms = frozenset(algorithms)
        self._options = options
        self._static = _KeySet(static)
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: _KeySet | None = None
        self._expires_at = -math.inf
        self._refresh_at = -math.inf
        # The keys and until when they need no refresh, replaced as one tuple so
        # that peek() can read them without the lock.
        self._fresh: tuple[_KeySet, float] | None = None
        self._last_attempt = -math.inf
        self._last_ok = False
        self._failures = 0
        self._retry_at = -math.inf
        self._flight: _Flight | None = None
        self._stale_logged = -math.inf
        self._bound_logged = -math.inf
        self._unknown_logged = -math.inf
        self._unknown_quiet = 0
        self.fetches = 0  # attempts started (successful or not), for metrics and tests
        # A discovery document and then the JWKS: two fetches at most per flight.
        self._wait_limit = 2 * options.fetch_timeout + 1

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = time.monotonic) -> JWKSKeys:
        """A new, empty-cached source for ``settings``' remote JWKS."""
        if settings.jwks_options is None:
            raise ValueError("these settings have no jwks_url (or jwks_discovery)")
        return cls(
            settings.jwks_url,
            algorithms=settings.algorithms,
            options=settings.jwks_options,
            static=settings.keys.keys,
            issuer=settings.issuer[0] if settings.issuer else None,
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"JWKSKeys({_display(self._url)!r})"

    # -- KeySource --------------------------------------------------------------

    def get(self, algorithm: str, kid: str | None) -> VerificationKey:
        """The key for ``algorithm``/``kid``, fetching (blocking) when needed."""
        outcome = self._decide(algorithm, kid, may_fetch=True)
        if outcome is None:
            self._fetch_sync()
            outcome = self._decide(algorithm, kid, may_fetch=False)
        return self._deliver(outcome)

    async def get_async(self, algorithm: str, kid: str | None) -> VerificationKey:
        """Like :meth:`get`; the fetch runs in a worker thread, the loop keeps running."""
        outcome = self._decide(algorithm, kid, may_fetch=True)
        if outcome is None:
            await self._fetch_async()
            outcome = self._decide(algorithm, kid, may_fetch=False)
        return self._deliver(outcome)

    def peek(self, algorithm: str, kid: str | None) -> VerificationKey | None:
        """The key :meth:`get` would return right now with nothing else to do, or None.

        None whenever ``get`` would fetch, refresh ahead, serve stale keys or
        refuse: then ask ``get``. No lock, no I/O, no logging; the
        :class:`~jwtgate.Verifier` uses it to confirm a cached token's key.
        """
        static = self._static.find(algorithm, kid, unnamed=False)
        if static is not None:
            return static
        fresh = self._fresh
        if fresh is None or not self._clock() < fresh[1]:
            return None
        return fresh[0].find(algorithm, kid)

    def prefetch(self) -> bool:
        """Fetch now (e.g. at startup) so the first request does not wait; True if keys are held."""
        self._fetch_sync()
        return self._keys is not None

    async def prefetch_async(self) -> bool:
        """Like :meth:`prefetch`, without blocking the event loop (ASGI lifespan startup)."""
        await self._fetch_async()
        return self._keys is not None

    # -- decision ---------------------------------------------------------------

    def _decide(
        self, algorithm: str, kid: str | None, *, may_fetch: bool
    ) -> VerificationKey | RequestError | None:
        """A key, the error to raise, or None: fetch (or join the fetch in flight) first."""
        static = self._static.find(algorithm, kid, unnamed=False)
        if static is not None:
            return static
        now = self._clock()
        refresh = False
        with self._lock:
            outcome = self._decide_locked(algorithm, kid, may_fetch, now)
            if (
                isinstance(outcome, VerificationKey)
                and self._refresh_at <= now < self._expires_at
                and self._flight is None
                and now >= self._retry_at
            ):
                refresh = True
        if refresh:
            self._refresh_in_background()
        return outcome

    def _decide_locked(
        self, algorithm: str, kid: str | None, may_fetch: bool, now: float
    ) -> VerificationKey | RequestError | None:
        options = self._options
        can_fetch = may_fetch and (self._flight is not None or now >= self._retry_at)
        keys = self._keys
        if keys is None or now >= self._expires_at + options.max_stale:
            if can_fetch:
                return None
            return self._unavailable(now, keys is not None)
        key = keys.find(algorithm, kid)
        if key is not None:
            if now < self._expires_at:
                return key
            if can_fetch:
                return None  # expired: wait for fresh keys (a removed key must stop working)
            if now - self._stale_logged >= options.refetch_interval:
                self._stale_logged = now
                logger.warning(
                    "jwtgate: serving stale keys from %s, expired %ds ago (bound %ds): "
                    "the provider is failing",
                    _display(self._url),
                    now - self._expires_at,
                    options.max_stale,
                )
            return key
        # Unknown kid (or no kid and several candidate keys): maybe a rotation.
        if can_fetch and (
            self._flight is not None or now - self._last_attempt >= options.refetch_interval
        ):
            logger.info(
                "jwtgate: unknown kid %s, refetching %s", _display_kid(kid), _display(self._url)
            )
            return None
        self._unknown_quiet += 1
        if now - self._unknown_logged >= options.refetch_interval:
            logger.info(
                "jwtgate: %d token(s) with unknown kids (last %s) refused since the last "
                "report; refetches are limited to one per %ds",
                self._unknown_quiet,
                _display_kid(kid),
                options.refetch_interval,
            )
            self._unknown_logged = now
            self._unknown_quiet = 0
        if self._last_ok:
            return UnknownKey()
        # The last fetch failed: the key may exist and we cannot know. The server's fault.
        return self._unavailable(now, True)

    def _unavailable(self, now: float, had_keys: bool) -> KeySourceUnavailable:
        retry_after = max(1, math.ceil(self._retry_at - now))
        if (
            had_keys
            and now >= self._expires_at + self._options.max_stale
            and now - self._bound_logged >= self._options.refetch_interval
        ):
            self._bound_logged = now
            logger.error(
                "jwtgate: cached keys from %s are past the staleness bound (%ds); "
                "refusing requests with 503 until the provider answers",
                _display(self._url),
                self._options.max_stale,
            )
        return KeySourceUnavailable(retry_after=retry_after)

    @staticmethod
    def _deliver(outcome: VerificationKey | RequestError | None) -> VerificationKey:
        if isinstance(outcome, VerificationKey):
            return outcome
        raise outcome if outcome is not None else KeySourceUnavailable()

    # -- single flight ----------------------------------------------------------

    def _join(self, event: anyio.Event | None = None) -> tuple[_Flight, bool]:
        """The fetch in flight (follower) or a new one this caller must run (leader)."""
        with self._lock:
            if self._flight is not None:
                return self._flight, False
            self._flight = _Flight(event)
            return self._flight, True

    def _land(self, flight: _Flight) -> None:
        with self._lock:
            self._flight = None  # only the leader lands, and only its own flight
        flight.done.set()

    def _lead(self, flight: _Flight) -> None:
        try:
            self._run_fetch()
        finally:
            self._land(flight)

    def _fetch_sync(self) -> None:
        flight, leader = self._join()
        if leader:
            self._lead(flight)
        else:
            flight.done.wait(self._wait_limit)

    async def _fetch_async(self) -> None:
        event = anyio.Event()
        flight, leader = self._join(event)
        if leader:
            try:
                await anyio.to_thread.run_sync(self._run_fetch)
            finally:
                self._land(flight)
                event.set()
        elif flight.event is not None and flight.thread == threading.get_ident():
            await flight.event.wait()  # led by a task on this very loop
        else:
            # Led by a thread (WSGI, refresh-ahead) or by another event loop: poll the
            # thread event. No worker thread is tied up, and cancelling stays immediate.
            deadline = time.monotonic() + self._wait_limit
            while not flight.done.is_set() and time.monotonic() < deadline:
                await anyio.sleep(0.01)

    def _refresh_in_background(self) -> None:
        flight, leader = self._join()
        if leader:
            logger.debug("jwtgate: refreshing %s ahead of expiry", _display(self._url))
            threading.Thread(
                target=self._lead, args=(flight,), name="jwtgate-jwks-refresh", daemon=True
            ).start()

    # -- one fetch --------------------------------------------------------------

    def _run_fetch(self) -> None:
        """Fetch, validate and install the JWKS, or record the failure. Never raises."""
        started = self._clock()
        with self._lock:
            self._last_attempt = started
            self.fetches += 1
        url = self._url
        try:
            url = self._resolve_url()
            body, headers, final = self._get(url)
            keys = self._parse(body)
            lifetime = cache_lifetime(headers, self._options)
        except Exception as exc:  # noqa: BLE001 - a provider fault must never become a 500
            reason = str(exc) if isinstance(exc, _FetchFailed) else type(exc).__name__
            self._record_failure(url, reason)
            return
        now = self._clock()
        with self._lock:
            self._keys = _KeySet(keys)
            self._expires_at = now + lifetime
            self._refresh_at = now + lifetime * (1 - REFRESH_AHEAD)
            self._fresh = (self._keys, self._refresh_at)
            self._last_ok = True
            self._failures = 0
            self._retry_at = -math.inf
            self._stale_logged = -math.inf
        logger.info(
            "jwtgate: fetched %s%s: %d key(s) (kids %s), cached for %ds",
            _display(final),
            "" if final == url else f" (redirected from {_display(url)})",
            len(keys),
            ", ".join(self._keys.kids()),
            lifetime,
        )

    def _record_failure(self, url: str | None, reason: str) -> None:
        now = self._clock()
        options = self._options
        with self._lock:
            self._failures += 1
            backoff = min(2.0 ** (self._failures - 1), options.refetch_interval)
            self._retry_at = now + backoff
            self._last_ok = False
            if self._keys is None:
                fallback = "no keys cached: requests get 503"
            else:
                left = self._expires_at + options.max_stale - now
                fallback = (
                    f"keeping the last good keys (usable {max(0, left):.0f}s more)"
                    if left > 0
                    else "cached keys are past the staleness bound: requests get 503"
                )
            failures = self._failures
        logger.warning(
            "jwtgate: fetching %s failed (%s); attempt %d, next in %.0fs; %s",
            _display(url),
            reason,
            failures,
            backoff,
            fallback,
        )

    def _get(self, url: str) -> tuple[bytes, Message, str]:
        return _http_get(
            url,
            timeout=self._options.fetch_timeout,
            max_bytes=self._options.max_bytes,
            allow_insecure=self._options.allow_insecure_url,
            redirects=self._options.redirects,
        )

    def _resolve_url(self) -> str:
        """The JWKS URL, found through OpenID Connect discovery the first time if needed."""
        if self._url is not None:
            return self._url
        issuer = self._issuer or ""
        config_url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        body, _, _ = self._get(config_url)
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise _FetchFailed("discovery document is not JSON") from exc
        if not isinstance(document, dict):
            raise _FetchFailed("discovery document is not a JSON object")
        # OpenID Connect Discovery 1.0 §4.3: the issuer MUST be identical to the one asked.
        if document.get("issuer") != issuer:
            raise _FetchFailed("discovery document names another issuer")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not _url_allowed(
            jwks_uri, self._options.allow_insecure_url
        ):
            raise _FetchFailed("discovery document has no usable https jwks_uri")
        with self._lock:
            self._url = jwks_uri
        logger.info("jwtgate: discovered %s for issuer %s", _display(jwks_uri), _display(issuer))
        return jwks_uri

    def _parse(self, body: bytes) -> list[VerificationKey]:
        """The usable keys of a JWKS body, or ``_FetchFailed`` (the cache stays as it is)."""
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise _FetchFailed("the body is not JSON") from exc
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise _FetchFailed('the body is not a JWKS (no "keys" list)')
        if len(document["keys"]) > MAX_KEYS:
            raise _FetchFailed(f"the JWKS has more than {MAX_KEYS} keys")
        public_only = []
        for jwk in document["keys"]:
            if isinstance(jwk, dict) and PRIVATE_MEMBERS.intersection(jwk) - {"k"}:
                logger.error(
                    "jwtgate: %s publishes private key material (kid %s); that key is ignored",
                    _display(self._url),
                    _display_kid(jwk.get("kid") if isinstance(jwk.get("kid"), str) else None),
                )
                continue
            public_only.append(jwk)
        try:
            parsed = parse_jwks({"keys": public_only})
        except ValueError as exc:
            raise _FetchFailed("the JWKS has no usable signing key") from exc
        usable: list[VerificationKey] = []
        for key in parsed:
            algorithms = key.algorithms & self._algorithms
            if isinstance(key.key, bytes):
                if not self._options.allow_hmac:
                    continue  # whoever serves this URL could mint tokens with it
                algorithms = frozenset(a for a in algorithms if len(key.key) >= HMAC_MIN_BYTES[a])
            elif isinstance(key.key, rsa.RSAPublicKey) and key.key.key_size < RSA_MIN_BITS:
                continue
            if algorithms:
                usable.append(replace(key, algorithms=algorithms))
        if not usable:
            raise _FetchFailed(f"no key in the JWKS fits ALGORITHMS {sorted(self._algorithms)}")
        return usable


# -- issuing side ---------------------------------------------------------------


def _public_jwk(key: VerificationKey, settings_algorithms: Sequence[str]) -> dict[str, Any]:
    from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

    material: Any = key.key
    if hasattr(material, "private_bytes"):  # never publish a private key, even by mistake
        material = material.public_key()
    if isinstance(material, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(material, as_dict=True)
    elif isinstance(material, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(material, as_dict=True)
    elif isinstance(material, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        jwk = OKPAlgorithm.to_jwk(material, as_dict=True)
    else:  # an HMAC secret (bytes) is never published; tests/test_error_paths.py
        raise TypeError(f"cannot publish a {type(material).__name__}")
    public = {name: value for name, value in jwk.items() if name not in PRIVATE_MEMBERS}
    public["use"] = "sig"
    algorithms = [a for a in settings_algorithms if a in key.algorithms]
    if len(algorithms) == 1:
        public["alg"] = algorithms[0]
    if key.kid is not None:
        public["kid"] = key.kid
    return public


def jwks_document(settings: Settings) -> dict[str, Any]:
    """The public JWKS of ``settings``' asymmetric keys, the active signing key first.

    HMAC secrets are never published; only public members of each key appear.
    Keys fetched from a remote ``jwks_url`` are not republished.
    """
    active = settings.signing_key.kid if settings.signing_key is not None else None
    keys = [k for k in settings.keys.keys if not isinstance(k.key, bytes)]
    keys.sort(key=lambda k: active is None or k.kid != active)
    return {"keys": [_public_jwk(k, settings.algorithms) for k in keys]}


def _jwks_response(settings: Settings, max_age: int) -> tuple[bytes, list[tuple[str, str]]]:
    value: object = max_age  # callers outside mypy's reach pass anything
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("max_age must be a whole number of seconds, 0 or more")
    body = json.dumps(jwks_document(settings), separators=(",", ":")).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Cache-Control", f"public, max-age={max_age}"),
        ("Content-Length", str(len(body))),
    ]
    return body, headers


_NOT_ALLOWED = b'{"error":"method_not_allowed"}'
_NOT_ALLOWED_HEADERS = [
    ("Content-Type", "application/json"),
    ("Allow", "GET, HEAD"),
    ("Content-Length", str(len(_NOT_ALLOWED))),
]


def jwks_asgi_app(settings: Settings, *, max_age: int = 300) -> ASGIApp:
    """A raw ASGI app answering ``GET``/``HEAD`` with :func:`jwks_document` (mount it anywhere).

    ``max_age`` is the ``Cache-Control: max-age`` consumers are told to cache for;
    keep it well under the time between publishing a new key and signing with it.
    """
    body, headers = _jwks_response(settings, max_age)
    raw_headers = [(n.lower().encode(), v.encode()) for n, v in headers]
    raw_not_allowed = [(n.lower().encode(), v.encode()) for n, v in _NOT_ALLOWED_HEADERS]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        if scope["method"] not in ("GET", "HEAD"):
            await send({"type": "http.response.start", "status": 405, "headers": raw_not_allowed})
            await send({"type": "http.response.body", "body": _NOT_ALLOWED})
            return
        await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    return app


def jwks_wsgi_app(settings: Settings, *, max_age: int = 300) -> WSGIApplication:
    """A WSGI app answering ``GET``/``HEAD`` with :func:`jwks_document` (mount it anywhere)."""
    body, headers = _jwks_response(settings, max_age)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", list(_NOT_ALLOWED_HEADERS))
            return [_NOT_ALLOWED]
        start_response("200 OK", list(headers))
        return [b""] if method == "HEAD" else [body]

    return app
