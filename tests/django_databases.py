"""Throwaway databases for the Django ORM store's tests, added to Django as aliases.

- **SQLite**: a file in a temporary directory.
- **PostgreSQL**: a fresh database with a random name on the machine's server
  (``JWTGATE_TEST_PG_HOST``/``_PORT``, default 127.0.0.1:5432, trust auth),
  created through its ``test`` database and dropped afterwards.
- **MariaDB/MySQL**: the same on 127.0.0.1:3306 as ``root`` without a password
  (``JWTGATE_TEST_MYSQL_HOST``/``_PORT``), through PyMySQL as Django's MySQLdb.

A missing driver or server skips with the reason, except under ``CI=true``,
where it fails (as tests/redis_server.py does for Redis). Each database is
migrated with ``manage.py migrate``, like a project's.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

KINDS = ("sqlite", "postgresql", "mysql")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true requires it")
    pytest.skip(reason)


def _pg_server() -> dict[str, Any]:
    return {
        "HOST": os.environ.get("JWTGATE_TEST_PG_HOST", "127.0.0.1"),
        "PORT": os.environ.get("JWTGATE_TEST_PG_PORT", "5432"),
    }


def _mysql_server() -> dict[str, Any]:
    return {
        "HOST": os.environ.get("JWTGATE_TEST_MYSQL_HOST", "127.0.0.1"),
        "PORT": os.environ.get("JWTGATE_TEST_MYSQL_PORT", "3306"),
        "USER": "root",
        "PASSWORD": "",
    }


def _create_postgresql(name: str) -> dict[str, Any]:
    try:
        import psycopg
    except ImportError:
        _unavailable("psycopg is not installed (pip install psycopg)")
    server = _pg_server()
    try:
        with psycopg.connect(
            dbname="test", host=server["HOST"], port=server["PORT"], autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        _unavailable(f"no PostgreSQL server at {server['HOST']}:{server['PORT']} ({exc})")
    return {"ENGINE": "django.db.backends.postgresql", "NAME": name, **server}


def _drop_postgresql(name: str) -> None:
    import psycopg

    server = _pg_server()
    with psycopg.connect(
        dbname="test", host=server["HOST"], port=server["PORT"], autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _mysql_driver() -> Any:
    try:
        import pymysql
    except ImportError:
        _unavailable("PyMySQL is not installed (pip install PyMySQL)")
    pymysql.install_as_MySQLdb()  # Django's MySQL backend imports MySQLdb
    return pymysql


def _create_mysql(name: str) -> dict[str, Any]:
    pymysql = _mysql_driver()
    server = _mysql_server()
    try:
        conn = pymysql.connect(
            host=server["HOST"], port=int(server["PORT"]), user="root", password=""
        )
    except pymysql.err.OperationalError as exc:
        _unavailable(f"no MariaDB/MySQL server at {server['HOST']}:{server['PORT']} ({exc})")
    with conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    return {
        "ENGINE": "django.db.backends.mysql",
        "NAME": name,
        "OPTIONS": {"charset": "utf8mb4"},
        **server,
    }


def _drop_mysql(name: str) -> None:
    pymysql = _mysql_driver()
    server = _mysql_server()
    conn = pymysql.connect(host=server["HOST"], port=int(server["PORT"]), user="root", password="")
    with conn, conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def database_settings(kind: str, workdir: Path) -> dict[str, Any]:
    """A new empty database of ``kind``, as a ``DATABASES`` entry."""
    name = f"jwtgate_test_{uuid.uuid4().hex[:12]}"
    if kind == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(workdir / f"{name}.db")}
    if kind == "postgresql":
        return _create_postgresql(name)
    return _create_mysql(name)


def drop_database(kind: str, settings: dict[str, Any]) -> None:
    """Drop a database made by :func:`database_settings` (SQLite's file goes with its dir)."""
    if kind == "postgresql":
        _drop_postgresql(settings["NAME"])
    elif kind == "mysql":
        _drop_mysql(settings["NAME"])


@contextmanager
def django_database(kind: str, workdir: Path, alias: str) -> Iterator[str]:
    """A throwaway, migrated database of ``kind`` as the Django alias ``alias``."""
    from django.core.management import call_command
    from django.db import connections

    entry = database_settings(kind, workdir)
    try:
        with database_alias(alias, entry):
            call_command("migrate", database=alias, verbosity=0)
            connections[alias].close()
            yield alias
    finally:
        drop_database(kind, entry)


@contextmanager
def database_alias(alias: str, entry: dict[str, Any]) -> Iterator[str]:
    """``entry`` in ``DATABASES`` as ``alias`` for the duration (no database is made)."""
    from django.conf import settings
    from django.db import connections

    settings.DATABASES[alias] = entry
    connections.settings[alias] = entry
    # Django fills in the defaults of an entry (CONN_MAX_AGE, OPTIONS, TEST, ...).
    connections.configure_settings({"default": connections.settings["default"], alias: entry})
    try:
        yield alias
    finally:
        with suppress(Exception):
            connections[alias].close()
        del connections[alias]
        del connections.settings[alias]
        settings.DATABASES.pop(alias, None)


def empty_store_tables(alias: str) -> None:
    """Delete every row of the Django store's tables."""
    from django.db import connections

    from jwtgate.contrib.django_store import models

    for model in (
        models.Session,
        models.RevokedJti,
        models.LogoutMark,
        models.Change,
        models.Claim,
    ):
        model.objects.using(alias).all().delete()
    connections[alias].close()
