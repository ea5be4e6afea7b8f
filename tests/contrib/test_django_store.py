"""What the Django ORM store does beyond the store contract (tests/stores/test_contract.py):
its system checks, exact id comparison on every database, its change feed, and its
failures, on throwaway SQLite, PostgreSQL and MariaDB databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import transaction
from django.test import override_settings

from django_project import settings as project_settings
from jwtgate import AsyncSessions
from jwtgate.contrib.django_checks import check_store_database
from jwtgate.contrib.django_store.store import DjangoStore
from jwtgate.errors import StoreUnavailable
from jwtgate.stores import open_feed, open_store

T0 = 1_800_000_000.0
KINDS = ["sqlite", "postgresql", "mysql"]


@pytest.fixture
def anyio_backend() -> str:
    """Django's async test client runs on asyncio."""
    return "asyncio"


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest) -> Iterator[DjangoStore]:
    """A Django store on each kind of database in turn, its tables empty."""
    from django_databases import empty_store_tables

    alias = request.getfixturevalue(f"django_{request.param}_alias")
    with request.getfixturevalue("django_db_blocker").unblock():
        empty_store_tables(alias)
        with DjangoStore(alias) as opened:
            yield opened


def ids(**jwtgate: Any) -> list[str]:
    """The ids check_store_database reports for the project's JWTGATE with ``jwtgate``."""
    with override_settings(JWTGATE={**project_settings.JWTGATE, **jwtgate}):
        return [message.id for message in check_store_database()]


def test_check_accepts_a_django_store_on_a_database_file(django_sqlite_alias: str) -> None:
    """A django:// store naming a database file: no problem (keys in either case)."""
    assert ids(STORE=f"django://{django_sqlite_alias}") == []
    assert ids(store=f"django://{django_sqlite_alias}") == []
    assert ids(STORE="memory://x") == []  # not a Django store: nothing to check
    assert ids(STORE="django://") == ["jwtgate.W020"]  # the test project's ':memory:'


def test_check_reports_an_unknown_database_alias() -> None:
    """A django:// store naming no DATABASES alias is jwtgate.E120, with the aliases."""
    with override_settings(JWTGATE={**project_settings.JWTGATE, "STORE": "django://nope"}):
        (message,) = check_store_database()
    assert message.id == "jwtgate.E120"
    assert "'nope'" in message.msg and "'default'" in message.hint


def test_check_reports_the_app_missing_and_an_in_memory_database() -> None:
    """Without the app in INSTALLED_APPS: jwtgate.E121; on in-memory SQLite: jwtgate.W020.
    `manage.py check` fails on the error."""
    apps = [app for app in project_settings.INSTALLED_APPS if "django_store" not in app]
    apps.remove("django.contrib.admin")  # its admin module registers the store's model
    jwtgate = {**project_settings.JWTGATE, "STORE": "django://"}
    with override_settings(INSTALLED_APPS=apps, JWTGATE=jwtgate):
        assert [message.id for message in check_store_database()] == [
            "jwtgate.W020",  # the test project's default database is ':memory:'
            "jwtgate.E121",
        ]
        with pytest.raises(SystemCheckError, match=r"jwtgate\.E121"):
            call_command("check", verbosity=0)


def test_ids_are_compared_exactly(store: DjangoStore) -> None:
    """Alice is not alice (MySQL and MariaDB compare text case-insensitively by default)."""
    store.create_session("Alice", "S1", "r1", now=T0, ttl=60)
    store.revoke_subject("alice", at=T0 + 1, ttl=60)
    store.revoke_jti("Alice", "J", ttl=60)
    assert store.is_revoked("Alice", "S1", None, T0) is False
    assert store.is_revoked("Alice", None, "j", T0) is False
    assert store.is_revoked("Alice", None, "J", T0) is True
    assert store.is_revoked("alice", "s1", None, T0) is True  # no such session
    assert store.session_subject("s1") is None
    assert store.rotate("Alice", "S1", "R1", "r2", now=T0, grace=0, ttl=60).outcome == "reused"


def test_an_id_too_long_for_its_column_is_kept_whole(store: DjangoStore) -> None:
    """A subject over 255 characters is kept as its digest, never cut short: two that
    share their first 255 characters stay two subjects (MySQL would have cut both)."""
    first, second = "a" * 255 + "1", "a" * 255 + "2"
    store.create_session(first, "s1", "r1", now=T0, ttl=60)
    store.create_session(second, "s2", "r2", now=T0, ttl=60)
    store.revoke_subject(first, at=T0 + 5, ttl=60)
    assert store.is_revoked(first, "s1", None, T0) is True
    assert store.is_revoked(second, "s2", None, T0) is False
    assert [(i.sid, i.subject) for i in store.list_sessions(second)] == [("s2", second)]


def test_the_change_feed_sees_each_revoking_write(store: DjangoStore) -> None:
    """The feed's marker moves on a revocation (any process's), not on a login or refresh."""
    feed = open_feed(f"django://{store.using}", interval=0.05)
    assert feed is not None
    try:
        assert feed.step()
        seen = feed.generation
        store.create_session("alice", "s1", "r1", now=T0, ttl=60)
        store.rotate("alice", "s1", "r1", "r2", now=T0, grace=0, ttl=60)
        assert feed.step() and feed.generation == seen
        for revoke in (
            lambda: store.revoke_session("alice", "s1"),
            lambda: store.revoke_jti("alice", "j", ttl=60),
            lambda: store.revoke_subject("alice", at=T0, ttl=60),
        ):
            revoke()
            assert feed.step() and feed.generation == seen + 1
            seen = feed.generation
    finally:
        feed.close()


def test_inside_a_transaction_the_store_commits_with_it(store: DjangoStore) -> None:
    """Called inside the caller's transaction, the store's writes roll back with it."""
    outcomes = []

    def work_then_fail() -> None:
        with transaction.atomic(using=store.using):
            store.create_session("alice", "s1", "r1", now=T0, ttl=60)
            outcomes.append(store.rotate("alice", "s1", "r1", "r2", now=T0, grace=0, ttl=60))
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        work_then_fail()
    assert [rotation.outcome for rotation in outcomes] == ["rotated"]
    assert store.is_revoked("alice", "s1", None, T0) is True


def test_an_unknown_database_or_a_closed_store_fails_cleanly() -> None:
    """django://nope answers StoreUnavailable (the cause chained); a closed store refuses."""
    with open_store("django://nope") as store, pytest.raises(StoreUnavailable) as info:
        store.is_revoked("alice", None, None, None)
    assert "nope" in str(info.value.__cause__)
    with pytest.raises(RuntimeError, match="closed"):
        store.is_revoked("alice", None, None, None)
    with pytest.raises(ValueError, match="django://"):
        open_store("django://default/extra")


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_async_django_checks_revocation_through_the_django_store(async_client: Any) -> None:
    """Under ASGI the middleware asks the async Django store (worker threads, no
    blocking on the event loop): a session logged out is refused at the next request."""

    jwtgate = {**project_settings.JWTGATE, "STORE": "django://", "CHECK_REVOCATION": True}
    with override_settings(JWTGATE=jwtgate):
        async with AsyncSessions(jwtgate) as sessions:
            pair = await sessions.login("alice")
            headers = {"Authorization": f"Bearer {pair.access_token}"}
            assert (await async_client.get("/async", headers=headers)).status_code == 200
            assert await sessions.logout(pair.refresh_token) is True
            assert (await async_client.get("/async", headers=headers)).status_code == 401


@pytest.mark.parametrize(
    ("entry", "cause"),
    [
        pytest.param({"NAME": "not-migrated.db"}, "no such table", id="not-migrated"),
        pytest.param({"NAME": "missing/dir/x.db"}, "unable to open", id="unreachable"),
    ],
)
def test_a_database_failure_is_store_unavailable(
    entry: dict[str, str], cause: str, tmp_path: Path, django_db_blocker: Any
) -> None:
    """A database the store cannot use (tables never migrated, file unreachable) answers
    StoreUnavailable with the database's error chained, for reads and writes alike."""
    from django_databases import database_alias

    name = str(tmp_path / entry["NAME"])
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": name}
    with django_db_blocker.unblock(), database_alias("jwtgate_broken", sqlite):
        store = DjangoStore("jwtgate_broken")
        for call in (
            lambda: store.is_revoked("alice", "s1", None, T0),
            lambda: store.create_session("alice", "s1", "r1", now=T0, ttl=60),
            lambda: store.rotate("alice", "s1", "r1", "r2", now=T0, grace=0, ttl=60),
        ):
            with pytest.raises(StoreUnavailable) as info:
                call()
            assert cause in str(info.value.__cause__)


def test_without_the_app_the_store_is_unavailable(django_db_blocker: Any) -> None:
    """With jwtgate.contrib.django_store missing from INSTALLED_APPS the store answers
    StoreUnavailable naming the app (manage.py check reports it as jwtgate.E121)."""
    apps = [app for app in project_settings.INSTALLED_APPS if "django_store" not in app]
    apps.remove("django.contrib.admin")
    with override_settings(INSTALLED_APPS=apps), pytest.raises(StoreUnavailable) as info:
        DjangoStore().is_revoked("alice", None, None, None)
    assert "INSTALLED_APPS" in str(info.value.__cause__)


def test_expired_rows_are_purged_on_a_login_now_and_then(store: DjangoStore) -> None:
    """A new session purges expired rows once purge_interval has passed since the last purge."""
    clock = [T0]
    purging = DjangoStore(store.using, purge_interval=0, clock=lambda: clock[0])
    purging.create_session("alice", "old", "r1", now=T0, ttl=1)
    purging.revoke_jti("alice", "j", ttl=1)
    clock[0] += 10
    purging.create_session("alice", "new", "r2", now=T0 + 10, ttl=60)
    assert purging.purge_expired() == 0  # the login purged both
    assert [str(row) for row in models().Session.objects.using(store.using)] == ["alice (new)"]


def models() -> Any:
    """The store's models module (imported once Django is set up)."""
    from jwtgate.contrib.django_store import models

    return models


def test_the_cli_uses_a_django_store_with_the_projects_settings(
    django_sqlite_alias: str, tmp_path: Path, django_db_blocker: Any
) -> None:
    """`jwtgate sessions list/revoke` on a django:// store, run with the project's
    DJANGO_SETTINGS_MODULE: the store sets Django up itself and reads its database."""
    from django.conf import settings

    database = {"ENGINE": "django.db.backends.sqlite3"}
    database["NAME"] = settings.DATABASES[django_sqlite_alias]["NAME"]
    (tmp_path / "cli_project.py").write_text(
        f"DATABASES = {{'default': {database!r}}}\n"
        "INSTALLED_APPS = ['jwtgate.contrib.django_store']\n"
        "USE_TZ = True\n"
        f"JWTGATE = {{'SECRET': {project_settings.SECRET!r}, 'STORE': 'django://'}}\n"
    )
    with django_db_blocker.unblock():
        from django_databases import empty_store_tables

        empty_store_tables(django_sqlite_alias)
        store = DjangoStore(django_sqlite_alias)
        store.create_session("alice", "laptop", "r1", now=time.time(), ttl=60)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cli_project", "PYTHONPATH": str(tmp_path)}

    def jwtgate(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "jwtgate", "sessions", *args]
        command += ["--settings", str(tmp_path / "cli_project.py")]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    listed = jwtgate("list", "alice", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [info["sid"] for info in json.loads(listed.stdout)] == ["laptop"]
    assert jwtgate("revoke", "laptop").returncode == 0
    with django_db_blocker.unblock():
        assert store.session_subject("laptop") is None
