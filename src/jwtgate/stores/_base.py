"""What the local backends (memory, SQLite) share: the rotation rule and context managers.

The Redis backend runs the same rule as a Lua script (``redis.py``); the contract
tests hold the three to one behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

from ._contract import Rotation, SessionInfo

if TYPE_CHECKING:
    from typing_extensions import Self


@dataclass(slots=True)
class FamilyRow:
    """One session family as the local backends keep it."""

    subject: str
    current: str
    previous: str | None
    rotated_at: float | None
    created: float
    in_doubt: bool = False  # the last hand-out of ``current`` reached the store too late
    ends: float = 0.0  # caller's clock: ``now + ttl`` of the last write (for the inventory)
    client: Mapping[str, str] = field(default_factory=dict)

    def info(self, sid: str) -> SessionInfo:
        """This family as the session inventory reports it."""
        return SessionInfo(sid, self.subject, self.created, self.rotated_at, self.ends, self.client)


def listed(families: list[tuple[str, FamilyRow]], logout_at: float | None) -> list[SessionInfo]:
    """The inventory of one subject's live families: those not older than its
    logout-all mark, oldest first (then by session id)."""
    alive = [
        family.info(sid)
        for sid, family in families
        if logout_at is None or family.created >= logout_at
    ]
    return sorted(alive, key=lambda info: (info.created, info.sid))


def decide(
    family: FamilyRow | None,
    logout_at: float | None,
    presented: str,
    new: str,
    now: float,
    grace: float,
    late: bool = False,
    ttl: float = 0.0,
) -> tuple[Rotation, FamilyRow | None]:
    """The rotation rule: the outcome, and the family to keep (None: delete it).

    ``late``: the store applies this call after its caller stopped waiting (see
    ``Store.rotate``'s ``deadline``). A rotation handed out late is *in doubt*:
    the caller answered 503, so the client never saw the successor and will
    present ``presented`` again. That one next presentation gets the same
    successor (``rotated``, ``current``) instead of counting as reuse; so does an
    exact re-send of the call itself (same ``presented`` and ``new``). A rotation
    extends the family's end (``ends``, for the inventory) to ``now + ttl``.
    """
    if family is None:
        return Rotation("revoked"), None
    if logout_at is not None and family.created < logout_at:
        return Rotation("revoked"), None
    if presented == family.current:
        family.previous, family.current, family.rotated_at = presented, new, now
        family.ends = now + ttl
        family.in_doubt = late
        return Rotation("rotated", new), family
    if presented == family.previous and (new == family.current or family.in_doubt):
        # The same rotation again: its successor, handed out once more.
        family.in_doubt = late
        return Rotation("rotated", family.current), family
    if (
        grace > 0
        and presented == family.previous
        and family.rotated_at is not None
        and now - family.rotated_at <= grace
    ):
        return Rotation("grace", family.current), family
    # RFC 9700 §4.14.2: a consumed refresh token came back; the legitimate client
    # and the attacker cannot be told apart, so the whole family goes.
    return Rotation("reused"), None


def is_late(deadline: float | None, wall: float) -> bool:
    """Whether a call with ``deadline`` (caller's wall clock) is applied after it."""
    return deadline is not None and wall > deadline


def revoked(
    family: FamilyRow | None,
    jti_revoked: bool,
    logout_at: float | None,
    sid: str | None,
    issued_at: float | None,
) -> bool:
    """The revocation rule for one token (see ``Store.is_revoked``)."""
    if jti_revoked:
        return True
    if sid is not None:
        if family is None:
            return True
        return logout_at is not None and family.created < logout_at
    return logout_at is not None and issued_at is not None and issued_at < logout_at


class SyncContext:
    """``with store:`` closes the store."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncContext:
    """``async with store:`` closes the store."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
