"""The checks of a Redis store URL (id E110) and a PostgreSQL one (E100 to E102,
W040, W041), part of the settings checks (:mod:`jwtgate._checks`): the store
schemes jwtgate knows, and whether a ``redis://``, ``redis+cluster://``,
``redis+sentinel://`` or ``postgresql://`` URL can work at all (the parsers say
what is wrong with it), so a URL that could only fail later is refused at startup.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from ._problems import Report
from .stores._pg_url import SCHEMES as POSTGRES_SCHEMES
from .stores._pg_url import parse as parse_postgres
from .stores._redis_connect import SCHEMES as REDIS_SCHEMES
from .stores._redis_connect import parse

__all__ = ["STORE_EXAMPLES", "STORE_SCHEMES", "StoreChecks", "url_parts"]

# The store URLs the E020 hint shows.
STORE_EXAMPLES = (
    "'memory://', 'sqlite:////abs/path.db', 'redis://host:6379/0', "
    "'postgresql://host/db' or 'django://'"
)
STORE_SCHEMES = ("memory", "sqlite", *sorted(REDIS_SCHEMES), *sorted(POSTGRES_SCHEMES), "django")


def url_parts(value: str) -> SplitResult:
    """``value`` split; one that is no URL at all (``redis://[::1``) as no scheme, which
    is jwtgate.E020 (urlsplit's ValueError was a traceback, not a settings problem)."""
    try:
        return urlsplit(value)
    except ValueError:
        return urlsplit("")


class StoreChecks(Report):
    """The Redis and PostgreSQL parts of the ``store`` check, adding to the report."""

    def check_server_url(self, value: str) -> str | None:
        """``value`` (a URL of a store on a server), checked as its scheme says."""
        if urlsplit(value).scheme in POSTGRES_SCHEMES:
            return self.check_postgres_url(value)
        return self.check_redis_url(value)

    def check_redis_url(self, value: str) -> str | None:
        """``value``, or None (and ``jwtgate.E110``) for a Redis URL that cannot work."""
        if urlsplit(value).scheme not in REDIS_SCHEMES:
            return value
        try:
            parse(value, "jwtgate:")
        except ValueError as exc:
            self.add(
                "E110",
                "store",
                f"{self.ref('store')} is not a usable Redis URL: {exc}.",
                "See docs/stores.md: 'redis://host:6379/0', "
                "'redis+cluster://host:7000,host:7001' or "
                "'redis+sentinel://host:26379,host:26380/service/0'.",
            )
            return None
        return value

    def check_postgres_url(self, value: str) -> str | None:
        """``value``, or None (and ``jwtgate.E100`` to ``E102``) for a PostgreSQL URL that
        cannot work; warnings W040 (a password in the URL) and W041 (a remote server
        without ``sslmode=require``) for one that works but should not be used so."""
        try:
            target = parse_postgres(value)
        except ValueError as exc:
            self.add(
                "E100",
                "store",
                f"{self.ref('store')} is not a usable PostgreSQL store URL: {exc}.",
                "See docs/stores.md: "
                "'postgresql://user@host:5432/db?schema=jwtgate&timeout=5&pool_size=10'.",
            )
            return None
        try:
            from .stores.postgres import libpq_refusal
        except ImportError:
            self.add(
                "E101",
                "store",
                f"{self.ref('store')} is a PostgreSQL URL but psycopg 3 (with psycopg_pool) "
                "is not installed.",
                "pip install 'jwtgate[postgres]'.",
            )
            return None
        refusal = libpq_refusal(target.conninfo)
        if refusal is not None:
            self.add(
                "E102",
                "store",
                f"{self.ref('store')} has connection parameters libpq refuses: {refusal}.",
                "Options jwtgate reads: schema, timeout, pool_size; the rest are libpq's "
                "(sslmode, connect_timeout, application_name...).",
            )
            return None
        if target.has_password:
            self.warn(
                "W040",
                "store",
                f"{self.ref('store')} carries a database password; it is then as widely "
                "readable as the settings (and the process's environment or config files).",
                "Leave it out of the URL: libpq reads PGPASSWORD or ~/.pgpass (passfile=...).",
            )
        if not target.encrypted:
            self.warn(
                "W041",
                "store",
                f"{self.ref('store')} names the remote server {target.host!r} without "
                "sslmode=require (or verify-ca, verify-full): libpq then falls back to an "
                "unencrypted connection when the server offers no TLS.",
                "Add '?sslmode=verify-full' (or 'require') to the URL.",
            )
        return value
