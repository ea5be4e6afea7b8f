"""The store contract: the protocols every backend implements, the outcome of a
rotation, and how a backend failure becomes ``StoreUnavailable``.

A leaf of ``jwtgate.stores``: the backends import it, never the package itself,
so the package can import them lazily without an import cycle.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from jwtgate.errors import StoreUnavailable

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "AsyncStore",
    "Outcome",
    "Rotation",
    "SessionInfo",
    "Store",
    "logger",
    "unavailable",
]

logger = logging.getLogger("jwtgate.stores")

Outcome = Literal["rotated", "grace", "reused", "revoked"]


@dataclass(frozen=True, slots=True)
class Rotation:
    """What :meth:`Store.rotate` did.

    ``outcome`` is one of:

    - ``"rotated"``: the presented refresh token was the current one; ``current``
      is now the new one. Also the answer to the *same rotation again*: an exact
      re-send of the call (same ``presented`` and ``new``), or the next
      presentation of ``presented`` after a rotation that was *in doubt* (applied
      after its caller's ``deadline``, so its caller answered 503). Then nothing
      changes and ``current`` is the successor recorded then, not ``new``.
    - ``"grace"``: the presented token is the one just replaced, within the grace
      window (a concurrent or retried request); nothing changed, ``current`` is
      the family's current refresh token id.
    - ``"reused"``: an already-consumed token was presented; the family has just
      been revoked (RFC 9700 §4.14.2).
    - ``"revoked"``: the family does not exist (any more): logged out, revoked by
      reuse or logout-all, or expired.
    """

    outcome: Outcome
    current: str | None = None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One live session, as :meth:`Store.list_sessions` reports it.

    Times are the caller's clock (seconds since the epoch), as passed to the store:
    ``created`` when the session started, ``refreshed`` at its last rotation (None
    before the first), ``expires`` when it ends unless refreshed again. ``client`` is
    what the login recorded about the client (``address``, ``user_agent``), possibly
    nothing.
    """

    sid: str
    subject: str
    created: float
    refreshed: float | None
    expires: float
    client: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """The fields as plain JSON-ready values."""
        return {
            "sid": self.sid,
            "subject": self.subject,
            "created": self.created,
            "refreshed": self.refreshed,
            "expires": self.expires,
            "client": dict(self.client),
        }


CLIENT_FIELDS = ("address", "user_agent")
CLIENT_VALUE_MAX = 256


def client_record(client: Mapping[str, str] | None) -> dict[str, str]:
    """What a store keeps of a login's client: the known fields, each at most 256 characters,
    a NUL or a lone surrogate as U+FFFD (no PostgreSQL text holds one, nor any UTF-8)."""
    if not client:
        return {}
    return {
        name: _storable(str(client[name])[:CLIENT_VALUE_MAX])
        for name in CLIENT_FIELDS
        if client.get(name) is not None
    }


def _storable(value: str) -> str:
    if value.isprintable() or ("\x00" not in value and value.isascii()):
        return value  # the usual case, at no cost
    return "".join("\ufffd" if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in value)


@runtime_checkable
class Store(Protocol):
    """The sync store protocol (memory, SQLite, Redis)."""

    def create_session(
        self,
        subject: str,
        sid: str,
        jti: str,
        *,
        now: float,
        ttl: float,
        client: Mapping[str, str] | None = None,
    ) -> None:
        """Start a family whose current refresh token id is ``jti``; ``client``
        (see :func:`client_record`) is kept for :meth:`list_sessions`."""

    def rotate(
        self,
        subject: str,
        sid: str,
        presented: str,
        new: str,
        *,
        now: float,
        grace: float,
        ttl: float,
        deadline: float | None = None,
    ) -> Rotation:
        """Atomically consume ``presented`` and make ``new`` current (see :class:`Rotation`).

        ``deadline`` (the caller's wall clock) is when the caller stops waiting
        for the answer. A rotation the store applies later than that is recorded
        as in doubt, so a retry of the same refresh is recognised. ``None``: the
        caller waits for the answer, or (network stores) the store's own socket
        timeout sets it.
        """
        ...

    def revoke_session(self, subject: str, sid: str) -> bool:
        """Revoke one session; True when it existed."""
        ...

    def revoke_jti(self, subject: str, jti: str, *, ttl: float) -> None:
        """Remember ``jti`` as revoked for ``ttl`` seconds."""

    def revoke_subject(self, subject: str, *, at: float, ttl: float) -> None:
        """Revoke every session of ``subject`` created, and token issued, before ``at``."""

    def is_revoked(
        self, subject: str, sid: str | None, jti: str | None, issued_at: float | None
    ) -> bool:
        """Whether a token is revoked; one round trip.

        With a ``sid``: its family is gone, or was created before the subject's
        logout-all mark. Without: ``issued_at`` is before that mark. Either way:
        ``jti`` was revoked.
        """
        ...

    def list_sessions(self, subject: str) -> list[SessionInfo]:
        """The live sessions of ``subject`` (not expired, revoked or logged out
        everywhere), oldest first (then by ``sid``)."""
        ...

    def session_subject(self, sid: str) -> str | None:
        """The subject of the live session ``sid``; None when there is none."""
        ...

    def purge_expired(self) -> int:
        """Delete expired entries now; the number deleted (0 where the backend expires keys)."""
        ...

    def close(self) -> None:
        """Release connections; the store cannot be used afterwards."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class AsyncStore(Protocol):
    """The async twin of :class:`Store`: same operations, awaited; ``aclose``."""

    async def create_session(
        self,
        subject: str,
        sid: str,
        jti: str,
        *,
        now: float,
        ttl: float,
        client: Mapping[str, str] | None = None,
    ) -> None:
        """See :meth:`Store.create_session`."""

    async def rotate(
        self,
        subject: str,
        sid: str,
        presented: str,
        new: str,
        *,
        now: float,
        grace: float,
        ttl: float,
        deadline: float | None = None,
    ) -> Rotation:
        """See :meth:`Store.rotate`."""
        ...

    async def revoke_session(self, subject: str, sid: str) -> bool:
        """See :meth:`Store.revoke_session`."""
        ...

    async def revoke_jti(self, subject: str, jti: str, *, ttl: float) -> None:
        """See :meth:`Store.revoke_jti`."""

    async def revoke_subject(self, subject: str, *, at: float, ttl: float) -> None:
        """See :meth:`Store.revoke_subject`."""

    async def is_revoked(
        self, subject: str, sid: str | None, jti: str | None, issued_at: float | None
    ) -> bool:
        """See :meth:`Store.is_revoked`."""
        ...

    async def list_sessions(self, subject: str) -> list[SessionInfo]:
        """See :meth:`Store.list_sessions`."""
        ...

    async def session_subject(self, sid: str) -> str | None:
        """See :meth:`Store.session_subject`."""
        ...

    async def purge_expired(self) -> int:
        """See :meth:`Store.purge_expired`."""
        ...

    async def aclose(self) -> None:
        """Release connections."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


_last_logged: dict[tuple[str, str], float] = {}
LOG_EVERY = 10.0


def unavailable(backend: str, exc: BaseException) -> StoreUnavailable:
    """A StoreUnavailable for ``exc``, its cause logged (never token material).

    The same failure is logged as a warning at most every ``LOG_EVERY`` seconds
    (an outage under load would otherwise write one line per request).
    """
    message = f"{type(exc).__name__}: {exc}"
    now = time.monotonic()
    key = (backend, message)
    last = _last_logged.get(key)
    level = logging.WARNING if last is None or now - last >= LOG_EVERY else logging.DEBUG
    if level == logging.WARNING:
        if len(_last_logged) > 1000:  # bounded: messages may vary
            _last_logged.clear()
        _last_logged[key] = now
    logger.log(level, "jwtgate: %s store unavailable: %s", backend, message)
    error = StoreUnavailable()
    error.__cause__ = exc
    return error
