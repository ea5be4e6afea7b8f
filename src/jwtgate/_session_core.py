"""Sessions' logic without I/O: token pairs, the store calls each operation makes,
and how their answers read, shared by :class:`~jwtgate.sessions.Sessions` and its
async twin (which only make the calls), and the audit events each one reports.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from ._breaker import NeverOpens, breaker_for
from ._sansio import Op
from .audit import EventName, Reporter
from .config import Settings
from .errors import (
    ConfigurationError,
    InvalidClaim,
    MissingClaim,
    Problem,
    ReusedToken,
    RevokedToken,
)
from .feed import AsyncCachedStore, CachedStore
from .identity import Identity
from .issue import REGISTERED_CLAIMS, Issuer, new_jti
from .stores import Rotation, SessionInfo, open_async_store, open_store
from .stores._contract import client_record
from .telemetry import timed
from .verify import Clock, Verifier

__all__ = [
    "SESSION_CLAIMS",
    "ClaimsHook",
    "Client",
    "TokenPair",
    "end_session",
    "remember_for",
    "session_id",
    "store_url",
]

logger = logging.getLogger("jwtgate")

SESSION_CLAIMS = frozenset({"sid", "token_use", "auth_time"})
ClaimsHook = Callable[[str, Mapping[str, Any]], Any]
# What a door knows of the client: ``address`` and ``user_agent`` (either may be missing).
Client = Mapping[str, str] | None

R = TypeVar("R")


@dataclass(frozen=True)
class TokenPair:
    """An access token and a refresh token of one session, with their lifetimes.

    ``grace`` is True when the pair answered a retried refresh within
    ``refresh_reuse_grace`` (see the module docs). ``repr()`` hides the tokens.
    """

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    session_id: str
    expires_in: int
    refresh_expires_in: int
    access_expires_at: int
    refresh_expires_at: int
    token_type: str = "Bearer"
    grace: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The RFC 6749 §5.1 token response body (plus ``refresh_expires_in``)."""
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "refresh_expires_in": self.refresh_expires_in,
        }


@dataclass(frozen=True)
class _Refresh:
    """What a verified refresh token says."""

    subject: str
    sid: str
    jti: str
    claims: Mapping[str, Any]
    auth_time: int | None  # when the session's user logged in; None for older tokens


def store_url(settings: Settings) -> str:
    """The configured store URL, or the E062 configuration error."""
    if settings.store is None:
        raise ConfigurationError(
            [
                Problem(
                    "jwtgate.E062",
                    "STORE",
                    "sessions need a store, and none is configured.",
                    "Set STORE, e.g. 'sqlite:///jwtgate.db', or pass store=.",
                )
            ]
        )
    return settings.store


def remember_for(settings: Settings) -> float:
    """How long a family, a logout-all mark or a revoked id must be remembered.

    As long as any token it guards can still pass verification: the longer of
    the two token lifetimes, plus the leeway.
    """
    return max(settings.access_token_ttl, settings.refresh_token_ttl) + settings.leeway


def session_id(identity: Identity) -> str | None:
    """The jwtgate session id of a verified token, or None.

    Only tokens jwtgate minted (they carry ``token_use``) have one: an identity
    provider's own ``sid`` claim names a session no jwtgate store knows.
    """
    sid = identity.claims.get("sid")
    return sid if isinstance(sid, str) and "token_use" in identity.claims else None


class _Core:
    """Everything but the store calls, shared by the sync and async classes."""

    def __init__(self, settings: Settings | Mapping[str, Any], clock: Clock) -> None:
        if not isinstance(settings, Settings):
            settings = Settings.from_dict(settings)
        self.settings = settings
        self.clock = clock
        self.issuer = Issuer(settings, clock=clock)
        self.access = Verifier(settings, clock=clock)
        self.refreshing = Verifier(settings, clock=clock, token_use="refresh")
        self.grace = float(settings.refresh_reuse_grace)
        self.family_ttl = remember_for(settings)
        self._skip = REGISTERED_CLAIMS | SESSION_CLAIMS | {settings.identity_claim}
        self.reporter = Reporter.of(settings)

    def store_url(self) -> str:
        return store_url(self.settings)

    def resolve_store(self, store: object, *, want_async: bool) -> tuple[Any, bool]:
        """The store given (checked to be sync or async as wanted), or one opened from
        a URL (``store``, else the ``store`` setting); and whether the caller owns it."""
        if store is None or isinstance(store, str):
            url = store if store is not None else self.store_url()
            prefix, timeout = self.settings.store_key_prefix, self.settings.store_timeout
            # In the cache layer, so a Gate in this process sees each revocation at once,
            # behind the breaker the Gate's revocation check shares.
            breaker = breaker_for(url, prefix)
            if want_async:
                opened = open_async_store(url, prefix=prefix, timeout=timeout)
                return AsyncCachedStore(timed(self.settings, opened, url), None, breaker), True
            sync = open_store(url, prefix=prefix, timeout=timeout)
            return CachedStore(timed(self.settings, sync, url), None, breaker), True
        if inspect.iscoroutinefunction(getattr(store, "rotate", None)) != want_async:
            raise TypeError(
                "this store is sync: use Sessions, or open_async_store()"
                if want_async
                else "this store is async: use AsyncSessions"
            )
        if isinstance(store, CachedStore | AsyncCachedStore):
            return store, False
        # A store object too: each revocation is announced to this process's views; its
        # calls are the app's to pace (a retry after a 503 goes straight to the store).
        given: Any = store  # a Store or an AsyncStore, as checked just above
        layer = AsyncCachedStore if want_async else CachedStore
        return layer(given, None, NeverOpens()), False

    def check_claims(self, claims: Mapping[str, Any] | None) -> dict[str, Any]:
        if claims is not None and not isinstance(claims, Mapping):
            raise TypeError(f"claims must be a mapping, not {type(claims).__name__}")
        extra = dict(claims or {})
        clash = sorted(SESSION_CLAIMS.intersection(extra))
        if clash:
            raise ValueError(f"claims may not override session claims: {', '.join(clash)}")
        return extra

    def with_claims(self, token: _Refresh, claims: Mapping[str, Any] | None) -> _Refresh:
        """``token`` carrying ``claims`` (what the claims hook answered) into the next pair."""
        return replace(token, claims=self.check_claims(claims))

    def pair(
        self,
        subject: str,
        claims: Mapping[str, Any],
        sid: str,
        refresh_jti: str,
        *,
        grace: bool,
        auth_time: int | None,
    ) -> TokenPair:
        settings = self.settings
        session = {"sid": sid} if auth_time is None else {"sid": sid, "auth_time": auth_time}
        access = self.issuer.claims_for(subject, claims, settings.access_token_ttl)
        access.update(session, token_use="access")
        refresh = self.issuer.claims_for(subject, claims, settings.refresh_token_ttl)
        refresh.update(session, jti=refresh_jti, token_use="refresh")
        return TokenPair(
            access_token=self.issuer.encode(access),
            refresh_token=self.issuer.encode(refresh),
            session_id=sid,
            expires_in=settings.access_token_ttl,
            refresh_expires_in=settings.refresh_token_ttl,
            access_expires_at=access["exp"],
            refresh_expires_at=refresh["exp"],
            grace=grace,
        )

    def parse_refresh(self, identity: Identity) -> _Refresh:
        claims = identity.claims
        for name in ("sid", "jti"):
            value = claims.get(name)
            if value is None:
                raise MissingClaim(name)
            if not isinstance(value, str) or not value:
                raise InvalidClaim(name)
        extra = {k: v for k, v in claims.items() if k not in self._skip}
        auth_time = claims.get("auth_time")
        if isinstance(auth_time, bool) or not isinstance(auth_time, int):
            auth_time = None
        return _Refresh(str(identity.subject), claims["sid"], claims["jti"], extra, auth_time)

    def after_rotation(
        self, token: _Refresh, rotation: Rotation, new: str, client: Client, *, issued: bool
    ) -> TokenPair:
        """The next pair; ``issued``: it reaches the client (a refresh), so it is reported
        (a logout-all that only consumes the token reports the logout alone)."""
        report = functools.partial(self.reporter.report, subject=token.subject, client=client)
        if rotation.outcome == "rotated":
            # The successor the store recorded: ``new``, or the one a rotation in
            # doubt already chose (this request retries it).
            successor = rotation.current if rotation.current is not None else new
            if issued:
                report("refresh", "success", session_id=token.sid)
            return self.next_pair(token, successor, grace=False)
        if rotation.outcome == "grace" and rotation.current is not None:
            if issued:
                report("refresh", "grace", session_id=token.sid)
            return self.next_pair(token, rotation.current, grace=True)
        if rotation.outcome == "reused":
            # Worth an alert: either a client bug or a stolen refresh token.
            logger.warning(
                "jwtgate: refresh token reuse detected; session %s revoked (RFC 9700 §4.14.2)",
                token.sid,
            )
            report("reuse_detected", "session_revoked", session_id=token.sid)
            raise ReusedToken()
        report("refresh", "refused", session_id=token.sid)
        raise RevokedToken()

    def next_pair(self, token: _Refresh, refresh_jti: str, *, grace: bool) -> TokenPair:
        subject, claims, sid, auth_time = token.subject, token.claims, token.sid, token.auth_time
        return self.pair(subject, claims, sid, refresh_jti, grace=grace, auth_time=auth_time)

    def jti_ttl(self, identity: Identity) -> float:
        exp = identity.claims.get("exp")
        if exp is None:
            return float(self.family_ttl)
        return max(1.0, float(exp) + self.settings.leeway - self.clock())

    # -- the operations, as store calls to make and answers to read ----------------

    def login(self, subject: str, claims: Mapping[str, Any], client: Client) -> Op[TokenPair]:
        sid, jti, now, ttl = new_jti(), new_jti(), self.clock(), self.family_ttl
        pair = self.pair(subject, claims, sid, jti, grace=False, auth_time=int(now))
        recorded = client_record(client)

        def started(_answer: object) -> TokenPair:
            self.reporter.report("login", "success", subject, sid, recorded)
            return pair

        return Op(
            lambda store: store.create_session(
                subject, sid, jti, now=now, ttl=ttl, client=recorded
            ),
            started,
        )

    def refresh(self, token: _Refresh, client: Client, *, issued: bool = True) -> Op[TokenPair]:
        new, now, grace, ttl = new_jti(), self.clock(), self.grace, self.family_ttl
        recorded = client_record(client)
        return Op(
            lambda store: store.rotate(
                token.subject, token.sid, token.jti, new, now=now, grace=grace, ttl=ttl
            ),
            lambda rotation: self.after_rotation(token, rotation, new, recorded, issued=issued),
        )

    def logout(self, identity: Identity, client: Client) -> Op[bool]:
        subject, sid = str(identity.subject), session_id(identity)
        if sid is None:
            return self.revoke_jti(identity, client, event="logout")
        recorded = client_record(client)

        def ended(existed: object) -> bool:
            outcome = "success" if existed else "not_found"
            self.reporter.report("logout", outcome, subject, sid, recorded)
            return bool(existed)

        return Op(lambda store: store.revoke_session(subject, sid), ended)

    def logout_all(self, subject: str, client: Client) -> Op[None]:
        at, ttl = self.clock(), self.family_ttl
        recorded = client_record(client)

        def ended(_answer: object) -> None:
            self.reporter.report("logout_all", "success", subject, None, recorded)

        return Op(lambda store: store.revoke_subject(subject, at=at, ttl=ttl), ended)

    def revoke_jti(
        self, identity: Identity, client: Client = None, *, event: EventName = "revoke"
    ) -> Op[bool]:
        jti = identity.claims.get("jti")
        if not isinstance(jti, str):
            return Op(None, _is(False))
        subject, ttl = str(identity.subject), self.jti_ttl(identity)
        recorded = client_record(client)

        def revoked(_answer: object) -> bool:
            self.reporter.report(event, "success", subject, None, recorded, {"jti": jti})
            return True

        return Op(lambda store: store.revoke_jti(subject, jti, ttl=ttl), revoked)

    def inventory(self, subject: str) -> Op[list[SessionInfo]]:
        return Op(lambda store: store.list_sessions(subject), list)


def end_session(
    sid: str, reporter: Reporter, client: Client = None
) -> Generator[Op[Any], Any, bool]:
    """The flow that ends the session ``sid`` knowing only its id (an operator's revoke):
    find its subject, then revoke it; True when it was live."""
    subject = yield Op(lambda store: store.session_subject(sid), _same)
    revoked = False
    if subject is not None:
        revoked = yield Op(lambda store: store.revoke_session(subject, sid), bool)
    detail = {"target": "session"}
    outcome = "success" if revoked else "not_found"
    reporter.report("revoke", outcome, subject, sid, client_record(client), detail)
    return bool(revoked)


def _same(answer: Any) -> Any:
    return answer


def _is(value: R) -> Callable[[object], R]:
    return lambda _answer: value
