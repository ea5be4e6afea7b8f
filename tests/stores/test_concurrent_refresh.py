"""50 concurrent refreshes of one refresh token, from 50 separate processes: exactly
one succeeds, whatever the store (#16 acceptance).

Each store is a parameter: a fixture giving the store URL the worker processes
open (and, for a Django store, the database entry they configure Django with).
Add a store by adding its case to ``STORES``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jwtgate import Sessions

pytestmark = pytest.mark.slow  # 50 Python processes per store

WORKERS = 50
WORKER = Path(__file__).with_name("refresh_worker.py")
SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"  # fake, as in tests/conftest.py


def _django(kind: str) -> Callable[[pytest.FixtureRequest], Iterator[dict[str, Any]]]:
    def case(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
        from django.conf import settings

        alias = request.getfixturevalue(f"django_{kind}_alias")
        entry = settings.DATABASES[alias]
        keys = ("ENGINE", "NAME", "HOST", "PORT", "USER", "PASSWORD", "OPTIONS")
        with request.getfixturevalue("django_db_blocker").unblock():
            yield {
                "store": f"django://{alias}",  # this process (the login)
                "worker_store": "django://",  # the workers: it is their default database
                "django_database": {key: entry[key] for key in keys if key in entry},
            }

    return case


def _url(fixture: str) -> Callable[[pytest.FixtureRequest], Iterator[dict[str, Any]]]:
    def case(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
        url = str(request.getfixturevalue(fixture))  # a store URL fixture of conftest.py
        yield {"store": url, "worker_store": url}

    return case


STORES: dict[str, Callable[[pytest.FixtureRequest], Iterator[dict[str, Any]]]] = {
    "django-postgresql": _django("postgresql"),
    "postgresql": _url("postgres_url"),  # a throwaway cluster, a schema of its own
    "redis-cluster": _url("redis_cluster_url"),  # 3 masters, one replica each (#16)
}


@pytest.fixture(params=sorted(STORES))
def store_case(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Each store in turn: how this process and the workers open it."""
    yield from STORES[request.param](request)


def test_one_refresh_token_refreshed_by_50_processes_at_once_succeeds_once(
    store_case: dict[str, Any],
) -> None:
    """All 50 workers connect, then refresh the same token at the same moment: one gets
    a new pair, the other 49 are refused (reuse detected, or the family already gone)."""
    settings = {"secret": SECRET, "refresh_reuse_grace": 0}  # no grace: one success only
    with Sessions({**settings, "store": store_case["store"]}) as sessions:
        pair = sessions.login("alice")
    config = {
        "settings": settings,
        "store": store_case["worker_store"],
        "django_database": store_case.get("django_database"),
        "refresh_token": pair.refresh_token,
    }
    # Unmeasured: coverage would double the cost of 50 processes running code the
    # in-process tests measure already (Sessions.refresh, each store's rotate).
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(WORKERS)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:  # the start signal, as close together as the pipes allow
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outcomes = [worker.communicate(timeout=120)[0].strip() for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert [worker.returncode for worker in workers] == [0] * WORKERS
    assert outcomes.count("ok") == 1, outcomes
    assert outcomes.count("ReusedToken") >= 1, outcomes  # the first loser revokes the family
    assert outcomes.count("ReusedToken") + outcomes.count("RevokedToken") == WORKERS - 1
