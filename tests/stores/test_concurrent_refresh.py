"""One refresh token presented by 50 processes at once: exactly one refresh succeeds
(issue #16), on every store that processes share. Add a store by adding its URL
fixture to ``STORES``.

The processes come from a forkserver that imported jwtgate once, so each starts in
milliseconds; they wait at one barrier and then call ``Sessions.refresh`` with the
same token through a store of their own.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from conftest import SECRET
from jwtgate import Sessions, Settings
from refresh_worker import refresh_once

pytestmark = pytest.mark.slow  # 50 processes

PROCESSES = 50
STORES = ["sqlite", "redis_url", "redis_cluster_url", "redis_sentinel_url"]


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each shared store in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jwtgate.db'}"
    return str(request.getfixturevalue(request.param))


def test_fifty_processes_refreshing_one_token_give_one_success(store_url: str) -> None:
    """50 processes present one refresh token at the same moment: one gets new tokens,
    the other 49 are refused as reuse (or find the family already revoked)."""
    settings = {"secret": SECRET, "store": store_url, "store_persistence": "ignore"}
    with Sessions(Settings.from_dict(settings)) as sessions:
        token = sessions.login("alice").refresh_token
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["redis", "jwtgate.stores.redis", "refresh_worker"])
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    workers = [
        context.Process(target=refresh_once, args=(settings, token, barrier, results))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert outcomes.count("refreshed") == 1, outcomes
    assert sorted(set(outcomes) - {"refreshed"}) <= ["ReusedToken", "RevokedToken"], outcomes
    assert "ReusedToken" in outcomes  # the first loser saw reuse and revoked the family
