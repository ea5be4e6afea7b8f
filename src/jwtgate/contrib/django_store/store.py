"""The Django ORM store: sessions and revocations in the project's own database.

``STORE: "django://"`` (the ``default`` database) or ``"django://<alias>"`` (any
alias of ``DATABASES``) opens :class:`DjangoStore`; its async twin runs each call
in a worker thread (:class:`AsyncDjangoStore`). The tables are the models of the
``jwtgate.contrib.django_store`` app, created by ``manage.py migrate``.

Why a rotation is atomic on every database Django supports:

- **PostgreSQL, MySQL/MariaDB, Oracle**: the family row is read with
  ``SELECT ... FOR UPDATE`` inside one transaction, so concurrent rotations of
  one family queue on its row lock and each sees the previous one's result.
- **SQLite**, which has no row locks: the transaction begins ``IMMEDIATE``
  (the write lock is taken before the read), whatever the database's
  ``transaction_mode`` option says.

Inside a transaction of the caller's (``ATOMIC_REQUESTS``, ``transaction.atomic``)
the store's work joins it, and only commits with it.

Connections are Django's, per thread: a call opened a connection only if its
thread had none, and closes it afterwards when ``CONN_MAX_AGE`` says so (as
Django does at the end of a request); the async twin's worker threads close
theirs after every call. Every revoking write also bumps one counter row
(``jwtgate_change``), the change marker :class:`DjangoFeed` polls so the
revocation cache of every process learns of it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.db import Error as DatabaseError
from django.db import IntegrityError, connections, transaction
from django.db.models import Case, Exists, F, OuterRef, QuerySet, Value, When
from django.db.models.functions import Greatest
from django.utils.connection import ConnectionDoesNotExist

from jwtgate.stores._base import FamilyRow, SyncContext, decide, is_late, revoked
from jwtgate.stores._contract import Rotation, SessionInfo, client_record, unavailable
from jwtgate.stores._feed import ChangeFeed
from jwtgate.stores._storable import storable
from jwtgate.stores.threaded import SyncToAsync

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

__all__ = ["AsyncDjangoStore", "DjangoFeed", "DjangoStore", "alias_of", "live_sessions"]

T = TypeVar("T")

APP = "jwtgate.contrib.django_store"
_MARKER = 1  # the primary key of the one Change row


def alias_of(url: str) -> str:
    """The database alias a ``django://`` store URL names (``default`` when none)."""
    parts = urlsplit(url)
    if parts.scheme != "django" or parts.path not in ("", "/") or parts.query:
        raise ValueError("a Django store URL is 'django://' or 'django://<database alias>'")
    return parts.netloc or "default"


def _models() -> Any:
    """The app's models module, once Django is set up (``django.setup()`` on first use
    outside a project process, e.g. the jwtgate CLI with ``DJANGO_SETTINGS_MODULE``)."""
    from django.apps import apps

    if not apps.ready:
        import django

        django.setup()
    if not apps.is_installed(APP):
        raise LookupError(f"{APP!r} is not in INSTALLED_APPS")
    from jwtgate.contrib.django_store import models

    return models


def live_sessions(using: str, wall: float) -> QuerySet[Any]:
    """The sessions of every subject still alive at ``wall`` (the store's clock): not
    expired, and not older than their subject's live logout-all mark."""
    models = _models()
    logged_out = models.LogoutMark.objects.using(using).filter(
        subject=OuterRef("subject"), expires__gt=wall, logout_at__gt=OuterRef("created")
    )
    return models.Session.objects.using(using).filter(expires__gt=wall).exclude(Exists(logged_out))


class DjangoStore(SyncContext):
    """A :class:`~jwtgate.stores.Store` in the database ``using`` (a ``DATABASES`` alias).

    ``clock`` is the wall clock used for expiry (shared by every process using
    the database); expired rows are purged every ``purge_interval`` seconds (on
    a new session) and by :meth:`purge_expired`.
    """

    def __init__(
        self,
        using: str = "default",
        *,
        purge_interval: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.using = using
        self.purge_interval = purge_interval
        self._clock = clock
        self._last_purge = clock()
        self._closed = False

    @classmethod
    def from_url(cls, url: str) -> DjangoStore:
        """The store for ``django://`` or ``django://<alias>``."""
        return cls(alias_of(url))

    # -- connection and transactions ------------------------------------------------

    def _run(self, work: Callable[[Any], T]) -> T:
        if self._closed:
            raise RuntimeError("this DjangoStore is closed")
        try:
            models = _models()
            conn = connections[self.using]
        except (ConnectionDoesNotExist, LookupError, ImproperlyConfigured) as exc:
            raise unavailable(f"django ({self.using})", exc) from exc
        opened_here = conn.connection is None
        try:
            return work(models)
        except DatabaseError as exc:
            raise unavailable(f"django ({self.using})", exc) from exc
        finally:
            if opened_here and not conn.in_atomic_block:
                # What Django does at the end of a request: keep it only as long
                # as CONN_MAX_AGE allows (with the default 0, close it now).
                conn.close_if_unusable_or_obsolete()

    @contextmanager
    def _write(self) -> Iterator[None]:
        """A transaction that holds the write lock before it reads (see the module)."""
        conn = connections[self.using]
        if conn.vendor != "sqlite" or conn.in_atomic_block:
            with transaction.atomic(using=self.using):
                yield
            return
        conn.ensure_connection()
        mode = conn.transaction_mode
        conn.transaction_mode = "IMMEDIATE"
        try:
            with transaction.atomic(using=self.using):
                conn.transaction_mode = mode
                yield
        finally:
            conn.transaction_mode = mode

    def _changed(self, models: Any) -> None:
        """Bump the change marker (inside the revoking write's transaction)."""
        changes = models.Change.objects.using(self.using)
        if not changes.filter(pk=_MARKER).update(counter=F("counter") + 1):
            changes.bulk_create([models.Change(pk=_MARKER, counter=1)], ignore_conflicts=True)

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
        subject, sid, jti = storable(subject), storable(sid), storable(jti)
        recorded = client_record(client)

        def work(models: Any) -> None:
            wall = self._clock()
            row = models.Session(
                sid=sid,
                subject=subject,
                current=jti,
                previous=None,
                rotated_at=None,
                in_doubt=False,
                created=now,
                ends=now + ttl,
                client=recorded,
                expires=wall + ttl,
            )
            fields = [f.name for f in models.Session._meta.concrete_fields if f.name != "sid"]
            # MySQL names no conflict target: any unique key (here only the sid) conflicts.
            target = connections[self.using].features.supports_update_conflicts_with_target
            models.Session.objects.using(self.using).bulk_create(
                [row],
                update_conflicts=True,
                unique_fields=["sid"] if target else None,
                update_fields=fields,
            )
            if wall - self._last_purge >= self.purge_interval:
                self._purge(models, wall)

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
        given = new
        subject, sid, presented, new = (storable(v) for v in (subject, sid, presented, new))

        def work(models: Any) -> Rotation:
            wall = self._clock()
            sessions = models.Session.objects.using(self.using)
            with self._write():
                row = (
                    sessions.select_for_update()
                    .filter(sid=sid, subject=subject, expires__gt=wall)
                    .first()
                )
                family = None
                if row is not None:
                    family = FamilyRow(
                        subject,
                        row.current,
                        row.previous,
                        row.rotated_at,
                        row.created,
                        row.in_doubt,
                    )
                    family.ends = row.ends
                logout_at = self._logout_at(models, subject, wall)
                late = is_late(deadline, self._clock())  # after the row lock was won
                result, keep = decide(family, logout_at, presented, new, now, grace, late, ttl)
                if keep is None and row is not None:
                    sessions.filter(sid=sid).delete()
                    self._changed(models)
                elif keep is not None and result.outcome == "rotated":
                    sessions.filter(sid=sid).update(
                        current=keep.current,
                        previous=keep.previous,
                        rotated_at=keep.rotated_at,
                        in_doubt=keep.in_doubt,
                        expires=wall + ttl,
                        ends=keep.ends,
                    )
                return Rotation(result.outcome, given) if result.current == new else result

        return self._run(work)

    def revoke_session(self, subject: str, sid: str) -> bool:
        """See :meth:`jwtgate.stores.Store.revoke_session`."""
        subject, sid = storable(subject), storable(sid)

        def work(models: Any) -> bool:
            with self._write():
                found = models.Session.objects.using(self.using).filter(
                    sid=sid, subject=subject, expires__gt=self._clock()
                )
                deleted: int = found.delete()[0]
                if deleted:
                    self._changed(models)
                return deleted > 0

        return self._run(work)

    def revoke_jti(self, subject: str, jti: str, *, ttl: float) -> None:
        """See :meth:`jwtgate.stores.Store.revoke_jti`."""
        subject, jti = storable(subject), storable(jti)

        def work(models: Any) -> None:
            expires = self._clock() + ttl
            tokens = models.RevokedJti.objects.using(self.using)
            with self._write():
                tokens.bulk_create(
                    [models.RevokedJti(subject=subject, jti=jti, expires=expires)],
                    ignore_conflicts=True,
                )
                # A shorter second revocation keeps the longer one.
                tokens.filter(subject=subject, jti=jti, expires__lt=expires).update(expires=expires)
                self._changed(models)

        self._run(work)

    def revoke_subject(self, subject: str, *, at: float, ttl: float) -> None:
        """See :meth:`jwtgate.stores.Store.revoke_subject`."""
        subject = storable(subject)

        def work(models: Any) -> None:
            wall = self._clock()
            marks = models.LogoutMark.objects.using(self.using)
            with self._write():
                marks.bulk_create(
                    [models.LogoutMark(subject=subject, logout_at=at, expires=wall + ttl)],
                    ignore_conflicts=True,
                )
                # An expired mark is replaced outright, a live one only moves forward.
                # (logout_at first: MySQL reads columns already assigned in this SET.)
                marks.filter(subject=subject).update(
                    logout_at=Case(
                        When(expires__lte=wall, then=Value(at)),
                        default=Greatest(F("logout_at"), Value(at)),
                    ),
                    expires=Greatest(F("expires"), Value(wall + ttl)),
                )
                self._changed(models)

        self._run(work)

    def is_revoked(
        self, subject: str, sid: str | None, jti: str | None, issued_at: float | None
    ) -> bool:
        """See :meth:`jwtgate.stores.Store.is_revoked` (one SQL statement)."""
        key = storable(subject)
        sid_key = None if sid is None else storable(sid)
        jti_key = None if jti is None else storable(jti)

        def work(models: Any) -> bool:
            conn, wall = connections[self.using], self._clock()
            params = [key, jti_key, wall, sid_key, key, wall, key, wall]
            with conn.cursor() as cursor:
                cursor.execute(_check_sql(conn, models), params)
                jti_hit, created, logout_at = cursor.fetchone()
            family = FamilyRow(subject, "", None, None, created) if created is not None else None
            return revoked(family, jti_hit is not None, logout_at, sid, issued_at)

        return self._run(work)

    def list_sessions(self, subject: str) -> list[SessionInfo]:
        """See :meth:`jwtgate.stores.Store.list_sessions`."""

        def work(models: Any) -> list[SessionInfo]:
            rows = live_sessions(self.using, self._clock()).filter(subject=storable(subject))
            return [session_info(row, subject) for row in rows.order_by("created", "sid")]

        return self._run(work)

    def session_subject(self, sid: str) -> str | None:
        """See :meth:`jwtgate.stores.Store.session_subject`."""

        def work(models: Any) -> str | None:
            found = live_sessions(self.using, self._clock()).filter(sid=storable(sid))
            subject: str | None = found.values_list("subject", flat=True).first()
            return subject

        return self._run(work)

    def claim_once(self, key: str, ttl: float) -> bool:
        """See :meth:`jwtgate.stores.Store.claim_once`. The change marker is left alone:
        a claim revokes nothing, so no revocation cache is flushed for it."""
        key = storable(key)

        def work(models: Any) -> bool:
            wall = self._clock()
            claims = models.Claim.objects.using(self.using)
            with self._write():
                claims.filter(key=key, expires__lte=wall).delete()
                try:
                    with transaction.atomic(using=self.using):  # a savepoint to fail in
                        claims.create(key=key, expires=wall + ttl)
                except IntegrityError:
                    return False
                return True

        return self._run(work)

    def purge_expired(self) -> int:
        """See :meth:`jwtgate.stores.Store.purge_expired`."""
        return self._run(lambda models: self._purge(models, self._clock()))

    def _purge(self, models: Any, wall: float) -> int:
        count = 0
        with transaction.atomic(using=self.using):
            for model in (models.Session, models.RevokedJti, models.LogoutMark, models.Claim):
                deleted, _ = model.objects.using(self.using).filter(expires__lte=wall).delete()
                count += deleted
        self._last_purge = wall
        return count

    def _logout_at(self, models: Any, subject: str, wall: float) -> float | None:
        marks = models.LogoutMark.objects.using(self.using)
        found = marks.filter(subject=subject, expires__gt=wall).values_list("logout_at", flat=True)
        logout_at: float | None = found.first()
        return logout_at

    def change_feed(self, interval: float) -> DjangoFeed:
        """A :class:`~jwtgate.stores._feed.ChangeFeed` over this database's change marker."""
        return DjangoFeed(self.using, interval)

    def close(self) -> None:
        """Stop using the store (the connections are Django's, closed by Django)."""
        self._closed = True


def session_info(row: Any, subject: str | None = None) -> SessionInfo:
    """A ``Session`` row as the session inventory reports it (``subject``: as asked
    for, when the row may hold its digest)."""
    client = row.client if isinstance(row.client, dict) else {}
    owner = row.subject if subject is None else subject
    return SessionInfo(row.sid, owner, row.created, row.rotated_at, row.ends, client)


def _check_sql(conn: BaseDatabaseWrapper, models: Any) -> str:
    # One statement, three scalar subqueries: the revocation check is one round trip.
    q = conn.ops.quote_name
    tokens = q(models.RevokedJti._meta.db_table)
    families = q(models.Session._meta.db_table)
    marks = q(models.LogoutMark._meta.db_table)
    subject, expires = q("subject"), q("expires")
    return (  # names from the models, quoted; every value is a parameter
        f"SELECT (SELECT 1 FROM {tokens} WHERE {subject} = %s AND {q('jti')} = %s "  # noqa: S608
        f"AND {expires} > %s), "
        f"(SELECT {q('created')} FROM {families} WHERE {q('sid')} = %s "
        f"AND {subject} = %s AND {expires} > %s), "
        f"(SELECT {q('logout_at')} FROM {marks} WHERE {subject} = %s AND {expires} > %s)"
    )


class AsyncDjangoStore(SyncToAsync):
    """The async twin: each call in a worker thread (``anyio.to_thread``), whose
    connection is closed after the call (worker threads come and go)."""

    def __init__(self, store: DjangoStore) -> None:
        super().__init__(store)
        self.using = store.using

    async def _call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await super()._call(self._closing, method, *args, **kwargs)

    def _closing(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        finally:
            conn = connections[self.using]
            if not conn.in_atomic_block:
                conn.close()


class DjangoFeed(ChangeFeed):
    """Polls the change marker (the ``jwtgate_change`` counter) on a connection of its
    own: the feed thread's, kept open between polls and closed when the feed stops."""

    def __init__(self, using: str, interval: float) -> None:
        super().__init__(interval)
        self.using = using
        self._thread_id: int | None = None

    def poll(self) -> object:
        self._thread_id = threading.get_ident()
        changes = _models().Change.objects.using(self.using)
        return changes.filter(pk=_MARKER).values_list("counter", flat=True).first()

    def reset(self) -> None:
        # Django's connections are per thread: only the feed thread's is this feed's.
        if self._thread_id == threading.get_ident():
            connections[self.using].close()
