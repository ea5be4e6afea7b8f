"""The Gate's other steps run on the DPoP path as on the bearer one: public paths,
scope rules, revocation, per-route Gates; sync and async alike."""

from __future__ import annotations

import asyncio
from pathlib import Path

from jwtgate import Gate, Identity, Sessions
from jwtgate.http import Rejection
from jwtgate.testing import FrozenClock, dpop_key

from .support import NOW, URL, dpop_settings, mint


def _request(token: str, proof: str | None, path: str = "/orders") -> tuple[object, ...]:
    return (
        "GET",
        path,
        (f"DPoP {token}",),
        None,
        "",
        False,
        None,
        (() if proof is None else (proof,), URL),
    )


def _both(gate: Gate, request: tuple[object, ...]) -> list[Identity | Rejection]:
    """The sync and the async decision of one request (each with its own proof)."""
    return [gate.decide(request), asyncio.run(gate.decide_async(request))]  # type: ignore[arg-type]


def test_public_paths_and_rules_apply_on_the_dpop_path() -> None:
    clock = FrozenClock(NOW)
    settings = dpop_settings(
        public_paths=["/health"], rules=[{"path": "/orders", "scopes": ["orders"]}]
    )
    gate = Gate(settings, clock=clock)
    key = dpop_key()
    token = mint(settings, key)
    for decision in (
        gate.decide(_request(token, None, "/health")),
        asyncio.run(gate.decide_async(_request(token, None, "/health"))),
    ):  # type: ignore[arg-type]
        assert isinstance(decision, Identity) and not decision.is_authenticated
    sync = gate.decide(_request(token, key.proof("GET", URL, token, clock=clock)))  # type: ignore[arg-type]
    later = asyncio.run(
        gate.decide_async(_request(token, key.proof("GET", URL, token, clock=clock)))
    )  # type: ignore[arg-type]
    for decision in (sync, later):
        assert isinstance(decision, Rejection)
        assert (decision.status, decision.error.error) == (403, "insufficient_scope")


def test_a_revoked_bound_token_is_refused_with_a_good_proof(tmp_path: Path) -> None:
    clock = FrozenClock(NOW)
    settings = dpop_settings(store=f"sqlite:///{tmp_path}/s.db", check_revocation=True)
    key = dpop_key()
    with Sessions(settings, clock=clock) as sessions:
        pair = sessions.login("alice", key.cnf)
        gate = Gate(settings, clock=clock)
        token = pair.access_token
        ok = gate.decide(_request(token, key.proof("GET", URL, token, clock=clock)))  # type: ignore[arg-type]
        assert isinstance(ok, Identity) and ok.subject == "alice"
        sessions.logout(token)
        for decision in (
            gate.decide(_request(token, key.proof("GET", URL, token, clock=clock))),  # type: ignore[arg-type]
            asyncio.run(
                gate.decide_async(_request(token, key.proof("GET", URL, token, clock=clock)))
            ),  # type: ignore[arg-type]
        ):
            assert isinstance(decision, Rejection)
            assert decision.error.description == "token revoked"
        gate.close()


def test_a_per_route_gate_shares_the_clock_and_the_replay_store() -> None:
    clock = FrozenClock(NOW)
    settings = dpop_settings()
    gate = Gate(settings, clock=clock)
    route = gate.per_route(required=True)
    key = dpop_key()
    token = mint(settings, key)
    request = _request(token, key.proof("GET", URL, token, clock=clock))
    assert isinstance(route.decide(request), Identity)  # type: ignore[arg-type]
    replayed = gate.decide(request)  # type: ignore[arg-type]
    assert isinstance(replayed, Rejection)
    assert replayed.error.description == "DPoP proof already used"


def test_proofs_are_claimed_through_the_revocation_checks_store(tmp_path: Path) -> None:
    """With check_revocation on the same store, the Gate opens it once: the replay claims
    use the revocation check's store object (one pool per process), sync and async, and
    closing the Gate closes it once; replays are still refused on both paths."""
    clock = FrozenClock(NOW)
    settings = dpop_settings(store=f"sqlite:///{tmp_path}/s.db", check_revocation=True)
    key = dpop_key()
    gate = Gate(settings, clock=clock)
    assert gate.revocation is not None
    token = mint(settings, key, clock=clock)
    request = _request(token, key.proof("GET", URL, token, clock=clock))
    assert isinstance(gate.decide(request), Identity)  # type: ignore[arg-type]
    replayed = asyncio.run(gate.decide_async(request))  # type: ignore[arg-type]
    assert isinstance(replayed, Rejection)
    assert replayed.error.description == "DPoP proof already used"
    guard = gate.dpop_door.replay
    assert guard._sync() is gate.revocation.store.store
    assert guard._async_store is gate.revocation.async_store.store
    asyncio.run(gate.aclose())  # the check closes its stores; the guard leaves them


def test_a_gate_without_revocation_checks_opens_its_own_claim_store(tmp_path: Path) -> None:
    clock = FrozenClock(NOW)
    settings = dpop_settings(store=f"sqlite:///{tmp_path}/s.db")
    gate = Gate(settings, clock=clock)
    key = dpop_key()
    token = mint(settings, key, clock=clock)
    request = _request(token, key.proof("GET", URL, token, clock=clock))
    assert isinstance(gate.decide(request), Identity)  # type: ignore[arg-type]
    assert isinstance(gate.decide(request), Rejection)  # type: ignore[arg-type]
    assert gate.revocation is None and gate.dpop_door.replay._sync() is not None
    gate.close()
