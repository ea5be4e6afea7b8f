"""The PostgreSQL store: sessions and revocations in a database many machines share.

``postgresql://user@db.internal:5432/app?schema=jwtgate&timeout=5&pool_size=10``
(options: :mod:`jwtgate.stores._pg_url`; install ``jwtgate[postgres]``, psycopg 3).

- **Schema**: jwtgate creates its tables and functions in ``schema`` on first use
  (under an advisory lock, so concurrent first starts agree) and records the
  version in ``meta``; a schema written by a newer jwtgate is refused (503, logged).
- **One statement per operation** (:mod:`jwtgate.stores._pg_schema`): every
  write is one function call in autocommit mode, so a rotation (with its reuse
  detection) is one transaction holding the family's row lock, and a call cut
  off by a timeout either committed whole or not at all. Nothing is re-sent:
  a rotation applied after its caller gave up is recorded as in doubt
  (:meth:`~jwtgate.stores.Store.rotate`), so the client's own retry succeeds.
- **Bounded**: a pool of at most ``pool_size`` connections per process
  (psycopg_pool); ``timeout`` bounds one call, the wait for a connection
  included, even against a server that stopped answering (a frozen server does
  not close its sockets, so the bound is kept on the client side). An
  unreachable, frozen or restarting server raises
  :class:`~jwtgate.errors.StoreUnavailable`, which ``on_store_error`` decides.
  A connection that failed is dropped; the pool opens new ones in the
  background, so the store recovers from a server restart by itself.
- **Expiry** on the store's clock (``time.time``): expired rows are invisible at
  once and deleted every ``purge_interval`` seconds (on a write) and by
  :meth:`PostgresStore.purge_expired`.
- **Change feed** (:class:`PostgresFeed`): ``LISTEN`` on the schema's channel,
  which every revoking write ``NOTIFY``-s in its own transaction, plus a poll of
  the change counter every interval; when the listening connection drops, the
  poll alone carries on (logged) until it is back.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

try:
    import psycopg
    import psycopg.conninfo
    import psycopg_pool
    from psycopg.abc import RV, PQGen
except ImportError as exc:  # pragma: no cover - exercised without the extra installed
    raise ImportError(
        "jwtgate's PostgreSQL store needs psycopg 3 and psycopg_pool: "
        "pip install 'jwtgate[postgres]'"
    ) from exc

from ._base import FamilyRow, SyncContext, listed, revoked
from ._contract import Rotation, SessionInfo, client_record, logger, unavailable
from ._feed import ChangeFeed
from ._pg_schema import SCHEMA_VERSION, UPGRADES, compose, create_script
from ._pg_url import PostgresTarget, parse
from ._redis_ops import deadline_margin
from ._storable import storable

__all__ = ["PostgresFeed", "PostgresStore"]

T = TypeVar("T")

feed_logger = logging.getLogger("jwtgate")
_IDLE = psycopg.pq.TransactionStatus.IDLE

# The statements, ``{s}`` standing for the schema (quoted when composed).
_SQL = {
    "version": "SELECT version FROM {s}.meta",
    "set_version": "UPDATE {s}.meta SET version = %s",
    "create": (
        "INSERT INTO {s}.families (sid, subject, current, previous, rotated_at, created, "
        "expires, in_doubt, ends, client) "
        "VALUES (%s, %s, %s, NULL, NULL, %s, %s, false, %s, %s::jsonb) "
        "ON CONFLICT (sid) DO UPDATE SET subject = excluded.subject, "
        "current = excluded.current, previous = NULL, rotated_at = NULL, "
        "created = excluded.created, expires = excluded.expires, in_doubt = false, "
        "ends = excluded.ends, client = excluded.client"
    ),
    "rotate": "SELECT outcome, successor FROM {s}.rotate(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
    "revoke_session": "SELECT {s}.revoke_session(%s, %s, %s)",
    "revoke_jti": "SELECT {s}.revoke_jti(%s, %s, %s)",
    "revoke_subject": "SELECT {s}.revoke_subject(%s, %s, %s, %s)",
    "check": (
        "SELECT EXISTS (SELECT 1 FROM {s}.revoked_jti "
        "WHERE subject = %(sub)s AND jti = %(jti)s AND expires > %(now)s), "
        "(SELECT created FROM {s}.families "
        "WHERE sid = %(sid)s AND subject = %(sub)s AND expires > %(now)s), "
        "(SELECT logout_at FROM {s}.subjects WHERE subject = %(sub)s AND expires > %(now)s)"
    ),
    "owner": "SELECT subject FROM {s}.families WHERE sid = %s AND expires > %s",
    "list": (
        "SELECT sid, rotated_at, created, ends, client, "
        "(SELECT logout_at FROM {s}.subjects WHERE subject = %(sub)s AND expires > %(now)s) "
        "FROM {s}.families WHERE subject = %(sub)s AND expires > %(now)s"
    ),
    "purge": "SELECT {s}.purge(%s)",
    # A live claim is kept (nothing returned); an expired one is taken over.
    "claim": (
        "INSERT INTO {s}.claims (key, expires) VALUES (%s, %s) "
        "ON CONFLICT (key) DO UPDATE SET expires = excluded.expires "
        "WHERE {s}.claims.expires <= %s RETURNING 1"
    ),
    "changes": "SELECT changes FROM {s}.meta",
}


class SchemaError(Exception):
    """Raised when the schema was written by a newer jwtgate than this one."""


class BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait for the server ends after ``call_timeout``.

    libpq has no read timeout, and a server that stopped (SIGSTOP, a VM paused)
    keeps the socket open, so without this a call would wait forever.
    """

    call_timeout: float | None = None

    def wait(self, gen: PQGen[RV], interval: float = 0.1, timeout: float | None = None) -> RV:
        """Consume ``gen`` with ``timeout``, or else this connection's ``call_timeout``."""
        return super().wait(gen, interval, timeout if timeout is not None else self.call_timeout)


def libpq_refusal(conninfo: str) -> str | None:
    """What libpq says is wrong with ``conninfo`` (an unknown or malformed parameter),
    or None when it parses; nothing is connected (the settings checks ask)."""
    try:
        psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as exc:
        return str(exc).strip() or type(exc).__name__
    return None


def _connect_timeout(timeout: float) -> int:
    return max(2, math.ceil(timeout))  # libpq's minimum is 2 seconds


class PostgresStore(SyncContext):
    """A :class:`~jwtgate.stores.Store` in a PostgreSQL schema.

    ``timeout`` bounds one call in seconds (the URL's ``timeout`` wins);
    ``clock`` is the wall clock used for expiry.
    """

    def __init__(
        self,
        target: PostgresTarget,
        *,
        timeout: float = 5.0,
        purge_interval: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.target = target
        self.timeout = target.timeout if target.timeout is not None else timeout
        self.purge_interval = purge_interval
        self._clock = clock
        self._q = {name: compose(template, target.schema) for name, template in _SQL.items()}
        self._lock = threading.Lock()
        self._pool: psycopg_pool.ConnectionPool[BoundedConnection] | None = None
        self._pid = 0
        self._ready = False
        self._last_purge = clock()
        self._closed = False

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 5.0) -> PostgresStore:
        """The store for a ``postgresql://`` (or ``postgres://``) URL."""
        store = cls(parse(url), timeout=timeout)
        logger.info("jwtgate: PostgreSQL store, schema %s", store.target.schema)
        return store

    # -- connections --------------------------------------------------------------

    def _pool_here(self) -> psycopg_pool.ConnectionPool[BoundedConnection]:
        with self._lock:
            if self._closed:
                raise RuntimeError("this PostgresStore is closed")
            pool = self._pool
            # A forked child never uses its parent's pool (its threads did not survive).
            if pool is None or self._pid != os.getpid():
                pool = psycopg_pool.ConnectionPool(
                    self.target.conninfo,
                    connection_class=BoundedConnection,
                    kwargs={
                        "autocommit": True,
                        "connect_timeout": _connect_timeout(self.timeout),
                    },
                    min_size=1,
                    max_size=self.target.pool_size,
                    timeout=self.timeout,
                    # The pool reconnects in the background, backing off; giving up
                    # soon makes the next call start afresh, so a server that is back
                    # is used at once (the breaker paces the calls meanwhile).
                    reconnect_timeout=self.timeout,
                    name=f"jwtgate-{self.target.schema}",
                    open=False,
                )
                pool.open(wait=False)
                self._pool, self._pid = pool, os.getpid()
            return pool

    def _run(self, work: Callable[[BoundedConnection], T]) -> T:
        try:
            pool = self._pool_here()
            started = time.monotonic()
            conn = pool.getconn(self.timeout)
        except psycopg_pool.PoolTimeout as exc:
            raise unavailable("postgresql", exc) from exc
        try:
            conn.call_timeout = max(0.01, self.timeout - (time.monotonic() - started))
            if not self._ready:
                self._migrate(conn)
            return work(conn)
        except (psycopg.Error, SchemaError) as exc:
            # A connection cut off mid-call is out of step with its server: drop it.
            if not conn.closed and conn.info.transaction_status != _IDLE:
                conn.close()
            raise unavailable("postgresql", exc) from exc
        finally:
            conn.call_timeout = None
            pool.putconn(conn)

    def _migrate(self, conn: BoundedConnection) -> None:
        schema = self.target.schema
        with conn.transaction():
            # Concurrent first starts (several workers) take turns; the first creates.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("jwtgate:" + schema,))
            if conn.execute("SELECT to_regnamespace(%s)", (schema,)).fetchone() == (None,):
                conn.execute(compose("CREATE SCHEMA {s}", schema))
            found = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".meta',)).fetchone()
            if found == (None,):
                conn.execute(create_script(schema, self.target.channel))
            else:
                row = conn.execute(self._q["version"]).fetchone()
                version = int(row[0]) if row else 0
                if version > SCHEMA_VERSION:
                    raise SchemaError(
                        f"schema {schema!r} has jwtgate schema version {version}; this "
                        f"jwtgate knows version {SCHEMA_VERSION} (upgrade jwtgate)"
                    )
                for step in range(version, SCHEMA_VERSION):
                    for statement in UPGRADES[step]:
                        conn.execute(compose(statement, schema))
                conn.execute(self._q["set_version"], (SCHEMA_VERSION,))
        self._ready = True

    # -- the protocol -------------------------------------------------------------

    def create_session(
        self,
        subject: str,
        sid: str,
        jti: str,
        *,
        now: float,
        ttl: float,
        client: Mapping[str, str] | None = None,
    ) -> None:
        """See :meth:`jwtgate.stores.Store.create_session`."""
        recorded = json.dumps(client_record(client), separators=(",", ":"))
        sid, subject, jti = storable(sid), storable(subject), storable(jti)

        def work(conn: BoundedConnection) -> None:
            wall = self._clock()
            conn.execute(
                self._q["create"],
                (sid, subject, jti, now, wall + ttl, now + ttl, recorded),
            )
            if wall - self._last_purge >= self.purge_interval:
                self._last_purge = wall
                self._purge(conn, wall)

        self._run(work)

    def rotate(
        self,
        subject: str,
        sid: str,
        presented: str,
        new: str,
        *,
        now: float,
        grace: float,
        ttl: float,
        deadline: float | None = None,
    ) -> Rotation:
        """See :meth:`jwtgate.stores.Store.rotate` (one statement, one transaction)."""
        if deadline is None:  # this call's own: the client gives up after the timeout
            deadline = time.time() + self.timeout - deadline_margin(self.timeout)
        keys = (storable(subject), storable(sid), storable(presented), storable(new))

        def work(conn: BoundedConnection) -> Rotation:
            row = conn.execute(
                self._q["rotate"], (*keys, now, grace, ttl, deadline, self._clock())
            ).fetchone()
            assert row is not None  # the function always returns one row
            return Rotation(row[0], new if row[1] == keys[3] else row[1])

        return self._run(work)

    def revoke_session(self, subject: str, sid: str) -> bool:
        """See :meth:`jwtgate.stores.Store.revoke_session`."""

        keys = (storable(subject), storable(sid))

        def work(conn: BoundedConnection) -> bool:
            row = conn.execute(self._q["revoke_session"], (*keys, self._clock())).fetchone()
            return bool(row and row[0])

        return self._run(work)

    def revoke_jti(self, subject: str, jti: str, *, ttl: float) -> None:
        """See :meth:`jwtgate.stores.Store.revoke_jti`."""
        keys = (storable(subject), storable(jti))
        self._run(lambda conn: conn.execute(self._q["revoke_jti"], (*keys, self._clock() + ttl)))

    def revoke_subject(self, subject: str, *, at: float, ttl: float) -> None:
        """See :meth:`jwtgate.stores.Store.revoke_subject`."""

        key = storable(subject)

        def work(conn: BoundedConnection) -> None:
            wall = self._clock()
            conn.execute(self._q["revoke_subject"], (key, at, wall + ttl, wall))

        self._run(work)

    def is_revoked(
        self, subject: str, sid: str | None, jti: str | None, issued_at: float | None
    ) -> bool:
        """See :meth:`jwtgate.stores.Store.is_revoked` (one SQL statement)."""

        keys = {
            "sub": storable(subject),
            "sid": None if sid is None else storable(sid),
            "jti": None if jti is None else storable(jti),
        }

        def work(conn: BoundedConnection) -> bool:
            row = conn.execute(self._q["check"], {**keys, "now": self._clock()}).fetchone()
            assert row is not None
            jti_hit, created, logout_at = row
            family = FamilyRow(subject, "", None, None, created) if created is not None else None
            return revoked(family, bool(jti_hit), logout_at, sid, issued_at)

        return self._run(work)

    def list_sessions(self, subject: str) -> list[SessionInfo]:
        """See :meth:`jwtgate.stores.Store.list_sessions`."""
        return self._run(lambda conn: self._sessions_of(conn, subject, self._clock()))

    def session_subject(self, sid: str) -> str | None:
        """See :meth:`jwtgate.stores.Store.session_subject`."""

        key = storable(sid)

        def work(conn: BoundedConnection) -> str | None:
            wall = self._clock()
            found = conn.execute(self._q["owner"], (key, wall)).fetchone()
            if found is None:
                return None
            alive = {info.sid for info in self._sessions_of(conn, found[0], wall)}
            return str(found[0]) if key in alive else None

        return self._run(work)

    def claim_once(self, key: str, ttl: float) -> bool:
        """See :meth:`jwtgate.stores.Store.claim_once`: one statement; a claim never
        moves the change feed."""

        key = storable(key)

        def work(conn: BoundedConnection) -> bool:
            wall = self._clock()
            return conn.execute(self._q["claim"], (key, wall + ttl, wall)).fetchone() is not None

        return self._run(work)

    def purge_expired(self) -> int:
        """See :meth:`jwtgate.stores.Store.purge_expired` (claims included)."""
        return self._run(lambda conn: self._purge(conn, self._clock()))

    def _purge(self, conn: BoundedConnection, wall: float) -> int:
        row = conn.execute(self._q["purge"], (wall,)).fetchone()
        self._last_purge = wall
        return int(row[0]) if row else 0

    def _sessions_of(self, conn: BoundedConnection, subject: str, wall: float) -> list[SessionInfo]:
        rows = conn.execute(self._q["list"], {"sub": storable(subject), "now": wall}).fetchall()
        families = []
        for sid, rotated_at, created, ends, client, _ in rows:
            family = FamilyRow(subject, "", None, rotated_at, created, ends=ends)
            family.client = dict(client)
            families.append((str(sid), family))
        return listed(families, rows[0][5] if rows else None)

    def change_feed(self, interval: float) -> PostgresFeed:
        """A :class:`~jwtgate.stores._feed.ChangeFeed` hearing of every revoking write."""
        return PostgresFeed(self.target, interval, timeout=self.timeout)

    def close(self) -> None:
        """Close the pool's connections (the data stays)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.close(timeout=self.timeout)


class PostgresFeed(ChangeFeed):
    """``LISTEN`` on the schema's channel, and the change counter read every interval.

    A notification wakes the thread at once; the counter catches whatever was
    announced while the listening connection was down, and proves the server
    answers. The connection is the feed's own, outside the store's pool.
    """

    def __init__(self, target: PostgresTarget, interval: float, *, timeout: float = 5.0) -> None:
        super().__init__(interval)
        self.target = target
        self.timeout = timeout  # housekeeping: the URL's ``timeout`` is the request path's
        self.listening = False
        self._conn: BoundedConnection | None = None
        self._opened_by = 0
        self._listen = compose("LISTEN {s}", target.channel)
        self._changes = compose(_SQL["changes"], target.schema)

    def poll(self) -> object:
        conn = self._conn
        if conn is None:
            conn = BoundedConnection.connect(
                self.target.conninfo,
                autocommit=True,
                connect_timeout=_connect_timeout(self.timeout),
                application_name=f"jwtgate feed {self.target.schema}",  # pg_stat_activity
            )
            conn.call_timeout = self.timeout
            self._conn, self._opened_by = conn, os.getpid()
            conn.execute(self._listen)
            if not self.listening:
                self.listening = True
                feed_logger.info(
                    "jwtgate: listening for PostgreSQL revocations on %s", self.target.channel
                )
        row = conn.execute(self._changes).fetchone()
        return row[0] if row else None

    def wait(self, timeout: float) -> None:
        conn = self._conn
        if conn is None:
            self._stop.wait(timeout)
            return
        try:
            for _ in conn.notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.Error as exc:
            self.listening = False
            feed_logger.warning(
                "jwtgate: the PostgreSQL notification connection dropped (%s); polling "
                "the store every %g s until it is back",
                type(exc).__name__,
                self.interval,
            )
            self.reset()

    def reset(self) -> None:
        conn, self._conn = self._conn, None
        # A forked child must not close its parent's connection: closing says goodbye
        # to the server on the shared socket (left alone, psycopg drops it quietly).
        if conn is not None and self._opened_by == os.getpid():
            conn.close()
