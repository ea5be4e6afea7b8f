"""``claim_once`` for the SQLite store, in a file of its own next to the store's.

DPoP proofs are claimed on many requests. The revocation cache learns that the
store changed from ``PRAGMA data_version`` of the store's file (see
:class:`~jwtgate.stores.sqlite.SQLiteFeed`), which any commit moves; a claim in
that file would make every worker drop its revocation view on every DPoP request.
So claims live in ``<store file>-claims``: same machine, same WAL rules, no effect
on the store's file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from ._contract import unavailable

__all__ = ["SQLiteClaims", "claims_path"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS jwtgate_claims "
    "(key TEXT PRIMARY KEY, expires REAL NOT NULL) WITHOUT ROWID"
)
_PURGE_EVERY = 60.0  # seconds between two sweeps of expired claims


def claims_path(store_path: Path) -> Path:
    """Where the claims of the store at ``store_path`` live."""
    return store_path.with_name(store_path.name + "-claims")


class SQLiteClaims:
    """Keys claimed once each within their TTL, in their own SQLite file."""

    def __init__(self, path: Path, *, timeout: float, clock: Callable[[], float]) -> None:
        self.path = path
        self.timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._last_purge = 0.0

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(
                str(self.path), timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute(_SCHEMA)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def claim_once(self, key: str, ttl: float) -> bool:
        """True the first time ``key`` is claimed within ``ttl`` seconds, else False."""
        with self._lock:
            try:
                conn = self._connect()
                now = self._clock()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    if now - self._last_purge >= _PURGE_EVERY:
                        conn.execute("DELETE FROM jwtgate_claims WHERE expires <= ?", (now,))
                        self._last_purge = now
                    else:
                        conn.execute(
                            "DELETE FROM jwtgate_claims WHERE key = ? AND expires <= ?", (key, now)
                        )
                    cursor = conn.execute(
                        "INSERT OR IGNORE INTO jwtgate_claims (key, expires) VALUES (?, ?)",
                        (key, now + ttl),
                    )
                    claimed = cursor.rowcount == 1
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                return claimed
            except sqlite3.Error as exc:
                self.close()
                raise unavailable(f"sqlite ({self.path})", exc) from exc

    def purge_expired(self) -> int:
        """Delete expired claims now; how many."""
        with self._lock:
            if self._conn is None and not self.path.exists():
                return 0
            try:
                cursor = self._connect().execute(
                    "DELETE FROM jwtgate_claims WHERE expires <= ?", (self._clock(),)
                )
            except sqlite3.Error as exc:
                self.close()
                raise unavailable(f"sqlite ({self.path})", exc) from exc
            return cursor.rowcount

    def close(self) -> None:
        """Close the connection (the file stays)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
