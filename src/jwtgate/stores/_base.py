"""What the local backends (memory, SQLite) share: the rotation rule and context managers.

The Redis backend runs the same rule as a Lua script (``redis.py``); the contract
tests hold the three to one behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from ._contract import Rotation

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


def decide(
    family: FamilyRow | None,
    logout_at: float | None,
    presented: str,
    new: str,
    now: float,
    grace: float,
    late: bool = False,
) -> tuple[Rotation, FamilyRow | None]:
    """The rotation rule: the outcome, and the family to keep (None: delete it).

    ``late``: the store applies this call after its caller stopped waiting (see
    ``Store.rotate``'s ``deadline``). A rotation handed out late is *in doubt*:
    the caller answered 503, so the client never saw the successor and will
    present ``presented`` again. That one next presentation gets the same
    successor (``rotated``, ``current``) instead of counting as reuse; so does an
    exact re-send of the call itself (same ``presented`` and ``new``).
    """
    if family is None:
        return Rotation("revoked"), None
    if logout_at is not None and family.created < logout_at:
        return Rotation("revoked"), None
    if presented == family.current:
        family.previous, family.current, family.rotated_at = presented, new, now
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
