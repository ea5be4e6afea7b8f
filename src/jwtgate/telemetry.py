"""OpenTelemetry metrics and spans, when the ``telemetry`` setting is on.

Install ``jwtgate[otel]`` (the OpenTelemetry API) and set ``telemetry: True``;
configure the SDK and an exporter in the app as usual (docs/observability.md).
With the setting off, nothing here is imported and no code path changes: the
Gate, the Verifier and the stores are instrumented when they are built, by
wrapping their methods, never by a test on every request.

Metrics (attributes are low-cardinality by construction: never a token, a
subject or a path):

==========================  ================================================
``jwtgate.requests``        decisions: ``outcome`` (``accepted``, ``refused``,
                            ``public``, ``unavailable``) and, unless accepted,
                            ``reason`` (``expired_token``, ``missing_token``…)
``jwtgate.verify.cache``    verify-cache lookups: ``result`` (``hit``, ``miss``)
``jwtgate.jwks.fetches``    JWKS fetches: ``result`` (``ok``, ``error``)
``jwtgate.jwks.key_age``    seconds since the keys in use were fetched
``jwtgate.store.duration``  store calls: ``operation``, ``backend`` (seconds)
``jwtgate.store.errors``    failed store calls: ``operation``, ``backend``
``jwtgate.sessions.events`` session events: ``event`` (the audit event names)
==========================  ================================================

The two per-request counters are kept in this process and read by the SDK when
it collects (asynchronous instruments), so a cached request pays a dictionary
increment, not an SDK call. Spans cover the slow operations only: a full token
verification (``jwtgate.verify``), a JWKS fetch (``jwtgate.jwks.fetch``) and each
store call (``jwtgate.store.<operation>``); a cached request makes none.
"""

from __future__ import annotations

import functools
import inspect
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from ._version import __version__
from .errors import RequestError, StoreUnavailable
from .identity import Identity

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.trace import Tracer

    from .config import Settings
    from .http import Rejection

# The rest (Telemetry, telemetry_for, timed…) is how jwtgate instruments itself.
__all__ = ["METRICS", "SPANS", "reason_id"]

F = TypeVar("F", bound=Callable[..., Any])
S = TypeVar("S")

METRICS = (
    "jwtgate.requests",
    "jwtgate.verify.cache",
    "jwtgate.jwks.fetches",
    "jwtgate.jwks.key_age",
    "jwtgate.store.duration",
    "jwtgate.store.errors",
    "jwtgate.sessions.events",
)
SPANS = ("jwtgate.verify", "jwtgate.jwks.fetch", "jwtgate.store.<operation>")

STORE_OPERATIONS = (
    "create_session",
    "rotate",
    "revoke_session",
    "revoke_jti",
    "revoke_subject",
    "is_revoked",
    "list_sessions",
    "session_subject",
    "purge_expired",
    "claim_once",
)

_reasons: dict[type[RequestError], str] = {}


def reason_id(error: RequestError) -> str:
    """A refusal's stable reason id: its class name in snake case (``ExpiredToken`` ->
    ``expired_token``), one of a fixed set."""
    kind = type(error)
    found = _reasons.get(kind)
    if found is None:
        found = _reasons[kind] = re.sub(r"(?<!^)(?=[A-Z])", "_", kind.__name__).lower()
    return found


class Telemetry:
    """The instruments, on the global OpenTelemetry providers (one per process)."""

    def __init__(self) -> None:
        from opentelemetry import metrics, trace

        meter = metrics.get_meter("jwtgate", __version__)
        self.tracer: Tracer = trace.get_tracer("jwtgate", __version__)
        self._lock = threading.Lock()
        self._tallies = Tallies()
        self._keys_fetched_at: dict[str, float] = {}
        meter.create_observable_counter(
            "jwtgate.requests",
            callbacks=[self._observe_decisions],
            unit="{request}",
            description="Requests decided by jwtgate, by outcome and refusal reason",
        )
        meter.create_observable_counter(
            "jwtgate.verify.cache",
            callbacks=[self._observe_lookups],
            unit="{lookup}",
            description="Verified-token cache lookups, by result",
        )
        self._fetches = meter.create_counter(
            "jwtgate.jwks.fetches", unit="{fetch}", description="JWKS fetches, by result"
        )
        meter.create_observable_gauge(
            "jwtgate.jwks.key_age",
            callbacks=[self._observe_key_age],
            unit="s",
            description="Seconds since the JWKS in use was fetched",
        )
        self._store_duration = meter.create_histogram(
            "jwtgate.store.duration", unit="s", description="Store calls, by operation and backend"
        )
        self._store_errors = meter.create_counter(
            "jwtgate.store.errors", unit="{error}", description="Failed store calls"
        )
        self._events = meter.create_counter(
            "jwtgate.sessions.events", unit="{event}", description="Session events, by event"
        )

    # -- the per-request counters (read at collection) ---------------------------

    def _observe_decisions(self, _options: CallbackOptions) -> Iterable[Observation]:
        from opentelemetry.metrics import Observation

        for key, value in self._tallies.totals().items():
            if key in (_ACCEPTED, _PUBLIC):
                yield Observation(value, {"outcome": key})
            elif isinstance(key, tuple):
                yield Observation(value, {"outcome": key[0], "reason": key[1]})

    def _observe_lookups(self, _options: CallbackOptions) -> Iterable[Observation]:
        from opentelemetry.metrics import Observation

        for key, value in self._tallies.totals().items():
            if key in (_HIT, _MISS):
                yield Observation(value, {"result": key})

    def _observe_key_age(self, _options: CallbackOptions) -> Iterable[Observation]:
        from opentelemetry.metrics import Observation

        now = time.time()
        with self._lock:
            fetched = dict(self._keys_fetched_at)
        for source, at in fetched.items():
            yield Observation(now - at, {"source": source})

    # -- rarer events (synchronous instruments) ------------------------------------

    def jwks_fetched(self, ok: bool, source: str = "jwks") -> None:
        """Count a JWKS fetch; a good one resets the key age."""
        self._fetches.add(1, {"result": "ok" if ok else "error"})
        if ok:
            with self._lock:
                self._keys_fetched_at[source] = time.time()

    def session_event(self, event: str) -> None:
        """Count a session event (the audit event name)."""
        self._events.add(1, {"event": event})

    @contextmanager
    def span(self, name: str) -> Iterator[None]:
        """A span for a slow operation."""
        with self.tracer.start_as_current_span(name):
            yield

    @contextmanager
    def store_call(self, operation: str, backend: str) -> Iterator[None]:
        """Time a store call, with its span; count it as an error when it fails."""
        attributes = {"operation": operation, "backend": backend}
        started = time.perf_counter()
        with self.tracer.start_as_current_span(f"jwtgate.store.{operation}", attributes=attributes):
            try:
                yield
            except StoreUnavailable:
                self._store_errors.add(1, attributes)
                raise
            finally:
                self._store_duration.record(time.perf_counter() - started, attributes)

    # -- instrumenting objects when they are built ----------------------------------

    def counting(self, decide: F) -> F:
        """``decide`` (a Gate's, sync or async), counting each decision."""
        local, mine, add = self._tallies.local, self._tallies.mine, self._tallies.add
        if inspect.iscoroutinefunction(decide):

            @functools.wraps(decide)
            async def counted_async(request: Any) -> Any:
                decision = await decide(request)
                add(_decision_key(decision))
                return decision

            return counted_async  # type: ignore[return-value]

        # The hot path: Tallies.add inlined (a call less), one thread-local dict
        # increment, no lock, no SDK call.
        @functools.wraps(decide)
        def counted(request: Any) -> Any:
            decision = decide(request)
            try:
                tally = local.tally
            except AttributeError:
                tally = mine()
            key = (
                _ACCEPTED
                if decision.__class__ is Identity and decision.subject is not None
                else _decision_key(decision)
            )
            tally[key] = tally.get(key, 0) + 1
            return decision

        return counted  # type: ignore[return-value]

    def hits(self, lookup: F) -> F:
        """A cache lookup (answers None on a miss) that counts its hits."""
        local, mine = self._tallies.local, self._tallies.mine

        @functools.wraps(lookup)
        def counted(token: Any) -> Any:
            found = lookup(token)
            if found is not None:
                try:
                    tally = local.tally
                except AttributeError:
                    tally = mine()
                tally[_HIT] = tally.get(_HIT, 0) + 1
            return found

        return counted  # type: ignore[return-value]

    def misses(self, verify: F) -> F:
        """A full verification (sync or async): counted as a miss, in a span."""
        add, span = self._tallies.add, self.span
        if inspect.iscoroutinefunction(verify):

            @functools.wraps(verify)
            async def traced_async(*args: Any) -> Any:
                add(_MISS)
                with span("jwtgate.verify"):
                    return await verify(*args)

            return traced_async  # type: ignore[return-value]

        @functools.wraps(verify)
        def traced(*args: Any) -> Any:
            add(_MISS)
            with span("jwtgate.verify"):
                return verify(*args)

        return traced  # type: ignore[return-value]

    def timed_store(self, store: Any, backend: str) -> Any:
        """``store`` with each protocol operation timed (patched on the object itself, so
        it keeps its class, its other methods and ``isinstance`` checks)."""
        if getattr(store, "_jwtgate_timed", False):  # a shared memory:// store, timed once
            return store
        for operation in STORE_OPERATIONS:
            method = getattr(store, operation, None)
            if method is not None:
                setattr(store, operation, self._timed(method, operation, backend))
        store._jwtgate_timed = True
        return store

    def _timed(self, method: F, operation: str, backend: str) -> F:
        store_call = self.store_call
        if inspect.iscoroutinefunction(method):

            @functools.wraps(method)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                with store_call(operation, backend):
                    return await method(*args, **kwargs)

            return timed_async  # type: ignore[return-value]

        @functools.wraps(method)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with store_call(operation, backend):
                return method(*args, **kwargs)

        return timed  # type: ignore[return-value]


# Keys of the tallies; plain strings for the common cases (their hash is cached).
_HIT, _MISS, _ACCEPTED, _PUBLIC = "hit", "miss", "accepted", "public"


def _decision_key(decision: Identity | Rejection) -> str | tuple[str, str]:
    if isinstance(decision, Identity):
        return _ACCEPTED if decision.subject is not None else _PUBLIC
    error: RequestError = decision.error
    return ("unavailable" if error.status == 503 else "refused", reason_id(error))


class Tallies:
    """Counters kept per thread, so counting needs no lock: each thread writes only
    its own dict; :meth:`totals` sums them (and folds in those of threads that ended,
    so a server that starts a thread per request does not grow them without bound)."""

    def __init__(self) -> None:
        self.local = threading.local()
        self._lock = threading.Lock()
        self._live: list[tuple[threading.Thread, dict[Any, int]]] = []
        self._ended: dict[Any, int] = {}

    def mine(self) -> dict[Any, int]:
        """This thread's counters."""
        try:
            tally: dict[Any, int] = self.local.tally
        except AttributeError:
            tally = self.local.tally = {}
            with self._lock:
                self._live.append((threading.current_thread(), tally))
        return tally

    def add(self, key: Any) -> None:
        """Count one ``key`` in this thread's counters."""
        tally = self.mine()
        tally[key] = tally.get(key, 0) + 1

    def totals(self) -> dict[Any, int]:
        """Every count so far, summed over all threads."""
        with self._lock:
            live = []
            for thread, tally in self._live:
                if thread.is_alive():
                    live.append((thread, tally))
                else:
                    _add(self._ended, dict(tally))
            self._live = live
            summed = dict(self._ended)
            tallies = [dict(tally) for _, tally in live]  # a copy: the owners keep writing
        for tally in tallies:
            _add(summed, tally)
        return summed


def _add(into: dict[Any, int], counts: dict[Any, int]) -> None:
    for key, value in counts.items():
        into[key] = into.get(key, 0) + value


_shared: Telemetry | None = None
_building = threading.Lock()


def telemetry_for(settings: Settings) -> Telemetry | None:
    """The process's :class:`Telemetry` when ``settings.telemetry`` is on, else None
    (and then nothing of OpenTelemetry is imported)."""
    global _shared
    if not settings.telemetry:
        return None
    if _shared is None:
        with _building:
            if _shared is None:
                _shared = Telemetry()
    return _shared


def timed(settings: Settings, store: S, url: str) -> S:
    """``store`` (opened from ``url``) with its calls timed when telemetry is on."""
    telemetry = telemetry_for(settings)
    return store if telemetry is None else telemetry.timed_store(store, backend_of(url))


def backend_of(url: str) -> str:
    """The ``backend`` attribute of a store URL: its scheme, never the rest (a URL may
    carry a host, a path or a password)."""
    scheme = url.partition(":")[0].lower()
    tls, plus, mode = scheme.partition("+")
    scheme = _SCHEME_ALIASES.get(tls, tls) + plus + mode
    return scheme if scheme.isalnum() or "+" in scheme else "custom"


# One name per backend, whichever spelling the URL used (TLS is not a backend).
_SCHEME_ALIASES = {"postgres": "postgresql", "rediss": "redis"}
