"""What a sync class and its async twin share: the work, described without I/O.

An :class:`Op` is one call to make and how to read its answer. A *flow* is a
generator that yields steps and receives their results (or has their exceptions
thrown into it). The twins differ only in how they make the call: the sync one
calls, the async one awaits. So ``Sessions`` and ``AsyncSessions``, the two Redis
stores and the two endpoint classes keep their logic here or in a shared core, and
their own methods are one line each.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["Op", "arun", "run"]

R = TypeVar("R")
S = TypeVar("S")


def _never(result: object) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Op(Generic[R]):
    """One call and how to read its answer.

    ``call(target)`` makes the call on the twin's target (a store, a client): its
    value for a sync target, an awaitable for an async one; None: there is nothing
    to ask, and ``read`` gets None. ``read`` turns the answer
    into the result; ``follow_up(result)`` says whether the twin does its follow-up
    (the Redis stores announce a revoking write).
    """

    call: Callable[[Any], Any] | None
    read: Callable[[Any], R]
    follow_up: Callable[[R], bool] = _never


def _advance(flow: Generator[S, Any, R], value: Any, error: Exception | None) -> tuple[bool, Any]:
    """Send ``value`` (or throw ``error``) into ``flow``: (True, its result) when it has
    finished, else (False, its next step)."""
    try:
        return False, (flow.send(value) if error is None else flow.throw(error))
    except StopIteration as stop:
        return True, stop.value


def _attempt(do: Callable[[S], Any], step: S) -> tuple[Any, Exception | None]:
    try:
        return do(step), None
    except Exception as exc:  # noqa: BLE001 - thrown into the flow, which re-raises what it does not handle
        return None, exc


def run(flow: Generator[S, Any, R], do: Callable[[S], Any]) -> R:
    """Drive ``flow`` to its result, making each step with ``do``.

    An exception of a step is thrown into the flow at the ``yield``, so the flow
    handles it, or it propagates, exactly as if the flow had made the call itself.
    """
    done, outcome = _advance(flow, None, None)
    while not done:
        done, outcome = _advance(flow, *_attempt(do, outcome))
    result: R = outcome
    return result


async def arun(flow: Generator[S, Any, R], do: Callable[[S], Awaitable[Any]]) -> R:
    """:func:`run` for an async ``do``."""
    done, outcome = _advance(flow, None, None)
    while not done:
        try:
            answer: tuple[Any, Exception | None] = (await do(outcome), None)
        except Exception as exc:  # noqa: BLE001 - as in _attempt
            answer = (None, exc)
        done, outcome = _advance(flow, *answer)
    result: R = outcome
    return result
