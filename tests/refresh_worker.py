"""The child side of the multi-process refresh test: kept apart from pytest, so a
forkserver that imported it once starts each child in milliseconds."""

from __future__ import annotations

from typing import Any

from jwtgate import Sessions, Settings
from jwtgate.errors import RevokedToken


def refresh_once(settings: dict[str, Any], token: str, barrier: Any, results: Any) -> None:
    """In a child process: wait for the others, then refresh; report the outcome."""
    with Sessions(Settings.from_dict(settings)) as sessions:
        barrier.wait(timeout=60)
        try:
            sessions.refresh(token)
        except RevokedToken as exc:  # ReusedToken is one: the losers, and the family revoked
            results.put(type(exc).__name__)
        except Exception as exc:  # reported, and fails the test
            results.put(f"error {type(exc).__name__}: {exc}")
        else:
            results.put("refreshed")
