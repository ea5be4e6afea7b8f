"""The Gate: the one decision object every adapter holds.

An adapter turns its request into a :class:`RequestInfo` and asks
``gate.decide(request)`` (or ``await gate.decide_async(request)``). The answer is
an :class:`~jwtgate.Identity` (let the request through, put the identity where the
stack expects it) or a :class:`~jwtgate.http.Rejection` (send it; never call the
app). Token extraction, public paths, CORS preflight, optional credentials,
scope rules, verification and error mapping all live here, so the ASGI and WSGI
stacks cannot drift apart.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _bearer
from ._reads import Reads, reads_everything
from ._request import (
    AUTHORIZATION,
    COOKIE,
    METHOD,
    PATH,
    PREFLIGHT,
    QUERY_STRING,
    RAW_PATH,
    DPoPFields,
    RequestFields,
    RequestInfo,
)
from .config import Settings
from .errors import (
    InsufficientScope,
    InsufficientUserAuthentication,
    InvalidRequest,
    MetadataAnswered,
    MissingToken,
    NonCanonicalPath,
    PreflightAnswered,
    RequestError,
    ServiceUnavailable,
    UseDPoPNonce,
)
from .http import DPoPChallenge, Rejection, render
from .identity import ANONYMOUS, Identity
from .paths import is_canonical
from .resource_metadata import metadata_answers, metadata_url
from .revocation import RevocationCheck, check_persistence
from .stores import AsyncStore, Store
from .telemetry import telemetry_for
from .verify import Clock, Verifier

if TYPE_CHECKING:
    from ._dpop_gate import DPoPDoor

__all__ = [
    "DPoPFields",
    "Gate",
    "Reads",
    "RequestFields",
    "RequestInfo",
    "reads_everything",
    "resolve_gate",
]


def _scopes_of(error: RequestError) -> tuple[str, ...] | int:
    """What besides its class and text makes the rendered answer of ``error``."""
    if isinstance(error, InsufficientUserAuthentication):
        return error.max_age
    return tuple(error.required) if isinstance(error, InsufficientScope) else ()


logger = logging.getLogger("jwtgate")


class Gate:
    """Decides, for one request, who it is or why it is refused."""

    never_waits: bool
    """Whether :meth:`decide` can never wait on I/O (keys given in settings, no
    revocation store), so an event loop may call it instead of :meth:`decide_async`
    (same answer, without a coroutine per request)."""

    dpop_door: DPoPDoor
    """The DPoP decision (``dpop`` on only): its proof checker and replay store."""

    judges_paths: bool
    """Whether paths decide anything (public paths or rules are set), so the request's
    path, raw path included, must be canonical; adapters read the raw path only then."""

    def __init__(
        self,
        settings: Settings | Mapping[str, Any],
        *,
        verifier: Verifier | None = None,
        clock: Clock = time.time,
        store: Store | None = None,
        async_store: AsyncStore | None = None,
    ) -> None:
        if not isinstance(settings, Settings):
            settings = Settings.from_dict(settings)
        self.settings = settings
        self.verifier = verifier if verifier is not None else Verifier(settings, clock=clock)
        self.header_name = settings.header_name.lower()
        self._scheme = settings.header_scheme
        self._max = settings.max_token_bytes
        self._sources = settings.token_sources
        self._header_only = settings.token_sources == ("header",)
        self._public = settings.public_paths
        self._any_public = bool(self._public)
        self._rules = settings.rules
        # Paths matter: a non-canonical one is refused before any pattern sees it.
        self.judges_paths = self._strict_paths = self._any_public or bool(self._rules)
        # RFC 9728 (one attribute: more slow every request's attribute lookups).
        self._metadata = metadata_answers(settings)
        # Only a judged path, the metadata path or a preflight can make _skips() say anything.
        self._screens = self._strict_paths or bool(settings.resource)
        self._answer_preflights = settings.cors_preflight == "answer"
        self._required = settings.credentials_required
        self._realm = settings.realm
        self._rendered: dict[tuple[Any, ...], Rejection] = {}
        self._per_route: dict[bool, Gate] = {}
        # What the adapters' request readers must fetch (the rest they may leave empty).
        self.header_bytes = self.header_name.encode("latin-1")
        self.header_key = "HTTP_" + self.header_name.upper().replace("-", "_")
        self.reads_cookie = "cookie" in self._sources
        self.reads_query = "query" in self._sources
        # A header token seen before is recalled from the verify cache before any
        # parsing, wherever the header decides alone (no query token could conflict
        # with it; a cookie never does: see token()).
        self._recalls = (
            "header" in self._sources and not self.reads_query and self.verifier.remembers
        )
        self._remembered = self.verifier.remembered
        self._prefixed_max = len(self._scheme) + 1 + self._max
        # check_revocation: one store lookup per verified token (see revocation.py).
        self.revocation = (
            RevocationCheck(settings, store=store, async_store=async_store)
            if settings.check_revocation
            else None
        )
        if self.revocation is not None and store is None and async_store is None:
            check_persistence(settings)
        # DPoP (RFC 9449): its own decision path, so a Gate without it pays nothing.
        self.reads_dpop = settings.dpop != "off"
        self._dpop: DPoPChallenge | None = None
        if self.reads_dpop:
            self._dpop = DPoPChallenge(settings.dpop_algorithms, settings.dpop == "require")
            from ._dpop_gate import DPoPDoor

            self.dpop_door = DPoPDoor(self, self.verifier.clock)  # a per-route Gate too
            self.decide = self.dpop_door.decide  # type: ignore[method-assign]
            self.decide_async = self.dpop_door.decide_async  # type: ignore[method-assign]
        telemetry = telemetry_for(settings)
        if telemetry is not None:  # counted here, so the uncounted path stays as it is
            self.decide = telemetry.counting(self.decide)  # type: ignore[method-assign]
            self.decide_async = telemetry.counting(self.decide_async)  # type: ignore[method-assign]
        # Keys from settings and no revocation store: decide() does no I/O at all, so
        # an event loop may call it directly; decide_async() would give the same answer.
        self.never_waits = self.verifier.never_blocks and self.revocation is None
        if self.reads_dpop and not self.dpop_door.replay.in_process:
            self.never_waits = False  # a proof is claimed in a store

    # -- the decision -----------------------------------------------------------

    def decide(self, request: RequestFields) -> Identity | Rejection:
        """Identity to let the request through, or the Rejection to send.

        One path for every request: a token verified before is recalled from the
        verify cache (:meth:`Verifier.remembered`) and a revocation answer from the
        per-process view, so a repeated token costs a few dictionary lookups, with
        every other step (path, preflight, public paths, rules) applied as for a
        new one.
        """
        try:
            if (self._screens or request[PREFLIGHT]) and self._skips(request):
                return ANONYMOUS
            identity = None
            # _recall(), inlined: this runs on every request.
            values = request[AUTHORIZATION]
            if self._recalls and len(values) == 1 and len(values[0]) <= self._prefixed_max:
                scheme, _, token = values[0].partition(" ")
                if scheme == self._scheme:
                    identity = self._remembered(token)
            if identity is None:
                identity = self._verify(self.token(request))
            if self.revocation is not None and identity.is_authenticated:
                self.revocation.check(identity)
            if self._rules:
                self.authorize(identity, request[METHOD], request[PATH])
        except RequestError as error:
            return self.reject(error)
        return identity

    async def decide_async(self, request: RequestFields) -> Identity | Rejection:
        """Like :meth:`decide`, for event loops: key fetches never block the loop."""
        try:
            if (self._screens or request[PREFLIGHT]) and self._skips(request):
                return ANONYMOUS
            identity = self._recall(request) if self._recalls else None
            if identity is None:
                token = self.token(request)
                if token is None or self.verifier.never_blocks:  # no I/O to wait for
                    identity = self._verify(token)
                else:
                    identity = await self.verifier.verify_async(token)
            if self.revocation is not None and identity.is_authenticated:
                await self.revocation.check_async(identity)
            if self._rules:
                self.authorize(identity, request[METHOD], request[PATH])
        except RequestError as error:
            return self.reject(error)
        return identity

    def admit(
        self,
        method: str,
        path: str,
        authorization: str,
        *,
        sync: bool = True,
        raw_path: str | None = None,
    ) -> Identity | None:
        """Deprecated: :meth:`decide` recalls a token verified before by itself.

        The identity :meth:`decide` gives a request with this one header when its
        token was verified before, else None. Removed in the next release.
        """
        warnings.warn(
            "Gate.admit is deprecated: Gate.decide recalls a token verified before by "
            "itself; it will be removed in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._admit(method, path, authorization, sync, raw_path)

    def _admit(
        self, method: str, path: str, authorization: str, sync: bool, raw_path: str | None
    ) -> Identity | None:
        request = RequestInfo(method, path, (authorization,), raw_path=raw_path)
        if method.upper() == "OPTIONS" or (self.revocation is not None and not sync):
            return None
        if not self._recalls or self._recall(request) is None:
            return None  # admit answered only for tokens verified before
        decision = self.decide(request)
        return decision if isinstance(decision, Identity) else None

    def prefetch(self) -> bool:
        """Load remote keys now (``jwks_url``), so the first request does not wait.

        True when keys are held (or none are remote). A provider that is down is
        logged by the key source; requests then fetch as usual.
        """
        prefetches = [getattr(s, "prefetch", None) for s in self.verifier.key_sources]
        # A list, not a generator: every issuer's keys are fetched, even after one failed.
        return all([bool(fetch()) for fetch in prefetches if fetch is not None])  # noqa: C419

    async def prefetch_async(self) -> bool:
        """Like :meth:`prefetch`, without blocking the event loop (ASGI lifespan startup)."""
        prefetches = [getattr(s, "prefetch_async", None) for s in self.verifier.key_sources]
        return all([bool(await fetch()) for fetch in prefetches if fetch is not None])

    def close(self) -> None:
        """Close the revocation store this Gate opened (``check_revocation``), if any."""
        if self.revocation is not None:
            self.revocation.close()
        if self.reads_dpop:
            self.dpop_door.replay.close()

    async def aclose(self) -> None:
        """Close the async revocation store this Gate opened, if any."""
        if self.revocation is not None:
            await self.revocation.aclose()
        if self.reads_dpop:
            await self.dpop_door.replay.aclose()

    # -- steps ------------------------------------------------------------------

    def _skips(self, request: RequestFields) -> bool:
        """Whether the request passes without a token; raises for a refused path or an
        answered preflight."""
        if self._strict_paths and not is_canonical(request[PATH], request[RAW_PATH]):
            raise NonCanonicalPath()
        if request[PATH] in self._metadata[0]:
            method = request[METHOD].upper()
            if method in ("GET", "HEAD"):
                raise MetadataAnswered(head=True) if method == "HEAD" else MetadataAnswered()
        if request[PREFLIGHT] and request[METHOD].upper() == "OPTIONS":
            if self._answer_preflights:
                raise PreflightAnswered()
            return True
        return self._any_public and self._public.match(request[PATH])

    def _recall(self, request: RequestFields) -> Identity | None:
        """The identity of a header token verified before, straight from the verify
        cache: only for the exact ``<scheme> <token>`` spelling, which needs no
        parsing because the cache holds only tokens that passed it (every other
        spelling, and a miss, goes through :meth:`token`)."""
        values = request[AUTHORIZATION]
        if len(values) != 1:
            return None
        value = values[0]
        if len(value) > self._prefixed_max:
            return None
        scheme, _, token = value.partition(" ")
        return self._remembered(token) if scheme == self._scheme else None

    def token(self, request: RequestFields) -> str | None:
        """The request's token from the configured sources, or None.

        A token in the header and another in the query is an ``InvalidRequest``
        (RFC 6750 §2: one method per request). A cookie is ambient (browsers send
        it on every request), so a header token takes precedence over it, and the
        cookie is then not even read (an oversized one cannot refuse the request).
        """
        if self._header_only:  # the common case: no dict, no loop
            return _bearer.from_header(request[AUTHORIZATION], self._scheme, self._max)
        sources = self._sources
        header = (
            _bearer.from_header(request[AUTHORIZATION], self._scheme, self._max)
            if "header" in sources
            else None
        )
        query = (
            _bearer.from_query(request[QUERY_STRING], self.settings.query_param, self._max)
            if "query" in sources
            else None
        )
        if header is not None:
            if query is not None:
                raise InvalidRequest("more than one token in the request")
            return header  # explicit beats ambient: the cookie is not even read
        cookie = (
            _bearer.from_cookie(request[COOKIE], self.settings.cookie_name, self._max)
            if "cookie" in sources
            else None
        )
        for source in sources:  # a cookie and a query token: the first source listed
            if source == "cookie" and cookie is not None:
                return cookie
            if source == "query" and query is not None:
                return query
        return None

    def _verify(self, token: str | None) -> Identity:
        # Only jwtgate's own errors are caught (in decide): anything else is a bug in
        # jwtgate or a key source, and surfaces as one (a 500 with its traceback),
        # never disguised as a client's bad token.
        if token is None:
            if self._required:
                raise MissingToken()
            return ANONYMOUS
        return self.verifier.verify(token)

    def authorize(self, identity: Identity, method: str, path: str) -> None:
        """Apply the scope ``rules`` that match ``method`` (any case) and ``path``.

        ``path`` must be canonical (:func:`jwtgate.paths.is_canonical`), as
        :meth:`decide` makes sure before it gets here.
        """
        method = method.upper()
        for rule in self._rules:
            if rule.applies(method, path):
                if not identity.is_authenticated:
                    raise MissingToken()
                if not rule.scopes <= identity.scopes:
                    raise InsufficientScope(sorted(rule.scopes))
                if rule.max_age is not None and not self._fresh(identity, rule.max_age):
                    raise InsufficientUserAuthentication(rule.max_age)

    def _fresh(self, identity: Identity, max_age: int) -> bool:
        """Whether the token's ``auth_time`` (when its user logged in) is at most ``max_age``
        seconds ago, give or take the leeway. A token without one is never fresh."""
        auth_time = identity.claims.get("auth_time")
        if isinstance(auth_time, bool) or not isinstance(auth_time, int | float):
            return False
        return self.verifier.clock() - auth_time <= max_age + self.settings.leeway

    def per_route(self, *, required: bool) -> Gate:
        """The Gate for a route that says itself whether it needs a token: it reads the
        token on every path (``public_paths`` do not apply) and refuses a request
        without one only when ``required``. It shares this Gate's verifier and store
        (built once per value). Per-route helpers use it (Starlette's ``@optional``,
        FastAPI's dependencies), and so can a plain WSGI or ASGI app on a public path."""
        gate = self._per_route.get(required)
        if gate is None:
            settings = self.settings.replace(
                public_paths=[], credentials_required=required, check_revocation=False
            )
            gate = Gate(settings, verifier=self.verifier)
            # The same revocation check (its store, its view), not a second one; so its
            # close() stays this Gate's.
            gate.revocation, gate.never_waits = self.revocation, self.never_waits
            if self.reads_dpop:  # one replay store: a proof is used once, whatever the route
                gate.dpop_door.replay = self.dpop_door.replay
            self._per_route[required] = gate
        return gate

    def scope_refusal(self, identity: Identity, scopes: Sequence[str]) -> Rejection | None:
        """A view's scope requirement: None when ``identity`` has every one of ``scopes``,
        else 401 (anonymous) or 403 ``insufficient_scope`` naming them (what the
        frameworks' ``requires_scopes`` answer)."""
        if not identity.is_authenticated:
            return self.reject(MissingToken())
        if identity.has_scopes(*scopes):
            return None
        return self.reject(InsufficientScope(sorted(set(scopes))))

    def reject(self, error: RequestError) -> Rejection:
        """The HTTP answer for ``error``, logged without any token material, and reshaped
        by the ``error_handler`` setting when there is one."""
        if isinstance(error, MetadataAnswered):  # an answer, not a refusal
            return self._metadata[1][error.head]
        logger.debug("jwtgate: refused (%s: %s)", type(error).__name__, error.description)
        rejection = self._render(error)
        handler = self.settings.error_handler
        if handler is None or isinstance(error, PreflightAnswered):
            return rejection
        reshaped = handler(rejection)
        if not isinstance(reshaped, Rejection):  # a bug in the handler: a 500, not a pass
            raise TypeError(f"error_handler returned {type(reshaped).__name__}, not a Rejection")
        return reshaped

    def _render(self, error: RequestError) -> Rejection:
        if isinstance(error, ServiceUnavailable | UseDPoPNonce):  # varies: never reused
            return render(
                error, self._realm, resource_metadata=self.resource_metadata, dpop=self._dpop
            )
        # The vocabulary is fixed, so each refusal is rendered once (a flood of forged
        # tokens then costs a lookup, not a JSON encoding).
        key = (type(error), error.status, error.error, error.description, _scopes_of(error))
        done = self._rendered.get(key)
        if done is None:
            done = render(
                error, self._realm, resource_metadata=self.resource_metadata, dpop=self._dpop
            )
            if len(self._rendered) < 256:
                self._rendered[key] = done
            return done
        return Rejection(done.status, done.headers, done.body, error)

    @property
    def resource_metadata(self) -> str | None:
        """The URL of the protected resource metadata (``resource`` set), or None."""
        resource = self.settings.resource
        return metadata_url(resource) if resource else None

    def expires_at(self, identity: Identity) -> float | None:
        """When ``identity`` stops being valid (``exp`` plus leeway), or None."""
        exp = identity.claims.get("exp")
        if exp is None:
            return None
        return float(exp) + self.settings.leeway


def resolve_gate(
    settings: Settings | Mapping[str, Any] | None, gate: Gate | None, owner: str
) -> Gate:
    """The Gate an adapter was given, or one built from ``settings`` (exactly one of them)."""
    if gate is None:
        if settings is None:
            raise TypeError(f"{owner} needs settings= (or a ready gate=)")
        return Gate(settings)
    if settings is not None:
        raise TypeError(f"{owner} takes settings= or gate=, not both")
    return gate
