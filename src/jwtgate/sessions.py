"""Sessions that really end: refresh-token rotation, reuse detection, logout everywhere.

``Sessions(settings, store)`` (and its async twin :class:`AsyncSessions`) issues
a **token pair** at login: a short-lived access token (``access_token_ttl``) and
a long-lived refresh token (``refresh_token_ttl``). Both carry the session id
``sid``; the ``token_use`` claim (``"access"`` / ``"refresh"``) tells them apart,
so a refresh token is never accepted as an access token (``WrongTokenType``) and
an access token never refreshes.

Every refresh consumes the refresh token **atomically** in the store and issues
a new one in the same *family*. A consumed token presented again is **reuse**:
the legitimate client and a thief cannot be told apart, so the whole family is
revoked (RFC 9700 §4.14.2) and both hold nothing usable. ``refresh_reuse_grace``
(seconds, default 0) lets the token just consumed be presented again for a
short while (two tabs refreshing at once, a retry after a lost response): such
a request gets a fresh access token and a refresh token naming the family's
*current* id, without forking the family.

A refresh is applied **exactly once**: no store call is re-sent automatically,
and a rotation the store applied after the server stopped waiting for it (a
stalled Redis; the client got a 503) is recorded as in doubt, so the client's
retry with the same refresh token gets that rotation's successor instead of
counting as reuse (see ``jwtgate.stores.Store.rotate``).

``logout(token)`` ends one session (or, for a token without a session, revokes
its ``jti``); ``logout_all(subject)`` ends every session of the subject on
every machine sharing the store, and refuses tokens issued before it.

Store failures raise :class:`~jwtgate.errors.StoreUnavailable` (503): a session
operation never succeeds without the store.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Generic, TypeVar

from ._sansio import Op
from .config import Settings
from .errors import (
    ConfigurationError,
    InvalidClaim,
    MissingClaim,
    Problem,
    ReusedToken,
    RevokedToken,
    WrongTokenType,
)
from .feed import AsyncCachedStore, CachedStore
from .identity import Identity
from .issue import REGISTERED_CLAIMS, Issuer, new_jti
from .stores import AsyncStore, Rotation, Store, open_async_store, open_store
from .verify import Clock, Verifier

__all__ = [
    "AsyncSessions",
    "Sessions",
    "TokenPair",
    "purge_expired",
    "revoke_jti",
    "revoke_subject",
]

logger = logging.getLogger("jwtgate")

SESSION_CLAIMS = frozenset({"sid", "token_use", "auth_time"})
ClaimsHook = Callable[[str, Mapping[str, Any]], Any]

R = TypeVar("R")
StoreT = TypeVar("StoreT", Store, AsyncStore)


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

    def store_url(self) -> str:
        return store_url(self.settings)

    def resolve_store(self, store: object, *, want_async: bool) -> tuple[Any, bool]:
        """The store given (checked to be sync or async as wanted), or one opened from
        a URL (``store``, else the ``store`` setting); and whether the caller owns it."""
        if store is None or isinstance(store, str):
            url = store if store is not None else self.store_url()
            prefix = self.settings.store_key_prefix
            # In the cache layer, so a Gate in this process sees each revocation at once.
            if want_async:
                return AsyncCachedStore(open_async_store(url, prefix=prefix)), True
            return CachedStore(open_store(url, prefix=prefix)), True
        if inspect.iscoroutinefunction(getattr(store, "rotate", None)) != want_async:
            raise TypeError(
                "this store is sync: use Sessions, or open_async_store()"
                if want_async
                else "this store is async: use AsyncSessions"
            )
        return store, False

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

    def after_rotation(self, token: _Refresh, rotation: Rotation, new: str) -> TokenPair:
        if rotation.outcome == "rotated":
            # The successor the store recorded: ``new``, or the one a rotation in
            # doubt already chose (this request retries it).
            successor = rotation.current if rotation.current is not None else new
            return self.next_pair(token, successor, grace=False)
        if rotation.outcome == "grace" and rotation.current is not None:
            return self.next_pair(token, rotation.current, grace=True)
        if rotation.outcome == "reused":
            # Worth an alert: either a client bug or a stolen refresh token.
            logger.warning(
                "jwtgate: refresh token reuse detected; session %s revoked (RFC 9700 §4.14.2)",
                token.sid,
            )
            raise ReusedToken()
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

    def login(self, subject: str, claims: Mapping[str, Any]) -> Op[TokenPair]:
        sid, jti, now, ttl = new_jti(), new_jti(), self.clock(), self.family_ttl
        pair = self.pair(subject, claims, sid, jti, grace=False, auth_time=int(now))
        return Op(
            lambda store: store.create_session(subject, sid, jti, now=now, ttl=ttl), _is(pair)
        )

    def refresh(self, token: _Refresh) -> Op[TokenPair]:
        new, now, grace, ttl = new_jti(), self.clock(), self.grace, self.family_ttl
        return Op(
            lambda store: store.rotate(
                token.subject, token.sid, token.jti, new, now=now, grace=grace, ttl=ttl
            ),
            lambda rotation: self.after_rotation(token, rotation, new),
        )

    def logout(self, identity: Identity) -> Op[bool]:
        subject, sid = str(identity.subject), session_id(identity)
        if sid is None:
            return self.revoke_jti(identity)
        return Op(lambda store: store.revoke_session(subject, sid), bool)

    def logout_all(self, subject: str) -> Op[None]:
        at, ttl = self.clock(), self.family_ttl
        return Op(lambda store: store.revoke_subject(subject, at=at, ttl=ttl), _is(None))

    def revoke_jti(self, identity: Identity) -> Op[bool]:
        jti = identity.claims.get("jti")
        if not isinstance(jti, str):
            return Op(None, _is(False))
        subject, ttl = str(identity.subject), self.jti_ttl(identity)
        return Op(lambda store: store.revoke_jti(subject, jti, ttl=ttl), _is(True))


def _is(value: R) -> Callable[[object], R]:
    return lambda _answer: value


class _Twin(Generic[StoreT]):
    """The constructor both classes share; their methods differ only in awaiting."""

    _is_async: ClassVar[bool]

    def __init__(
        self,
        settings: Settings | Mapping[str, Any],
        store: StoreT | str | None = None,
        *,
        clock: Clock = time.time,
        claims: ClaimsHook | None = None,
    ) -> None:
        if claims is not None and not callable(claims):
            raise TypeError("claims must be a function (subject, claims) -> claims, or None")
        self._core = core = _Core(settings, clock)
        self.settings = core.settings
        self.claims_hook = claims if claims is not None else core.settings.claims_hook
        self.store: StoreT
        self.store, self._owns_store = core.resolve_store(store, want_async=self._is_async)


class Sessions(_Twin[Store]):
    """Login, refresh, logout and logout-all over a sync :class:`~jwtgate.stores.Store`.

    ``store`` is a store object or a URL; by default the ``store`` setting is
    opened (and closed by :meth:`close`).
    """

    _is_async = False

    def login(self, subject: str, claims: Mapping[str, Any] | None = None) -> TokenPair:
        """Start a session for ``subject``; ``claims`` (after the claims hook) go into both
        tokens, with ``auth_time``, the time of this login."""
        core = self._core
        return self._run(core.login(subject, core.check_claims(self._hook(subject, claims))))

    def refresh(self, refresh_token: str) -> TokenPair:
        """Consume ``refresh_token`` and return the session's next pair.

        The claims the refresh token carries go through the claims hook again, so a
        changed role reaches the next access token. Raises ``WrongTokenType`` for an
        access token, ``ReusedToken`` when a consumed token comes back (the session
        is then revoked), ``RevokedToken`` for an ended session, any
        ``InvalidToken`` for a bad token.
        """
        core = self._core
        token = core.parse_refresh(core.refreshing.verify(refresh_token))
        return self._run(
            core.refresh(core.with_claims(token, self._hook(token.subject, token.claims)))
        )

    def _hook(self, subject: str, claims: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        hook = self.claims_hook
        return claims if hook is None else hook(subject, dict(claims or {}))

    def verify(self, token: str) -> Identity:
        """An access or refresh token of these settings, verified (signature, time, claims)."""
        try:
            return self._core.access.verify(token)
        except WrongTokenType:
            return self._core.refreshing.verify(token)

    def logout(self, token: str) -> bool:
        """End the session of ``token`` (access or refresh); True when something was revoked.

        A token without a session id has its ``jti`` revoked instead.
        """
        return self._run(self._core.logout(self.verify(token)))

    def logout_all(self, subject: str) -> None:
        """End every session of ``subject`` and refuse every token issued to it until now."""
        self._run(self._core.logout_all(subject))

    def revoke_jti(self, identity: Identity) -> bool:
        """Revoke one token by its ``jti``, remembered until the token expires."""
        return self._run(self._core.revoke_jti(identity))

    def _run(self, op: Op[R]) -> R:
        return op.read(None if op.call is None else op.call(self.store))

    def close(self) -> None:
        """Close the store if these Sessions opened it."""
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> Sessions:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncSessions(_Twin[AsyncStore]):
    """The async twin of :class:`Sessions`, over an :class:`~jwtgate.stores.AsyncStore`."""

    _is_async = True

    async def login(self, subject: str, claims: Mapping[str, Any] | None = None) -> TokenPair:
        """See :meth:`Sessions.login` (the claims hook may be async)."""
        core = self._core
        extra = core.check_claims(await self._hook(subject, claims))
        return await self._run(core.login(subject, extra))

    async def refresh(self, refresh_token: str) -> TokenPair:
        """See :meth:`Sessions.refresh`."""
        core = self._core
        token = core.parse_refresh(await core.refreshing.verify_async(refresh_token))
        hooked = core.with_claims(token, await self._hook(token.subject, token.claims))
        return await self._run(core.refresh(hooked))

    async def _hook(
        self, subject: str, claims: Mapping[str, Any] | None
    ) -> Mapping[str, Any] | None:
        hook = self.claims_hook
        if hook is None:
            return claims
        answer = hook(subject, dict(claims or {}))
        hooked: Mapping[str, Any] | None = await answer if inspect.isawaitable(answer) else answer
        return hooked

    async def verify(self, token: str) -> Identity:
        """See :meth:`Sessions.verify`."""
        try:
            return await self._core.access.verify_async(token)
        except WrongTokenType:
            return await self._core.refreshing.verify_async(token)

    async def logout(self, token: str) -> bool:
        """See :meth:`Sessions.logout`."""
        return await self._run(self._core.logout(await self.verify(token)))

    async def logout_all(self, subject: str) -> None:
        """See :meth:`Sessions.logout_all`."""
        await self._run(self._core.logout_all(subject))

    async def revoke_jti(self, identity: Identity) -> bool:
        """See :meth:`Sessions.revoke_jti`."""
        return await self._run(self._core.revoke_jti(identity))

    async def _run(self, op: Op[R]) -> R:
        return op.read(None if op.call is None else await op.call(self.store))

    async def aclose(self) -> None:
        """Close the store if these sessions opened it."""
        if self._owns_store:
            await self.store.aclose()

    async def __aenter__(self) -> AsyncSessions:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


# -- housekeeping (the ``jwtgate`` CLI calls these) ------------------------------


def _settings(settings: Settings | Mapping[str, Any]) -> Settings:
    return settings if isinstance(settings, Settings) else Settings.from_dict(settings)


def revoke_jti(
    settings: Settings | Mapping[str, Any],
    subject: str,
    jti: str,
    *,
    ttl: float | None = None,
) -> None:
    """Revoke the token ``jti`` of ``subject`` in the configured store.

    ``ttl``: how long to remember it (default: the longest token lifetime).
    """
    settings = _settings(settings)
    with CachedStore(open_store(store_url(settings), prefix=settings.store_key_prefix)) as store:
        store.revoke_jti(subject, jti, ttl=ttl if ttl is not None else remember_for(settings))


def revoke_subject(settings: Settings | Mapping[str, Any], subject: str) -> None:
    """Log ``subject`` out everywhere in the configured store (no signing key needed)."""
    settings = _settings(settings)
    with CachedStore(open_store(store_url(settings), prefix=settings.store_key_prefix)) as store:
        store.revoke_subject(subject, at=time.time(), ttl=remember_for(settings))


def purge_expired(settings: Settings | Mapping[str, Any]) -> int:
    """Delete expired entries from the configured store; the number deleted."""
    settings = _settings(settings)
    with open_store(store_url(settings), prefix=settings.store_key_prefix) as store:
        return store.purge_expired()
