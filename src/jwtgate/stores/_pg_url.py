"""What a PostgreSQL store URL names, and what is wrong with one (no driver import).

``postgresql://user@host:5432/dbname?schema=jwtgate&timeout=5&pool_size=10``
(``postgres://`` too). jwtgate's own options are taken out of the query string:

- ``schema``: the schema jwtgate creates and keeps its tables in (default
  ``jwtgate``); a lower-case identifier, so two apps can share a database;
- ``timeout``: seconds, the bound on one store call: waiting for a pooled
  connection plus the statement (default: the caller's ``timeout``, which the
  ``store_timeout`` setting gives; the change feed keeps the housekeeping one);
- ``pool_size``: connections per process at most (default 10).

The rest (``sslmode``, ``application_name``, ``connect_timeout``…) is libpq's and
goes to psycopg unchanged, as does a password in the URL (better kept in
``PGPASSWORD`` or a ``.pgpass`` file; see ``jwtgate.W040``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = ["SCHEMES", "PostgresTarget", "parse"]

SCHEMES = frozenset({"postgresql", "postgres"})
DEFAULT_SCHEMA = "jwtgate"
DEFAULT_POOL_SIZE = 10
_OWN = ("schema", "timeout", "pool_size")
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_LOOPBACK = frozenset({"", "localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class PostgresTarget:
    """A parsed PostgreSQL store URL.

    ``conninfo`` is the URL without jwtgate's options, as libpq reads it;
    ``timeout`` None means "the caller's".
    """

    conninfo: str
    schema: str
    timeout: float | None
    pool_size: int
    host: str
    has_password: bool
    sslmode: str | None

    @property
    def channel(self) -> str:
        """The ``LISTEN``/``NOTIFY`` channel announcing revocations in this schema."""
        return f"{self.schema}_changes"

    @property
    def encrypted(self) -> bool:
        """Whether the connection must be encrypted (a Unix socket or loopback needs not)."""
        return self.host in _LOOPBACK or self.host.startswith("/") or self.sslmode in _REQUIRED


_REQUIRED = frozenset({"require", "verify-ca", "verify-full"})


def parse(url: str) -> PostgresTarget:
    """The target of a PostgreSQL store URL; ValueError saying what is wrong with it."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"{parts.scheme!r} is not a PostgreSQL store scheme")
    query = parse_qsl(parts.query, keep_blank_values=True)
    own = dict(q for q in query if q[0] in _OWN)
    schema = own.get("schema", DEFAULT_SCHEMA)
    if not _IDENTIFIER.fullmatch(schema):
        raise ValueError(
            f"'schema' should be a lower-case identifier (letters, digits, _), not {schema!r}"
        )
    timeout = _number(own.get("timeout"), "timeout", 0.1, 60.0)
    pool = _number(own.get("pool_size"), "pool_size", 1, 100, whole=True)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ValueError(f"the port is not a number ({exc})") from None
    rest = urlencode([q for q in query if q[0] not in _OWN])
    # Not urlunsplit: it drops the "//" of an empty host (a Unix socket) for this scheme.
    conninfo = f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{rest}" if rest else "")
    libpq = dict(q for q in query if q[0] not in _OWN)
    return PostgresTarget(
        conninfo=conninfo,
        schema=schema,
        timeout=timeout,
        pool_size=int(pool) if pool is not None else DEFAULT_POOL_SIZE,
        host=libpq.get("host", parts.hostname or ""),
        has_password=parts.password is not None or "password" in libpq,
        sslmode=libpq.get("sslmode"),
    )


def _number(
    text: str | None, name: str, low: float, high: float, *, whole: bool = False
) -> float | None:
    if text is None:
        return None
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        kind = "a whole number" if whole else "a number of seconds"
        raise ValueError(f"{name!r} should be {kind} from {low:g} to {high:g}, not {text!r}")
    return value
