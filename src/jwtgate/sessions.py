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
import time
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

from ._sansio import Op, arun, run
from ._session_core import (
    ClaimsHook,
    Client,
    TokenPair,
    _Core,
    end_session,
    remember_for,
    store_url,
)
from ._session_core import (
    session_id as session_id,  # jwtgate.sessions.session_id, as before the split
)
from .audit import Reporter
from .config import Settings
from .errors import WrongTokenType
from .feed import CachedStore
from .identity import Identity
from .stores import AsyncStore, SessionInfo, Store, open_store
from .verify import Clock

__all__ = [
    "AsyncSessions",
    "Sessions",
    "TokenPair",
    "list_sessions",
    "purge_expired",
    "revoke_jti",
    "revoke_session",
    "revoke_subject",
]

R = TypeVar("R")
StoreT = TypeVar("StoreT", Store, AsyncStore)


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
        # Calls go through the cache layer (each revocation announced to this process's
        # views); ``store`` is the object given, or else the layer over the one opened.
        self._through, self._owns_store = core.resolve_store(store, want_async=self._is_async)
        self.store: StoreT = self._through if store is None or isinstance(store, str) else store


class Sessions(_Twin[Store]):
    """Login, refresh, logout and logout-all over a sync :class:`~jwtgate.stores.Store`.

    ``store`` is a store object or a URL; by default the ``store`` setting is
    opened (and closed by :meth:`close`).
    """

    _is_async = False

    def login(
        self, subject: str, claims: Mapping[str, Any] | None = None, *, client: Client = None
    ) -> TokenPair:
        """Start a session for ``subject``; ``claims`` (after the claims hook) go into both
        tokens, with ``auth_time``, the time of this login. ``client`` (``address``,
        ``user_agent``) is recorded for :meth:`list` and the audit trail."""
        core = self._core
        extra = core.check_claims(self._hook(subject, claims))
        return self._run(core.login(subject, extra, client))

    def refresh(self, refresh_token: str, *, client: Client = None) -> TokenPair:
        """Consume ``refresh_token`` and return the session's next pair.

        The claims the refresh token carries go through the claims hook again, so a
        changed role reaches the next access token. Raises ``WrongTokenType`` for an
        access token, ``ReusedToken`` when a consumed token comes back (the session
        is then revoked), ``RevokedToken`` for an ended session, any
        ``InvalidToken`` for a bad token.
        """
        return self._rotate(refresh_token, client, issued=True)

    def _rotate(self, refresh_token: str, client: Client, *, issued: bool) -> TokenPair:
        # issued=False: the pair reaches nobody (the endpoints' logout-all by refresh
        # token consumes it): no refresh event, only a replay's or a dead session's.
        core = self._core
        token = core.parse_refresh(core.refreshing.verify(refresh_token))
        hooked = core.with_claims(token, self._hook(token.subject, token.claims))
        return self._run(core.refresh(hooked, client, issued=issued))

    def _hook(self, subject: str, claims: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        hook = self.claims_hook
        return claims if hook is None else hook(subject, dict(claims or {}))

    def verify(self, token: str) -> Identity:
        """An access or refresh token of these settings, verified (signature, time, claims)."""
        try:
            return self._core.access.verify(token)
        except WrongTokenType:
            return self._core.refreshing.verify(token)

    def logout(self, token: str, *, client: Client = None) -> bool:
        """End the session of ``token`` (access or refresh); True when something was revoked.

        A token without a session id has its ``jti`` revoked instead.
        """
        return self._run(self._core.logout(self.verify(token), client))

    def logout_all(self, subject: str, *, client: Client = None) -> None:
        """End every session of ``subject`` and refuse every token issued to it until now."""
        self._run(self._core.logout_all(subject, client))

    def list(self, subject: str) -> list[SessionInfo]:
        """The live sessions of ``subject``, oldest first: id, created, last refreshed,
        expiry, and the client recorded at login (see ``jwtgate.stores.SessionInfo``)."""
        return self._run(self._core.inventory(subject))

    def revoke_session(self, sid: str, *, client: Client = None) -> bool:
        """End the session ``sid`` (a "log out that device" button, an operator's revoke);
        True when it was live. Its access tokens are refused where ``check_revocation``
        is on."""
        return run(end_session(sid, self._core.reporter, client), self._run)

    def revoke_jti(self, identity: Identity) -> bool:
        """Revoke one token by its ``jti``, remembered until the token expires."""
        return self._run(self._core.revoke_jti(identity))

    def _run(self, op: Op[R]) -> R:
        return op.read(None if op.call is None else op.call(self._through))

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

    async def login(
        self, subject: str, claims: Mapping[str, Any] | None = None, *, client: Client = None
    ) -> TokenPair:
        """See :meth:`Sessions.login` (the claims hook may be async)."""
        core = self._core
        extra = core.check_claims(await self._hook(subject, claims))
        return await self._run(core.login(subject, extra, client))

    async def refresh(self, refresh_token: str, *, client: Client = None) -> TokenPair:
        """See :meth:`Sessions.refresh`."""
        return await self._rotate(refresh_token, client, issued=True)

    async def _rotate(self, refresh_token: str, client: Client, *, issued: bool) -> TokenPair:
        core = self._core
        token = core.parse_refresh(await core.refreshing.verify_async(refresh_token))
        hooked = core.with_claims(token, await self._hook(token.subject, token.claims))
        return await self._run(core.refresh(hooked, client, issued=issued))

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

    async def logout(self, token: str, *, client: Client = None) -> bool:
        """See :meth:`Sessions.logout`."""
        return await self._run(self._core.logout(await self.verify(token), client))

    async def logout_all(self, subject: str, *, client: Client = None) -> None:
        """See :meth:`Sessions.logout_all`."""
        await self._run(self._core.logout_all(subject, client))

    async def list(self, subject: str) -> list[SessionInfo]:
        """See :meth:`Sessions.list`."""
        return await self._run(self._core.inventory(subject))

    async def revoke_session(self, sid: str, *, client: Client = None) -> bool:
        """See :meth:`Sessions.revoke_session`."""
        return await arun(end_session(sid, self._core.reporter, client), self._run)

    async def revoke_jti(self, identity: Identity) -> bool:
        """See :meth:`Sessions.revoke_jti`."""
        return await self._run(self._core.revoke_jti(identity))

    async def _run(self, op: Op[R]) -> R:
        return op.read(None if op.call is None else await op.call(self._through))

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
    with _opened(settings) as store:
        store.revoke_jti(subject, jti, ttl=ttl if ttl is not None else remember_for(settings))
    Reporter.of(settings).report("revoke", "success", subject, detail={"jti": jti})


def revoke_subject(settings: Settings | Mapping[str, Any], subject: str) -> None:
    """Log ``subject`` out everywhere in the configured store (no signing key needed)."""
    settings = _settings(settings)
    with _opened(settings) as store:
        store.revoke_subject(subject, at=time.time(), ttl=remember_for(settings))
    Reporter.of(settings).report("revoke", "success", subject, detail={"target": "subject"})


def list_sessions(settings: Settings | Mapping[str, Any], subject: str) -> list[SessionInfo]:
    """The live sessions of ``subject`` in the configured store (no signing key needed)."""
    settings = _settings(settings)
    with _opened(settings) as store:
        return store.list_sessions(subject)


def revoke_session(settings: Settings | Mapping[str, Any], sid: str) -> bool:
    """End the session ``sid`` in the configured store; True when it was live."""
    settings = _settings(settings)
    with _opened(settings) as store:
        flow = end_session(sid, Reporter.of(settings))
        return run(flow, lambda op: op.read(None if op.call is None else op.call(store)))


def _opened(settings: Settings) -> CachedStore:
    # In the cache layer: its writes are announced to the processes watching the store.
    # Off the request path (the CLI, the admin), so the longer housekeeping timeout.
    return CachedStore(_housekeeping(settings))


def _housekeeping(settings: Settings) -> Store:
    timeout = settings.store_housekeeping_timeout
    return open_store(store_url(settings), prefix=settings.store_key_prefix, timeout=timeout)


def purge_expired(settings: Settings | Mapping[str, Any]) -> int:
    """Delete expired entries from the configured store; the number deleted."""
    settings = _settings(settings)
    with _housekeeping(settings) as store:
        return store.purge_expired()
