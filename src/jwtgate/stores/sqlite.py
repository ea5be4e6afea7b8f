"""The embedded store: one SQLite file, shared by every worker process on a machine.

Why it is safe under several gunicorn/uvicorn workers:

- **WAL journal** (``PRAGMA journal_mode=WAL``): readers never block the writer
  and the writer never blocks readers.
- **Busy timeout**: a writer waits (up to ``timeout`` seconds) for another
  process's write instead of failing at once.
- **Short write transactions**, opened with ``BEGIN IMMEDIATE`` so the write
  lock is taken before reading: a rotation reads the family and updates it in
  one locked step, so two processes can never both consume one refresh token.
- **Versioned schema**: ``PRAGMA user_version`` records it; jwtgate creates the
  tables on first use and refuses a file written by a newer schema.
- **Expired rows purged** every ``purge_interval`` seconds (on a write), and by
  :meth:`SQLiteStore.purge_expired` (``jwtgate`` CLI housekeeping).

The file must live on a local disk: WAL needs shared memory, which network file
systems (NFS, SMB) do not provide. For several machines use Redis.

URL forms: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``;
``?mode=ro`` opens the file read-only (every write then fails cleanly).

The store knows nothing of the revocation cache (``jwtgate.feed``, a layer
that wraps stores). It offers what only it can: :class:`SQLiteFeed`, a
:class:`~jwtgate.stores._feed.ChangeFeed` that tells when anyone committed to
the file, which the cache uses to decide how long an answer may be served.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

from ._base import FamilyRow, SyncContext, decide, is_late, listed, revoked
from ._contract import Rotation, SessionInfo, client_record, logger, unavailable
from ._feed import ChangeFeed
from ._sqlite_claims import SQLiteClaims, claims_path

__all__ = ["SCHEMA_VERSION", "SQLiteFeed", "SQLiteStore"]

T = TypeVar("T")

SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jwtgate_families (
    sid TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    current TEXT NOT NULL,
    previous TEXT,
    rotated_at REAL,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    in_doubt INTEGER NOT NULL DEFAULT 0,
    ends REAL,
    client TEXT
);
CREATE INDEX IF NOT EXISTS jwtgate_families_expires ON jwtgate_families (expires);
CREATE INDEX IF NOT EXISTS jwtgate_families_subject ON jwtgate_families (subject);
CREATE TABLE IF NOT EXISTS jwtgate_revoked_jti (
    subject TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (subject, jti)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jwtgate_revoked_jti_expires ON jwtgate_revoked_jti (expires);
CREATE TABLE IF NOT EXISTS jwtgate_subjects (
    subject TEXT PRIMARY KEY,
    logout_at REAL NOT NULL,
    expires REAL NOT NULL
) WITHOUT ROWID;
"""

# Each step takes a file from one version to the next (index: the version it starts at).
_UPGRADES = {
    # 2: families remember whether their last rotation was handed out too late.
    1: ("ALTER TABLE jwtgate_families ADD COLUMN in_doubt INTEGER NOT NULL DEFAULT 0",),
    # 3: the session inventory: when a family ends (caller's clock), its login's client.
    2: (
        "ALTER TABLE jwtgate_families ADD COLUMN ends REAL",
        "ALTER TABLE jwtgate_families ADD COLUMN client TEXT",
        "CREATE INDEX IF NOT EXISTS jwtgate_families_subject ON jwtgate_families (subject)",
    ),
}

_CHECK = """
SELECT
    (SELECT 1 FROM jwtgate_revoked_jti WHERE subject = :sub AND jti = :jti AND expires > :now),
    (SELECT created FROM jwtgate_families WHERE sid = :sid AND subject = :sub AND expires > :now),
    (SELECT logout_at FROM jwtgate_subjects WHERE subject = :sub AND expires > :now)
"""

_LIST = (
    "SELECT sid, current, rotated_at, created, ends, client FROM jwtgate_families "
    "WHERE subject = ? AND expires > ?"
)
_LOGOUT_AT = "SELECT logout_at FROM jwtgate_subjects WHERE subject = ? AND expires > ?"

_PURGE = (
    "DELETE FROM jwtgate_families WHERE expires <= ?",
    "DELETE FROM jwtgate_revoked_jti WHERE expires <= ?",
    "DELETE FROM jwtgate_subjects WHERE expires <= ?",
)


class SQLiteStore(SyncContext):
    """A :class:`~jwtgate.stores.Store` in a SQLite file.

    ``timeout`` is the busy timeout in seconds; ``clock`` the wall clock used
    for expiry (shared by every process using the file).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        timeout: float = 5.0,
        read_only: bool = False,
        purge_interval: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.read_only = read_only
        self.purge_interval = purge_interval
        self._clock = clock
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._last_purge = clock()
        self._closed = False
        self._claims: SQLiteClaims | None = None

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 5.0) -> SQLiteStore:
        """The store for ``sqlite:///path.db`` (``?mode=ro`` for read-only)."""
        parts = urlsplit(url)
        path = url[len("sqlite:///") :].split("?", 1)[0]
        if not path:
            raise ValueError("a sqlite store URL needs a path: 'sqlite:///path/to/jwtgate.db'")
        read_only = parse_qs(parts.query).get("mode") == ["ro"]
        store = cls(path, timeout=timeout, read_only=read_only)
        logger.info(
            "jwtgate: SQLite store %s%s", store.path.resolve(), " (read-only)" if read_only else ""
        )
        return store

    # -- connection ---------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._closed:
            raise RuntimeError("this SQLiteStore is closed")
        if self._conn is not None:
            return self._conn
        if self.read_only:
            target, uri = f"{self.path.resolve().as_uri()}?mode=ro", True
        else:
            target, uri = str(self.path), False
        conn = sqlite3.connect(
            target,
            timeout=self.timeout,
            isolation_level=None,  # transactions are explicit (BEGIN IMMEDIATE)
            check_same_thread=False,  # guarded by self._lock
            uri=uri,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            if not self.read_only:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"{self.path} has jwtgate schema version {version}; this jwtgate "
                f"knows version {SCHEMA_VERSION} (upgrade jwtgate)"
            )
        with _transaction(conn):
            # Checked again under the write lock: another process may have won.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            else:
                for step in range(version, SCHEMA_VERSION):
                    for statement in _UPGRADES[step]:
                        conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                return work(self._connect())
            except sqlite3.Error as exc:
                if self._conn is not None and not _is_busy(exc):
                    # Start from a fresh connection next time (file replaced, I/O error).
                    self._conn.close()
                    self._conn = None
                raise unavailable(f"sqlite ({self.path})", exc) from exc

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

        def work(conn: sqlite3.Connection) -> None:
            wall = self._clock()
            with _transaction(conn):
                conn.execute(
                    "INSERT OR REPLACE INTO jwtgate_families (sid, subject, current, previous, "
                    "rotated_at, created, expires, ends, client) "
                    "VALUES (?, ?, ?, NULL, NULL, ?, ?, ?, ?)",
                    (sid, subject, jti, now, wall + ttl, now + ttl, recorded),
                )
            if wall - self._last_purge >= self.purge_interval:
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
        """See :meth:`jwtgate.stores.Store.rotate`."""

        def work(conn: sqlite3.Connection) -> Rotation:
            wall = self._clock()
            with _transaction(conn):
                row = conn.execute(
                    "SELECT current, previous, rotated_at, created, in_doubt "
                    "FROM jwtgate_families WHERE sid = ? AND subject = ? AND expires > ?",
                    (sid, subject, wall),
                ).fetchone()
                family = None
                if row is not None:
                    current, previous, rotated_at, created, in_doubt = row
                    family = FamilyRow(
                        subject, current, previous, rotated_at, created, bool(in_doubt)
                    )
                logout = conn.execute(
                    "SELECT logout_at FROM jwtgate_subjects WHERE subject = ? AND expires > ?",
                    (subject, wall),
                ).fetchone()
                late = is_late(deadline, self._clock())  # after the write lock was won
                logout_at = logout[0] if logout else None
                result, keep = decide(family, logout_at, presented, new, now, grace, late, ttl)
                if keep is None and family is not None:
                    conn.execute("DELETE FROM jwtgate_families WHERE sid = ?", (sid,))
                elif keep is not None and result.outcome == "rotated":
                    conn.execute(
                        "UPDATE jwtgate_families SET current = ?, previous = ?, "
                        "rotated_at = ?, in_doubt = ?, expires = ?, ends = ? WHERE sid = ?",
                        (
                            keep.current,
                            keep.previous,
                            keep.rotated_at,
                            int(keep.in_doubt),
                            wall + ttl,
                            keep.ends,
                            sid,
                        ),
                    )
                return result

        return self._run(work)

    def revoke_session(self, subject: str, sid: str) -> bool:
        """See :meth:`jwtgate.stores.Store.revoke_session`."""

        def work(conn: sqlite3.Connection) -> bool:
            with _transaction(conn):
                cursor = conn.execute(
                    "DELETE FROM jwtgate_families WHERE sid = ? AND subject = ? AND expires > ?",
                    (sid, subject, self._clock()),
                )
                return cursor.rowcount > 0

        return self._run(work)

    def revoke_jti(self, subject: str, jti: str, *, ttl: float) -> None:
        """See :meth:`jwtgate.stores.Store.revoke_jti`."""

        def work(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                conn.execute(
                    "INSERT INTO jwtgate_revoked_jti (subject, jti, expires) VALUES (?, ?, ?) "
                    "ON CONFLICT (subject, jti) DO UPDATE SET "
                    "expires = max(expires, excluded.expires)",
                    (subject, jti, self._clock() + ttl),
                )

        self._run(work)

    def revoke_subject(self, subject: str, *, at: float, ttl: float) -> None:
        """See :meth:`jwtgate.stores.Store.revoke_subject`."""

        def work(conn: sqlite3.Connection) -> None:
            wall = self._clock()
            with _transaction(conn):
                # An expired mark is replaced outright, a live one only moves forward.
                conn.execute(
                    "INSERT INTO jwtgate_subjects (subject, logout_at, expires) VALUES (?, ?, ?) "
                    "ON CONFLICT (subject) DO UPDATE SET "
                    "logout_at = CASE WHEN expires <= ? THEN excluded.logout_at "
                    "ELSE max(logout_at, excluded.logout_at) END, "
                    "expires = max(expires, excluded.expires)",
                    (subject, at, wall + ttl, wall),
                )

        self._run(work)

    def is_revoked(
        self, subject: str, sid: str | None, jti: str | None, issued_at: float | None
    ) -> bool:
        """See :meth:`jwtgate.stores.Store.is_revoked` (one SQL statement)."""

        def work(conn: sqlite3.Connection) -> bool:
            params = {"sub": subject, "sid": sid, "jti": jti, "now": self._clock()}
            jti_hit, created, logout_at = conn.execute(_CHECK, params).fetchone()
            family = FamilyRow(subject, "", None, None, created) if created is not None else None
            return revoked(family, jti_hit is not None, logout_at, sid, issued_at)

        return self._run(work)

    def list_sessions(self, subject: str) -> list[SessionInfo]:
        """See :meth:`jwtgate.stores.Store.list_sessions`."""

        return self._run(lambda conn: _sessions_of(conn, subject, self._clock()))

    def session_subject(self, sid: str) -> str | None:
        """See :meth:`jwtgate.stores.Store.session_subject`."""

        def work(conn: sqlite3.Connection) -> str | None:
            wall = self._clock()
            found = conn.execute(
                "SELECT subject FROM jwtgate_families WHERE sid = ? AND expires > ?", (sid, wall)
            ).fetchone()
            if found is None:
                return None
            alive = {info.sid for info in _sessions_of(conn, found[0], wall)}
            return str(found[0]) if sid in alive else None

        return self._run(work)

    def purge_expired(self) -> int:
        """See :meth:`jwtgate.stores.Store.purge_expired` (claims included)."""
        claims = self._claims.purge_expired() if self._claims is not None else 0
        return claims + self._run(lambda conn: self._purge(conn, self._clock()))

    def _purge(self, conn: sqlite3.Connection, wall: float) -> int:
        count = 0
        with _transaction(conn):
            for statement in _PURGE:
                count += conn.execute(statement, (wall,)).rowcount
        self._last_purge = wall
        return count

    def claim_once(self, key: str, ttl: float) -> bool:
        """See :meth:`jwtgate.stores.Store.claim_once`: in a file of its own
        (:mod:`jwtgate.stores._sqlite_claims`), so claims never move the change feed."""
        if self.read_only:
            raise unavailable(f"sqlite ({self.path})", sqlite3.OperationalError("read-only"))
        with self._lock:
            if self._closed:
                raise RuntimeError("this SQLiteStore is closed")
            if self._claims is None:
                self._claims = SQLiteClaims(
                    claims_path(self.path), timeout=self.timeout, clock=self._clock
                )
            claims = self._claims
        return claims.claim_once(key, ttl)

    def change_feed(self, interval: float) -> SQLiteFeed:
        """A :class:`~jwtgate.feed.ChangeFeed` noticing commits to this file by anyone."""
        return SQLiteFeed(self.path, interval, timeout=self.timeout)

    def close(self) -> None:
        """Close the connection (the file and its data stay)."""
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._claims is not None:
                self._claims.close()


class SQLiteFeed(ChangeFeed):
    """Polls ``PRAGMA data_version`` on a connection of its own (never writes).

    The value changes whenever another connection (this process's store, another
    worker, the CLI) commits to the file, so any write flushes the view.
    """

    def __init__(
        self,
        path: Path,
        interval: float,
        *,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(interval, clock=clock)
        self.path = path
        self.timeout = timeout
        self._conn: sqlite3.Connection | None = None

    def poll(self) -> object:
        if self._conn is None:
            if not self.path.exists():  # never create the file: the store does
                raise FileNotFoundError(str(self.path))
            self._conn = sqlite3.connect(str(self.path), timeout=self.timeout, isolation_level=None)
        return self._conn.execute("PRAGMA data_version").fetchone()[0]

    def reset(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE takes the write lock up front: a read-then-write can never be
    # overtaken by another process between the read and the write.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _sessions_of(conn: sqlite3.Connection, subject: str, wall: float) -> list[SessionInfo]:
    rows = conn.execute(_LIST, (subject, wall)).fetchall()
    logout = conn.execute(_LOGOUT_AT, (subject, wall)).fetchone()
    return listed([_listed_family(subject, row) for row in rows], logout and logout[0])


def _listed_family(subject: str, row: tuple[object, ...]) -> tuple[str, FamilyRow]:
    sid, current, rotated_at, created, ends, client = row
    family = FamilyRow(subject, str(current), None, _real(rotated_at), _real(created) or 0.0)
    # Families written before schema 3 have no end or client recorded.
    family.ends = _real(ends) or 0.0
    family.client = json.loads(client) if isinstance(client, str) else {}
    return str(sid), family


def _real(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _is_busy(exc: sqlite3.Error) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
