"""Shared fixtures: throwaway keys, a controllable clock, settings and token factories."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jwt
import pytest

from jwtgate import Gate, Settings
from jwtgate.gate import RequestFields
from pg_server import PostgresServer, running_cluster
from redis_cluster import RedisCluster, SentinelGroup, running
from redis_server import RedisServer, redis_binary

pytest_plugins = ["jwtgate.pytest_plugin"]

try:
    import django
except ImportError:  # a Flask-only environment
    django = None

if django is not None:
    # The test Django project (tests/django_project), for the Django tests and the
    # Django ORM store's. Set here rather than in the ini so that runs without
    # Django are not affected; pytest-django provides the database fixtures.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")
    django.setup()


@pytest.fixture(autouse=True, scope="session")
def _close_django_connections() -> Iterator[None]:
    """Close Django's database connections after the session (no ResourceWarning at exit)."""
    yield
    if django is not None:
        from django.db import connections

        connections.close_all()


KEYS = Path(__file__).parent / "keys"
SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"  # fake, 50 bytes
NOW = 1_800_000_000


def pem(name: str) -> str:
    """The text of tests/keys/<name>.pem (e.g. ``pem("rsa_public")``)."""
    return (KEYS / f"{name}.pem").read_text()


class FakeClock:
    """A clock for Verifier/Issuer: starts at NOW, moves only when told."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at NOW."""
    return FakeClock()


def make_settings(**overrides: Any) -> Settings:
    """HS256 settings with the test secret, overridden by keyword (lower-case keys)."""
    data: dict[str, Any] = {"secret": SECRET}
    data.update(overrides)
    return Settings.from_dict(data)


@pytest.fixture
def settings_factory() -> Callable[..., Settings]:
    """``settings_factory(**overrides)`` builds HS256 settings."""
    return make_settings


def make_token(
    claims: Mapping[str, Any] | None = None,
    *,
    key: Any = SECRET,
    algorithm: str = "HS256",
    headers: Mapping[str, Any] | None = None,
    now: float = NOW,
    ttl: int = 300,
    drop: tuple[str, ...] = (),
) -> str:
    """A signed token with sane defaults (sub, iat, exp) merged with ``claims``."""
    payload: dict[str, Any] = {"sub": "alice", "iat": int(now), "exp": int(now) + ttl}
    payload.update(claims or {})
    for name in drop:
        payload.pop(name, None)
    return jwt.encode(payload, key, algorithm=algorithm, headers=dict(headers or {}) or None)


@pytest.fixture
def token_factory() -> Callable[..., str]:
    """``token_factory(claims, key=..., algorithm=..., headers=...)`` mints a token."""
    return make_token


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_raw(
    header: Mapping[str, Any] | bytes,
    payload: Mapping[str, Any] | bytes,
    *,
    key: Any = SECRET,
    algorithm: str = "HS256",
) -> str:
    """A compact JWS over exactly these header/payload bytes (no checks), signed by PyJWT.

    For hostile-token tests: PyJWT's own ``encode`` refuses some shapes (a non-string
    ``kid``), but an attacker's encoder does not.
    """
    import json

    from jwt.api_jws import PyJWS

    header_bytes = header if isinstance(header, bytes) else json.dumps(header).encode()
    payload_bytes = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64url(header_bytes)}.{b64url(payload_bytes)}".encode()
    alg = PyJWS().get_algorithm_by_name(algorithm)
    signature = alg.sign(signing_input, alg.prepare_key(key))
    return f"{signing_input.decode()}.{b64url(signature)}"


def core_modules() -> list[str]:
    """Every jwtgate module outside contrib/ and stores/ (which may import frameworks)."""
    import pkgutil

    import jwtgate

    names = [m.name for m in pkgutil.iter_modules(jwtgate.__path__) if m.name != "__main__"]
    return ["jwtgate"] + [f"jwtgate.{n}" for n in sorted(names) if n not in {"contrib", "stores"}]


# -- Redis (issue #6): a real redis-server for the store, session and endpoint tests --


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server shared by the session; skipped (failed under CI=true) without one."""
    server = RedisServer(redis_binary(), tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


# -- PostgreSQL (issue #16): a throwaway cluster for the PostgreSQL store's tests --


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster shared by the session (initdb + pg_ctl), destroyed after it."""
    yield from running_cluster()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The shared cluster's URL with a schema of this test's own, dropped afterwards."""
    import psycopg

    schema = f"t{uuid.uuid4().hex[:12]}"
    yield f"{postgres_server.url}?schema={schema}"
    if (postgres_server.data / "postmaster.pid").exists():
        with psycopg.connect(postgres_server.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _django_database(kind: str, request: pytest.FixtureRequest) -> Iterator[str]:
    pytest.importorskip("django")
    from django_databases import django_database

    blocker = request.getfixturevalue("django_db_blocker")
    workdir = request.getfixturevalue("tmp_path_factory").mktemp(f"django-{kind}")
    with blocker.unblock(), django_database(kind, workdir, f"jwtgate_{kind}") as alias:
        yield alias


@pytest.fixture(scope="session")
def django_sqlite_alias(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated SQLite database file, as a Django database alias."""
    yield from _django_database("sqlite", request)


@pytest.fixture(scope="session")
def django_postgresql_alias(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated throwaway PostgreSQL database, as a Django database alias."""
    yield from _django_database("postgresql", request)


@pytest.fixture(scope="session")
def django_mysql_alias(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated throwaway MariaDB/MySQL database, as a Django database alias."""
    yield from _django_database("mysql", request)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may stop, start or freeze (SIGSTOP)
    without disturbing any other test."""
    server = RedisServer(redis_binary(), tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The shared server's URL with a key prefix of this test's own."""
    return f"{redis_server.url}?prefix=t{uuid.uuid4().hex[:12]}:"


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a 3-master Redis Cluster (one replica each) shared by the session."""
    yield from running(RedisCluster(tmp_path_factory.mktemp("cluster")))


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a master, a replica and three sentinels shared by the session."""
    yield from running(SentinelGroup(tmp_path_factory.mktemp("sentinel")))


@pytest.fixture
def redis_cluster_url(redis_cluster: str) -> str:
    """The shared cluster's URL with a key prefix of this test's own."""
    return f"{redis_cluster}?prefix=t{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def redis_sentinel_url(redis_sentinel: str) -> str:
    """The shared Sentinel group's URL with a key prefix of this test's own."""
    return f"{redis_sentinel}?prefix=t{uuid.uuid4().hex[:12]}:"


def pytest_configure(config: pytest.Config) -> None:
    """A run that selects tests by marker (``-m "not slow"``) reports coverage but does
    not fail on the floor, which is set for the whole suite (docs/contributing.md)."""
    if config.getoption("markexpr", ""):
        cov = config.pluginmanager.getplugin("_cov")
        if cov is not None:
            cov.options.cov_fail_under = 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the trio-with-Redis combinations instead of skipping them.

    redis-py's async client runs on asyncio only, so those combinations do not
    exist; deselecting them keeps "Redis tests must run, not skip" true in CI.
    """
    keep, dropped = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        if (
            params is not None
            and params.params.get("anyio_backend") == "trio"
            and {"redis", "cluster", "sentinel"} & set(params.id.split("-"))
        ):
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


class CountingDecisions:
    """Counts the requests a Gate decides in full: its token read from the request
    and verified (``Gate.token``), not recalled from the verify cache.

    A repeated token should not add to ``calls``. With ``monkeypatch``, the Gate is
    restored after the test (for Gates that outlive it, such as Django's cached one).
    """

    def __init__(self, gate: Gate, monkeypatch: pytest.MonkeyPatch | None = None) -> None:
        self.calls = 0
        token = gate.token

        def counted(request: RequestFields) -> str | None:
            self.calls += 1
            return token(request)

        if monkeypatch is None:
            gate.token = counted  # type: ignore[method-assign]
        else:
            monkeypatch.setattr(gate, "token", counted)
