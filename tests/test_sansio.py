"""The sync and async drivers of a step flow (jwtgate._sansio) behave as a plain call
stack: a step's result is sent in, a step's exception is raised at the ``yield``, where
the flow may handle it, and what the flow does not handle reaches the caller as it is."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import anyio
import pytest

from jwtgate._sansio import arun, run


class StepFailed(Exception):
    pass


def flow(log: list[str]) -> Generator[str, Any, str]:
    first = yield "one"
    log.append(f"got {first}")
    try:
        yield "fail"
    except StepFailed as exc:
        log.append(f"handled {exc}")
    last = yield "two"
    return f"done with {last}"


def unhandled(log: list[str]) -> Generator[str, Any, str]:
    try:
        yield "fail"
    finally:
        log.append("closed")
    return "never"


def do(step: str) -> str:
    if step == "fail":
        raise StepFailed("on purpose")
    return step.upper()


def drivers() -> list[Callable[[Generator[str, Any, str]], str]]:
    async def ado(step: str) -> str:
        await anyio.lowlevel.checkpoint()
        return do(step)

    def async_run(plan: Generator[str, Any, str]) -> str:
        async def main() -> str:
            return await arun(plan, ado)

        return anyio.run(main)

    return [lambda plan: run(plan, do), async_run]


@pytest.mark.parametrize("drive", drivers(), ids=["sync", "async"])
def test_results_go_in_and_a_handled_exception_is_handled_where_it_was_raised(
    drive: Callable[[Generator[str, Any, str]], str],
) -> None:
    log: list[str] = []
    assert drive(flow(log)) == "done with TWO"
    assert log == ["got ONE", "handled on purpose"]


@pytest.mark.parametrize("drive", drivers(), ids=["sync", "async"])
def test_an_exception_the_flow_does_not_handle_reaches_the_caller_unchanged(
    drive: Callable[[Generator[str, Any, str]], str],
) -> None:
    log: list[str] = []
    with pytest.raises(StepFailed, match="on purpose"):
        drive(unhandled(log))
    assert log == ["closed"]


def test_an_exception_of_the_flow_itself_is_not_thrown_back_into_it() -> None:
    def broken() -> Generator[str, Any, str]:
        yield "one"
        raise KeyError("the flow's own bug")

    with pytest.raises(KeyError, match="own bug"):
        run(broken(), do)


def test_an_op_without_a_call_reads_none() -> None:
    from jwtgate import Sessions
    from jwtgate.identity import Identity

    with Sessions({"SECRET": "s" * 32}, "memory://") as sessions:
        no_jti = Identity("alice", {"sub": "alice"})
        op = sessions._core.revoke_jti(no_jti)
        assert op.call is None
        assert sessions.revoke_jti(no_jti) is False
