"""Remote keys: a JWKS client that survives outages and rotation, and publishing your own JWKS.

This module is the key cache (:class:`JWKSKeys`, its state machine and single
flight); fetching over HTTP lives in ``jwtgate._jwks_fetch``, the options in
``jwtgate._remote``, publishing in ``jwtgate.jwks_publish``; their public names
are importable from here.

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

Issuing side (module ``jwtgate.jwks_publish``, names re-exported here)
------------------------------------------------------------------------
:func:`jwks_document` returns the public JWKS of the configured asymmetric keys
(the active signing key first; HMAC secrets and private members never appear).
:func:`jwks_asgi_app` and :func:`jwks_wsgi_app` serve it as raw ASGI/WSGI
applications, to mount at ``/.well-known/jwks.json``.

Log lines (logger ``jwtgate.jwks``) report fetches, failures, stale serving and
unknown ``kid`` values (rate-limited); they name the URL without query or user
info and never contain tokens or key material.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from email.message import Message
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from ._flight import Flight, waker
from ._jwks_fetch import (
    FetchFailed,
    cache_lifetime,
    display,
    display_kid,
    http_get,
    url_allowed,
    usable_keys,
)
from ._remote import JWKSOptions, is_loopback_host, is_loopback_url
from .audit import AuditEvent, AuditHook, emit
from .errors import KeySourceUnavailable, RequestError, UnknownKey
from .jwks_publish import jwks_asgi_app, jwks_document, jwks_wsgi_app
from .keys import KeyIndex, VerificationKey
from .telemetry import Telemetry, telemetry_for

if TYPE_CHECKING:
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

REFRESH_AHEAD = 0.2  # refresh in the background during the last fifth of the lifetime
DEFAULT_OPTIONS = JWKSOptions()


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
        options: JWKSOptions = DEFAULT_OPTIONS,
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
        self._static = KeyIndex(static)
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: KeyIndex | None = None
        self._expires_at = -math.inf
        self._refresh_at = -math.inf
        # The keys and until when they need no refresh, replaced as one tuple so
        # that peek() can read them without the lock.
        self._fresh: tuple[KeyIndex, float] | None = None
        self._last_attempt = -math.inf
        self._last_ok = False
        self._failures = 0
        self._retry_at = -math.inf
        self._flight: Flight | None = None
        self._stale_logged = -math.inf
        self._bound_logged = -math.inf
        self._unknown_logged = -math.inf
        self._unknown_quiet = 0
        self.fetches = 0  # attempts started (successful or not), for metrics and tests
        # Set by from_settings: OpenTelemetry (None: off) and the audit hook.
        self.telemetry: Telemetry | None = None
        self.audit_hook: AuditHook | None = None
        # A discovery document and then the JWKS: two fetches at most per flight.
        self._wait_limit = 2 * options.fetch_timeout + 1

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = time.monotonic) -> JWKSKeys:
        """A new, empty-cached source for ``settings``' remote JWKS."""
        if settings.jwks_options is None:
            raise ValueError("these settings have no jwks_url (or jwks_discovery)")
        source = cls(
            settings.jwks_url,
            algorithms=settings.algorithms,
            options=settings.jwks_options,
            static=settings.keys.keys,
            issuer=settings.issuer[0] if settings.issuer else None,
            clock=clock,
        )
        source.telemetry, source.audit_hook = telemetry_for(settings), settings.audit_hook
        return source

    def __repr__(self) -> str:
        return f"JWKSKeys({display(self._url)!r})"

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
                    display(self._url),
                    now - self._expires_at,
                    options.max_stale,
                )
            return key
        # Unknown kid (or no kid and several candidate keys): maybe a rotation.
        if can_fetch and (
            self._flight is not None or now - self._last_attempt >= options.refetch_interval
        ):
            logger.info(
                "jwtgate: unknown kid %s, refetching %s", display_kid(kid), display(self._url)
            )
            return None
        self._unknown_quiet += 1
        if now - self._unknown_logged >= options.refetch_interval:
            logger.info(
                "jwtgate: %d token(s) with unknown kids (last %s) refused since the last "
                "report; refetches are limited to one per %ds",
                self._unknown_quiet,
                display_kid(kid),
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
                display(self._url),
                self._options.max_stale,
            )
        return KeySourceUnavailable(retry_after=retry_after)

    @staticmethod
    def _deliver(outcome: VerificationKey | RequestError | None) -> VerificationKey:
        if isinstance(outcome, VerificationKey):
            return outcome
        raise outcome if outcome is not None else KeySourceUnavailable()

    # -- single flight ----------------------------------------------------------

    def _join(self, event: anyio.Event | None = None) -> tuple[Flight, bool]:
        """The fetch in flight (follower) or a new one this caller must run (leader)."""
        with self._lock:
            if self._flight is not None:
                return self._flight, False
            self._flight = Flight(event)
            return self._flight, True

    def _land(self, flight: Flight) -> None:
        with self._lock:
            self._flight = None  # only the leader lands, and only its own flight
        flight.land()

    def _lead(self, flight: Flight) -> None:
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
            # Led by a thread (WSGI, refresh-ahead) or by another event loop: woken by
            # the landing itself. No worker thread is tied up, no polling, and
            # cancelling stays immediate.
            landed = anyio.Event()
            wake = waker(landed)
            with anyio.move_on_after(self._wait_limit):
                if flight.on_landing(wake):
                    await landed.wait()

    def _refresh_in_background(self) -> None:
        flight, leader = self._join()
        if leader:
            logger.debug("jwtgate: refreshing %s ahead of expiry", display(self._url))
            threading.Thread(
                target=self._lead, args=(flight,), name="jwtgate-jwks-refresh", daemon=True
            ).start()

    # -- one fetch --------------------------------------------------------------

    def _run_fetch(self) -> None:
        """Fetch, validate and install the JWKS, or record the failure. Never raises."""
        if self.telemetry is None:
            self._fetch_once()
            return
        with self.telemetry.span("jwtgate.jwks.fetch"):
            ok = self._fetch_once()
        self.telemetry.jwks_fetched(ok)

    def _fetch_once(self) -> bool:
        started = self._clock()
        with self._lock:
            self._last_attempt = started
            self.fetches += 1
        url = self._url
        try:
            url = self._resolve_url()
            body, headers, final = self._get(url)
            keys = usable_keys(body, self._algorithms, self._options, self._url)
            lifetime = cache_lifetime(headers, self._options)
        except Exception as exc:  # noqa: BLE001 - a provider fault must never become a 500
            reason = str(exc) if isinstance(exc, FetchFailed) else type(exc).__name__
            self._record_failure(url, reason)
            return False
        now = self._clock()
        with self._lock:
            before = self._keys.prints() if self._keys is not None else None
            self._keys = KeyIndex(keys)
            self._expires_at = now + lifetime
            self._refresh_at = now + lifetime * (1 - REFRESH_AHEAD)
            self._fresh = (self._keys, self._refresh_at)
            self._last_ok = True
            self._failures = 0
            self._retry_at = -math.inf
            self._stale_logged = -math.inf
        logger.info(
            "jwtgate: fetched %s%s: %d key(s) (kids %s), cached for %ds",
            display(final),
            "" if final == url else f" (redirected from {display(url)})",
            len(keys),
            ", ".join(self._keys.kids()),
            lifetime,
        )
        after = self._keys.prints()
        if before is not None and before != after:
            self._rotation_seen(before, after, final)
        return True

    def _rotation_seen(
        self, before: dict[str, frozenset[str]], after: dict[str, frozenset[str]], url: str
    ) -> None:
        replaced = [kid for kid in after.keys() & before.keys() if after[kid] != before[kid]]
        detail = {
            "kids_added": ",".join(sorted(after.keys() - before.keys())),
            "kids_removed": ",".join(sorted(before.keys() - after.keys())),
            "kids_replaced": ",".join(sorted(replaced)),
            "jwks_url": display(url),
        }
        emit(AuditEvent("key_rotation", "seen", detail=detail), self.audit_hook)
        if self.telemetry is not None:
            self.telemetry.session_event("key_rotation")

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
            display(url),
            reason,
            failures,
            backoff,
            fallback,
        )

    def _get(self, url: str) -> tuple[bytes, Message, str]:
        return http_get(
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
            raise FetchFailed("discovery document is not JSON") from exc
        if not isinstance(document, dict):
            raise FetchFailed("discovery document is not a JSON object")
        # OpenID Connect Discovery 1.0 §4.3: the issuer MUST be identical to the one asked.
        if document.get("issuer") != issuer:
            raise FetchFailed("discovery document names another issuer")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not url_allowed(
            jwks_uri, self._options.allow_insecure_url
        ):
            raise FetchFailed("discovery document has no usable https jwks_uri")
        with self._lock:
            self._url = jwks_uri
        logger.info("jwtgate: discovered %s for issuer %s", display(jwks_uri), display(issuer))
        return jwks_uri
